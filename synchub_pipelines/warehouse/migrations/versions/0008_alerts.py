"""Alerts: run failures and failing checks, with their delivery (schema_alerts).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("destination", sa.Text),
        sa.Column("delivery", sa.Text, nullable=False),
        sa.Column("delivery_error", sa.Text),
        sa.Column("sent_at", TS),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_index("ix_alerts_occurred_at", "alerts", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("alerts")
