"""Run failures and failing checks reach an operator: recorded in `alerts` and posted to a
webhook (a real HTTP server on loopback), once each, with no secret in them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from synchub_pipelines.defs.alerts.destinations import AlertsResource
from synchub_pipelines.defs.alerts.redaction import redact
from synchub_pipelines.defs.alerts.sensors import check_failure_alerts, run_failure_alerts
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.schema_alerts import alerts as alerts_table

SECRET = "s3cr3t-app-key-0123456789"


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def resources(
    warehouse_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    monkeypatch.setenv("SYNCHUB_TIKTOK_APP_SECRET", SECRET)
    return {
        "warehouse": WarehouseResource(url=warehouse_url),
        "alerts": AlertsResource(webhook_url=receiver.url),
    }


@dg.op
def call_marketplace() -> None:
    raise RuntimeError(
        f"tiktok refused the signature {SECRET} for https://user:hunter22@db.internal/x"
        "?access_token=abcdef123456"
    )


@dg.job
def failing_job() -> None:
    call_marketplace()


@dg.asset
def shelf() -> None:
    return None


@dg.asset_check(asset=shelf)
def shelf_is_full() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"offending_rows": 3},
    )


def stored(warehouse_url: str) -> list[dict[str, Any]]:
    with engine_for(warehouse_url).connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(alerts_table)).mappings()]


def test_a_failed_run_is_recorded_and_posted_once_without_secrets(
    resources: dict[str, Any], receiver: Receiver, warehouse_url: str
) -> None:
    with dg.instance_for_test() as instance:
        result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(
            e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE
        )
        for _ in range(2):  # the daemon may evaluate the same failure twice
            with dg.build_run_status_sensor_context(
                sensor_name="run_failure_alerts",
                dagster_instance=instance,
                dagster_run=run,
                dagster_event=failure,
                resources=resources,
            ) as context:
                run_failure_alerts(context.for_run_failure())

    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert (body["kind"], body["severity"], body["subject"]) == (
        "run_failure",
        "error",
        "failing_job",
    )
    text = json.dumps(body)
    assert SECRET not in text and "hunter22" not in text and "abcdef123456" not in text
    rows = stored(warehouse_url)
    assert len(rows) == 1 and rows[0]["delivery"] == "sent"
    assert SECRET not in rows[0]["message"]


def test_a_failing_check_alerts_with_its_severity(
    resources: dict[str, Any], receiver: Receiver, warehouse_url: str
) -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize([shelf, shelf_is_full], instance=instance)
        run = instance.get_run_by_id(result.run_id)
        success = next(
            e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS
        )
        for _ in range(2):  # evaluated twice: sent once
            with dg.build_run_status_sensor_context(
                sensor_name="check_failure_alerts",
                dagster_instance=instance,
                dagster_run=run,
                dagster_event=success,
                resources=resources,
            ) as context:
                check_failure_alerts(context)
    assert [(b["kind"], b["severity"], b["subject"]) for b in receiver.bodies] == [
        ("check_failed", "warn", "shelf:shelf_is_full")
    ]
    assert "offending_rows=3" in receiver.bodies[0]["message"]
    assert [r["delivery"] for r in stored(warehouse_url)] == ["sent"]


def test_errors_only_and_no_destination(warehouse_url: str) -> None:
    assert not AlertsResource(min_severity="error").wants("warn")
    assert AlertsResource(min_severity="error").wants("error")
    assert AlertsResource().destinations() == []


def test_redaction_masks_secret_settings_and_secret_shapes() -> None:
    env = {"SYNCHUB_SHOPEE_PARTNER_KEY": "partner-key-xyz", "PATH": "/usr/bin:/bin"}
    text = redact(
        "key partner-key-xyz, Authorization: Bearer eyJhbGciOi.x.y, "
        '{"refresh_token": "TG-123456"} postgresql://app:pw0rd@host/db',
        env,
    )
    assert "partner-key-xyz" not in text and "eyJhbGciOi" not in text
    assert "TG-123456" not in text and "pw0rd" not in text
