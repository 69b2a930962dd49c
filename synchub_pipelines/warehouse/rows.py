"""Canonical models → warehouse batches (the only place that knows both shapes).

The canonical models know no tenant (a product is a product, whoever sells it): the
catalog's batches take the tenant they belong to, and a link the tenant of its store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from synchub_pipelines.models import (
    SHIPMENT_RANK,
    STATUS_RANK,
    CentralProduct,
    CentralStock,
    FeeLine,
    Listing,
    ListingLink,
    Order,
    ProductComponent,
    Question,
    Rejected,
    Shipment,
    StatusEvent,
    StockSnapshot,
    Store,
)
from synchub_pipelines.warehouse import schema, schema_orders
from synchub_pipelines.warehouse.schema import DEFAULT_TENANT
from synchub_pipelines.warehouse.upsert import Batch, Prune


def _batch(table: schema.sa.Table, rows: Iterable[tuple[object, ...]]) -> Batch:
    batch = Batch.for_table(table)
    batch.rows.extend(rows)
    return batch


def store_batch(stores: Iterable[Store], connected_at: datetime) -> Batch:
    return _batch(
        schema.stores,
        (
            (
                s.store_id,
                s.marketplace.value,
                s.seller_id,
                s.name,
                s.tenant,
                s.timezone,
                "active",
                connected_at,
            )
            for s in stores
        ),
    )


def product_batches(
    products: Sequence[CentralProduct],
    components: Sequence[ProductComponent],
    tenant: str = DEFAULT_TENANT,
) -> tuple[Batch, Batch, Prune]:
    product_rows = _batch(
        schema.central_products,
        (
            (
                tenant,
                p.sku,
                p.parent_sku,
                p.name,
                p.brand,
                p.category,
                p.color,
                p.size,
                p.gtin,
                p.price,
                p.cost,
                p.currency,
                p.weight_g,
                p.is_kit,
                p.source,
                p.description,
                "|".join(p.images) or None,
                p.status,
            )
            for p in products
        ),
    )
    component_rows = _batch(
        schema.product_components,
        ((tenant, c.kit_sku, c.component_sku, c.quantity) for c in components),
    )
    # A kit whose composition changed loses the components it no longer has.
    prune = Prune(
        child=component_rows,
        parent=product_rows,
        parent_keys=("tenant", "kit_sku"),
        parent_columns=("tenant", "sku"),
    )
    return product_rows, component_rows, prune


def stock_batch(stock: Iterable[CentralStock], tenant: str = DEFAULT_TENANT) -> Batch:
    return _batch(
        schema.central_stock,
        ((tenant, s.sku, s.warehouse, s.on_hand, s.updated_at) for s in stock),
    )


def listing_batch(listings: Iterable[Listing]) -> Batch:
    return _batch(
        schema.listings,
        (
            (
                x.store_id,
                x.listing_id,
                x.variation_id,
                x.title,
                x.seller_sku,
                x.gtin,
                x.status.value,
                x.raw_status,
                x.status_reason,
                x.price,
                x.currency,
                x.available_quantity,
                x.category_id,
                x.permalink,
                x.updated_at,
            )
            for x in listings
        ),
    )


def link_batch(
    links: Iterable[ListingLink], tenants: Mapping[str, str] | str = DEFAULT_TENANT
) -> Batch:
    """`tenants`: each store's tenant (store id → tenant), or the one tenant of every link."""

    def tenant_of(store_id: str) -> str:
        if isinstance(tenants, str):
            return tenants
        return tenants.get(store_id, DEFAULT_TENANT)

    return _batch(
        schema.listing_links,
        (
            (
                x.store_id,
                x.listing_id,
                x.variation_id,
                tenant_of(x.store_id),
                x.sku,
                x.method.value,
            )
            for x in links
        ),
    )


def _rank(column: str, ranks: dict[str, int] = STATUS_RANK) -> str:
    whens = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in ranks.items())
    return f"(CASE {column} {whens} ELSE 0 END)"


def _never_back(ranks: dict[str, int]) -> dict[str, str]:
    """`status` keeps the stored value when the incoming one is earlier in the life; the
    raw status follows whichever status is kept."""
    back = f"{_rank('{old}.status', ranks)} > {_rank('{new}.status', ranks)}"
    return {
        "status": f"CASE WHEN {back} THEN {{old}}.status ELSE {{new}}.status END",
        "raw_status": f"CASE WHEN {back} THEN {{old}}.raw_status ELSE {{new}}.raw_status END",
    }


def _keep_unknown(columns: Iterable[str]) -> dict[str, str]:
    """An incoming NULL means "this read does not say": the stored value stays."""
    return {c: f"COALESCE({{new}}.{c}, {{old}}.{c})" for c in columns}


# Money the marketplace settles after the sale. A settled order keeps it (a later order read
# is never more final than the settlement), and an unknown never erases a known amount.
SETTLED_COLUMNS = (
    "fee_amount",
    "seller_shipping_cost",
    "refund_amount",
    "payout_amount",
    "fees_final",
    "settled_at",
)
_ORDER_MERGE: dict[str, str] = {
    # An order never moves back in its life (a stale read must not undo a delivery).
    "status": _never_back(STATUS_RANK)["status"],
    **_keep_unknown(
        (
            "discount_amount",
            "seller_discount_amount",
            "marketplace_discount_amount",
            "shipping_paid_by_buyer",
            "tax_amount",
            "buyer_city",
            "buyer_state",
        )
    ),
    **{
        c: (
            f"CASE WHEN {{old}}.fees_final THEN {{old}}.{c} "
            f"ELSE COALESCE({{new}}.{c}, {{old}}.{c}) END"
        )
        for c in SETTLED_COLUMNS
    },
}
NOT_SETTLED = (
    "NOT EXISTS (SELECT 1 FROM orders s WHERE s.store_id = {row}.store_id "
    "AND s.order_id = {row}.order_id AND s.fees_final)"
)


def order_rows(orders: Sequence[Order]) -> Batch:
    batch = _batch(
        schema.orders,
        (
            (
                o.store_id,
                o.order_id,
                o.status.value,
                o.raw_status,
                o.created_at,
                o.updated_at,
                o.business_date,
                o.currency,
                o.items_amount,
                o.discount_amount,
                o.seller_discount_amount,
                o.marketplace_discount_amount,
                o.shipping_paid_by_buyer,
                o.tax_amount,
                o.total_amount,
                o.fee_amount,
                o.seller_shipping_cost,
                o.refund_amount,
                o.payout_amount,
                o.fees_final,
                o.settled_at,
                o.buyer_hash,
                o.buyer_city,
                o.buyer_state,
            )
            for o in orders
        ),
    )
    batch.merge = dict(_ORDER_MERGE)
    batch.insert_defaults = {"fees_final": "false"}
    return batch


def fee_rows(owners: Iterable[tuple[str, str, str, Sequence[FeeLine]]]) -> Batch:
    """The fee breakdown of (store, order, currency, lines); an order's lines replace the
    ones it had (see `fee_prune`). Orders already settled are left as they are."""
    batch = _batch(
        schema_orders.order_fees,
        (
            (store_id, order_id, fee.fee_type, fee.line_ref or "", fee.amount, currency)
            for store_id, order_id, currency, fees in owners
            for fee in _merged_fees(fees)
        ),
    )
    batch.only_if = NOT_SETTLED
    return batch


def _merged_fees(fees: Sequence[FeeLine]) -> list[FeeLine]:
    """One line per (type, line): an API that lists a type twice (two adjustments) sums."""
    merged: dict[tuple[str, str], FeeLine] = {}
    for fee in fees:
        key = (fee.fee_type, fee.line_ref or "")
        seen = merged.get(key)
        merged[key] = (
            fee if seen is None else seen.model_copy(update={"amount": seen.amount + fee.amount})
        )
    return list(merged.values())


def fee_prune(fees: Batch) -> Prune:
    return Prune(child=fees, parent=fees, parent_keys=("store_id", "order_id"))


def shipment_rows(shipments: Iterable[Shipment]) -> Batch:
    """Shipments from any read (order page, shipment API, notification): each says what it
    knows, and what it does not know never erases what another read stored."""
    batch = _batch(
        schema_orders.shipments,
        (
            (
                x.store_id,
                x.shipment_id,
                x.order_id,
                x.status.value,
                x.raw_status,
                x.logistic_mode.value if x.logistic_mode else None,
                x.logistic_type,
                x.carrier,
                x.tracking_number,
                x.ship_by,
                x.shipped_at,
                x.delivered_at,
                x.buyer_city,
                x.buyer_state,
                x.updated_at,
            )
            for x in shipments
        ),
    )
    batch.merge = {
        **_keep_unknown(
            c for c in batch.columns if c not in batch.keys and c not in {"status", "raw_status"}
        ),
        **_never_back(SHIPMENT_RANK),
    }
    return batch


def history_rows(
    rows: Iterable[tuple[str, str, StatusEvent, str]],
) -> Batch:
    """(store, order, event, source) → the first instant each order reached each status.
    An observed instant gives way to the API's own timestamp when one arrives later."""
    batch = _batch(
        schema_orders.order_status_history,
        (
            (store_id, order_id, e.status.value, e.raw_status, e.at, source)
            for store_id, order_id, e, source in rows
        ),
    )
    upgrade = "{old}.source = 'observed' AND {new}.source <> 'observed'"
    batch.merge = {
        "changed_at": f"CASE WHEN {upgrade} THEN {{new}}.changed_at ELSE {{old}}.changed_at END",
        "source": f"CASE WHEN {upgrade} THEN {{new}}.source ELSE {{old}}.source END",
        "raw_status": "COALESCE({old}.raw_status, {new}.raw_status)",
    }
    return batch


def order_history(order: Order) -> list[tuple[str, str, StatusEvent, str]]:
    """The API's timestamps of the order's statuses, and its current status as observed
    (at the order's last update) when the API gives no timestamp for it."""
    rows = [(order.store_id, order.order_id, e, "api") for e in order.status_events]
    if all(e.status != order.status for e in order.status_events):
        current = StatusEvent(status=order.status, at=order.updated_at, raw_status=order.raw_status)
        rows.append((order.store_id, order.order_id, current, "observed"))
    return rows


def order_batches(orders: Sequence[Order]) -> tuple[list[Batch], list[Prune]]:
    """Orders with their lines, fee breakdown and status history, plus the prunes that drop
    lines (and fee lines) an order no longer has. Their shipments are written apart
    (`order_facts.write_shipments`): shipments move order statuses on."""
    order_batch = order_rows(orders)
    item_rows = _batch(
        schema.order_items,
        (
            (
                o.store_id,
                o.order_id,
                i.line_no,
                i.line_ref,
                i.listing_id,
                i.variation_id,
                i.seller_sku,
                i.title,
                i.quantity,
                i.unit_price,
                i.line_amount,
                i.discount_amount,
                i.tax_amount,
                i.fee,
            )
            for o in orders
            for i in o.items
        ),
    )
    item_rows.merge = _keep_unknown(("discount_amount", "tax_amount", "fee"))
    fees = fee_rows((o.store_id, o.order_id, o.currency, o.fees) for o in orders if o.fees)
    history = history_rows(row for o in orders for row in order_history(o))
    # The fee lines go first: whether an order was settled is read before this write.
    batches = [fees, order_batch, item_rows, history]
    prunes = [
        Prune(child=item_rows, parent=order_batch, parent_keys=("store_id", "order_id")),
        fee_prune(fees),
    ]
    return batches, prunes


def question_batch(questions: Iterable[Question]) -> Batch:
    return _batch(
        schema_orders.questions,
        (
            (
                q.store_id,
                q.question_id,
                q.listing_id,
                q.status,
                q.asked_at,
                q.answered_at,
                q.answer_length,
                q.answer_status,
                q.deleted_from_listing,
                q.hold,
            )
            for q in questions
        ),
    )


def snapshot_batch(snapshots: Iterable[StockSnapshot]) -> Batch:
    return _batch(
        schema.stock_snapshots,
        (
            (
                s.store_id,
                s.listing_id,
                s.variation_id,
                s.snapshot_at,
                s.seller_sku,
                s.available_quantity,
            )
            for s in snapshots
        ),
    )


def reject_batch(rejects: Iterable[Rejected], seen_at: datetime) -> Batch:
    batch = _batch(
        schema.ingest_errors,
        ((r.source, r.store_id or "", r.record_key, r.reason, r.payload, seen_at) for r in rejects),
    )
    batch.preserve = ("first_seen_at",)
    return batch
