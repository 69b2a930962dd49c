"""The webhook receiver's event log (`webhook_events`) and, on PostgreSQL, its sequence.

`seq` carries no database default: on PostgreSQL the writer takes nextval() of
`webhook_events_seq`, on SQLite MAX(seq) + 1 inside the writing statement (see
synchub_pipelines.webhooks.store). A unique index guards both.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.CreateSequence(sa.Sequence("webhook_events_seq")))
    op.create_table(
        "webhook_events",
        sa.Column("event_key", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("store_id", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("resource_id", sa.Text),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("processed_at", TS),
        sa.CheckConstraint(
            "state IN ('pending', 'processing', 'processed', 'failed', 'quarantined')",
            name="ck_webhook_events_state",
        ),
    )
    op.create_index("ux_webhook_events_seq", "webhook_events", ["seq"], unique=True)
    op.create_index("ix_webhook_events_state_seq", "webhook_events", ["state", "seq"])
    op.create_index("ix_webhook_events_store_state", "webhook_events", ["store_id", "state"])


def downgrade() -> None:
    op.drop_table("webhook_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.DropSequence(sa.Sequence("webhook_events_seq")))
