"""What a re-read of orders' money and logistics writes, and what shipments imply for orders.

A settlement is the marketplace's own verdict on an order's money, so it replaces the
settled columns of `orders` and the order's fee breakdown outright (the order pages only
ever fill what is still open). Shipments upsert like every other read of them. Then each
order whose shipments say more than its own status does is moved on — shipped once a
package left, delivered once every package arrived — and the instants go to the status
history, because several marketplaces' order status never says "shipped" or "delivered".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from synchub_pipelines.marketplaces.base import chunked
from synchub_pipelines.models import (
    STATUS_RANK,
    OrderFacts,
    OrderSettlement,
    OrderStatus,
    Shipment,
    ShipmentStatus,
    StatusEvent,
)
from synchub_pipelines.warehouse import schema, schema_orders, upsert
from synchub_pipelines.warehouse.rows import fee_rows, history_rows, shipment_rows
from synchub_pipelines.warehouse.schema import UtcTimestamp

# A shipment in one of these states will not change any more.
FINAL_SHIPMENT = frozenset(
    {ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.CANCELLED}
)
LEFT_THE_SELLER = ("shipped", "delivered", "not_delivered", "returned")
_IDS_PER_STATEMENT = 500


def shipment_events(shipments: Sequence[Shipment]) -> list[StatusEvent]:
    """The order's shipped instant (its first package out) and delivered instant (its last
    package in, once every live package is delivered)."""
    live = [s for s in shipments if s.status != ShipmentStatus.CANCELLED]
    events = []
    shipped = [s.shipped_at for s in live if s.shipped_at is not None]
    if shipped:
        events.append(StatusEvent(status=OrderStatus.SHIPPED, at=min(shipped)))
    delivered = [s.delivered_at for s in live if s.delivered_at is not None]
    if live and len(delivered) == len(live):
        events.append(StatusEvent(status=OrderStatus.DELIVERED, at=max(delivered)))
    return events


def shipments_history(shipments: Iterable[Shipment]) -> list[tuple[str, str, StatusEvent, str]]:
    by_order: dict[tuple[str, str], list[Shipment]] = defaultdict(list)
    for shipment in shipments:
        by_order[(shipment.store_id, shipment.order_id)].append(shipment)
    return [
        (store_id, order_id, event, "shipment")
        for (store_id, order_id), group in by_order.items()
        for event in shipment_events(group)
    ]


def _settlement_update(
    conn: Connection, settlements: Sequence[OrderSettlement], now: datetime
) -> int:
    orders = schema.orders
    columns = {
        "fee_amount": "fee_amount",
        "seller_shipping_cost": "seller_shipping_cost",
        "refund_amount": "refund_amount",
        "payout_amount": "payout_amount",
        "fees_final": "fees_final",
        "settled_at": "settled_at",
    }
    changed = sa.or_(*(orders.c[c].is_distinct_from(sa.bindparam(f"new_{c}")) for c in columns))
    statement = (
        orders.update()
        .where(
            orders.c.store_id == sa.bindparam("key_store_id"),
            orders.c.order_id == sa.bindparam("key_order_id"),
            changed,
        )
        .values(
            **{c: sa.bindparam(f"new_{c}") for c in columns},
            synced_at=sa.bindparam("new_synced_at"),
        )
    )
    rows = [
        {
            "key_store_id": s.store_id,
            "key_order_id": s.order_id,
            **{f"new_{c}": getattr(s, c) for c in columns},
            "new_synced_at": now,
        }
        for s in settlements
    ]
    if not rows:
        return 0
    return max(conn.execute(statement, rows).rowcount, 0)


def _line_fee_update(
    conn: Connection, settlements: Sequence[OrderSettlement], now: datetime
) -> int:
    """Fees the API attributes to a line (by the line's own id) land on that line."""
    per_line: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for s in settlements:
        for fee in s.fees:
            if fee.line_ref:
                per_line[(s.store_id, s.order_id, fee.line_ref)] += fee.amount
    if not per_line:
        return 0
    items = schema.order_items
    statement = (
        items.update()
        .where(
            items.c.store_id == sa.bindparam("key_store_id"),
            items.c.order_id == sa.bindparam("key_order_id"),
            items.c.line_ref == sa.bindparam("key_line_ref"),
            items.c.fee.is_distinct_from(sa.bindparam("new_fee")),
        )
        .values(fee=sa.bindparam("new_fee"), synced_at=sa.bindparam("new_synced_at"))
    )
    rows = [
        {
            "key_store_id": store_id,
            "key_order_id": order_id,
            "key_line_ref": line_ref,
            "new_fee": amount,
            "new_synced_at": now,
        }
        for (store_id, order_id, line_ref), amount in per_line.items()
    ]
    return max(conn.execute(statement, rows).rowcount, 0)


def _promote_from_events(conn: Connection, facts: Sequence[OrderFacts], now: datetime) -> int:
    """An order moves on to the furthest status its re-read says it reached (a refund
    posted in the finances makes it returned), never back."""
    furthest: dict[tuple[str, str], str] = {}
    for f in facts:
        for event in f.status_events:
            key = (f.store_id, f.order_id)
            seen = furthest.get(key)
            if seen is None or STATUS_RANK[event.status.value] > STATUS_RANK[seen]:
                furthest[key] = event.status.value
    if not furthest:
        return 0
    whens = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in STATUS_RANK.items())
    statement = sa.text(
        "UPDATE orders SET status = :status, synced_at = :now "
        "WHERE store_id = :store_id AND order_id = :order_id "
        f"AND (CASE status {whens} ELSE 0 END) < (CASE :status {whens} ELSE 0 END)"
    ).bindparams(sa.bindparam("now", type_=UtcTimestamp))
    rows = [
        {"store_id": store_id, "order_id": order_id, "status": status, "now": now}
        for (store_id, order_id), status in furthest.items()
    ]
    return max(conn.execute(statement, rows).rowcount, 0)


def _drop_stale_fees(conn: Connection, settlements: Sequence[OrderSettlement]) -> int:
    """Fee lines a settled order no longer lists (an adjustment reversed) go away."""
    fees = schema_orders.order_fees
    wanted = {
        (s.store_id, s.order_id, fee.fee_type, fee.line_ref or "")
        for s in settlements
        for fee in s.fees
    }
    by_store: dict[str, list[str]] = defaultdict(list)
    for s in settlements:
        by_store[s.store_id].append(s.order_id)
    dropped = 0
    for store_id, order_ids in by_store.items():
        for chunk in chunked(sorted(set(order_ids)), _IDS_PER_STATEMENT):
            stored = conn.execute(
                sa.select(fees.c.store_id, fees.c.order_id, fees.c.fee_type, fees.c.line_ref).where(
                    fees.c.store_id == store_id, fees.c.order_id.in_(chunk)
                )
            ).all()
            for key in stored:
                if tuple(key) not in wanted:
                    dropped += conn.execute(
                        sa.delete(fees).where(
                            fees.c.store_id == key[0],
                            fees.c.order_id == key[1],
                            fees.c.fee_type == key[2],
                            fees.c.line_ref == key[3],
                        )
                    ).rowcount
    return dropped


def _read_rows(
    facts: Sequence[OrderFacts], read_at: datetime, never_ship: Collection[str]
) -> upsert.Batch:
    batch = upsert.Batch.for_table(schema_orders.order_fact_reads)
    for f in facts:
        settled = f.settlement is not None and f.settlement.fees_final
        shipped = f.order_id in never_ship or (
            bool(f.shipments) and all(s.status in FINAL_SHIPMENT for s in f.shipments)
        )
        batch.rows.append((f.store_id, f.order_id, read_at, read_at, 1, settled, shipped))
    batch.preserve = ("first_read_at",)
    batch.merge = {"reads": "{old}.reads + 1"}
    return batch


def promote_from_shipments(
    conn: Connection, store_id: str, order_ids: Iterable[str], now: datetime
) -> int:
    """Orders whose shipments went further than their own status: shipped once a package
    left the seller, delivered once every live package arrived. Never moves one back."""
    moved = 0
    for chunk in chunked(sorted(set(order_ids)), _IDS_PER_STATEMENT):
        params = {"store_id": store_id, "ids": chunk, "now": now}
        shipment_of = (
            "FROM shipments sh WHERE sh.store_id = orders.store_id "
            "AND sh.order_id = orders.order_id"
        )
        delivered = sa.text(
            "UPDATE orders SET status = 'delivered', synced_at = :now "
            "WHERE store_id = :store_id AND order_id IN :ids AND status IN ('paid', 'shipped') "
            f"AND EXISTS (SELECT 1 {shipment_of} AND sh.status = 'delivered') "
            f"AND NOT EXISTS (SELECT 1 {shipment_of} "
            "AND sh.status NOT IN ('delivered', 'cancelled'))"
        ).bindparams(sa.bindparam("ids", expanding=True), sa.bindparam("now", type_=UtcTimestamp))
        shipped = sa.text(
            "UPDATE orders SET status = 'shipped', synced_at = :now "
            "WHERE store_id = :store_id AND order_id IN :ids AND status = 'paid' "
            f"AND EXISTS (SELECT 1 {shipment_of} AND sh.status IN "
            f"({', '.join(repr(s) for s in LEFT_THE_SELLER)}))"
        ).bindparams(sa.bindparam("ids", expanding=True), sa.bindparam("now", type_=UtcTimestamp))
        # Buyer city and state: Mercado Livre's order has none, its shipment has them.
        place = sa.text(
            "UPDATE orders SET "
            "buyer_city = COALESCE(buyer_city, (SELECT MAX(sh.buyer_city) "
            f"{shipment_of})), "
            "buyer_state = COALESCE(buyer_state, (SELECT MAX(sh.buyer_state) "
            f"{shipment_of})), synced_at = :now "
            "WHERE store_id = :store_id AND order_id IN :ids "
            "AND (buyer_city IS NULL OR buyer_state IS NULL) "
            f"AND EXISTS (SELECT 1 {shipment_of} AND (sh.buyer_city IS NOT NULL "
            "OR sh.buyer_state IS NOT NULL))"
        ).bindparams(sa.bindparam("ids", expanding=True), sa.bindparam("now", type_=UtcTimestamp))
        # A move whose instant no package states (Amazon says DELIVERED, not when) is
        # recorded as first seen now.
        seen = sa.text(
            "INSERT INTO order_status_history "
            "(store_id, order_id, status, raw_status, changed_at, source, synced_at) "
            "SELECT o.store_id, o.order_id, o.status, NULL, :now, 'observed', :now "
            "FROM orders o WHERE o.store_id = :store_id AND o.order_id IN :ids "
            "AND o.status IN ('shipped', 'delivered') AND NOT EXISTS "
            "(SELECT 1 FROM order_status_history h WHERE h.store_id = o.store_id "
            "AND h.order_id = o.order_id AND h.status = o.status)"
        ).bindparams(sa.bindparam("ids", expanding=True), sa.bindparam("now", type_=UtcTimestamp))
        for statement in (delivered, shipped):
            moved += max(conn.execute(statement, params).rowcount, 0)
        conn.execute(seen, params)
        conn.execute(place, params)
    return moved


def write_shipments(
    conn: Connection, shipments: Sequence[Shipment], now: datetime
) -> dict[str, int]:
    """Shipments (from any read) with the order statuses and history they imply."""
    if not shipments:
        return {}
    changed = upsert.write(
        conn, [shipment_rows(shipments), history_rows(shipments_history(shipments))], now=now
    )
    by_store: dict[str, set[str]] = defaultdict(set)
    for s in shipments:
        by_store[s.store_id].add(s.order_id)
    moved = sum(promote_from_shipments(conn, store, ids, now) for store, ids in by_store.items())
    changed["orders"] = changed.get("orders", 0) + moved
    return changed


def write_order_facts(
    target: Engine | Connection,
    facts: Sequence[OrderFacts],
    read_at: datetime,
    never_ship: Collection[str] = (),
) -> dict[str, int]:
    """Settlements, fee breakdowns, line fees, shipments and status instants of re-read
    orders, and when each was read — in one transaction; rows changed per table.
    `never_ship` names orders that will have no shipment to wait for (cancelled ones)."""
    if isinstance(target, Engine):
        with target.begin() as conn:
            return write_order_facts(conn, facts, read_at, never_ship)
    conn = target
    settlements = [f.settlement for f in facts if f.settlement is not None]
    fees = fee_rows((s.store_id, s.order_id, s.currency, s.fees) for s in settlements)
    fees.only_if = None  # the settlement is the marketplace's verdict: it always applies
    history = history_rows(
        (f.store_id, f.order_id, e, "api") for f in facts for e in f.status_events
    )
    changed = upsert.write(
        conn, [fees, history, _read_rows(facts, read_at, never_ship)], now=read_at
    )
    dropped = _drop_stale_fees(conn, settlements)
    changed["order_fees"] = changed.get("order_fees", 0) + dropped
    changed["orders"] = _settlement_update(conn, settlements, read_at)
    changed["orders"] += _promote_from_events(conn, facts, read_at)
    changed["order_items"] = _line_fee_update(conn, settlements, read_at)
    shipments = [s for f in facts for s in f.shipments]
    for table, count in write_shipments(conn, shipments, read_at).items():
        changed[table] = changed.get(table, 0) + count
    return changed
