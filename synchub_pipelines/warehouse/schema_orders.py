"""Warehouse tables of the orders domain beyond `orders` and `order_items`.

- `order_fees`: every marketplace charge on an order under the API's own name, so that
  `orders.fee_amount` can always be explained (and re-split by type) in plain SQL.
- `shipments`: one row per store × shipment (package), linked to its order.
- `order_status_history`: the first instant each order reached each normalized status.
- `questions`: Mercado Livre buyers' questions, without text or buyer (LGPD).
- `order_fact_reads`: when the fees and shipments of each order were last re-read — the
  bookkeeping that keeps re-reads within each API's budget. Not for analysts.
"""

from __future__ import annotations

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import KEYS, Money, UtcTimestamp, metadata

order_fees = sa.Table(
    "order_fees",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("fee_type", sa.Text, primary_key=True, comment="the API's own name of the charge"),
    sa.Column("line_ref", sa.Text, primary_key=True, comment="'' = the whole order"),
    sa.Column("amount", Money, nullable=False, comment="charged to the seller; < 0 is a rebate"),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="One row per order × fee type (× line): the breakdown of orders.fee_amount.",
)
KEYS[order_fees.name] = ("store_id", "order_id", "fee_type", "line_ref")

shipments = sa.Table(
    "shipments",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("shipment_id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False),
    sa.Column(
        "status",
        sa.Text,
        nullable=False,
        comment="pending | ready_to_ship | shipped | delivered | not_delivered | returned | "
        "cancelled",
    ),
    sa.Column("raw_status", sa.Text, nullable=False),
    sa.Column("logistic_mode", sa.Text, comment="marketplace (its fulfilment) | seller"),
    sa.Column("logistic_type", sa.Text, comment="the marketplace's own word"),
    sa.Column("carrier", sa.Text),
    sa.Column("tracking_number", sa.Text),
    sa.Column("ship_by", UtcTimestamp, comment="handling deadline: ship before this"),
    sa.Column("shipped_at", UtcTimestamp),
    sa.Column("delivered_at", UtcTimestamp),
    sa.Column("buyer_city", sa.Text),
    sa.Column("buyer_state", sa.Text),
    sa.Column("updated_at", UtcTimestamp, comment="the API's last change of the shipment"),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    sa.Index("ix_shipments_store_order", "store_id", "order_id"),
    comment="One row per store × shipment (package), linked to its order.",
)
KEYS[shipments.name] = ("store_id", "shipment_id")

order_status_history = sa.Table(
    "order_status_history",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, primary_key=True, comment="normalized, as on orders.status"),
    sa.Column("raw_status", sa.Text, comment="the marketplace's word, when it gave one"),
    sa.Column("changed_at", UtcTimestamp, nullable=False),
    sa.Column(
        "source",
        sa.Text,
        nullable=False,
        comment="api (the API's own timestamp) | shipment | observed (first seen at)",
    ),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    sa.Index("ix_order_status_history_store_changed_at", "store_id", "changed_at"),
    comment="One row per order × status it reached, with when.",
)
KEYS[order_status_history.name] = ("store_id", "order_id", "status")

questions = sa.Table(
    "questions",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("question_id", sa.Text, primary_key=True),
    sa.Column("listing_id", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, comment="the API's own: ANSWERED, UNANSWERED…"),
    sa.Column("asked_at", UtcTimestamp, nullable=False),
    sa.Column("answered_at", UtcTimestamp),
    sa.Column("answer_length", sa.Integer, comment="characters in the answer"),
    sa.Column("answer_status", sa.Text),
    sa.Column("deleted_from_listing", sa.Boolean, nullable=False),
    sa.Column("hold", sa.Boolean, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    sa.Index("ix_questions_store_asked_at", "store_id", "asked_at"),
    comment="One row per buyer question (Mercado Livre); no text, no buyer.",
)
KEYS[questions.name] = ("store_id", "question_id")

order_fact_reads = sa.Table(
    "order_fact_reads",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("first_read_at", UtcTimestamp, nullable=False),
    sa.Column("last_read_at", UtcTimestamp, nullable=False),
    sa.Column("reads", sa.Integer, nullable=False),
    sa.Column("fees_final", sa.Boolean, nullable=False),
    sa.Column("shipments_final", sa.Boolean, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="When each order's fees and shipments were last re-read. Not for analysts.",
)
KEYS[order_fact_reads.name] = ("store_id", "order_id")
