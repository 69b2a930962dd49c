"""Amazon Selling Partner API client: Login with Amazon, Orders v0 and 2026-01-01, Finances v0,
Listings Items 2021-08-01.

Protocol facts this module relies on (API-NOTES §4, API-NOTES-MONEY §4):

- Auth is Login with Amazon (LWA) only, on its own host: `POST /auth/o2/token` with the
  client id and secret in the form. The access token lasts one hour and travels in the
  `x-amz-access-token` header; SigV4 is no longer required (a signature would be ignored).
  A private app is connected with the refresh token Seller Central shows its owner
  (`connect_with_refresh_token`); a public app sends the seller to Seller Central's consent
  page and trades the returned `spapi_oauth_code` (`authorization_url`, `read_callback`,
  `exchange_code`). Refresh tokens do not rotate; a website authorization lasts 365 days.
- Errors come as `{"errors": [{"code", "message", "details"}]}`: 403 `Unauthorized` is a
  refused token (refreshed once, then AuthError), 429 `QuotaExceeded` a spent quota.
- Quotas are token buckets per operation, per selling partner and application. Each
  operation here has its own process-wide limiter with the published rate and burst
  (`QUOTAS`; `AmazonApp.rate_scale` multiplies the rates for benchmarks against a faster
  sandbox). A 429 without `Retry-After` (Amazon documents none) is retried after one
  token's refill time, and the bucket is emptied so that other threads of the process wait
  too instead of spending calls on more 429s.
- getOrders and listFinancialEvents windows must end at least two minutes in the past: the
  end of a window is clamped to now − 2 min (plus a few seconds of clock skew).

Call budget. getOrders is the scarce quota: 0.0167 req/s (one call per ~60 s) with a burst
of 20. Every call therefore asks for MaxResultsPerPage=100 and a range is fetched as ONE
paged query over the whole [start, end), never one query per day: a 30-day backfill of
5 orders a day costs 2 calls instead of 30 (30 would take ~10 minutes once the burst is
spent), and the burst alone reaches 20 × 100 = 2,000 orders; beyond it, 100 orders a minute.
Callers should hand iter_orders the whole range, not day windows.
Order lines come from getOrderItems, one call per order at 0.5 req/s with a burst of 30:
30 orders at once, then 30 a minute (1,800 an hour). Lines are the real bottleneck (a day
of 500 orders needs ~16 minutes of getOrderItems, and only 5 getOrders pages), so they are
fetched only for orders that parsed, once per order version: a cache keyed by
(AmazonOrderId, LastUpdateDate) skips the call when an unchanged order is seen again
(overlapping polls, reconciliation right after a backfill). get_orders uses getOrder
(0.5/30), keeping getOrders' quota for window queries.
Listings search pages 20 SKUs at 5 req/s (burst 5): 100 SKUs a second. The search pages
through at most 1000 SKUs, so larger catalogs are walked in creation-date order and the
search restarts after the last creation date seen. A stock write is one PATCH (5/5), plus
one getListingsItem (5/10) for the product type when the listing was not seen by this client.

Order facts (`get_order_facts`): fees, refunds and payout come from Finances v0 financial
events, tracking and delivery from Orders 2026-01-01 getOrder (includedData=FULFILLMENT,
PACKAGES). Both are 0.5 req/s with a burst of 30 per operation. Events are read per order
(listFinancialEventsByOrderId) for short lists and by posting date (listFinancialEvents,
100 events a page) for long ones, whichever costs fewer calls (`prefer_bulk`); getOrder
is only spent on orders whose logistics can still change (not delivered, cancelled or
returned). One refresh run of ~10 minutes may spend half of each 0.5/s budget:
600 s × 0.25 req/s = 150 getOrder calls, hence `facts_per_run`.

Logistics. Orders v0 gives each order one shipment (no package id, no tracking): the
channel (AFN = Amazon's logistics, MFN = the seller's), the service level, the ship-by
deadline (seller-fulfilled orders only) and, for Easy Ship orders, the package status.
Orders 2026-01-01 adds, for seller-fulfilled orders only, the packages: carrier, tracking
number, hand-over time and status — DELIVERED included, but without a delivery instant,
so `delivered_at` stays unknown and the order reaches `delivered` through its shipment's
status. Amazon-fulfilled (FBA) orders have no packages in the API: their shipment follows
the fulfilment status (up to SHIPPED), with no tracking and no delivery; Amazon publishes
those only in its FBA shipment reports, which this client does not read.

Money (docs/orders.md has the table): line_amount is ItemPrice, which Amazon states as the
line total (price × quantity), so it is never rebuilt from a rounded unit price; discounts,
taxes and shipping sit beside it. Fees are not in the Orders API: they are the FeeComponents
of the order's financial events, negative when charged (Amazon's convention, also in the
model's examples of refunds), so fee_amount is their sum with the sign turned.

Amazon gives no buyer id without a Restricted Data Token, so `buyer_hash` stays None; only
the shipping city and state are kept.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
)

from synchub_pipelines.marketplaces.amazon_writes import (
    WRITE_QUOTAS,
    AmazonWritesMixin,
)
from synchub_pipelines.marketplaces.base import (
    ApiShape,
    Page,
    TimeField,
    describe_validation_error,
    reject,
)
from synchub_pipelines.marketplaces.brazil import state_code
from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    MarketplaceError,
    NotFoundError,
    RateLimitedError,
)
from synchub_pipelines.marketplaces.http import ApiHttp, HttpSettings, classify_by_status
from synchub_pipelines.marketplaces.ratelimit import RateLimiter, shared_limiter
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
    Shipment,
    ShipmentStatus,
    StatusEvent,
    Store,
)

MARKETPLACE = Marketplace.AMAZON.value
PRODUCTION_API_URL = "https://sellingpartnerapi-na.amazon.com"  # the NA region serves Brazil
PRODUCTION_LWA_URL = "https://api.amazon.com"
PRODUCTION_SELLER_CENTRAL_URL = "https://sellercentral.amazon.com.br"
BRAZIL_MARKETPLACE_ID = "A2Q3Y263D00KWC"
DEFAULT_CURRENCY = "BRL"

LWA_TOKEN_PATH = "/auth/o2/token"  # noqa: S105 - a path, not a secret
CONSENT_PATH = "/apps/authorize/consent"
ORDERS_PATH = "/orders/v0/orders"
ORDERS_2026_PATH = "/orders/2026-01-01/orders"
FINANCES_PATH = "/finances/v0"
LISTINGS_PATH = "/listings/2021-08-01/items"

ORDERS_SOURCE = "amazon.orders"  # Rejected.source
FACTS_SOURCE = "amazon.order_facts"
LISTINGS_SOURCE = "amazon.listings"
ORDERS_PAGE = 100  # MaxResultsPerPage's maximum
EVENTS_PAGE = 100  # listFinancialEvents' MaxResultsPerPage maximum
LISTINGS_PAGE = 20  # pageSize's maximum
LISTINGS_INCLUDED = "summaries,attributes,issues,fulfillmentAvailability,offers"
# Tracking and fulfilment status only: buyer and recipient data stay out (LGPD).
ORDER_FACTS_INCLUDED = "FULFILLMENT,PACKAGES"
# getOrders refuses a *Before later than now − 2 min; the extra seconds absorb clock skew.
BEFORE_MARGIN = timedelta(minutes=2, seconds=5)
# listFinancialEvents answers empty when PostedAfter and PostedBefore are further apart.
EVENTS_WINDOW = timedelta(days=180)
WEBSITE_AUTHORIZATION_LIFETIME = timedelta(days=365)
ORDER_ITEMS_CACHE_SIZE = 20_000
FULFILLMENT_PATH = "/attributes/fulfillment_availability"
DEFAULT_CHANNEL = "DEFAULT"  # merchant-fulfilled stock; FBA quantities are Amazon's to manage
CENT = Decimal("0.01")
MILLISECOND = timedelta(milliseconds=1)
# An order's fees are final this long after Amazon posted the sale (see `fees_are_final`).
FINAL_AFTER = timedelta(days=30)
# Below this many orders, one listFinancialEventsByOrderId each is cheaper than paging
# every event of the period: a burst's worth of calls.
BULK_MIN_ORDERS = 30
# Paging by date gives up after one page per this many orders: the period then holds far
# more events than these orders (a busy store, a sparse list), and per-order calls win.
# Dense lists need about one page per 90 orders; a give-up costs 10 % extra at most.
ORDERS_PER_BULK_PAGE = 10

# Detail pages by marketplace id, for listing permalinks.
RETAIL_HOSTS = {
    "A2Q3Y263D00KWC": "www.amazon.com.br",
    "ATVPDKIKX0DER": "www.amazon.com",
    "A2EUQ1WTGCTBG2": "www.amazon.ca",
    "A1AM78C64UM0Y8": "www.amazon.com.mx",
}


@dataclass(frozen=True)
class Quota:
    """An operation's published token bucket: `rate` requests per second, `burst` at once."""

    rate: float
    burst: int


# Default usage plans from the API models; Amazon may raise them per selling partner.
QUOTAS: dict[str, Quota] = {
    "getOrders": Quota(0.0167, 20),
    "getOrder": Quota(0.5, 30),
    "getOrderItems": Quota(0.5, 30),
    "getOrder2026": Quota(0.5, 30),  # Orders API 2026-01-01 getOrder, a bucket of its own
    "listFinancialEventsByOrderId": Quota(0.5, 30),
    "listFinancialEvents": Quota(0.5, 30),
    "searchListingsItems": Quota(5.0, 5),
    "getListingsItem": Quota(5.0, 10),
    "patchListingsItem": Quota(5.0, 5),
    # Publishing and fulfilment writes (marketplaces/amazon_writes.py).
    **{name: Quota(rate, burst) for name, (rate, burst) in WRITE_QUOTAS.items()},
}

# Normalized status of each Orders v0 status. Amazon has no Delivered or Returned status in
# the Orders API: delivery shows on the package (Orders 2026-01-01) and a return as a refund
# (Finances), which `get_order_facts` reads.
# - PendingAvailability: a pre-order whose payment is not authorized yet → pending.
# - Unfulfillable: an Amazon-fulfilled order from another channel that Amazon cannot ship;
#   it is not cancelled (the seller must act), nor a sale yet, so it stays open → pending.
# - InvoiceUnconfirmed: Amazon's definition is "all items shipped", only the invoice
#   confirmation is missing → shipped.
ORDER_STATUS_MAP: dict[str, OrderStatus] = {
    "Pending": OrderStatus.PENDING,
    "PendingAvailability": OrderStatus.PENDING,
    "Unfulfillable": OrderStatus.PENDING,
    "Unshipped": OrderStatus.PAID,
    "PartiallyShipped": OrderStatus.PAID,
    "Shipped": OrderStatus.SHIPPED,
    "InvoiceUnconfirmed": OrderStatus.SHIPPED,
    "Canceled": OrderStatus.CANCELLED,
}

AmazonOrderStatus = Literal[
    "Pending",
    "PendingAvailability",
    "Unfulfillable",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "InvoiceUnconfirmed",
    "Canceled",
]

# The order's one shipment as Orders v0 sees it (no package ids, no tracking there): a
# partial shipment has a package on its way, so the order's shipment is shipped.
ORDER_SHIPMENT_STATUS: dict[str, ShipmentStatus] = {
    "Pending": ShipmentStatus.PENDING,
    "PendingAvailability": ShipmentStatus.PENDING,
    "Unfulfillable": ShipmentStatus.PENDING,
    "Unshipped": ShipmentStatus.PENDING,
    "PartiallyShipped": ShipmentStatus.SHIPPED,
    "Shipped": ShipmentStatus.SHIPPED,
    "InvoiceUnconfirmed": ShipmentStatus.SHIPPED,
    "Canceled": ShipmentStatus.CANCELLED,
}

# Orders 2026-01-01 `fulfillment.fulfillmentStatus`, for orders without a package (FBA).
FULFILLMENT_SHIPMENT_STATUS: dict[str, ShipmentStatus] = {
    "PENDING_AVAILABILITY": ShipmentStatus.PENDING,
    "PENDING": ShipmentStatus.PENDING,
    "UNSHIPPED": ShipmentStatus.PENDING,
    "UNFULFILLABLE": ShipmentStatus.PENDING,
    "PARTIALLY_SHIPPED": ShipmentStatus.SHIPPED,
    "SHIPPED": ShipmentStatus.SHIPPED,
    "CANCELLED": ShipmentStatus.CANCELLED,
}

# A package's `detailedStatus` (Orders 2026-01-01) says more than its `status`, which is
# the fallback when no detail is given.
PACKAGE_DETAIL_STATUS: dict[str, ShipmentStatus] = {
    "PENDING_SCHEDULE": ShipmentStatus.READY_TO_SHIP,
    "PENDING_PICK_UP": ShipmentStatus.READY_TO_SHIP,
    "PENDING_DROP_OFF": ShipmentStatus.READY_TO_SHIP,
    "LABEL_CANCELLED": ShipmentStatus.CANCELLED,
    "PICKED_UP": ShipmentStatus.SHIPPED,
    "DROPPED_OFF": ShipmentStatus.SHIPPED,
    "AT_ORIGIN_FC": ShipmentStatus.SHIPPED,
    "AT_DESTINATION_FC": ShipmentStatus.SHIPPED,
    "OUT_FOR_DELIVERY": ShipmentStatus.SHIPPED,
    "DELIVERED": ShipmentStatus.DELIVERED,
    "REJECTED_BY_BUYER": ShipmentStatus.NOT_DELIVERED,
    "UNDELIVERABLE": ShipmentStatus.NOT_DELIVERED,
    "RETURNING_TO_SELLER": ShipmentStatus.NOT_DELIVERED,
    "LOST": ShipmentStatus.NOT_DELIVERED,
    "DAMAGED": ShipmentStatus.NOT_DELIVERED,
    "RETURNED_TO_SELLER": ShipmentStatus.RETURNED,
}
PACKAGE_STATUS: dict[str, ShipmentStatus] = {
    "PENDING": ShipmentStatus.READY_TO_SHIP,  # a package exists: its label is bought
    "SHIPPED": ShipmentStatus.SHIPPED,
    "IN_TRANSIT": ShipmentStatus.SHIPPED,
    "DELIVERED": ShipmentStatus.DELIVERED,
    "CANCELLED": ShipmentStatus.CANCELLED,
    "UNDELIVERABLE": ShipmentStatus.NOT_DELIVERED,
}
# Orders v0's `EasyShipShipmentStatus`: the same package states, spelled in PascalCase.
EASY_SHIP_STATUS: dict[str, ShipmentStatus] = {
    "PendingSchedule": ShipmentStatus.READY_TO_SHIP,
    "PendingPickUp": ShipmentStatus.READY_TO_SHIP,
    "PendingDropOff": ShipmentStatus.READY_TO_SHIP,
    "LabelCanceled": ShipmentStatus.CANCELLED,
    "PickedUp": ShipmentStatus.SHIPPED,
    "DroppedOff": ShipmentStatus.SHIPPED,
    "AtOriginFC": ShipmentStatus.SHIPPED,
    "AtDestinationFC": ShipmentStatus.SHIPPED,
    "OutForDelivery": ShipmentStatus.SHIPPED,
    "Delivered": ShipmentStatus.DELIVERED,
    "RejectedByBuyer": ShipmentStatus.NOT_DELIVERED,
    "Undeliverable": ShipmentStatus.NOT_DELIVERED,
    "ReturningToSeller": ShipmentStatus.NOT_DELIVERED,
    "Lost": ShipmentStatus.NOT_DELIVERED,
    "Damaged": ShipmentStatus.NOT_DELIVERED,
    "ReturnedToSeller": ShipmentStatus.RETURNED,
}

# A ref in one of these states has logistics that cannot change any more: no getOrder.
SETTLED_LOGISTICS = frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED})

# Financial event lists by what they mean for an order. Refund, guarantee-claim (A-to-z)
# and chargeback events share the ShipmentEvent shape and give the buyer money back.
SALE_EVENT_LISTS = ("ShipmentEventList",)
REFUND_EVENT_LISTS = ("RefundEventList", "GuaranteeClaimEventList", "ChargebackEventList")
# Shipping labels bought from Amazon are billed as adjustments of these types.
POSTAGE_ADJUSTMENTS = ("PostageBilling", "PostageRefund")

# Issue enforcement actions that take a listing off sale (or out of search) for now.
BLOCKING_ACTIONS = frozenset({"LISTING_SUPPRESSED", "CATALOG_ITEM_REMOVED", "SEARCH_SUPPRESSED"})

# The operation's limiter while its request is in flight: `classify` empties it on a 429.
_active_quota: ContextVar[RateLimiter | None] = ContextVar("amazon_active_quota", default=None)


# --- the API's own shapes (only the fields the pipeline reads) ---------------------------


class AmzMoney(ApiShape):
    CurrencyCode: str
    Amount: Decimal


class AmzAddress(ApiShape):
    # Without a Restricted Data Token only these non-PII parts are returned anyway; names,
    # street lines and phones of a tokenized response are not read.
    City: str | None = None
    StateOrRegion: str | None = None


class AmzOrderItem(ApiShape):
    OrderItemId: str = Field(min_length=1)
    ASIN: str | None = None
    SellerSKU: str | None = None
    Title: str | None = None
    QuantityOrdered: int = Field(ge=0)
    ItemPrice: AmzMoney | None = None
    ItemTax: AmzMoney | None = None
    PromotionDiscount: AmzMoney | None = None
    PromotionDiscountTax: AmzMoney | None = None
    ShippingPrice: AmzMoney | None = None
    ShippingTax: AmzMoney | None = None
    ShippingDiscount: AmzMoney | None = None
    ShippingDiscountTax: AmzMoney | None = None


class AmzOrderHeader(ApiShape):
    """An order as getOrders and getOrder return it (lines come from getOrderItems)."""

    AmazonOrderId: str = Field(min_length=1)
    PurchaseDate: AwareDatetime
    LastUpdateDate: AwareDatetime
    OrderStatus: AmazonOrderStatus
    OrderTotal: AmzMoney | None = None  # absent until payment is authorized
    FulfillmentChannel: Literal["MFN", "AFN"] | None = None
    ShipServiceLevel: str | None = None
    ShipmentServiceLevelCategory: str | None = None
    LatestShipDate: AwareDatetime | None = None  # seller-fulfilled orders only
    EasyShipShipmentStatus: str | None = None  # Amazon Easy Ship orders only
    ShippingAddress: AmzAddress | None = None


class AmzOrder(AmzOrderHeader):
    """An order with its lines, as the mapping needs it."""

    OrderItems: list[AmzOrderItem] = Field(min_length=1)


class _OrdersPayload(ApiShape):
    Orders: list[Any]
    NextToken: str | None = None


class OrdersResponse(ApiShape):
    payload: _OrdersPayload


class OrderResponse(ApiShape):
    payload: dict[str, Any]


class _OrderItemsPayload(ApiShape):
    OrderItems: list[Any]
    NextToken: str | None = None


class OrderItemsResponse(ApiShape):
    payload: _OrderItemsPayload


# Orders API 2026-01-01 (camelCase; Money is {amount, currencyCode}).


class O26Window(ApiShape):
    earliestDateTime: AwareDatetime | None = None
    latestDateTime: AwareDatetime | None = None


class O26Fulfillment(ApiShape):
    fulfillmentStatus: Literal[
        "PENDING_AVAILABILITY",
        "PENDING",
        "UNSHIPPED",
        "PARTIALLY_SHIPPED",
        "SHIPPED",
        "CANCELLED",
        "UNFULFILLABLE",
    ]
    fulfilledBy: Literal["AMAZON", "MERCHANT"] | None = None
    fulfillmentServiceLevel: str | None = None
    shipByWindow: O26Window | None = None


class O26PackageStatus(ApiShape):
    status: Literal["PENDING", "IN_TRANSIT", "SHIPPED", "DELIVERED", "CANCELLED", "UNDELIVERABLE"]
    detailedStatus: str | None = None


class O26Package(ApiShape):
    packageReferenceId: str = Field(min_length=1)
    createdTime: AwareDatetime | None = None
    packageStatus: O26PackageStatus | None = None
    carrier: str | None = None
    shipTime: AwareDatetime | None = None
    shippingService: str | None = None
    trackingNumber: str | None = None


class O26Order(ApiShape):
    orderId: str = Field(min_length=1)
    createdTime: AwareDatetime
    lastUpdatedTime: AwareDatetime
    fulfillment: O26Fulfillment | None = None
    packages: list[O26Package] = Field(default_factory=list)


class O26OrderResponse(ApiShape):
    order: dict[str, Any]


# Finances API v0 (amounts are JSON numbers, read as Decimal from their text).


class FinMoney(ApiShape):
    CurrencyCode: str | None = None
    CurrencyAmount: Decimal


class FinCharge(ApiShape):
    ChargeType: str = Field(min_length=1)
    ChargeAmount: FinMoney


class FinFee(ApiShape):
    FeeType: str = Field(min_length=1)
    FeeAmount: FinMoney


class FinPromotion(ApiShape):
    PromotionType: str | None = None
    PromotionId: str | None = None
    PromotionAmount: FinMoney


class FinTaxWithheld(ApiShape):
    TaxCollectionModel: str | None = None
    TaxesWithheld: list[FinCharge] = Field(default_factory=list)


class FinDirectPayment(ApiShape):
    DirectPaymentType: str | None = None
    DirectPaymentAmount: FinMoney


class FinShipmentItem(ApiShape):
    SellerSKU: str | None = None
    OrderItemId: str | None = None
    OrderAdjustmentItemId: str | None = None
    QuantityShipped: int | None = None
    ItemChargeList: list[FinCharge] = Field(default_factory=list)
    ItemChargeAdjustmentList: list[FinCharge] = Field(default_factory=list)
    ItemFeeList: list[FinFee] = Field(default_factory=list)
    ItemFeeAdjustmentList: list[FinFee] = Field(default_factory=list)
    ItemTaxWithheldList: list[FinTaxWithheld] = Field(default_factory=list)
    PromotionList: list[FinPromotion] = Field(default_factory=list)
    PromotionAdjustmentList: list[FinPromotion] = Field(default_factory=list)


class FinShipmentEvent(ApiShape):
    """A shipment (sale), refund, guarantee claim or chargeback: the model's ShipmentEvent."""

    AmazonOrderId: str | None = None
    PostedDate: AwareDatetime | None = None
    OrderChargeList: list[FinCharge] = Field(default_factory=list)
    OrderChargeAdjustmentList: list[FinCharge] = Field(default_factory=list)
    ShipmentFeeList: list[FinFee] = Field(default_factory=list)
    ShipmentFeeAdjustmentList: list[FinFee] = Field(default_factory=list)
    OrderFeeList: list[FinFee] = Field(default_factory=list)
    OrderFeeAdjustmentList: list[FinFee] = Field(default_factory=list)
    DirectPaymentList: list[FinDirectPayment] = Field(default_factory=list)
    ShipmentItemList: list[FinShipmentItem] = Field(default_factory=list)
    ShipmentItemAdjustmentList: list[FinShipmentItem] = Field(default_factory=list)


class FinServiceFeeEvent(ApiShape):
    AmazonOrderId: str | None = None
    FeeReason: str | None = None
    FeeList: list[FinFee] = Field(default_factory=list)
    SellerSKU: str | None = None


class FinAdjustmentEvent(ApiShape):
    AdjustmentType: str | None = None
    PostedDate: AwareDatetime | None = None
    AdjustmentAmount: FinMoney | None = None


class _FinancesPayload(ApiShape):
    NextToken: str | None = None
    FinancialEvents: dict[str, Any] = Field(default_factory=dict)


class FinancesResponse(ApiShape):
    payload: _FinancesPayload


class LiMoney(ApiShape):
    currencyCode: str
    amount: Decimal


class LiSummary(ApiShape):
    marketplaceId: str
    asin: str | None = None
    productType: str | None = None
    status: list[str] = Field(default_factory=list)
    itemName: str | None = None
    createdDate: AwareDatetime | None = None
    lastUpdatedDate: AwareDatetime | None = None


class LiOffer(ApiShape):
    marketplaceId: str
    offerType: str | None = None
    price: LiMoney | None = None


class LiAvailability(ApiShape):
    fulfillmentChannelCode: str
    quantity: int | None = Field(default=None, ge=0)


class LiEnforcementAction(ApiShape):
    action: str


class LiExemption(ApiShape):
    status: Literal["EXEMPT", "EXEMPT_UNTIL_EXPIRY_DATE", "NOT_EXEMPT"]


class LiEnforcements(ApiShape):
    actions: list[LiEnforcementAction] = Field(default_factory=list)
    exemption: LiExemption | None = None


class LiIssue(ApiShape):
    code: str | None = None
    message: str
    severity: str | None = None
    categories: list[str] = Field(default_factory=list)
    enforcements: LiEnforcements | None = None
    marketplaceIds: list[str] = Field(default_factory=list)


class LiItem(ApiShape):
    sku: str = Field(min_length=1)
    summaries: list[LiSummary] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    offers: list[LiOffer] = Field(default_factory=list)
    fulfillmentAvailability: list[LiAvailability] = Field(default_factory=list)
    issues: list[LiIssue] = Field(default_factory=list)


class _LiPagination(ApiShape):
    nextToken: str | None = None


class LiSearchResults(ApiShape):
    numberOfResults: int
    pagination: _LiPagination | None = None
    items: list[Any]


class LiSubmission(ApiShape):
    sku: str
    status: Literal["ACCEPTED", "INVALID", "VALID"]
    submissionId: str
    issues: list[LiIssue] = Field(default_factory=list)


class _LwaToken(ApiShape):
    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_in: int = Field(gt=0)


_Envelope = TypeVar("_Envelope", bound=BaseModel)
_Event = TypeVar("_Event", bound=ApiShape)


def _json_body(response: httpx.Response, operation: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise MarketplaceError(
            MARKETPLACE, operation, f"answered HTTP {response.status_code} without JSON"
        ) from None


def _decimal_json_body(response: httpx.Response, operation: str) -> Any:
    """A body whose money is JSON numbers (Finances v0): read straight into Decimal, so an
    amount never passes through a float."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise MarketplaceError(
            MARKETPLACE, operation, f"answered HTTP {response.status_code} without JSON"
        ) from None


def _envelope(model: type[_Envelope], body: Any, operation: str) -> _Envelope:
    """A response's outer shape; when that is wrong every record would be, so fail loudly."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise MarketplaceError(
            MARKETPLACE, operation, f"unexpected response shape: {describe_validation_error(exc)}"
        ) from None


# --- orders: mapping to the canonical model ---------------------------------------------


def _amount(money: AmzMoney | None) -> Decimal:
    return money.Amount if money is not None else Decimal(0)


def _stated_sum(values: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of the amounts the API stated; None when it stated none of them."""
    stated = [v for v in values if v is not None]
    return sum(stated, Decimal(0)) if stated else None


def _line_tax(item: AmzOrderItem) -> Decimal | None:
    """Every tax on the line (item and its shipping), less the tax on its discounts."""
    charged = (item.ItemTax, item.ShippingTax)
    discounted = (item.PromotionDiscountTax, item.ShippingDiscountTax)
    if all(m is None for m in (*charged, *discounted)):
        return None
    return sum((_amount(m) for m in charged), Decimal(0)) - sum(
        (_amount(m) for m in discounted), Decimal(0)
    )


def _line_shipping(item: AmzOrderItem) -> Decimal | None:
    if item.ShippingPrice is None:
        return None
    return item.ShippingPrice.Amount - _amount(item.ShippingDiscount)


def order_line(item: AmzOrderItem, line_no: int) -> OrderItem:
    """ItemPrice is the line total (price × quantity) and becomes line_amount as stated; the
    unit price is derived from it, rounded to the cent, for display only."""
    price = _amount(item.ItemPrice)
    unit = price / item.QuantityOrdered if item.QuantityOrdered else price
    discount = item.PromotionDiscount.Amount if item.PromotionDiscount is not None else None
    return OrderItem(
        line_no=line_no,
        line_ref=item.OrderItemId,
        listing_id=item.SellerSKU,
        variation_id="",
        seller_sku=item.SellerSKU,
        title=item.Title,
        quantity=item.QuantityOrdered,
        unit_price=unit.quantize(CENT, rounding=ROUND_HALF_EVEN),
        line_amount=price,
        discount_amount=discount,
        tax_amount=_line_tax(item),
    )


def _logistic_mode(channel: str | None) -> LogisticMode | None:
    if channel == "AFN":
        return LogisticMode.MARKETPLACE
    return LogisticMode.SELLER if channel == "MFN" else None


def order_shipment(order: AmzOrderHeader, store_id: str) -> Shipment:
    """The order's shipment as Orders v0 shows it: one per order, keyed by the order id
    (v0 has no package ids); Easy Ship orders carry their package's status."""
    status = ORDER_SHIPMENT_STATUS[order.OrderStatus]
    raw: str = order.OrderStatus
    easy_ship = order.EasyShipShipmentStatus
    if easy_ship in EASY_SHIP_STATUS:
        status, raw = EASY_SHIP_STATUS[easy_ship], easy_ship
    address = order.ShippingAddress
    return Shipment(
        store_id=store_id,
        shipment_id=order.AmazonOrderId,
        order_id=order.AmazonOrderId,
        status=status,
        raw_status=raw,
        logistic_mode=_logistic_mode(order.FulfillmentChannel),
        logistic_type=(
            order.ShipServiceLevel or order.ShipmentServiceLevelCategory or order.FulfillmentChannel
        ),
        ship_by=order.LatestShipDate,
        buyer_city=address.City if address else None,
        buyer_state=state_code(address.StateOrRegion) if address else None,
        updated_at=order.LastUpdateDate,
    )


def order_from_amazon(order: AmzOrder, store: Store) -> Order:
    """The canonical order (docs/orders.md): items = Σ ItemPrice exactly; discount =
    Σ PromotionDiscount; shipping paid by the buyer = Σ (ShippingPrice − ShippingDiscount),
    a shipping discount being a cheaper shipping rather than a discount on the goods; tax =
    Σ (ItemTax + ShippingTax − PromotionDiscountTax − ShippingDiscountTax); total =
    OrderTotal, or items − discount + shipping + tax while Amazon withholds it (Pending).
    An amount no line states stays None (unknown), not 0."""
    lines = [order_line(item, n) for n, item in enumerate(order.OrderItems, start=1)]
    items_amount = sum((line.line_amount for line in lines), Decimal(0))
    discount = _stated_sum(line.discount_amount for line in lines)
    tax = _stated_sum(line.tax_amount for line in lines)
    shipping = _stated_sum(_line_shipping(item) for item in order.OrderItems)
    if order.OrderTotal is not None:
        currency, total = order.OrderTotal.CurrencyCode, order.OrderTotal.Amount
    else:
        priced = [i.ItemPrice.CurrencyCode for i in order.OrderItems if i.ItemPrice is not None]
        currency = priced[0] if priced else DEFAULT_CURRENCY
        total = items_amount - (discount or 0) + (shipping or 0) + (tax or 0)
    created_at = order.PurchaseDate.astimezone(UTC)
    address = order.ShippingAddress
    return Order(
        store_id=store.store_id,
        order_id=order.AmazonOrderId,
        status=ORDER_STATUS_MAP[order.OrderStatus],
        raw_status=order.OrderStatus,
        created_at=created_at,
        updated_at=order.LastUpdateDate.astimezone(UTC),
        business_date=store.business_date(created_at),
        currency=currency,
        items_amount=items_amount,
        discount_amount=discount,
        shipping_paid_by_buyer=shipping,
        tax_amount=tax,
        total_amount=total,
        buyer_hash=None,
        buyer_city=address.City if address else None,
        buyer_state=state_code(address.StateOrRegion) if address else None,
        items=tuple(lines),
        shipments=(order_shipment(order, store.store_id),),
        # Only the purchase has an instant in Orders v0; LastUpdateDate dates whatever
        # changed last, so the current status is left to the writer as an observation.
        status_events=(StatusEvent(status=OrderStatus.PENDING, at=created_at),),
    )


def parse_order(raw: Any, raw_items: Sequence[Any], store: Store) -> Order:
    """A getOrders/getOrder record and its getOrderItems lines; raises ValidationError."""
    merged = {**raw, "OrderItems": list(raw_items)} if isinstance(raw, dict) else raw
    return order_from_amazon(AmzOrder.model_validate(merged), store)


# --- order facts: shipments and status instants from Orders 2026-01-01 getOrder ----------


def package_status(package: O26Package) -> tuple[ShipmentStatus, str]:
    """A package's normalized status and its raw `status/detailedStatus`."""
    found = package.packageStatus
    if found is None:
        return ShipmentStatus.READY_TO_SHIP, "NONE"
    detail = found.detailedStatus
    raw = f"{found.status}/{detail}" if detail else found.status
    if detail in PACKAGE_DETAIL_STATUS:
        return PACKAGE_DETAIL_STATUS[detail], raw
    return PACKAGE_STATUS[found.status], raw


def _package_order(package: O26Package) -> tuple[bool, datetime, str]:
    # A cancelled label sorts last, so the live package is the order's main shipment.
    status, _ = package_status(package)
    created = package.createdTime or datetime.max.replace(tzinfo=UTC)
    return status is ShipmentStatus.CANCELLED, created, package.packageReferenceId


def order_facts_shipments(order: O26Order, store_id: str) -> list[Shipment]:
    """Shipments of a getOrder (2026-01-01) answer.

    Package ids are only unique within the order, and Orders v0 keys the order's shipment
    by the order id, so the main package keeps the order id and any further package is
    `<order id>-<packageReferenceId>`. An order without packages (Amazon-fulfilled, or not
    yet labelled) is its fulfilment status under the order id. Amazon states no delivery
    instant for a package, so `delivered_at` stays unknown (None) even when DELIVERED.
    """
    fulfillment = order.fulfillment
    mode = None
    ship_by = None
    if fulfillment is not None:
        mode = {"AMAZON": LogisticMode.MARKETPLACE, "MERCHANT": LogisticMode.SELLER}.get(
            fulfillment.fulfilledBy or ""
        )
        ship_by = fulfillment.shipByWindow.latestDateTime if fulfillment.shipByWindow else None
    common: dict[str, Any] = {
        "store_id": store_id,
        "order_id": order.orderId,
        "logistic_mode": mode,
        "ship_by": ship_by,
        "updated_at": order.lastUpdatedTime,
    }
    if not order.packages:
        if fulfillment is None:
            return []
        status = FULFILLMENT_SHIPMENT_STATUS[fulfillment.fulfillmentStatus]
        raw: str = fulfillment.fulfillmentStatus
        return [Shipment(shipment_id=order.orderId, status=status, raw_status=raw, **common)]
    shipments = []
    for index, package in enumerate(sorted(order.packages, key=_package_order)):
        status, raw = package_status(package)
        shipments.append(
            Shipment(
                shipment_id=(
                    order.orderId if index == 0 else f"{order.orderId}-{package.packageReferenceId}"
                ),
                status=status,
                raw_status=raw,
                carrier=package.carrier,
                tracking_number=package.trackingNumber,
                shipped_at=package.shipTime if status is not ShipmentStatus.CANCELLED else None,
                **common,
            )
        )
    return shipments


def order_facts_events(order: O26Order) -> list[StatusEvent]:
    """The instants getOrder states: the purchase, and the first hand-over to a carrier
    (a package's shipTime; its status then is not stated, so no raw status)."""
    events = [StatusEvent(status=OrderStatus.PENDING, at=order.createdTime)]
    handed = [
        p.shipTime
        for p in order.packages
        if p.shipTime is not None and package_status(p)[0] is not ShipmentStatus.CANCELLED
    ]
    if handed:
        events.append(StatusEvent(status=OrderStatus.SHIPPED, at=min(handed)))
    return events


# --- order facts: money from Finances v0 financial events --------------------------------


@dataclass
class EventTally:
    """What an order's financial events add up to so far.

    Amounts as Amazon posts them to the seller's account: charges positive, fees and
    promotions negative, refunds of charges negative, fee refunds positive.
    """

    order_id: str
    currency: str | None = None
    payout: Decimal = Decimal(0)
    refund: Decimal = Decimal(0)
    postage: Decimal | None = None
    fees: dict[tuple[str, str | None], Decimal] = field(default_factory=dict)
    sales: list[datetime] = field(default_factory=list)  # PostedDate of each sale event
    refunds: list[datetime] = field(default_factory=list)
    posted: list[datetime] = field(default_factory=list)
    events: int = 0
    sold_principal: Decimal = Decimal(0)
    refunded_principal: Decimal = Decimal(0)
    lines_by_sku: dict[str, str] = field(default_factory=dict)

    def money(self, amount: FinMoney) -> Decimal:
        if self.currency is None and amount.CurrencyCode:
            self.currency = amount.CurrencyCode
        self.payout += amount.CurrencyAmount
        return amount.CurrencyAmount

    def fee(self, fee: FinFee, line_ref: str | None) -> None:
        key = (fee.FeeType, line_ref)
        # Amazon posts a charged fee as a negative amount; the model counts it positive.
        self.fees[key] = self.fees.get(key, Decimal(0)) - self.money(fee.FeeAmount)

    def charges(self, charges: Iterable[FinCharge]) -> Decimal:
        return sum((self.money(c.ChargeAmount) for c in charges), Decimal(0))

    def posted_at(self, when: datetime | None, kind: list[datetime] | None = None) -> None:
        self.events += 1
        if when is not None:
            self.posted.append(when)
            if kind is not None:
                kind.append(when)


def _line_ref(tally: EventTally, item: FinShipmentItem) -> str | None:
    """The order line a shipment item is about: refunds carry an adjustment id instead of
    the order item id, so they are matched to the sale's line by seller SKU."""
    if item.OrderItemId:
        if item.SellerSKU:
            tally.lines_by_sku.setdefault(item.SellerSKU, item.OrderItemId)
        return item.OrderItemId
    return tally.lines_by_sku.get(item.SellerSKU or "")


def _principal(charges: Iterable[FinCharge]) -> Decimal:
    return sum(
        (c.ChargeAmount.CurrencyAmount for c in charges if c.ChargeType == "Principal"),
        Decimal(0),
    )


def _tally_item(tally: EventTally, item: FinShipmentItem, refund: bool) -> None:
    line = _line_ref(tally, item)
    for fee in (*item.ItemFeeList, *item.ItemFeeAdjustmentList):
        tally.fee(fee, line)
    tally.charges(item.ItemChargeList)
    for promotion in item.PromotionList:
        tally.money(promotion.PromotionAmount)
    for withheld in item.ItemTaxWithheldList:
        tally.charges(withheld.TaxesWithheld)
    returned = tally.charges(item.ItemChargeAdjustmentList)
    returned += sum(
        (tally.money(p.PromotionAmount) for p in item.PromotionAdjustmentList), Decimal(0)
    )
    tally.sold_principal += _principal(item.ItemChargeList)
    if refund:
        tally.refund -= returned
        tally.refunded_principal -= _principal(item.ItemChargeAdjustmentList)


def tally_shipment_event(tally: EventTally, event: FinShipmentEvent, refund: bool) -> None:
    """One sale (refund=False) or refund, guarantee claim or chargeback event."""
    tally.posted_at(event.PostedDate, tally.refunds if refund else tally.sales)
    for item in event.ShipmentItemList:
        _tally_item(tally, item, refund)
    for item in event.ShipmentItemAdjustmentList:
        _tally_item(tally, item, refund)
    for fees in (
        event.ShipmentFeeList,
        event.ShipmentFeeAdjustmentList,
        event.OrderFeeList,
        event.OrderFeeAdjustmentList,
    ):
        for fee in fees:
            tally.fee(fee, None)
    tally.charges(event.OrderChargeList)
    returned = tally.charges(event.OrderChargeAdjustmentList)
    if refund:
        tally.refund -= returned
    for payment in event.DirectPaymentList:
        tally.money(payment.DirectPaymentAmount)


def tally_service_fee(tally: EventTally, event: FinServiceFeeEvent) -> None:
    tally.posted_at(None)
    for fee in event.FeeList:
        tally.fee(fee, None)


def tally_adjustment(tally: EventTally, event: FinAdjustmentEvent) -> None:
    """An account adjustment: it names no order, so it is the order's only when the call
    was for that order alone (then postage bought from Amazon is the seller's shipping)."""
    tally.posted_at(event.PostedDate)
    if event.AdjustmentAmount is None:
        return
    amount = tally.money(event.AdjustmentAmount)
    if event.AdjustmentType in POSTAGE_ADJUSTMENTS:
        tally.postage = (tally.postage or Decimal(0)) - amount


def fees_are_final(tally: EventTally, ref: OrderRef, now: datetime) -> bool:
    """Whether Amazon has settled the order, by the rule this client documents:

    - Amazon posts the sale when the order ships and holds it back ("Deferred events don't
      appear … until they are released"), so a visible sale event is a released one;
    - refunds and claims can still follow for as long as the buyer may return the item, so
      the order is final once `FINAL_AFTER` (30 days) has passed since the sale was posted;
    - a cancelled order that nothing was ever posted for is final at once (Amazon charges
      at shipment, so there is nothing to settle).
    """
    if tally.sales:
        return min(tally.sales) + FINAL_AFTER <= now
    return ref.status is OrderStatus.CANCELLED and tally.events == 0


def settlement_from_tally(
    tally: EventTally, ref: OrderRef, store_id: str, now: datetime
) -> OrderSettlement | None:
    """The order's settlement as the events posted so far show it; None while nothing at
    all is known (no event visible yet, and the order not cancelled)."""
    final = fees_are_final(tally, ref, now)
    if tally.events == 0 and not final:
        return None
    fees = tuple(
        FeeLine(fee_type=fee_type, amount=amount, line_ref=line)
        for (fee_type, line), amount in tally.fees.items()
        if amount != 0  # a fee charged and refunded in full is no charge
    )
    return OrderSettlement(
        store_id=store_id,
        order_id=tally.order_id,
        currency=tally.currency or ref.currency,
        fee_amount=sum((f.amount for f in fees), Decimal(0)),
        seller_shipping_cost=tally.postage,
        refund_amount=tally.refund,
        payout_amount=tally.payout,
        fees_final=final,
        settled_at=max(tally.posted) if final and tally.posted else None,
        fees=fees,
    )


def refund_event(tally: EventTally) -> StatusEvent | None:
    """A sale refunded in full is a returned order, at the refund that completed it."""
    if not tally.refunds or tally.sold_principal <= 0:
        return None
    if tally.refunded_principal < tally.sold_principal:
        return None
    return StatusEvent(status=OrderStatus.RETURNED, at=max(tally.refunds), raw_status="Refund")


def _event_order_id(raw: Any) -> str | None:
    order_id = raw.get("AmazonOrderId") if isinstance(raw, dict) else None
    return order_id if isinstance(order_id, str) and order_id else None


def tally_events(
    tallies: Mapping[str, EventTally], events: Mapping[str, Any], scope: str | None
) -> dict[str, tuple[str, Any]]:
    """Add a FinancialEvents object to the tallies of the orders it names (or of `scope`,
    the order a by-order call was for); events of other orders are skipped. Returns, per
    order with an unparsable event, the reason and that event: its sums would be wrong."""
    broken: dict[str, tuple[str, Any]] = {}

    def each(list_name: str) -> Iterator[tuple[EventTally, Any]]:
        raws = events.get(list_name)
        for raw in raws if isinstance(raws, list) else []:
            order_id = _event_order_id(raw) or scope
            tally = tallies.get(order_id or "")
            if tally is not None and tally.order_id not in broken:
                yield tally, raw

    def parse(model: type[_Event], tally: EventTally, raw: Any, list_name: str) -> _Event | None:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            broken[tally.order_id] = (f"{list_name}: {describe_validation_error(exc)}", raw)
            return None

    for list_name in (*SALE_EVENT_LISTS, *REFUND_EVENT_LISTS):
        for tally, raw in each(list_name):
            shipment = parse(FinShipmentEvent, tally, raw, list_name)
            if shipment is not None:
                tally_shipment_event(tally, shipment, refund=list_name in REFUND_EVENT_LISTS)
    for tally, raw in each("ServiceFeeEventList"):
        service = parse(FinServiceFeeEvent, tally, raw, "ServiceFeeEventList")
        if service is not None:
            tally_service_fee(tally, service)
    if scope is not None:
        for tally, raw in each("AdjustmentEventList"):
            adjustment = parse(FinAdjustmentEvent, tally, raw, "AdjustmentEventList")
            if adjustment is not None:
                tally_adjustment(tally, adjustment)
    return broken


# --- listings --------------------------------------------------------------------------


def _issues_for(issues: Sequence[LiIssue], marketplace_id: str) -> list[LiIssue]:
    return [i for i in issues if not i.marketplaceIds or marketplace_id in i.marketplaceIds]


def _enforced(issue: LiIssue) -> list[str]:
    """The actions Amazon applies now: an exemption (even one with an expiry date) holds
    them back until Amazon reports NOT_EXEMPT."""
    rules = issue.enforcements
    if rules is None or (rules.exemption is not None and rules.exemption.status != "NOT_EXEMPT"):
        return []
    return [a.action for a in rules.actions]


def _reason(issues: Sequence[LiIssue]) -> str:
    return "; ".join(f"{i.code}: {i.message}" if i.code else i.message for i in issues)


def listing_status(
    statuses: Sequence[str], issues: Sequence[LiIssue] = (), marketplace_id: str = ""
) -> tuple[ListingStatus, str, str | None]:
    """Amazon's verdict on a listing: (status, raw status, reason in Amazon's words).

    An issue whose enforcement takes the listing off sale or out of search (LISTING_
    SUPPRESSED, CATALOG_ITEM_REMOVED, SEARCH_SUPPRESSED, not exempt) → suppressed, whatever
    the summary says. Otherwise BUYABLE → active; DISCOVERABLE only (seen, not buyable: out
    of stock) → paused; neither, with an ERROR issue (a missing or invalid attribute, image
    or price: an incomplete listing) → suppressed; neither and no error → paused (the
    seller took it off sale). The raw status is the summary's statuses plus the enforced
    actions, "NONE" when empty.
    """
    relevant = _issues_for(issues, marketplace_id)
    actions = sorted({a for i in relevant for a in _enforced(i)})
    raw = ",".join([*statuses, *actions]) or "NONE"
    blocking = [i for i in relevant if BLOCKING_ACTIONS & set(_enforced(i))]
    if blocking:
        return ListingStatus.SUPPRESSED, raw, _reason(blocking)
    if "BUYABLE" in statuses:
        return ListingStatus.ACTIVE, raw, None
    if "DISCOVERABLE" in statuses:
        return ListingStatus.PAUSED, raw, None
    errors = [i for i in relevant if i.severity == "ERROR"]
    if errors:
        return ListingStatus.SUPPRESSED, raw, _reason(errors)
    return ListingStatus.PAUSED, raw, None


def _for_marketplace(entries: Sequence[Any], marketplace_id: str) -> Any | None:
    return next((e for e in entries if e.marketplaceId == marketplace_id), None)


def _attribute_values(attributes: Mapping[str, Any], name: str, marketplace_id: str) -> list[Any]:
    values = attributes.get(name)
    if not isinstance(values, list):
        return []
    return [
        v
        for v in values
        if isinstance(v, dict) and v.get("marketplace_id", marketplace_id) == marketplace_id
    ]


def _gtin(attributes: Mapping[str, Any], marketplace_id: str) -> str | None:
    for entry in _attribute_values(
        attributes, "externally_assigned_product_identifier", marketplace_id
    ):
        if str(entry.get("type", "")).lower() in {"ean", "gtin", "upc"} and entry.get("value"):
            return str(entry["value"]).strip()
    return None


def listing_from_item(item: LiItem, store_id: str, marketplace_id: str) -> Listing:
    """One canonical listing per SKU: Amazon's listing is the seller's SKU (no variations)."""
    summary: LiSummary | None = _for_marketplace(item.summaries, marketplace_id)
    title = summary.itemName if summary else None
    if not title:
        names = _attribute_values(item.attributes, "item_name", marketplace_id)
        title = str(names[0].get("value") or "") if names else None
    if not title:
        raise ValueError("summaries.itemName: missing for the marketplace")
    offers = [o for o in item.offers if o.marketplaceId == marketplace_id and o.price]
    offers.sort(key=lambda o: o.offerType != "B2C")  # the consumer price first
    price = offers[0].price if offers else None
    channels = item.fulfillmentAvailability
    merchant = [a for a in channels if a.fulfillmentChannelCode == DEFAULT_CHANNEL]
    quantity = merchant[0].quantity if merchant else None
    host = RETAIL_HOSTS.get(marketplace_id)
    asin = summary.asin if summary else None
    status, raw_status, reason = listing_status(
        summary.status if summary else [], item.issues, marketplace_id
    )
    return Listing(
        store_id=store_id,
        listing_id=item.sku,
        variation_id="",
        title=title,
        seller_sku=item.sku,
        gtin=_gtin(item.attributes, marketplace_id),
        status=status,
        raw_status=raw_status,
        status_reason=reason,
        price=price.amount if price else None,
        currency=price.currencyCode if price else DEFAULT_CURRENCY,
        available_quantity=quantity,
        category_id=summary.productType if summary else None,
        permalink=f"https://{host}/dp/{asin}" if host and asin else None,
        updated_at=summary.lastUpdatedDate if summary else None,
    )


def parse_listing(raw: Any, store_id: str, marketplace_id: str) -> Listing:
    """A searchListingsItems/getListingsItem item; raises ValidationError or ValueError."""
    return listing_from_item(LiItem.model_validate(raw), store_id, marketplace_id)


def _ceil_ms(moment: datetime) -> datetime:
    spare = moment.microsecond % 1000
    return moment + timedelta(microseconds=1000 - spare) if spare else moment


def _floor_ms(moment: datetime) -> datetime:
    return moment - timedelta(microseconds=moment.microsecond % 1000)


def iso_ms(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, the form Amazon documents for its date filters."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def orders_window(
    start: datetime, end: datetime, now: datetime
) -> tuple[datetime, datetime] | None:
    """[start, end) as getOrders' inclusive After/Before bounds, or None when it is empty.

    Before is one millisecond short of `end` (both bounds are inclusive) and is clamped to
    now − 2 min (+ skew margin): the API refuses later bounds, so orders of the last two
    minutes are left for the next window.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("order windows need timezone-aware bounds")
    after = _ceil_ms(start.astimezone(UTC))
    before = min(_ceil_ms(end.astimezone(UTC)) - MILLISECOND, _floor_ms(now - BEFORE_MARGIN))
    return (after, before) if before >= after else None


# --- the application: LWA and error envelopes ----------------------------------------------


def _lwa_classify(response: httpx.Response, operation: str) -> MarketplaceError | None:
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("error") or "") or None
    message = str(body.get("error_description") or response.reason_phrase or "error")
    if code in {"invalid_grant", "invalid_client", "unauthorized_client"}:
        # LWA answers 400 for a revoked or unknown refresh token: the grant is gone.
        request_id = response.headers.get("x-amzn-requestid")
        return AuthError(
            MARKETPLACE,
            operation,
            message,
            status=response.status_code,
            code=code,
            request_id=request_id,
        )
    return classify_by_status(MARKETPLACE, response, operation, message, code)


@dataclass(frozen=True)
class AmazonApp:
    """The registered SP-API application, and where its hosts are (production or sandbox).

    `client_id`/`client_secret` are the LWA credentials; `application_id` (amzn1.sp.solution…)
    names the app on the consent page. `rate_scale` multiplies every operation's published
    rate (never the bursts), for benchmarks against a sandbox configured faster than Amazon.
    """

    client_id: str
    client_secret: SecretStr
    application_id: str = ""
    redirect_uri: str = ""
    marketplace_id: str = BRAZIL_MARKETPLACE_ID
    api_url: str = PRODUCTION_API_URL
    lwa_url: str = PRODUCTION_LWA_URL
    seller_central_url: str = PRODUCTION_SELLER_CENTRAL_URL
    draft: bool = False  # an app still in draft needs version=beta on the consent URL
    rate_scale: float = 1.0
    http: HttpSettings = field(default_factory=HttpSettings)

    def __post_init__(self) -> None:
        if self.rate_scale <= 0:
            raise ValueError("rate_scale must be positive")

    def quota(self, operation: str) -> Quota:
        published = QUOTAS[operation]
        return Quota(published.rate * self.rate_scale, published.burst)

    def new_http(self, transport: httpx.BaseTransport | None = None) -> ApiHttp:
        """The SP-API host. Pacing is per operation (the client's limiters), not per host."""
        return ApiHttp(MARKETPLACE, self.api_url, self.classify, None, self.http, transport)

    def new_lwa_http(self, transport: httpx.BaseTransport | None = None) -> ApiHttp:
        return ApiHttp(MARKETPLACE, self.lwa_url, _lwa_classify, None, self.http, transport)

    def classify(self, response: httpx.Response, operation: str) -> MarketplaceError | None:
        """Amazon's `{"errors": [{code, message, details}]}` envelope as an exception."""
        if response.status_code < 400:
            return None
        try:
            body = response.json()
        except ValueError:
            body = {}
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else {}
        if not isinstance(first, dict):
            first = {}
        code = str(first.get("code") or "") or None
        message = str(first.get("message") or response.reason_phrase or "error")
        if first.get("details"):
            message += f" ({first['details']})"
        error = classify_by_status(MARKETPLACE, response, operation, message, code)
        if isinstance(error, RateLimitedError):
            quota = self.quota(operation) if operation in QUOTAS else None
            if error.retry_after is None and quota is not None:
                # No Retry-After from Amazon: the next token arrives after 1/rate seconds.
                error.retry_after = 1.0 / quota.rate
            limiter = _active_quota.get()
            if limiter is not None:
                # Leave one token ready exactly when the retrying call wakes up, so the
                # other threads wait that long too instead of collecting 429s.
                pause = min(error.retry_after or 1.0, self.http.backoff_max_seconds)
                limiter.penalize(max(0.0, pause - 1.0 / limiter.rate))
        return error

    # --- authorization ---------------------------------------------------------------

    def authorization_url(self, state: str | None = None) -> tuple[str, str]:
        """Seller Central's consent page for this app, and the `state` to check on return."""
        state = state or secrets.token_urlsafe(16)
        query = {"application_id": self.application_id, "state": state}
        if self.redirect_uri:
            query["redirect_uri"] = self.redirect_uri
        if self.draft:
            query["version"] = "beta"
        url = f"{self.seller_central_url.rstrip('/')}{CONSENT_PATH}?{urlencode(query)}"
        return url, state

    def read_callback(self, params: Mapping[str, str], state: str) -> tuple[str, str]:
        """The (selling partner id, authorization code) of a consent redirect to our app."""
        returned = params.get("state") or ""
        if not secrets.compare_digest(returned.encode(), state.encode()):
            raise AuthError(
                MARKETPLACE,
                "website authorization",
                "the callback's state is not the one issued; start the authorization again",
            )
        code, seller_id = params.get("spapi_oauth_code"), params.get("selling_partner_id")
        if not code or not seller_id:
            raise AuthError(
                MARKETPLACE,
                "website authorization",
                "the callback lacks spapi_oauth_code or selling_partner_id",
            )
        return seller_id, code

    def _token_call(
        self, http: ApiHttp, operation: str, form: dict[str, str]
    ) -> tuple[_LwaToken, datetime]:
        form = {
            **form,
            "client_id": self.client_id,
            "client_secret": self.client_secret.get_secret_value(),
        }
        response = http.send(
            operation,
            lambda: http.build(
                "POST", LWA_TOKEN_PATH, data=form, headers={"accept": "application/json"}
            ),
        )
        issued = datetime.now(UTC)
        return _envelope(_LwaToken, _json_body(response, operation), operation), issued

    def exchange_code(self, http: ApiHttp, code: str) -> TokenSet:
        """Trade a consent's `spapi_oauth_code` (valid five minutes) for tokens (LWA host)."""
        body, issued = self._token_call(
            http,
            "lwa.authorization_code",
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri},
        )
        if body.refresh_token is None:
            raise AuthError(MARKETPLACE, "lwa.authorization_code", "no refresh token returned")
        return TokenSet(
            access_token=body.access_token,
            refresh_token=body.refresh_token,
            access_expires_at=issued + timedelta(seconds=body.expires_in),
            refresh_expires_at=issued + WEBSITE_AUTHORIZATION_LIFETIME,
        )

    def connect_with_refresh_token(self, http: ApiHttp, refresh_token: SecretStr) -> TokenSet:
        """A private app's connection: the refresh token Seller Central shows its owner,
        checked by using it once (LWA host)."""
        return self.refresh(
            http,
            TokenSet(
                access_token=SecretStr(""),
                refresh_token=refresh_token,
                access_expires_at=datetime.min.replace(tzinfo=UTC),
            ),
        )

    def refresh(self, http: ApiHttp, tokens: TokenSet) -> TokenSet:
        if tokens.refresh_token is None:
            raise AuthError(MARKETPLACE, "lwa.refresh_token", "no refresh token stored")
        body, issued = self._token_call(
            http,
            "lwa.refresh_token",
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.get_secret_value(),
            },
        )
        return TokenSet(
            access_token=body.access_token,
            # LWA refresh tokens do not rotate; keep ours if the answer leaves it out.
            refresh_token=body.refresh_token or tokens.refresh_token,
            access_expires_at=issued + timedelta(seconds=body.expires_in),
            refresh_expires_at=tokens.refresh_expires_at,
        )


# --- the client ----------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AmazonClient(AmazonWritesMixin):
    """One selling partner's account in one marketplace (`app.marketplace_id`); publishing
    and fulfilment writes come from `AmazonWritesMixin`."""

    # getOrders allows one call a minute after a burst of 20: one paged query per range.
    max_window_days = 3650
    # Amazon posts the sale at shipment (due by LatestShipDate, days after the sale) and the
    # fees are final 30 days later (`fees_are_final`); 45 leaves two weeks for late
    # shipments and for deliveries whose deferred funds are released after them.
    settlement_days = 45
    # Half of 10 minutes of getOrder (2026-01-01) and listFinancialEventsByOrderId, each
    # 0.5 req/s: the facts of 150 orders per run (see the module's call budget).
    facts_per_run = 150

    def __init__(
        self,
        app: AmazonApp,
        store: Store,
        token_store: TokenStore,
        buyer_salt: str,
        http: ApiHttp | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if store.marketplace is not Marketplace.AMAZON:
            raise ValueError(f"store {store.store_id} is not an Amazon store")
        self.app = app
        self.store = store
        self.http = http or app.new_http()
        self.lwa_http = app.new_lwa_http()
        # Kept for the StoreClient contract; Amazon exposes no buyer id to hash without RDT.
        self._buyer_salt = buyer_salt
        self._clock = clock
        self.tokens = TokenManager(
            token_store, store.store_id, lambda stale: app.refresh(self.lwa_http, stale)
        )
        # Amazon's buckets are per selling partner and application, so are ours.
        self.limiters: dict[str, RateLimiter] = {}
        for operation in QUOTAS:
            quota = app.quota(operation)
            key = f"{MARKETPLACE}:{app.client_id}:{store.seller_id}:{operation}"
            self.limiters[operation] = shared_limiter(key, quota.rate, quota.burst)
        self._items_cache: OrderedDict[tuple[str, datetime], list[Any]] = OrderedDict()
        self._product_types: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()
        self.lwa_http.close()

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """One SP-API call; `content` is a body already encoded as JSON (exact Decimals)."""
        limiter = self.limiters[operation]
        # A due refresh happens here, outside this call's retry loop.
        self.tokens.access_token()
        current: dict[str, str] = {}

        def build() -> httpx.Request:
            self.http.throttled_seconds += limiter.acquire()
            current["token"] = self.tokens.access_token()
            headers = {"x-amz-access-token": current["token"], "accept": "application/json"}
            if content is not None:
                headers["content-type"] = "application/json"
                return self.http.build(
                    method, path, params=params, content=content, headers=headers
                )
            return self.http.build(method, path, params=params, json=json, headers=headers)

        def reauthenticate() -> None:
            if "token" in current:
                self.tokens.invalidate(current["token"])

        marker = _active_quota.set(limiter)
        try:
            return self.http.send(operation, build, reauthenticate=reauthenticate)
        finally:
            _active_quota.reset(marker)

    def _get(self, operation: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return _json_body(self._call(operation, "GET", path, params=params), operation)

    def _get_decimal(
        self, operation: str, path: str, params: Mapping[str, Any] | None = None
    ) -> Any:
        return _decimal_json_body(self._call(operation, "GET", path, params=params), operation)

    # --- listings --------------------------------------------------------------------

    def _listings_path(self, sku: str | None = None) -> str:
        path = f"{LISTINGS_PATH}/{quote(self.store.seller_id, safe='')}"
        return path if sku is None else f"{path}/{quote(sku, safe='')}"

    def _listings_page(self, raws: Sequence[Any], seen: set[str]) -> tuple[Page[Listing], int]:
        """Parse one search page, skipping SKUs already yielded; returns the new-SKU count."""
        page: Page[Listing] = Page()
        fresh = 0
        marketplace_id = self.app.marketplace_id
        for raw in raws:
            key = raw.get("sku") if isinstance(raw, dict) else None
            if isinstance(key, str) and key in seen:
                continue
            fresh += 1
            if isinstance(key, str):
                seen.add(key)
            try:
                item = LiItem.model_validate(raw)
                page.records.append(listing_from_item(item, self.store.store_id, marketplace_id))
            except ValidationError as exc:
                reason = describe_validation_error(exc)
                page.rejects.append(reject(LISTINGS_SOURCE, self.store.store_id, key, reason, raw))
                continue
            except ValueError as exc:
                page.rejects.append(
                    reject(LISTINGS_SOURCE, self.store.store_id, key, str(exc), raw)
                )
                continue
            summary = _for_marketplace(item.summaries, marketplace_id)
            if summary is not None and summary.productType:
                self._product_types[item.sku] = summary.productType
        return page, fresh

    def iter_listings(self) -> Iterator[Page[Listing]]:
        """Every SKU the seller lists in the marketplace, one search page (≤20) at a time.

        The search pages through at most 1000 SKUs; it is walked in creation-date order and,
        when cut short, restarted from one second before the last creation date seen (the
        bound's inclusiveness is not documented), skipping the SKUs already yielded.
        """
        base = {
            "marketplaceIds": self.app.marketplace_id,
            "includedData": LISTINGS_INCLUDED,
            "pageSize": LISTINGS_PAGE,
            "sortBy": "createdDate",
            "sortOrder": "ASC",
        }
        seen: set[str] = set()
        created_after: datetime | None = None
        while True:
            params: dict[str, Any] = dict(base)
            if created_after is not None:
                params["createdAfter"] = iso_ms(created_after)
            reached = 0
            fresh_in_sweep = 0
            last_created: datetime | None = None
            total = 0
            while True:
                body = self._get("searchListingsItems", self._listings_path(), params)
                results = _envelope(LiSearchResults, body, "searchListingsItems")
                total = results.numberOfResults
                reached += len(results.items)
                page, fresh = self._listings_page(results.items, seen)
                fresh_in_sweep += fresh
                last_created = _last_created(results.items, self.app.marketplace_id) or last_created
                if page.records or page.rejects:
                    yield page
                token = results.pagination.nextToken if results.pagination else None
                if not token:
                    break
                params = {**base, "pageToken": token}
                if created_after is not None:
                    params["createdAfter"] = iso_ms(created_after)
            if reached >= total:
                return
            if last_created is None or (created_after is not None and fresh_in_sweep == 0):
                raise MarketplaceError(
                    MARKETPLACE,
                    "searchListingsItems",
                    f"the search stopped after {reached} of {total} listings and cannot be "
                    "resumed by creation date",
                )
            created_after = last_created - timedelta(seconds=1)

    def _product_type(self, sku: str) -> str:
        known = self._product_types.get(sku)
        if known:
            return known
        body = self._get(
            "getListingsItem",
            self._listings_path(sku),
            {"marketplaceIds": self.app.marketplace_id, "includedData": "summaries"},
        )
        item = _envelope(LiItem, body, "getListingsItem")
        summary = _for_marketplace(item.summaries, self.app.marketplace_id)
        if summary is None or not summary.productType:
            raise InvalidRequestError(
                MARKETPLACE,
                "getListingsItem",
                f"listing {sku!r} has no product type in marketplace {self.app.marketplace_id}",
            )
        self._product_types[sku] = summary.productType
        return summary.productType

    # --- stock -----------------------------------------------------------------------

    def set_available_quantity(
        self,
        listing_id: str,
        variation_id: str,
        quantity: int,
        *,
        product_type: str | None = None,
    ) -> dict[str, Any]:
        """Publish the merchant-fulfilled (DEFAULT channel) quantity of a SKU.

        `listing_id` is the seller SKU. The patch needs the listing's product type: pass it,
        or it is taken from this client's listings drain, or read with getListingsItem.
        Returns the submission; anything but ACCEPTED raises InvalidRequestError with the
        issues Amazon listed. ACCEPTED means queued: Amazon applies it within minutes.
        """
        operation = "patchListingsItem"
        if variation_id:
            raise InvalidRequestError(
                MARKETPLACE,
                operation,
                f"Amazon listings have no variations (got variation {variation_id!r})",
            )
        if quantity < 0:
            raise InvalidRequestError(MARKETPLACE, operation, "quantity must be 0 or more")
        body = {
            "productType": product_type or self._product_type(listing_id),
            "patches": [
                {
                    "op": "replace",
                    "path": FULFILLMENT_PATH,
                    "value": [{"fulfillment_channel_code": DEFAULT_CHANNEL, "quantity": quantity}],
                }
            ],
        }
        response = self._call(
            operation,
            "PATCH",
            self._listings_path(listing_id),
            params={"marketplaceIds": self.app.marketplace_id},
            json=body,
        )
        answer = _json_body(response, operation)
        submission = _envelope(LiSubmission, answer, operation)
        if submission.status != "ACCEPTED":
            problems = "; ".join(
                f"{issue.code}: {issue.message}" if issue.code else issue.message
                for issue in submission.issues
            )
            raise InvalidRequestError(
                MARKETPLACE,
                operation,
                f"submission {submission.status}: {problems or 'no issues given'}",
                code=submission.status,
            )
        return dict(answer)

    # --- orders ----------------------------------------------------------------------

    def _order_items(self, order: AmzOrderHeader) -> list[Any]:
        key = (order.AmazonOrderId, order.LastUpdateDate)
        with self._lock:
            cached = self._items_cache.get(key)
            if cached is not None:
                self._items_cache.move_to_end(key)
                return cached
        path = f"{ORDERS_PATH}/{quote(order.AmazonOrderId, safe='')}/orderItems"
        items: list[Any] = []
        params: dict[str, str] | None = None
        while True:
            body = self._get("getOrderItems", path, params)
            payload = _envelope(OrderItemsResponse, body, "getOrderItems").payload
            items.extend(payload.OrderItems)
            if not payload.NextToken:
                break
            params = {"NextToken": payload.NextToken}
        with self._lock:
            self._items_cache[key] = items
            while len(self._items_cache) > ORDER_ITEMS_CACHE_SIZE:
                self._items_cache.popitem(last=False)
        return items

    def _add_order(self, page: Page[Order], raw: Any) -> None:
        key = raw.get("AmazonOrderId") if isinstance(raw, dict) else None
        try:
            # The header first: a broken record must not cost a getOrderItems call.
            header = AmzOrderHeader.model_validate(raw)
        except ValidationError as exc:
            reason = describe_validation_error(exc)
            page.rejects.append(reject(ORDERS_SOURCE, self.store.store_id, key, reason, raw))
            return
        items = self._order_items(header)
        try:
            page.records.append(parse_order(raw, items, self.store))
        except ValidationError as exc:
            reason = describe_validation_error(exc)
            payload = {**raw, "OrderItems": items}
            page.rejects.append(reject(ORDERS_SOURCE, self.store.store_id, key, reason, payload))

    def iter_orders(
        self, start: datetime, end: datetime, by: TimeField = "created"
    ) -> Iterator[Page[Order]]:
        """Every order created (or last updated) in [start, end), one getOrders page at a time.

        One paged query covers the whole range (see the module's call budget). The end is
        clamped to now − 2 min because getOrders refuses later bounds: orders of the last two
        minutes (or of any part of the range still in the future) are not returned, and the
        next window or reconciliation picks them up. An empty window costs no call.
        """
        window = orders_window(start, end, self._clock())
        if window is None:
            return
        after, before = window
        prefix = "Created" if by == "created" else "LastUpdated"
        marketplace = {"MarketplaceIds": self.app.marketplace_id}
        params: dict[str, Any] = {
            **marketplace,
            f"{prefix}After": iso_ms(after),
            f"{prefix}Before": iso_ms(before),
            "MaxResultsPerPage": ORDERS_PAGE,
        }
        while True:
            body = self._get("getOrders", ORDERS_PATH, params)
            payload = _envelope(OrdersResponse, body, "getOrders").payload
            page: Page[Order] = Page()
            for raw in payload.Orders:
                self._add_order(page, raw)
            yield page
            if not payload.NextToken:
                return
            params = {**marketplace, "NextToken": payload.NextToken}

    # --- order facts: finances and packages ------------------------------------------

    def get_order_facts(self, orders: Sequence[OrderRef]) -> Page[OrderFacts]:
        """Fees, refunds and payout (Finances v0), and shipments with tracking (Orders
        2026-01-01 getOrder), of these orders as Amazon shows them now.

        An order the API does not know (getOrder 404, no financial event) is absent; one
        whose events or getOrder answer do not parse is a reject. See the module docstring
        for the call budget and `fees_are_final` for when an order counts as settled.
        """
        refs = list({ref.order_id: ref for ref in orders}.values())
        page: Page[OrderFacts] = Page()
        if not refs:
            return page
        now = self._clock()
        tallies, broken = self._financial_events(refs, now)
        for ref in refs:
            if ref.order_id in broken:
                reason, raw = broken[ref.order_id]
                page.rejects.append(
                    reject(FACTS_SOURCE, self.store.store_id, ref.order_id, reason, raw)
                )
                continue
            self._add_facts(page, ref, tallies[ref.order_id], now)
        return page

    def _financial_events(
        self, refs: Sequence[OrderRef], now: datetime
    ) -> tuple[dict[str, EventTally], dict[str, tuple[str, Any]]]:
        """Every ref's events: by posting date when that is cheaper, else one call each."""
        if prefer_bulk(refs):
            found = self._events_by_date(refs, now)
            if found is not None:
                return found
        tallies: dict[str, EventTally] = {}
        broken: dict[str, tuple[str, Any]] = {}
        for ref in refs:
            tallies[ref.order_id] = EventTally(ref.order_id)
            problem = self._events_of_order(tallies[ref.order_id])
            if problem is not None:
                broken[ref.order_id] = problem
        return tallies, broken

    def _events_of_order(self, tally: EventTally) -> tuple[str, Any] | None:
        """listFinancialEventsByOrderId, every page; returns (reason, raw) when unusable."""
        operation = "listFinancialEventsByOrderId"
        path = f"{FINANCES_PATH}/orders/{quote(tally.order_id, safe='')}/financialEvents"
        params: dict[str, Any] = {"MaxResultsPerPage": EVENTS_PAGE}
        while True:
            try:
                body = self._get_decimal(operation, path, params)
            except NotFoundError:
                return None
            except InvalidRequestError as exc:
                return f"{operation}: {exc.detail}", {"AmazonOrderId": tally.order_id}
            payload = _envelope(FinancesResponse, body, operation).payload
            broken = tally_events({tally.order_id: tally}, payload.FinancialEvents, tally.order_id)
            if tally.order_id in broken:
                return broken[tally.order_id]
            if not payload.NextToken:
                return None
            params = {"MaxResultsPerPage": EVENTS_PAGE, "NextToken": payload.NextToken}

    def _events_by_date(
        self, refs: Sequence[OrderRef], now: datetime
    ) -> tuple[dict[str, EventTally], dict[str, tuple[str, Any]]] | None:
        """listFinancialEvents from the oldest ref's purchase to now, kept for the refs.

        Returns None (nothing usable) once it has spent a page per `ORDERS_PER_BULK_PAGE`
        orders: the store sells so much more than these orders that reading them one by
        one is cheaper, and the caller does that instead.
        """
        operation = "listFinancialEvents"
        tallies = {ref.order_id: EventTally(ref.order_id) for ref in refs}
        broken: dict[str, tuple[str, Any]] = {}
        budget = max(1, len(refs) // ORDERS_PER_BULK_PAGE)
        pages = 0
        for after, before in events_windows(min(ref.created_at for ref in refs), now):
            query = {
                "PostedAfter": iso_ms(after),
                "PostedBefore": iso_ms(before),
                "MaxResultsPerPage": EVENTS_PAGE,
            }
            params: dict[str, Any] = dict(query)
            while True:
                if pages >= budget:
                    return None
                body = self._get_decimal(operation, f"{FINANCES_PATH}/financialEvents", params)
                pages += 1
                payload = _envelope(FinancesResponse, body, operation).payload
                broken |= tally_events(tallies, payload.FinancialEvents, None)
                if not payload.NextToken:
                    break
                # The next page is asked with the same arguments plus the token.
                params = {**query, "NextToken": payload.NextToken}
        return tallies, broken

    def _order_2026(self, order_id: str) -> Any | None:
        """The raw order of getOrder (Orders 2026-01-01) with fulfilment and packages;
        None when Amazon does not know it."""
        operation = "getOrder2026"
        try:
            body = self._get(
                operation,
                f"{ORDERS_2026_PATH}/{quote(order_id, safe='')}",
                {"includedData": ORDER_FACTS_INCLUDED},
            )
        except NotFoundError:
            return None
        return _envelope(O26OrderResponse, body, operation).order

    def _add_facts(
        self, page: Page[OrderFacts], ref: OrderRef, tally: EventTally, now: datetime
    ) -> None:
        shipments: list[Shipment] = []
        events: list[StatusEvent] = []
        if ref.status not in SETTLED_LOGISTICS:
            raw = self._order_2026(ref.order_id)
            if raw is None and tally.events == 0:
                return  # Amazon does not know the order
            if raw is not None:
                try:
                    order = O26Order.model_validate(raw)
                except ValidationError as exc:
                    reason = f"getOrder2026: {describe_validation_error(exc)}"
                    page.rejects.append(
                        reject(FACTS_SOURCE, self.store.store_id, ref.order_id, reason, raw)
                    )
                    return
                shipments = order_facts_shipments(order, self.store.store_id)
                events = order_facts_events(order)
        settlement = settlement_from_tally(tally, ref, self.store.store_id, now)
        returned = refund_event(tally)
        if returned is not None:
            events.append(returned)
        if settlement is None and not shipments and not events:
            return
        page.records.append(
            OrderFacts(
                store_id=self.store.store_id,
                order_id=ref.order_id,
                settlement=settlement,
                shipments=tuple(shipments),
                status_events=tuple(events),
            )
        )

    def get_orders(self, order_ids: Sequence[str]) -> Page[Order]:
        """Orders by id (getOrder, whose quota is far larger than getOrders'); an id Amazon
        does not know becomes a reject."""
        page: Page[Order] = Page()
        for order_id in dict.fromkeys(order_ids):
            try:
                body = self._get("getOrder", f"{ORDERS_PATH}/{quote(order_id, safe='')}")
            except NotFoundError as exc:
                page.rejects.append(
                    reject(
                        ORDERS_SOURCE,
                        self.store.store_id,
                        order_id,
                        f"getOrder: not found ({exc.detail})",
                        {"AmazonOrderId": order_id},
                    )
                )
                continue
            self._add_order(page, _envelope(OrderResponse, body, "getOrder").payload)
        return page


def prefer_bulk(refs: Sequence[OrderRef]) -> bool:
    """Whether paging every event of the period (100 a page) should beat one
    listFinancialEventsByOrderId per order: for a burst's worth of orders or more. The
    orders a refresh re-reads are most of a store's recent ones, so their period holds
    about as many events as orders (a page per ~90 orders); `_events_by_date` gives up
    when that is not so."""
    return len(refs) >= BULK_MIN_ORDERS


def events_windows(start: datetime, now: datetime) -> list[tuple[datetime, datetime]]:
    """[PostedAfter, PostedBefore) windows from `start` to now − 2 min, none longer than
    the 180 days listFinancialEvents answers for (After is inclusive, Before is not)."""
    after = _floor_ms(start.astimezone(UTC))
    end = _floor_ms(now.astimezone(UTC) - BEFORE_MARGIN)
    windows = []
    while after < end:
        before = min(after + EVENTS_WINDOW, end)
        windows.append((after, before))
        after = before
    return windows


def _last_created(raws: Sequence[Any], marketplace_id: str) -> datetime | None:
    """The latest creation date on a search page (the keyset to resume after the 1000 cap)."""
    latest: datetime | None = None
    for raw in raws:
        summaries = raw.get("summaries") if isinstance(raw, dict) else None
        for summary in summaries if isinstance(summaries, list) else []:
            if not isinstance(summary, dict) or summary.get("marketplaceId") != marketplace_id:
                continue
            try:
                created = LiSummary.model_validate(summary).createdDate
            except ValidationError:
                continue
            if created is not None and (latest is None or created > latest):
                latest = created
    return latest
