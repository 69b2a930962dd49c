"""Which orders the API shows that the warehouse lacks or holds in an older state.

Polling and reconciliation read orders by update time over a window that overlaps what
was read before; comparing with the warehouse keeps them from rewriting (and reporting)
partitions nothing changed in, and tells reconciliation what it repaired.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.marketplaces.base import StoreClient, chunked
from synchub_pipelines.models import Order, Rejected
from synchub_pipelines.warehouse.schema import orders as orders_table

_IDS_PER_QUERY = 1000


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class OrderDiff:
    """The API's orders split by what the warehouse has."""

    missing: list[Order] = field(default_factory=list)
    stale: list[Order] = field(default_factory=list)
    current: int = 0
    warehouse_updated_at: dict[str, datetime] = field(default_factory=dict)

    @property
    def to_write(self) -> list[Order]:
        return self.missing + self.stale


def warehouse_updated_at(
    engine: Engine, store_id: str, order_ids: Iterable[str]
) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    with engine.connect() as conn:
        for chunk in chunked(sorted(set(order_ids)), _IDS_PER_QUERY):
            query = sa.select(orders_table.c.order_id, orders_table.c.updated_at).where(
                orders_table.c.store_id == store_id, orders_table.c.order_id.in_(chunk)
            )
            found.update((oid, _utc(at)) for oid, at in conn.execute(query))
    return found


def diff_orders(engine: Engine, store_id: str, api_orders: Sequence[Order]) -> OrderDiff:
    latest: dict[str, Order] = {}
    for order in api_orders:  # a window may list an order twice (it moved while paging)
        seen = latest.get(order.order_id)
        if seen is None or order.updated_at >= seen.updated_at:
            latest[order.order_id] = order
    known = warehouse_updated_at(engine, store_id, latest)
    diff = OrderDiff(warehouse_updated_at=known)
    for order_id, order in sorted(latest.items()):
        if order_id not in known:
            diff.missing.append(order)
        elif order.updated_at > known[order_id]:
            diff.stale.append(order)
        else:
            diff.current += 1
    return diff


def read_updated_orders(
    client: StoreClient, start: datetime, end: datetime
) -> tuple[list[Order], list[Rejected]]:
    """Every order the API says was updated in [start, end), with the malformed ones."""
    records: list[Order] = []
    rejects: list[Rejected] = []
    for page in client.iter_orders(start, end, by="updated"):
        records += page.records
        rejects += page.rejects
    return records, rejects
