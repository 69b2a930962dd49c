"""The webhook sensor and the runs it launches: batching, idempotence, retries, partitions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.events.sensor import webhook_events_sensor
from synchub_pipelines.defs.partitions import STORES
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.schema import listings, webhook_events
from synchub_pipelines_tests.events.helpers import (
    add_events,
    event_rows,
    execute,
    ml_order_event,
    op_config,
    order_ids,
    run_requests,
)
from synchub_pipelines_tests.pipeline.harness import Harness


def _tick(instance: dg.DagsterInstance, url: str, cursor: str | None):  # type: ignore[no-untyped-def]
    # As a context manager: the context's own hold on the instance ends with the tick.
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource(url=url)}
    ) as context:
        return webhook_events_sensor(context)


def test_thousand_events_for_two_stores_make_two_runs(sandbox, pg_url, tmp_path):  # type: ignore[no-untyped-def]
    harness = Harness(sandbox, pg_url, tmp_path)
    store_ids = harness.connect_all()
    assert len(store_ids) == 2
    world = sandbox.sandbox.world
    expected: dict[str, set[str]] = {}
    rows = []
    for store_id in store_ids:
        seller = next(s for s in world.sellers if s.store_id == store_id)
        ids = [str(o.order_number) for o in world.orders_of(seller)][:100]
        expected[store_id] = set(ids)
        # 500 notifications per store over 100 orders: status changes and resends.
        rows += [ml_order_event(store_id, ids[i % len(ids)]) for i in range(500)]
    add_events(harness.engine, rows)

    with dg.instance_for_test() as instance:
        first = _tick(instance, pg_url, None)
        requests = run_requests(first)
        assert len(requests) == 2
        assert sorted(r.tags["synchub/store"] for r in requests) == sorted(store_ids)
        assert all(len(op_config(r)["seqs"]) == 500 for r in requests)
        # The stores seen first here get their partition with the same tick.
        added = [k for req in first.dynamic_partitions_requests for k in req.partition_keys]
        assert sorted(added) == sorted(store_ids)

        # Re-evaluating the same tick asks for the same run keys (the daemon launches a
        # run key once); the next tick, past the cursor, asks for nothing.
        again = run_requests(_tick(instance, pg_url, None))
        assert sorted(r.run_key for r in again) == sorted(r.run_key for r in requests)
        assert isinstance(_tick(instance, pg_url, first.cursor), dg.SkipReason)

        instance.add_dynamic_partitions(STORES, added)
        for request in requests:
            assert execute(request, instance, harness.resources()).success
        # A duplicate launch of a finished batch claims nothing and changes nothing.
        assert execute(requests[0], instance, harness.resources()).success

        for store_id in store_ids:
            assert set(order_ids(harness.engine, store_id)) == expected[store_id]
        states = {r["state"] for r in event_rows(harness.engine)}
        assert states == {"processed"}
        assert isinstance(_tick(instance, pg_url, first.cursor), dg.SkipReason)

        # The asset catalog shows the (business date × store) partitions the runs wrote.
        materialized = instance.get_materialized_partitions(dg.AssetKey("orders"))
        with harness.engine.connect() as conn:
            partitions = {
                f"{day.isoformat()}|{store}"
                for store, day in conn.execute(
                    sa.text("SELECT DISTINCT store_id, business_date FROM orders")
                )
            }
        assert materialized == partitions


def test_duplicate_events_make_one_order_row(sandbox, pg_url, tmp_path):  # type: ignore[no-untyped-def]
    harness = Harness(sandbox, pg_url, tmp_path)
    store_id = harness.connect_all()[0]
    seller = next(s for s in sandbox.sandbox.world.sellers if s.store_id == store_id)
    order_id = str(next(iter(sandbox.sandbox.world.orders_of(seller))).order_number)
    add_events(harness.engine, [ml_order_event(store_id, order_id) for _ in range(10)])
    with dg.instance_for_test() as instance:
        tick = _tick(instance, pg_url, None)
        requests = run_requests(tick)
        assert len(requests) == 1
        result = execute(requests[0], instance, harness.resources())
        assert result.success
    assert order_ids(harness.engine, store_id) == [order_id]
    rows = event_rows(harness.engine)
    assert [r["state"] for r in rows] == ["processed"] * 10
    assert all(r["processed_at"] is not None for r in rows)


def test_failing_fetch_backs_off_then_fails_with_reason(sandbox, pg_url, tmp_path):  # type: ignore[no-untyped-def]
    harness = Harness(sandbox, pg_url, tmp_path)
    store_id = harness.connect_all()[0]
    seller = next(s for s in sandbox.sandbox.world.sellers if s.store_id == store_id)
    good = str(next(iter(sandbox.sandbox.world.orders_of(seller))).order_number)
    missing = "999000111"  # no such order: Mercado Livre answers 404
    add_events(harness.engine, [ml_order_event(store_id, good), ml_order_event(store_id, missing)])

    def state_of(order_id: str) -> sa.RowMapping:
        return next(r for r in event_rows(harness.engine) if r["resource_id"] == order_id)

    with dg.instance_for_test() as instance:
        cursor = None
        delays = []
        for attempt in (1, 2, 3):
            tick = _tick(instance, pg_url, cursor)
            requests = run_requests(tick)
            assert len(requests) == 1
            if attempt > 1:
                assert ":retry-" in (requests[0].run_key or "")
            cursor = tick.cursor
            before = datetime.now(UTC)
            result = execute(
                requests[0], instance, harness.resources(), max_attempts=3, retry_base_seconds=60
            )
            # One bad id fails its own event only; the run says so.
            assert not result.success
            row = state_of(missing)
            assert row["attempts"] == attempt
            assert "404" in row["last_error"] and "orders.get" in row["last_error"]
            if attempt < 3:
                assert row["state"] == "pending"
                delays.append(row["next_attempt_at"] - before)
                # Not due yet: the next tick launches nothing.
                assert isinstance(_tick(instance, pg_url, cursor), dg.SkipReason)
                with harness.engine.begin() as conn:  # the backoff elapses
                    conn.execute(
                        sa.update(webhook_events)
                        .where(webhook_events.c.resource_id == missing)
                        .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
                    )
        assert state_of(good)["state"] == "processed"
        final = state_of(missing)
        assert final["state"] == "failed" and final["next_attempt_at"] is None
        assert "not found" in final["last_error"].lower() or "404" in final["last_error"]
        # Exponential: about 60 s after the first failure, about 120 s after the second.
        assert timedelta(seconds=55) <= delays[0] <= timedelta(seconds=90)
        assert timedelta(seconds=115) <= delays[1] <= timedelta(seconds=150)
        # A failed event is not handed out again.
        assert isinstance(_tick(instance, pg_url, cursor), dg.SkipReason)
    assert order_ids(harness.engine, store_id) == [good]


def test_listing_and_other_topics(sandbox, warehouse_url, tmp_path):  # type: ignore[no-untyped-def]
    """An `items` notice refreshes that listing; a topic naming nothing the warehouse keeps
    (a payment) is settled without a fetch. On SQLite too: the demo's warehouse."""
    harness = Harness(sandbox, warehouse_url, tmp_path)
    store_id = harness.connect_all()[0]
    seller = next(s for s in sandbox.sandbox.world.sellers if s.store_id == store_id)
    listing = sandbox.sandbox.world.listings_of(seller)[0]
    item_id = f"MLB{listing.listing_number}"
    add_events(
        harness.engine,
        [
            ml_order_event(store_id, item_id, topic="items"),
            ml_order_event(store_id, "7", "payments"),
        ],
    )
    with dg.instance_for_test() as instance:
        (request,) = run_requests(_tick(instance, warehouse_url, None))
        assert execute(request, instance, harness.resources()).success
    with harness.engine.connect() as conn:
        listed = conn.execute(
            sa.select(listings.c.listing_id, listings.c.variation_id).where(
                listings.c.store_id == store_id
            )
        ).all()
    assert {row.listing_id for row in listed} == {item_id}
    assert len(listed) == max(1, len(listing.variations))
    assert [r["state"] for r in event_rows(harness.engine)] == ["processed", "processed"]
    assert order_ids(harness.engine, store_id) == []


def test_events_of_a_run_that_died_are_handed_out_again(sandbox, pg_url, tmp_path):  # type: ignore[no-untyped-def]
    harness = Harness(sandbox, pg_url, tmp_path)
    store_id = harness.connect_all()[0]
    seller = next(s for s in sandbox.sandbox.world.sellers if s.store_id == store_id)
    order_id = str(next(iter(sandbox.sandbox.world.orders_of(seller))).order_number)
    add_events(harness.engine, [ml_order_event(store_id, order_id)])
    with dg.instance_for_test() as instance:
        first = _tick(instance, pg_url, None)
        (request,) = run_requests(first)
        # The run claimed the event, then its process was killed: the claim holds…
        with harness.engine.begin() as conn:
            conn.execute(
                sa.update(webhook_events).values(
                    state="processing", next_attempt_at=datetime.now(UTC) + timedelta(minutes=5)
                )
            )
        assert isinstance(_tick(instance, pg_url, first.cursor), dg.SkipReason)
        assert execute(request, instance, harness.resources()).success  # a retry takes none
        assert order_ids(harness.engine, store_id) == []
        # …until its lease runs out; then the next tick launches it again, under a new key.
        with harness.engine.begin() as conn:
            conn.execute(
                sa.update(webhook_events).values(
                    next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
                )
            )
        (again,) = run_requests(_tick(instance, pg_url, first.cursor))
        assert again.run_key != request.run_key
        assert execute(again, instance, harness.resources()).success
    assert order_ids(harness.engine, store_id) == [order_id]
    assert [r["state"] for r in event_rows(harness.engine)] == ["processed"]


def test_events_quarantined_before_the_store_connected_are_released_and_processed(  # type: ignore[no-untyped-def]
    sandbox, pg_url, tmp_path
):
    harness = Harness(sandbox, pg_url, tmp_path)
    world = sandbox.sandbox.world
    seller = world.sellers_of("mercadolivre")[0]
    order_id = str(next(iter(world.orders_of(seller))).order_number)
    early = ml_order_event(seller.store_id, order_id)
    # As the receiver stores a notification for a store it does not know yet.
    add_events(
        harness.engine,
        [dataclasses.replace(early, state="quarantined", reason="store not connected")],
    )

    with dg.instance_for_test() as instance:
        assert isinstance(_tick(instance, pg_url, None), dg.SkipReason)
        assert [r["state"] for r in event_rows(harness.engine)] == ["quarantined"]

        harness.connect_all()
        tick = _tick(instance, pg_url, None)
        requests = run_requests(tick)
        assert [r.tags["synchub/store"] for r in requests] == [seller.store_id]
        instance.add_dynamic_partitions(STORES, [seller.store_id])
        assert execute(requests[0], instance, harness.resources()).success

    assert order_ids(harness.engine, seller.store_id) == [order_id]
    assert [(r["state"], r["last_error"]) for r in event_rows(harness.engine)] == [
        ("processed", None)
    ]


def test_question_and_shipment_notices_refresh_them(sandbox_factory, warehouse_url, tmp_path):  # type: ignore[no-untyped-def]
    """`questions` and `shipments` notices fetch the question and the shipment they name;
    the shipment moves its order on (Mercado Livre's order says `paid` until delivery)."""
    from datetime import UTC, datetime

    # A world whose "now" is the sandbox's clock, so that some orders are in transit.
    sandbox = sandbox_factory(anchor=datetime.now(UTC))
    from synchub_pipelines.defs.orders.sync import upsert_orders
    from synchub_pipelines.sandbox.mercadolivre_render import shipment_id
    from synchub_pipelines.warehouse.schema_orders import questions, shipments
    from synchub_pipelines.warehouse.stores import load_store

    harness = Harness(sandbox, warehouse_url, tmp_path)
    store_id = harness.connect_all()[0]
    world = sandbox.sandbox.world
    seller = next(s for s in world.sellers if s.store_id == store_id)
    now = sandbox.sandbox.clock.now()
    in_transit = next(o for o in world.orders_of(seller) if o.status_at(now)[0] == "shipped")
    order_id = str(in_transit.order_number)
    resources = harness.resources()
    client = resources["marketplaces"].client_for(  # type: ignore[attr-defined]
        load_store(harness.engine, store_id), resources["warehouse"]
    )
    try:
        # As a backfill lands it: the order page alone, which says paid.
        page = client.get_orders([order_id])
        upsert_orders(harness.engine, page.records)
        question = next(iter(client.iter_questions())).records[0]
    finally:
        client.close()
    assert order_status(harness.engine, store_id, order_id) == "paid"
    add_events(
        harness.engine,
        [
            ml_order_event(store_id, question.question_id, "questions"),
            ml_order_event(store_id, str(shipment_id(in_transit.order_number)), "shipments"),
        ],
    )
    with dg.instance_for_test() as instance:
        (request,) = run_requests(_tick(instance, warehouse_url, None))
        assert execute(request, instance, resources).success
    assert [r["state"] for r in event_rows(harness.engine)] == ["processed", "processed"]
    with harness.engine.connect() as conn:
        stored = conn.execute(
            sa.select(questions.c.question_id).where(questions.c.store_id == store_id)
        ).all()
        package = conn.execute(
            sa.select(shipments.c.status, shipments.c.order_id).where(
                shipments.c.store_id == store_id
            )
        ).one()
    assert [q.question_id for q in stored] == [question.question_id]
    assert tuple(package) == ("shipped", order_id)
    assert order_status(harness.engine, store_id, order_id) == "shipped"


def order_status(engine, store_id: str, order_id: str) -> str:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT status FROM orders WHERE store_id = :s AND order_id = :o"),
                {"s": store_id, "o": order_id},
            ).scalar_one()
        )
