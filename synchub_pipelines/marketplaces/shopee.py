"""Shopee Open Platform v2 client: shop authorization, items, orders, stock and categories.

Protocol facts this module relies on (API-NOTES §2):
- Every call carries `partner_id`, `timestamp` (unix seconds, valid for 5 minutes) and
  `sign` in the query. `sign` is the lowercase hex HMAC-SHA256, keyed with the partner key,
  of `partner_id + api_path + timestamp` (public calls: authorization and tokens) or
  `partner_id + api_path + timestamp + access_token + shop_id` (shop calls). Shop calls also
  put `access_token` and `shop_id` in the query. GET sends everything else in the query,
  POST a JSON body.
- The seller consents at `/api/v2/shop/auth_partner`, which redirects with `code` and
  `shop_id`. `auth/token/get` trades the single-use code for a 4 h access token and a
  30-day refresh token; `auth/access_token/get` trades the refresh token for a new pair and
  the old refresh token stops working at once, so refreshes are single-flight and the new
  pair is stored before the new access token is used (`tokens.TokenManager`).
- Answers are `{request_id, error, message, warning?, response}`; `error == ""` is success
  whatever the HTTP status, so errors are read from `error`, not from the status.
- Items page by offset (≤ 100), details come ≤ 50 ids a call, models one item a call;
  orders list by create or update time in windows of at most 15 days with a cursor
  (≤ 100 a page), details ≤ 50 order_sn a call.

Shopee publishes no numeric rate limit; the client paces itself at `requests_per_second`
per partner and shop, and a 429 or `error_rate_limit` slows every caller of the process.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, BeforeValidator, Field, SecretStr, ValidationError

from synchub_pipelines.marketplaces.base import (
    ApiShape,
    Page,
    TimeField,
    blank_to_none,
    chunked,
    describe_validation_error,
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
from synchub_pipelines.marketplaces.tokens import TokenManager, TokenSet, TokenStore
from synchub_pipelines.models import (
    Listing,
    Marketplace,
    Order,
    OrderItem,
    OrderStatus,
    Rejected,
    Store,
    hash_buyer,
)

MARKETPLACE = Marketplace.SHOPEE.value
PRODUCTION_API_URL = "https://partner.shopeemobile.com"
DEFAULT_REQUESTS_PER_SECOND = 20.0

AUTH_PARTNER_PATH = "/api/v2/shop/auth_partner"
TOKEN_GET_PATH = "/api/v2/auth/token/get"  # noqa: S105 - a URL path
TOKEN_REFRESH_PATH = "/api/v2/auth/access_token/get"  # noqa: S105 - a URL path
ITEM_LIST_PATH = "/api/v2/product/get_item_list"
ITEM_BASE_INFO_PATH = "/api/v2/product/get_item_base_info"
MODEL_LIST_PATH = "/api/v2/product/get_model_list"
UPDATE_STOCK_PATH = "/api/v2/product/update_stock"
CATEGORY_PATH = "/api/v2/product/get_category"
ATTRIBUTE_TREE_PATH = "/api/v2/product/get_attribute_tree"
CATEGORY_RECOMMEND_PATH = "/api/v2/product/category_recommend"
ORDER_LIST_PATH = "/api/v2/order/get_order_list"
ORDER_DETAIL_PATH = "/api/v2/order/get_order_detail"
ESCROW_BATCH_PATH = "/api/v2/payment/get_escrow_detail_batch"

ITEMS_PAGE = 100
ITEM_IDS_MAX = 50
ORDERS_PAGE = 100
ORDER_SNS_MAX = 50
STOCK_ENTRIES_MAX = 50
CATEGORY_IDS_MAX = 20
MAX_ORDER_WINDOW_SECONDS = 15 * 86_400
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
# Listed items in every state a seller can still act on (deleted items are gone for good).
LISTED_ITEM_STATUSES = ("NORMAL", "UNLIST", "BANNED", "REVIEWING")
# What get_order_detail leaves out unless asked: lines, money, buyer id and place.
ORDER_DETAIL_FIELDS = (
    "buyer_user_id",
    "item_list",
    "pay_time",
    "recipient_address",
    "estimated_shipping_fee",
    "actual_shipping_fee",
    "actual_shipping_fee_confirmed",
    "total_amount",
)

# `error` values. The doc's common list spells the token error "invalid_acceess_token";
# live answers use both spellings.
AUTH_ERRORS = frozenset(
    {
        "error_auth",
        "error_sign",
        "invalid_access_token",
        "invalid_acceess_token",
        "error_permission",
        "invalid_code",
        "invalid_shop_id",
        "error_shop_refresh_token",
        "refresh_token_expired",
        "shop_access_expired",
        "error_invalid_partner",
    }
)
RATE_LIMIT_ERRORS = frozenset({"error_rate_limit"})
TRANSIENT_ERRORS = frozenset({"error_server", "error_inner", "error_network", "error_busi_busy"})
NOT_FOUND_ERRORS = frozenset({"error_not_found", "error_item_not_found", "order_not_found"})
# The daily quota resets at 00:00 UTC+8: retrying within seconds cannot help.
DAILY_QUOTA_ERROR = "error_limit"

ShopeeOrderStatus = Literal[
    "UNPAID",
    "READY_TO_SHIP",
    "PROCESSED",
    "RETRY_SHIP",
    "INVOICE_PENDING",
    "SHIPPED",
    "TO_CONFIRM_RECEIVE",
    "COMPLETED",
    "IN_CANCEL",
    "CANCELLED",
    "TO_RETURN",
]

STATUS_MAP: dict[str, OrderStatus] = {
    "UNPAID": OrderStatus.PENDING,
    "READY_TO_SHIP": OrderStatus.PAID,
    "PROCESSED": OrderStatus.PAID,
    "RETRY_SHIP": OrderStatus.PAID,
    # Brazil: paid, waiting for the seller's invoice (NF-e) before it can ship.
    "INVOICE_PENDING": OrderStatus.PAID,
    "SHIPPED": OrderStatus.SHIPPED,
    # Delivered; only the buyer's confirmation is missing.
    "TO_CONFIRM_RECEIVE": OrderStatus.DELIVERED,
    "COMPLETED": OrderStatus.DELIVERED,
    # A cancellation the seller may still refuse: the units stay reserved until it happens.
    "IN_CANCEL": OrderStatus.PAID,
    "CANCELLED": OrderStatus.CANCELLED,
    "TO_RETURN": OrderStatus.RETURNED,
}


# --- signing -----------------------------------------------------------------------------


def sign_public(partner_key: str, partner_id: int, path: str, timestamp: int) -> str:
    """`sign` of a public call (authorization, tokens): partner_id + path + timestamp."""
    base = f"{partner_id}{path}{timestamp}"
    return hmac.new(partner_key.encode(), base.encode(), hashlib.sha256).hexdigest()


def sign_shop(
    partner_key: str, partner_id: int, path: str, timestamp: int, access_token: str, shop_id: int
) -> str:
    """`sign` of a shop call: partner_id + path + timestamp + access_token + shop_id."""
    base = f"{partner_id}{path}{timestamp}{access_token}{shop_id}"
    return hmac.new(partner_key.encode(), base.encode(), hashlib.sha256).hexdigest()


# --- errors ------------------------------------------------------------------------------


def classify(response: httpx.Response, operation: str) -> MarketplaceError | None:
    """Shopee's `{error, message, request_id}` (in a 200 or not) as an exception."""
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
    error = str(body.get("error") or "")
    if not error and status < 400:
        return None
    message = str(body.get("message") or response.reason_phrase or "error")
    request_id = str(body["request_id"]) if body.get("request_id") else None
    kw: dict[str, Any] = {"status": status, "code": error or None, "request_id": request_id}
    args = (MARKETPLACE, operation, message)
    if error in AUTH_ERRORS:
        return AuthError(*args, **kw)
    if error in RATE_LIMIT_ERRORS or status == 429:
        return RateLimitedError(*args, retry_after=retry_after_seconds(response), **kw)
    if error in TRANSIENT_ERRORS or status >= 500:
        return TransientError(*args, retry_after=retry_after_seconds(response), **kw)
    if error in NOT_FOUND_ERRORS:
        return NotFoundError(*args, **kw)
    if error == DAILY_QUOTA_ERROR:
        return MarketplaceError(*args, **kw)
    if status >= 400:
        fallback = classify_by_status(MARKETPLACE, response, operation, message, error or None)
        if fallback is not None:
            return type(fallback)(*args, **kw)
    return InvalidRequestError(*args, **kw)


# --- the API's own shapes (only the fields the pipeline reads) ---------------------------


_M = TypeVar("_M", bound=BaseModel)


def _text(value: Any) -> Any:
    """Shopee's optional text fields: blank (and the doc's "-" placeholder) mean none."""
    if isinstance(value, str):
        value = value.strip()
        return None if value in ("", "-") else value
    return value


OptionalText = Annotated[str | None, BeforeValidator(_text)]
OptionalMoney = Annotated[Decimal | None, BeforeValidator(blank_to_none)]
PositiveId = Annotated[int, Field(gt=0)]


class SPTokens(ApiShape):
    access_token: SecretStr
    refresh_token: SecretStr
    expire_in: int = Field(gt=0)


class SPItemSummary(ApiShape):
    item_id: PositiveId
    item_status: str | None = None
    update_time: int | None = None


class SPItemList(ApiShape):
    item: list[SPItemSummary] = Field(default_factory=list)
    total_count: int | None = None
    has_next_page: bool = False
    next_offset: int = 0


class SPPrice(ApiShape):
    currency: str
    current_price: Decimal
    original_price: OptionalMoney = None


class SPSummaryStock(ApiShape):
    total_available_stock: int | None = None
    total_reserved_stock: int | None = None


class SPSellerStock(ApiShape):
    location_id: OptionalText = None
    stock: int


class SPStockInfo(ApiShape):
    summary_info: SPSummaryStock | None = None
    seller_stock: list[SPSellerStock] | None = None

    def available(self) -> int | None:
        if self.summary_info is not None and self.summary_info.total_available_stock is not None:
            return self.summary_info.total_available_stock
        if self.seller_stock:
            return sum(slot.stock for slot in self.seller_stock)
        return None


class SPItem(ApiShape):
    """get_item_base_info's item; price and stock are here only for items without models."""

    item_id: PositiveId
    item_name: str = Field(min_length=1)
    item_status: str = Field(min_length=1)
    category_id: int | None = None
    item_sku: OptionalText = None
    gtin_code: OptionalText = None
    has_model: bool = False
    create_time: int | None = None
    update_time: int | None = None
    price_info: list[SPPrice] | None = None
    stock_info_v2: SPStockInfo | None = None


class SPModel(ApiShape):
    model_id: PositiveId
    model_sku: OptionalText = None
    model_status: str | None = None
    gtin_code: OptionalText = None
    price_info: list[SPPrice] = Field(min_length=1)
    stock_info_v2: SPStockInfo | None = None


class SPModelList(ApiShape):
    model: list[Any] = Field(default_factory=list)


class SPOrderListEntry(ApiShape):
    order_sn: str = Field(min_length=1)
    order_status: str | None = None


class SPOrderList(ApiShape):
    more: bool = False
    next_cursor: str = ""
    order_list: list[SPOrderListEntry] = Field(default_factory=list)


class SPOrderLine(ApiShape):
    item_id: PositiveId
    item_name: str | None = None
    item_sku: OptionalText = None
    model_id: int = 0
    model_sku: OptionalText = None
    model_quantity_purchased: int = Field(gt=0)
    model_original_price: Decimal
    model_discounted_price: OptionalMoney = None

    @property
    def unit_price(self) -> Decimal:
        """What the buyer paid a unit: the discounted price when there is one."""
        discounted = self.model_discounted_price
        return (
            discounted if discounted is not None and discounted > 0 else self.model_original_price
        )


class SPAddress(ApiShape):
    city: OptionalText = None
    state: OptionalText = None
    region: OptionalText = None


class SPOrder(ApiShape):
    order_sn: str = Field(min_length=1)
    order_status: ShopeeOrderStatus
    currency: str = Field(min_length=3, max_length=3)
    create_time: int
    update_time: int
    total_amount: Decimal
    item_list: list[SPOrderLine] = Field(min_length=1)
    buyer_user_id: int | None = None
    estimated_shipping_fee: OptionalMoney = None
    actual_shipping_fee: OptionalMoney = None
    actual_shipping_fee_confirmed: bool = False
    recipient_address: SPAddress | None = None


class SPOrderDetail(ApiShape):
    order_list: list[Any] = Field(default_factory=list)


class SPOrderIncome(ApiShape):
    commission_fee: OptionalMoney = None
    service_fee: OptionalMoney = None
    seller_transaction_fee: OptionalMoney = None

    @property
    def marketplace_fees(self) -> Decimal | None:
        """What Shopee charges the seller on the order: commission, service and transaction
        fees (shipping is `shipping_cost`, not a fee)."""
        charges = [self.commission_fee, self.service_fee, self.seller_transaction_fee]
        known = [charge for charge in charges if charge is not None]
        return sum(known, Decimal(0)) if known else None


class SPEscrowDetail(ApiShape):
    order_sn: str = Field(min_length=1)
    order_income: SPOrderIncome


class SPEscrowEntry(ApiShape):
    escrow_detail: SPEscrowDetail


class StockUpdateResult(ApiShape):
    """One model's outcome of update_stock, as the API answered it."""

    model_id: int
    ok: bool
    stock: int | None = None
    location_id: str | None = None
    failed_reason: str | None = None


class SPStockAnswer(ApiShape):
    success_list: list[dict[str, Any]] = Field(default_factory=list)
    failure_list: list[dict[str, Any]] = Field(default_factory=list)


class ShopeeCategory(ApiShape):
    category_id: int
    parent_category_id: int
    original_category_name: str
    display_category_name: str
    has_children: bool


class SPCategoryList(ApiShape):
    category_list: list[ShopeeCategory] = Field(default_factory=list)


class ShopeeAttributeValue(ApiShape):
    value_id: int
    name: str
    value_unit: str = ""
    child_attribute_list: list[ShopeeAttribute] = Field(default_factory=list)
    multi_lang: list[dict[str, str]] = Field(default_factory=list)

    def display_name(self, language: str) -> str:
        return _translated(self.multi_lang, language, self.name)


class ShopeeAttributeInfo(ApiShape):
    input_type: int
    input_validation_type: int = 0
    format_type: int = 1
    attribute_unit_list: list[str] = Field(default_factory=list)
    max_value_count: int = 1


class ShopeeAttribute(ApiShape):
    attribute_id: int
    mandatory: bool
    name: str
    attribute_value_list: list[ShopeeAttributeValue] = Field(default_factory=list)
    attribute_info: ShopeeAttributeInfo
    multi_lang: list[dict[str, str]] = Field(default_factory=list)

    def display_name(self, language: str) -> str:
        return _translated(self.multi_lang, language, self.name)


class ShopeeCategoryAttributes(ApiShape):
    category_id: int
    attribute_tree: list[ShopeeAttribute] = Field(default_factory=list)


class SPAttributeTrees(ApiShape):
    trees: list[ShopeeCategoryAttributes] = Field(default_factory=list, alias="list")


class SPCategoryRecommendation(ApiShape):
    category_id: list[int] = Field(default_factory=list)


ShopeeAttributeValue.model_rebuild()


def _translated(translations: Sequence[Mapping[str, str]], language: str, default: str) -> str:
    for entry in translations:
        if entry.get("language", "").lower() == language.lower() and entry.get("value"):
            return entry["value"]
    return default


# --- mapping to the canonical model ------------------------------------------------------


def _utc(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def _gtin(*candidates: str | None) -> str | None:
    # Shopee answers "00" for "this product has no GTIN".
    for value in candidates:
        if value and value.strip("0"):
            return value
    return None


def listing_of_item(item: SPItem, store_id: str) -> Listing:
    """The one listing of an item without models (variation id '')."""
    price = item.price_info[0] if item.price_info else None
    updated = item.update_time if item.update_time is not None else item.create_time
    return Listing(
        store_id=store_id,
        listing_id=str(item.item_id),
        variation_id="",
        title=item.item_name,
        seller_sku=item.item_sku,
        gtin=_gtin(item.gtin_code),
        status=item.item_status,
        price=price.current_price if price else None,
        currency=price.currency if price else "BRL",
        available_quantity=item.stock_info_v2.available() if item.stock_info_v2 else None,
        category_id=str(item.category_id) if item.category_id else None,
        updated_at=_utc(updated) if updated is not None else None,
    )


def listing_of_model(item: SPItem, model: SPModel, store_id: str) -> Listing:
    price = model.price_info[0]
    updated = item.update_time if item.update_time is not None else item.create_time
    return Listing(
        store_id=store_id,
        listing_id=str(item.item_id),
        variation_id=str(model.model_id),
        title=item.item_name,
        seller_sku=model.model_sku or item.item_sku,
        gtin=_gtin(model.gtin_code, item.gtin_code),
        status=item.item_status,
        price=price.current_price,
        currency=price.currency,
        available_quantity=model.stock_info_v2.available() if model.stock_info_v2 else None,
        category_id=str(item.category_id) if item.category_id else None,
        updated_at=_utc(updated) if updated is not None else None,
    )


def parse_items(raws: Sequence[Any], store_id: str) -> tuple[list[SPItem], list[Any]]:
    """Validated items, and rejects for the ones that are not (kept with the reason)."""
    items: list[SPItem] = []
    rejects = []
    for raw in raws:
        key = raw.get("item_id") if isinstance(raw, dict) else None
        try:
            items.append(SPItem.model_validate(raw))
        except ValidationError as exc:
            reason = describe_validation_error(exc)
            rejects.append(reject("shopee.items", store_id, key, reason, raw))
    return items, rejects


def listings_of_models(item: SPItem, raws: Sequence[Any], store_id: str) -> Page[Listing]:
    """One listing per model of an item; a malformed model is rejected, not dropped."""
    page: Page[Listing] = Page()
    for raw in raws:
        model_id = raw.get("model_id") if isinstance(raw, dict) else None
        key = f"{item.item_id}:{model_id if model_id is not None else '<no model id>'}"
        try:
            model = SPModel.model_validate(raw)
        except ValidationError as exc:
            reason = describe_validation_error(exc)
            page.rejects.append(reject("shopee.models", store_id, key, reason, raw))
            continue
        page.records.append(listing_of_model(item, model, store_id))
    return page


def normalize_status(order: SPOrder) -> OrderStatus:
    return STATUS_MAP[order.order_status]


def _order_items(lines: Sequence[SPOrderLine]) -> tuple[OrderItem, ...]:
    return tuple(
        OrderItem(
            line_no=line_no,
            listing_id=str(line.item_id),
            variation_id=str(line.model_id) if line.model_id else "",
            seller_sku=line.model_sku or line.item_sku,
            title=line.item_name,
            quantity=line.model_quantity_purchased,
            unit_price=line.unit_price,
        )
        for line_no, line in enumerate(lines, start=1)
    )


def _shipping_cost(order: SPOrder) -> Decimal | None:
    """What the buyer paid for shipping: the confirmed fee once known, else the estimate."""
    if order.actual_shipping_fee_confirmed and order.actual_shipping_fee is not None:
        return order.actual_shipping_fee
    return order.estimated_shipping_fee


def order_from_shopee(order: SPOrder, store: Store, buyer_salt: str) -> Order:
    items = _order_items(order.item_list)
    created_at = _utc(order.create_time)
    address = order.recipient_address
    return Order(
        store_id=store.store_id,
        order_id=order.order_sn,
        status=normalize_status(order),
        raw_status=order.order_status,
        created_at=created_at,
        updated_at=_utc(order.update_time),
        business_date=store.business_date(created_at),
        currency=order.currency,
        items_amount=sum((i.unit_price * i.quantity for i in items), Decimal(0)),
        shipping_cost=_shipping_cost(order),
        # Not in the order detail: ShopeeClient fills it from the escrow (payment) API.
        fee_amount=None,
        total_amount=order.total_amount,
        buyer_hash=hash_buyer(MARKETPLACE, order.buyer_user_id, buyer_salt),
        buyer_city=address.city if address else None,
        buyer_state=state_code(address.state) if address else None,
        items=items,
    )


def parse_orders(raws: Sequence[Any], store: Store, buyer_salt: str) -> Page[Order]:
    return parse_records(
        raws,
        "shopee.orders",
        store.store_id,
        key=lambda raw: raw.get("order_sn"),
        build=lambda raw: order_from_shopee(SPOrder.model_validate(raw), store, buyer_salt),
    )


def _escrow_order_sn(raw: dict[str, Any]) -> object:
    detail = raw.get("escrow_detail")
    return detail.get("order_sn") if isinstance(detail, dict) else None


# Orders Shopee charges nothing on yet: no escrow exists before payment.
UNCHARGED = frozenset({"UNPAID"})


def _data(model: type[_M], body: Mapping[str, Any] | None, operation: str) -> _M:
    """An answer in the shape we expect, or a loud, value-free failure."""
    try:
        return model.model_validate(body or {})
    except ValidationError as exc:
        raise MarketplaceError(
            MARKETPLACE, operation, f"unexpected answer: {describe_validation_error(exc)}"
        ) from None


def _model_id(value: int | str) -> int:
    """A model id from the API's int or the canonical variation id ('' = no models)."""
    if isinstance(value, str):
        value = value.strip()
        return int(value) if value else 0
    return int(value)


def order_windows(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """[start, end) as Shopee's inclusive whole-second windows of at most 15 days."""
    # t >= start ⇔ t >= ceil(start); t < end ⇔ t <= ceil(end) - 1 (whole seconds).
    lo, hi = math.ceil(start.timestamp()), math.ceil(end.timestamp()) - 1
    windows = []
    while lo <= hi:
        last = min(hi, lo + MAX_ORDER_WINDOW_SECONDS)
        windows.append((lo, last))
        lo = last + 1
    return windows


# --- the application: signing, authorization, tokens --------------------------------------


@dataclass(frozen=True)
class ShopeeApp:
    """The registered partner app, and the host it talks to (production or sandbox).

    `clock` gives the request timestamps (seconds); Shopee refuses a timestamp more than
    5 minutes off its own clock.
    """

    partner_id: int
    partner_key: SecretStr
    redirect_uri: str = ""
    api_url: str = PRODUCTION_API_URL
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    http: HttpSettings = field(default_factory=HttpSettings)
    clock: Callable[[], float] = time.time

    def new_http(
        self, transport: httpx.BaseTransport | None = None, shop_id: str | None = None
    ) -> ApiHttp:
        """An HTTP client paced per partner and shop (Shopee's quotas are per both)."""
        key = f"{MARKETPLACE}:{self.partner_id}" + (f":{shop_id}" if shop_id else "")
        limiter = shared_limiter(key, self.requests_per_second, self.requests_per_second)
        return ApiHttp(MARKETPLACE, self.api_url, classify, limiter, self.http, transport)

    def _timestamp(self) -> int:
        return int(self.clock())

    def _key(self) -> str:
        return self.partner_key.get_secret_value()

    def authorization_url(self, state: str | None = None) -> tuple[str, str]:
        """The consent page for a seller, and the `state` to check on the redirect.

        Shopee carries no state of its own: it goes in the redirect URL, which Shopee
        returns to with `code` and `shop_id` appended. The link is signed with the current
        timestamp, so it must be opened within 5 minutes.
        """
        if not self.redirect_uri:
            raise MarketplaceError(
                MARKETPLACE, "shop.auth_partner", "no redirect URI is configured"
            )
        state = state or secrets.token_urlsafe(16)
        parts = urlsplit(self.redirect_uri)
        query = f"{parts.query}&" if parts.query else ""
        redirect = urlunsplit(parts._replace(query=query + urlencode({"state": state})))
        timestamp = self._timestamp()
        params = {
            "partner_id": self.partner_id,
            "timestamp": timestamp,
            "sign": sign_public(self._key(), self.partner_id, AUTH_PARTNER_PATH, timestamp),
            "redirect": redirect,
        }
        return f"{self.api_url.rstrip('/')}{AUTH_PARTNER_PATH}?{urlencode(params)}", state

    def public_request(self, http: ApiHttp, path: str, body: Mapping[str, Any]) -> httpx.Request:
        """A signed POST to a public API (the token calls), signed now."""
        timestamp = self._timestamp()
        params = {
            "partner_id": str(self.partner_id),
            "timestamp": str(timestamp),
            "sign": sign_public(self._key(), self.partner_id, path, timestamp),
        }
        return http.build("POST", path, params=params, json=dict(body))

    def shop_request(
        self,
        http: ApiHttp,
        method: str,
        path: str,
        access_token: str,
        shop_id: int,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Request:
        """A signed call to a shop API, signed now (build one per attempt)."""
        timestamp = self._timestamp()
        params: dict[str, Any] = {
            "partner_id": str(self.partner_id),
            "timestamp": str(timestamp),
            "access_token": access_token,
            "shop_id": str(shop_id),
            "sign": sign_shop(self._key(), self.partner_id, path, timestamp, access_token, shop_id),
        }
        params.update(query or {})
        if method == "GET":
            return http.build(method, path, params=params)
        return http.build(method, path, params=params, json=dict(body or {}))

    def _token_call(
        self, http: ApiHttp, operation: str, path: str, body: Mapping[str, Any]
    ) -> TokenSet:
        response = http.send(operation, lambda: self.public_request(http, path, body))
        answer = _data(SPTokens, response.json(), operation)
        issued = datetime.fromtimestamp(self.clock(), tz=UTC)
        return TokenSet(
            access_token=answer.access_token,
            refresh_token=answer.refresh_token,
            access_expires_at=issued + timedelta(seconds=answer.expire_in),
            refresh_expires_at=issued + REFRESH_TOKEN_LIFETIME,
            extra={"shop_id": str(body["shop_id"])},
        )

    def exchange_code(self, http: ApiHttp, code: str, shop_id: int | str) -> TokenSet:
        """Trade the consent redirect's single-use `code` for the shop's tokens."""
        body = {"code": code, "partner_id": self.partner_id, "shop_id": int(shop_id)}
        return self._token_call(http, "auth.token_get", TOKEN_GET_PATH, body)

    def refresh(self, http: ApiHttp, tokens: TokenSet, shop_id: int | str) -> TokenSet:
        """A new token pair; the refresh token used is spent whatever happens next."""
        if tokens.refresh_token is None:
            raise AuthError(MARKETPLACE, "auth.access_token_get", "no refresh token stored")
        body = {
            "refresh_token": tokens.refresh_token.get_secret_value(),
            "partner_id": self.partner_id,
            "shop_id": int(shop_id),
        }
        return self._token_call(http, "auth.access_token_get", TOKEN_REFRESH_PATH, body)


# --- the client ----------------------------------------------------------------------------


class ShopeeClient:
    """One Shopee shop (seller id = shop_id)."""

    def __init__(
        self,
        app: ShopeeApp,
        store: Store,
        token_store: TokenStore,
        buyer_salt: str,
        http: ApiHttp | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.shop_id = int(store.seller_id)
        self.http = http or app.new_http(shop_id=store.seller_id)
        self._buyer_salt = buyer_salt
        self.tokens = TokenManager(
            token_store,
            store.store_id,
            lambda stale: app.refresh(self.http, stale, self.shop_id),
            clock=lambda: datetime.fromtimestamp(app.clock(), tz=UTC),
        )

    def close(self) -> None:
        self.http.close()

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A signed shop call; returns the envelope's `response` object."""
        inner = self._call_raw(operation, method, path, query, body)
        return inner if isinstance(inner, dict) else {}

    def _call_raw(
        self,
        operation: str,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """A signed shop call; returns the envelope's `response` as sent (a list for the
        batch calls)."""
        sent: dict[str, str] = {}
        refused: list[AuthError] = []

        def build() -> httpx.Request:
            sent.clear()
            try:
                token = self.tokens.access_token()
            except AuthError as exc:
                refused.append(exc)
                raise
            sent["token"] = token
            return self.app.shop_request(
                self.http, method, path, token, self.shop_id, query=query, body=body
            )

        def reauthenticate() -> None:
            # The refresh itself was refused before anything was sent: trying the same
            # refresh token again cannot help, so the refusal is the answer.
            if "token" not in sent:
                raise refused[-1]
            self.tokens.invalidate(sent["token"])

        response = self.http.send(operation, build, reauthenticate=reauthenticate)
        answer = response.json()
        return answer.get("response") if isinstance(answer, dict) else None

    # --- listings --------------------------------------------------------------------

    def iter_item_ids(self) -> Iterator[list[int]]:
        """The shop's item ids, a get_item_list page at a time."""
        offset = 0
        while True:
            query = {
                "offset": offset,
                "page_size": ITEMS_PAGE,
                "item_status": list(LISTED_ITEM_STATUSES),
            }
            answer = self._call("product.get_item_list", "GET", ITEM_LIST_PATH, query)
            page = _data(SPItemList, answer, "product.get_item_list")
            yield [item.item_id for item in page.item]
            if not page.has_next_page or not page.item:
                return
            if page.next_offset <= offset:
                raise MarketplaceError(
                    MARKETPLACE, "product.get_item_list", "the API did not move the offset on"
                )
            offset = page.next_offset

    def get_items(self, item_ids: Sequence[int]) -> tuple[list[SPItem], list[Any]]:
        """Base info of items, ≤ 50 ids a call; unknown ids are simply absent."""
        items: list[SPItem] = []
        rejects = []
        for chunk in chunked(dict.fromkeys(item_ids), ITEM_IDS_MAX):
            answer = self._call(
                "product.get_item_base_info",
                "GET",
                ITEM_BASE_INFO_PATH,
                {"item_id_list": ",".join(map(str, chunk))},
            )
            parsed, bad = parse_items(answer.get("item_list") or [], self.store.store_id)
            items += parsed
            rejects += bad
        return items, rejects

    def get_models(self, item: SPItem) -> Page[Listing]:
        answer = self._call(
            "product.get_model_list", "GET", MODEL_LIST_PATH, {"item_id": item.item_id}
        )
        models = _data(SPModelList, answer, "product.get_model_list").model
        if not models:
            reason = "item says it has models, but get_model_list returned none"
            return Page(
                rejects=[reject("shopee.models", self.store.store_id, item.item_id, reason, answer)]
            )
        return listings_of_models(item, models, self.store.store_id)

    def iter_listings(self) -> Iterator[Page[Listing]]:
        """Every listed item, as one listing per model (or one for an item without models)."""
        for item_ids in self.iter_item_ids():
            page: Page[Listing] = Page()
            items, page.rejects = self.get_items(item_ids)
            for item in items:
                if item.has_model:
                    models = self.get_models(item)
                    page.records += models.records
                    page.rejects += models.rejects
                else:
                    page.records.append(listing_of_item(item, self.store.store_id))
            yield page

    # --- orders ----------------------------------------------------------------------

    def iter_order_sns(
        self, start: datetime, end: datetime, by: TimeField = "created"
    ) -> Iterator[list[str]]:
        """order_sn of orders created (or updated) in [start, end), a list page at a time."""
        time_field = "create_time" if by == "created" else "update_time"
        seen: set[str] = set()
        for time_from, time_to in order_windows(start, end):
            cursor = ""
            while True:
                query = {
                    "time_range_field": time_field,
                    "time_from": time_from,
                    "time_to": time_to,
                    "page_size": ORDERS_PAGE,
                    "cursor": cursor,
                }
                answer = self._call("order.get_order_list", "GET", ORDER_LIST_PATH, query)
                page = _data(SPOrderList, answer, "order.get_order_list")
                fresh = [e.order_sn for e in page.order_list if e.order_sn not in seen]
                seen.update(fresh)
                yield fresh
                if not page.more:
                    break
                if not page.next_cursor or page.next_cursor == cursor:
                    raise MarketplaceError(
                        MARKETPLACE, "order.get_order_list", "the API did not move the cursor on"
                    )
                cursor = page.next_cursor

    def _order_details(self, order_sns: Sequence[str]) -> Page[Order]:
        page: Page[Order] = Page()
        for chunk in chunked(order_sns, ORDER_SNS_MAX):
            query = {
                "order_sn_list": ",".join(chunk),
                "response_optional_fields": ",".join(ORDER_DETAIL_FIELDS),
            }
            try:
                answer = self._call("order.get_order_detail", "GET", ORDER_DETAIL_PATH, query)
            except NotFoundError:
                continue  # none of these orders exists (any more): nothing to read
            raws = _data(SPOrderDetail, answer, "order.get_order_detail").order_list
            parsed = parse_orders(raws, self.store, self._buyer_salt)
            fees, unreadable = self._fees(
                [o for o in parsed.records if o.raw_status not in UNCHARGED]
            )
            page.records += [
                o.model_copy(update={"fee_amount": fees[o.order_id]}) if o.order_id in fees else o
                for o in parsed.records
            ]
            page.rejects += parsed.rejects + unreadable
        return page

    def _fees(self, orders: Sequence[Order]) -> tuple[dict[str, Decimal], list[Rejected]]:
        """Shopee's charges per order_sn, from the escrow (payment) API in one batch call,
        and the escrow entries that did not parse.

        The order detail carries no commission; the escrow does, for paid orders. An
        escrow entry that does not parse is kept in `ingest_errors` and its order lands
        without a fee rather than not at all.
        """
        if not orders:
            return {}, []
        body = {"order_sn_list": [o.order_id for o in orders]}
        try:
            answer = self._call_raw(
                "payment.get_escrow_detail_batch", "POST", ESCROW_BATCH_PATH, body=body
            )
        except NotFoundError:
            return {}, []  # none has an escrow yet
        details = parse_records(
            answer if isinstance(answer, list) else [],
            "shopee.escrow",
            self.store.store_id,
            key=_escrow_order_sn,
            build=lambda raw: SPEscrowEntry.model_validate(raw).escrow_detail,
        )
        fees = {
            d.order_sn: charged
            for d in details.records
            if (charged := d.order_income.marketplace_fees) is not None
        }
        return fees, details.rejects

    def iter_orders(
        self, start: datetime, end: datetime, by: TimeField = "created"
    ) -> Iterator[Page[Order]]:
        """Every order created (or updated) in [start, end), a list page at a time."""
        for order_sns in self.iter_order_sns(start, end, by):
            if order_sns:
                yield self._order_details(order_sns)

    def get_orders(self, order_ids: Sequence[str]) -> Page[Order]:
        """The orders with these order_sn; ones Shopee does not know are simply absent."""
        wanted = list(dict.fromkeys(i.strip() for i in order_ids if i and i.strip()))
        return self._order_details(wanted)

    # --- stock -----------------------------------------------------------------------

    def update_stock(
        self, item_id: int | str, stock: Sequence[tuple[int | str, int]]
    ) -> list[StockUpdateResult]:
        """Set the seller stock of models of one item: (model_id, quantity) pairs.

        model_id is 0 (or the canonical variation id '') for an item without models. The
        answer lists, per model, whether Shopee took the new stock, and why not when it did
        not: a refused model does not fail the others.
        """
        entries = [(_model_id(model_id), int(quantity)) for model_id, quantity in stock]
        if not entries:
            return []
        if any(quantity < 0 for _, quantity in entries):
            raise ValueError("stock quantities must not be negative")
        if len({model_id for model_id, _ in entries}) != len(entries):
            raise ValueError("each model_id may appear once per update")
        results: list[StockUpdateResult] = []
        for chunk in chunked(entries, STOCK_ENTRIES_MAX):
            body = {
                "item_id": int(item_id),
                "stock_list": [
                    {"model_id": model_id, "seller_stock": [{"stock": quantity}]}
                    for model_id, quantity in chunk
                ],
            }
            answer = self._call("product.update_stock", "POST", UPDATE_STOCK_PATH, body=body)
            outcome = _data(SPStockAnswer, answer, "product.update_stock")
            results += [
                StockUpdateResult(
                    model_id=int(entry.get("model_id", 0)),
                    ok=True,
                    stock=entry.get("stock"),
                    location_id=entry.get("location_id"),
                )
                for entry in outcome.success_list
            ]
            results += [
                StockUpdateResult(
                    model_id=int(entry.get("model_id", 0)),
                    ok=False,
                    failed_reason=str(entry.get("failed_reason") or "no reason given"),
                )
                for entry in outcome.failure_list
            ]
        return results

    # --- categories and attributes ---------------------------------------------------

    def get_category(self, language: str = "pt-br") -> list[ShopeeCategory]:
        answer = self._call("product.get_category", "GET", CATEGORY_PATH, {"language": language})
        return _data(SPCategoryList, answer, "product.get_category").category_list

    def get_attribute_tree(
        self, category_ids: Sequence[int], language: str = "pt-br"
    ) -> list[ShopeeCategoryAttributes]:
        """Attributes (mandatory or not, with their values) of leaf categories, ≤ 20 a call."""
        trees: list[ShopeeCategoryAttributes] = []
        for chunk in chunked(dict.fromkeys(int(c) for c in category_ids), CATEGORY_IDS_MAX):
            query = {"category_id_list": ",".join(map(str, chunk)), "language": language}
            answer = self._call("product.get_attribute_tree", "GET", ATTRIBUTE_TREE_PATH, query)
            trees += _data(SPAttributeTrees, answer, "product.get_attribute_tree").trees
        return trees

    def get_attributes(self, category_id: int, language: str = "pt-br") -> list[ShopeeAttribute]:
        trees = self.get_attribute_tree([category_id], language)
        return trees[0].attribute_tree if trees else []

    def category_recommend(self, item_name: str) -> list[int]:
        """Shopee's suggested category ids for a product name, best first."""
        answer = self._call(
            "product.category_recommend",
            "GET",
            CATEGORY_RECOMMEND_PATH,
            {"item_name": item_name},
        )
        return _data(SPCategoryRecommendation, answer, "product.category_recommend").category_id
