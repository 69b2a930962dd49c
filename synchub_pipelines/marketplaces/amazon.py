"""Amazon Selling Partner API client: Login with Amazon, Orders v0, Listings Items 2021-08-01.

Protocol facts this module relies on (API-NOTES §4):

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
- getOrders windows must end at least two minutes in the past: the end of a window is
  clamped to now − 2 min (plus a few seconds of clock skew).

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

Amazon gives no buyer id without a Restricted Data Token, so `buyer_hash` stays None; only
the shipping city and state are kept. Fees are not in the Orders API (they are in Finances).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
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

from synchub_pipelines.marketplaces.base import (
    ApiShape,
    Page,
    TimeField,
    describe_validation_error,
    reject,
)
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
    Listing,
    Marketplace,
    Order,
    OrderItem,
    OrderStatus,
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
LISTINGS_PATH = "/listings/2021-08-01/items"

ORDERS_SOURCE = "amazon.orders"  # Rejected.source
LISTINGS_SOURCE = "amazon.listings"
ORDERS_PAGE = 100  # MaxResultsPerPage's maximum
LISTINGS_PAGE = 20  # pageSize's maximum
LISTINGS_INCLUDED = "summaries,attributes,fulfillmentAvailability,offers"
# getOrders refuses a *Before later than now − 2 min; the extra seconds absorb clock skew.
BEFORE_MARGIN = timedelta(minutes=2, seconds=5)
WEBSITE_AUTHORIZATION_LIFETIME = timedelta(days=365)
ORDER_ITEMS_CACHE_SIZE = 20_000
FULFILLMENT_PATH = "/attributes/fulfillment_availability"
DEFAULT_CHANNEL = "DEFAULT"  # merchant-fulfilled stock; FBA quantities are Amazon's to manage
CENT = Decimal("0.01")
MILLISECOND = timedelta(milliseconds=1)

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
    "searchListingsItems": Quota(5.0, 5),
    "getListingsItem": Quota(5.0, 10),
    "patchListingsItem": Quota(5.0, 5),
}

# Normalized status of each Orders v0 status. Amazon has no Delivered or Returned status in
# the Orders API (they live in Reports and Returns), so an order stays Shipped for good.
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
    PromotionDiscount: AmzMoney | None = None
    ShippingPrice: AmzMoney | None = None
    ShippingDiscount: AmzMoney | None = None


class AmzOrderHeader(ApiShape):
    """An order as getOrders and getOrder return it (lines come from getOrderItems)."""

    AmazonOrderId: str = Field(min_length=1)
    PurchaseDate: AwareDatetime
    LastUpdateDate: AwareDatetime
    OrderStatus: AmazonOrderStatus
    OrderTotal: AmzMoney | None = None  # absent until payment is authorized
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


class LiItem(ApiShape):
    sku: str = Field(min_length=1)
    summaries: list[LiSummary] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    offers: list[LiOffer] = Field(default_factory=list)
    fulfillmentAvailability: list[LiAvailability] = Field(default_factory=list)


class _LiPagination(ApiShape):
    nextToken: str | None = None


class LiSearchResults(ApiShape):
    numberOfResults: int
    pagination: _LiPagination | None = None
    items: list[Any]


class LiIssue(ApiShape):
    code: str | None = None
    message: str
    severity: str | None = None


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


def _json_body(response: httpx.Response, operation: str) -> Any:
    try:
        return response.json()
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


# --- mapping to the canonical model ------------------------------------------------------


def _amount(money: AmzMoney | None) -> Decimal:
    return money.Amount if money is not None else Decimal(0)


def order_from_amazon(order: AmzOrder, store: Store) -> Order:
    """The canonical order. Money: items_amount = Σ(ItemPrice − PromotionDiscount) (ItemPrice
    is already price × quantity); shipping = Σ(ShippingPrice − ShippingDiscount) when any
    line carries a ShippingPrice; total = OrderTotal (taxes included), or items + shipping
    while Amazon withholds it (Pending). Unit prices are rounded to the cent."""
    lines = []
    items_amount = Decimal(0)
    shipping: Decimal | None = None
    for index, item in enumerate(order.OrderItems, start=1):
        paid = _amount(item.ItemPrice) - _amount(item.PromotionDiscount)
        unit = paid / item.QuantityOrdered if item.QuantityOrdered else paid
        lines.append(
            OrderItem(
                line_no=index,
                listing_id=item.SellerSKU,
                variation_id="",
                seller_sku=item.SellerSKU,
                title=item.Title,
                quantity=item.QuantityOrdered,
                unit_price=unit.quantize(CENT, rounding=ROUND_HALF_EVEN),
            )
        )
        items_amount += paid
        if item.ShippingPrice is not None:
            shipping = (shipping or Decimal(0)) + item.ShippingPrice.Amount
            shipping -= _amount(item.ShippingDiscount)
    if order.OrderTotal is not None:
        currency = order.OrderTotal.CurrencyCode
        total = order.OrderTotal.Amount
    else:
        priced = [i.ItemPrice.CurrencyCode for i in order.OrderItems if i.ItemPrice is not None]
        currency = priced[0] if priced else DEFAULT_CURRENCY
        total = items_amount + (shipping or Decimal(0))
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
        shipping_cost=shipping,
        fee_amount=None,
        total_amount=total,
        buyer_hash=None,
        buyer_city=address.City if address else None,
        buyer_state=address.StateOrRegion if address else None,
        items=tuple(lines),
    )


def parse_order(raw: Any, raw_items: Sequence[Any], store: Store) -> Order:
    """A getOrders/getOrder record and its getOrderItems lines; raises ValidationError."""
    merged = {**raw, "OrderItems": list(raw_items)} if isinstance(raw, dict) else raw
    return order_from_amazon(AmzOrder.model_validate(merged), store)


def listing_status(statuses: Sequence[str]) -> str:
    """BUYABLE → active; DISCOVERABLE only (seen but not buyable, e.g. no stock) → paused;
    neither → inactive."""
    if "BUYABLE" in statuses:
        return "active"
    if "DISCOVERABLE" in statuses:
        return "paused"
    return "inactive"


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
    return Listing(
        store_id=store_id,
        listing_id=item.sku,
        variation_id="",
        title=title,
        seller_sku=item.sku,
        gtin=_gtin(item.attributes, marketplace_id),
        status=listing_status(summary.status if summary else []),
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


class AmazonClient:
    """One selling partner's account in one marketplace (`app.marketplace_id`)."""

    # getOrders allows one call a minute after a burst of 20: one paged query per range.
    max_window_days = 3650

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
    ) -> httpx.Response:
        limiter = self.limiters[operation]
        # A due refresh happens here, outside this call's retry loop.
        self.tokens.access_token()
        current: dict[str, str] = {}

        def build() -> httpx.Request:
            self.http.throttled_seconds += limiter.acquire()
            current["token"] = self.tokens.access_token()
            headers = {"x-amz-access-token": current["token"], "accept": "application/json"}
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
