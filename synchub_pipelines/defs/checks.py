"""Asset checks for the basics every analyst relies on."""

from __future__ import annotations

import dagster as dg

from synchub_pipelines.defs.quality import no_rows_check, unique_key_check
from synchub_pipelines.warehouse.schema import KEYS

# The asset that writes each keyed table: its unique-key check hangs on that asset.
TABLE_ASSET: dict[str, str] = {
    "stores": "stores",
    "categories": "internal_categories",
    "central_products": "central_products",
    "product_components": "central_products",
    "central_stock": "central_stock",
    "listings": "listings",
    "listing_links": "listing_links",
    "orders": "orders",
    "order_items": "order_items",
    "order_status_history": "orders",
    "order_fees": "order_fees",
    "shipments": "shipments",
    "questions": "questions",
    "stock_snapshots": "stock_snapshots",
    "allocatable_stock": "allocatable_stock",
    "allocatable_stock_history": "allocatable_stock",
    "stock_push_plan": "stock_push_plan",
    "stock_listing_state": "stock_pushes",
    "stock_pushes": "stock_pushes",
    "marketplace_categories": "marketplace_categories",
    "marketplace_required_attributes": "marketplace_required_attributes",
    "category_mappings": "category_mappings",
    "bling_category_links": "bling_category_sync",
    "category_sync_log": "bling_category_sync",
    "product_attributes_normalized": "product_attributes_normalized",
    "product_marketplace_attributes": "listing_readiness",
    "listing_readiness": "listing_readiness",
    "reconciliation_runs": "order_reconciliation",
    "reconciliation_repairs": "order_reconciliation",
    "scrape_targets": "scrape_targets",
    "scraped_pages": "scraped_pages",
    "competitor_offers": "competitor_offers",
    "offer_matches": "offer_matches",
    "enrichment_suggestions": "enrichment_suggestions",
    "price_positions": "price_positions",
    "publication_plan": "publication_plan",
    "published_listings": "listing_publications",
    "listing_publications": "listing_publications",
    "price_plan": "price_plan",
    "price_state": "price_pushes",
    "price_pushes": "price_pushes",
    # The merchant's inputs (ERP, Bling, files) are checked where they are read.
    "fulfilment_updates": "fulfilment_pushes",
    "fulfilment_pushes": "fulfilment_pushes",
    "question_answers": "answer_pushes",
    "answer_pushes": "answer_pushes",
    "bling_catalog_writes": "bling_catalog_writeback",
}
# Keyed tables no asset owns: the pipeline's own bookkeeping, written by sensors, the
# receiver and the refresh (their keys are primary keys all the same).
BOOKKEEPING_TABLES = frozenset(
    {
        "store_credentials",
        "webhook_events",
        "ingest_errors",
        "order_poll_cursors",
        "order_fact_reads",
        "alerts",
        "api_budgets",
        "circuit_breakers",
    }
)

checks: list[dg.AssetChecksDefinition] = [
    *(unique_key_check(TABLE_ASSET[table], table, KEYS[table]) for table in sorted(TABLE_ASSET)),
    no_rows_check(
        "central_products",
        "kit_components_known",
        "SELECT c.kit_sku, c.component_sku FROM product_components c "
        "LEFT JOIN central_products p ON p.tenant = c.tenant AND p.sku = c.component_sku "
        "WHERE p.sku IS NULL",
        "Every kit component is a SKU of the catalog.",
    ),
    no_rows_check(
        "orders",
        "orders_have_items",
        "SELECT o.store_id, o.order_id FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM order_items i WHERE i.store_id = o.store_id AND i.order_id = o.order_id)",
        "Every order has at least one line.",
    ),
    no_rows_check(
        "order_items",
        "order_items_listing_known",
        "SELECT i.store_id, i.order_id, i.listing_id, i.variation_id FROM order_items i "
        "LEFT JOIN listings l ON l.store_id = i.store_id AND l.listing_id = i.listing_id "
        "AND l.variation_id = i.variation_id WHERE l.listing_id IS NULL",
        "Every order line points at a listing the warehouse knows (else listings are stale: "
        "re-materialize `listings` for that store).",
        severity=dg.AssetCheckSeverity.WARN,
    ),
    no_rows_check(
        "listing_links",
        "listing_links_no_orphans",
        "SELECT k.store_id, k.listing_id, k.variation_id, k.sku FROM listing_links k "
        "LEFT JOIN listings l ON l.store_id = k.store_id AND l.listing_id = k.listing_id "
        "AND l.variation_id = k.variation_id "
        "LEFT JOIN central_products p ON p.tenant = k.tenant AND p.sku = k.sku "
        "WHERE l.listing_id IS NULL OR p.sku IS NULL",
        "Every link joins an existing listing to an existing SKU.",
    ),
]
