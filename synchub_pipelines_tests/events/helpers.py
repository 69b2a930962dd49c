"""Events test helpers: stores connected to a loopback sandbox, and events as the receiver
would have stored them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.events.process import store_events_job
from synchub_pipelines.warehouse.schema import orders, webhook_events
from synchub_pipelines.webhooks.store import EventRow, insert_events
from synchub_pipelines.webhooks.verify import Notification


def ml_order_event(store_id: str, order_id: str, topic: str = "orders_v2") -> EventRow:
    """An accepted Mercado Livre notification, shaped as the receiver stores it."""
    user_id = store_id.removeprefix("mercadolivre-")
    event_id = uuid.uuid4().hex
    kind = "orders" if topic.startswith("orders") else topic
    resource = f"/{kind}/{order_id}"
    body = {"_id": event_id, "resource": resource, "user_id": int(user_id), "topic": topic}
    return EventRow(
        Notification(
            event_key=f"mercadolivre:{event_id}",
            marketplace="mercadolivre",
            store_id=store_id,
            topic=topic,
            resource_id=order_id,
            payload=json.dumps(body),
        ),
        received_at=datetime.now(UTC),
    )


def add_events(engine: Engine, rows: Sequence[EventRow]) -> None:
    inserted = insert_events(engine, rows)
    assert len(inserted) == len(rows)


def event_rows(engine: Engine) -> list[sa.RowMapping]:
    with engine.connect() as conn:
        return list(
            conn.execute(sa.select(webhook_events).order_by(webhook_events.c.seq)).mappings()
        )


def order_ids(engine: Engine, store_id: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                sa.select(orders.c.order_id).where(orders.c.store_id == store_id)
            ).scalars()
        )


def run_requests(result: Any) -> list[dg.RunRequest]:
    assert isinstance(result, dg.SensorResult), result
    return list(result.run_requests or [])


def op_config(request: dg.RunRequest) -> dict[str, Any]:
    return dict(request.run_config["ops"]["process_store_events"]["config"])


def execute(
    request: dg.RunRequest,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    **overrides: Any,
) -> dg.ExecuteInProcessResult:
    """Run what the sensor asked for, as the daemon would (same config and tags)."""
    config = {**op_config(request), **overrides}
    return store_events_job.execute_in_process(
        run_config={"ops": {"process_store_events": {"config": config}}},
        instance=instance,
        resources=resources,
        tags=request.tags,
        raise_on_error=False,
    )
