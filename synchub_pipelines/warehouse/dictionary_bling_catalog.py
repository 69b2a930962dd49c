"""The data dictionary's entry of the Bling catalog write-back (schema_bling_catalog.py).

Kept beside `dictionary_tables.py`, which appends it to its `TABLES`; written with its
helpers and shared words.
"""

from __future__ import annotations

from synchub_pipelines.warehouse.dictionary_tables import (
    IDENTIFIER,
    PUBLISHING,
    RUN_ID,
    SKU,
    SYNCED_AT,
    TENANT_KEY,
    ColumnDoc,
    TableDoc,
    c,
)

BLING_CATALOG_TABLES: tuple[TableDoc, ...] = (
    TableDoc(
        "bling_catalog_writes",
        PUBLISHING,
        "operators",
        "one row per run × tenant × SKU × store ('' for the product itself)",
        "Every write of the central catalog back to Bling (and every dry-run plan): a "
        "product's normalized category, brand and attributes (Bling custom fields), and its "
        "link to each store it is listed in (produtos/lojas, with the listing id and price). "
        "Only what differs from Bling is written, so a run that finds Bling right adds no row.",
        {
            "run_id": ColumnDoc(RUN_ID),
            "tenant": ColumnDoc(TENANT_KEY),
            "sku": ColumnDoc(
                SKU + " For a category write to a product with variations, the parent SKU."
            ),
            "store_id": ColumnDoc(
                "The store the product is linked to (link writes); '' for a product write."
            ),
            "action": ColumnDoc(
                "`update_product` (category, brand and custom fields, PATCH), `create_link` "
                "or `update_link` (the product's code and price in a store)."
            ),
            "bling_product_id": c(IDENTIFIER, "Bling's id of the product written."),
            "loja_id": c(
                IDENTIFIER,
                "Bling's id of the store (loja), from SYNCHUB_BLING_LOJAS; NULL for a product "
                "write.",
            ),
            "listing_id": ColumnDoc(
                "The marketplace listing the link points to; NULL for a product write."
            ),
            "dry_run": ColumnDoc("True when only planned (nothing was sent)."),
            "before": ColumnDoc(
                "JSON of what Bling held before: category id, brand and custom values, or the "
                "link's code and price."
            ),
            "request": ColumnDoc("JSON of the body sent (or that would be sent)."),
            "status": ColumnDoc(
                "`planned` (dry run: nothing sent), `written` (accepted), `refused` (Bling "
                "refused the content: see code and message), `failed` (transport, auth or rate "
                "limit: the next run tries again) or `skipped` (not sent, the message says why)."
            ),
            "code": ColumnDoc("Bling's error type, e.g. `VALIDATION_ERROR`."),
            "message": ColumnDoc(
                "Bling's refusal with the fields it names, or why the write was skipped."
            ),
            "result_id": c(IDENTIFIER, "The link id Bling gave a created link."),
            "at": ColumnDoc("When the write was made (or planned)."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
)
