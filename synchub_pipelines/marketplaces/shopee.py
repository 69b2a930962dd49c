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
- Money is the escrow (payment) API's: get_escrow_detail_batch (≤ 50 order_sn) states
  every fee and the seller's income, `escrow_amount` by a documented formula; it changes
  until the order completes, later changes arrive as `order_adjustment`. get_escrow_list
  lists escrows by release time: a release is the settlement (the column mapping is in
  docs/orders.md).
- Packages come with the order (`package_list`); tracking numbers from
  get_mass_tracking_number (≤ 50 packages), the delivery instant only from
  get_tracking_info (one package a call).

Shopee publishes no numeric rate limit; the client paces itself at `requests_per_second`
per partner and shop, and a 429 or `error_rate_limit` slows every caller of the process.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

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
from synchub_pipelines.marketplaces.shopee_writes import ShopeeWritesMixin
from synchub_pipelines.marketplaces.tokens import TokenManager, TokenSet, TokenStore
from synchub_pipelines.models import (
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
ESCROW_LIST_PATH = "/api/v2/payment/get_escrow_list"
TRACKING_NUMBER_PATH = "/api/v2/logistics/get_tracking_number"
MASS_TRACKING_NUMBER_PATH = "/api/v2/logistics/get_mass_tracking_number"
TRACKING_INFO_PATH = "/api/v2/logistics/get_tracking_info"
ITEM_VIOLATION_PATH = "/api/v2/product/get_item_violation_info"

ITEMS_PAGE = 100
ITEM_IDS_MAX = 50
ORDERS_PAGE = 100
ORDER_SNS_MAX = 50
# The escrow batch takes 1 to 50 order_sn ("1 to 20 recommended"): one call per detail batch.
ESCROW_SNS_MAX = 50
ESCROW_LIST_PAGE = 100
# get_escrow_list documents no longest window; the order list's 15 days keep each query
# well inside whatever the gateway enforces.
ESCROW_LIST_WINDOW_SECONDS = 15 * 86_400
RELEASES_RESCAN_AFTER = timedelta(minutes=5)
PACKAGES_MAX = 50
VIOLATION_ITEMS_MAX = 50
STOCK_ENTRIES_MAX = 50
CATEGORY_IDS_MAX = 20
MAX_ORDER_WINDOW_SECONDS = 15 * 86_400
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
# Listed items in every state a seller can still act on (deleted items are gone for good).
LISTED_ITEM_STATUSES = ("NORMAL", "UNLIST", "BANNED", "REVIEWING")
# Items whose status has a reason behind it (get_item_violation_info says which).
REASONED_ITEM_STATUSES = frozenset({"BANNED", "REVIEWING", "SHOPEE_DELETE"})
# What get_order_detail leaves out unless asked: the logistics (packages, pickup, channel,
# destination) and, for an order read, the lines, the total and the buyer.
LOGISTICS_FIELDS = (
    "pay_time",
    "recipient_address",
    "package_list",
    "pickup_done_time",
    "fulfillment_flag",
    "shipping_carrier",
)
ORDER_DETAIL_FIELDS = ("buyer_user_id", "item_list", "total_amount", *LOGISTICS_FIELDS)

# Settlement: Shopee releases the escrow after the order completes (the buyer confirms
# receipt, or 7 days after delivery) or after a return is resolved. 30 days from the sale
# covers delivery, that wait and a return; later changes arrive as order adjustments.
SETTLEMENT_DAYS = 30
# A facts run may take ~10 minutes and leaves half of the shop's pace to other work. Worst
# case per order re-read: its share of the detail, escrow and tracking-number batches
# (3 calls per 50) plus one get_tracking_info once delivered, and the escrow list's pages.
FACTS_RUN_SECONDS = 600
FACTS_SHARE_OF_BUDGET = 0.5
CALLS_PER_FACT = 1.1

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
    # The doc samples fill success answers' `error` with " " or "-": neither is an error code.
    error = str(body.get("error") or "").strip()
    error = "" if error == "-" else error
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


def _no_instant(value: Any) -> Any:
    """Shopee answers 0 (or nothing) for an instant that has not happened yet."""
    return None if value in (0, "0", "") else value


Instant = Annotated[int | None, BeforeValidator(_no_instant)]


class SPOrderLine(ApiShape):
    """A line of get_order_detail's item_list: the model prices are exact unit prices."""

    item_id: PositiveId
    item_name: str | None = None
    item_sku: OptionalText = None
    model_id: int = 0
    model_sku: OptionalText = None
    model_quantity_purchased: int = Field(gt=0)
    model_original_price: Decimal
    model_discounted_price: OptionalMoney = None

    @property
    def line_ref(self) -> str:
        return f"{self.item_id}:{self.model_id}"

    @property
    def line_amount(self) -> Decimal:
        """The line before any promotion: original unit price × quantity, exactly."""
        return self.model_original_price * self.model_quantity_purchased

    @property
    def line_discount(self) -> Decimal | None:
        """What the line's promotion took off; unknown for a bundle-deal line, whose
        discounted price the API leaves at 0 (the deal is not broken down per model)."""
        discounted = self.model_discounted_price
        if discounted is None or discounted <= 0:
            return None
        return (self.model_original_price - discounted) * self.model_quantity_purchased


class SPAddress(ApiShape):
    city: OptionalText = None
    state: OptionalText = None
    region: OptionalText = None


class SPPackage(ApiShape):
    package_number: str = Field(min_length=1)
    logistics_status: str = Field(min_length=1)
    logistics_channel_id: int | None = None
    shipping_carrier: OptionalText = None


class SPOrderLogistics(ApiShape):
    """get_order_detail's default fields plus the logistics ones (`LOGISTICS_FIELDS`)."""

    order_sn: str = Field(min_length=1)
    order_status: ShopeeOrderStatus
    currency: str = Field(min_length=3, max_length=3)
    create_time: int
    update_time: int
    pay_time: Instant = None
    pickup_done_time: Instant = None
    ship_by_date: Instant = None
    shipping_carrier: OptionalText = None
    fulfillment_flag: OptionalText = None
    package_list: list[SPPackage] = Field(default_factory=list)
    recipient_address: SPAddress | None = None

    @property
    def never_paid(self) -> bool:
        """Cancelled before payment: Shopee neither charged nor paid anything."""
        return self.order_status == "CANCELLED" and self.pay_time is None


class SPOrder(SPOrderLogistics):
    """An order read: the logistics plus the lines, the total and the buyer."""

    item_list: list[SPOrderLine] = Field(min_length=1)
    # "Only returned after the buyer has completed payment."
    total_amount: OptionalMoney = None
    buyer_user_id: int | None = None

    @model_validator(mode="after")
    def _paid_orders_state_their_total(self) -> SPOrder:
        if self.total_amount is None and self.pay_time is not None:
            raise ValueError("total_amount is missing on a paid order")
        return self


class SPOrderDetail(ApiShape):
    order_list: list[Any] = Field(default_factory=list)


class SPEscrowItem(ApiShape):
    """order_income.items[]: prices here are line subtotals, not unit prices."""

    item_id: PositiveId
    model_id: int = 0
    quantity_purchased: int | None = None
    original_price: OptionalMoney = None
    discounted_price: OptionalMoney = None
    seller_discount: OptionalMoney = None
    shopee_discount: OptionalMoney = None
    ams_commission_fee: OptionalMoney = None

    @property
    def line_ref(self) -> str:
        return f"{self.item_id}:{self.model_id}"


class SPAdjustment(ApiShape):
    amount: Decimal
    date: Instant = None
    currency: OptionalText = None
    adjustment_reason: OptionalText = None


class SPSellerProductRebate(ApiShape):
    amount: OptionalMoney = None
    commission_fee_offset: OptionalMoney = None
    service_fee_offset: OptionalMoney = None


class SPOrderIncome(ApiShape):
    """get_escrow_detail's order_income: every amount the escrow formula uses, as sent
    (fees are positive magnitudes the formula subtracts)."""

    escrow_amount: OptionalMoney = None
    escrow_amount_after_adjustment: OptionalMoney = None
    total_adjustment_amount: OptionalMoney = None
    order_adjustment: list[SPAdjustment] = Field(default_factory=list)
    buyer_total_amount: OptionalMoney = None
    original_cost_of_goods_sold: OptionalMoney = None
    cost_of_goods_sold: OptionalMoney = None
    order_original_price: OptionalMoney = None
    # discounts, by who funds them
    seller_discount: OptionalMoney = None
    shopee_discount: OptionalMoney = None
    original_shopee_discount: OptionalMoney = None
    voucher_from_seller: OptionalMoney = None
    voucher_from_shopee: OptionalMoney = None
    voucher_from_external_party: OptionalMoney = None
    coins: OptionalMoney = None
    seller_coin_cash_back: OptionalMoney = None
    trade_in_bonus_by_seller: OptionalMoney = None
    pix_discount: OptionalMoney = None
    # shipping
    buyer_paid_shipping_fee: OptionalMoney = None
    actual_shipping_fee: OptionalMoney = None
    estimated_shipping_fee: OptionalMoney = None
    final_shipping_fee: OptionalMoney = None
    shopee_shipping_rebate: OptionalMoney = None
    shipping_fee_discount_from_3pl: OptionalMoney = None
    reverse_shipping_fee: OptionalMoney = None
    rsf_seller_protection_fee_claim_amount: OptionalMoney = None
    final_return_to_seller_shipping_fee: OptionalMoney = None
    shipping_fee_sst: OptionalMoney = None
    reverse_shipping_fee_sst: OptionalMoney = None
    # returns
    seller_return_refund: OptionalMoney = None
    drc_adjustable_refund: OptionalMoney = None
    # charges
    commission_fee: OptionalMoney = None
    service_fee: OptionalMoney = None
    net_commission_fee: OptionalMoney = None
    net_service_fee: OptionalMoney = None
    seller_product_rebate: SPSellerProductRebate | None = None
    seller_transaction_fee: OptionalMoney = None
    campaign_fee: OptionalMoney = None
    order_ams_commission_fee: OptionalMoney = None
    shipping_seller_protection_fee_amount: OptionalMoney = None
    delivery_seller_protection_fee_premium_amount: OptionalMoney = None
    seller_order_processing_fee: OptionalMoney = None
    fbs_fee: OptionalMoney = None
    ads_escrow_top_up_fee_or_technical_support_fee: OptionalMoney = None
    overseas_return_service_fee: OptionalMoney = None
    buyer_paid_packaging_fee: OptionalMoney = None
    # taxes withheld from the seller (other regions)
    final_escrow_product_gst: OptionalMoney = None
    escrow_tax: OptionalMoney = None
    sales_tax_on_lvg: OptionalMoney = None
    withholding_tax: OptionalMoney = None
    vat_on_imported_goods: OptionalMoney = None
    withholding_vat_tax: OptionalMoney = None
    withholding_pit_tax: OptionalMoney = None
    withholding_cit_tax: OptionalMoney = None
    th_import_duty: OptionalMoney = None
    items: list[SPEscrowItem] = Field(default_factory=list)


class SPBuyerPaymentInfo(ApiShape):
    """The buyer's checkout snapshot ("will not be updated after RR/cancellation")."""

    buyer_total_amount: OptionalMoney = None
    shipping_fee: OptionalMoney = None
    buyer_tax_amount: OptionalMoney = None
    icms_tax_amount: OptionalMoney = None
    iof_tax_amount: OptionalMoney = None
    import_tax_amount: OptionalMoney = None


class SPEscrowDetail(ApiShape):
    order_sn: str = Field(min_length=1)
    return_order_sn_list: list[str] = Field(default_factory=list)
    order_income: SPOrderIncome
    buyer_payment_info: SPBuyerPaymentInfo | None = None


class SPEscrowEntry(ApiShape):
    escrow_detail: SPEscrowDetail


class SPBatchFailure(ApiShape):
    """A batch entry Shopee could not answer (`fail_error`, e.g. order_not_found)."""

    fail_error: OptionalText = None
    fail_message: OptionalText = None


class SPEscrowRelease(ApiShape):
    order_sn: str = Field(min_length=1)
    payout_amount: OptionalMoney = None
    escrow_release_time: int = Field(gt=0)


class SPEscrowList(ApiShape):
    escrow_list: list[Any] = Field(default_factory=list)
    more: bool = False


class SPTrackingNumber(ApiShape):
    tracking_number: OptionalText = None
    hint: OptionalText = None


class SPTrackedPackage(ApiShape):
    package_number: str = Field(min_length=1)
    tracking_number: OptionalText = None


class SPUntrackedPackage(ApiShape):
    package_number: OptionalText = None
    fail_reason: OptionalText = None


class SPMassTracking(ApiShape):
    success_list: list[SPTrackedPackage] = Field(default_factory=list)
    fail_list: list[SPUntrackedPackage] = Field(default_factory=list)


class SPTrackingEvent(ApiShape):
    update_time: int
    description: OptionalText = None
    logistics_status: OptionalText = None


class SPTrackingInfo(ApiShape):
    order_sn: OptionalText = None
    package_number: OptionalText = None
    logistics_status: OptionalText = None
    tracking_info: list[SPTrackingEvent] = Field(default_factory=list)


class SPViolation(ApiShape):
    violation_type: OptionalText = None
    violation_reason: OptionalText = None
    suggestion: OptionalText = None


class SPViolationItem(ApiShape):
    item_id: int = 0  # a failed entry may name no item
    item_status: OptionalText = None
    item_status_details: list[SPViolation] = Field(default_factory=list)
    fail_error: OptionalText = None


class SPViolationList(ApiShape):
    item_list: list[SPViolationItem] = Field(default_factory=list)


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


# Item status → the listing's verdict. A deleted item is closed whoever deleted it; an
# unknown status is treated as not buyable until this table learns it.
_LISTING_STATUS = {
    "NORMAL": ListingStatus.ACTIVE,
    "UNLIST": ListingStatus.PAUSED,
    "REVIEWING": ListingStatus.UNDER_REVIEW,
    "BANNED": ListingStatus.SUPPRESSED,
    "SELLER_DELETE": ListingStatus.CLOSED,
    "SHOPEE_DELETE": ListingStatus.CLOSED,
}
# A model the seller switched off cannot be bought even on a live item.
MODEL_UNAVAILABLE = "MODEL_UNAVAILABLE"


def listing_status(raw: str) -> ListingStatus:
    return _LISTING_STATUS.get(raw, ListingStatus.SUPPRESSED)


def violation_reason(item: SPViolationItem) -> str | None:
    """Why Shopee holds an item, in its own words: "<violation type>: <reason>" per issue."""
    reasons = []
    for detail in item.item_status_details:
        words = [w for w in (detail.violation_type, detail.violation_reason) if w]
        if words:
            reasons.append(": ".join(words))
    return "; ".join(dict.fromkeys(reasons)) or None


def listing_of_item(item: SPItem, store_id: str, reason: str | None = None) -> Listing:
    """The one listing of an item without models (variation id '')."""
    price = item.price_info[0] if item.price_info else None
    updated = item.update_time if item.update_time is not None else item.create_time
    status = listing_status(item.item_status)
    return Listing(
        store_id=store_id,
        listing_id=str(item.item_id),
        variation_id="",
        title=item.item_name,
        seller_sku=item.item_sku,
        gtin=_gtin(item.gtin_code),
        status=status,
        raw_status=item.item_status,
        status_reason=reason if status != ListingStatus.ACTIVE else None,
        price=price.current_price if price else None,
        currency=price.currency if price else "BRL",
        available_quantity=item.stock_info_v2.available() if item.stock_info_v2 else None,
        category_id=str(item.category_id) if item.category_id else None,
        updated_at=_utc(updated) if updated is not None else None,
    )


def listing_of_model(
    item: SPItem, model: SPModel, store_id: str, reason: str | None = None
) -> Listing:
    price = model.price_info[0]
    updated = item.update_time if item.update_time is not None else item.create_time
    status, raw = listing_status(item.item_status), item.item_status
    if status == ListingStatus.ACTIVE and model.model_status == MODEL_UNAVAILABLE:
        status, raw = ListingStatus.PAUSED, MODEL_UNAVAILABLE
    return Listing(
        store_id=store_id,
        listing_id=str(item.item_id),
        variation_id=str(model.model_id),
        title=item.item_name,
        seller_sku=model.model_sku or item.item_sku,
        gtin=_gtin(model.gtin_code, item.gtin_code),
        status=status,
        raw_status=raw,
        status_reason=reason if status != ListingStatus.ACTIVE else None,
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


def listings_of_models(
    item: SPItem, raws: Sequence[Any], store_id: str, reason: str | None = None
) -> Page[Listing]:
    """One listing per model of an item; a malformed model is rejected, not dropped."""
    page: Page[Listing] = Page()
    for raw in raws:
        model_id = raw.get("model_id") if isinstance(raw, dict) else None
        key = f"{item.item_id}:{model_id if model_id is not None else '<no model id>'}"
        try:
            model = SPModel.model_validate(raw)
        except ValidationError as exc:
            reason_text = describe_validation_error(exc)
            page.rejects.append(reject("shopee.models", store_id, key, reason_text, raw))
            continue
        page.records.append(listing_of_model(item, model, store_id, reason))
    return page


def normalize_status(order: SPOrderLogistics) -> OrderStatus:
    return STATUS_MAP[order.order_status]


# --- money: the escrow (get_escrow_detail's order_income) in the canonical columns ---------

# Charges the escrow formula subtracts, each a fee line under its own name.
CHARGE_FIELDS = (
    "seller_transaction_fee",
    "campaign_fee",
    "shipping_seller_protection_fee_amount",
    "delivery_seller_protection_fee_premium_amount",
    "seller_order_processing_fee",
    "fbs_fee",
    "ads_escrow_top_up_fee_or_technical_support_fee",
    "overseas_return_service_fee",
)
# Taxes Shopee withholds from sellers in other regions (none in Brazil). The formula
# deducts them like fees, so they are fee lines too and the payout still adds up.
WITHHELD_TAX_FIELDS = (
    "final_escrow_product_gst",
    "escrow_tax",
    "sales_tax_on_lvg",
    "withholding_tax",
    "vat_on_imported_goods",
    "withholding_vat_tax",
    "withholding_pit_tax",
    "withholding_cit_tax",
    "th_import_duty",
)
# The formula's shipping terms: what the seller pays the carrier (and taxes on it) less
# what the buyer paid, Shopee's rebate, the 3PL's discount and the insurance claim.
SHIPPING_COSTS = (
    "actual_shipping_fee",
    "reverse_shipping_fee",
    "final_return_to_seller_shipping_fee",
    "shipping_fee_sst",
    "reverse_shipping_fee_sst",
)
SHIPPING_CREDITS = (
    "buyer_paid_shipping_fee",
    "shopee_shipping_rebate",
    "shipping_fee_discount_from_3pl",
    "rsf_seller_protection_fee_claim_amount",
)
# Who funds each discount. `seller_discount` is the sum of the lines' seller discounts.
# pix_discount is left out: the doc counts the Pix rebate inside shopee_discount.
SELLER_DISCOUNTS = (
    "seller_discount",
    "voucher_from_seller",
    "seller_coin_cash_back",
    "trade_in_bonus_by_seller",
)
MARKETPLACE_DISCOUNTS = ("shopee_discount", "voucher_from_shopee", "coins")


def _amount(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal(0)


def _sum_fields(income: SPOrderIncome, names: Iterable[str]) -> Decimal:
    return sum((_amount(getattr(income, name)) for name in names), Decimal(0))


def _platform_fee(income: SPOrderIncome, gross: str, net: str, offset: str) -> list[FeeLine]:
    """Commission or service fee. Brazil states the net fee (after the seller's share of
    a Shopee product rebate is taken off) beside the gross one; the formula deducts the
    gross, so the difference is its own line, the rebate the seller bears."""
    gross_amount: Decimal | None = getattr(income, gross)
    net_amount: Decimal | None = getattr(income, net)
    if net_amount is None:
        return [FeeLine(fee_type=gross, amount=gross_amount)] if gross_amount else []
    lines = [FeeLine(fee_type=net, amount=net_amount)] if net_amount else []
    borne = gross_amount - net_amount if gross_amount is not None else Decimal(0)
    if borne:
        lines.append(FeeLine(fee_type=f"seller_product_rebate.{offset}", amount=borne))
    return lines


def _affiliate_fees(income: SPOrderIncome) -> list[FeeLine]:
    """The affiliate (AMS) commission per line where the items state it; the formula
    deducts the order's total, so whatever the lines do not explain is an order line."""
    if income.order_ams_commission_fee is None:
        return []
    lines = [
        FeeLine(
            fee_type="ams_commission_fee", amount=item.ams_commission_fee, line_ref=item.line_ref
        )
        for item in income.items
        if item.ams_commission_fee
    ]
    rest = income.order_ams_commission_fee - sum((f.amount for f in lines), Decimal(0))
    if rest:
        lines.append(FeeLine(fee_type="order_ams_commission_fee", amount=rest))
    return lines


def _adjustment(income: SPOrderIncome) -> Decimal:
    """What order adjustments added to the escrow after completion (negative: taken)."""
    if not income.order_adjustment:
        return Decimal(0)
    if income.total_adjustment_amount is not None:
        return income.total_adjustment_amount
    return sum((a.amount for a in income.order_adjustment), Decimal(0))


def escrow_fee_lines(income: SPOrderIncome) -> tuple[FeeLine, ...]:
    """Every deduction of the escrow formula that is not shipping or a refund, as a fee
    line (zero amounts left out). Credits are negative: the packaging fee the buyer paid
    the seller, and an adjustment in the seller's favour."""
    lines = [
        *_platform_fee(income, "commission_fee", "net_commission_fee", "commission_fee_offset"),
        *_platform_fee(income, "service_fee", "net_service_fee", "service_fee_offset"),
        *_affiliate_fees(income),
    ]
    for name in (*CHARGE_FIELDS, *WITHHELD_TAX_FIELDS):
        value = getattr(income, name)
        if value:
            lines.append(FeeLine(fee_type=name, amount=value))
    if income.buyer_paid_packaging_fee:
        lines.append(
            FeeLine(fee_type="buyer_paid_packaging_fee", amount=-income.buyer_paid_packaging_fee)
        )
    adjustment = _adjustment(income)
    if adjustment:
        lines.append(FeeLine(fee_type="order_adjustment", amount=-adjustment))
    return tuple(lines)


def seller_shipping_cost(income: SPOrderIncome) -> Decimal:
    """The formula's shipping terms as the seller's cost: carrier charges (forward,
    reverse, failed delivery, taxes on them) less the buyer's payment, Shopee's rebate,
    the 3PL's discount and the reverse-shipping insurance claim. Negative when those
    credits exceed the charges (the seller made money on shipping)."""
    return _sum_fields(income, SHIPPING_COSTS) - _sum_fields(income, SHIPPING_CREDITS)


def refund_amount(income: SPOrderIncome) -> Decimal:
    """Refunded to the buyer: the Dispute Resolution Center's adjustable refund when there
    is one (the doc: "return refund amount = drc_adjustable_refund" then), else the item
    money a return or cancellation gave back (`seller_return_refund`, sent negative)."""
    drc = _amount(income.drc_adjustable_refund)
    if drc > 0:
        return drc
    return -_amount(income.seller_return_refund)


def payout_amount(income: SPOrderIncome) -> Decimal | None:
    """escrow_amount, or escrow_amount_after_adjustment once adjustments exist."""
    if income.order_adjustment and income.escrow_amount_after_adjustment is not None:
        return income.escrow_amount_after_adjustment
    return income.escrow_amount


def buyer_taxes(detail: SPEscrowDetail) -> Decimal | None:
    """Taxes the buyer paid on top (Brazil: ICMS, IOF and import tax on imports)."""
    info = detail.buyer_payment_info
    if info is None:
        return None
    taxes = (
        info.buyer_tax_amount,
        info.icms_tax_amount,
        info.iof_tax_amount,
        info.import_tax_amount,
    )
    return sum((_amount(t) for t in taxes), Decimal(0))


@dataclass(frozen=True)
class EscrowMoney:
    """The canonical money an escrow detail states (fees_final is decided elsewhere)."""

    fees: tuple[FeeLine, ...]
    fee_amount: Decimal
    seller_shipping_cost: Decimal
    refund_amount: Decimal
    payout_amount: Decimal | None
    seller_discount_amount: Decimal
    marketplace_discount_amount: Decimal
    discount_amount: Decimal
    shipping_paid_by_buyer: Decimal | None
    tax_amount: Decimal | None


def escrow_money(detail: SPEscrowDetail) -> EscrowMoney:
    income = detail.order_income
    fees = escrow_fee_lines(income)
    seller = _sum_fields(income, SELLER_DISCOUNTS)
    marketplace = _sum_fields(income, MARKETPLACE_DISCOUNTS)
    return EscrowMoney(
        fees=fees,
        fee_amount=sum((f.amount for f in fees), Decimal(0)),
        seller_shipping_cost=seller_shipping_cost(income),
        refund_amount=refund_amount(income),
        payout_amount=payout_amount(income),
        seller_discount_amount=seller,
        marketplace_discount_amount=marketplace,
        discount_amount=seller + marketplace + _amount(income.voucher_from_external_party),
        shipping_paid_by_buyer=income.buyer_paid_shipping_fee,
        tax_amount=buyer_taxes(detail),
    )


# Money a never-paid order settles with: nothing charged, paid or refunded.
NOTHING = EscrowMoney(
    fees=(),
    fee_amount=Decimal(0),
    seller_shipping_cost=Decimal(0),
    refund_amount=Decimal(0),
    payout_amount=Decimal(0),
    seller_discount_amount=Decimal(0),
    marketplace_discount_amount=Decimal(0),
    discount_amount=Decimal(0),
    shipping_paid_by_buyer=Decimal(0),
    tax_amount=Decimal(0),
)


def needs_escrow(order: SPOrderLogistics) -> bool:
    """Only paid orders have an escrow worth reading."""
    return order.order_status not in UNCHARGED and not order.never_paid


# --- logistics: packages, their instants, the order's status instants ---------------------

SHIPMENT_STATUS: dict[str, ShipmentStatus] = {
    "LOGISTICS_NOT_START": ShipmentStatus.PENDING,
    "LOGISTICS_PENDING_ARRANGE": ShipmentStatus.PENDING,
    # Paid and ready for the seller to arrange shipment: no label yet.
    "LOGISTICS_READY": ShipmentStatus.PENDING,
    # Shipment arranged: the label exists, the carrier has not collected it.
    "LOGISTICS_REQUEST_CREATED": ShipmentStatus.READY_TO_SHIP,
    "LOGISTICS_PICKUP_RETRY": ShipmentStatus.READY_TO_SHIP,
    "LOGISTICS_PICKUP_DONE": ShipmentStatus.SHIPPED,
    "LOGISTICS_DELIVERY_DONE": ShipmentStatus.DELIVERED,
    "LOGISTICS_DELIVERY_FAILED": ShipmentStatus.NOT_DELIVERED,
    "LOGISTICS_LOST": ShipmentStatus.NOT_DELIVERED,
    "LOGISTICS_COD_REJECTED": ShipmentStatus.NOT_DELIVERED,
    # Cancelled by the 3PL (failed pickup), at REQUEST_CREATED, or at READY.
    "LOGISTICS_PICKUP_FAILED": ShipmentStatus.CANCELLED,
    "LOGISTICS_REQUEST_CANCELED": ShipmentStatus.CANCELLED,
    "LOGISTICS_INVALID": ShipmentStatus.CANCELLED,
}
# Packages that have a tracking number (from arrangement on) and that left the seller.
TRACKED_PACKAGES = frozenset(
    {
        "LOGISTICS_REQUEST_CREATED",
        "LOGISTICS_PICKUP_RETRY",
        "LOGISTICS_PICKUP_DONE",
        "LOGISTICS_DELIVERY_DONE",
        "LOGISTICS_DELIVERY_FAILED",
        "LOGISTICS_LOST",
        "LOGISTICS_COD_REJECTED",
    }
)
DELIVERED_PACKAGE = "LOGISTICS_DELIVERY_DONE"
_LEFT_THE_SELLER = frozenset(
    {ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED, ShipmentStatus.NOT_DELIVERED}
)
# get_tracking_info's own vocabulary for its events.
TRACKING_PICKED_UP = "PICKED_UP"
TRACKING_DELIVERED = "DELIVERED"
LOGISTIC_MODE = {
    "fulfilled_by_shopee": LogisticMode.MARKETPLACE,
    "fulfilled_by_cb_seller": LogisticMode.SELLER,
    "fulfilled_by_local_seller": LogisticMode.SELLER,
}


@dataclass(frozen=True)
class PackageTimes:
    """A package's instants from its tracking events."""

    picked_up: datetime | None = None
    delivered: datetime | None = None


def package_times(info: SPTrackingInfo) -> PackageTimes:
    def first(status: str, pick: Callable[[Iterable[int]], int]) -> datetime | None:
        times = [e.update_time for e in info.tracking_info if e.logistics_status == status]
        return _utc(pick(times)) if times else None

    # The carrier may repeat an event; the first pickup and the last delivery stand.
    return PackageTimes(
        picked_up=first(TRACKING_PICKED_UP, min), delivered=first(TRACKING_DELIVERED, max)
    )


def shipment_of(
    order: SPOrderLogistics,
    package: SPPackage,
    store_id: str,
    tracking_number: str | None = None,
    times: PackageTimes | None = None,
) -> Shipment:
    # A status this table does not know yet waits as pending, its raw word kept beside.
    status = SHIPMENT_STATUS.get(package.logistics_status, ShipmentStatus.PENDING)
    times = times or PackageTimes()
    shipped_at = times.picked_up
    if shipped_at is None and status in _LEFT_THE_SELLER and order.pickup_done_time:
        shipped_at = _utc(order.pickup_done_time)
    address = order.recipient_address
    channel = package.logistics_channel_id
    return Shipment(
        store_id=store_id,
        shipment_id=package.package_number,
        order_id=order.order_sn,
        status=status,
        raw_status=package.logistics_status,
        logistic_mode=LOGISTIC_MODE.get(order.fulfillment_flag or ""),
        logistic_type=str(channel) if channel else None,
        carrier=package.shipping_carrier or order.shipping_carrier,
        tracking_number=tracking_number,
        ship_by=_utc(order.ship_by_date) if order.ship_by_date else None,
        shipped_at=shipped_at,
        delivered_at=times.delivered,
        buyer_city=address.city if address else None,
        buyer_state=state_code(address.state) if address else None,
        updated_at=_utc(order.update_time),
    )


def shipments_of(
    order: SPOrderLogistics,
    store_id: str,
    tracking: Mapping[str, str] | None = None,
    times: Mapping[str, PackageTimes] | None = None,
) -> tuple[Shipment, ...]:
    """One shipment per package of the order (none when the answer lists no package)."""
    return tuple(
        shipment_of(
            order,
            package,
            store_id,
            (tracking or {}).get(package.package_number),
            (times or {}).get(package.package_number),
        )
        for package in order.package_list
    )


def status_events(
    order: SPOrderLogistics, shipments: Sequence[Shipment] = ()
) -> tuple[StatusEvent, ...]:
    """The instants the answer states: created, paid, picked up — and delivered once every
    live package has a delivery instant (from its tracking)."""
    events = [
        StatusEvent(status=OrderStatus.PENDING, at=_utc(order.create_time), raw_status="UNPAID")
    ]
    if order.pay_time:
        events.append(StatusEvent(status=OrderStatus.PAID, at=_utc(order.pay_time)))
    if order.pickup_done_time:
        events.append(StatusEvent(status=OrderStatus.SHIPPED, at=_utc(order.pickup_done_time)))
    live = [s for s in shipments if s.status != ShipmentStatus.CANCELLED]
    arrived = [s.delivered_at for s in live if s.delivered_at is not None]
    if live and len(arrived) == len(live):
        events.append(StatusEvent(status=OrderStatus.DELIVERED, at=max(arrived)))
    return tuple(events)


# --- the canonical order and facts -----------------------------------------------------------


def _order_items(
    lines: Sequence[SPOrderLine], escrow: SPEscrowDetail | None
) -> tuple[OrderItem, ...]:
    line_fees: dict[str, Decimal] = {}
    if escrow is not None:
        for fee in escrow_fee_lines(escrow.order_income):
            if fee.line_ref:
                line_fees[fee.line_ref] = line_fees.get(fee.line_ref, Decimal(0)) + fee.amount
    return tuple(
        OrderItem(
            line_no=line_no,
            line_ref=line.line_ref,
            listing_id=str(line.item_id),
            variation_id=str(line.model_id) if line.model_id else "",
            seller_sku=line.model_sku or line.item_sku,
            title=line.item_name,
            quantity=line.model_quantity_purchased,
            unit_price=line.model_original_price,
            line_amount=line.line_amount,
            discount_amount=line.line_discount,
            fee=line_fees.get(line.line_ref),
        )
        for line_no, line in enumerate(lines, start=1)
    )


def _order_money(order: SPOrder, escrow: SPEscrowDetail | None) -> dict[str, Any]:
    """The Order's money columns the escrow states. The order read cannot see the release,
    so only a cancelled order is final here (nothing more will be charged or paid)."""
    if escrow is not None:
        money = escrow_money(escrow)
    elif order.never_paid:
        money = NOTHING
    else:
        return {}
    cancelled = order.order_status == "CANCELLED"
    return {
        "discount_amount": money.discount_amount,
        "seller_discount_amount": money.seller_discount_amount,
        "marketplace_discount_amount": money.marketplace_discount_amount,
        "shipping_paid_by_buyer": money.shipping_paid_by_buyer,
        "tax_amount": money.tax_amount,
        "fee_amount": money.fee_amount,
        "fees": money.fees,
        "seller_shipping_cost": money.seller_shipping_cost,
        "refund_amount": money.refund_amount,
        "payout_amount": money.payout_amount,
        "fees_final": True if cancelled else None,
        "settled_at": _utc(order.update_time) if cancelled else None,
    }


def order_from_shopee(
    order: SPOrder, store: Store, buyer_salt: str, escrow: SPEscrowDetail | None = None
) -> Order:
    """An order read: get_order_detail, with the escrow's money when it was read."""
    items = _order_items(order.item_list, escrow)
    created_at = _utc(order.create_time)
    address = order.recipient_address
    shipments = shipments_of(order, store.store_id)
    return Order(
        store_id=store.store_id,
        order_id=order.order_sn,
        status=normalize_status(order),
        raw_status=order.order_status,
        created_at=created_at,
        updated_at=_utc(order.update_time),
        business_date=store.business_date(created_at),
        currency=order.currency,
        items_amount=sum((i.line_amount for i in items), Decimal(0)),
        # Before payment the buyer has paid nothing (and Shopee states no total).
        total_amount=order.total_amount if order.total_amount is not None else Decimal(0),
        buyer_hash=hash_buyer(MARKETPLACE, order.buyer_user_id, buyer_salt),
        buyer_city=address.city if address else None,
        buyer_state=state_code(address.state) if address else None,
        items=items,
        shipments=shipments,
        status_events=status_events(order, shipments),
        **_order_money(order, escrow),
    )


def build_orders(
    shapes: Sequence[SPOrder],
    store: Store,
    buyer_salt: str,
    escrows: Mapping[str, SPEscrowDetail] | None = None,
) -> Page[Order]:
    page: Page[Order] = Page()
    for shape in shapes:
        try:
            page.records.append(
                order_from_shopee(shape, store, buyer_salt, (escrows or {}).get(shape.order_sn))
            )
        except ValidationError as exc:
            raw = shape.model_dump(mode="json")
            reason = describe_validation_error(exc)
            page.rejects.append(
                reject("shopee.orders", store.store_id, shape.order_sn, reason, raw)
            )
    return page


def parse_orders(
    raws: Sequence[Any],
    store: Store,
    buyer_salt: str,
    escrows: Mapping[str, SPEscrowDetail] | None = None,
) -> Page[Order]:
    shapes = parse_order_shapes(raws, store.store_id)
    built = build_orders(shapes.records, store, buyer_salt, escrows)
    return Page(records=built.records, rejects=shapes.rejects + built.rejects)


def parse_order_shapes(raws: Sequence[Any], store_id: str) -> Page[SPOrder]:
    return parse_records(
        raws,
        "shopee.orders",
        store_id,
        key=lambda raw: raw.get("order_sn"),
        build=SPOrder.model_validate,
    )


def _escrow_of(raw: Any) -> SPEscrowDetail | None:
    """A batch entry's escrow, or None when Shopee answered that order with a failure."""
    if isinstance(raw, dict) and SPBatchFailure.model_validate(raw).fail_error:
        return None
    return SPEscrowEntry.model_validate(raw).escrow_detail


def parse_escrows(raws: Sequence[Any], store_id: str) -> Page[SPEscrowDetail]:
    """The escrow details of a batch answer; entries Shopee failed are left out (the order
    simply has no escrow to read), malformed ones are rejects."""
    parsed = parse_records(raws, "shopee.escrow", store_id, key=_escrow_order_sn, build=_escrow_of)
    return Page(records=[d for d in parsed.records if d is not None], rejects=parsed.rejects)


def _escrow_order_sn(raw: dict[str, Any]) -> object:
    detail = raw.get("escrow_detail")
    return detail.get("order_sn") if isinstance(detail, dict) else None


def settlement_of(
    order: SPOrderLogistics,
    store_id: str,
    escrow: SPEscrowDetail | None,
    release: SPEscrowRelease | None,
) -> OrderSettlement | None:
    """The order's settlement: final once Shopee released the escrow (get_escrow_list's
    escrow_release_time), or at once for a cancelled order, which nothing will change."""
    if escrow is not None:
        money = escrow_money(escrow)
    elif order.never_paid:
        money = NOTHING
    else:
        return None
    cancelled = order.order_status == "CANCELLED"
    settled_at = None
    if release is not None:
        settled_at = _utc(release.escrow_release_time)
    elif cancelled:
        settled_at = _utc(order.update_time)
    return OrderSettlement(
        store_id=store_id,
        order_id=order.order_sn,
        currency=order.currency,
        fee_amount=money.fee_amount,
        seller_shipping_cost=money.seller_shipping_cost,
        refund_amount=money.refund_amount,
        payout_amount=money.payout_amount,
        fees_final=settled_at is not None,
        settled_at=settled_at,
        fees=money.fees,
    )


@dataclass
class LogisticsRead:
    """What get_order_facts gathered besides the orders themselves."""

    escrows: Mapping[str, SPEscrowDetail] = field(default_factory=dict)
    releases: Mapping[str, SPEscrowRelease] = field(default_factory=dict)
    tracking: Mapping[str, str] = field(default_factory=dict)
    times: Mapping[str, PackageTimes] = field(default_factory=dict)


def facts_of(order: SPOrderLogistics, store_id: str, read: LogisticsRead) -> OrderFacts:
    shipments = shipments_of(order, store_id, read.tracking, read.times)
    return OrderFacts(
        store_id=store_id,
        order_id=order.order_sn,
        settlement=settlement_of(
            order, store_id, read.escrows.get(order.order_sn), read.releases.get(order.order_sn)
        ),
        shipments=shipments,
        status_events=status_events(order, shipments),
    )


# Orders Shopee charges nothing on yet: no escrow exists before payment.
UNCHARGED = frozenset({"UNPAID"})
# Statuses after which Shopee releases the escrow (completion, or a resolved return).
RELEASABLE = frozenset({"COMPLETED", "TO_RETURN"})


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
    # The burst the API grants (None: one second's worth); the budget then holds it too.
    burst: float | None = None
    http: HttpSettings = field(default_factory=HttpSettings)
    clock: Callable[[], float] = time.time

    def new_http(
        self, transport: httpx.BaseTransport | None = None, shop_id: str | None = None
    ) -> ApiHttp:
        """An HTTP client paced per partner and shop (Shopee's quotas are per both)."""
        key = f"{MARKETPLACE}:{self.partner_id}" + (f":{shop_id}" if shop_id else "")
        limiter = shared_limiter(
            key, self.requests_per_second, self.burst or self.requests_per_second
        )
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


class ShopeeClient(ShopeeWritesMixin):
    """One Shopee shop (seller id = shop_id); publishing and fulfilment writes come from
    `ShopeeWritesMixin` (shopee_writes.py)."""

    settlement_days = SETTLEMENT_DAYS
    facts_per_run = int(
        DEFAULT_REQUESTS_PER_SECOND * FACTS_RUN_SECONDS * FACTS_SHARE_OF_BUDGET / CALLS_PER_FACT
    )

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
        # Escrow releases seen by this client, and the release-time window they cover.
        self._released: dict[str, SPEscrowRelease] = {}
        self._scanned: tuple[datetime, datetime] | None = None
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

    def get_models(self, item: SPItem, reason: str | None = None) -> Page[Listing]:
        answer = self._call(
            "product.get_model_list", "GET", MODEL_LIST_PATH, {"item_id": item.item_id}
        )
        models = _data(SPModelList, answer, "product.get_model_list").model
        if not models:
            why = "item says it has models, but get_model_list returned none"
            return Page(
                rejects=[reject("shopee.models", self.store.store_id, item.item_id, why, answer)]
            )
        return listings_of_models(item, models, self.store.store_id, reason)

    def violation_reasons(self, item_ids: Sequence[int]) -> dict[int, str]:
        """Why Shopee bans or reviews these items (get_item_violation_info, ≤ 50 a call).
        The reason only explains a status already read, so a refused call leaves it out
        rather than failing the listings."""
        reasons: dict[int, str] = {}
        for chunk in chunked(dict.fromkeys(item_ids), VIOLATION_ITEMS_MAX):
            query = {"item_id_list": ",".join(map(str, chunk))}
            try:
                answer = self._call(
                    "product.get_item_violation_info", "GET", ITEM_VIOLATION_PATH, query
                )
            except (InvalidRequestError, NotFoundError):
                continue
            for item in _data(SPViolationList, answer, "product.get_item_violation_info").item_list:
                reason = None if item.fail_error else violation_reason(item)
                if reason:
                    reasons[item.item_id] = reason
        return reasons

    def iter_listings(self) -> Iterator[Page[Listing]]:
        """Every listed item, as one listing per model (or one for an item without models),
        with Shopee's reason for the banned and reviewed ones."""
        for item_ids in self.iter_item_ids():
            page: Page[Listing] = Page()
            items, page.rejects = self.get_items(item_ids)
            held = [i.item_id for i in items if i.item_status in REASONED_ITEM_STATUSES]
            reasons = self.violation_reasons(held) if held else {}
            for item in items:
                reason = reasons.get(item.item_id)
                if item.has_model:
                    models = self.get_models(item, reason)
                    page.records += models.records
                    page.rejects += models.rejects
                else:
                    page.records.append(listing_of_item(item, self.store.store_id, reason))
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

    def _detail_raws(self, order_sns: Sequence[str], fields: Sequence[str]) -> list[Any]:
        """get_order_detail of ≤ 50 order_sn; ones Shopee does not know are absent."""
        query = {"order_sn_list": ",".join(order_sns), "response_optional_fields": ",".join(fields)}
        try:
            answer = self._call("order.get_order_detail", "GET", ORDER_DETAIL_PATH, query)
        except NotFoundError:
            return []  # none of these orders exists (any more): nothing to read
        return _data(SPOrderDetail, answer, "order.get_order_detail").order_list

    def _order_details(self, order_sns: Sequence[str]) -> Page[Order]:
        page: Page[Order] = Page()
        for chunk in chunked(order_sns, ORDER_SNS_MAX):
            shapes = parse_order_shapes(
                self._detail_raws(chunk, ORDER_DETAIL_FIELDS), self.store.store_id
            )
            escrows = self.get_escrows([o.order_sn for o in shapes.records if needs_escrow(o)])
            built = build_orders(
                shapes.records,
                self.store,
                self._buyer_salt,
                {d.order_sn: d for d in escrows.records},
            )
            page.records += built.records
            page.rejects += shapes.rejects + escrows.rejects + built.rejects
        return page

    def get_escrows(self, order_sns: Sequence[str]) -> Page[SPEscrowDetail]:
        """The escrow (payment) detail of paid orders, one batch call per 50.

        The order detail carries no fee; the escrow does. An entry that does not parse is
        kept in `ingest_errors` and its order lands without money rather than not at all.
        """
        page: Page[SPEscrowDetail] = Page()
        for chunk in chunked(dict.fromkeys(order_sns), ESCROW_SNS_MAX):
            try:
                answer = self._call_raw(
                    "payment.get_escrow_detail_batch",
                    "POST",
                    ESCROW_BATCH_PATH,
                    body={"order_sn_list": chunk},
                )
            except NotFoundError:
                continue  # none has an escrow yet
            parsed = parse_escrows(answer if isinstance(answer, list) else [], self.store.store_id)
            page.records += parsed.records
            page.rejects += parsed.rejects
        return page

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

    # --- facts: settlement, packages, tracking -------------------------------------------

    def get_order_facts(self, orders: Sequence[OrderRef]) -> Page[OrderFacts]:
        """Escrow, release, packages with tracking and delivery of these orders.

        Per 50 orders: one get_order_detail (status, packages, pickup), one escrow batch,
        the escrow list over their release window (which tells settled from not), one
        get_mass_tracking_number per 50 packages that have a label, and one
        get_tracking_info per delivered package (the only place the delivery instant is).
        """
        wanted = list(dict.fromkeys(o.order_id for o in orders))
        page: Page[OrderFacts] = Page()
        for chunk in chunked(wanted, ORDER_SNS_MAX):
            facts = self._facts(chunk)
            page.records += facts.records
            page.rejects += facts.rejects
        return page

    def _facts(self, order_sns: Sequence[str]) -> Page[OrderFacts]:
        store_id = self.store.store_id
        shapes = parse_records(
            self._detail_raws(order_sns, LOGISTICS_FIELDS),
            "shopee.orders",
            store_id,
            key=lambda raw: raw.get("order_sn"),
            build=SPOrderLogistics.model_validate,
        )
        orders = shapes.records
        escrows = self.get_escrows([o.order_sn for o in orders if needs_escrow(o)])
        read = LogisticsRead(escrows={d.order_sn: d for d in escrows.records})
        releasable = [
            o for o in orders if o.order_status in RELEASABLE and o.order_sn in read.escrows
        ]
        releases = self.get_releases(releasable)
        read.releases = {r.order_sn: r for r in releases.records}
        packages = [(o.order_sn, p) for o in orders for p in o.package_list]
        labelled = [
            (sn, p.package_number) for sn, p in packages if p.logistics_status in TRACKED_PACKAGES
        ]
        read.tracking = self.tracking_numbers(labelled)
        delivered = [
            (sn, p.package_number) for sn, p in packages if p.logistics_status == DELIVERED_PACKAGE
        ]
        times = self.package_times(delivered)
        read.times = {pn: t for pn, t in times.records}
        page: Page[OrderFacts] = Page(
            rejects=shapes.rejects + escrows.rejects + releases.rejects + times.rejects
        )
        for order in orders:
            try:
                page.records.append(facts_of(order, store_id, read))
            except ValidationError as exc:
                raw = order.model_dump(mode="json")
                reason = describe_validation_error(exc)
                page.rejects.append(reject("shopee.facts", store_id, order.order_sn, reason, raw))
        return page

    def get_releases(self, orders: Sequence[SPOrderLogistics]) -> Page[SPEscrowRelease]:
        """Escrow releases of these orders (the documented settlement signal and date).

        get_escrow_list lists every release of the shop by release time, so this client
        scans the window from the oldest order's creation to now once and remembers it:
        later batches of a facts run only scan what they add to the window.
        """
        if not orders:
            return Page()
        start = _utc(min(o.create_time for o in orders))
        end = datetime.fromtimestamp(self.app.clock(), tz=UTC) + timedelta(seconds=1)
        rejects = self._scan_releases(start, end)
        found = [self._released[o.order_sn] for o in orders if o.order_sn in self._released]
        return Page(records=found, rejects=rejects)

    def _scan_releases(self, start: datetime, end: datetime) -> list[Rejected]:
        gaps = [(start, end)]
        if self._scanned is not None:
            done_from, done_to = self._scanned
            # A release in the last moments waits for the next read rather than costing
            # every batch of a run one more call.
            if end - done_to < RELEASES_RESCAN_AFTER:
                end = done_to
            gaps = [(start, min(end, done_from)), (max(start, done_to), end)]
            start, end = min(start, done_from), max(end, done_to)
        rejects: list[Rejected] = []
        for gap_from, gap_to in gaps:
            for time_from, time_to in order_windows(gap_from, gap_to):
                for raws in self._escrow_list_pages(time_from, time_to):
                    parsed = parse_records(
                        raws,
                        "shopee.escrow_list",
                        self.store.store_id,
                        key=lambda raw: raw.get("order_sn"),
                        build=SPEscrowRelease.model_validate,
                    )
                    self._released.update({r.order_sn: r for r in parsed.records})
                    rejects += parsed.rejects
        self._scanned = (start, end)
        return rejects

    def _escrow_list_pages(self, time_from: int, time_to: int) -> Iterator[list[Any]]:
        page_no = 1
        while True:
            query = {
                "release_time_from": time_from,
                "release_time_to": time_to,
                "page_size": ESCROW_LIST_PAGE,
                "page_no": page_no,
            }
            answer = self._call("payment.get_escrow_list", "GET", ESCROW_LIST_PATH, query)
            listed = _data(SPEscrowList, answer, "payment.get_escrow_list")
            yield listed.escrow_list
            if not listed.more or not listed.escrow_list:
                return
            page_no += 1

    def tracking_numbers(self, packages: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Tracking number per package_number of (order_sn, package_number) pairs: 50 a
        call with get_mass_tracking_number, and get_tracking_number for any it fails."""
        order_of = {package: order_sn for order_sn, package in packages}
        found: dict[str, str] = {}
        failed: list[str] = []
        for chunk in chunked(list(order_of), PACKAGES_MAX):
            body = {"package_list": [{"package_number": package} for package in chunk]}
            answer = self._call(
                "logistics.get_mass_tracking_number", "POST", MASS_TRACKING_NUMBER_PATH, body=body
            )
            result = _data(SPMassTracking, answer, "logistics.get_mass_tracking_number")
            found.update(
                {
                    e.package_number: e.tracking_number
                    for e in result.success_list
                    if e.tracking_number
                }
            )
            failed += [f.package_number for f in result.fail_list if f.package_number in order_of]
        for package in failed:
            number = self.tracking_number(order_of[package], package)
            if number:
                found[package] = number
        return found

    def tracking_number(self, order_sn: str, package_number: str | None = None) -> str | None:
        """One package's tracking number (None while there is none, or if Shopee refuses:
        an order being allocated, a package it no longer knows)."""
        query = {"order_sn": order_sn}
        if package_number:
            query["package_number"] = package_number
        try:
            answer = self._call("logistics.get_tracking_number", "GET", TRACKING_NUMBER_PATH, query)
        except (InvalidRequestError, NotFoundError):
            return None
        return _data(SPTrackingNumber, answer, "logistics.get_tracking_number").tracking_number

    def package_times(self, packages: Sequence[tuple[str, str]]) -> Page[tuple[str, PackageTimes]]:
        """Pickup and delivery instants of (order_sn, package_number) from get_tracking_info,
        one call each; a refused call leaves the package out, a malformed answer is a reject."""
        page: Page[tuple[str, PackageTimes]] = Page()
        answers = in_flight(self._tracking_info, packages)
        for (_, package), answer in zip(packages, answers, strict=True):
            if answer is None:
                continue
            try:
                info = SPTrackingInfo.model_validate(answer)
            except ValidationError as exc:
                reason = describe_validation_error(exc)
                page.rejects.append(
                    reject("shopee.tracking", self.store.store_id, package, reason, answer)
                )
                continue
            page.records.append((package, package_times(info)))
        return page

    def _tracking_info(self, package: tuple[str, str]) -> dict[str, Any] | None:
        query = {"order_sn": package[0], "package_number": package[1]}
        try:
            return self._call("logistics.get_tracking_info", "GET", TRACKING_INFO_PATH, query)
        except (InvalidRequestError, NotFoundError):
            return None

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
