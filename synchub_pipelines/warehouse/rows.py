"""Canonical models → warehouse batches (the only place that knows both shapes)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from synchub_pipelines.models import (
    CentralProduct,
    CentralStock,
    Listing,
    ListingLink,
    Order,
    ProductComponent,
    Rejected,
    StockSnapshot,
    Store,
)
from synchub_pipelines.warehouse import schema
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
    products: Sequence[CentralProduct], components: Sequence[ProductComponent]
) -> tuple[Batch, Batch, Prune]:
    product_rows = _batch(
        schema.central_products,
        (
            (
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
            )
            for p in products
        ),
    )
    component_rows = _batch(
        schema.product_components,
        ((c.kit_sku, c.component_sku, c.quantity) for c in components),
    )
    # A kit whose composition changed loses the components it no longer has.
    prune = Prune(
        child=component_rows, parent=product_rows, parent_keys=("kit_sku",), parent_columns=("sku",)
    )
    return product_rows, component_rows, prune


def stock_batch(stock: Iterable[CentralStock]) -> Batch:
    return _batch(
        schema.central_stock, ((s.sku, s.warehouse, s.on_hand, s.updated_at) for s in stock)
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
                x.status,
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


def link_batch(links: Iterable[ListingLink]) -> Batch:
    return _batch(
        schema.listing_links,
        ((x.store_id, x.listing_id, x.variation_id, x.sku, x.method.value) for x in links),
    )


def order_batches(orders: Sequence[Order]) -> tuple[list[Batch], list[Prune]]:
    """Orders and their lines, plus the prune that drops lines an order no longer has."""
    order_rows = _batch(
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
                o.shipping_cost,
                o.fee_amount,
                o.total_amount,
                o.buyer_hash,
                o.buyer_city,
                o.buyer_state,
            )
            for o in orders
        ),
    )
    item_rows = _batch(
        schema.order_items,
        (
            (
                o.store_id,
                o.order_id,
                i.line_no,
                i.listing_id,
                i.variation_id,
                i.seller_sku,
                i.title,
                i.quantity,
                i.unit_price,
                i.fee,
            )
            for o in orders
            for i in o.items
        ),
    )
    prune = Prune(child=item_rows, parent=order_rows, parent_keys=("store_id", "order_id"))
    return [order_rows, item_rows], [prune]


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
