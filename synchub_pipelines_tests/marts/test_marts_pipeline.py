"""The marts on real facts: the pipeline lands a sandbox world (every marketplace) into SQLite
and PostgreSQL, then the marts' Dagster assets build them with `dbt build`: every dbt test
passes as an asset check, the sales mart reconciles with the orders to the cent (checked
here again, independently of dbt), and every mart lands as CSV and XLSX."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import openpyxl
import pytest
import sqlalchemy as sa

from synchub_pipelines.defs.marts.assets import mart_exports, marts_dbt
from synchub_pipelines.defs.marts.profile import run_dbt
from synchub_pipelines.defs.marts.resources import dbt_resource
from synchub_pipelines.demo.run import materialize_everything
from synchub_pipelines.demo.sandbox_accounts import (
    connect_bling_account,
    connect_sellers,
    sandbox_rate_limits,
)
from synchub_pipelines.sandbox.world import WorldSize
from synchub_pipelines_tests.conftest import ANCHOR
from synchub_pipelines_tests.marts.helpers import documented_columns
from synchub_pipelines_tests.stock.shop import MARKETPLACES, Shop, sandbox_environment

pytestmark = pytest.mark.slow

AS_OF = ANCHOR.strftime("%Y-%m-%d %H:%M:%S")
SOLD = ("paid", "shipped", "delivered", "returned")
MONEY = {
    "items_amount": "items_amount",
    "discount_amount": "discount_amount",
    "shipping_paid_by_buyer": "shipping_paid_by_buyer",
    "tax_amount": "tax_amount",
    "total_amount": "gross_amount",
    "fee_amount": "fee_amount",
    "seller_shipping_cost": "seller_shipping_cost",
    "refund_amount": "refund_amount",
    "payout_amount": "payout_amount",
}


def cents(value: Any) -> int:
    return round(float(value or 0) * 100)


@pytest.fixture
def landed(sandbox_factory: Any, warehouse_url: str, tmp_path: Path) -> Iterator[tuple[Shop, Any]]:
    """A sandbox world's facts landed by the real pipeline, with stock over two snapshots."""
    running = sandbox_factory(
        size=WorldSize(families=6, orders_per_seller=60, days=45),
        rate_limits=sandbox_rate_limits(),
    )
    with sandbox_environment(running), dg.DagsterInstance.ephemeral() as instance:
        shop = Shop(running, warehouse_url, tmp_path)
        sellers = [s for s in running.sandbox.world.sellers if s.marketplace in MARKETPLACES]
        connect_bling_account(shop.token_store)
        store_ids = [s.store_id for s in connect_sellers(sellers, shop.engine, shop.token_store)]
        zone = ZoneInfo(running.sandbox.world.sellers[0].timezone)
        orders = running.sandbox.world.orders
        first = min(o.created_at for o in orders).astimezone(zone).date()
        last = max(o.created_at for o in orders).astimezone(zone).date()
        failed = materialize_everything(
            store_ids,
            first - timedelta(days=1),
            last,
            instance=instance,
            resources=shop.resources(),
            say=lambda _: None,
            normalize=False,
        )
        assert failed == []
        from synchub_pipelines.definitions import defs

        assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
        for store_id in store_ids:  # a second snapshot round: stock over time
            dg.materialize(
                assets,
                selection=["stock_snapshots"],
                partition_key=store_id,
                instance=instance,
                # The location's resources (dbt…) under the test's own.
                resources={**dict(defs.resources or {}), **shop.resources()},
            )
        # Allocatable stock, as the stock domain computes it (a dry run writes nothing out).
        assert shop.push(instance, dry_run=True).success
        yield shop, instance


def build_marts(shop: Shop, instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
    return dg.materialize(
        [marts_dbt, mart_exports],
        instance=instance,
        resources={**shop.resources(), "dbt": dbt_resource()},
        run_config={
            "ops": {"marts_dbt": {"config": {"as_of": AS_OF}}},
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
        raise_on_error=False,
    )


def test_marts_build_check_reconcile_and_export_on_real_facts(landed: tuple[Shop, Any]) -> None:
    shop, instance = landed
    result = build_marts(shop, instance)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(list(marts_dbt.check_keys))
    assert [e.check_name for e in evaluations if not e.passed] == []

    with shop.engine.connect() as conn:

        def count(table: str) -> int:
            return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()

        for mart in documented_columns():
            if mart != "mart_stockout_periods":
                assert count(mart) > 0, mart
        marketplaces = {
            r[0] for r in conn.execute(sa.text("SELECT DISTINCT marketplace FROM mart_sales_daily"))
        }
        assert marketplaces == set(MARKETPLACES)

        # To the cent, per business date × store, computed here from the orders themselves.
        expected: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in conn.execute(
            sa.text(
                f"SELECT business_date, store_id, {', '.join(MONEY)} FROM orders "
                f"WHERE status IN {SOLD}"
            )
        ).mappings():
            key = (str(row["business_date"])[:10], row["store_id"])
            for column, mart_column in MONEY.items():
                expected[key][mart_column] += cents(row[column])
        found: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in conn.execute(
            sa.text(
                f"SELECT business_date, store_id, {', '.join(MONEY.values())} FROM mart_sales_daily"
            )
        ).mappings():
            key = (str(row["business_date"])[:10], row["store_id"])
            for mart_column in MONEY.values():
                found[key][mart_column] += cents(row[mart_column])
        assert {k: dict(v) for k, v in found.items()} == {k: dict(v) for k, v in expected.items()}

        # Rates over the world's last 30 days, against the stock the stock domain computed.
        covered = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM mart_stock_coverage WHERE units_sold_30d > 0 "
                "AND allocatable IS NOT NULL AND (allocatable = 0 OR days_of_cover_30d IS NOT NULL)"
            )
        ).scalar_one()
        assert covered > 0

    exported = next(
        m for m in result.get_asset_materialization_events() if m.asset_key.path == ["mart_exports"]
    ).materialization.metadata
    for mart in documented_columns():
        csv_path = Path(str(exported[f"{mart}_csv"].value))
        xlsx_path = Path(str(exported[f"{mart}_xlsx"].value))
        with csv_path.open(encoding="utf-8") as handle:
            table = list(csv.reader(handle))
        assert table[0] == list(documented_columns()[mart])
        with shop.engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT COUNT(*) FROM {mart}")).scalar_one()
        assert len(table) - 1 == rows, mart
        sheet = openpyxl.load_workbook(xlsx_path, read_only=True).active
        assert sheet is not None and sheet.max_row == rows + 1, mart

    # The sources' declared freshness is measurable on this warehouse (SQLite included):
    # every source with one is measured, none fails to be read; tables this world never
    # writes (readiness: no normalization here) are stale, not errors.
    done = run_dbt(["source", "freshness"], shop.url, check=False)
    finished = [
        line
        for line in done.stdout.splitlines()
        if "freshness of warehouse." in line and "START" not in line
    ]
    assert len(finished) == 11, done.stdout[-3000:]
    assert not [line for line in finished if "ERROR " in line and "STALE" not in line]
    assert any("PASS freshness of warehouse.orders" in line for line in finished)
