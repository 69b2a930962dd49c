"""The `alerts` table: every run failure and failing check an operator was (or should have
been) told about, with what happened to the message. Written by the alert sensors."""

from __future__ import annotations

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import KEYS, UtcTimestamp, metadata

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", sa.Text, primary_key=True, comment="run:<run id> | check:<event id>"),
    sa.Column("kind", sa.Text, nullable=False, comment="run_failure | check_failed"),
    sa.Column("severity", sa.Text, nullable=False, comment="error | warn"),
    sa.Column("subject", sa.Text, nullable=False, comment="the job, or asset:check"),
    sa.Column("run_id", sa.Text),
    sa.Column("message", sa.Text, nullable=False, comment="what failed, secrets removed"),
    sa.Column("occurred_at", UtcTimestamp, nullable=False),
    sa.Column("destination", sa.Text, comment="webhook | slack | none"),
    sa.Column("delivery", sa.Text, nullable=False, comment="sent | failed | no_destination"),
    sa.Column("delivery_error", sa.Text),
    sa.Column("sent_at", UtcTimestamp),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    sa.Index("ix_alerts_occurred_at", "occurred_at"),
    comment="One row per run failure or failing check, with its delivery.",
)
KEYS[alerts.name] = ("alert_id",)
