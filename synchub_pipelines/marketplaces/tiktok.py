"""TikTok Shop Partner API (202309 versions) client: OAuth, products, orders and stock.

Protocol facts this module relies on (API-NOTES §3):
- Two hosts: the auth host issues tokens (GET, app_key + app_secret in the query, no
  signature; failures answer HTTP 200 with a non-zero `code`), the API host serves
  everything else. Token expiries are absolute epoch seconds.
- Every API call carries `app_key`, `timestamp` and `sign` in the query, the token in the
  `x-tts-access-token` header and, on shop-scoped paths, the `shop_cipher` obtained from
  `/authorization/202309/shops` after the token exchange (kept in TokenSet.extra).
- `sign` = hex HMAC-SHA256(app_secret, app_secret + path + sorted key/value pairs (minus
  sign and access_token) + raw body (non-GET) + app_secret).
- Answers are `{code, message, request_id, data}`, `code == 0` meaning success.
- Searches page with an opaque `page_token` ("" when done), up to 100 records a page.
- An order lists one line item per unit sold; `sale_price` is the unit's price after the
  seller's and TikTok's discounts, `original_price` the price before them.
- Money facts live in Finance: `GET /finance/202309/orders/{id}/statement_transactions`
  lists an order's transactions once TikTok has settled it (amounts are strings, signed
  from the seller's side: fees negative); before that the list is empty. Statements
  (`/finance/202309/statements`, one per settlement day) list every order they settle.

TikTok publishes no numeric rate limit for these APIs; the client paces itself at a
configurable `requests_per_second` (20 by default) per app and shop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, BeforeValidator, Field, SecretStr, ValidationError

from synchub_pipelines.marketplaces.base import (
    ApiShape,
    Page,
    TimeField,
    blank_to_none,
    chunked,
    describe_validation_error,
    in_flight,
    parse_records,
    reject,
)
from synchub_pipelines.marketplaces.brazil import state_code
from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    MarketplaceError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from synchub_pipelines.marketplaces.http import (
    ApiHttp,
    HttpSettings,
    classify_by_status,
    retry_after_seconds,
)
from synchub_pipelines.marketplaces.ratelimit import shared_limiter
from synchub_pipelines.marketplaces.tiktok_writes import TikTokWrites
from synchub_pipelines.marketplaces.tokens import (
    NotConnectedError,
    TokenManager,
    TokenSet,
    TokenStore,
)
from synchub_pipelines.models import (
    STATUS_RANK,
    FeeLine,
    Listing,
    ListingStatus,
    LogisticMode,
    Marketplace,
    Order,
    OrderFacts,
    OrderItem,
    OrderRef,
    OrderSettlement,
    OrderStatus,
    Rejected,
    Shipment,
    ShipmentStatus,
    StatusEvent,
    Store,
    hash_buyer,
)

MARKETPLACE = Marketplace.TIKTOK.value
PRODUCTION_API_URL = "https://open-api.tiktokglobalshop.com"
PRODUCTION_AUTH_URL = "https://auth.tiktok-shops.com"
PRODUCTION_SERVICES_URL = "https://services.tiktokshop.com"
DEFAULT_REQUESTS_PER_SECOND = 20.0

SHOPS_PATH = "/authorization/202309/shops"
ORDERS_SEARCH_PATH = "/order/202309/orders/search"
ORDERS_GET_PATH = "/order/202309/orders"
PRODUCTS_SEARCH_PATH = "/product/202309/products/search"
PRODUCT_PATH = "/product/202309/products/{product_id}"
INVENTORY_UPDATE_PATH = "/product/202309/products/{product_id}/inventory/update"
ORDER_STATEMENT_PATH = "/finance/202309/orders/{order_id}/statement_transactions"
STATEMENTS_PATH = "/finance/202309/statements"
STATEMENT_TRANSACTIONS_PATH = "/finance/202309/statements/{statement_id}/statement_transactions"

ORDERS_PAGE = 100
PRODUCTS_PAGE = 100
ORDER_IDS_MAX = 50
STATEMENTS_PAGE = 100

# TikTok pays out 1–31 days after delivery (API-NOTES 3.1); delivery itself can take two
# weeks. After this many days from the sale an order is surely settled.
SETTLEMENT_DAYS = 45
# A refresh run of ~10 minutes at 20 requests/s, leaving half the budget to other work, has
# 6,000 calls. An order costs at most 1/50 of an order-detail call plus 1.25 finance calls
# (its own statement, and its share of a statement walk; see `get_order_facts`).
FACTS_PER_RUN = 4_500
# A statement walk may cost at most 1/this of the per-order calls it is meant to save.
STATEMENT_WALK_SHARE = 4
# A finished walk answers for about one refresh run; after that new statements have closed.
STATEMENT_WALK_TTL = 900.0

# Envelope codes. 105xxx are access-token errors and 36004xxx are the auth host refusing
# an authorization code or refresh token; both mean "these credentials are no good".
CODE_OK = 0
AUTH_CODES = frozenset({36009007, 36009008})
AUTH_GROUPS = frozenset({105, 36004})
RATE_LIMITED_CODES = frozenset({36009002})
TRANSIENT_CODES = frozenset({36009003, 25020008})
WAREHOUSE_UNKNOWN_CODE = 12052097

# Line items of a delivered order that was returned and refunded show as cancelled.
RETURNED_LINE_STATUS = "CANCELLED"

TikTokOrderStatus = Literal[
    "UNPAID",
    "ON_HOLD",
    "AWAITING_SHIPMENT",
    "PARTIALLY_SHIPPING",
    "AWAITING_COLLECTION",
    "IN_TRANSIT",
    "DELIVERED",
    "COMPLETED",
    "CANCELLED",
]

STATUS_MAP: dict[str, OrderStatus] = {
    "UNPAID": OrderStatus.PENDING,
    "ON_HOLD": OrderStatus.PENDING,
    "AWAITING_SHIPMENT": OrderStatus.PAID,
    "AWAITING_COLLECTION": OrderStatus.PAID,
    "PARTIALLY_SHIPPING": OrderStatus.PAID,
    "IN_TRANSIT": OrderStatus.SHIPPED,
    "DELIVERED": OrderStatus.DELIVERED,
    "COMPLETED": OrderStatus.DELIVERED,
    "CANCELLED": OrderStatus.CANCELLED,
}


# --- signing -----------------------------------------------------------------------------


def sign_request(app_secret: str, path: str, params: Mapping[str, str], body: bytes = b"") -> str:
    """The 202309 `sign` of a request: `body` is the raw JSON sent (b"" for GET)."""
    pieces = "".join(
        f"{key}{params[key]}" for key in sorted(params) if key not in ("sign", "access_token")
    )
    secret = app_secret.encode()
    message = secret + path.encode() + pieces.encode() + body + secret
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def webhook_signature(app_key: str, app_secret: str, raw_body: bytes) -> str:
    """The `Authorization` header TikTok puts on a webhook: HMAC-SHA256(secret, key + body)."""
    return hmac.new(app_secret.encode(), app_key.encode() + raw_body, hashlib.sha256).hexdigest()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# --- errors ------------------------------------------------------------------------------


def _with_request_id(error: MarketplaceError, request_id: str) -> MarketplaceError:
    kw: dict[str, Any] = {"status": error.status, "code": error.code, "request_id": request_id}
    if isinstance(error, RateLimitedError | TransientError):
        kw["retry_after"] = error.retry_after
    return type(error)(error.marketplace, error.operation, error.detail, **kw)


def classify(response: httpx.Response, operation: str) -> MarketplaceError | None:
    """TikTok's `{code, message, request_id}` envelope (in any HTTP status) as an exception."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if status >= 400:
            reason = response.reason_phrase or "error"
            return classify_by_status(MARKETPLACE, response, operation, reason, None)
        # A cut-off or HTML answer from a proxy: another try usually gets the real one.
        return TransientError(MARKETPLACE, operation, "answer is not a JSON object", status=status)
    raw_code = body.get("code")
    try:
        code = int(raw_code) if raw_code is not None else None
    except (TypeError, ValueError):
        code = None
    if status < 400 and code == CODE_OK:
        return None
    message = str(body.get("message") or response.reason_phrase or "error")
    code_text = str(raw_code) if raw_code is not None else None
    request_id = str(body["request_id"]) if body.get("request_id") else None
    kw: dict[str, Any] = {"status": status, "code": code_text, "request_id": request_id}
    args = (MARKETPLACE, operation, message)
    if code is not None:
        if code in AUTH_CODES or code // 1000 in AUTH_GROUPS:
            return AuthError(*args, **kw)
        if code in RATE_LIMITED_CODES:
            return RateLimitedError(*args, retry_after=retry_after_seconds(response), **kw)
        if code in TRANSIENT_CODES:
            return TransientError(*args, retry_after=retry_after_seconds(response), **kw)
    if status >= 400:
        error = classify_by_status(MARKETPLACE, response, operation, message, code_text)
        if error is not None and request_id and error.request_id is None:
            error = _with_request_id(error, request_id)
        return error
    if code is None:
        return TransientError(*args, **kw)
    return InvalidRequestError(*args, **kw)


# --- the API's own shapes (only the fields the pipeline reads) ---------------------------


_M = TypeVar("_M", bound=BaseModel)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _id_text(value: Any) -> Any:
    """Ids come as strings, with stray whitespace in some samples, or as bare numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _strip(value)


OptionalMoney = Annotated[Decimal | None, BeforeValidator(blank_to_none)]
Id = Annotated[str, BeforeValidator(_id_text), Field(min_length=1)]
OptionalId = Annotated[str | None, BeforeValidator(lambda v: blank_to_none(_id_text(v)))]
OptionalText = Annotated[str | None, BeforeValidator(lambda v: blank_to_none(_strip(v)))]


class TTEnvelope(ApiShape):
    code: int
    message: str | None = None
    request_id: str | None = None
    data: dict[str, Any] | None = None


class TTTokenData(ApiShape):
    access_token: SecretStr
    access_token_expire_in: int
    refresh_token: SecretStr | None = None
    refresh_token_expire_in: int | None = None
    open_id: str | None = None
    seller_name: str | None = None


class TTShop(ApiShape):
    id: Id
    cipher: Id
    name: str | None = None
    region: str | None = None
    code: str | None = None


class TTShopsData(ApiShape):
    shops: list[TTShop] = Field(default_factory=list)


class TTInventory(ApiShape):
    warehouse_id: Id
    quantity: int


class TTPrice(ApiShape):
    currency: str
    sale_price: Decimal
    tax_exclusive_price: OptionalMoney = None


class TTSku(ApiShape):
    id: Id
    seller_sku: str | None = None
    price: TTPrice | None = None
    inventory: list[TTInventory] | None = None


class TTAuditFailure(ApiShape):
    """Why TikTok's review refused (or froze) a product, in its own words."""

    position: str | None = None
    reasons: list[str] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)


class TTProduct(ApiShape):
    id: Id
    title: str
    status: str
    skus: list[TTSku] = Field(min_length=1)
    create_time: int | None = None
    update_time: int | None = None
    # Only the product detail carries these (the search does not).
    audit_failed_reasons: list[TTAuditFailure] | None = None


class TTProductPage(ApiShape):
    products: list[Any] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int | None = None


class TTItemTax(ApiShape):
    tax_type: str | None = None
    tax_amount: OptionalMoney = None


class TTLineItem(ApiShape):
    """One unit sold: TikTok lists a line item per unit."""

    id: str | None = None
    product_id: Id
    sku_id: Id
    seller_sku: str | None = None
    product_name: str | None = None
    sku_name: str | None = None
    currency: str | None = None
    sale_price: Decimal  # after the seller's and TikTok's discounts
    original_price: OptionalMoney = None  # before them
    seller_discount: OptionalMoney = None
    platform_discount: OptionalMoney = None
    item_tax: list[TTItemTax] | None = None
    display_status: str | None = None
    cancel_user: str | None = None
    cancel_reason: str | None = None
    package_id: OptionalId = None
    package_status: OptionalText = None
    tracking_number: OptionalText = None
    shipping_provider_name: OptionalText = None
    rts_time: int | None = None

    @property
    def gross_price(self) -> Decimal:
        """The unit's price before discounts, exactly as the API states it."""
        if self.original_price is not None:
            return self.original_price
        return self.sale_price + (self.seller_discount or 0) + (self.platform_discount or 0)


class TTPayment(ApiShape):
    currency: str
    sub_total: OptionalMoney = None
    shipping_fee: OptionalMoney = None
    total_amount: Decimal
    original_total_product_price: OptionalMoney = None
    original_shipping_fee: OptionalMoney = None
    seller_discount: OptionalMoney = None
    platform_discount: OptionalMoney = None
    shipping_fee_seller_discount: OptionalMoney = None
    shipping_fee_platform_discount: OptionalMoney = None
    tax: OptionalMoney = None
    product_tax: OptionalMoney = None
    shipping_fee_tax: OptionalMoney = None


class TTDistrict(ApiShape):
    address_level: str | None = None
    address_level_name: str | None = None
    address_name: str | None = None


class TTAddress(ApiShape):
    region_code: str | None = None
    district_info: list[TTDistrict] = Field(default_factory=list)


class TTPackageRef(ApiShape):
    id: Id


class TTOrder(ApiShape):
    id: Id
    status: TikTokOrderStatus
    create_time: int
    update_time: int | None = None
    paid_time: int | None = None
    rts_time: int | None = None  # the seller marked it ready to ship
    collection_time: int | None = None  # the carrier collected it
    delivery_time: int | None = None
    cancel_time: int | None = None
    rts_sla_time: int | None = None
    user_id: str | None = None
    fulfillment_type: OptionalText = None
    shipping_type: OptionalText = None
    shipping_provider: OptionalText = None
    tracking_number: OptionalText = None
    packages: list[TTPackageRef] | None = None
    payment: TTPayment
    line_items: list[TTLineItem] = Field(min_length=1)
    recipient_address: TTAddress | None = None


class TTOrderPage(ApiShape):
    orders: list[Any] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int | None = None


# Every field of a statement transaction that is a charge of TikTok's, under its own name
# (API-NOTES 3.1 and the 202309 field descriptions). `affiliate_commission_before_pit` and
# `pit_amount` are left out: they split `affiliate_commission_amount`, not add to it.
# Shipping charges (actual, FBT/FBM shipping, insurance, signature confirmation) are
# `shipping_cost_amount`'s, which becomes the seller's shipping cost instead.
FEE_FIELDS = (
    "platform_commission_amount",
    "referral_fee_amount",
    "transaction_fee_amount",
    "affiliate_commission_amount",
    "affiliate_ads_commission_amount",
    "affiliate_partner_commission_amount",
    "fbt_fulfillment_fee_amount",
    "sfp_service_fee_amount",
    "refund_administration_fee_amount",
)
# The part of the API's `fee_amount` that no itemized field explains (a fee type newer
# than this client), kept under the total's own name so the breakdown still adds up.
UNITEMIZED_FEE = "fee_amount"


class TTFees(ApiShape):
    platform_commission_amount: OptionalMoney = None
    referral_fee_amount: OptionalMoney = None
    transaction_fee_amount: OptionalMoney = None
    affiliate_commission_amount: OptionalMoney = None
    affiliate_ads_commission_amount: OptionalMoney = None
    affiliate_partner_commission_amount: OptionalMoney = None
    fbt_fulfillment_fee_amount: OptionalMoney = None
    sfp_service_fee_amount: OptionalMoney = None
    refund_administration_fee_amount: OptionalMoney = None

    def fee(self, name: str) -> Decimal:
        value: Decimal | None = getattr(self, name)
        return value if value is not None else Decimal(0)


class TTSkuStatement(TTFees):
    sku_id: Id
    quantity: int | None = None


class TTStatementTransaction(TTFees):
    id: str | None = None
    status: str | None = None
    statement_id: str | None = None
    statement_time: int | None = None
    currency: str
    settlement_amount: Decimal
    fee_amount: OptionalMoney = None
    revenue_amount: OptionalMoney = None
    shipping_cost_amount: OptionalMoney = None
    adjustment_amount: OptionalMoney = None
    customer_refund_amount: OptionalMoney = None
    sku_statement_transactions: list[TTSkuStatement] | None = None


class TTOrderStatement(ApiShape):
    order_id: Id
    order_create_time: int | None = None
    statement_transactions: list[TTStatementTransaction] | None = None


class TTStatement(ApiShape):
    id: Id
    statement_time: int | None = None


class TTStatementPage(ApiShape):
    statements: list[TTStatement] | None = None
    next_page_token: str = ""


class TTStatementRow(ApiShape):
    order_id: OptionalId = None
    adjustment_order_id: OptionalId = None


class TTStatementRowPage(ApiShape):
    statement_transactions: list[TTStatementRow] | None = None
    next_page_token: str = ""


class TTOrderStatusChange(ApiShape):
    order_id: Id
    order_status: TikTokOrderStatus
    is_on_hold_order: bool = False
    update_time: int


class TTPackageOrders(ApiShape):
    package_id: Id
    order_id_list: list[Id] = Field(default_factory=list)


class TTPackageUpdate(ApiShape):
    """Packages split or combined (`sc_type`): the orders to read again for their shipments."""

    sc_type: str | None = None
    role_type: str | None = None
    package_list: list[TTPackageOrders] = Field(default_factory=list)
    update_time: int | None = None

    def order_ids(self) -> list[str]:
        return list(dict.fromkeys(i for p in self.package_list for i in p.order_id_list))


class TTWebhook(ApiShape):
    """A webhook notification; `type` 1 is an order status change, 4 a package update."""

    type: int
    tts_notification_id: str | None = None
    shop_id: Id
    timestamp: int
    data: dict[str, Any] = Field(default_factory=dict)

    def order_status_change(self) -> TTOrderStatusChange | None:
        return TTOrderStatusChange.model_validate(self.data) if self.type == 1 else None

    def package_update(self) -> TTPackageUpdate | None:
        return TTPackageUpdate.model_validate(self.data) if self.type == 4 else None


# --- mapping to the canonical model ------------------------------------------------------


def _utc(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def _clean(text: str | None) -> str | None:
    text = text.strip() if text else None
    return text or None


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    """The exact sum of the amounts the API stated; None when it stated none of them."""
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


_LISTING_STATUS = {
    "ACTIVATE": ListingStatus.ACTIVE,
    "SELLER_DEACTIVATED": ListingStatus.PAUSED,
    "PLATFORM_DEACTIVATED": ListingStatus.SUPPRESSED,
    "FREEZE": ListingStatus.SUPPRESSED,
    "PENDING": ListingStatus.UNDER_REVIEW,
    "FAILED": ListingStatus.SUPPRESSED,
    "DRAFT": ListingStatus.DRAFT,
    "DELETED": ListingStatus.CLOSED,
}
# Statuses TikTok's review put a product in: its detail says why (audit_failed_reasons).
REVIEWED_STATUSES = frozenset({"FAILED", "FREEZE", "PLATFORM_DEACTIVATED"})


def listing_status(raw: str) -> ListingStatus:
    """A status this client does not know is not assumed buyable."""
    return _LISTING_STATUS.get(raw, ListingStatus.SUPPRESSED)


def status_reason(product: TTProduct) -> str | None:
    """Why a product is not on sale, in TikTok's words (None for an active product)."""
    if listing_status(product.status) is ListingStatus.ACTIVE:
        return None
    reasons = (
        text.strip()
        for failure in product.audit_failed_reasons or ()
        for text in failure.reasons
        if text and text.strip()
    )
    return "; ".join(dict.fromkeys(reasons)) or None


def listings_from_product(
    product: TTProduct, store_id: str, reason: str | None = None
) -> list[Listing]:
    """One canonical listing per SKU: TikTok products always have at least one SKU."""
    updated = product.update_time if product.update_time is not None else product.create_time
    reason = reason or status_reason(product)
    listings = []
    for sku in product.skus:
        quantities = [slot.quantity for slot in sku.inventory] if sku.inventory else None
        listings.append(
            Listing(
                store_id=store_id,
                listing_id=product.id,
                variation_id=sku.id,
                title=product.title,
                seller_sku=_clean(sku.seller_sku),
                status=listing_status(product.status),
                raw_status=product.status,
                status_reason=reason,
                price=sku.price.sale_price if sku.price else None,
                currency=sku.price.currency if sku.price else "BRL",
                available_quantity=sum(quantities) if quantities is not None else None,
                updated_at=_utc(updated) if updated is not None else None,
            )
        )
    return listings


def normalize_status(order: TTOrder) -> OrderStatus:
    """The canonical status; a delivered order whose every unit was refunded is a return."""
    status = STATUS_MAP[order.status]
    if status is OrderStatus.DELIVERED and all(
        line.display_status == RETURNED_LINE_STATUS for line in order.line_items
    ):
        return OrderStatus.RETURNED
    return status


def _unit_price(prices: Sequence[Decimal], line_amount: Decimal) -> Decimal:
    """The units' price when they share one; else their mean at the prices' precision
    (informative only: the line's amount is the exact sum of the units)."""
    if len(set(prices)) == 1:
        return prices[0]
    exponent = min(int(p.as_tuple().exponent) for p in prices)
    step = Decimal(1).scaleb(min(exponent, -2))
    return (line_amount / len(prices)).quantize(step, rounding=ROUND_HALF_EVEN)


def _order_item(line_no: int, units: Sequence[TTLineItem]) -> OrderItem:
    first = units[0]
    gross = [u.gross_price for u in units]
    line_amount = sum(gross, Decimal(0))
    taxes = [t.tax_amount for u in units for t in u.item_tax or ()]
    return OrderItem(
        line_no=line_no,
        line_ref=first.sku_id,
        listing_id=first.product_id,
        variation_id=first.sku_id,
        seller_sku=_clean(first.seller_sku),
        title=first.product_name,
        quantity=len(units),
        unit_price=_unit_price(gross, line_amount),
        line_amount=line_amount,
        discount_amount=line_amount - sum((u.sale_price for u in units), Decimal(0)),
        tax_amount=_sum(taxes),
    )


def _order_items(lines: Sequence[TTLineItem]) -> tuple[OrderItem, ...]:
    """TikTok's one-line-per-unit items folded into one line per SKU, so that the SKU id
    names the line (Finance's per-SKU fees refer to it). The line's amount is the exact
    sum of its units' prices before discounts; the discounts are beside it."""
    grouped: dict[str, list[TTLineItem]] = {}
    for line in lines:
        grouped.setdefault(line.sku_id, []).append(line)
    return tuple(
        _order_item(line_no, units) for line_no, units in enumerate(grouped.values(), start=1)
    )


def _buyer_place(address: TTAddress | None) -> tuple[str | None, str | None]:
    if address is None:
        return None, None
    by_level = {
        (d.address_level_name or "").strip().lower(): d.address_name for d in address.district_info
    }
    return _clean(by_level.get("city")), state_code(by_level.get("state"))


def status_events(order: TTOrder, current: OrderStatus) -> tuple[StatusEvent, ...]:
    """The instants TikTok states for each status the order has reached.

    Only statuses up to the current one count: a sample (or a stale replica) may carry a
    time for a step the order's status does not show yet. Shipped is the carrier's
    collection (the seller's ready-to-ship time when no collection time is given).
    """
    reached = STATUS_RANK[current]
    steps: list[tuple[OrderStatus, str, int | None]] = [
        (OrderStatus.PENDING, "UNPAID", order.create_time),
        (OrderStatus.PAID, "AWAITING_SHIPMENT", order.paid_time),
        (OrderStatus.SHIPPED, "IN_TRANSIT", order.collection_time or order.rts_time),
    ]
    if current is not OrderStatus.CANCELLED:
        steps.append((OrderStatus.DELIVERED, "DELIVERED", order.delivery_time))
    events = [
        StatusEvent(status=status, at=_utc(at), raw_status=raw)
        for status, raw, at in steps
        if at is not None and STATUS_RANK[status] <= reached
    ]
    if current is OrderStatus.CANCELLED and order.cancel_time is not None:
        events.append(
            StatusEvent(status=current, at=_utc(order.cancel_time), raw_status="CANCELLED")
        )
    return tuple(events)


# A package's own status (line_items[].package_status; the package detail's package_status).
PACKAGE_STATUS: dict[str, ShipmentStatus] = {
    "TO_FULFILL": ShipmentStatus.PENDING,
    "PROCESSING": ShipmentStatus.READY_TO_SHIP,
    "FULFILLING": ShipmentStatus.SHIPPED,
    "COMPLETED": ShipmentStatus.DELIVERED,
    "CANCELLED": ShipmentStatus.CANCELLED,
}
# What the order's status says of its packages, when a package has no status of its own.
_PACKAGE_STATUS_BY_ORDER: dict[str, ShipmentStatus] = {
    "UNPAID": ShipmentStatus.PENDING,
    "ON_HOLD": ShipmentStatus.PENDING,
    "AWAITING_SHIPMENT": ShipmentStatus.PENDING,
    "AWAITING_COLLECTION": ShipmentStatus.READY_TO_SHIP,
    "PARTIALLY_SHIPPING": ShipmentStatus.SHIPPED,
    "IN_TRANSIT": ShipmentStatus.SHIPPED,
    "DELIVERED": ShipmentStatus.DELIVERED,
    "COMPLETED": ShipmentStatus.DELIVERED,
    "CANCELLED": ShipmentStatus.CANCELLED,
}
_ON_THE_WAY = frozenset({ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED})
FULFILLED_BY_TIKTOK = "FULFILLMENT_BY_TIKTOK"


def _package_status(order: TTOrder, raw: str) -> ShipmentStatus:
    status = PACKAGE_STATUS.get(raw) or _PACKAGE_STATUS_BY_ORDER[order.status]
    # A delivered order has every package delivered, whatever a lagging package says.
    if STATUS_MAP[order.status] is OrderStatus.DELIVERED and status is not ShipmentStatus.CANCELLED:
        return ShipmentStatus.DELIVERED
    return status


def _logistics(order: TTOrder) -> tuple[LogisticMode | None, str | None]:
    """FBT is TikTok's fulfilment; otherwise the seller ships, with TikTok's label
    (shipping_type TIKTOK) or their own carrier (SELLER)."""
    if order.fulfillment_type == FULFILLED_BY_TIKTOK:
        return LogisticMode.MARKETPLACE, FULFILLED_BY_TIKTOK
    if order.fulfillment_type is None:
        return None, order.shipping_type
    return LogisticMode.SELLER, order.shipping_type


def shipments(order: TTOrder, store_id: str) -> tuple[Shipment, ...]:
    """One shipment per package of the order (none before payment creates a package).

    A package's lines carry its status, tracking number and carrier; an order with one
    package lends it the order-level tracking and carrier. The ship-by deadline is
    `rts_sla_time`, the latest time to have the package ready to ship: the seller's own
    deadline (TikTok's later `tts_sla_time` also depends on the carrier's collection).
    """
    packages = [p.id for p in order.packages or ()]
    city, state = _buyer_place(order.recipient_address)
    mode, kind = _logistics(order)
    found = []
    for package_id in dict.fromkeys(packages):
        single = len(packages) == 1
        lines = [line for line in order.line_items if line.package_id == package_id]
        if not lines and single:
            lines = list(order.line_items)
        first = lines[0] if lines else None
        raw = (first.package_status if first else None) or order.status
        status = _package_status(order, raw)
        shipped = order.collection_time or (first.rts_time if first else None) or order.rts_time
        found.append(
            Shipment(
                store_id=store_id,
                shipment_id=package_id,
                order_id=order.id,
                status=status,
                raw_status=raw,
                logistic_mode=mode,
                logistic_type=kind,
                carrier=(first.shipping_provider_name if first else None)
                or (order.shipping_provider if single else None),
                tracking_number=(first.tracking_number if first else None)
                or (order.tracking_number if single else None),
                ship_by=_utc(order.rts_sla_time) if order.rts_sla_time else None,
                shipped_at=_utc(shipped) if shipped and status in _ON_THE_WAY else None,
                delivered_at=(
                    _utc(order.delivery_time)
                    if order.delivery_time and status is ShipmentStatus.DELIVERED
                    else None
                ),
                buyer_city=city,
                buyer_state=state,
                updated_at=_utc(order.update_time) if order.update_time else None,
            )
        )
    return tuple(found)


def order_from_tiktok(order: TTOrder, store: Store, buyer_salt: str) -> Order:
    """The order's money as TikTok states it: lines before discounts (Σ of the units'
    original prices), the discounts split by who funds them, the shipping and taxes the
    buyer paid and the total. Fees come later, from Finance (`get_order_facts`)."""
    items = _order_items(order.line_items)
    created_at = _utc(order.create_time)
    updated = order.update_time if order.update_time is not None else order.create_time
    city, state = _buyer_place(order.recipient_address)
    payment = order.payment
    seller = _sum((payment.seller_discount, payment.shipping_fee_seller_discount))
    platform = _sum((payment.platform_discount, payment.shipping_fee_platform_discount))
    tax = (
        payment.tax
        if payment.tax is not None
        else _sum((payment.product_tax, payment.shipping_fee_tax))
    )
    status = normalize_status(order)
    return Order(
        store_id=store.store_id,
        order_id=order.id,
        status=status,
        raw_status=order.status,
        created_at=created_at,
        updated_at=_utc(updated),
        business_date=store.business_date(created_at),
        currency=payment.currency,
        items_amount=sum((i.line_amount for i in items), Decimal(0)),
        discount_amount=_sum((seller, platform)),
        seller_discount_amount=seller,
        marketplace_discount_amount=platform,
        shipping_paid_by_buyer=payment.shipping_fee,
        tax_amount=tax,
        total_amount=payment.total_amount,
        buyer_hash=hash_buyer(MARKETPLACE, _clean(order.user_id), buyer_salt),
        buyer_city=city,
        buyer_state=state,
        items=items,
        shipments=shipments(order, store.store_id),
        status_events=status_events(order, status),
    )


def parse_orders(raws: Sequence[Any], store: Store, buyer_salt: str) -> Page[Order]:
    return parse_records(
        raws,
        "tiktok.orders",
        store.store_id,
        key=lambda raw: raw.get("id"),
        build=lambda raw: order_from_tiktok(TTOrder.model_validate(raw), store, buyer_salt),
    )


def parse_products(raws: Sequence[Any], store_id: str) -> tuple[Page[Listing], list[TTProduct]]:
    """Listings of a page of products, and the validated products themselves."""
    page: Page[Listing] = Page()
    products = []
    for raw in raws:
        key = raw.get("id") if isinstance(raw, dict) else None
        try:
            product = TTProduct.model_validate(raw)
        except ValidationError as exc:
            reason = describe_validation_error(exc)
            page.rejects.append(reject("tiktok.products", store_id, key, reason, raw))
            continue
        products.append(product)
        page.records.extend(listings_from_product(product, store_id))
    return page, products


# --- settlement: Finance statement transactions ------------------------------------------

SETTLED = "SETTLED"


def _fee_lines(transactions: Sequence[TTStatementTransaction]) -> list[FeeLine]:
    """Every fee field as charged (positive), per SKU where the SKU rows state it and for
    the order as a whole for the rest, plus what the total leaves unitemized."""
    charged: dict[tuple[str, str | None], Decimal] = {}

    def add(name: str, line_ref: str | None, signed: Decimal) -> None:
        if signed:
            key = (name, line_ref)
            charged[key] = charged.get(key, Decimal(0)) - signed

    for tx in transactions:
        for name in FEE_FIELDS:
            on_skus = Decimal(0)
            for sku in tx.sku_statement_transactions or ():
                add(name, sku.sku_id, sku.fee(name))
                on_skus += sku.fee(name)
            add(name, None, tx.fee(name) - on_skus)
        if tx.fee_amount is not None:
            add(UNITEMIZED_FEE, None, tx.fee_amount - sum(map(tx.fee, FEE_FIELDS), Decimal(0)))
    return [
        FeeLine(fee_type=name, amount=amount, line_ref=line_ref)
        for (name, line_ref), amount in charged.items()
        if amount
    ]


def settlement_from_statement(statement: TTOrderStatement, store_id: str) -> OrderSettlement:
    """The seller's side of an order as Finance states it: no transaction yet means not
    settled; settled transactions give the fees, shipping cost, refund and payout.

    TikTok signs amounts from the seller's side (a fee is negative), so a charge is the
    negated amount; `settlement_amount` is the payout. An order with several transactions
    (an adjustment after the sale) adds them up.
    """
    txs = statement.statement_transactions or []
    if not txs:
        return OrderSettlement(store_id=store_id, order_id=statement.order_id)
    fees = _fee_lines(txs)
    shipping = _sum(tx.shipping_cost_amount for tx in txs)
    refund = _sum(tx.customer_refund_amount for tx in txs)
    final = all(tx.status == SETTLED for tx in txs)
    times = [tx.statement_time for tx in txs if tx.statement_time is not None]
    return OrderSettlement(
        store_id=store_id,
        order_id=statement.order_id,
        currency=txs[0].currency,
        fee_amount=sum((f.amount for f in fees), Decimal(0)),
        seller_shipping_cost=-shipping if shipping is not None else None,
        refund_amount=abs(refund) if refund is not None else None,
        payout_amount=sum((tx.settlement_amount for tx in txs), Decimal(0)),
        fees_final=final,
        settled_at=_utc(max(times)) if final and times else None,
        fees=tuple(fees),
    )


def unpaid_settlement(order: TTOrder, store_id: str) -> OrderSettlement:
    """An order cancelled before payment: no money moved, and none ever will."""
    zero = Decimal(0)
    at = order.cancel_time or order.update_time or order.create_time
    return OrderSettlement(
        store_id=store_id,
        order_id=order.id,
        currency=order.payment.currency,
        fee_amount=zero,
        seller_shipping_cost=zero,
        refund_amount=zero,
        payout_amount=zero,
        fees_final=True,
        settled_at=_utc(at),
    )


def parse_order_statement(raw: Any, order_id: str, store_id: str) -> OrderSettlement | Rejected:
    """One order's statement transactions, or the reject that says why they do not parse."""
    try:
        return settlement_from_statement(TTOrderStatement.model_validate(raw), store_id)
    except ValidationError as exc:
        reason = describe_validation_error(exc)
        return reject("tiktok.statement_transactions", store_id, order_id, reason, raw)


def _data(model: type[_M], body: Mapping[str, Any] | None, operation: str) -> _M:
    """The `data` of an answer in the shape we expect, or a loud, value-free failure."""
    try:
        return model.model_validate(body or {})
    except ValidationError as exc:
        raise MarketplaceError(
            MARKETPLACE, operation, f"unexpected answer: {describe_validation_error(exc)}"
        ) from None


def _expiry(value: int, now: float) -> datetime:
    # The notes say absolute epoch seconds; a small number can only be a lifetime in seconds.
    return _utc(value if value > 1_000_000_000 else int(now) + value)


_P = TypeVar("_P", TTStatementPage, TTStatementRowPage)

# Statuses after which TikTok may have settled an order: it settles after delivery (and a
# return, when there is one); a cancellation after payment settles the refund.
_SETTLING_STATUSES = frozenset({"DELIVERED", "COMPLETED"})


def _may_be_settled(order: TTOrder) -> bool:
    if order.status == "CANCELLED":
        return order.paid_time is not None
    return order.status in _SETTLING_STATUSES


def _settles_after(order: TTOrder) -> int:
    """No statement settles an order before it was delivered (or cancelled)."""
    return order.delivery_time or order.cancel_time or order.update_time or order.create_time


# --- OAuth ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TikTokApp:
    """The registered application, and where its hosts live (production or sandbox).

    With a `service_id` (apps created on the current Partner Center) sellers authorize on
    the services host; without it, on the auth host's legacy `/oauth/authorize` page.
    """

    app_key: str
    app_secret: SecretStr
    service_id: str | None = None
    api_url: str = PRODUCTION_API_URL
    auth_url: str = PRODUCTION_AUTH_URL
    services_url: str = PRODUCTION_SERVICES_URL
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    # The burst the API grants (None: one second's worth); the budget then holds it too.
    burst: float | None = None
    http: HttpSettings = field(default_factory=HttpSettings)

    def new_http(
        self, transport: httpx.BaseTransport | None = None, shop_id: str | None = None
    ) -> ApiHttp:
        """An HTTP client paced per app and shop (TikTok's quotas are per shop and app)."""
        key = f"{MARKETPLACE}:{self.app_key}" + (f":{shop_id}" if shop_id else "")
        limiter = shared_limiter(
            key, self.requests_per_second, self.burst or self.requests_per_second
        )
        return ApiHttp(MARKETPLACE, self.api_url, classify, limiter, self.http, transport)

    def authorization_url(self, state: str | None = None) -> tuple[str, str]:
        """Where to send the seller to grant access, and the `state` to check on return."""
        state = state or secrets.token_urlsafe(16)
        if self.service_id:
            query = urlencode({"service_id": self.service_id, "state": state})
            return f"{self.services_url.rstrip('/')}/open/authorize?{query}", state
        query = urlencode({"app_key": self.app_key, "state": state})
        return f"{self.auth_url.rstrip('/')}/oauth/authorize?{query}", state

    # --- signed requests -----------------------------------------------------------

    def signed_request(
        self,
        http: ApiHttp,
        method: str,
        path: str,
        access_token: str,
        *,
        shop_cipher: str | None = None,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> httpx.Request:
        """A request to the API host, signed now (build one per attempt)."""
        params = {"app_key": self.app_key, "timestamp": str(int(time.time()))}
        if shop_cipher is not None:
            params["shop_cipher"] = shop_cipher
        params.update(query or {})
        raw = body if body is not None and method != "GET" else b""
        params["sign"] = sign_request(self.app_secret.get_secret_value(), path, params, raw)
        headers = {"x-tts-access-token": access_token, "content-type": "application/json"}
        return http.build(method, path, params=params, content=raw or None, headers=headers)

    # --- tokens --------------------------------------------------------------------

    def _token_call(self, http: ApiHttp, path: str, query: dict[str, str]) -> TokenSet:
        query = {
            "app_key": self.app_key,
            "app_secret": self.app_secret.get_secret_value(),
            **query,
        }
        url = f"{self.auth_url.rstrip('/')}{path}"
        operation = "oauth.token_get" if path.endswith("/get") else "oauth.token_refresh"
        response = http.send(operation, lambda: http.build("GET", url, params=query))
        envelope = _data(TTEnvelope, response.json(), operation)
        data = _data(TTTokenData, envelope.data, operation)
        now = time.time()
        return TokenSet(
            access_token=data.access_token,
            refresh_token=data.refresh_token,
            access_expires_at=_expiry(data.access_token_expire_in, now),
            refresh_expires_at=(
                _expiry(data.refresh_token_expire_in, now) if data.refresh_token_expire_in else None
            ),
        )

    def authorized_shops(self, http: ApiHttp, tokens: TokenSet) -> list[TTShop]:
        """The shops a grant covers, with the cipher each shop-scoped call needs."""
        token = tokens.access_token.get_secret_value()
        response = http.send(
            "authorization.shops",
            lambda: self.signed_request(http, "GET", SHOPS_PATH, token),
        )
        envelope = _data(TTEnvelope, response.json(), "authorization.shops")
        return _data(TTShopsData, envelope.data, "authorization.shops").shops

    def exchange_code(
        self, http: ApiHttp, code: str, shop_id: str | None = None
    ) -> tuple[str, TokenSet]:
        """Trade an authorization code for tokens; returns (shop id, tokens with its cipher).

        A grant can cover several shops; name the one to connect when it does.
        """
        tokens = self._token_call(
            http, "/api/v2/token/get", {"auth_code": code, "grant_type": "authorized_code"}
        )
        shops = self.authorized_shops(http, tokens)
        chosen = [s for s in shops if shop_id in (None, s.id)]
        if len(chosen) != 1:
            wanted = f"shop {shop_id}" if shop_id else "exactly one shop"
            raise MarketplaceError(
                MARKETPLACE,
                "authorization.shops",
                f"the grant covers {len(shops)} shop(s), not {wanted}: "
                f"{', '.join(s.id for s in shops) or 'none'}",
            )
        shop = chosen[0]
        extra = {"shop_id": shop.id, "shop_cipher": shop.cipher}
        return shop.id, tokens.model_copy(update={"extra": extra})

    def refresh(self, http: ApiHttp, tokens: TokenSet) -> TokenSet:
        """New tokens for a grant; the shop cipher stays with them."""
        if tokens.refresh_token is None:
            raise MarketplaceError(MARKETPLACE, "oauth.token_refresh", "no refresh token stored")
        fresh = self._token_call(
            http,
            "/api/v2/token/refresh",
            {
                "refresh_token": tokens.refresh_token.get_secret_value(),
                "grant_type": "refresh_token",
            },
        )
        return fresh.model_copy(update={"extra": dict(tokens.extra)})

    def verify_webhook(self, raw_body: bytes, authorization: str | None) -> bool:
        """Whether a webhook's `Authorization` header signs its raw body with our secret."""
        expected = webhook_signature(self.app_key, self.app_secret.get_secret_value(), raw_body)
        given = (authorization or "").strip().lower().encode("utf-8", "replace")
        return hmac.compare_digest(expected.encode(), given)


# --- the client ----------------------------------------------------------------------------


@dataclass
class _StatementWalk:
    """A walk through Finance statements, resumed across calls until it is finished."""

    started: float
    since: int | None = None
    segments: list[Iterator[set[str]]] = field(default_factory=list)
    settled: set[str] = field(default_factory=set)
    seen: int = 0  # candidates asked about since the walk started
    spent: int = 0  # pages read


class TikTokClient(TikTokWrites):
    """One TikTok shop (seller id = shop id). Publishing and fulfilment writes come from
    `TikTokWrites` (tiktok_writes.py)."""

    settlement_days = SETTLEMENT_DAYS
    facts_per_run = FACTS_PER_RUN

    def __init__(
        self,
        app: TikTokApp,
        store: Store,
        token_store: TokenStore,
        buyer_salt: str,
        http: ApiHttp | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.http = http or app.new_http(shop_id=store.seller_id)
        self._buyer_salt = buyer_salt
        self.tokens = TokenManager(
            token_store, store.store_id, lambda stale: app.refresh(self.http, stale)
        )
        # Warehouse ids per (product, SKU), learned from product searches and details.
        self._warehouses: dict[tuple[str, str], tuple[str, ...]] = {}
        self._walk: _StatementWalk | None = None

    def close(self) -> None:
        self.http.close()

    def _shop_cipher(self, tokens: TokenSet) -> str:
        cipher = tokens.extra.get("shop_cipher")
        if not cipher:
            raise NotConnectedError(
                f"store {self.store.store_id} has no shop_cipher: connect it again"
            )
        return cipher

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """A signed, shop-scoped call; returns the envelope's `data`."""
        raw = _dumps(body) if body is not None else None
        sent: dict[str, str] = {}
        refused: list[AuthError] = []

        def build() -> httpx.Request:
            sent.clear()
            try:
                tokens = self.tokens.tokens
            except AuthError as exc:
                refused.append(exc)
                raise
            sent["token"] = tokens.access_token.get_secret_value()
            return self.app.signed_request(
                self.http,
                method,
                path,
                sent["token"],
                shop_cipher=self._shop_cipher(tokens),
                query=query,
                body=raw,
            )

        def reauthenticate() -> None:
            # The auth host refused our refresh token before anything was sent: refreshing
            # again with the same token cannot help, so the refusal is the answer.
            if "token" not in sent:
                raise refused[-1]
            self.tokens.invalidate(sent["token"])

        response = self.http.send(operation, build, reauthenticate=reauthenticate)
        return _data(TTEnvelope, response.json(), operation).data or {}

    # --- listings --------------------------------------------------------------------

    def _remember_warehouses(self, products: Sequence[TTProduct]) -> None:
        for product in products:
            for sku in product.skus:
                if sku.inventory is not None:
                    warehouses = tuple(dict.fromkeys(slot.warehouse_id for slot in sku.inventory))
                    self._warehouses[(product.id, sku.id)] = warehouses

    def iter_listings(self) -> Iterator[Page[Listing]]:
        """Every product of the shop, as one listing per SKU, a page at a time."""
        token = ""
        while True:
            query = {"page_size": str(PRODUCTS_PAGE)}
            if token:
                query["page_token"] = token
            data = self._call("products.search", "POST", PRODUCTS_SEARCH_PATH, query, {})
            page_data = _data(TTProductPage, data, "products.search")
            page, products = parse_products(page_data.products, self.store.store_id)
            self._remember_warehouses(products)
            yield self._with_reasons(page, products)
            token = self._next_token(token, page_data.next_page_token, "products.search")
            if not token:
                return

    def _with_reasons(self, page: Page[Listing], products: Sequence[TTProduct]) -> Page[Listing]:
        """The search does not say why TikTok refused or froze a product; its detail does
        (one call per such product: a few in a healthy shop)."""
        reasons: dict[str, str | None] = {}
        for product in products:
            if product.status in REVIEWED_STATUSES:
                try:
                    reasons[product.id] = status_reason(self.get_product(product.id))
                except (InvalidRequestError, NotFoundError):
                    continue  # gone since the search: the next sync sees it
        if not any(reasons.values()):
            return page
        page.records = [
            lst.model_copy(update={"status_reason": reasons[lst.listing_id]})
            if reasons.get(lst.listing_id)
            else lst
            for lst in page.records
        ]
        return page

    def get_product(self, product_id: str) -> TTProduct:
        path = PRODUCT_PATH.format(product_id=product_id)
        product = _data(TTProduct, self._call("products.get", "GET", path), "products.get")
        self._remember_warehouses([product])
        return product

    @staticmethod
    def _next_token(used: str, given: str, operation: str) -> str:
        if given and given == used:
            raise MarketplaceError(MARKETPLACE, operation, "the API returned the same page token")
        return given

    # --- orders ----------------------------------------------------------------------

    def iter_orders(
        self, start: datetime, end: datetime, by: TimeField = "created"
    ) -> Iterator[Page[Order]]:
        """Every order created (or updated) in [start, end), a page at a time."""
        # TikTok times are whole seconds: t >= start ⇔ t >= ceil(start), likewise for end.
        lo, hi = math.ceil(start.timestamp()), math.ceil(end.timestamp())
        if lo >= hi:
            return
        time_field = "create_time" if by == "created" else "update_time"
        body = {f"{time_field}_ge": lo, f"{time_field}_lt": hi}
        token = ""
        while True:
            query = {"page_size": str(ORDERS_PAGE), "sort_field": time_field, "sort_order": "ASC"}
            if token:
                query["page_token"] = token
            data = self._call("orders.search", "POST", ORDERS_SEARCH_PATH, query, body)
            page_data = _data(TTOrderPage, data, "orders.search")
            yield parse_orders(page_data.orders, self.store, self._buyer_salt)
            token = self._next_token(token, page_data.next_page_token, "orders.search")
            if not token:
                return

    def get_orders(self, order_ids: Sequence[str]) -> Page[Order]:
        """The orders with these ids; ids TikTok does not know are simply absent."""
        page: Page[Order] = Page()
        wanted = list(dict.fromkeys(i.strip() for i in order_ids if i and i.strip()))
        for chunk in chunked(wanted, ORDER_IDS_MAX):
            data = self._call("orders.get", "GET", ORDERS_GET_PATH, {"ids": ",".join(chunk)})
            parsed = parse_orders(
                _data(TTOrderPage, data, "orders.get").orders, self.store, self._buyer_salt
            )
            page.records += parsed.records
            page.rejects += parsed.rejects
        return page

    # --- order facts: settlement, shipments, status instants --------------------------

    def _order_payloads(self, order_ids: Sequence[str]) -> Page[TTOrder]:
        """The orders' detail as TikTok shows it now; unknown ids are simply absent."""
        page: Page[TTOrder] = Page()
        for chunk in chunked(order_ids, ORDER_IDS_MAX):
            data = self._call("orders.get", "GET", ORDERS_GET_PATH, {"ids": ",".join(chunk)})
            parsed = parse_records(
                _data(TTOrderPage, data, "orders.get").orders,
                "tiktok.orders",
                self.store.store_id,
                key=lambda raw: raw.get("id"),
                build=TTOrder.model_validate,
            )
            page.records += parsed.records
            page.rejects += parsed.rejects
        return page

    def get_order_facts(self, orders: Sequence[OrderRef]) -> Page[OrderFacts]:
        """Settlement, packages and status instants of these orders, as TikTok shows them.

        One order-detail call per 50 orders gives the packages and the instants. Finance
        is asked only about orders TikTok can have settled (delivered, or cancelled after
        payment): it settles after delivery and lists nothing before. Each such order
        costs one call, unless a walk through the statements since the oldest delivery
        has said which are settled: then only those are read (for their per-SKU fees).
        The bulk statement transactions alone would not do: they carry no SKU rows.
        """
        wanted = list(dict.fromkeys(o.order_id.strip() for o in orders if o.order_id.strip()))
        details = self._order_payloads(wanted)
        page: Page[OrderFacts] = Page(rejects=list(details.rejects))
        settlements = self._settlements([o for o in details.records if _may_be_settled(o)])
        for order in details.records:
            settlement = settlements.get(order.id)
            if isinstance(settlement, Rejected):
                page.rejects.append(settlement)
                settlement = None
            elif order.id not in settlements:
                settlement = self._without_statement(order)
            status = normalize_status(order)
            page.records.append(
                OrderFacts(
                    store_id=self.store.store_id,
                    order_id=order.id,
                    settlement=settlement,
                    shipments=shipments(order, self.store.store_id),
                    status_events=status_events(order, status),
                )
            )
        return page

    def _without_statement(self, order: TTOrder) -> OrderSettlement:
        if order.status == "CANCELLED" and order.paid_time is None:
            return unpaid_settlement(order, self.store.store_id)
        return OrderSettlement(
            store_id=self.store.store_id, order_id=order.id, currency=order.payment.currency
        )

    def _settlements(self, candidates: Sequence[TTOrder]) -> dict[str, OrderSettlement | Rejected]:
        """Finance's verdict on each order that may be settled (absent: not settled yet)."""
        if not candidates:
            return {}
        settled = self._settled_by_statements(candidates)
        asked = [o.id for o in candidates if settled is None or o.id in settled]
        found: dict[str, OrderSettlement | Rejected] = {}
        for order_id, result in zip(asked, in_flight(self._order_statement, asked), strict=True):
            # No transaction yet (payout unknown): the order is simply not settled.
            if isinstance(result, Rejected) or result.payout_amount is not None:
                found[order_id] = result
        return found

    def _order_statement(self, order_id: str) -> OrderSettlement | Rejected:
        path = ORDER_STATEMENT_PATH.format(order_id=order_id)
        raw = self._call("finance.order_statement_transactions", "GET", path)
        return parse_order_statement(raw, order_id, self.store.store_id)

    def _settled_by_statements(self, candidates: Sequence[TTOrder]) -> set[str] | None:
        """Every order the statements since the candidates' delivery settle, or None while
        that walk is not finished (then asking each candidate is the way).

        The walk pays for itself: each call adds a quarter of its candidates to its credit,
        one page costs one, and an unfinished walk goes on at the next call of this client
        (the refresh asks in chunks). A finished walk serves later calls for a while.
        """
        walk = self._walk
        if walk is None or time.monotonic() - walk.started > STATEMENT_WALK_TTL:
            walk = self._walk = _StatementWalk(started=time.monotonic())
        since = min(_settles_after(o) for o in candidates) - 86_400
        if walk.since is None or since < walk.since:
            walk.segments.append(self._statement_pages(since, walk.since))
            walk.since = since
        walk.seen += len(candidates)
        while walk.segments and walk.spent < walk.seen // STATEMENT_WALK_SHARE:
            try:
                found = next(walk.segments[0], None)
            except Exception:
                self._walk = None  # a walk cut short says nothing of what it did not read
                raise
            if found is None:
                walk.segments.pop(0)
                continue
            walk.spent += 1
            walk.settled |= found
        return None if walk.segments else walk.settled

    def _statement_pages(self, since: int, until: int | None) -> Iterator[set[str]]:
        """One Finance page per step: the statements closed in [since, until), then each
        one's transactions; yields the order ids each page names."""
        query = {"statement_time_ge": str(since), "sort_field": "statement_time"}
        if until is not None:
            query["statement_time_lt"] = str(until)
        statement_ids: list[str] = []
        for page in self._finance_pages(
            "finance.statements", STATEMENTS_PATH, query, TTStatementPage
        ):
            statement_ids += [s.id for s in page.statements or ()]
            yield set()
        for statement_id in statement_ids:
            for rows in self._finance_pages(
                "finance.statement_transactions",
                STATEMENT_TRANSACTIONS_PATH.format(statement_id=statement_id),
                {"sort_field": "order_create_time"},
                TTStatementRowPage,
            ):
                yield {
                    order_id
                    for row in rows.statement_transactions or ()
                    for order_id in (row.order_id, row.adjustment_order_id)
                    if order_id
                }

    def _finance_pages(
        self, operation: str, path: str, query: Mapping[str, str], shape: type[_P]
    ) -> Iterator[_P]:
        token = ""
        while True:
            sent = {**query, "page_size": str(STATEMENTS_PAGE)}
            if token:
                sent["page_token"] = token
            page = _data(shape, self._call(operation, "GET", path, sent), operation)
            yield page
            token = self._next_token(token, page.next_page_token, operation)
            if not token:
                return

    # --- stock -----------------------------------------------------------------------

    def _warehouse_of(self, product_id: str, sku_id: str, fresh: bool) -> str:
        key = (product_id, sku_id)
        if fresh or key not in self._warehouses:
            product = self.get_product(product_id)
            if all(sku.id != sku_id for sku in product.skus):
                raise InvalidRequestError(
                    MARKETPLACE,
                    "products.inventory_update",
                    f"SKU {sku_id} is not part of product {product_id}",
                )
        warehouses = self._warehouses.get(key, ())
        if len(warehouses) != 1:
            # The canonical quantity is one number; splitting it over warehouses is a policy
            # this client does not guess.
            raise InvalidRequestError(
                MARKETPLACE,
                "products.inventory_update",
                f"SKU {sku_id} of product {product_id} is stocked in {len(warehouses)} "
                "warehouses; exactly one is supported",
            )
        return warehouses[0]

    def set_available_quantity(
        self, listing_id: str, variation_id: str, quantity: int
    ) -> dict[str, Any]:
        """Publish a SKU's quantity in the shop's warehouse; returns the API's `data`."""
        if not variation_id:
            raise ValueError("TikTok stock is set per SKU: variation_id (the SKU id) is required")
        if quantity < 0:
            raise ValueError("quantity must not be negative")
        path = INVENTORY_UPDATE_PATH.format(product_id=listing_id)
        for fresh in (False, True):
            warehouse = self._warehouse_of(listing_id, variation_id, fresh)
            body = {
                "skus": [
                    {
                        "id": variation_id,
                        "inventory": [{"warehouse_id": warehouse, "quantity": quantity}],
                    }
                ]
            }
            try:
                return self._call("products.inventory_update", "POST", path, body=body)
            except InvalidRequestError as exc:
                # A warehouse learned earlier may have been replaced: look it up once more.
                if fresh or exc.code != str(WAREHOUSE_UNKNOWN_CODE):
                    raise
        raise AssertionError("unreachable: the second attempt returns or raises")


def parse_webhook(raw: Mapping[str, Any]) -> TTWebhook:
    return TTWebhook.model_validate(raw)


def webhook_order_status(change: TTOrderStatusChange) -> OrderStatus:
    """The canonical status a webhook announces (returns only show on the order itself)."""
    return STATUS_MAP[change.order_status]
