"""The stock push never reopens a listing publishing paused or closed, on Amazon, where a
pause is quantity 0 (PostgreSQL warehouse, the real Amazon client against the loopback
sandbox): the hub's pause holds through stock changes and listings syncs, a listing the
merchant zeroed by hand is still the stock push's to fill (that rule is unchanged), and
once the catalog puts the product back on sale the push publishes its units again, even
when the last quantity it knew predates the pause."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from synchub_pipelines.defs.catalog.assets import central_products, central_stock
from synchub_pipelines.defs.listings.assets import listing_links, listings
from synchub_pipelines.defs.publishing import listings as publishing
from synchub_pipelines.defs.publishing.common import RunScope
from synchub_pipelines.defs.publishing.rules import RuleBook
from synchub_pipelines.defs.stock.planning import allocatable_stock_asset, stock_push_plan_asset
from synchub_pipelines.defs.stock.pushing import stock_pushes_asset
from synchub_pipelines.demo.sandbox_accounts import sandbox_rate_limits
from synchub_pipelines_tests.publishing.merchant import Merchant, sandbox_environment

pytestmark = pytest.mark.postgres

SKU = "PUB-GAR01"


@pytest.fixture
def merchant(sandbox_factory: Any, pg_url: str, tmp_path: Path) -> Iterator[Merchant]:
    running = sandbox_factory(rate_limits=sandbox_rate_limits())
    with sandbox_environment(running), dg.instance_for_test() as instance:
        shop = Merchant(running, pg_url, tmp_path, ("amazon",))
        shop.start(instance)
        shop.declare_ready("amazon", {SKU: ("BOTTLE", {"color": "Preto"})})
        yield shop


def publish(shop: Merchant, run_id: str) -> publishing.ListingReport:
    options = publishing.ListingOptions(
        dry_run=False,
        scope=RunScope(stores=frozenset({shop.store("amazon")})),
        max_pause_share=0.5,
    )
    report = publishing.run_listings(
        shop.engine, shop.client, RuleBook(), options, run_id, 0, datetime.now(UTC)
    )
    assert report.problems == [], report.problems
    return report


def push(shop: Merchant) -> dg.ExecuteInJobResult:
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        return _push(shop)


def _push(shop: Merchant) -> dg.ExecuteInJobResult:
    result = dg.materialize(
        [allocatable_stock_asset, stock_push_plan_asset, stock_pushes_asset],
        instance=shop.instance,
        resources=shop.resources(),
        run_config={
            # The tiny world's catalog leaves many listings at zero; that is not this test.
            "ops": {"stock_pushes": {"config": {"force": True, "bling": False}}},
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
    )
    assert result.success
    return result


def set_on_hand(shop: Merchant, **units: int) -> None:
    rows = shop.rows()
    for row in rows:
        if row["sku"] in units:
            row["on_hand"] = str(units[row["sku"]])
    shop.write_catalog(rows)
    shop.materialize([central_products, central_stock])


def set_status(shop: Merchant, status: str) -> None:
    shop.edit(SKU, status=status)


def live(shop: Merchant, listing_id: str) -> Any:
    return shop.live_listings(shop.store("amazon"))[(listing_id, "")]


def patches(shop: Merchant) -> int:
    return int(shop.running.sandbox.simulators["amazon"].write_calls["patchListingsItem"])


def pushed_rows(shop: Merchant, listing_id: str) -> int:
    return int(
        shop.query(
            "SELECT COUNT(*) FROM stock_pushes WHERE store_id = :s AND listing_id = :l "
            "AND mode = 'real'",
            s=shop.store("amazon"),
            l=listing_id,
        )[0][0]
    )


def held_metadata(result: dg.ExecuteInJobResult) -> Any:
    (plan,) = result.asset_materializations_for_node("stock_push_plan")
    return plan.metadata["listings_held_by_publishing"].value


def test_a_paused_listing_stays_off_sale_until_the_catalog_reactivates_it(
    merchant: Merchant,
) -> None:
    store = merchant.store("amazon")
    publish(merchant, "create")
    assert live(merchant, SKU).available_quantity is not None
    push(merchant)
    assert live(merchant, SKU).available_quantity == 30

    # Another Amazon listing the merchant zeroed by hand in Seller Central.
    other = merchant.query(
        "SELECT p.listing_id, p.target_quantity FROM stock_push_plan p "
        "WHERE p.store_id = :s AND p.target_quantity > 0 AND p.listing_id <> :sku "
        "ORDER BY p.listing_id LIMIT 1",
        s=store,
        sku=SKU,
    )[0]
    client = merchant.client(store)
    try:
        client.set_available_quantity(other.listing_id, "", 0)
    finally:
        client.close()

    set_status(merchant, "inactive")
    publish(merchant, "pause")
    assert live(merchant, SKU).available_quantity == 0
    assert (
        merchant.query(
            "SELECT action FROM listing_publications WHERE run_id = 'pause' AND seller_sku = :k",
            k=SKU,
        )[0].action
        == "pause"
    )

    # The listings sync now sees both at 0, and the product's stock moves: the push would
    # have written the bottle's units back (reopening it) without the publishing hold.
    merchant.materialize([listings], partition_key=store)
    set_on_hand(merchant, **{SKU: 25})
    before = patches(merchant)
    pushed_before = pushed_rows(merchant, SKU)
    result = push(merchant)

    assert live(merchant, SKU).available_quantity == 0
    assert pushed_rows(merchant, SKU) == pushed_before
    assert not merchant.query(
        "SELECT 1 FROM stock_push_plan WHERE store_id = :s AND listing_id = :l", s=store, l=SKU
    )
    assert held_metadata(result) == 1
    # The merchant's own zero is the stock push's as before: refilled to its target.
    assert live(merchant, other.listing_id).available_quantity == other.target_quantity
    assert patches(merchant) == before + 1

    set_status(merchant, "active")
    report = publish(merchant, "activate")
    assert [w.action for w in report.plan.writes if w.seller_sku == SKU] == ["activate"]
    push(merchant)
    assert live(merchant, SKU).available_quantity == 25


def test_a_quantity_known_from_before_a_pause_is_not_trusted_after_it(
    merchant: Merchant,
) -> None:
    publish(merchant, "create")
    push(merchant)
    assert live(merchant, SKU).available_quantity == 30

    set_status(merchant, "inactive")
    publish(merchant, "pause")
    assert live(merchant, SKU).available_quantity == 0
    push(merchant)  # held: nothing written, and no sync has seen the 0 yet
    assert live(merchant, SKU).available_quantity == 0

    set_status(merchant, "active")
    publish(merchant, "activate")
    # The last quantity the stock domain knew is its own 30, from before the pause: still
    # the target, yet Amazon shows 0. The pause made it stale, so the push writes again.
    before = patches(merchant)
    push(merchant)
    assert live(merchant, SKU).available_quantity == 30
    assert patches(merchant) == before + 1


def test_an_amazon_child_linked_twice_is_planned_once(merchant: Merchant) -> None:
    store = merchant.store("amazon")
    publish(merchant, "create")
    # The listings sync shows each child as its own listing; the relink links it again.
    merchant.materialize([listings], partition_key=store)
    merchant.materialize([listing_links])
    linked = merchant.query(
        "SELECT listing_id, variation_id FROM listing_links WHERE store_id = :s "
        "AND sku = 'PUB-CAM01-AZL-M'",
        s=store,
    )
    assert len(linked) == 2, linked
    push(merchant)
    planned = merchant.query(
        "SELECT listing_id, variation_id, target_quantity FROM stock_push_plan "
        "WHERE store_id = :s AND sku = 'PUB-CAM01-AZL-M'",
        s=store,
    )
    assert len(planned) == 1
    # The whole allocatable on the one Amazon listing the child is, not a split of it.
    assert planned[0].target_quantity == 12
    assert live(merchant, "PUB-CAM01-AZL-M").available_quantity == 12
