"""Bling notifications become one catalog/stock refresh per tick, never one per event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import dagster as dg
import pytest

from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.events.bling import bling_events_sensor
from synchub_pipelines.defs.marketplaces import BlingResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.webhooks.store import EventRow
from synchub_pipelines.webhooks.verify import Notification
from synchub_pipelines_tests.events.helpers import add_events, event_rows, run_requests


def _bling_event(topic: str) -> EventRow:
    event_id = uuid.uuid4().hex
    body = {"eventId": event_id, "event": topic, "companyId": "c0ffee", "data": {"id": 1}}
    return EventRow(
        Notification(
            event_key=f"bling:{event_id}",
            marketplace="bling",
            store_id="bling-c0ffee",
            topic=topic,
            resource_id="1",
            payload=json.dumps(body),
        ),
        received_at=datetime.now(UTC),
    )


def _tick(url: str, source: str, cursor: str | None):  # type: ignore[no-untyped-def]
    resources = {
        "warehouse": WarehouseResource(url=url),
        "catalog": CatalogResource(source=source, file_path="", bling=BlingResource()),
    }
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context,
    ):
        return bling_events_sensor(context)


@pytest.mark.parametrize(
    ("topics", "assets"),
    [
        (["stock.updated"] * 30 + ["order.created"] * 20, ["central_stock"]),
        (["stock.updated", "product.updated"], ["central_products", "central_stock"]),
    ],
)
def test_a_tick_of_bling_events_is_one_refresh_run(
    sqlite_url: str, topics: list[str], assets: list[str]
) -> None:
    engine = engine_for(sqlite_url)
    migrate(engine)
    add_events(engine, [_bling_event(t) for t in topics])

    tick = _tick(sqlite_url, "bling", None)
    requests = run_requests(tick)
    assert len(requests) == 1
    assert [k.to_user_string() for k in requests[0].asset_selection or []] == assets
    assert {r["state"] for r in event_rows(engine)} == {"processed"}
    assert isinstance(_tick(sqlite_url, "bling", tick.cursor), dg.SkipReason)


def test_with_a_file_catalog_bling_events_are_settled_without_a_run(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    migrate(engine)
    add_events(engine, [_bling_event("stock.updated")])

    tick = _tick(sqlite_url, "file", None)
    assert run_requests(tick) == []
    assert [r["state"] for r in event_rows(engine)] == ["processed"]
