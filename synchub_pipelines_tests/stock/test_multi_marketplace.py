"""A sale on one marketplace comes off the others: Mercado Livre, Shopee, TikTok Shop and Amazon,
PostgreSQL warehouse, sandbox over loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from synchub_pipelines.defs.events.process import store_events_job
from synchub_pipelines.demo.sandbox_accounts import sandbox_rate_limits
from synchub_pipelines.webhooks.store import EventRow, insert_events
from synchub_pipelines.webhooks.verify import Notification
from synchub_pipelines_tests.stock.shop import (
    MARKETPLACES,
    SaleRefused,
    Shop,
    sandbox_environment,
    shop_sellers,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def shop(sandbox_factory, pg_url: str, tmp_path: Path) -> Iterator[tuple[Shop, dg.DagsterInstance]]:  # type: ignore[no-untyped-def]
    running = sandbox_factory(sellers=shop_sellers(), rate_limits=sandbox_rate_limits())
    with sandbox_environment(running), dg.DagsterInstance.ephemeral() as instance:
        shop = Shop(running, pg_url, tmp_path)
        assert shop.start(instance)
        assert shop.push(instance).success
        yield shop, instance


def test_a_sale_on_one_marketplace_lowers_the_quantity_on_the_others(
    shop: tuple[Shop, dg.DagsterInstance],
) -> None:
    shop_, instance = shop
    sku, keys = shop_.sku_on_every_store()
    reserved, _ = shop_.allocatable()[sku]
    stores = len(keys)
    assert {k[0].split("-")[0] for k in keys} == set(MARKETPLACES)
    shop_.set_on_hand(instance, {sku: reserved + 10 * stores})
    first = shop_.push(instance)
    assert first.success
    assert [shop_.published()[k] for k in keys] == [10] * stores
    # Bling is connected but the file is the source: Bling's balance follows the file.
    bling = first.asset_materializations_for_node("stock_pushes")[0].metadata["bling"].value
    assert isinstance(bling, dict) and bling["written"] >= 1 and not bling["failed"]
    assert shop_.bling_on_hand(sku) == reserved + 10 * stores

    for seller in keys:  # a sale on each marketplace in turn
        order_id = shop_.sell(seller, quantity=stores)
        shop_.ingest(seller[0], [order_id])
        assert shop_.push(instance).success
        published = shop_.published()
        share = published[keys[0]]
        assert share is not None
        assert [published[k] for k in keys] == [share] * stores
    assert shop_.allocatable()[sku] == (reserved + stores * stores, 10 * stores - stores * stores)
    assert share == 10 - stores


def test_concurrent_sales_of_the_last_units_on_two_marketplaces(
    shop: tuple[Shop, dg.DagsterInstance],
) -> None:
    shop_, instance = shop
    sku, keys = shop_.sku_on_every_store()
    reserved, _ = shop_.allocatable()[sku]
    # Two units left in all, one listing per store: never more than two on offer in total.
    shop_.set_on_hand(instance, {sku: reserved + 2})
    assert shop_.push(instance).success
    offered = {k: shop_.published()[k] for k in keys}
    assert sum(v or 0 for v in offered.values()) == 2
    sellers = [k for k in keys if offered[k]]
    assert len({k[0].split("-")[0] for k in sellers}) == 2  # two different marketplaces

    orders: dict[str, str] = {}
    barrier = threading.Barrier(len(sellers))

    def buy(key: tuple[str, str, str]) -> None:
        barrier.wait()
        orders[key[0]] = shop_.sell(key)

    threads = [threading.Thread(target=buy, args=(k,)) for k in sellers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(orders) == 2
    for store_id, order_id in orders.items():
        shop_.ingest(store_id, [order_id])

    assert shop_.push(instance).success
    assert shop_.allocatable()[sku] == (reserved + 2, 0)
    published = shop_.published()
    assert all(published[k] == 0 for k in keys)
    for key, (other_sku, _) in shop_.plan().items():
        assert (published[key] or 0) <= shop_.allocatable()[other_sku][1]
    with pytest.raises(SaleRefused):
        shop_.sell(keys[-1])


def test_the_run_that_lands_a_sale_pushes_it_to_every_other_marketplace(
    shop: tuple[Shop, dg.DagsterInstance], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With SYNCHUB_PUSH_STOCK_ON_SALE on, the events run that writes the order also writes
    the sold SKU's quantity to the other channels: no second tick, no second run."""
    shop_, instance = shop
    sku, keys = shop_.sku_on_every_store()
    reserved, _ = shop_.allocatable()[sku]
    shop_.set_on_hand(instance, {sku: reserved + 10 * len(keys)})
    assert shop_.push(instance).success
    assert {shop_.published()[k] for k in keys} == {10}
    ml = next(k for k in keys if k[0].startswith("mercadolivre-"))
    others = [k for k in keys if k != ml]
    order_id = shop_.sell(ml, quantity=len(keys))
    notice = Notification(
        event_key=f"mercadolivre:sale-{order_id}",
        marketplace="mercadolivre",
        store_id=ml[0],
        topic="orders_v2",
        resource_id=order_id,
        payload="{}",
    )
    insert_events(shop_.engine, [EventRow(notice, received_at=datetime.now(UTC))])
    seqs = [r[0] for r in shop_.rows("SELECT seq FROM webhook_events")]

    monkeypatch.setenv("SYNCHUB_PUSH_STOCK_ON_SALE", "true")
    result = store_events_job.execute_in_process(
        run_config={"ops": {"process_store_events": {"config": {"store_id": ml[0], "seqs": seqs}}}},
        instance=instance,
        resources=shop_.resources(),
        raise_on_error=False,
    )

    assert result.success, [e.message for e in result.all_events if e.is_failure]
    published = shop_.published()
    # The sold units came off every other channel, read back from their APIs.
    assert [published[k] for k in others] == [10 - 1] * len(others)
    assert sum(published[k] or 0 for k in keys) <= 10 * len(keys) - len(keys)
    written = shop_.rows(
        f"SELECT store_id FROM stock_pushes WHERE run_id = '{result.run_id}' AND status = 'written'"
    )
    assert {r[0] for r in written} >= {k[0] for k in others}
