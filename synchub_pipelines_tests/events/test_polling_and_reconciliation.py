"""Shopee polling by update time, and the daily reconciliation that repairs lost orders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from synchub_pipelines import settings
from synchub_pipelines.connect import marketplaces_from_env
from synchub_pipelines.defs.events.polling import (
    load_cursor,
    order_polling_job,
    order_polling_schedule,
)
from synchub_pipelines.defs.events.reconciliation import CHECK_NAME, order_reconciliation
from synchub_pipelines.defs.events.sensor import webhook_events_sensor
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.partitions import STORES
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.demo.sandbox_accounts import configure_sandbox_env, connect_sellers
from synchub_pipelines.warehouse.credentials import SqlTokenStore
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.schema import orders
from synchub_pipelines.warehouse.schema_events import reconciliation_repairs, reconciliation_runs
from synchub_pipelines_tests.events.helpers import (
    add_events,
    execute,
    ml_order_event,
    order_ids,
    run_requests,
)
from synchub_pipelines_tests.pipeline.harness import Harness

# --- polling ------------------------------------------------------------------------------


@pytest.fixture
def sandbox_env() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _poll(instance: dg.DagsterInstance, resources: dict[str, object], store_id: str):  # type: ignore[no-untyped-def]
    result = order_polling_job.execute_in_process(
        run_config={"ops": {"poll_store_orders": {"config": {"store_id": store_id}}}},
        instance=instance,
        resources=resources,
    )
    assert result.success
    (output,) = [e for e in result.all_events if e.is_successful_output]
    return output.step_output_data.metadata


def test_polling_picks_up_an_order_updated_after_the_last_poll(  # type: ignore[no-untyped-def]
    sandbox_factory, pg_url, sandbox_env
):
    running = sandbox_factory(anchor=datetime.now(UTC))
    configure_sandbox_env(running.url)
    engine = engine_for(pg_url)
    migrate(engine)
    shops = running.sandbox.world.sellers_of("shopee")
    stores = connect_sellers(
        shops[:1] + running.sandbox.world.sellers_of("mercadolivre")[:1],
        engine,
        SqlTokenStore(engine, settings.secret_key()),
    )
    shop = next(s for s in stores if s.marketplace.value == "shopee")
    resources = {
        "warehouse": WarehouseResource(url=pg_url),
        "marketplaces": marketplaces_from_env(),
    }
    with dg.instance_for_test() as instance:
        # The schedule asks for one run per Shopee store, none for the others.
        with dg.build_schedule_context(
            instance=instance,
            resources=resources,
            scheduled_execution_time=datetime(2026, 11, 1, 12, 5, tzinfo=UTC),
        ) as context:
            requests = order_polling_schedule(context)
        assert [r.tags["synchub/store"] for r in requests] == [shop.store_id]  # type: ignore[union-attr]
        # A marketplace without credentials here is skipped with the reason, not run.
        saved = os.environ.pop("SYNCHUB_SHOPEE_PARTNER_KEY")
        try:
            with dg.build_schedule_context(
                instance=instance,
                resources={**resources, "marketplaces": MarketplacesResource.from_environment()},
            ) as context:
                skipped = order_polling_schedule(context)
        finally:
            os.environ["SYNCHUB_SHOPEE_PARTNER_KEY"] = saved
        assert isinstance(skipped, dg.SkipReason)
        assert "shopee not configured here" in (skipped.skip_message or "")

        _poll(instance, resources, shop.store_id)
        first_cursor = load_cursor(engine, shop.store_id)
        assert first_cursor is not None
        before = set(order_ids(engine, shop.store_id))

        simulator = running.sandbox.simulators["shopee"]
        sim_shop = simulator.shops[int(shop.seller_id)]
        item_id, listing = next(
            (i, lst)
            for i, lst in sim_shop.items.items()
            if any(v.available_quantity > 0 for v in lst.variations)
        )
        variation = next(v for v in listing.variations if v.available_quantity > 0)
        sale = httpx.post(
            f"{running.base_url('shopee')}/_sandbox/sales",
            json={
                "item_id": item_id,
                "model_id": variation.variation_number if listing.has_variations else 0,
                "quantity": 1,
            },
        )
        assert sale.status_code == 200, sale.text
        order_sn = sale.json()["order_sn"]
        assert order_sn not in before

        metadata = _poll(instance, resources, shop.store_id)
        assert order_sn in order_ids(engine, shop.store_id)
        assert metadata["orders_new"].value >= 1
        second_cursor = load_cursor(engine, shop.store_id)
        assert second_cursor is not None and second_cursor > first_cursor
        with engine.connect() as conn:
            day = conn.execute(
                sa.select(orders.c.business_date).where(orders.c.order_id == order_sn)
            ).scalar_one()
        materialized = instance.get_materialized_partitions(dg.AssetKey("orders"))
        assert f"{day.isoformat()}|{shop.store_id}" in materialized

        # The overlap re-reads the sale; nothing changed, so nothing is written or reported.
        again = _poll(instance, resources, shop.store_id)
        assert again["orders_new"].value == 0 and again["orders_changed"].value == 0


# --- reconciliation -----------------------------------------------------------------------


def test_reconciliation_repairs_orders_no_event_delivered(sandbox_factory, pg_url, tmp_path):  # type: ignore[no-untyped-def]
    running = sandbox_factory(anchor=datetime.now(UTC) - timedelta(minutes=1))
    harness = Harness(running, pg_url, tmp_path)
    store_id = harness.connect_all()[0]
    world = running.sandbox.world
    seller = next(s for s in world.sellers if s.store_id == store_id)
    now = running.sandbox.clock.now()
    api_ids = sorted(str(o.order_number) for o in world.orders_of(seller) if o.visible_at(now))
    # Every fifth order's webhook never arrives.
    lost = api_ids[::5]
    delivered = [i for i in api_ids if i not in set(lost)]
    add_events(harness.engine, [ml_order_event(store_id, i) for i in delivered])
    lookback = {"ops": {"order_reconciliation": {"config": {"lookback_hours": 24 * 30}}}}

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(STORES, [store_id])
        with dg.build_sensor_context(
            instance=instance, resources={"warehouse": WarehouseResource(url=pg_url)}
        ) as context:
            (request,) = run_requests(webhook_events_sensor(context))
        assert execute(request, instance, harness.resources()).success
        assert order_ids(harness.engine, store_id) == delivered
        # One delivered order is behind: its row shows an older update than the API's.
        stale_id = delivered[0]
        with harness.engine.begin() as conn:
            conn.execute(
                sa.update(orders)
                .where(orders.c.store_id == store_id, orders.c.order_id == stale_id)
                .values(updated_at=orders.c.updated_at - timedelta(hours=1))
            )

        result = dg.materialize(
            [order_reconciliation],
            partition_key=store_id,
            instance=instance,
            resources=harness.resources(),
            run_config=lookback,
        )
        assert result.success
        assert order_ids(harness.engine, store_id) == api_ids  # zero missing
        (check,) = result.get_asset_check_evaluations()
        assert check.check_name == CHECK_NAME and not check.passed
        assert check.severity == dg.AssetCheckSeverity.WARN
        with harness.engine.connect() as conn:
            run = conn.execute(sa.select(reconciliation_runs)).mappings().one()
            repairs = {
                r.order_id: r.reason for r in conn.execute(sa.select(reconciliation_repairs))
            }
        assert run["missing_orders"] == len(lost) and run["stale_orders"] == 1
        assert run["api_orders"] == len(api_ids)
        assert repairs == {**dict.fromkeys(lost, "missing"), stale_id: "stale"}
        # The repaired orders' partitions show the new materialization.
        materialized = instance.get_materialized_partitions(dg.AssetKey("orders"))
        with harness.engine.connect() as conn:
            lost_days = {
                f"{d.isoformat()}|{store_id}"
                for d in conn.execute(
                    sa.select(orders.c.business_date).where(orders.c.order_id.in_(lost))
                ).scalars()
            }
        assert lost_days <= materialized

        # Nothing left to repair: the check passes and no repair is recorded.
        second = dg.materialize(
            [order_reconciliation],
            partition_key=store_id,
            instance=instance,
            resources=harness.resources(),
            run_config=lookback,
        )
        (check,) = second.get_asset_check_evaluations()
        assert check.passed
        with harness.engine.connect() as conn:
            counts = conn.execute(
                sa.select(
                    reconciliation_runs.c.missing_orders, reconciliation_runs.c.stale_orders
                ).where(reconciliation_runs.c.run_id == second.run_id)
            ).one()
        assert tuple(counts) == (0, 0)
