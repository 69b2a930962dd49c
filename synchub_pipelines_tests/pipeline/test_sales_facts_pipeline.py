"""The sales facts end to end, on every marketplace: the real pipeline against the loopback
sandbox into SQLite and PostgreSQL, measured by what an analyst would ask of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from synchub_pipelines.defs.marketplaces import settlement_days
from synchub_pipelines.demo.run import materialize_everything
from synchub_pipelines.demo.sandbox_accounts import sandbox_rate_limits
from synchub_pipelines.sandbox.world import WorldSize
from synchub_pipelines.warehouse.schema import UtcTimestamp
from synchub_pipelines_tests.conftest import ANCHOR
from synchub_pipelines_tests.stock.shop import MARKETPLACES, Shop, sandbox_environment


@pytest.fixture
def landed(
    sandbox_factory: Any, warehouse_url: str, tmp_path: Path
) -> Iterator[tuple[Shop, list[str], list[str]]]:
    # A hundred days of sales: older than every marketplace's settlement period, and not.
    running = sandbox_factory(
        size=WorldSize(families=6, orders_per_seller=100, days=100),
        rate_limits=sandbox_rate_limits(),
    )
    with sandbox_environment(running), dg.DagsterInstance.ephemeral() as instance:
        shop = Shop(running, warehouse_url, tmp_path)
        sellers = [s for s in running.sandbox.world.sellers if s.marketplace in MARKETPLACES]
        from synchub_pipelines.demo.sandbox_accounts import connect_bling_account, connect_sellers

        connect_bling_account(shop.token_store)
        store_ids = [s.store_id for s in connect_sellers(sellers, shop.engine, shop.token_store)]
        zone = running.sandbox.world.sellers[0].timezone
        from zoneinfo import ZoneInfo

        orders = running.sandbox.world.orders
        first = min(o.created_at for o in orders).astimezone(ZoneInfo(zone)).date()
        last = max(o.created_at for o in orders).astimezone(ZoneInfo(zone)).date()
        failed = materialize_everything(
            store_ids,
            first - timedelta(days=1),
            last,
            instance=instance,
            resources=shop.resources(),
            say=lambda _: None,
            normalize=False,
        )
        # A second stock snapshot, later: stock over time.
        from synchub_pipelines.definitions import defs

        assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
        for store_id in store_ids:
            dg.materialize(
                assets,
                selection=["stock_snapshots"],
                partition_key=store_id,
                instance=instance,
                # The location's resources (dbt…) under the test's own.
                resources={**dict(defs.resources or {}), **shop.resources()},
            )
        yield shop, store_ids, failed


def scalar(shop: Shop, sql: str, **params: Any) -> Any:
    with shop.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def by_marketplace(shop: Shop, sql: str) -> dict[str, Any]:
    with shop.engine.connect() as conn:
        return {row[0]: row[1:] for row in conn.execute(sa.text(sql))}


def test_every_marketplace_lands_complete_exact_facts(
    landed: tuple[Shop, list[str], list[str]],
) -> None:
    shop, store_ids, failed = landed
    assert failed == []
    assert {s.split("-")[0] for s in store_ids} == set(MARKETPLACES)

    # Σ lines = items_amount for every order.
    assert (
        scalar(
            shop,
            "SELECT COUNT(*) FROM orders o WHERE ROUND(o.items_amount, 2) <> ROUND("
            "(SELECT SUM(i.line_amount) FROM order_items i "
            "WHERE i.store_id = o.store_id AND i.order_id = o.order_id), 2)",
        )
        == 0
    )
    # Paid orders older than their marketplace's settlement window have fees and payouts.
    for marketplace in MARKETPLACES:
        cutoff = ANCHOR - timedelta(days=settlement_days(marketplace))
        query = sa.text(
            "SELECT COUNT(*), COUNT(o.fee_amount), COUNT(o.payout_amount) FROM orders o "
            "JOIN stores s ON s.store_id = o.store_id WHERE s.marketplace = :m "
            "AND o.status IN ('paid', 'shipped', 'delivered', 'returned') "
            "AND o.created_at < :cutoff"
        ).bindparams(sa.bindparam("cutoff", type_=UtcTimestamp))
        with shop.engine.connect() as conn:
            paid, with_fee, with_payout = conn.execute(
                query, {"m": marketplace, "cutoff": cutoff}
            ).one()
        assert paid > 0, marketplace
        assert with_fee >= 0.95 * paid, (marketplace, paid, with_fee)
        assert with_payout >= 0.95 * paid, (marketplace, paid, with_payout)

    shipments = by_marketplace(
        shop,
        "SELECT s.marketplace, COUNT(*) FROM shipments sh "
        "JOIN stores s ON s.store_id = sh.store_id GROUP BY s.marketplace",
    )
    assert set(shipments) == set(MARKETPLACES)
    ml_stores = [s for s in store_ids if s.startswith("mercadolivre-")]
    for store_id in ml_stores:
        assert scalar(shop, "SELECT COUNT(*) FROM questions WHERE store_id = :s", s=store_id) > 0
    assert (
        scalar(
            shop,
            "SELECT COUNT(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_status_history h "
            "WHERE h.store_id = o.store_id AND h.order_id = o.order_id)",
        )
        == 0
    )
    for store_id in store_ids:
        instants = scalar(
            shop,
            "SELECT COUNT(DISTINCT snapshot_at) FROM stock_snapshots WHERE store_id = :s",
            s=store_id,
        )
        assert instants >= 2, store_id
    # Every marketplace reaches `delivered` (the shipment tells it where the order does not).
    delivered = by_marketplace(
        shop,
        "SELECT s.marketplace, COUNT(*) FROM orders o JOIN stores s ON s.store_id = o.store_id "
        "WHERE o.status = 'delivered' GROUP BY s.marketplace",
    )
    assert set(delivered) == set(MARKETPLACES)
