"""The Mercado Livre pipeline end to end: sandbox over HTTP → assets → warehouse tables."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.partitions import order_partitions
from synchub_pipelines_tests.pipeline.harness import Harness

SP = ZoneInfo("America/Sao_Paulo")


def test_pipeline_fills_every_table_and_rerun_changes_nothing(sandbox, warehouse_url, tmp_path):  # type: ignore[no-untyped-def]
    harness = Harness(sandbox, warehouse_url, tmp_path)
    world = sandbox.sandbox.world
    with dg.instance_for_test() as instance:
        first = harness.run(instance)
        assert first.failed_checks == []
        before = harness.snapshot()
        visible = [o for o in world.orders if o.visible_at(sandbox.sandbox.clock.now())]
        ml_orders = [o for o in visible if o.seller.marketplace == "mercadolivre"]
        counts = {t: len(rows) for t, rows in before.items()}
        assert counts["stores"] == 2
        assert counts["orders"] == len(ml_orders)
        assert counts["order_items"] == sum(len(o.lines) for o in ml_orders)
        assert counts["central_products"] == len(world.products)
        assert counts["listings"] == sum(
            len(lst.variations)
            for lst in world.listings
            if lst.seller.marketplace == "mercadolivre"
        )
        # Unmatched on purpose (blank or stale seller SKUs) stay unlinked, never guessed.
        unmatched = [
            v
            for lst in world.listings
            if lst.seller.marketplace == "mercadolivre"
            for v in lst.variations
            if v.sku is None or v.sku not in world.products_by_sku
        ]
        assert counts["listing_links"] == counts["listings"] - len(unmatched)

        # The same partitions again: not one row rewritten (synced_at included).
        second = harness.run(instance, first.store_ids)
        assert second.failed_checks == []
        assert harness.snapshot() == before


def test_faults_do_not_change_the_result(sandbox_factory, sqlite_url, tmp_path):  # type: ignore[no-untyped-def]
    clean = sandbox_factory()
    noisy = sandbox_factory()
    noisy.sandbox.faults.update(rate_429=0.15, rate_5xx=0.1)
    results = []
    for running, sub in ((clean, "clean"), (noisy, "noisy")):
        (tmp_path / sub).mkdir()
        harness = Harness(running, f"sqlite:///{tmp_path / sub / 'w.sqlite'}", tmp_path / sub)
        with dg.instance_for_test() as instance:
            assert harness.run(instance).failed_checks == []
        results.append(harness.snapshot(with_synced_at=False))
    assert results[0] == results[1]
    assert results[0]["orders"], "the comparison must cover orders"


def test_order_at_2330_local_lands_in_that_local_day(sandbox, sqlite_url, tmp_path):  # type: ignore[no-untyped-def]
    world = sandbox.sandbox.world
    late = next(
        o
        for o in world.orders
        if o.seller.marketplace == "mercadolivre"
        and o.created_at.astimezone(SP).hour == 23
        and o.created_at.astimezone(SP).minute >= 30
    )
    local_day: date = late.created_at.astimezone(SP).date()
    assert late.created_at.date() != local_day  # 23:30 in São Paulo is already tomorrow in UTC
    harness = Harness(sandbox, sqlite_url, tmp_path)
    store_ids = harness.connect_all()
    store_id = late.seller.store_id
    from synchub_pipelines.definitions import defs
    from synchub_pipelines.defs.stores.assets import sync_store_partitions

    orders_asset = next(
        a
        for a in defs.assets or []
        if isinstance(a, dg.AssetsDefinition) and dg.AssetKey("orders") in a.keys
    )
    key = dg.MultiPartitionKey({"date": local_day.isoformat(), "store": store_id})
    with dg.instance_for_test() as instance:
        sync_store_partitions(instance, store_ids)
        result = dg.materialize(
            [orders_asset], partition_key=str(key), instance=instance, resources=harness.resources()
        )
        assert result.success
        materialized = instance.get_materialized_partitions(dg.AssetKey("orders"))
    assert str(key) in materialized
    with harness.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT business_date, created_at FROM orders WHERE order_id = :id"),
            {"id": str(late.order_number)},
        ).one()
    assert str(row.business_date) == local_day.isoformat()
    assert (
        order_partitions.get_partition_key_from_str(str(key)).keys_by_dimension["store"] == store_id
    )
