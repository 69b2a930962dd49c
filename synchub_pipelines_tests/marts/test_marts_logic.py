"""Every mart's answer on a warehouse small enough to know it, the same on SQLite and
PostgreSQL: money allocated to the cent, SKUs resolved, the funnel, the deadlines, the
questions by local day with their percentiles, and stock-outs from snapshot rounds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.marts.profile import run_dbt
from synchub_pipelines.defs.marts.resources import prepare_marts_project
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines_tests.marts import world
from synchub_pipelines_tests.marts.helpers import (
    documented_columns,
    one,
    rows,
    throwaway_warehouse,
)

pytestmark = pytest.mark.slow


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """The world and its marts, once per warehouse for the whole module."""
    prepare_marts_project()
    with throwaway_warehouse(request.param, tmp_path_factory) as url:
        engine = engine_for(url)
        world.build(engine)
        done = run_dbt(["build", "--vars", json.dumps({"as_of": world.AS_OF})], url)
        assert "ERROR=0" in done.stdout and "WARN=0" in done.stdout, done.stdout[-3000:]
        yield engine


def money_of(row: dict[str, Any]) -> dict[str, float]:
    names = [
        "items_amount", "discount_amount", "shipping_paid_by_buyer", "gross_amount",
        "fee_amount", "seller_shipping_cost", "refund_amount", "payout_amount", "net_revenue",
    ]  # fmt: skip
    return {n: row[n] for n in names}


def test_sales_allocate_order_money_to_lines_by_share_to_the_cent(built: Engine) -> None:
    day = "business_date = '2026-03-13' AND store_id = :s"
    a = one(built, "mart_sales_daily", f"{day} AND sku = 'A'", s=world.ML)
    b = one(built, "mart_sales_daily", f"{day} AND sku = 'B'", s=world.ML)
    unlinked = one(built, "mart_sales_daily", f"{day} AND sku IS NULL", s=world.ML)
    # A by its link, B by its seller SKU (catalog), ZZZ by nothing.
    assert (a["is_unlinked"], b["is_unlinked"], unlinked["is_unlinked"]) == (False, False, True)
    assert money_of(a) == {
        "items_amount": 10.0, "discount_amount": 0.33, "shipping_paid_by_buyer": 2.0,
        "gross_amount": 11.66, "fee_amount": 1.0, "seller_shipping_cost": 0.66,
        "refund_amount": 0.0, "payout_amount": 9.99, "net_revenue": 9.99,
    }  # fmt: skip
    assert money_of(b) == {
        "items_amount": 10.0, "discount_amount": 0.33, "shipping_paid_by_buyer": 2.0,
        "gross_amount": 11.67, "fee_amount": 1.0, "seller_shipping_cost": 0.67,
        "refund_amount": 0.0, "payout_amount": 10.0, "net_revenue": 10.0,
    }  # fmt: skip
    assert money_of(unlinked) == {
        "items_amount": 10.0, "discount_amount": 0.34, "shipping_paid_by_buyer": 2.0,
        "gross_amount": 11.67, "fee_amount": 1.01, "seller_shipping_cost": 0.67,
        "refund_amount": 0.0, "payout_amount": 10.0, "net_revenue": 10.0,
    }  # fmt: skip
    assert (a["orders"], a["units"], a["settled_orders"], a["fees_final"]) == (1, 1, 1, True)
    # Pending and cancelled orders are not sales.
    assert len(rows(built, "mart_sales_daily", day, s=world.ML)) == 3


def test_sales_keep_the_local_business_date_and_net_before_settlement(built: Engine) -> None:
    late_evening = one(built, "mart_sales_daily", "store_id = :s AND units = 2", s=world.ML)
    assert late_evening["business_date"] == "2026-03-10"  # 23:30 local, 02:30 UTC next day
    # Not settled: gross − fees (unknown: 0) − seller shipping − refunds.
    assert late_evening["net_revenue"] == 23.5
    assert (late_evening["fees_final"], late_evening["orders_with_fees"]) == (False, 0)
    returned = one(built, "mart_sales_daily", "store_id = :s", s=world.SHOPEE)
    assert (returned["refund_amount"], returned["net_revenue"]) == (50.0, 0.0)


def test_funnel_counts_each_stage_reached_and_times_stated_instants(built: Engine) -> None:
    ml = one(built, "mart_order_funnel", "store_id = :s", s=world.ML)
    assert ml["week_start"] == "2026-03-09"
    counts = [ml[k] for k in ("orders", "orders_paid", "orders_shipped", "orders_delivered")]
    assert counts == [4, 2, 1, 1]
    assert (ml["orders_cancelled"], ml["cancellation_rate"], ml["return_rate"]) == (1, 0.25, 0.0)
    assert (ml["p50_hours_paid_to_shipped"], ml["avg_hours_paid_to_delivered"]) == (24.0, 60.0)
    shopee = one(built, "mart_order_funnel", "store_id = :s", s=world.SHOPEE)
    # Returned counts as paid; its `observed` return instant times nothing.
    assert (shopee["orders_paid"], shopee["orders_returned"], shopee["return_rate"]) == (1, 1, 1.0)
    assert shopee["avg_hours_paid_to_shipped"] is None


def test_shipping_sla_against_the_handling_deadline(built: Engine) -> None:
    row = one(built, "mart_shipping_sla", "store_id = :s", s=world.ML)
    assert (row["week_start"], row["carrier"], row["packages"]) == ("2026-03-09", "Correios", 2)
    assert (row["shipped_late"], row["shipped_on_time"], row["late_share"]) == (1, 0, 1.0)
    assert row["overdue_unshipped"] == 1
    assert (row["p50_hours_to_ship"], row["avg_hours_to_deliver"]) == (24.08, 36.0)


def test_questions_by_local_day_with_nearest_rank_percentiles(built: Engine) -> None:
    evening = one(built, "mart_questions_sla", "question_date = '2026-03-12'")
    assert (evening["questions"], evening["answered"], evening["answered_share"]) == (3, 2, 0.6667)
    assert (evening["p50_response_minutes"], evening["p90_response_minutes"]) == (30.0, 90.0)
    assert evening["unanswered_over_24h"] == 1
    banned = one(built, "mart_questions_sla", "question_date = '2026-03-13'")
    assert (banned["answerable_questions"], banned["answered_share"]) == (0, None)


def test_stockouts_from_snapshot_rounds(built: Engine) -> None:
    periods = sorted(rows(built, "mart_stockout_periods"), key=lambda r: r["period_no"])
    assert [(p["sku"], p["period_no"]) for p in periods] == [("A", 1), ("A", 2)]
    first, second = periods
    assert first["started_at"] == datetime(2026, 3, 13, 11, 5, tzinfo=UTC)
    assert first["ended_at"] == datetime(2026, 3, 13, 13, 6, tzinfo=UTC)
    assert (first["rounds_out"], first["hours_out"], first["is_ongoing"]) == (2, 2.02, False)
    assert (second["ended_at"], second["is_ongoing"], second["hours_out"]) == (None, True, 24.92)


def test_stock_coverage_rates_and_days_of_cover(built: Engine) -> None:
    a = one(built, "mart_stock_coverage", "sku = 'A'")
    assert (a["allocatable"], a["units_sold_7d"], a["units_sold_30d"]) == (8, 4, 4)
    assert (a["days_of_cover_7d"], a["days_of_cover_30d"]) == (14.0, 60.0)
    assert (a["is_out_of_stock"], a["stockouts"], a["listings_snapshotted"]) == (True, 2, 2)
    assert a["last_stockout_started_at"] == datetime(2026, 3, 13, 14, 5, tzinfo=UTC)
    assert a["last_stockout_ended_at"] is None
    b = one(built, "mart_stock_coverage", "sku = 'B'")
    assert (b["allocatable"], b["units_sold_7d"], b["days_of_cover_30d"]) == (None, 1, None)


def test_listing_health(built: Engine) -> None:
    def listing(listing_id: str) -> dict[str, Any]:
        return one(built, "mart_listing_health", "listing_id = :l", l=listing_id)

    ml, shopee, unlinked, suppressed = (listing(x) for x in ("L1", "S1", "L2", "L3"))
    assert (ml["is_not_ready"], ml["missing_attribute_count"]) == (True, 2)
    assert json.loads(ml["missing_attributes"]) == ["Marca", "Cor"]
    assert (ml["sku_channels"], ml["price_spread"], ml["price_spread_share"]) == (2, 20.0, 0.2)
    assert (shopee["is_not_ready"], shopee["price_above_min_share"]) == (False, 0.2)
    assert shopee["needs_attention"] is False
    assert (unlinked["is_unlinked"], unlinked["is_paused"]) == (True, True)
    assert unlinked["status_reason"] == "out_of_stock"
    assert (suppressed["is_suppressed"], suppressed["status_reason"]) == (True, "held")
    assert all(x["needs_attention"] for x in (ml, unlinked, suppressed))


def test_built_tables_have_exactly_the_documented_columns(built: Engine) -> None:
    with built.connect() as conn:
        inspector = sa.inspect(conn)
        for mart, columns in documented_columns().items():
            assert [c["name"] for c in inspector.get_columns(mart)] == list(columns), mart
    if built.dialect.name == "postgresql":
        # The declared types are the real ones, and descriptions are COMMENT ON for BI tools.
        with built.connect() as conn:
            for mart, columns in documented_columns().items():
                found = conn.execute(
                    sa.text(
                        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
                        "col_description(a.attrelid, a.attnum) FROM pg_attribute a "
                        "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 "
                        "AND NOT a.attisdropped ORDER BY a.attnum"
                    ),
                    {"t": mart},
                ).all()
                assert {name: kind for name, kind, _ in found} == columns, mart
                assert all(comment for _, _, comment in found), mart
