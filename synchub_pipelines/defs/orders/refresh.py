"""Which orders' money and logistics to re-read now, within each marketplace's budget.

Fees and payouts arrive days after the sale, and shipments move after it: an order is
read once after it lands, then again at most every `reread_after` until the marketplace
has settled it and its shipments have arrived — or until it is older than the
marketplace's settlement period (`settlement_days`), after which nothing changes that a
reconciliation would not catch. Settled orders are never read again. Orders never read
come first, then the ones read longest ago; a run takes at most the client's
`facts_per_run`, so a long backlog spreads over runs instead of exhausting the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.models import OrderRef, OrderStatus
from synchub_pipelines.warehouse.schema import orders
from synchub_pipelines.warehouse.schema_orders import order_fact_reads, shipments

DEFAULT_SETTLEMENT_DAYS = 30
DEFAULT_FACTS_PER_RUN = 1000
# Not paid yet: nothing to settle and nothing to ship.
UNREAD_STATUSES = (OrderStatus.PENDING.value,)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _with_reads() -> sa.Join:
    reads = order_fact_reads
    return orders.outerjoin(
        reads, sa.and_(reads.c.store_id == orders.c.store_id, reads.c.order_id == orders.c.order_id)
    )


def orders_to_refresh(
    engine: Engine,
    store_id: str,
    now: datetime,
    settlement_days: int,
    reread_after: timedelta,
    limit: int,
) -> list[OrderRef]:
    reads = order_fact_reads
    settled = sa.and_(reads.c.fees_final, reads.c.shipments_final)
    due = sa.or_(
        reads.c.order_id.is_(None),
        sa.and_(
            sa.not_(settled),
            orders.c.created_at >= now - timedelta(days=settlement_days),
            reads.c.last_read_at <= now - reread_after,
        ),
    )
    query = (
        sa.select(
            orders.c.order_id,
            orders.c.created_at,
            orders.c.status,
            orders.c.raw_status,
            orders.c.currency,
            orders.c.items_amount,
            orders.c.total_amount,
            orders.c.shipping_paid_by_buyer,
            orders.c.fee_amount,
        )
        .select_from(
            orders.outerjoin(
                reads,
                sa.and_(
                    reads.c.store_id == orders.c.store_id, reads.c.order_id == orders.c.order_id
                ),
            )
        )
        .where(orders.c.store_id == store_id, orders.c.status.not_in(UNREAD_STATUSES), due)
        .order_by(reads.c.last_read_at.is_not(None), reads.c.last_read_at, orders.c.created_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        ids = [r.order_id for r in rows]
        known: dict[str, list[str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for order_id, shipment_id in conn.execute(
                sa.select(shipments.c.order_id, shipments.c.shipment_id)
                .where(shipments.c.store_id == store_id, shipments.c.order_id.in_(chunk))
                .order_by(shipments.c.shipment_id)
            ):
                known.setdefault(order_id, []).append(shipment_id)
    return [
        OrderRef(
            order_id=r.order_id,
            created_at=_utc(r.created_at),
            status=OrderStatus(r.status),
            raw_status=r.raw_status,
            currency=r.currency,
            items_amount=r.items_amount,
            total_amount=r.total_amount,
            shipping_paid_by_buyer=r.shipping_paid_by_buyer,
            fee_amount=r.fee_amount,
            shipment_ids=tuple(known.get(r.order_id, ())),
        )
        for r in rows
    ]


def refresh_backlog(engine: Engine, store_id: str, now: datetime, settlement_days: int) -> int:
    """Orders of the store still waiting for a first read or for their settlement."""
    reads = order_fact_reads
    query = (
        sa.select(sa.func.count())
        .select_from(
            orders.outerjoin(
                reads,
                sa.and_(
                    reads.c.store_id == orders.c.store_id, reads.c.order_id == orders.c.order_id
                ),
            )
        )
        .where(
            orders.c.store_id == store_id,
            orders.c.status.not_in(UNREAD_STATUSES),
            sa.or_(
                reads.c.order_id.is_(None),
                sa.and_(
                    sa.not_(sa.and_(reads.c.fees_final, reads.c.shipments_final)),
                    orders.c.created_at >= now - timedelta(days=settlement_days),
                ),
            ),
        )
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
