"""What the code location promises an operator: checks on every keyed table, automation on
by default, schedules that skip (not fail) stores whose marketplace is not configured."""

from __future__ import annotations

import dagster as dg

from synchub_pipelines.definitions import defs
from synchub_pipelines.defs.checks import BOOKKEEPING_TABLES, TABLE_ASSET
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.orders.definitions import order_facts_schedule, questions_schedule
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.models import Store
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.rows import store_batch
from synchub_pipelines.warehouse.schema import KEYS

ASSET_KEYS = {key.to_user_string() for a in defs.assets or [] for key in a.keys}  # type: ignore[union-attr]
CHECK_NAMES = {k.name for c in defs.asset_checks or [] for k in c.check_keys}  # type: ignore[union-attr]


def test_every_keyed_table_has_a_unique_key_check_on_the_asset_that_writes_it() -> None:
    assert set(KEYS) == set(TABLE_ASSET) | BOOKKEEPING_TABLES
    assert set(TABLE_ASSET.values()) <= ASSET_KEYS
    assert {f"{table}_unique_key" for table in TABLE_ASSET} <= CHECK_NAMES


def test_the_sales_fact_checks_exist() -> None:
    assert {
        "order_lines_add_up",
        "settled_age_orders_have_fees",
        "shipped_orders_have_shipments",
        "orders_have_status_history",
    } <= CHECK_NAMES


def test_nothing_goes_stale_by_default() -> None:
    running = {
        s.name
        for s in defs.schedules or []
        if s.default_status == dg.DefaultScheduleStatus.RUNNING  # type: ignore[union-attr]
    }
    assert {"listings_refresh", "order_facts_refresh", "questions_refresh"} <= running
    sensors = {s.name: s for s in defs.sensors or []}  # type: ignore[union-attr]
    assert sensors["synchub_automation"].default_status == dg.DefaultSensorStatus.RUNNING
    links = next(
        a for a in defs.assets or [] if "listing_links" in {k.to_user_string() for k in a.keys}
    )  # type: ignore[union-attr]
    assert links.automation_conditions_by_key  # type: ignore[union-attr]


def test_store_schedules_skip_unconfigured_marketplaces_with_the_reason(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    migrate(engine)
    stores = [Store.of("mercadolivre", "1", "ml"), Store.of("tiktok", "2", "tt")]
    from datetime import UTC, datetime

    upsert.write(engine, [store_batch(stores, datetime.now(UTC))])
    resources = {
        "warehouse": WarehouseResource(url=sqlite_url),
        "marketplaces": MarketplacesResource.from_environment(),  # nothing configured
    }
    with dg.build_schedule_context(resources=resources) as context:
        skipped = order_facts_schedule.evaluate_tick(context)
    assert not skipped.run_requests
    assert "mercadolivre, tiktok not configured" in (skipped.skip_message or "")
    with dg.build_schedule_context(resources=resources) as context:
        only_ml = questions_schedule.evaluate_tick(context)
    assert "no connected store of mercadolivre" in (only_ml.skip_message or "")


def test_every_asset_that_holds_data_says_how_fresh_it_should_be() -> None:
    from synchub_pipelines.defs.freshness import OWN

    graph = defs.resolve_asset_graph()
    actions = {key for key, policy in OWN.items() if policy is None}
    stale_silently = [
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable
        and key.to_user_string() not in actions
        and graph.get(key).freshness_policy is None
    ]
    assert stale_silently == []
    assert graph.get(dg.AssetKey("stock_snapshots")).freshness_policy is not None


def test_every_asset_is_defined_here_and_in_a_named_group() -> None:
    """A dep on a table name instead of the asset that writes it shows up as an undefined
    asset in a `default` group the UI lists beside the project's own."""
    from synchub_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    stray = sorted(
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name in (None, "default") or not graph.get(key).is_materializable
    )
    assert stray == []
