"""Deployment-wide API budgets and circuit breakers, shared by every process through the
warehouse's database. Not for analysts; an operator reads `circuit_breakers` to see which
marketplace is failing and since when."""

from __future__ import annotations

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import KEYS, UtcTimestamp, metadata

api_budgets = sa.Table(
    "api_budgets",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True, comment="e.g. mercadolivre:<app id>"),
    sa.Column("tokens", sa.Float, nullable=False, comment="requests left; < 0: a queue"),
    sa.Column("updated_at", sa.Float, nullable=False, comment="epoch seconds of the last change"),
    comment="One token bucket per API quota scope, shared by every process.",
)
KEYS[api_budgets.name] = ("scope",)

circuit_breakers = sa.Table(
    "circuit_breakers",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True, comment="marketplace[:endpoint family]"),
    sa.Column("state", sa.Text, nullable=False, comment="closed | open | half_open"),
    sa.Column("failures", sa.Integer, nullable=False, comment="consecutive failures"),
    sa.Column("opened_at", UtcTimestamp, comment="since when calls fail fast"),
    sa.Column("probe_at", UtcTimestamp, comment="when one call may test the API again"),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
    comment="Per marketplace (and endpoint family): whether calls go through.",
)
KEYS[circuit_breakers.name] = ("scope",)
