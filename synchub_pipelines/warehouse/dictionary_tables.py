"""The data dictionary's text: what every warehouse table and column means, for an analyst.

This is the one place a description is written. `dictionary.py` applies it — as the
SQLAlchemy tables' comments, `COMMENT ON` in PostgreSQL, column schemas on the Dagster
assets — and renders docs/dictionary.md from it; a test fails when a column of
`schema.metadata` has no entry here, or an entry names a column that does not exist.

How to write an entry:

- A column is a plain string when its unit follows from its type: money (NUMERIC(14,2))
  is in the row's `currency`, `*_at` timestamps are UTC instants, dates are local dates.
  Anything else that is a number says its unit with `c(unit, text)` (units, count, hours…);
  a test insists on it.
- Say what the value means and how it is computed where that is not obvious, with the
  marketplace's own words where they help. Money wording follows docs/orders.md.
- A table says its grain in words; its key comes from the table itself (`schema.KEYS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Audience = Literal["analysts", "operators", "internal"]


@dataclass(frozen=True)
class ColumnDoc:
    description: str
    unit: str | None = None


@dataclass(frozen=True)
class TableDoc:
    name: str
    domain: str
    audience: Audience
    grain: str
    description: str
    columns: dict[str, ColumnDoc] = field(default_factory=dict)


def c(unit: str, description: str) -> ColumnDoc:
    """A column whose unit its type does not say (a count, units, seconds…)."""
    return ColumnDoc(description, unit)


UNITS = "units (items)"
COUNT = "count"
IDENTIFIER = "identifier"

# Words several tables share, written once.
SYNCED_AT = (
    "When the row's content last changed (not when it was last seen): a re-run that finds "
    "nothing new leaves it as it was."
)
STORE_ID = (
    "The store (connected marketplace account), `<marketplace>-<seller id>`, e.g. "
    "`mercadolivre-241551001`; joins `stores`."
)
TENANT_KEY = (
    "The merchant (tenant) the row belongs to, first in the key: a SKU means something only "
    "inside its tenant. `default` unless SYNCHUB_TENANTS_FILE defines tenants."
)
TENANT_OF_STORE = (
    "The merchant (tenant) of the listing's store (`stores.tenant`); `sku` is a SKU of this "
    "tenant's catalog."
)
SKU = (
    "The central SKU (the merchant's own product code, variation-level), as in `central_products`."
)
LISTING_ID = (
    "The marketplace's listing id: Mercado Livre item id (MLB…), Shopee item_id, TikTok "
    "product id, Amazon seller SKU."
)
VARIATION_ID = (
    "The listing's variation: Mercado Livre variation id, Shopee model_id, TikTok SKU id; "
    "'' when the listing has no variations (always '' on Amazon)."
)
MARKETPLACE = "The marketplace: `mercadolivre`, `shopee`, `tiktok` or `amazon`."
CURRENCY = "ISO 4217 code of every amount in the row, e.g. BRL."
RAW_STATUS = "The marketplace's own status word, kept beside the normalized `status`."
INTERNAL_CATEGORY = (
    "The internal tree's category id (SYNCHUB_CATEGORY_TREE_FILE), e.g. `moda.camisetas`."
)
RUN_ID = "The Dagster run that wrote the row."
SITE = "The competitor site, as named in the targets file (SYNCHUB_SCRAPE_TARGETS)."

CORE = "Stores and catalog"
LISTINGS = "Listings"
ORDERS = "Orders"
STOCK = "Stock"
NORMALIZATION = "Categories and attributes"
EVENTS = "Event sync and reconciliation"
OPERATIONS = "Operations"
ENRICHMENT = "Competitor prices and enrichment"

PUBLISHING = "Publishing"

DOMAINS = (
    CORE,
    LISTINGS,
    ORDERS,
    STOCK,
    PUBLISHING,
    NORMALIZATION,
    EVENTS,
    ENRICHMENT,
    OPERATIONS,
)

TABLES: tuple[TableDoc, ...] = (
    # --- stores and catalog -----------------------------------------------------------------
    TableDoc(
        "stores",
        CORE,
        "analysts",
        "one row per connected marketplace account",
        "Every marketplace account the hub is connected to (a store), with its merchant and "
        "time zone. Join a marketplace table to it on `store_id` for the marketplace or the "
        "tenant.",
        {
            "store_id": ColumnDoc(
                "The store's id, `<marketplace>-<seller id>`, e.g. `mercadolivre-241551001`; "
                "every marketplace table carries it."
            ),
            "marketplace": ColumnDoc(MARKETPLACE),
            "seller_id": ColumnDoc(
                "The account's id on the marketplace: Mercado Livre user id, Shopee shop_id, "
                "TikTok shop id, Amazon selling partner id."
            ),
            "name": ColumnDoc("The account's name on the marketplace (shop or seller nickname)."),
            "tenant": ColumnDoc(
                "The merchant the store belongs to (`default` unless SYNCHUB_TENANTS_FILE "
                "defines others): its listings link to that tenant's SKUs, and its sales and "
                "reservations count against that tenant's stock."
            ),
            "timezone": ColumnDoc(
                "The store's IANA time zone (default America/Sao_Paulo): its business dates "
                "(`business_date`, marts' `*_date`, `week_start`) are local dates in it."
            ),
            "status": ColumnDoc(
                "`active`, the only value the pipeline writes; schedules and sensors work on "
                "active stores only."
            ),
            "connected_at": ColumnDoc(
                "When the account was first connected (kept on reconnection)."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "store_credentials",
        CORE,
        "internal",
        "one row per store (and per Bling account, `bling-<account>`)",
        "OAuth tokens per store, encrypted at rest with Fernet (SYNCHUB_SECRET_KEY). Not for "
        "analysts: nothing here is readable without the key, and nothing belongs in a report.",
        {
            "store_id": ColumnDoc(
                "The store the tokens open (`<marketplace>-<seller id>`), or `bling-<account>` "
                "for a Bling account."
            ),
            "access_token_enc": ColumnDoc("The access token, Fernet-encrypted."),
            "refresh_token_enc": ColumnDoc(
                "The refresh token, Fernet-encrypted; NULL when the marketplace issues none."
            ),
            "access_expires_at": ColumnDoc("When the access token expires (refreshed before it)."),
            "refresh_expires_at": ColumnDoc(
                "When the refresh token expires (the account must be connected again after it); "
                "NULL when the marketplace does not say."
            ),
            "extra_enc": ColumnDoc(
                "Marketplace-specific connection details (JSON), Fernet-encrypted; NULL when none."
            ),
            "updated_at": ColumnDoc("When the tokens were last written (connection or refresh)."),
        },
    ),
    TableDoc(
        "central_products",
        CORE,
        "analysts",
        "one row per tenant × SKU, variation-level SKUs included",
        "The central catalog: every product (SKU) of each merchant, from its catalog source — "
        "the catalog file or Bling. Listings link to these SKUs; stock and sales are counted "
        "per SKU.",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "sku": ColumnDoc(
                "The merchant's product code, unique within the tenant (variation-level: one "
                "SKU per colour × size)."
            ),
            "parent_sku": ColumnDoc(
                "The SKU of the product this variation belongs to (the parent groups colours "
                "and sizes); NULL for a product without variations."
            ),
            "name": ColumnDoc("The product's name in the catalog."),
            "brand": ColumnDoc(
                "The brand, as the catalog gives it (normalized in "
                "`product_attributes_normalized`)."
            ),
            "category": ColumnDoc(
                "The product's category as the catalog gives it: a path of the internal tree "
                "(`Moda > Camisetas`) or its id."
            ),
            "color": ColumnDoc("The colour, as the catalog gives it."),
            "size": ColumnDoc("The size, as the catalog gives it."),
            "gtin": ColumnDoc("The GTIN/EAN barcode, as the catalog gives it."),
            "price": ColumnDoc(
                "The merchant's list price in the catalog (marketplace prices are on `listings`)."
            ),
            "cost": ColumnDoc("The merchant's unit cost (Bling: the supplier's cost price)."),
            "currency": ColumnDoc(CURRENCY),
            "weight_g": c(
                "grams",
                "The item's own weight (Bling: net weight, else gross weight).",
            ),
            "is_kit": ColumnDoc(
                "True when the SKU is a kit of other SKUs (`product_components`): its stock "
                "comes from its components."
            ),
            "source": ColumnDoc("Where the row came from: `catalog_file` or `bling`."),
            "description": ColumnDoc(
                "The product's description for its listings (catalog file `description`)."
            ),
            "images": ColumnDoc(
                "The product's picture URLs (https), `|` separated, in order (catalog file "
                "`images`)."
            ),
            "status": ColumnDoc(
                "`active` (on sale), `inactive` (its listings are paused) or `discontinued` "
                "(its listings are closed); catalog file `status`, blank is active."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "product_components",
        CORE,
        "analysts",
        "one row per tenant × kit × component SKU",
        "Kit compositions: how many of each component SKU one kit uses.",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "kit_sku": ColumnDoc("The kit's SKU (`central_products.is_kit`)."),
            "component_sku": ColumnDoc("A SKU the kit contains."),
            "quantity": c(UNITS, "Units of the component in one kit."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "central_stock",
        CORE,
        "analysts",
        "one row per tenant × SKU × warehouse",
        "Physical stock on hand per SKU and warehouse, from the catalog source (the catalog "
        "file's `on_hand`, or Bling's physical balance per deposit).",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "sku": ColumnDoc(SKU),
            "warehouse": ColumnDoc(
                "The warehouse: the catalog file's `warehouse` (default `principal`), or the "
                "Bling deposit id (`total` when Bling gives no deposit)."
            ),
            "on_hand": c(UNITS, "Units physically on hand in the warehouse."),
            "updated_at": ColumnDoc(
                "As of when the source stated the quantity (when it was read)."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "categories",
        NORMALIZATION,
        "analysts",
        "one row per tenant × category (of either tree)",
        "Each tenant's category trees: the internal tree (SYNCHUB_CATEGORY_TREE_FILE, the same "
        "for every tenant, `source = 'internal'`) and its catalog source's (Bling's, "
        "`source = 'bling'`).",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "category_id": ColumnDoc(
                "The source's id: the internal tree's id (e.g. `moda.camisetas`), or "
                "`bling:<Bling's id>`."
            ),
            "name": ColumnDoc("The category's own name, e.g. `Camisetas`."),
            "parent_id": ColumnDoc(
                "The parent's `category_id` in the same tree; NULL at the root."
            ),
            "path": ColumnDoc("Names from the root, joined by ' > ', e.g. `Moda > Camisetas`."),
            "source": ColumnDoc("Which tree: `internal` or `bling`."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    # --- listings --------------------------------------------------------------------------
    TableDoc(
        "listings",
        LISTINGS,
        "analysts",
        "one row per store × listing × variation",
        "What each store offers on its marketplace: every listing variation with its status "
        "(the marketplace's verdict, normalized), price and published quantity.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "listing_id": ColumnDoc(LISTING_ID),
            "variation_id": ColumnDoc(VARIATION_ID),
            "title": ColumnDoc("The listing's title on the marketplace."),
            "seller_sku": ColumnDoc(
                "The SKU the seller typed on the marketplace, as given (matched to "
                "`central_products.sku` in `listing_links`)."
            ),
            "gtin": ColumnDoc("The GTIN/EAN the marketplace has for the variation."),
            "status": ColumnDoc(
                "The marketplace's verdict, normalized: `active`, `paused` (by the seller, or "
                "out of stock), `under_review`, `suppressed` (blocked by the marketplace), "
                "`closed` (ended, deleted, or no longer listed: a complete sync did not "
                "return it), `draft` (docs/orders.md, Listing status). No stock is pushed "
                "to a closed listing."
            ),
            "raw_status": ColumnDoc(RAW_STATUS),
            "status_reason": ColumnDoc(
                "Why it is not active, in the marketplace's words (sub-status, violation, "
                "audit reasons, issues); `no longer listed by the marketplace` when a "
                "complete sync did not return it; NULL when active or when none is given."
            ),
            "price": ColumnDoc("The price the listing asks."),
            "currency": ColumnDoc(CURRENCY),
            "available_quantity": c(UNITS, "The quantity the listing publishes (on offer)."),
            "category_id": ColumnDoc("The marketplace's category id of the listing."),
            "permalink": ColumnDoc("The listing's public URL."),
            "updated_at": ColumnDoc("The marketplace's last change of the listing, when it says."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "listing_links",
        LISTINGS,
        "analysts",
        "one row per listing variation (store × listing × variation)",
        "Each listing variation bound to exactly one central SKU, with how it matched. A "
        "listing variation without a row here is unlinked: its sales and stock are not "
        "attributed to a SKU.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "listing_id": ColumnDoc(LISTING_ID),
            "variation_id": ColumnDoc(VARIATION_ID),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "sku": ColumnDoc("The central SKU the variation sells: a SKU of the store's tenant."),
            "method": ColumnDoc(
                "How it matched: `seller_sku` (the seller's SKU is a catalog SKU), `gtin` "
                "(same barcode) or `manual` (`synchub link`, wins over matching)."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "stock_snapshots",
        STOCK,
        "analysts",
        "one row per store × listing × variation × snapshot instant",
        "The quantity each listing variation published at each snapshot (hourly per store): "
        "the history behind stock-outs and days of cover.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "listing_id": ColumnDoc(LISTING_ID),
            "variation_id": ColumnDoc(VARIATION_ID),
            "snapshot_at": ColumnDoc(
                "When the snapshot was taken: one instant, to the second, for the whole store."
            ),
            "seller_sku": ColumnDoc("The SKU the seller typed on the marketplace, as given."),
            "available_quantity": c(
                UNITS, "The quantity the listing published then (0 when the API gave none)."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    # --- orders ----------------------------------------------------------------------------
    TableDoc(
        "orders",
        ORDERS,
        "analysts",
        "one row per store × order",
        "Every order of every store, with status and money that mean the same on every "
        "marketplace (docs/orders.md). Amounts are non-negative magnitudes in `currency` "
        "unless said otherwise; a fee-side amount is NULL until the marketplace states it. "
        "A sale is an order with status paid, shipped, delivered or returned.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "order_id": ColumnDoc("The marketplace's order id."),
            "status": ColumnDoc(
                "Normalized status, the same on every marketplace: `pending` (placed, not "
                "paid), `paid` (not yet handed to a carrier), `shipped`, `delivered`, "
                "`cancelled` (will not ship), `returned` (delivered, then sent back or "
                "refunded). Never moves back (docs/orders.md)."
            ),
            "raw_status": ColumnDoc(RAW_STATUS),
            "created_at": ColumnDoc("When the buyer placed the order, as the API states it."),
            "updated_at": ColumnDoc("The marketplace's last change of the order."),
            "business_date": ColumnDoc(
                "The local date of creation in the store's time zone: the day the sale counts "
                "on (an order at 23:30 stays that day)."
            ),
            "currency": ColumnDoc(CURRENCY),
            "items_amount": ColumnDoc(
                "Σ of the order's lines `order_items.line_amount`, exactly (check "
                "`order_lines_add_up`)."
            ),
            "discount_amount": ColumnDoc("Every discount on the order (items and shipping)."),
            "seller_discount_amount": ColumnDoc(
                "The part of the discounts the seller funds, where the API says who funds it."
            ),
            "marketplace_discount_amount": ColumnDoc(
                "The part of the discounts the marketplace funds, where the API says who funds it."
            ),
            "shipping_paid_by_buyer": ColumnDoc("What the buyer paid for shipping."),
            "tax_amount": ColumnDoc(
                "Taxes the buyer paid on top of the prices (Brazilian prices include taxes: "
                "usually none)."
            ),
            "total_amount": ColumnDoc(
                "What the buyer paid, as the marketplace states it (items − discounts + "
                "shipping + taxes): the gross sale."
            ),
            "fee_amount": ColumnDoc(
                "Every charge of the marketplace on the order — commission, service, "
                "transaction, fulfilment, campaign/affiliate, fixed per-item fees — net of fee "
                "rebates; `order_fees` has it by the API's own fee names. NULL until read."
            ),
            "seller_shipping_cost": ColumnDoc(
                "What shipping cost the seller, after the marketplace's subsidies (may be "
                "negative on Shopee and TikTok, when the buyer paid more than the trip cost)."
            ),
            "refund_amount": ColumnDoc("Refunded to the buyer."),
            "payout_amount": ColumnDoc(
                "What the marketplace pays the seller for the order (may be negative). Net "
                "revenue is this once `fees_final`, else total − fees − seller shipping cost − "
                "refunds with what is known so far."
            ),
            "fees_final": ColumnDoc(
                "True when the marketplace has settled the order: its money no longer changes."
            ),
            "settled_at": ColumnDoc("When the marketplace settled the order; NULL until then."),
            "buyer_hash": ColumnDoc(
                "A pseudonymous buyer key (salted SHA-256 of marketplace and buyer id, 32 hex "
                "characters): repeat buyers stay countable, identities do not leak."
            ),
            "buyer_city": ColumnDoc(
                "The delivery address's city (from the shipment when the order has none)."
            ),
            "buyer_state": ColumnDoc(
                "The delivery address's state, as the two-letter UF (SP, RJ…)."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "order_items",
        ORDERS,
        "analysts",
        "one row per order line (store × order × line number)",
        "The lines of every order: what was sold, how many, at what price. Σ `line_amount` of "
        "an order's lines = `orders.items_amount`; amounts are in the order's currency.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "order_id": ColumnDoc("The marketplace's order id (joins `orders`)."),
            "line_no": c(IDENTIFIER, "The line's position in the order, from 1."),
            "line_ref": ColumnDoc(
                "The marketplace's own id of the line (matches `order_fees.line_ref`)."
            ),
            "listing_id": ColumnDoc(LISTING_ID + " Joins `listings` and `listing_links`."),
            "variation_id": ColumnDoc(VARIATION_ID),
            "seller_sku": ColumnDoc(
                "The SKU the seller typed on the marketplace, as the order states it."
            ),
            "title": ColumnDoc("The listing's title, as the order states it."),
            "quantity": c(UNITS, "Units sold on the line."),
            "unit_price": c(
                "BRL (the order's `currency`)",
                "The price of one unit; may be rounded where the API states only the line "
                "(Amazon), so never rebuild the line from it.",
            ),
            "line_amount": c(
                "BRL (the order's `currency`)",
                "The line's amount as the API states it — where it states only an exact unit "
                "price, unit × quantity; before discounts, which are beside it.",
            ),
            "discount_amount": c(
                "BRL (the order's `currency`)", "Discounts on the line, where the API says."
            ),
            "tax_amount": c(
                "BRL (the order's `currency`)",
                "Taxes on the line, where the API says (usually none in Brazil).",
            ),
            "fee": c(
                "BRL (the order's `currency`)",
                "Marketplace charges on this line, where the API attributes fees to lines.",
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "order_fees",
        ORDERS,
        "analysts",
        "one row per store × order × fee type × line",
        "The breakdown of `orders.fee_amount`: every marketplace charge under the API's own "
        "name, so fees can be explained and re-split by type in plain SQL. Σ `amount` of an "
        "order = `orders.fee_amount` (check `fee_breakdown_adds_up`).",
        {
            "store_id": ColumnDoc(STORE_ID),
            "order_id": ColumnDoc("The marketplace's order id (joins `orders`)."),
            "fee_type": ColumnDoc(
                "The API's own name of the charge, e.g. `sale_fee` (Mercado Livre), "
                "`commission_fee` (Shopee), `platform_commission_amount` (TikTok), "
                "`Commission` (Amazon); docs/orders.md lists them per marketplace."
            ),
            "line_ref": ColumnDoc(
                "The order line it belongs to (`order_items.line_ref`); '' = the whole order."
            ),
            "amount": ColumnDoc("Charged to the seller; < 0 is a rebate or credit."),
            "currency": ColumnDoc(CURRENCY),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "shipments",
        ORDERS,
        "analysts",
        "one row per store × shipment (package)",
        "Every package of every order as the marketplace's logistics see it: status, carrier, "
        "handling deadline and the instants it left and arrived. Every shipped order has one "
        "(check `shipped_orders_have_shipments`).",
        {
            "store_id": ColumnDoc(STORE_ID),
            "shipment_id": ColumnDoc(
                "The package's id: ML shipment id, Shopee package_number, TikTok package id, "
                "Amazon order id (further packages `<order id>-<package reference>`)."
            ),
            "order_id": ColumnDoc("The order the package carries (joins `orders`)."),
            "status": ColumnDoc(
                "Normalized: `pending`, `ready_to_ship` (label exists), `shipped`, "
                "`delivered`, `not_delivered`, `returned`, `cancelled`."
            ),
            "raw_status": ColumnDoc(RAW_STATUS + " (Mercado Livre: `status/substatus`)."),
            "logistic_mode": ColumnDoc(
                "`marketplace` when the marketplace's own fulfilment moves it (Mercado Livre "
                "Full, Amazon FBA, Fulfilled by Shopee, TikTok FBT), `seller` otherwise."
            ),
            "logistic_type": ColumnDoc(
                "The marketplace's own word for the logistics (e.g. `drop_off`, `fulfillment`, "
                "a Shopee channel id, Amazon's ship service level)."
            ),
            "carrier": ColumnDoc("The carrier as the marketplace names it."),
            "tracking_number": ColumnDoc("The carrier's tracking number."),
            "ship_by": ColumnDoc("The handling deadline: the seller should ship before this."),
            "shipped_at": ColumnDoc("When the package left the seller (handed to the carrier)."),
            "delivered_at": ColumnDoc(
                "When the package arrived; NULL where the API never says (Amazon)."
            ),
            "buyer_city": ColumnDoc("The destination city."),
            "buyer_state": ColumnDoc("The destination state, as the two-letter UF (SP, RJ…)."),
            "updated_at": ColumnDoc("The API's last change of the shipment."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "order_status_history",
        ORDERS,
        "analysts",
        "one row per store × order × status reached",
        "The first instant each order reached each normalized status. Every order has at "
        "least its current status here (check `orders_have_status_history`).",
        {
            "store_id": ColumnDoc(STORE_ID),
            "order_id": ColumnDoc("The marketplace's order id (joins `orders`)."),
            "status": ColumnDoc("The normalized status reached, as on `orders.status`."),
            "raw_status": ColumnDoc("The marketplace's word at that step, when it gave one."),
            "changed_at": ColumnDoc("The first instant the order was in this status."),
            "source": ColumnDoc(
                "Where the instant comes from: `api` (the API's own timestamp), `shipment` (a "
                "package's shipped/delivered instant) or `observed` (the order's last update "
                "when first seen in the status: an upper bound)."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "questions",
        ORDERS,
        "analysts",
        "one row per store × buyer question (Mercado Livre)",
        "Buyers' questions on Mercado Livre listings, for answer-time figures. No question or "
        "answer text and no buyer are stored (LGPD).",
        {
            "store_id": ColumnDoc(STORE_ID),
            "question_id": ColumnDoc("Mercado Livre's question id."),
            "listing_id": ColumnDoc(
                "The item asked about (Mercado Livre item id, joins `listings`)."
            ),
            "status": ColumnDoc(
                "The API's own: `ANSWERED`, `UNANSWERED`, `CLOSED_UNANSWERED`, "
                "`UNDER_REVIEW`, `BANNED`, `DELETED`, `DISABLED`…"
            ),
            "asked_at": ColumnDoc("When the buyer asked."),
            "answered_at": ColumnDoc("When the seller answered; NULL while unanswered."),
            "answer_length": c("characters", "Length of the answer's text."),
            "answer_status": ColumnDoc("The answer's status, the API's own (`ACTIVE`, `BANNED`…)."),
            "deleted_from_listing": ColumnDoc(
                "True when the question was removed from the listing."
            ),
            "hold": ColumnDoc("Mercado Livre's `hold` flag on the question, as the API gives it."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "order_fact_reads",
        ORDERS,
        "internal",
        "one row per store × order re-read",
        "When the fees and shipments of each order were last re-read: the bookkeeping that "
        "keeps re-reads within each API's budget (docs/orders.md). Not for analysts.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "order_id": ColumnDoc("The marketplace's order id."),
            "first_read_at": ColumnDoc("When the order's facts were first read."),
            "last_read_at": ColumnDoc("When they were last read."),
            "reads": c(COUNT, "How many times they were read."),
            "fees_final": ColumnDoc("The last read found the order settled (never read again)."),
            "shipments_final": ColumnDoc(
                "The last read found every package delivered, returned or cancelled (or none "
                "will ship)."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    # --- stock -----------------------------------------------------------------------------
    TableDoc(
        "allocatable_stock",
        STOCK,
        "analysts",
        "one row per tenant × SKU",
        "What may be offered on the marketplaces now, per SKU: on hand minus reserved; a kit "
        "offers what its components allow (docs/stock.md).",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "sku": ColumnDoc(SKU),
            "on_hand": c(UNITS, "Σ `central_stock.on_hand` over warehouses."),
            "reserved": c(
                UNITS,
                "Units on lines of open orders not yet shipped (`pending` or `paid`), from "
                "every store of the tenant.",
            ),
            "allocatable": c(
                UNITS,
                "max(0, on_hand − reserved); a kit: min over its components of "
                "floor(allocatable ÷ units per kit).",
            ),
            "is_kit": ColumnDoc("True when the SKU is a kit (figures from its components)."),
            "computed_at": ColumnDoc("When these figures last changed."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "allocatable_stock_history",
        STOCK,
        "analysts",
        "one row per tenant × SKU × change",
        "Allocatable stock over time: a row each time a SKU's figures changed.",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "sku": ColumnDoc(SKU),
            "computed_at": ColumnDoc("When the figures changed to these."),
            "on_hand": c(UNITS, "Σ `central_stock.on_hand` over warehouses, then."),
            "reserved": c(UNITS, "Units in open, unshipped orders, then."),
            "allocatable": c(UNITS, "max(0, on_hand − reserved) (kits: from components), then."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "stock_push_plan",
        STOCK,
        "operators",
        "one row per linked listing variation (store × listing × variation)",
        "The quantity each linked listing variation should publish. For each SKU the targets "
        "of all its listings never add up to more than its allocatable units (blocking check "
        "`published_within_allocatable`).",
        {
            "store_id": ColumnDoc(STORE_ID),
            "listing_id": ColumnDoc(LISTING_ID),
            "variation_id": ColumnDoc(VARIATION_ID),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "sku": ColumnDoc("The central SKU the variation is linked to."),
            "marketplace": ColumnDoc(MARKETPLACE),
            "policy": ColumnDoc(
                "The store's allocation policy, described: `all`, `share 0.5`, `buffer 2`, "
                "`max 20`, `exclude` (docs/stock.md)."
            ),
            "allocatable": c(UNITS, "The SKU's allocatable units when planned."),
            "desired_quantity": c(UNITS, "What the store's policy asks for this listing."),
            "target_quantity": c(
                UNITS,
                "What it should publish: the ask, split in proportion when a SKU's asks exceed "
                "its allocatable units.",
            ),
            "planned_at": ColumnDoc("When the plan was made."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "stock_listing_state",
        STOCK,
        "operators",
        "one row per listing variation (store × listing × variation)",
        "What each listing publishes, as our last write or read-back saw it.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "listing_id": ColumnDoc(LISTING_ID),
            "variation_id": ColumnDoc(VARIATION_ID),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "published_quantity": c(UNITS, "The quantity the listing publishes, as last known."),
            "observed_at": ColumnDoc("When it was written or read back."),
            "last_written_at": ColumnDoc("Our last accepted write; NULL when never written."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "stock_pushes",
        STOCK,
        "operators",
        "one row per run × attempt × listing variation written (or planned)",
        "The audit of every stock write to a marketplace (and to Bling, `store_id = "
        "'bling-<account>'`), and of every dry-run plan.",
        {
            "run_id": ColumnDoc(RUN_ID),
            "attempt": c(COUNT, "The step's retry number (0 first)."),
            "store_id": ColumnDoc(STORE_ID + " `bling-<account>` for Bling."),
            "listing_id": ColumnDoc(LISTING_ID + " Bling: the product id."),
            "variation_id": ColumnDoc(VARIATION_ID),
            "tenant": ColumnDoc(TENANT_OF_STORE),
            "sku": ColumnDoc("The central SKU."),
            "marketplace": ColumnDoc(
                "The marketplace written to: `mercadolivre`, `shopee`, `tiktok`, `amazon` or "
                "`bling`."
            ),
            "quantity_before": c(
                UNITS, "What the listing published, as known before; NULL when unknown."
            ),
            "quantity_after": c(UNITS, "What was (or would be) written."),
            "reason": ColumnDoc(
                "`changed` (target differs), `drift` (a read-back differs) or `reassert_zero` "
                "(a zero not confirmed for a while)."
            ),
            "mode": ColumnDoc("`real` or `dry_run`."),
            "status": ColumnDoc("`planned` (dry run), `written` or `failed`."),
            "response": ColumnDoc("The marketplace's answer, or the error."),
            "pushed_at": ColumnDoc("When it was written (or planned)."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    # --- categories and attributes ---------------------------------------------------------
    TableDoc(
        "bling_category_links",
        NORMALIZATION,
        "operators",
        "one row per internal category",
        "Which Bling category each internal category is (survives renames and moves).",
        {
            "category_id": ColumnDoc(INTERNAL_CATEGORY),
            "bling_id": c(IDENTIFIER, "Bling's category id."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "category_sync_log",
        NORMALIZATION,
        "operators",
        "one row per run × internal category changed",
        "Every change the Bling category sync made, with the category before and after.",
        {
            "run_id": ColumnDoc(RUN_ID),
            "category_id": ColumnDoc(INTERNAL_CATEGORY),
            "action": ColumnDoc(
                "`create`, `rename`, `move` or `adopt` (an existing same-name Bling category "
                "taken over)."
            ),
            "bling_id": c(IDENTIFIER, "Bling's category id."),
            "before_name": ColumnDoc("Its name in Bling before; NULL when created."),
            "before_parent_bling_id": c(
                IDENTIFIER, "Its parent in Bling before (Bling's id); NULL at the root or created."
            ),
            "after_name": ColumnDoc("Its name in Bling after."),
            "after_parent_bling_id": c(
                IDENTIFIER, "Its parent in Bling after (Bling's id); NULL at the root."
            ),
            "changed_at": ColumnDoc("When the change was made."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "marketplace_categories",
        NORMALIZATION,
        "analysts",
        "one row per marketplace × category",
        "Each marketplace's category tree, as its API publishes it.",
        {
            "marketplace": ColumnDoc(MARKETPLACE),
            "category_id": ColumnDoc("The marketplace's category id."),
            "site": ColumnDoc(
                "The marketplace site the tree belongs to (MLB, BR…): trees are per site."
            ),
            "name": ColumnDoc("The category's name."),
            "parent_id": ColumnDoc("The parent's category id; NULL at the root."),
            "path": ColumnDoc("Names from the root, joined by ' > ', e.g. `Moda > Camisetas`."),
            "is_leaf": ColumnDoc("True for a leaf: products are listed in leaves only."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "marketplace_required_attributes",
        NORMALIZATION,
        "analysts",
        "one row per marketplace × category × attribute",
        "Attribute rules of the marketplace categories the merchant's categories map to: "
        "whether each is required, closed value lists, units.",
        {
            "marketplace": ColumnDoc(MARKETPLACE),
            "category_id": ColumnDoc("The marketplace's category id."),
            "attribute_id": ColumnDoc("The marketplace's attribute id."),
            "name": ColumnDoc("The attribute's name on the marketplace."),
            "requirement": ColumnDoc(
                "`required`, `conditional` (required when `condition` holds), "
                "`catalog_required` or `optional`."
            ),
            "condition": ColumnDoc(
                "When a conditional attribute is required, as the API states it."
            ),
            "required_when": ColumnDoc(
                "JSON list `[{attribute_id, value_id}]`: required if another attribute has that "
                "value."
            ),
            "value_type": ColumnDoc("The value's type: `string`, `list`, `number_unit`, …"),
            "closed_list": ColumnDoc("True when only the listed values are allowed."),
            "allowed_values": ColumnDoc("JSON list `[{id, name}]` of allowed values."),
            "allowed_units": ColumnDoc("JSON list of allowed units."),
            "default_unit": ColumnDoc("The unit used when none is given."),
            "canonical": ColumnDoc(
                "Our attribute it is filled from (`brand`, `color`, `weight`…); NULL when none."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "category_mappings",
        NORMALIZATION,
        "analysts",
        "one row per internal category × marketplace",
        "Each internal category's category on each marketplace: manual (from the tree file), "
        "or suggested by the marketplace's predictor until accepted (`synchub categories "
        "accept`).",
        {
            "category_id": ColumnDoc(INTERNAL_CATEGORY),
            "marketplace": ColumnDoc(MARKETPLACE),
            "marketplace_category_id": ColumnDoc(
                "The marketplace's category it maps to; NULL when none."
            ),
            "marketplace_category_path": ColumnDoc("That category's path on the marketplace."),
            "status": ColumnDoc(
                "`manual` (tree file), `suggested` (predictor, waiting to be accepted), "
                "`invalid` (target gone or not a leaf) or `none`."
            ),
            "based_on": ColumnDoc("Why this category: the tree file, or the predictor's basis."),
            "reason": ColumnDoc(
                "Why the mapping cannot be used (or was not checked); NULL when fine."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "product_attributes_normalized",
        NORMALIZATION,
        "analysts",
        "one row per tenant × SKU × attribute",
        "Central products' attributes in one vocabulary and one unit each (docs/normalization.md).",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "sku": ColumnDoc(SKU),
            "attribute": ColumnDoc("Our attribute name: `brand`, `color`, `size`, `weight`, …"),
            "value": ColumnDoc("The normalized value; NULL when rejected."),
            "unit": ColumnDoc(
                "The value's unit: `g` for weights, `cm` for dimensions; NULL otherwise."
            ),
            "raw_value": ColumnDoc("The value as the merchant gave it."),
            "source": ColumnDoc(
                "Where it came from: `catalog` or `attributes_file` "
                "(SYNCHUB_PRODUCT_ATTRIBUTES_FILE)."
            ),
            "status": ColumnDoc("`ok` or `rejected`."),
            "reason": ColumnDoc("Why it was rejected; NULL when ok."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "product_marketplace_attributes",
        NORMALIZATION,
        "analysts",
        "one row per tenant × SKU × marketplace × attribute",
        "Each product's value for each attribute of its marketplace category.",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "sku": ColumnDoc(SKU),
            "marketplace": ColumnDoc(MARKETPLACE),
            "attribute_id": ColumnDoc("The marketplace's attribute id."),
            "attribute_name": ColumnDoc("The attribute's name on the marketplace."),
            "value_id": ColumnDoc("The marketplace's value id (closed lists); NULL otherwise."),
            "value_name": ColumnDoc("The value as the marketplace would receive it."),
            "status": ColumnDoc("`ok`, `missing` or `invalid`."),
            "reason": ColumnDoc("Why it is missing or invalid; NULL when ok."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "listing_readiness",
        NORMALIZATION,
        "analysts",
        "one row per tenant × SKU × marketplace",
        "Can each product be listed on each marketplace, and if not, exactly why (check "
        "`listing_readiness_is_explained`).",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "sku": ColumnDoc(SKU),
            "marketplace": ColumnDoc(MARKETPLACE),
            "ready": ColumnDoc(
                "True when its category maps manually to a leaf and every required attribute "
                "has a valid value."
            ),
            "marketplace_category_id": ColumnDoc("The marketplace category it would be listed in."),
            "missing": ColumnDoc("JSON list of the required attributes' names it lacks."),
            "invalid": ColumnDoc("JSON list of `attribute: reason` for values it would refuse."),
            "notes": ColumnDoc(
                "JSON list of conditional requirements the marketplace checks at publication."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    # --- event sync and reconciliation -----------------------------------------------------
    TableDoc(
        "webhook_events",
        EVENTS,
        "operators",
        "one row per accepted notification",
        "Every accepted marketplace notification, with its processing state (docs/events.md).",
        {
            "event_key": ColumnDoc(
                "`<marketplace>:<the marketplace's event id>` (Shopee: sha256 of the body)."
            ),
            "seq": c(
                "sequence number",
                "Increasing arrival order; the sensors' cursor (gaps are normal).",
            ),
            "marketplace": ColumnDoc(
                "Who sent it: `mercadolivre`, `shopee`, `tiktok`, `amazon` or `bling`."
            ),
            "store_id": ColumnDoc(
                "The store the notification is for (`<marketplace>-<seller id>`; Bling: "
                "`bling-<company>`)."
            ),
            "topic": ColumnDoc("Its topic: ML topic, Shopee push code, TikTok type…"),
            "resource_id": ColumnDoc("The order or listing the event is about."),
            "payload": ColumnDoc("The raw body, as received."),
            "received_at": ColumnDoc("When the receiver accepted it."),
            "state": ColumnDoc(
                "`pending`, `processing` (claimed by a run), `processed`, `failed` (after 5 "
                "attempts) or `quarantined` (store not connected)."
            ),
            "attempts": c(COUNT, "Fetch attempts so far."),
            "next_attempt_at": ColumnDoc(
                "When it may be tried again (while processing: when the claim expires)."
            ),
            "last_error": ColumnDoc("Why it failed, or why it was quarantined."),
            "processed_at": ColumnDoc("When it was processed."),
        },
    ),
    TableDoc(
        "order_poll_cursors",
        EVENTS,
        "operators",
        "one row per polled store",
        "How far each polled store's orders have been read by update time: orders updated "
        "before `polled_through` have been read. Moves only after a poll's writes commit.",
        {
            "store_id": ColumnDoc(STORE_ID),
            "polled_through": ColumnDoc("Orders updated before this instant have been read."),
            "last_run_id": ColumnDoc("The Dagster run that moved it last."),
            "updated_at": ColumnDoc("When it last moved."),
        },
    ),
    TableDoc(
        "reconciliation_runs",
        EVENTS,
        "operators",
        "one row per reconciliation run × store",
        "Each daily reconciliation of a store: the orders the API listed as updated in the "
        "window against what the warehouse held.",
        {
            "run_id": ColumnDoc(RUN_ID),
            "store_id": ColumnDoc(STORE_ID),
            "window_start": ColumnDoc("Orders updated from this instant…"),
            "window_end": ColumnDoc("…to this one were compared."),
            "api_orders": c(COUNT, "Orders the API listed in the window."),
            "missing_orders": c(COUNT, "Of those, orders the warehouse did not have (written)."),
            "stale_orders": c(COUNT, "Orders the warehouse had in an older state (rewritten)."),
            "rejected_orders": c(COUNT, "Orders the API returned malformed (in `ingest_errors`)."),
            "reconciled_at": ColumnDoc("When the store was reconciled."),
        },
    ),
    TableDoc(
        "reconciliation_repairs",
        EVENTS,
        "operators",
        "one row per reconciliation run × store × order repaired",
        "Every order reconciliation had to write: one that no webhook, poll or backfill had "
        "delivered (or delivered in an older state).",
        {
            "run_id": ColumnDoc(RUN_ID),
            "store_id": ColumnDoc(STORE_ID),
            "order_id": ColumnDoc("The marketplace's order id."),
            "reason": ColumnDoc("`missing` (no row) or `stale` (older update time)."),
            "api_updated_at": ColumnDoc("The order's last update as the API listed it."),
            "warehouse_updated_at": ColumnDoc(
                "Its `updated_at` in the warehouse before the repair; NULL when missing."
            ),
            "business_date": ColumnDoc("The order's business date (local date of creation)."),
            "repaired_at": ColumnDoc("When it was written."),
        },
    ),
    # --- competitor prices and enrichment --------------------------------------------------
    TableDoc(
        "scrape_targets",
        ENRICHMENT,
        "operators",
        "one row per configured site",
        "The competitor sites the collection reads, as the targets file "
        "(SYNCHUB_SCRAPE_TARGETS) configures them (docs/enrichment.md).",
        {
            "site": ColumnDoc(SITE),
            "start_urls": ColumnDoc(
                "JSON list of the category, search or product pages the crawl starts from."
            ),
            "sitemaps": ColumnDoc("JSON list of the sitemaps the crawl reads for product URLs."),
            "recipe": ColumnDoc(
                "The site's CSS selector recipe as JSON, read when a page has no structured "
                "data; NULL when the site needs none."
            ),
            "page_budget": c("pages", "Most pages one run may fetch from the site."),
            "delay_seconds": c(
                "seconds",
                "Least time between two requests to the site (robots.txt Crawl-delay wins "
                "when longer).",
            ),
            "schedule": ColumnDoc("When the site is collected: a cron expression (UTC)."),
            "enabled": ColumnDoc(
                "False when the site is no longer in the targets file: no run crawls it, and "
                "its pages and offers are kept."
            ),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "scraped_pages",
        ENRICHMENT,
        "operators",
        "one row per page fetch",
        "Every page the collection fetched (or decided not to), with what came of it. Pages "
        "that yield no valid offer stay here with their `outcome` and `reason`: the "
        "collection's quarantine.",
        {
            "site": ColumnDoc(SITE),
            "url": ColumnDoc("The page's URL, after redirects."),
            "fetched_at": ColumnDoc("When it was fetched."),
            "status": c(
                "HTTP status code", "The HTTP status; NULL when nothing was requested (robots)."
            ),
            "bytes": c("bytes", "Size of the body received (0 for a 304)."),
            "etag": ColumnDoc("The page's ETag, sent back as If-None-Match next time."),
            "last_modified": ColumnDoc(
                "The page's Last-Modified header as sent, sent back as If-Modified-Since."
            ),
            "outcome": ColumnDoc(
                "`offer` (a valid offer was read), `not_modified` (304: nothing parsed), "
                "`no_offer` (a page without a valid offer), `blocked` (login or CAPTCHA: "
                "skipped), `disallowed` (robots.txt: never requested), `not_found` (404 or a "
                "soft 404), `error`, or `listing` (a category or search page)."
            ),
            "reason": ColumnDoc("Why the page gave no offer, in words; NULL when it did."),
            "elapsed_ms": c("milliseconds", "How long the fetch took."),
            "content_sha256": ColumnDoc("sha256 of the body, to tell a changed page."),
            "run_id": ColumnDoc(RUN_ID),
        },
    ),
    TableDoc(
        "competitor_offers",
        ENRICHMENT,
        "analysts",
        "one row per site × page × change of its offer",
        "Competitors' offers over time: a row is written only when the offer a page shows "
        "changed (price, availability, seller…), so a rerun that sees the same offer adds "
        "nothing. The current offer of a page is its latest `observed_at`.",
        {
            "site": ColumnDoc(SITE),
            "url": ColumnDoc("The product page."),
            "observed_at": ColumnDoc("When the page first showed this offer."),
            "title": ColumnDoc("The product's title on the page."),
            "brand": ColumnDoc("The brand the page states."),
            "gtin": ColumnDoc("The GTIN (EAN) the page states, as digits."),
            "site_sku": ColumnDoc("The site's own product code."),
            "seller": ColumnDoc("Who sells it on the page (marketplaces name a seller)."),
            "price": ColumnDoc(
                "The price a buyer pays now (the sale price), never an installment amount."
            ),
            "list_price": ColumnDoc('The price before the discount ("de"), when shown.'),
            "currency": ColumnDoc(CURRENCY),
            "availability": ColumnDoc("`in_stock`, `out_of_stock`, `preorder` or `unknown`."),
            "installments_count": c(
                "installments", "How many interest-free installments the page offers."
            ),
            "installment_amount": ColumnDoc("The amount of each installment."),
            "images": ColumnDoc("JSON list of the product's image URLs."),
            "attributes": ColumnDoc("JSON object of the attributes the page lists."),
            "description": ColumnDoc("The product's description on the page."),
            "extracted_by": ColumnDoc(
                "Where the price was read: `json-ld`, `microdata`, `rdfa`, `meta` or `recipe` "
                "(the site's CSS selectors)."
            ),
            "fingerprint": ColumnDoc(
                "sha256 of the offer's content: a new row is written when it changes."
            ),
            "last_seen_at": ColumnDoc("When a fetch last saw this offer unchanged."),
            "run_id": ColumnDoc("The Dagster run that first saw this offer."),
        },
    ),
    TableDoc(
        "offer_matches",
        ENRICHMENT,
        "analysts",
        "one row per tenant × competitor page × candidate SKU",
        "Which central SKU a competitor's page sells: by GTIN first, then brand and title "
        "similarity. `auto` and `accepted` matches count in the price positions; `pending` "
        "waits for a person (`synchub scrape matches`); a person's decision is never "
        "overwritten by the matcher.",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "site": ColumnDoc(SITE),
            "url": ColumnDoc("The competitor's product page (`competitor_offers.url`)."),
            "sku": ColumnDoc(SKU),
            "method": ColumnDoc(
                "`gtin` (same GTIN), `title` (brand and title similarity) or `manual` (a "
                "person named the SKU)."
            ),
            "score": c(
                "similarity 0–100",
                "How alike the titles are (token-set ratio); 100 for a GTIN or manual match.",
            ),
            "status": ColumnDoc(
                "`auto` (certain enough to use), `pending` (waits for a person), `accepted` or "
                "`rejected` (a person decided)."
            ),
            "decided_by": ColumnDoc("Who accepted or rejected it; NULL while automatic."),
            "decided_at": ColumnDoc("When a person decided."),
            "matched_at": ColumnDoc("When the matcher first proposed it."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "enrichment_suggestions",
        ENRICHMENT,
        "operators",
        "one row per tenant × suggestion",
        "What matched competitor pages could fill in for a SKU that lacks it (image, "
        "description, an attribute, the GTIN). Suggestions only: nothing is written to the "
        "catalog until a person accepts one (`synchub scrape accept-suggestion`).",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "suggestion_id": ColumnDoc(
                "Short stable id (a hash of tenant, SKU, field and value), for the CLI."
            ),
            "sku": ColumnDoc(SKU),
            "field": ColumnDoc(
                "What it fills: `image`, `description`, `gtin` or `attribute:<name>`."
            ),
            "value": ColumnDoc("The suggested value, as the page states it."),
            "source_site": ColumnDoc("The site it was read from."),
            "source_url": ColumnDoc("The page it was read from."),
            "status": ColumnDoc("`pending`, `accepted` (written to the catalog) or `rejected`."),
            "created_at": ColumnDoc("When it was first suggested."),
            "decided_by": ColumnDoc("Who accepted or rejected it."),
            "decided_at": ColumnDoc("When a person decided."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "price_positions",
        ENRICHMENT,
        "analysts",
        "one row per tenant × SKU × channel with at least one matched competitor offer",
        "Our price against the competitors' current offers of the same product, per channel: "
        "each store's listing price (through `listing_links`) and the catalog's own price.",
        {
            "tenant": ColumnDoc(TENANT_KEY),
            "sku": ColumnDoc(SKU),
            "channel": ColumnDoc(
                "The store (`store_id`) whose listing price is compared, or `catalog` for "
                "the central catalog's price."
            ),
            "our_price": ColumnDoc(
                "Our price on the channel (the lowest of the SKU's active listings there)."
            ),
            "currency": ColumnDoc(CURRENCY),
            "lowest_price": ColumnDoc("The lowest price among the matched competitor offers."),
            "median_price": ColumnDoc("The median price of the matched competitor offers."),
            "offers": c(COUNT, "Matched competitor offers compared (in stock, same currency)."),
            "lowest_site": ColumnDoc("The site of the lowest offer."),
            "lowest_url": ColumnDoc("The page of the lowest offer."),
            "undercut": ColumnDoc("True when a competitor sells it for less than we do."),
            "undercut_since_last_run": ColumnDoc(
                "True when it is undercut now and was not at the previous computation."
            ),
            "computed_at": ColumnDoc("When these figures last changed."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    # --- operations ------------------------------------------------------------------------
    TableDoc(
        "ingest_errors",
        OPERATIONS,
        "operators",
        "one row per source × store × rejected record",
        "Records that failed validation, kept with the reason (never dropped).",
        {
            "source": ColumnDoc("What read it, e.g. `mercadolivre.orders`, `catalog_file`."),
            "store_id": ColumnDoc("The store it came from; '' when not store-bound."),
            "record_key": ColumnDoc("The record's id in its source (order id, SKU, line…)."),
            "reason": ColumnDoc("Why it was rejected."),
            "payload": ColumnDoc("The raw record, as received (JSON text)."),
            "first_seen_at": ColumnDoc("When it was first rejected."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "alerts",
        OPERATIONS,
        "operators",
        "one row per run failure or failing check",
        "Every run failure and failing check an operator was (or should have been) told "
        "about, with what happened to the message.",
        {
            "alert_id": ColumnDoc("`run:<run id>` or `check:<event id>`."),
            "kind": ColumnDoc("`run_failure` or `check_failed`."),
            "severity": ColumnDoc("`error` or `warn`."),
            "subject": ColumnDoc("The job, or `asset:check`."),
            "run_id": ColumnDoc("The Dagster run that failed or ran the check."),
            "message": ColumnDoc("What failed, secrets removed."),
            "occurred_at": ColumnDoc("When it failed."),
            "destination": ColumnDoc(
                "Where it was sent: `webhook`, `slack` (comma-joined), or `none`."
            ),
            "delivery": ColumnDoc("`sent`, `failed`, `no_destination` (`pending` while sending)."),
            "delivery_error": ColumnDoc("Why the delivery failed; NULL when sent."),
            "sent_at": ColumnDoc("When it was delivered."),
            "synced_at": ColumnDoc(SYNCED_AT),
        },
    ),
    TableDoc(
        "api_budgets",
        OPERATIONS,
        "internal",
        "one row per API quota scope",
        "One token bucket per API quota scope, shared by every process of the deployment. "
        "Not for analysts.",
        {
            "scope": ColumnDoc("The quota's scope, e.g. `mercadolivre:<app id>`."),
            "tokens": c("requests", "Requests left in the bucket; < 0: a queue is waiting."),
            "updated_at": c("epoch seconds (UTC)", "When the bucket last changed."),
        },
    ),
    TableDoc(
        "circuit_breakers",
        OPERATIONS,
        "operators",
        "one row per marketplace (and endpoint family)",
        "Per marketplace (and endpoint family): whether calls go through, so an operator sees "
        "which marketplace is failing and since when.",
        {
            "scope": ColumnDoc("`marketplace[:endpoint family]`."),
            "state": ColumnDoc(
                "`closed` (calls go through), `open` (calls fail fast) or `half_open` (one "
                "call may test the API)."
            ),
            "failures": c(COUNT, "Consecutive failures."),
            "opened_at": ColumnDoc("Since when calls fail fast; NULL when closed."),
            "probe_at": ColumnDoc("When one call may test the API again."),
            "last_error": ColumnDoc("The last failure's error."),
            "updated_at": ColumnDoc("When the breaker last changed."),
        },
    ),
)

# The publishing domain's entries live in their own module (it imports the helpers above).
from synchub_pipelines.warehouse.dictionary_bling_catalog import (  # noqa: E402
    BLING_CATALOG_TABLES as _BLING_CATALOG_TABLES,
)
from synchub_pipelines.warehouse.dictionary_publishing import (  # noqa: E402
    PUBLISHING_TABLES as _PUBLISHING_TABLES,
)

TABLES = TABLES + _PUBLISHING_TABLES + _BLING_CATALOG_TABLES
