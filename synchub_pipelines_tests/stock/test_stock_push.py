"""The stock push end to end: PostgreSQL warehouse, Mercado Livre sandbox over loopback.

The world has two Mercado Livre accounts listing the same SKUs, so a unit sold on one
must come off the other. Quantities are read back through the client, over HTTP.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from synchub_pipelines.defs.catalog.assets import central_products, central_stock
from synchub_pipelines.defs.listings.vanished import NOT_FOUND_REASON
from synchub_pipelines.defs.stock.automation import stock_reservation_sensor
from synchub_pipelines.defs.stock.planning import (
    allocatable_stock_asset,
    published_within_allocatable,
    stock_push_plan_asset,
)
from synchub_pipelines.defs.stock.push import PushOptions, run_push
from synchub_pipelines.defs.stock.pushing import stock_pushes_asset
from synchub_pipelines.defs.stock.writers import StockWriter, writer_for_client
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.mercadolivre import MercadoLivreClient
from synchub_pipelines.sandbox.infra import Faults
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import order_batches
from synchub_pipelines.warehouse.stores import load_store
from synchub_pipelines_tests.pipeline.harness import Harness
from synchub_pipelines_tests.stock.shop import materialize_stock_inputs

STOCK_ASSETS = [
    allocatable_stock_asset,
    stock_push_plan_asset,
    stock_pushes_asset,
    published_within_allocatable,
]


@dataclass
class World:
    harness: Harness
    instance: dg.DagsterInstance
    store_ids: list[str]

    @property
    def engine(self) -> sa.Engine:
        return self.harness.engine

    def client(self, store_id: str, http: HttpSettings | None = None) -> MercadoLivreClient:
        store = load_store(self.engine, store_id)
        assert store is not None
        app = self.harness.app if http is None else replace(self.harness.app, http=http)
        return MercadoLivreClient(app, store, self.harness.token_store, "salt")

    def push(self, **config: Any) -> dg.ExecuteInJobResult:
        return dg.materialize(
            STOCK_ASSETS,
            instance=self.instance,
            resources=self.harness.resources(),
            run_config={"ops": {"stock_pushes": {"config": config}}},
            raise_on_error=False,
        )

    def published(self) -> dict[tuple[str, str, str], int]:
        """What every store's listings publish now, read from the API."""
        seen = {}
        for store_id in self.store_ids:
            client = self.client(store_id)
            try:
                for page in client.iter_listings():
                    for x in page.records:
                        seen[(x.store_id, x.listing_id, x.variation_id)] = x.available_quantity or 0
            finally:
                client.close()
        return seen

    def set_on_hand(self, quantities: dict[str, int]) -> None:
        """Change the catalog file's stock and re-read it, as the merchant would."""
        path = self.harness.catalog
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        for row in rows:
            if row["sku"] in quantities:
                row["on_hand"] = str(quantities[row["sku"]])
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        dg.materialize(
            [central_products, central_stock],
            selection=[central_stock],
            instance=self.instance,
            resources=self.harness.resources(),
        )

    def sell(self, store_id: str, listing_id: str, variation_id: str, quantity: int = 1) -> str:
        """A buyer pays on the marketplace; returns the order id."""
        body: dict[str, Any] = {"item_id": listing_id, "quantity": quantity}
        if variation_id:
            body["variation_id"] = int(variation_id)
        answer = httpx.post(
            f"{self.harness.running.base_url('mercadolivre')}/_sandbox/sales", json=body
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def ingest(self, store_id: str, order_ids: list[str]) -> None:
        """Land orders in the warehouse the way the event sync does: fetch by id, upsert."""
        client = self.client(store_id)
        try:
            page = client.get_orders(order_ids)
        finally:
            client.close()
        assert not page.rejects
        batches, prunes = order_batches(page.records)
        upsert.write(self.engine, batches, prunes)

    def rows(self, sql: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))

    def plan(self) -> dict[tuple[str, str, str], tuple[str, int]]:
        return {
            (r[0], r[1], r[2]): (r[3], r[4])
            for r in self.rows(
                "SELECT store_id, listing_id, variation_id, sku, target_quantity "
                "FROM stock_push_plan"
            )
        }

    def allocatable(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.rows("SELECT sku, allocatable FROM allocatable_stock")}


def metadata(result: dg.ExecuteInJobResult, asset: str = "stock_pushes") -> dict[str, Any]:
    events = result.asset_materializations_for_node(asset)
    assert events, f"{asset} was not materialized"
    return {k: v.value for k, v in events[-1].metadata.items()}


def write_calls(meta: dict[str, Any]) -> int:
    return sum(calls.get("items.update_stock", 0) for calls in meta["api_calls"].values())


def _world(running: Any, url: str, tmp_path: Path) -> Iterator[World]:
    harness = Harness(running, url, tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        store_ids = harness.connect_all()
        first, last = harness.world_days()
        materialize_stock_inputs(store_ids, first, last, instance, harness.resources())
        yield World(harness, instance, store_ids)


@pytest.fixture
def world(sandbox_factory, pg_url: str, tmp_path: Path) -> Iterator[World]:  # type: ignore[no-untyped-def]
    yield from _world(sandbox_factory(faults=Faults(seed=11)), pg_url, tmp_path)


@pytest.fixture
def any_world(sandbox_factory, warehouse_url: str, tmp_path: Path) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """The same, once on SQLite (the embedded default) and once on PostgreSQL."""
    yield from _world(sandbox_factory(), warehouse_url, tmp_path)


def shared_sku(world: World) -> tuple[str, list[tuple[str, str, str]]]:
    """A SKU listed once on each Mercado Livre account."""
    by_sku: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for key, (sku, _) in world.plan().items():
        by_sku[sku].append(key)
    for sku, keys in sorted(by_sku.items()):
        if sorted({k[0] for k in keys}) == sorted(world.store_ids) and len(keys) == 2:
            return sku, keys
    raise AssertionError("the sandbox world has no SKU listed on both accounts")


def assert_within_allocatable(world: World) -> None:
    published = world.published()
    allocatable = world.allocatable()
    totals: dict[str, int] = defaultdict(int)
    for key, (sku, _) in world.plan().items():
        assert published[key] <= allocatable[sku], (key, sku)
        totals[sku] += published[key]
    over = {sku: (n, allocatable[sku]) for sku, n in totals.items() if n > allocatable[sku]}
    assert not over


def test_push_publishes_the_plan_and_a_rerun_writes_nothing(any_world: World) -> None:
    world = any_world
    first = world.push()
    assert first.success
    meta = metadata(first)
    assert meta["writes_done"] > 0 and meta["writes_failed"] == 0
    assert write_calls(meta) == meta["writes_done"]
    checks = first.get_asset_check_evaluations()
    assert [c.passed for c in checks if c.check_name == "published_within_allocatable"] == [True]
    published = world.published()
    for key, (_, target) in world.plan().items():
        assert published[key] == target
    assert_within_allocatable(world)
    audited = world.rows(
        "SELECT COUNT(*) FROM stock_pushes WHERE mode = 'real' AND status = 'written'"
    )
    assert audited[0][0] == meta["writes_done"]
    history = world.rows("SELECT COUNT(*) FROM allocatable_stock_history")[0][0]

    again = world.push()
    assert again.success
    assert metadata(again)["writes_planned"] == 0
    assert write_calls(metadata(again)) == 0
    assert world.rows("SELECT COUNT(*) FROM allocatable_stock_history")[0][0] == history


def test_a_listing_deleted_on_the_marketplace_is_closed_and_the_push_goes_on(
    any_world: World,
) -> None:
    world = any_world
    assert world.push().success
    sku, _ = shared_sku(world)
    store_id = world.store_ids[0]
    deleted = (store_id, "MLB999999999", "")  # linked here, unknown to Mercado Livre now
    now = datetime.now(UTC)
    with world.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO listings (store_id, listing_id, variation_id, title, seller_sku, "
                "status, currency, available_quantity, synced_at) VALUES "
                "(:s, :l, '', 'Deleted in the back office', :sku, 'active', 'BRL', 999, :now)"
            ),
            {"s": store_id, "l": deleted[1], "sku": sku, "now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO listing_links (store_id, listing_id, variation_id, sku, method, "
                "synced_at) VALUES (:s, :l, '', :sku, 'manual', :now)"
            ),
            {"s": store_id, "l": deleted[1], "sku": sku, "now": now},
        )

    first = world.push()
    assert first.success  # one gone listing does not fail the push of the others
    meta = metadata(first)
    assert meta["listings_gone"] == 1 and meta["writes_failed"] == 0
    assert meta["writes_done"] > 0  # the SKU's other listings took their new share
    status, reason = world.rows(
        f"SELECT status, status_reason FROM listings WHERE listing_id = '{deleted[1]}'"
    )[0]
    assert (status, reason) == ("closed", NOT_FOUND_REASON)
    audited = world.rows(
        f"SELECT status FROM stock_pushes WHERE listing_id = '{deleted[1]}' AND mode = 'real'"
    )
    assert [r[0] for r in audited] == ["failed"]  # the refusal is kept in the audit

    again = world.push()
    assert again.success
    assert deleted not in world.plan()  # closed: not planned, its units go elsewhere
    assert metadata(again)["listings_gone"] == 0
    assert_within_allocatable(world)


@pytest.mark.postgres
def test_dry_run_plans_without_calling_any_write_endpoint(world: World) -> None:
    assert world.push().success
    sku, keys = shared_sku(world)
    before = world.published()
    world.set_on_hand({sku: 0})

    dry = world.push(dry_run=True)
    assert dry.success
    meta = metadata(dry)
    assert meta["mode"] == "dry-run"
    assert meta["api_calls"] == {}  # not even a client was made
    assert world.published() == before
    planned = world.rows(
        "SELECT store_id, listing_id, variation_id, quantity_after, status FROM stock_pushes "
        "WHERE mode = 'dry_run'"
    )
    assert {(r[0], r[1], r[2]) for r in planned} >= {k for k in keys if before[k] > 0}
    assert {r[3] for r in planned if (r[0], r[1], r[2]) in keys} == {0}
    assert {r[4] for r in planned} == {"planned"}
    assert sku in meta["plan"] and "| before | after |" in meta["plan"]

    real = world.push()
    assert real.success
    assert all(world.published()[k] == 0 for k in keys)


@pytest.mark.postgres
def test_policies_shape_the_plan_and_the_invariant_holds(world: World) -> None:
    first, second = world.store_ids
    result = dg.materialize(
        [*STOCK_ASSETS[:2], published_within_allocatable],
        instance=world.instance,
        resources=world.harness.resources(),
        run_config={
            "ops": {
                "stock_push_plan": {
                    "config": {"store_policies": {first: {"exclude": True}, second: {"max": 3}}}
                }
            }
        },
    )
    assert result.success
    allocatable = world.allocatable()
    for (store_id, _, _), (sku, target) in world.plan().items():
        if store_id == first:
            assert target == 0
        else:
            assert target == min(3, allocatable[sku])


@pytest.mark.postgres
def test_a_failing_marketplace_then_the_retry_writes_only_what_failed(world: World) -> None:
    # The plan, computed without touching the marketplace.
    assert world.push(dry_run=True).success
    running = world.harness.running
    one_attempt = HttpSettings(timeout_seconds=10, max_attempts=1)
    clients: list[MercadoLivreClient] = []

    def writer_for(store_id: str) -> StockWriter:
        client = world.client(store_id, one_attempt)
        client.tokens.access_token()  # fetched before the faults start
        clients.append(client)
        return writer_for_client(client)

    options = PushOptions()
    total = len(world.rows("SELECT 1 FROM stock_pushes WHERE mode = 'dry_run'"))
    assert total > 10
    httpx.post(f"{running.url}/_sandbox/faults", json={"rate_5xx": 0.5})
    try:
        first = run_push(world.engine, writer_for, options, "run-1", 0, datetime.now(UTC))
    finally:
        httpx.post(f"{running.url}/_sandbox/faults", json={"rate_5xx": 0.0})
    failed = {p.key for p, _ in first.failed}
    assert 0 < len(failed) < total
    assert first.written + len(failed) == total

    clients.clear()
    retry = run_push(world.engine, writer_for, options, "run-2", 0, datetime.now(UTC))
    assert {p.key for p in retry.planned} == failed
    assert retry.written == len(failed) and not retry.failed
    assert sum(c.http.stats["calls.items.update_stock"] for c in clients) == len(failed)
    audit = world.rows(
        "SELECT run_id, status, COUNT(*) FROM stock_pushes WHERE mode = 'real' "
        "GROUP BY run_id, status ORDER BY 1, 2"
    )
    assert audit == [
        ("run-1", "failed", len(failed)),
        ("run-1", "written", total - len(failed)),
        ("run-2", "written", len(failed)),
    ]
    for (store_id, listing_id, variation_id), (_, target) in world.plan().items():
        assert world.published()[(store_id, listing_id, variation_id)] == target


@pytest.mark.postgres
def test_a_drift_sweep_repairs_a_listing_changed_behind_our_back(world: World) -> None:
    assert world.push().success
    _sku, keys = shared_sku(world)
    key = keys[0]
    target = world.plan()[key][1]
    client = world.client(key[0])
    try:
        client.set_available_quantity(key[1], key[2], target + 50)  # someone else's edit
    finally:
        client.close()

    blind = world.push()
    assert blind.success and metadata(blind)["writes_planned"] == 0
    assert world.published()[key] == target + 50

    sweep = world.push(read_back=True)
    assert sweep.success
    meta = metadata(sweep)
    assert meta["listings_drifted"] == 1 and meta["writes_done"] == 1
    assert world.published()[key] == target
    reason = world.rows(
        "SELECT reason, quantity_before, quantity_after FROM stock_pushes "
        f"WHERE listing_id = '{key[1]}' AND variation_id = '{key[2]}' AND reason = 'drift'"
    )
    assert reason == [("drift", target + 50, target)]


@pytest.mark.postgres
def test_a_push_zeroing_most_listings_stops_unless_forced(world: World) -> None:
    assert world.push().success
    skus = {sku for sku, _ in world.plan().values()}
    world.set_on_hand({sku: 0 for sku in skus})
    before = world.published()

    refused = world.push()
    assert not refused.success
    assert world.published() == before
    assert (
        world.rows(
            "SELECT COUNT(*) FROM stock_pushes WHERE reason = 'changed' AND "
            "quantity_after = 0 AND status = 'written'"
        )[0][0]
        == 0
    )

    forced = world.push(force=True)
    assert forced.success
    assert set(world.published()[k] for k in world.plan()) == {0}


@pytest.mark.postgres
def test_zero_is_reasserted_once_it_is_old(world: World) -> None:
    assert world.push().success
    zeros = [k for k, (_, target) in world.plan().items() if target == 0]
    fresh = world.push(reassert_zero_hours=6)
    assert metadata(fresh)["writes_planned"] == 0
    old = world.push(reassert_zero_hours=0)
    meta = metadata(old)
    assert meta["writes_by_reason"] == ({"reassert_zero": len(zeros)} if zeros else {})
    assert meta["writes_done"] == len(zeros)


def _reservation_tick(world: World, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    # As a context manager: the context's own hold on the instance ends with the tick.
    with dg.build_sensor_context(
        instance=world.instance,
        cursor=cursor,
        resources={"warehouse": world.harness.resources()["warehouse"]},
    ) as context:
        return stock_reservation_sensor(context)  # type: ignore[return-value]


def test_the_sensor_pushes_only_the_skus_a_new_order_touches(any_world: World) -> None:
    world = any_world
    assert world.push().success
    sku, keys = shared_sku(world)
    first = _reservation_tick(world, None)
    assert isinstance(first, dg.SensorResult) and not first.run_requests
    cursor = first.cursor
    quiet = _reservation_tick(world, cursor)
    assert isinstance(quiet, dg.SkipReason)

    order_id = world.sell(*keys[0])
    world.ingest(keys[0][0], [order_id])
    tick = _reservation_tick(world, cursor)
    assert isinstance(tick, dg.SensorResult)
    requests = list(tick.run_requests or [])
    assert len(requests) == 1
    request = requests[0]
    pushed_skus = request.run_config["ops"]["stock_pushes"]["config"]["skus"]
    assert sku in pushed_skus and len(pushed_skus) < len({s for s, _ in world.plan().values()})
    assert request.run_key

    # The run it asks for brings the other account down by the unit sold.
    before = world.published()[keys[1]]
    assert world.push(skus=pushed_skus).success
    assert world.published()[keys[1]] <= before
    assert_within_allocatable(world)
    # Next tick: nothing new (the overlap window remembers what it has seen).
    later = _reservation_tick(world, tick.cursor)
    assert isinstance(later, dg.SkipReason)
    assert json.loads(tick.cursor or "{}")["high_water"]
