"""TikTok Shop Partner API simulator (202309 versions), mounted at `/tiktok`.

The real API lives on two hosts (auth on `auth.tiktok-shops.com`, everything else on
`open-api.tiktokglobalshop.com`); here both are served under the one mount, at their
real paths: `/api/v2/token/get`, `/api/v2/token/refresh`, `/authorization/202309/shops`,
`/order/202309/orders/search`, … Request signatures are computed over the real path,
without the `/tiktok` prefix. The World's TikTok sellers are the shops (shop id = seller
id), each with a fixed `shop_cipher`, `open_id` and one warehouse.

Behaviour and the choices made where API-NOTES section 3 leaves a gap:

- Auth: `/oauth/authorize?app_key&state[&shop_id]` (or `/open/authorize?service_id&state`)
  redirects to REDIRECT_URI with a single-use `code`. Access tokens live 7 days. The notes
  mark refresh-token rotation [U]; this simulator is strict: every refresh returns a new
  refresh token and the used one is rejected afterwards (access tokens already issued stay
  valid until they expire). A refresh token expires with its authorization, 365 days after
  the seller authorized. Token-endpoint failures answer HTTP 200 with a non-zero `code`
  (36004005 unknown/used code or refresh token, 36004001 expired refresh token, 36009004
  bad app key/secret/grant type), as clients report for the real auth host.
- Signing (all API calls): HMAC-SHA256 with the app secret over
  `secret + path + sorted(key+value, without sign/access_token) + raw body (non-GET) + secret`.
  Parameters sent with an empty value are part of the string. The timestamp may be 300 s
  off either the real wall clock or the sandbox clock (tests advance the latter to expire
  tokens; production clients sign with the former).
- Errors use `{code, message, request_id}`: HTTP 400 + 36009004 bad app_key, timestamp,
  signature or parameters (also for `shop_cipher` sent to /authorization/*); HTTP 404 +
  36009009 unknown path; HTTP 401 + 105001 missing/invalid token, 105002 expired token;
  HTTP 400 + 106011 missing, unknown or foreign `shop_cipher` (the code clients observe as
  "Invalid shop_cipher"); HTTP 429 + 36009002 "Too many requests" with Retry-After; HTTP
  500 + 36009003 internal error. TikTok's published error tables use 36009002 for too many
  requests and 36009003 for internal errors, so those are used rather than 36009003 for 429.
  Business errors (unknown product/SKU/category, bad quantities) answer HTTP 400 with the
  product module's 120xxxxx codes.
- Rate limit: a token bucket per app_key + shop_cipher, `sandbox.rate_limit("tiktok", 50)`
  requests per second, burst twice that.
- Paging: `page_token` is opaque (base64 JSON holding a cursor, the first page's
  `total_count` and a hash of the filters; a token reused with other filters is refused).
  Orders sorted by create_time page by position in the per-shop creation index, so a full
  drain costs one pass; update_time sorting pages through a snapshot taken on page one.
- Finance (money rules in tiktok_render): `/finance/202309/orders/{id}/statement_transactions`
  lists an order's settled transaction (with its SKU rows) once the statement settling it
  has closed, nothing before; `/finance/202309/statements` (required
  `sort_field=statement_time`, optional `statement_time_ge/lt`, `sort_order`) lists the
  shop's daily statements, and `/finance/202309/statements/{id}/statement_transactions`
  (required `sort_field=order_create_time`) their order rows without SKU rows. Page size
  defaults to 20, at most 100 [U]. An order, statement or package id that is not the shop's
  answers HTTP 400 + 36009004 [U: TikTok's own codes for these are not in the notes].
- Fulfillment: `/fulfillment/202309/packages/{id}` (the order's one package, from payment
  on) and `/fulfillment/202309/orders/{id}/tracking` (the carrier's scans, newest first,
  in milliseconds; none before collection).
- Writes (publishing and fulfilment: create/edit/activate/deactivate products, prices,
  image upload, warehouses, shipping providers, ship package, invoice upload) live in
  `tiktok_writes.py`, with every refusal they make; `write_calls` counts them. About a
  quarter of the non-FBT orders ship with the seller's own carrier (shipping_type SELLER).
- Products: a few active products per shop carry a review outcome (FREEZE, FAILED and, in
  shops with 15 products or more, PLATFORM_DEACTIVATED) with `audit_failed_reasons` in
  their detail; the World's paused listings are SELLER_DEACTIVATED.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import math
import random
import threading
import time
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from synchub_pipelines.sandbox.tiktok_render import (
    CURRENCY,
    MAX_UNITS_PER_ORDER,
    ORDER_STATUSES,
    PRODUCT_STATUSES,
    Catalog,
    OrderRenderer,
    OrderSteps,
    Settlement,
    epoch,
    listing_number_of,
    money,
    order_id,
    order_money,
    order_number_of,
    order_total,
    package_order_number,
    payment_id,
    product_id,
    settlement_of,
    sku_amounts,
    sku_id,
    statement_id,
    statement_of,
    variation_number_of,
    warehouse_id,
)
from synchub_pipelines.sandbox.tiktok_writes import ProductWrites
from synchub_pipelines.sandbox.world import (
    Buyer,
    Listing,
    ListingVariation,
    Order,
    OrderChange,
    OrderLine,
    Seller,
)

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.server import Sandbox

APP_KEY = "6a1sandboxttsapp"
APP_SECRET = "sandbox-tiktok-app-secret-0123456789"  # noqa: S105 - the sandbox's own fake app
SERVICE_ID = "7310000000000000001"
REDIRECT_URI = "https://localhost:8787/synchub/callback/tiktok"

ACCESS_TOKEN_TTL = timedelta(days=7)
AUTHORIZATION_TTL = timedelta(days=365)
AUTH_CODE_TTL = timedelta(minutes=10)
TIMESTAMP_SKEW = 300
DEFAULT_RATE = 50.0
ORDER_PAGE_MAX = 100
PRODUCT_PAGE_MAX = 100
FINANCE_PAGE_MAX = 100
FINANCE_PAGE_DEFAULT = 20
ORDER_IDS_MAX = 50
MAX_QUANTITY = 99_999
SNAPSHOTS_KEPT = 32
RENDER_CACHE_MAX = 250_000

ERR_PARAMS = 36009004
ERR_PATH = 36009009
ERR_RATE = 36009002
ERR_INTERNAL = 36009003
ERR_TOKEN_INVALID = 105001
ERR_TOKEN_EXPIRED = 105002
ERR_SHOP_CIPHER = 106011
ERR_AUTH_RECORD = 36004005
ERR_REFRESH_EXPIRED = 36004001
ERR_PRODUCT = 12052260
ERR_SKU = 12052557
ERR_WAREHOUSE = 12052097
ERR_QUANTITY = 12052055
ERR_CATEGORY = 12052023
ERR_NOT_LEAF = 12052024
ERR_CONTENT_TYPE = 36009023
# [U] TikTok's codes for an unknown order/package/statement in Finance and Fulfillment
# are not in the notes: the sandbox answers them as bad parameters.

_FIRST_NAMES = ("Larissa", "Thiago", "Camila", "Rafael", "Juliana", "Mateus")
_LAST_NAMES = ("Ribeiro", "Carvalho", "Gomes", "Martins", "Rocha", "Barbosa")
_CITIES = (("São Paulo", "SP"), ("Curitiba", "PR"), ("Recife", "PE"), ("Campinas", "SP"))


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _params(message: str) -> ApiError:
    return ApiError(400, ERR_PARAMS, message)


@dataclass(frozen=True)
class Shop:
    seller: Seller
    index: int
    cipher: str
    open_id: str
    code: str

    @property
    def id(self) -> str:
        return self.seller.seller_id

    @property
    def warehouse_id(self) -> str:
        return warehouse_id(self.index)


@dataclass
class ShopData:
    """A shop's orders indexed by creation time, and its products."""

    orders: list[Order]
    created: list[int]
    by_number: dict[int, Order]
    listings: dict[int, Listing]  # by listing number, ascending
    max_span: int  # longest time from creation to an order's last status step
    next_order_number: int


@dataclass
class AccessToken:
    shop: Shop
    expires_at: float


@dataclass
class Grant:
    """One authorization of a shop: its refresh tokens rotate, its expiry does not."""

    shop: Shop
    expires_at: float


@dataclass(frozen=True)
class InventoryWrite:
    at: datetime
    shop_id: str
    product_id: str
    sku_id: str
    seller_sku: str | None
    warehouse_id: str
    previous: int
    quantity: int


@dataclass
class Call:
    shop: Shop | None
    query: Mapping[str, str]
    body: dict[str, Any]
    path_params: Mapping[str, Any]
    now: int
    raw: bytes = b""  # multipart calls: the body as sent
    content_type: str = ""


Handler = Callable[[Call], Awaitable[Any]]


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class Simulator(ProductWrites):
    name = "tiktok"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self.clock = sandbox.clock
        self.faults = sandbox.faults
        self.seed = sandbox.config.seed
        rate = sandbox.rate_limit(self.name, DEFAULT_RATE)
        self.bucket = sandbox.quota(self.name, rate, 2 * rate)
        self.shops: list[Shop] = []
        for index, seller in enumerate(self.world.sellers_of(self.name)):
            cipher = _digest("tiktok-shop-cipher", seller.seller_id)[:15]
            open_id = _digest("tiktok-open-id", seller.seller_id)[:24]
            code = _digest("tiktok-shop-code", seller.seller_id)[:6]
            self.shops.append(
                Shop(
                    seller=seller,
                    index=index,
                    cipher="ROW_" + base64.b32encode(cipher).decode(),
                    open_id=base64.urlsafe_b64encode(open_id).decode(),
                    code="BRLC" + "".join(chr(65 + b % 26) for b in code),
                )
            )
        self.shop_by_cipher = {s.cipher: s for s in self.shops}
        self.shop_by_seller = {s.seller: s for s in self.shops}
        self.catalog = Catalog(self.world)
        self.renderer = OrderRenderer(
            self.world, self.catalog, {s.seller: s.index for s in self.shops}
        )
        self.data: dict[str, ShopData] = {s.id: self._index_shop(s) for s in self.shops}
        self.inventory_writes: list[InventoryWrite] = []
        self._init_writes()
        self._product_updated: dict[int, int] = {}
        self._steps: dict[int, OrderSteps] = {}
        self._rendered: dict[int, tuple[int, bytes]] = {}
        self._snapshots: OrderedDict[str, list[Order]] = OrderedDict()
        # Per shop: settled orders by the statement that settles them (future ones too).
        self._statements: dict[str, dict[int, list[tuple[Order, Settlement]]]] = {}
        self._codes: dict[str, tuple[Shop, float]] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, Grant] = {}
        self._counter = itertools.count(1)
        # Apart from the request-id counter, so tokens depend only on how many were issued.
        self._secrets = itertools.count(1)
        self._lock = threading.Lock()

    def _index_shop(self, shop: Shop) -> ShopData:
        orders = sorted(
            (o for o in self.world.orders if o.seller == shop.seller),
            key=lambda o: (o.created_at, o.order_number),
        )
        listings = sorted(self.world.listings_of(shop.seller), key=lambda lst: lst.listing_number)
        spans = (epoch(o.timeline[-1][1]) - epoch(o.created_at) for o in orders)
        base = 2_000_000_000_000 + 10_000_000 * (1 + self.world.sellers.index(shop.seller))
        return ShopData(
            orders=orders,
            created=[epoch(o.created_at) for o in orders],
            by_number={o.order_number: o for o in orders},
            listings={lst.listing_number: lst for lst in listings},
            # The completed step TikTok adds after delivery can come after the last World step.
            max_span=max(spans, default=0) + 7 * 86400,
            next_order_number=max((o.order_number for o in orders), default=base) + 1,
        )

    # --- app -------------------------------------------------------------------------

    def app(self) -> Starlette:
        api = self._api
        routes = [
            Route("/oauth/authorize", self._authorize, methods=["GET"]),
            Route("/open/authorize", self._authorize, methods=["GET"]),
            Route("/api/v2/token/get", self._token_get, methods=["GET"]),
            Route("/api/v2/token/refresh", self._token_refresh, methods=["GET"]),
            Route("/_sandbox/sales", self._sandbox_sale, methods=["POST"]),
            Route("/authorization/202309/shops", api(self._shops, scoped=False)),
            Route("/_sandbox/pictures/{name}", self._picture, methods=["GET"]),
            Route(
                "/product/202309/images/upload",
                api(self._image_upload, scoped=False, multipart=True),
                methods=["POST"],
            ),
            Route("/product/202309/products", api(self._product_create), methods=["POST"]),
            Route(
                "/product/202309/products/activate",
                api(self._products_activate),
                methods=["POST"],
            ),
            Route(
                "/product/202309/products/deactivate",
                api(self._products_deactivate),
                methods=["POST"],
            ),
            Route(
                "/product/202309/products/{product_id}/prices/update",
                api(self._price_update),
                methods=["POST"],
            ),
            Route(
                "/product/202309/products/{product_id}",
                api(self._product_edit),
                methods=["PUT"],
            ),
            Route("/logistics/202309/warehouses", api(self._warehouses)),
            Route(
                "/logistics/202309/delivery_options/{delivery_option_id}/shipping_providers",
                api(self._shipping_providers),
            ),
            Route(
                "/fulfillment/202309/packages/{package_id}/ship",
                api(self._package_ship),
                methods=["POST"],
            ),
            Route(
                "/fulfillment/202502/invoice/upload", api(self._invoice_upload), methods=["POST"]
            ),
            Route("/order/202309/orders/search", api(self._orders_search), methods=["POST"]),
            Route("/order/202309/orders", api(self._orders_get)),
            Route("/product/202309/products/search", api(self._products_search), methods=["POST"]),
            Route(
                "/finance/202309/orders/{order_id}/statement_transactions",
                api(self._order_statement_transactions),
            ),
            Route("/finance/202309/statements", api(self._statements_list)),
            Route(
                "/finance/202309/statements/{statement_id}/statement_transactions",
                api(self._statement_transactions),
            ),
            Route("/fulfillment/202309/packages/{package_id}", api(self._package_detail)),
            Route("/fulfillment/202309/orders/{order_id}/tracking", api(self._order_tracking)),
            Route(
                "/product/202309/products/{product_id}/inventory/update",
                api(self._inventory_update),
                methods=["POST"],
            ),
            Route("/product/202309/products/{product_id}", api(self._product_get)),
            Route("/product/202309/categories", api(self._categories)),
            Route(
                "/product/202309/categories/recommend",
                api(self._categories_recommend),
                methods=["POST"],
            ),
            Route(
                "/product/202309/categories/{category_id}/attributes",
                api(self._category_attributes),
            ),
            Route("/product/202309/categories/{category_id}/rules", api(self._category_rules)),
            Route(
                "/{path:path}",
                self._unknown_path,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
        ]
        return Starlette(routes=routes)

    # --- envelopes -------------------------------------------------------------------

    def _request_id(self) -> str:
        n = next(self._counter)
        return f"{self.clock.now():%Y%m%d%H%M%S}" + _digest(self.seed, n).hex()[:20].upper()

    def _ok(self, data: Any) -> Response:
        return self._ok_raw(_dumps(data))

    def _ok_raw(self, data: bytes) -> Response:
        body = (
            b'{"code":0,"data":'
            + data
            + b',"message":"Success","request_id":"'
            + self._request_id().encode()
            + b'"}'
        )
        return Response(body, media_type="application/json")

    def _error(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        body = {"code": code, "message": message, "request_id": self._request_id()}
        return JSONResponse(body, status_code=status, headers=headers)

    async def _fault(self) -> Response | None:
        fault = self.faults.roll()
        if fault == "429":
            return self._error(429, ERR_RATE, "Too many requests", {"Retry-After": "1"})
        if fault == "5xx":
            return self._error(500, ERR_INTERNAL, "Internal error. Please try again.")
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_seconds)
        return None

    async def _unknown_path(self, request: Request) -> Response:
        return self._error(404, ERR_PATH, f"Path not found: {_real_path(request)}")

    # --- signed API calls ------------------------------------------------------------

    def _api(
        self, handler: Handler, scoped: bool = True, multipart: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            fault = await self._fault()
            if fault is not None:
                return fault
            query = dict(request.query_params)
            wait = self.bucket.take(f"{query.get('app_key', '')}:{query.get('shop_cipher', '')}")
            if wait is not None:
                retry = str(max(1, math.ceil(wait)))
                return self._error(429, ERR_RATE, "Too many requests", {"Retry-After": retry})
            raw = await request.body()
            try:
                call = self._authenticate(request, query, raw, scoped, multipart)
                result = await handler(call)
            except ApiError as exc:
                return self._error(exc.status, exc.code, exc.message)
            return result if isinstance(result, Response) else self._ok(result)

        return endpoint

    def _authenticate(
        self,
        request: Request,
        query: dict[str, str],
        raw: bytes,
        scoped: bool,
        multipart: bool = False,
    ) -> Call:
        if query.get("app_key") != APP_KEY:
            raise _params("Invalid app_key")
        try:
            timestamp = int(query.get("timestamp", ""))
        except ValueError:
            raise _params("Invalid timestamp: expected unix seconds") from None
        if min(abs(timestamp - time.time()), abs(timestamp - self.clock.time())) > TIMESTAMP_SKEW:
            raise _params("Invalid timestamp: more than 5 minutes away from server time")
        content_type = request.headers.get("content-type", "")
        signed_body = (
            b"" if request.method == "GET" or content_type.startswith("multipart/") else raw
        )
        expected = _sign(_real_path(request), query, signed_body)
        if not hmac.compare_digest(query.get("sign", ""), expected):
            raise _params("Invalid signature")

        now = self.clock.time()
        token = request.headers.get("x-tts-access-token", "")
        record = self._access.get(token)
        if record is None:
            raise ApiError(401, ERR_TOKEN_INVALID, "Invalid credentials: unknown access token")
        if now >= record.expires_at:
            raise ApiError(401, ERR_TOKEN_EXPIRED, "access token is expired, please refresh it")

        cipher = query.get("shop_cipher")
        shop: Shop | None = None
        if scoped:
            shop = self.shop_by_cipher.get(cipher or "")
            if shop is None or shop != record.shop:
                raise ApiError(400, ERR_SHOP_CIPHER, "Invalid shop_cipher")
        elif cipher is not None:
            raise _params("shop_cipher is not allowed for this API")
        else:
            shop = record.shop

        body: dict[str, Any] = {}
        if multipart:
            if not content_type.startswith("multipart/form-data"):
                raise ApiError(400, ERR_CONTENT_TYPE, "content-type must be multipart/form-data")
            return Call(shop, query, body, request.path_params, int(now), raw, content_type)
        if request.method != "GET":
            if not content_type.startswith("application/json"):
                raise _params("content-type must be application/json")
            if raw.strip():
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    raise _params("Request body is not valid JSON") from None
                if not isinstance(parsed, dict):
                    raise _params("Request body must be a JSON object")
                body = parsed
        return Call(shop, query, body, request.path_params, int(now))

    # --- auth host -------------------------------------------------------------------

    def _new_secret(self, kind: str) -> str:
        n = next(self._secrets)
        return "TTP_" + base64.urlsafe_b64encode(_digest(self.seed, kind, n)).decode().rstrip("=")

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("app_key") != APP_KEY and q.get("service_id") != SERVICE_ID:
            return JSONResponse({"error": "unknown app_key or service_id"}, status_code=400)
        wanted = q.get("shop_id")
        shops = [s for s in self.shops if wanted in (None, s.id)]
        if not shops:
            return JSONResponse({"error": f"no TikTok shop {wanted!r} in the sandbox"}, 400)
        code = self._new_secret("code")
        with self._lock:
            expires = self.clock.time() + AUTH_CODE_TTL.total_seconds()
            self._codes[code] = (shops[0], expires)
        query = urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(f"{REDIRECT_URI}?{query}", status_code=302)

    def _auth_error(self, code: int, message: str) -> Response:
        return self._error(200, code, message)

    async def _token_get(self, request: Request) -> Response:
        fault = await self._fault()
        if fault is not None:
            return fault
        q = request.query_params
        if q.get("app_key") != APP_KEY or q.get("app_secret") != APP_SECRET:
            return self._auth_error(ERR_PARAMS, "Invalid app_key or app_secret")
        if q.get("grant_type") != "authorized_code":
            return self._auth_error(ERR_PARAMS, "grant_type must be authorized_code")
        with self._lock:
            entry = self._codes.pop(q.get("auth_code", ""), None)
            if entry is None or self.clock.time() >= entry[1]:
                return self._auth_error(ERR_AUTH_RECORD, "can not find related auth record")
            grant = Grant(entry[0], self.clock.time() + AUTHORIZATION_TTL.total_seconds())
            return self._ok(self._issue(grant))

    async def _token_refresh(self, request: Request) -> Response:
        fault = await self._fault()
        if fault is not None:
            return fault
        q = request.query_params
        if q.get("app_key") != APP_KEY or q.get("app_secret") != APP_SECRET:
            return self._auth_error(ERR_PARAMS, "Invalid app_key or app_secret")
        if q.get("grant_type") != "refresh_token":
            return self._auth_error(ERR_PARAMS, "grant_type must be refresh_token")
        with self._lock:
            grant = self._refresh.pop(q.get("refresh_token", ""), None)
            if grant is None:
                return self._auth_error(ERR_AUTH_RECORD, "can not find related auth record")
            if self.clock.time() >= grant.expires_at:
                return self._auth_error(ERR_REFRESH_EXPIRED, "rt has expired")
            return self._ok(self._issue(grant))

    def _issue(self, grant: Grant) -> dict[str, Any]:
        access, refresh = self._new_secret("access"), self._new_secret("refresh")
        expires = self.clock.time() + ACCESS_TOKEN_TTL.total_seconds()
        self._access[access] = AccessToken(grant.shop, expires)
        self._refresh[refresh] = grant
        return {
            "access_token": access,
            "access_token_expire_in": int(expires),
            "refresh_token": refresh,
            "refresh_token_expire_in": int(grant.expires_at),
            "open_id": grant.shop.open_id,
            "seller_name": grant.shop.seller.nickname,
            "seller_base_region": "BR",
            "user_type": 0,
            "granted_scopes": [
                "seller.authorization.info",
                "seller.order.info",
                "seller.product.basic",
            ],
        }

    # --- authorization ---------------------------------------------------------------

    async def _shops(self, call: Call) -> Any:
        assert call.shop is not None
        shop = call.shop
        return {
            "shops": [
                {
                    "id": shop.id,
                    "name": shop.seller.nickname,
                    "region": "BR",
                    "seller_type": "LOCAL",
                    "cipher": shop.cipher,
                    "code": shop.code,
                }
            ]
        }

    # --- orders ----------------------------------------------------------------------

    def _order_steps(self, order: Order) -> OrderSteps:
        steps = self._steps.get(order.order_number)
        if steps is None:
            steps = self._steps[order.order_number] = OrderSteps(order)
        return steps

    def _order_json(self, order: Order, now: int) -> bytes:
        steps = self._order_steps(order)
        index = steps.index_at(now)
        cached = self._rendered.get(order.order_number)
        if cached is not None and cached[0] == index:
            return cached[1]
        rendered = _dumps(self.renderer.render(order, steps, index))
        # About 3 KB an order: a large world (100k orders a shop) fits, a runaway one stops.
        if cached is not None or len(self._rendered) < RENDER_CACHE_MAX:
            self._rendered[order.order_number] = (index, rendered)
        return rendered

    async def _orders_search(self, call: Call) -> Any:
        assert call.shop is not None
        data = self.data[call.shop.id]
        q, body, now = call.query, call.body, call.now
        page_size = _page_size(q, ORDER_PAGE_MAX)
        sort_field = q.get("sort_field", "create_time")
        sort_order = q.get("sort_order", "DESC")
        if sort_field not in ("create_time", "update_time"):
            raise _params("sort_field must be create_time or update_time")
        if sort_order not in ("ASC", "DESC"):
            raise _params("sort_order must be ASC or DESC")
        status = body.get("order_status")
        if status is not None and status not in ORDER_STATUSES:
            raise _params(f"Invalid order_status: {status!r}")
        c_ge, c_lt, u_ge, u_lt = (
            _int_filter(body, k)
            for k in ("create_time_ge", "create_time_lt", "update_time_ge", "update_time_lt")
        )
        fingerprint = _fingerprint(
            call.shop.id, sort_field, sort_order, status, c_ge, c_lt, u_ge, u_lt
        )
        token = _decode_token(q.get("page_token", ""), fingerprint)

        created = data.created
        lo = bisect_left(created, c_ge) if c_ge is not None else 0
        hi = bisect_right(created, now)
        if c_lt is not None:
            hi = min(hi, bisect_left(created, c_lt))
        if u_lt is not None:  # an order is updated no earlier than it is created
            hi = min(hi, bisect_left(created, u_lt))
        if u_ge is not None:
            lo = max(lo, bisect_left(created, u_ge - data.max_span))
        filtered = status is not None or u_ge is not None or u_lt is not None

        def matches(order: Order) -> bool:
            steps = self._order_steps(order)
            step = steps.steps[steps.index_at(now)]
            return (
                (status is None or step.status == status)
                and (u_ge is None or step.at >= u_ge)
                and (u_lt is None or step.at < u_lt)
            )

        orders = data.orders
        page: list[Order] = []
        next_token = ""
        if sort_field == "update_time":
            if token is None:
                found = [o for o in orders[lo:hi] if matches(o)]
                found.sort(
                    key=lambda o: (self._update_time(o, now), o.order_number),
                    reverse=sort_order == "DESC",
                )
                snapshot = _digest(fingerprint, next(self._counter)).hex()[:16]
                self._snapshots[snapshot] = found
                while len(self._snapshots) > SNAPSHOTS_KEPT:
                    self._snapshots.popitem(last=False)
                token = {"s": snapshot, "o": 0, "t": len(found)}
            found_snapshot = self._snapshots.get(str(token.get("s")))
            offset = token.get("o")
            if found_snapshot is None or not isinstance(offset, int):
                raise _params("page_token has expired; start again without page_token")
            page = found_snapshot[offset : offset + page_size]
            if offset + page_size < len(found_snapshot):
                next_token = _encode_token({**token, "o": offset + page_size}, fingerprint)
        else:
            if token is None:
                total = sum(1 for o in orders[lo:hi] if matches(o)) if filtered else hi - lo
                token = {"i": lo if sort_order == "ASC" else hi - 1, "t": total}
            position = token.get("i")
            if not isinstance(position, int):
                raise _params("Invalid page_token")
            step = 1 if sort_order == "ASC" else -1
            i = position
            while lo <= i < hi and len(page) < page_size:
                if not filtered or matches(orders[i]):
                    page.append(orders[i])
                i += step
            while lo <= i < hi and filtered and not matches(orders[i]):
                i += step
            if lo <= i < hi:
                next_token = _encode_token({**token, "i": i}, fingerprint)
        items = b",".join(self._order_json(o, now) for o in page)
        return self._ok_raw(
            b'{"next_page_token":'
            + _dumps(next_token)
            + b',"orders":['
            + items
            + b'],"total_count":'
            + str(token["t"]).encode()
            + b"}"
        )

    def _update_time(self, order: Order, now: int) -> int:
        steps = self._order_steps(order)
        return steps.times[steps.index_at(now)]

    async def _orders_get(self, call: Call) -> Any:
        assert call.shop is not None
        data = self.data[call.shop.id]
        ids = [i.strip() for i in call.query.get("ids", "").split(",") if i.strip()]
        if not ids:
            raise _params("ids is required")
        if len(ids) > ORDER_IDS_MAX:
            raise _params(f"ids accepts at most {ORDER_IDS_MAX} order ids")
        found: list[bytes] = []
        seen: set[int] = set()
        for tiktok_id in ids:
            number = order_number_of(tiktok_id)
            order = data.by_number.get(number) if number is not None else None
            if order is None or number in seen or epoch(order.created_at) > call.now:
                continue
            seen.add(order.order_number)
            found.append(self._order_json(order, call.now))
        return self._ok_raw(b'{"orders":[' + b",".join(found) + b"]}")

    # --- finance ---------------------------------------------------------------------

    def _shop_order(self, call: Call, raw_id: str) -> Order:
        assert call.shop is not None
        number = order_number_of(raw_id)
        order = self.data[call.shop.id].by_number.get(number) if number is not None else None
        if order is None or epoch(order.created_at) > call.now:
            raise _params(f"Invalid order_id: {raw_id} is not an order of this shop")
        return order

    def _settlement(self, order: Order) -> Settlement | None:
        return settlement_of(self._order_steps(order), order_money(order))

    def _settled_by_statement(self, shop: Shop) -> dict[int, list[tuple[Order, Settlement]]]:
        """The shop's settled orders by statement time, in creation order (future ones too:
        callers only show what closed by their `now`)."""
        with self._lock:
            index = self._statements.get(shop.id)
            if index is None:
                index = {}
                for order in self.data[shop.id].orders:
                    settlement = self._settlement(order)
                    if settlement is not None:
                        index.setdefault(settlement.statement_time, []).append((order, settlement))
                self._statements[shop.id] = index
            return index

    async def _order_statement_transactions(self, call: Call) -> Any:
        assert call.shop is not None
        raw_id = str(call.path_params["order_id"])
        order = self._shop_order(call, raw_id)
        settlement = self._settlement(order)
        transactions = []
        # "Only settled orders are included": nothing before the statement closes.
        if settlement is not None and settlement.statement_time <= call.now:
            transactions.append(
                self.renderer.statement_transaction(order, settlement, call.shop.index)
            )
        return {
            "order_create_time": epoch(order.created_at),
            "order_id": raw_id,
            "statement_transactions": transactions,
        }

    def _statement_totals(
        self, shop: Shop, at: int, settled: list[tuple[Order, Settlement]]
    ) -> dict[str, Any]:
        totals = [order_total(sku_amounts(order_money(o), s.kind)) for o, s in settled]
        fields = (
            "adjustment_amount",
            "fee_amount",
            "net_sales_amount",
            "revenue_amount",
            "settlement_amount",
            "shipping_cost_amount",
        )
        summed = {k: money(sum((t[k] for t in totals), Decimal(0))) for k in fields}
        return summed | {"currency": CURRENCY, "statement_time": at}

    async def _statements_list(self, call: Call) -> Any:
        assert call.shop is not None
        shop, q = call.shop, call.query
        if q.get("sort_field") != "statement_time":
            raise _params("sort_field is required and must be statement_time")
        descending = _sort_descending(q)
        page_size = _page_size(q, FINANCE_PAGE_MAX, FINANCE_PAGE_DEFAULT)
        ge, lt = _int_query(q, "statement_time_ge"), _int_query(q, "statement_time_lt")
        fingerprint = _fingerprint(shop.id, "statements", descending, ge, lt)
        token = _decode_token(q.get("page_token", ""), fingerprint)
        index = self._settled_by_statement(shop)
        times = sorted(
            t for t in index if t <= call.now and (ge is None or t >= ge) and (lt is None or t < lt)
        )
        if descending:
            times.reverse()
        offset = _offset(token)
        statements = []
        for at in times[offset : offset + page_size]:
            paid = at + 86_400 <= call.now
            statements.append(
                self._statement_totals(shop, at, index[at])
                | {
                    "id": statement_id(shop.index, at),
                    "payment_id": payment_id(shop.index, at),
                    "payment_status": "PAID" if paid else "PROCESSING",
                }
            )
        more = offset + page_size < len(times)
        return {
            "next_page_token": (
                _encode_token({"o": offset + page_size, "t": len(times)}, fingerprint)
                if more
                else ""
            ),
            "statements": statements,
        }

    async def _statement_transactions(self, call: Call) -> Any:
        assert call.shop is not None
        shop, q = call.shop, call.query
        raw_id = str(call.path_params["statement_id"])
        found = statement_of(raw_id)
        index = self._settled_by_statement(shop)
        if found is None or found[0] != shop.index or found[1] not in index or found[1] > call.now:
            raise _params(f"Invalid statement_id: {raw_id} is not a statement of this shop")
        if q.get("sort_field") != "order_create_time":
            raise _params("sort_field is required and must be order_create_time")
        descending = _sort_descending(q)
        page_size = _page_size(q, FINANCE_PAGE_MAX, FINANCE_PAGE_DEFAULT)
        fingerprint = _fingerprint(shop.id, raw_id, descending)
        token = _decode_token(q.get("page_token", ""), fingerprint)
        settled = index[found[1]]
        rows = list(reversed(settled)) if descending else settled
        offset = _offset(token)
        more = offset + page_size < len(rows)
        return self._statement_totals(shop, found[1], settled) | {
            "next_page_token": (
                _encode_token({"o": offset + page_size, "t": len(rows)}, fingerprint)
                if more
                else ""
            ),
            "statement_id": raw_id,
            "statement_transactions": [
                self.renderer.statement_row(o, s) for o, s in rows[offset : offset + page_size]
            ],
            "total_count": len(rows),
        }

    # --- fulfillment -----------------------------------------------------------------

    async def _package_detail(self, call: Call) -> Any:
        assert call.shop is not None
        raw_id = str(call.path_params["package_id"])
        number = package_order_number(raw_id)
        order = self.data[call.shop.id].by_number.get(number) if number is not None else None
        steps = self._order_steps(order) if order is not None else None
        paid = steps.first_at("AWAITING_SHIPMENT") if steps is not None else None
        # A package exists once the order is paid.
        if order is None or steps is None or paid is None or paid > call.now:
            raise _params(f"Invalid package_id: {raw_id} is not a package of this shop")
        return self.renderer.package_detail(order, steps, steps.index_at(call.now), call.shop.index)

    async def _order_tracking(self, call: Call) -> Any:
        order = self._shop_order(call, str(call.path_params["order_id"]))
        return {"tracking": self.renderer.tracking(self._order_steps(order), call.now)}

    # --- products --------------------------------------------------------------------

    def _product_update_time(self, listing: Listing) -> int:
        return self._product_updated.get(listing.listing_number, epoch(listing.created_at))

    def _listing(self, call: Call) -> Listing:
        assert call.shop is not None
        number = listing_number_of(str(call.path_params["product_id"]))
        listing = self.data[call.shop.id].listings.get(number) if number is not None else None
        if listing is None:
            raise ApiError(400, ERR_PRODUCT, "The product ID does not exist")
        return listing

    async def _products_search(self, call: Call) -> Any:
        assert call.shop is not None
        shop, body = call.shop, call.body
        page_size = _page_size(call.query, PRODUCT_PAGE_MAX)
        status = body.get("status", "ALL")
        if status != "ALL" and status not in PRODUCT_STATUSES:
            raise _params(f"Invalid status: {status!r}")
        seller_skus = body.get("seller_skus")
        if seller_skus is not None and (
            not isinstance(seller_skus, list) or not all(isinstance(s, str) for s in seller_skus)
        ):
            raise _params("seller_skus must be a list of strings")
        c_ge, c_le, u_ge, u_le = (
            _int_filter(body, k)
            for k in ("create_time_ge", "create_time_le", "update_time_ge", "update_time_le")
        )
        fingerprint = _fingerprint(shop.id, status, seller_skus, c_ge, c_le, u_ge, u_le)
        token = _decode_token(call.query.get("page_token", ""), fingerprint)
        wanted = set(seller_skus) if seller_skus is not None else None
        matched = []
        for listing in self.data[shop.id].listings.values():
            created, updated = epoch(listing.created_at), self._product_update_time(listing)
            if (
                (status == "ALL" or self.catalog.status_of(listing) == status)
                and (wanted is None or any(v.sku in wanted for v in listing.variations))
                and (c_ge is None or created >= c_ge)
                and (c_le is None or created <= c_le)
                and (u_ge is None or updated >= u_ge)
                and (u_le is None or updated <= u_le)
            ):
                matched.append(listing)
        offset = 0 if token is None else token.get("o")
        if not isinstance(offset, int):
            raise _params("Invalid page_token")
        page = matched[offset : offset + page_size]
        more = offset + page_size < len(matched)
        return {
            "products": [
                self.catalog.product_summary(lst, shop.index, self._product_update_time(lst))
                for lst in page
            ],
            "next_page_token": (
                _encode_token({"o": offset + page_size, "t": len(matched)}, fingerprint)
                if more
                else ""
            ),
            "total_count": len(matched),
        }

    async def _product_get(self, call: Call) -> Any:
        assert call.shop is not None
        listing = self._listing(call)
        if listing.listing_number in self.published:
            return self.published_detail(
                listing, call.shop.index, self._product_update_time(listing)
            )
        return self.catalog.product_detail(
            listing, call.shop.index, self._product_update_time(listing)
        )

    async def _inventory_update(self, call: Call) -> Any:
        self._count("products.inventory_update")
        assert call.shop is not None
        shop = call.shop
        listing = self._listing(call)
        skus = call.body.get("skus")
        if not isinstance(skus, list) or not skus:
            raise _params("skus is required")
        by_id = {sku_id(v.variation_number): v for v in listing.variations}
        plan: list[tuple[ListingVariation, str, int]] = []
        for entry in skus:
            if not isinstance(entry, dict):
                raise _params("each skus entry must be an object")
            variation = by_id.get(str(entry.get("id", "")))
            if variation is None:
                raise ApiError(
                    400, ERR_SKU, f"SKU {entry.get('id')!r} does not belong to this product"
                )
            inventory = entry.get("inventory")
            if not isinstance(inventory, list) or not inventory:
                raise _params("inventory is required for each SKU")
            for slot in inventory:
                if not isinstance(slot, dict):
                    raise _params("each inventory entry must be an object")
                if str(slot.get("warehouse_id", "")) != shop.warehouse_id:
                    raise ApiError(400, ERR_WAREHOUSE, "The warehouse does not exist")
                quantity = slot.get("quantity")
                if (
                    not isinstance(quantity, int)
                    or isinstance(quantity, bool)
                    or not 0 <= quantity <= MAX_QUANTITY
                ):
                    raise ApiError(
                        400,
                        ERR_QUANTITY,
                        "The SKU inventory quantity for the warehouse must be within"
                        " allowed limits.",
                    )
                plan.append((variation, shop.warehouse_id, quantity))
        with self._lock:
            moment = self.clock.now()
            for variation, warehouse, quantity in plan:
                self.inventory_writes.append(
                    InventoryWrite(
                        at=moment,
                        shop_id=shop.id,
                        product_id=product_id(listing.listing_number),
                        sku_id=sku_id(variation.variation_number),
                        seller_sku=variation.sku,
                        warehouse_id=warehouse,
                        previous=variation.available_quantity,
                        quantity=quantity,
                    )
                )
                variation.available_quantity = quantity
            self._product_updated[listing.listing_number] = call.now
        return {}

    # --- categories ------------------------------------------------------------------

    async def _categories(self, call: Call) -> Any:
        keyword = call.query.get("keyword", "").strip().lower()
        categories = [
            self.catalog.render_category(c)
            for c in self.catalog.categories
            if not keyword or keyword in c.local_name.lower()
        ]
        return {"categories": categories}

    def _leaf(self, call: Call) -> Any:
        category = self.catalog.by_id.get(str(call.path_params["category_id"]))
        if category is None:
            raise ApiError(400, ERR_CATEGORY, "Category does not exist")
        if not category.is_leaf:
            raise ApiError(400, ERR_NOT_LEAF, "Category is not final category")
        return category

    async def _category_attributes(self, call: Call) -> Any:
        return {"attributes": self.catalog.attributes(self._leaf(call))}

    async def _category_rules(self, call: Call) -> Any:
        return self.catalog.rules(self._leaf(call))

    async def _categories_recommend(self, call: Call) -> Any:
        title = call.body.get("product_title")
        if not isinstance(title, str) or not title.strip():
            raise _params("product_title is required")
        leaf = self.catalog.recommend(title)
        if leaf is None:
            return {"leaf_category_id": "", "categories": []}
        chain = self.catalog.chain(leaf.path)
        return {
            "leaf_category_id": leaf.id,
            "categories": [
                {
                    "id": c.id,
                    "name": c.local_name,
                    "level": level,
                    "is_leaf": c.is_leaf,
                    "permission_statuses": ["AVAILABLE"],
                }
                for level, c in enumerate(chain, start=1)
            ],
        }

    # --- sandbox-only ----------------------------------------------------------------

    def record_sale(self, product_id: str, sku_id: str, quantity: int = 1) -> Order:
        """Append a paid order at the sandbox clock's now and take its units from stock."""
        listing_number = listing_number_of(product_id)
        variation_number = variation_number_of(sku_id)
        found = (
            self.world.listings_by_number.get(listing_number)
            if listing_number is not None
            else None
        )
        if found is None or found.seller not in self.shop_by_seller:
            raise ValueError(f"unknown TikTok product {product_id!r}")
        variation = next(
            (v for v in found.variations if v.variation_number == variation_number), None
        )
        if variation is None:
            raise ValueError(f"SKU {sku_id!r} is not part of product {product_id!r}")
        if not 1 <= quantity <= MAX_UNITS_PER_ORDER:
            raise ValueError(f"quantity must be between 1 and {MAX_UNITS_PER_ORDER}")
        shop = self.shop_by_seller[found.seller]
        with self._lock:
            if quantity > variation.available_quantity:
                raise ValueError(
                    f"only {variation.available_quantity} units of SKU {sku_id} are available"
                )
            data = self.data[shop.id]
            number = data.next_order_number
            data.next_order_number += 1
            rng = random.Random(f"{self.seed}:tiktok-sale:{number}")
            city, state = rng.choice(_CITIES)
            buyer_id = rng.randrange(100_000_000, 999_999_999)
            now = datetime.fromtimestamp(int(self.clock.time()), tz=UTC)
            order = Order(
                order_number=number,
                seller=found.seller,
                lines=(
                    OrderLine(
                        listing_number=found.listing_number,
                        variation_number=variation.variation_number,
                        sku=variation.sku,
                        title=found.title,
                        quantity=quantity,
                        unit_price=variation.price,
                    ),
                ),
                buyer=Buyer(
                    buyer_id=buyer_id,
                    nickname=f"COMPRADOR{buyer_id % 100000}",
                    first_name=rng.choice(_FIRST_NAMES),
                    last_name=rng.choice(_LAST_NAMES),
                    city=city,
                    state=state,
                ),
                shipping_cost=Decimal("0"),
                timeline=[("pending", now), ("paid", now)],
            )
            variation.available_quantity -= quantity
            self.world.orders.append(order)
            position = bisect_right(data.created, epoch(now))
            data.created.insert(position, epoch(now))
            data.orders.insert(position, order)
            data.by_number[number] = order
            # The product's stock changed: incremental product syncs must see it.
            self._product_updated[found.listing_number] = epoch(now)
        self.world.order_created(order)
        return order

    def on_order_changed(self, change: OrderChange) -> None:
        """World listener: forget what was derived from an order's old timeline."""
        order = change.order
        shop = self.shop_by_seller.get(order.seller)
        if change.kind != "status" or shop is None:
            return
        with self._lock:
            self._steps.pop(order.order_number, None)
            self._rendered.pop(order.order_number, None)
            self._statements.pop(shop.id, None)
            data = self.data[shop.id]
            span = epoch(order.timeline[-1][1]) - epoch(order.created_at) + 7 * 86400
            data.max_span = max(data.max_span, span)
            if change.status == "cancelled":  # a cancelled runtime sale restocked its SKU
                for line in order.lines:
                    self._product_updated[line.listing_number] = epoch(change.at)

    async def _sandbox_sale(self, request: Request) -> Response:
        try:
            body = await request.json()
            order = self.record_sale(
                str(body["product_id"]), str(body["sku_id"]), int(body.get("quantity", 1))
            )
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {"order_id": order_id(order.order_number), "create_time": epoch(order.created_at)}
        )


# --- helpers ---------------------------------------------------------------------------


def _real_path(request: Request) -> str:
    """The path as the real API host sees it: without the sandbox's `/tiktok` mount."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _sign(path: str, query: Mapping[str, str], body: bytes) -> str:
    pieces = "".join(f"{k}{query[k]}" for k in sorted(query) if k not in ("sign", "access_token"))
    secret = APP_SECRET.encode()
    message = secret + path.encode() + pieces.encode() + body + secret
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _page_size(query: Mapping[str, str], cap: int, default: int | None = None) -> int:
    raw = query.get("page_size")
    if raw is None:
        if default is not None:
            return default
        raise _params("page_size is required")
    try:
        size = int(raw)
    except ValueError:
        raise _params("page_size must be an integer") from None
    if not 1 <= size <= cap:
        raise _params(f"page_size must be between 1 and {cap}")
    return size


def _int_query(query: Mapping[str, str], key: str) -> int | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise _params(f"{key} must be unix seconds (integer)") from None


def _sort_descending(query: Mapping[str, str]) -> bool:
    order = query.get("sort_order", "ASC")
    if order not in ("ASC", "DESC"):
        raise _params("sort_order must be ASC or DESC")
    return order == "DESC"


def _offset(token: dict[str, Any] | None) -> int:
    offset = 0 if token is None else token.get("o")
    if not isinstance(offset, int) or offset < 0:
        raise _params("Invalid page_token")
    return offset


def _int_filter(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _params(f"{key} must be unix seconds (integer)")
    return value


def _fingerprint(*parts: object) -> str:
    return _digest(*parts).hex()[:12]


def _encode_token(state: dict[str, Any], fingerprint: str) -> str:
    return base64.b64encode(_dumps({**state, "h": fingerprint})).decode()


def _decode_token(token: str, fingerprint: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        state = json.loads(base64.b64decode(token, validate=True))
    except (ValueError, binascii.Error):
        raise _params("Invalid page_token") from None
    if not isinstance(state, dict) or not isinstance(state.get("t"), int):
        raise _params("Invalid page_token")
    if state.get("h") != fingerprint:
        raise _params("page_token does not match this request's filters or sort")
    return state
