"""The data dictionary's entries of the publishing domain (schema_publishing.py).

Kept beside `dictionary_tables.py`, which appends them to its `TABLES`; written with its
helpers and shared words.
"""

from __future__ import annotations

from synchub_pipelines.warehouse.dictionary_tables import (
    COUNT,
    PUBLISHING,
    RUN_ID,
    SKU,
    STORE_ID,
    SYNCED_AT,
    TENANT_OF_STORE,
    VARIATION_ID,
    ColumnDoc,
    TableDoc,
    c,
)

MONEY_BRL = "BRL"
SHARE = "share (0.2 = 20%)"

ACTION = (
    "`create` (a new listing), `update` (title, description, attributes, pictures), `pause` "
    "(inactive in the catalog), `close` (discontinued), `activate` (on sale again)."
)
STATUS = (
    "`planned` (dry run: nothing sent), `written` (accepted), `refused` (the marketplace or a "
    "rule refused the content: see code and message), `failed` (transport, auth or rate "
    "limit: retried by the next run) or `skipped` (nothing sent, the message says why)."
)
DRY_RUN = "True when only planned (nothing was sent)."
CODE = "The refusal's code: the marketplace's own, or `below_floor` / `damage_limit`."
MESSAGE = "The marketplace's answer or refusal message (or why the write was skipped)."
ATTEMPT = c(COUNT, "The step's retry number (0 first).")
SELLER_SKU = (
    "The listing's SKU on the marketplace: the parent SKU for a listing with variations, "
    "else the product's SKU."
)
LISTING = "The marketplace's listing id (Mercado Livre item, Shopee item_id, TikTok product id, "
LISTING += "Amazon seller SKU)."

PUBLISHING_TABLES: tuple[TableDoc, ...] = (
    TableDoc(
        "publication_plan",
        PUBLISHING,
        "operators",
        "one row per store × listing SKU × listing × action the catalog asks for",
        "The listing writes the catalog asks for now, per store: what the publish step "
        "would do. Rows held back by the damage limit say so in `reason` (the blocking "
        "check `publication_within_limits` fails on them).",
        {
            "store_id": ColumnDoc(STORE_ID),
            "seller_sku": ColumnDoc(SELLER_SKU),
            "listing_id": ColumnDoc(LISTING + " '' for a create."),
            "action": ColumnDoc(ACTION),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "marketplace": ColumnDoc("The store's marketplace."),
            "skus": ColumnDoc("JSON list of the central SKUs the listing sells."),
            "category_id": ColumnDoc("The marketplace's leaf category (Amazon: product type)."),
            "content_hash": ColumnDoc(
                "Hash of the content an update writes (title, description, category, "
                "attributes, pictures, variations' axes), never price or stock."
            ),
            "request": ColumnDoc("JSON summary of the write (no secrets)."),
            "reason": ColumnDoc("Why the write is planned (`HELD BACK: …` when refused)."),
            "planned_at": ColumnDoc("When the plan was made."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "published_listings",
        PUBLISHING,
        "operators",
        "one row per store × listing we published or adopted",
        "What we last published on each listing: its content hash (an update is due when "
        "the catalog's differs) and its state. A listing linked before publishing existed is "
        "adopted: its first hash is a baseline, never a write.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "listing_id": ColumnDoc(LISTING),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "seller_sku": ColumnDoc(SELLER_SKU),
            "content_hash": ColumnDoc("The content hash last written (or adopted)."),
            "state": ColumnDoc("`active`, `paused` or `closed`, as we last set it."),
            "origin": ColumnDoc(
                "`published` (we wrote to it) or `adopted` (found linked, never written)."
            ),
            "written_at": ColumnDoc("When we last wrote (or adopted) it."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "listing_publications",
        PUBLISHING,
        "operators",
        "one row per run × attempt × store × listing SKU × listing × action",
        "The audit of every listing write to a marketplace (and of every dry-run plan): the "
        "request, the marketplace's answer or refusal, the listing written.",
        {
            "run_id": ColumnDoc(RUN_ID),
            "attempt": ATTEMPT,
            "store_id": ColumnDoc(STORE_ID),
            "seller_sku": ColumnDoc(SELLER_SKU),
            "listing_id": ColumnDoc(LISTING + " '' for a create."),
            "action": ColumnDoc(ACTION),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "marketplace": ColumnDoc("The store's marketplace."),
            "dry_run": ColumnDoc(DRY_RUN),
            "request": ColumnDoc("JSON summary of what was (to be) sent; no secrets."),
            "status": ColumnDoc(STATUS),
            "code": ColumnDoc(CODE),
            "message": ColumnDoc(MESSAGE),
            "result_listing_id": ColumnDoc("The listing written (for a create, the new one)."),
            "at": ColumnDoc("When it was written (or planned)."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "price_plan",
        PUBLISHING,
        "operators",
        "one row per linked listing variation of a store with price rules",
        "The price each listing variation should have under its store's price rule "
        "(SYNCHUB_PRICE_RULES_FILE), with its floor and the change from now; the blocking "
        "check `prices_within_rules` fails on a price below its floor or a change beyond the "
        "damage limit.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "listing_id": ColumnDoc(LISTING),
            "variation_id": ColumnDoc(VARIATION_ID),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "sku": ColumnDoc(SKU),
            "marketplace": ColumnDoc("The store's marketplace."),
            "currency": ColumnDoc("ISO 4217 code of every amount in the row, e.g. BRL."),
            "cost": ColumnDoc("The SKU's unit cost in the catalog."),
            "fee_rate": c(SHARE, "The marketplace's fees as a share of the price."),
            "fee_rate_source": ColumnDoc(
                "Where the fee rate comes from: `store (n settled orders)`, `marketplace (n "
                "settled orders)`, `default` or `rule`."
            ),
            "rule": ColumnDoc("The rule applied, in words (markup or margin, promotion…)."),
            "current_price": ColumnDoc("The listing's price as we know it; NULL when unknown."),
            "target_price": ColumnDoc("The price the rule gives."),
            "floor_price": ColumnDoc("cost / (1 − fee rate − minimum margin): never below."),
            "change_share": c(SHARE, "(target − current) / current."),
            "max_change_share": c(SHARE, "The damage limit: the largest change allowed per run."),
            "forced": ColumnDoc("True when planned with force (the damage limit waived)."),
            "planned_at": ColumnDoc("When the figures last changed."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "price_state",
        PUBLISHING,
        "internal",
        "one row per listing variation we set a price on",
        "The price we last wrote on each listing variation, so a re-run writes nothing until "
        "the listings sync sees a different price.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "listing_id": ColumnDoc(LISTING),
            "variation_id": ColumnDoc(VARIATION_ID),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "price": c(MONEY_BRL, "The price written."),
            "written_at": ColumnDoc("When it was written."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "price_pushes",
        PUBLISHING,
        "operators",
        "one row per run × attempt × listing variation priced (or planned)",
        "The audit of every price write to a marketplace, of every dry-run plan, and of "
        "every price a rule refused.",
        {
            "run_id": ColumnDoc(RUN_ID),
            "attempt": ATTEMPT,
            "store_id": ColumnDoc(STORE_ID),
            "listing_id": ColumnDoc(LISTING),
            "variation_id": ColumnDoc(VARIATION_ID),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "sku": ColumnDoc(SKU),
            "marketplace": ColumnDoc("The store's marketplace."),
            "dry_run": ColumnDoc(DRY_RUN),
            "price_before": c(MONEY_BRL, "The price as known before; NULL when unknown."),
            "price_after": c(MONEY_BRL, "The price written (or to be)."),
            "rule": ColumnDoc("The rule applied, in words."),
            "status": ColumnDoc(STATUS),
            "code": ColumnDoc(CODE),
            "message": ColumnDoc(MESSAGE),
            "at": ColumnDoc("When it was written (or planned)."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "fulfilment_updates",
        PUBLISHING,
        "operators",
        "one row per store × order the merchant's side has an invoice or tracking for",
        "The merchant's invoices (NF-e) and trackings to send, filled by its ERP or loaded "
        "from SYNCHUB_FULFILMENT_FILE (`source` says which).",
        {
            "store_id": ColumnDoc(STORE_ID),
            "order_id": ColumnDoc("The marketplace's order id, as in `orders`."),
            "invoice_key": ColumnDoc("The NF-e's 44-digit access key."),
            "invoice_number": ColumnDoc("The NF-e's number."),
            "invoice_series": ColumnDoc("The NF-e's series."),
            "invoice_issued_at": ColumnDoc("When the NF-e was issued."),
            "invoice_amount": c(MONEY_BRL, "The NF-e's total."),
            "invoice_xml_path": ColumnDoc(
                "Path of the authorized NF-e XML (Amazon takes the document itself)."
            ),
            "carrier": ColumnDoc("The carrier's name."),
            "tracking_number": ColumnDoc("The carrier's tracking number."),
            "tracking_url": ColumnDoc("Where the buyer follows the parcel."),
            "source": ColumnDoc("`file` (SYNCHUB_FULFILMENT_FILE) or `erp`."),
            "updated_at": ColumnDoc("When the merchant's side last changed it."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "fulfilment_pushes",
        PUBLISHING,
        "operators",
        "one row per run × attempt × order × kind (invoice or tracking)",
        "The audit of every invoice and tracking write to a marketplace (and of every dry-run "
        "plan); a refusal is kept on its order.",
        {
            "run_id": ColumnDoc(RUN_ID),
            "attempt": ATTEMPT,
            "store_id": ColumnDoc(STORE_ID),
            "order_id": ColumnDoc("The marketplace's order id."),
            "kind": ColumnDoc("`invoice` or `tracking`."),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "marketplace": ColumnDoc("The store's marketplace."),
            "dry_run": ColumnDoc(DRY_RUN),
            "request": ColumnDoc("JSON of what was (to be) sent (no XML, only whether any)."),
            "status": ColumnDoc(STATUS),
            "code": ColumnDoc(CODE),
            "message": ColumnDoc(MESSAGE),
            "at": ColumnDoc("When it was written (or planned)."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "question_answers",
        PUBLISHING,
        "operators",
        "one row per store × question the merchant wrote an answer for",
        "The merchant's answers to buyers' questions, by question id (templates by keyword "
        "live in SYNCHUB_ANSWERS_FILE).",
        {
            "store_id": ColumnDoc(STORE_ID),
            "question_id": ColumnDoc("The marketplace's question id, as in `questions`."),
            "text": ColumnDoc("The answer to post."),
            "source": ColumnDoc("Who wrote the row: `file` or `table`."),
            "updated_at": ColumnDoc("When the answer was last changed."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "answer_pushes",
        PUBLISHING,
        "operators",
        "one row per run × attempt × question answered (or planned)",
        "The audit of every answer posted to a buyer's question (and of every dry-run plan).",
        {
            "run_id": ColumnDoc(RUN_ID),
            "attempt": ATTEMPT,
            "store_id": ColumnDoc(STORE_ID),
            "question_id": ColumnDoc("The marketplace's question id."),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "listing_id": ColumnDoc(LISTING),
            "dry_run": ColumnDoc(DRY_RUN),
            "rule": ColumnDoc("`question` (an answer for it) or `template:<name>`."),
            "answer": ColumnDoc("The seller's answer (no buyer text is kept)."),
            "status": ColumnDoc(STATUS),
            "code": ColumnDoc(CODE),
            "message": ColumnDoc(MESSAGE),
            "at": ColumnDoc("When it was posted (or planned)."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
)
