"""Record an alert once, then send it to every destination, noting what became of it.

The row is written before anything is sent: a sensor tick that dies half-way leaves the
alert recorded (and not marked sent), and the next evaluation of the same failure finds
it and only sends what was not sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.alerts.destinations import Alert, Destination
from synchub_pipelines.defs.alerts.redaction import redact
from synchub_pipelines.warehouse.schema_alerts import alerts as alerts_table


def deliver(engine: Engine, alert: Alert, destinations: list[Destination]) -> str:
    """The alert's delivery state after this call: sent, failed or no_destination."""
    t = alerts_table
    now = datetime.now(UTC)
    with engine.begin() as conn:
        stored = conn.execute(
            sa.select(t.c.delivery).where(t.c.alert_id == alert.alert_id)
        ).scalar()
        if stored == "sent":
            return "sent"
        if stored is None:
            conn.execute(
                t.insert().values(
                    alert_id=alert.alert_id,
                    kind=alert.kind,
                    severity=alert.severity,
                    subject=alert.subject,
                    run_id=alert.run_id,
                    message=alert.message,
                    occurred_at=alert.occurred_at,
                    destination=",".join(d.name for d in destinations) or "none",
                    delivery="pending" if destinations else "no_destination",
                    synced_at=now,
                )
            )
    if not destinations:
        return "no_destination"
    errors = []
    for destination in destinations:
        try:
            destination.send(alert)
        except Exception as exc:
            errors.append(f"{destination.name}: {redact(str(exc))[:300]}")
    delivery = "failed" if errors else "sent"
    with engine.begin() as conn:
        conn.execute(
            t.update()
            .where(t.c.alert_id == alert.alert_id)
            .values(
                delivery=delivery,
                delivery_error="; ".join(errors) or None,
                sent_at=None if errors else datetime.now(UTC),
                synced_at=datetime.now(UTC),
            )
        )
    return delivery
