"""Asset checks for the basics every analyst relies on."""

from __future__ import annotations

import dagster as dg

from synchub_pipelines.defs.quality import no_rows_check, unique_key_check

checks: list[dg.AssetChecksDefinition] = [
    unique_key_check("central_products", "central_products", ("sku",)),
    unique_key_check("listings", "listings", ("store_id", "listing_id", "variation_id")),
    unique_key_check("orders", "orders", ("store_id", "order_id")),
    unique_key_check("order_items", "order_items", ("store_id", "order_id", "line_no")),
    no_rows_check(
        "central_products",
        "kit_components_known",
        "SELECT c.kit_sku, c.component_sku FROM product_components c "
        "LEFT JOIN central_products p ON p.sku = c.component_sku WHERE p.sku IS NULL",
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
        "AND l.variation_id = k.variation_id LEFT JOIN central_products p ON p.sku = k.sku "
        "WHERE l.listing_id IS NULL OR p.sku IS NULL",
        "Every link joins an existing listing to an existing SKU.",
    ),
]
