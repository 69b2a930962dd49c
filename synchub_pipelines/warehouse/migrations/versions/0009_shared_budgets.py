"""Deployment-wide API budgets and circuit breakers (schema_budgets).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_budgets",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "circuit_breakers",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("opened_at", TS),
        sa.Column("probe_at", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("circuit_breakers")
    op.drop_table("api_budgets")
