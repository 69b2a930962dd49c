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
- An order lists one line item per unit sold.

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
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
    parse_records,
    reject,
)
from synchub_pipelines.marketplaces.brazil import state_code
from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    MarketplaceError,
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
from synchub_pipelines.marketplaces.tokens import (
    NotConnectedError,
    TokenManager,
    TokenSet,
    TokenStore,
)
from synchub_pipelines.models import (
    Listing,
    Marketplace,
    Order,
    OrderItem,
    OrderStatus,
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

ORDERS_PAGE = 100
PRODUCTS_PAGE = 100
ORDER_IDS_MAX = 50

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


OptionalMoney = Annotated[Decimal | None, BeforeValidator(blank_to_none)]
Id = Annotated[str, BeforeValidator(_strip), Field(min_length=1)]


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


class TTProduct(ApiShape):
    id: Id
    title: str
    status: str
    skus: list[TTSku] = Field(min_length=1)
    create_time: int | None = None
    update_time: int | None = None


class TTProductPage(ApiShape):
    products: list[Any] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int | None = None


class TTLineItem(ApiShape):
    id: str | None = None
    product_id: Id
    sku_id: Id
    seller_sku: str | None = None
    product_name: str | None = None
    sku_name: str | None = None
    currency: str | None = None
    sale_price: Decimal
    display_status: str | None = None
    cancel_user: str | None = None
    cancel_reason: str | None = None


class TTPayment(ApiShape):
    currency: str
    sub_total: OptionalMoney = None
    shipping_fee: OptionalMoney = None
    total_amount: Decimal


class TTDistrict(ApiShape):
    address_level: str | None = None
    address_level_name: str | None = None
    address_name: str | None = None


class TTAddress(ApiShape):
    region_code: str | None = None
    district_info: list[TTDistrict] = Field(default_factory=list)


class TTOrder(ApiShape):
    id: Id
    status: TikTokOrderStatus
    create_time: int
    update_time: int | None = None
    user_id: str | None = None
    payment: TTPayment
    line_items: list[TTLineItem] = Field(min_length=1)
    recipient_address: TTAddress | None = None


class TTOrderPage(ApiShape):
    orders: list[Any] = Field(default_factory=list)
    next_page_token: str = ""
    total_count: int | None = None


class TTOrderStatusChange(ApiShape):
    order_id: Id
    order_status: TikTokOrderStatus
    is_on_hold_order: bool = False
    update_time: int


class TTWebhook(ApiShape):
    """A webhook notification; `type` 1 is an order status change."""

    type: int
    tts_notification_id: str | None = None
    shop_id: Id
    timestamp: int
    data: dict[str, Any] = Field(default_factory=dict)

    def order_status_change(self) -> TTOrderStatusChange | None:
        return TTOrderStatusChange.model_validate(self.data) if self.type == 1 else None


# --- mapping to the canonical model ------------------------------------------------------


def _utc(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def _clean(text: str | None) -> str | None:
    text = text.strip() if text else None
    return text or None


def listings_from_product(product: TTProduct, store_id: str) -> list[Listing]:
    """One canonical listing per SKU: TikTok products always have at least one SKU."""
    updated = product.update_time if product.update_time is not None else product.create_time
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
                status=product.status,
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


def _order_items(lines: Sequence[TTLineItem]) -> tuple[OrderItem, ...]:
    """TikTok's one-line-per-unit items folded into one line per SKU (and unit price).

    Units of one SKU sold at different prices (a per-unit discount) stay separate lines so
    that unit_price × quantity stays exact.
    """
    grouped: dict[tuple[str, str, Decimal], list[TTLineItem]] = {}
    for line in lines:
        grouped.setdefault((line.product_id, line.sku_id, line.sale_price), []).append(line)
    items = []
    for line_no, ((product_id, sku_id, price), units) in enumerate(grouped.items(), start=1):
        first = units[0]
        items.append(
            OrderItem(
                line_no=line_no,
                listing_id=product_id,
                variation_id=sku_id,
                seller_sku=_clean(first.seller_sku),
                title=first.product_name,
                quantity=len(units),
                unit_price=price,
            )
        )
    return tuple(items)


def _buyer_place(address: TTAddress | None) -> tuple[str | None, str | None]:
    if address is None:
        return None, None
    by_level = {
        (d.address_level_name or "").strip().lower(): d.address_name for d in address.district_info
    }
    return _clean(by_level.get("city")), state_code(by_level.get("state"))


def order_from_tiktok(order: TTOrder, store: Store, buyer_salt: str) -> Order:
    items = _order_items(order.line_items)
    created_at = _utc(order.create_time)
    updated = order.update_time if order.update_time is not None else order.create_time
    city, state = _buyer_place(order.recipient_address)
    return Order(
        store_id=store.store_id,
        order_id=order.id,
        status=normalize_status(order),
        raw_status=order.status,
        created_at=created_at,
        updated_at=_utc(updated),
        business_date=store.business_date(created_at),
        currency=order.payment.currency,
        items_amount=sum((i.unit_price * i.quantity for i in items), Decimal(0)),
        shipping_cost=order.payment.shipping_fee,
        # The seller's commission lives in TikTok's finance API, not in the order.
        fee_amount=None,
        total_amount=order.payment.total_amount,
        buyer_hash=hash_buyer(MARKETPLACE, _clean(order.user_id), buyer_salt),
        buyer_city=city,
        buyer_state=state,
        items=items,
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
    http: HttpSettings = field(default_factory=HttpSettings)

    def new_http(
        self, transport: httpx.BaseTransport | None = None, shop_id: str | None = None
    ) -> ApiHttp:
        """An HTTP client paced per app and shop (TikTok's quotas are per shop and app)."""
        key = f"{MARKETPLACE}:{self.app_key}" + (f":{shop_id}" if shop_id else "")
        limiter = shared_limiter(key, self.requests_per_second, self.requests_per_second)
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


class TikTokClient:
    """One TikTok shop (seller id = shop id)."""

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
            yield page
            token = self._next_token(token, page_data.next_page_token, "products.search")
            if not token:
                return

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
