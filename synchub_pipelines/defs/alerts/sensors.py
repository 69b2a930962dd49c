"""Operators are told when something fails: run failures and failing checks become alerts.

Both are run status sensors (Dagster keeps their cursors over finished runs, whatever the
instance's storage): `run_failure_alerts` alerts on every failed run, and
`check_failure_alerts` reads the asset check evaluations of every finished run and alerts
on the failing ones at or above the configured severity (a failed run's checks too). Each
alert is recorded in the warehouse (`alerts`, once per failure) and sent to the configured
destinations, secrets removed.
"""

from datetime import UTC, datetime

import dagster as dg

from synchub_pipelines.defs.alerts.delivery import deliver
from synchub_pipelines.defs.alerts.destinations import Alert, AlertsResource
from synchub_pipelines.defs.alerts.redaction import redact
from synchub_pipelines.defs.resources import WarehouseResource


@dg.run_failure_sensor(
    name="run_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every failed run becomes an alert: recorded in `alerts`, sent to the "
    "configured webhook or Slack channel.",
)
def run_failure_alerts(
    context: dg.RunFailureSensorContext, warehouse: WarehouseResource, alerts: AlertsResource
) -> None:
    run = context.dagster_run
    failure = context.failure_event
    message = failure.message if failure and failure.message else "the run failed"
    alert = Alert(
        alert_id=f"run:{run.run_id}",
        kind="run_failure",
        severity="error",
        subject=run.job_name,
        message=redact(message)[:2000],
        occurred_at=datetime.now(UTC),
        run_id=run.run_id,
    )
    state = deliver(warehouse.engine(), alert, alerts.destinations())
    for check in failing_checks(context.instance, run.run_id):
        if alerts.wants(check.severity):
            deliver(warehouse.engine(), check, alerts.destinations())
    context.log.info(f"alert for run {run.run_id} of {run.job_name}: {state}")


def failing_checks(instance: dg.DagsterInstance, run_id: str) -> list[Alert]:
    """The run's failing check evaluations, as alerts."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        event = entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
            continue
        severity = "error" if evaluation.severity == dg.AssetCheckSeverity.ERROR else "warn"
        details = []
        for name in ("offending_rows", "sample"):
            value = evaluation.metadata.get(name)
            if value is not None:
                details.append(f"{name}={str(value.value)[:500]}")
        text = f"check {evaluation.check_name} failed" + (
            f" ({'; '.join(details)})" if details else ""
        )
        subject = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        partition = f":{evaluation.partition}" if evaluation.partition else ""
        found.append(
            Alert(
                alert_id=f"check:{run_id}:{subject}{partition}",
                kind="check_failed",
                severity=severity,
                subject=subject,
                message=redact(text)[:2000],
                occurred_at=datetime.fromtimestamp(entry.timestamp, UTC),
                run_id=run_id,
            )
        )
    return found


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="check_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Failing asset checks (warnings and errors) of every finished run become "
    "alerts, once each.",
)
def check_failure_alerts(
    context: dg.RunStatusSensorContext, warehouse: WarehouseResource, alerts: AlertsResource
) -> None:
    sent = 0
    for alert in failing_checks(context.instance, context.dagster_run.run_id):
        if alerts.wants(alert.severity):
            deliver(warehouse.engine(), alert, alerts.destinations())
            sent += 1
    context.log.info(f"{sent} failing check(s) alerted for run {context.dagster_run.run_id}")
