"""Shopee Open Platform v2 simulator, mounted at `/shopee` (API paths keep their `/api/v2/…`).

It follows API-NOTES §2 and the official doc JSON (`congminh1254/shopee-sdk:schemas/`):

- Every call carries `partner_id`, `timestamp` (±5 min of the sandbox clock) and `sign`,
  the lowercase hex HMAC-SHA256 keyed with PARTNER_KEY's UTF-8 bytes over
  `partner_id + api_path + timestamp` (public APIs) or
  `partner_id + api_path + timestamp + access_token + shop_id` (shop APIs). `api_path` is
  the real path (`/api/v2/…`), without the `/shopee` mount prefix.
- Authorization: `GET /api/v2/shop/auth_partner` redirects (302) to `redirect?code&shop_id`
  (the code is single-use, 10 min); `auth/token/get` trades it for an access token (4 h) and
  a refresh token (30 days, single-use); `auth/access_token/get` rotates the pair and leaves
  the previous access token valid for 5 more minutes.
- Every answer is the envelope `{request_id, error, message, warning?, response}` with
  `error == ""` on success; the two token calls answer flat, as the doc samples show.

Where the docs leave room, this simulator chooses (and clients must cope):

- HTTP status: business errors (`error_param`, `error_sign`, `error_auth`,
  `invalid_access_token`, `order.order_list_invalid_time`, …) come back with HTTP 200, so a
  client must key on `error` as the official SDKs do. Rate limiting answers HTTP 429
  `error_rate_limit` with a Retry-After header; injected server faults answer HTTP 500
  `error_server`; an unknown path or method answers HTTP 404 `error_param`.
- A reused or unknown refresh token answers `error_auth` "Invalid refresh_token." (the doc's
  error example for v2.public.refresh_access_token); an expired one `refresh_token_expired`.
- `get_order_list` returns newest first (as the doc sample does) and its `next_cursor` is a
  keyset position, so one drain never repeats an order even while the clock moves statuses.
- Items with models carry price and stock on their models only (`get_model_list`), and
  `get_model_list` of an item without models returns empty `tier_variation` and `model`.
- The quota is a token bucket per partner_id + shop_id; Shopee publishes no number.
- Money (shopee_render): the escrow answers field for field as the doc's sample (less the
  CB SIP affiliate fields) and its `escrow_amount` is the doc's formula to the cent. It
  changes with the order's step (no carrier charge before pickup; a cancellation or a
  return before the release refunds the goods and waives the fees) and Shopee releases it
  7 to 9 days after delivery (3 days after a return that came first). A return after the
  release is an `order_adjustment`. `get_escrow_list` lists releases up to the clock.
- `get_escrow_detail_batch` answers an order_sn it does not know with an entry carrying
  `fail_error` (the doc's error example, placed in `response`); more than 50 is
  `exceed_max_limit`.
- Packages: one per order, two when the seller split a multi-line order (then
  get_tracking_number/get_tracking_info want the package_number); the tracking number
  exists from pickup on; get_tracking_info's events are PICKED_UP and DELIVERED, newest
  first, and an order never paid is `logistics.error_status_limit`.
- A few items per shop are BANNED or REVIEWING, with a reason in get_item_violation_info.

Ids: shop_id is the World seller's seller_id, item_id is 20_000_000_000 + listing number,
model_id is the variation number (0 for an item without models), and order_sn is the
creation day (YYMMDD, shop time zone) plus 8 base-36 characters derived from the order number.
package_number is OFG + 15 digits that decode to (order number, package index).
Sandbox-only extras: `shop_id` on auth_partner picks the consenting shop (default: the first),
and `POST /_sandbox/sales` ({item_id, model_id, quantity}) records a paid sale.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import random
import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from synchub_pipelines.sandbox.shopee_render import (
    LOCATION_ID,
    OPTIONAL_ORDER_FIELDS,
    ORDER_STATUSES,
    SHOPEE_STATUS,
    Catalog,
    OrderRenderer,
    Package,
    has_tracking,
    item_id_of,
    logistics_status,
    order_number_candidates,
    order_sn,
    package_owner,
    packages_of,
    release_time,
    tracking_events,
    tracking_number,
    ts,
)
from synchub_pipelines.sandbox.shopee_writes import ShopeeWrites, parse_multipart
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

PARTNER_ID = 2001887
PARTNER_KEY = "sandbox-shopee-partner-key-0123456789abcdef"
REDIRECT_URL = "https://localhost:8787/synchub/callback/shopee"

DEFAULT_RATE = 100.0  # requests per second per partner_id + shop_id
TIMESTAMP_TOLERANCE = 300
CODE_TTL = 600
ACCESS_TOKEN_TTL = 4 * 3600
REFRESH_TOKEN_TTL = 30 * 86_400
AUTHORIZATION_TTL = 365 * 86_400
PREVIOUS_TOKEN_GRACE = 300
MAX_ORDER_WINDOW = 15 * 86_400
MAX_PAGE_SIZE = 100
MAX_ITEM_IDS = 50
MAX_ORDER_SNS = 50
MAX_CATEGORY_IDS = 20
MAX_STOCK_ENTRIES = 50
MAX_PACKAGES = 50
MAX_VIOLATION_ITEMS = 50
ESCROW_LIST_PAGE_DEFAULT = 40
TRACKING_OPTIONAL_FIELDS = ("plp_number", "first_mile_tracking_number", "last_mile_tracking_number")
ITEM_STATUSES = frozenset(
    {"NORMAL", "BANNED", "UNLIST", "REVIEWING", "SELLER_DELETE", "SHOPEE_DELETE"}
)
LANGUAGES = frozenset({"en", "pt-br"})
# The doc's common error list spells it "invalid_acceess_token" and some live answers do too;
# this sandbox answers the spelling the brief and API-NOTES use.
INVALID_TOKEN_ERROR = "invalid_access_token"  # noqa: S105 - an error code
INVALID_TOKEN_MESSAGE = "Invalid access_token, please have a check."  # noqa: S105
_DETAIL_CACHE_SIZE = 50_000
_SALE_CITIES = (("São Paulo", "SP"), ("Curitiba", "PR"), ("Recife", "PE"), ("Goiânia", "GO"))


class ShopeeError(Exception):
    """An answer in Shopee's error envelope."""

    def __init__(
        self,
        error: str,
        message: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message
        self.status = status
        self.headers = headers or {}


def _param_error(detail: str) -> ShopeeError:
    return ShopeeError("error_param", f"Wrong parameters, detail: {detail}.")


@dataclass(frozen=True)
class StockWrite:
    """One model's stock as update_stock set it (kept for tests and benchmarks)."""

    shop_id: int
    item_id: int
    model_id: int
    location_id: str
    stock: int
    at: datetime


@dataclass
class _AccessGrant:
    shop_id: int
    expires_at: float


@dataclass
class _RefreshGrant:
    shop_id: int
    expires_at: float
    access_token: str
    authorized_until: float


@dataclass
class _Code:
    shop_id: int
    expires_at: float


@dataclass
class Reply:
    """A handler's answer: `response` is a dict or already-serialized JSON text."""

    response: Any = None
    warning: str | list[str] | None = None
    flat: dict[str, Any] | None = None  # the token calls answer without a response wrapper


@dataclass
class _Call:
    query: QueryParams
    body: dict[str, Any]
    now: float
    shop: _Shop | None = None
    # A multipart upload's text fields and files (media_space/upload_image).
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def the_shop(self) -> _Shop:
        if self.shop is None:
            raise ShopeeError("error_auth", "No permission to current api.")
        return self.shop


_MAX = 2**63


class _OrderIndex:
    """One shop's orders by creation time and by status-step time, for keyset paging."""

    def __init__(self, orders: Iterable[Order]) -> None:
        self.by_number: dict[int, Order] = {}
        self.step_times: dict[int, list[int]] = {}
        self.created: list[tuple[int, int]] = []
        self.steps: list[tuple[int, int, int]] = []
        self._sn: dict[int, str] = {}
        for order in orders:
            times = self._times(order)
            self.created.append((times[0], order.order_number))
            self.steps.extend((moment, order.order_number, i) for i, moment in enumerate(times))
        self.created.sort()
        self.steps.sort()

    def _times(self, order: Order) -> list[int]:
        times = [ts(moment) for _, moment in order.timeline]
        self.by_number[order.order_number] = order
        self.step_times[order.order_number] = times
        return times

    def add(self, order: Order) -> None:
        times = self._times(order)
        insort(self.created, (times[0], order.order_number))
        for i, moment in enumerate(times):
            insort(self.steps, (moment, order.order_number, i))

    def restep(self, order: Order) -> None:
        """Re-index an order whose timeline changed after it was indexed."""
        number = order.order_number
        for i, moment in enumerate(self.step_times[number]):
            del self.steps[bisect_left(self.steps, (moment, number, i))]
        for i, moment in enumerate(self._times(order)):
            insort(self.steps, (moment, number, i))

    def sn(self, order: Order) -> str:
        cached = self._sn.get(order.order_number)
        if cached is None:
            cached = self._sn[order.order_number] = order_sn(order)
        return cached

    def step_at(self, number: int, now: int) -> int:
        """Index of the timeline step in force at `now` (-1 if not created yet)."""
        return bisect_right(self.step_times[number], now) - 1

    def find(self, sn: str, now: int) -> tuple[Order, int] | None:
        for number in order_number_candidates(sn):
            order = self.by_number.get(number)
            if order is not None and self.sn(order) == sn:
                step = self.step_at(number, now)
                return (order, step) if step >= 0 else None
        return None

    def _status_ok(self, number: int, step: int, status: str | None) -> bool:
        return status is None or SHOPEE_STATUS[self.by_number[number].timeline[step][0]] == status

    def page(
        self,
        field_name: str,
        window: tuple[int, int],
        now: int,
        status: str | None,
        cursor: str,
        size: int,
    ) -> tuple[list[tuple[Order, int]], str]:
        """Up to `size` (order, step) newest first, and the next cursor ("" at the end)."""
        try:
            key = tuple(int(part) for part in cursor.split("_")) if cursor else None
        except ValueError:
            key = ()
        width = 2 if field_name == "create_time" else 3
        if key is not None and len(key) != width:
            raise _param_error("cursor is invalid")
        found: list[tuple[tuple[int, ...], int, int]] = []
        t_from, t_to = window
        if field_name == "create_time":
            hi = bisect_right(self.created, (min(t_to, now), _MAX))
            if key is not None:
                hi = min(hi, bisect_left(self.created, key))
            lo = bisect_left(self.created, (t_from, -1))
            for i in range(hi - 1, lo - 1, -1):
                number = self.created[i][1]
                step = self.step_at(number, now)
                if self._status_ok(number, step, status):
                    found.append((self.created[i], number, step))
                    if len(found) > size:
                        break
        else:
            hi = bisect_right(self.steps, (min(t_to, now), _MAX, _MAX))
            if key is not None:
                hi = min(hi, bisect_left(self.steps, key))
            lo = bisect_left(self.steps, (t_from, -1, -1))
            for i in range(hi - 1, lo - 1, -1):
                entry = self.steps[i]
                _, number, step = entry
                # Only the step in force stands for the order, so it is listed once.
                if step == self.step_at(number, now) and self._status_ok(number, step, status):
                    found.append((entry, number, step))
                    if len(found) > size:
                        break
        more = len(found) > size
        page = found[:size]
        next_cursor = "_".join(map(str, page[-1][0])) if more else ""
        return [(self.by_number[number], step) for _, number, step in page], next_cursor


@dataclass
class _Shop:
    seller: Seller
    shop_id: int
    listings: list[Listing]
    items: dict[int, Listing] = field(default_factory=dict)
    item_updated: dict[int, int] = field(default_factory=dict)
    orders: _OrderIndex | None = None
    # (escrow release time, order number), sorted; rebuilt after a runtime order change.
    releases: list[tuple[int, int]] | None = None

    def update_time(self, listing: Listing) -> int:
        return self.item_updated.get(item_id_of(listing), ts(listing.created_at))


Handler = Callable[[_Call], Reply]


class Simulator:
    """The Shopee Open Platform v2 API over the sandbox World's Shopee sellers."""

    name = "shopee"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self.clock = sandbox.clock
        self.faults = sandbox.faults
        rate = sandbox.rate_limit(self.name, DEFAULT_RATE)
        self.bucket = sandbox.quota(self.name, rate, 2 * rate)
        self.catalog = Catalog(self.world)
        self.orders_render = OrderRenderer(self.catalog)
        self.stock_writes: list[StockWrite] = []
        self.shops: dict[int, _Shop] = {}
        for seller in self.world.sellers_of(self.name):
            listings = sorted(self.world.listings_of(seller), key=item_id_of)
            shop = _Shop(seller, int(seller.seller_id), listings)
            shop.items = {item_id_of(listing): listing for listing in listings}
            self.shops[shop.shop_id] = shop
        self._lock = threading.RLock()
        self._counter = itertools.count(1)
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _AccessGrant] = {}
        self._refresh: dict[str, _RefreshGrant] = {}
        self._detail_cache: dict[tuple[int, int, tuple[str, ...]], str] = {}
        # Publishing, prices and fulfilment (sandbox/shopee_writes.py).
        self.writes = ShopeeWrites(self)

    # --- the app ---------------------------------------------------------------------------

    def app(self) -> Starlette:
        api: list[tuple[str, str, str, Handler]] = [
            ("POST", "/api/v2/auth/token/get", "public", self._token_get),
            ("POST", "/api/v2/auth/access_token/get", "public", self._token_refresh),
            ("GET", "/api/v2/product/get_item_list", "shop", self._get_item_list),
            ("GET", "/api/v2/product/get_item_base_info", "shop", self._get_item_base_info),
            ("GET", "/api/v2/product/get_model_list", "shop", self._get_model_list),
            ("POST", "/api/v2/product/update_stock", "shop", self._update_stock),
            ("GET", "/api/v2/product/get_category", "shop", self._get_category),
            ("GET", "/api/v2/product/get_attribute_tree", "shop", self._get_attribute_tree),
            ("GET", "/api/v2/product/category_recommend", "shop", self._category_recommend),
            ("GET", "/api/v2/order/get_order_list", "shop", self._get_order_list),
            ("GET", "/api/v2/order/get_order_detail", "shop", self._get_order_detail),
            ("GET", "/api/v2/payment/get_escrow_detail", "shop", self._get_escrow_detail),
            (
                "POST",
                "/api/v2/payment/get_escrow_detail_batch",
                "shop",
                self._get_escrow_detail_batch,
            ),
            ("GET", "/api/v2/payment/get_escrow_list", "shop", self._get_escrow_list),
            ("GET", "/api/v2/logistics/get_tracking_number", "shop", self._get_tracking_number),
            (
                "POST",
                "/api/v2/logistics/get_mass_tracking_number",
                "shop",
                self._get_mass_tracking_number,
            ),
            ("GET", "/api/v2/logistics/get_tracking_info", "shop", self._get_tracking_info),
            (
                "GET",
                "/api/v2/product/get_item_violation_info",
                "shop",
                self._get_item_violation_info,
            ),
        ]
        api += [(method, path, "shop", handler) for method, path, handler in self.writes.routes()]
        routes = [
            Route("/api/v2/shop/auth_partner", self._auth_partner, methods=["GET"]),
            *(
                Route(path, self._endpoint(path, kind, handler), methods=[method])
                for method, path, kind, handler in api
            ),
            Route("/_sandbox/sales", self._sales, methods=["POST"]),
            Route("/{path:path}", self._unknown_path, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
        return Starlette(routes=routes)

    def _endpoint(self, api_path: str, kind: str, handler: Handler) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            request_id = self._request_id()
            try:
                call = await self._admit(request, api_path, kind)
                reply = handler(call)
            except ShopeeError as exc:
                return self._error(request_id, exc)
            return Response(self._envelope(request_id, reply), media_type="application/json")

        return endpoint

    async def _admit(self, request: Request, api_path: str, kind: str) -> _Call:
        """Fault injection, quota, common parameters and signature, in the gateway's order."""
        query = request.query_params
        fault = self.faults.roll()
        if fault == "429":
            raise self._rate_limited(1.0)
        if fault == "5xx":
            raise ShopeeError("error_server", "Something wrong. Please try later.", status=500)
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_seconds)
        wait = self.bucket.take(f"{query.get('partner_id', '')}:{query.get('shop_id', '')}")
        if wait is not None:
            raise self._rate_limited(wait)
        now = self.clock.time()
        partner_id, timestamp = self._common(query, now)
        sign = query.get("sign")
        if not sign:
            raise ShopeeError("error_param", "There is no sign in query.")
        base = f"{partner_id}{api_path}{timestamp}"
        shop: _Shop | None = None
        access_token = ""
        if kind == "shop":
            access_token = query.get("access_token", "")
            if not access_token:
                raise ShopeeError("error_param", "There is no access_token in query.")
            raw_shop = query.get("shop_id")
            if not raw_shop:
                raise ShopeeError("error_param", "There is no shop_id in query.")
            shop_id = _uint(raw_shop)
            if shop_id is None:
                raise ShopeeError(
                    "error_param",
                    "shop_id is invalid, should be an integer between 0 and 4294967295.",
                )
            base += f"{access_token}{shop_id}"
        expected = hmac.new(PARTNER_KEY.encode(), base.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sign):
            raise ShopeeError("error_sign", "Wrong sign.")
        if kind == "shop":
            grant = self._access.get(access_token)
            if grant is None or grant.shop_id != shop_id or now >= grant.expires_at:
                raise ShopeeError(INVALID_TOKEN_ERROR, INVALID_TOKEN_MESSAGE)
            shop = self.shops[shop_id]
        body: dict[str, Any] = {}
        content_type = request.headers.get("content-type", "")
        if request.method == "POST" and content_type.startswith("multipart/form-data"):
            form, files = parse_multipart(content_type, await request.body())
            return _Call(query=query, body={}, now=now, shop=shop, form=form, files=files)
        if request.method == "POST":
            try:
                parsed = json.loads(await request.body() or b"{}")
            except ValueError:
                raise ShopeeError(
                    "error_param", "The request body is not a valid json format"
                ) from None
            if not isinstance(parsed, dict):
                raise ShopeeError("error_param", "The request body is not a valid json format")
            body = parsed
        return _Call(query=query, body=body, now=now, shop=shop)

    def _common(self, query: QueryParams, now: float) -> tuple[int, int]:
        raw_partner = query.get("partner_id")
        if not raw_partner:
            raise ShopeeError("error_param", "There is no partner_id in query.")
        partner_id = _uint(raw_partner)
        if partner_id != PARTNER_ID:
            raise ShopeeError("error_param", "Invalid partner_id.")
        raw_timestamp = query.get("timestamp")
        if not raw_timestamp:
            raise ShopeeError("error_param", "no timestamp")
        timestamp = _uint(raw_timestamp)
        if timestamp is None:
            raise ShopeeError("error_param", "Invalid timestamp")
        if timestamp < now - TIMESTAMP_TOLERANCE:
            raise ShopeeError("error_param", "Timestamp is expired.")
        if timestamp > now + TIMESTAMP_TOLERANCE:
            raise ShopeeError("error_param", "Invalid timestamp")
        return partner_id, timestamp

    def _rate_limited(self, wait: float) -> ShopeeError:
        return ShopeeError(
            "error_rate_limit",
            "Too many requests. You have reached the rate limit. Please try again later.",
            status=429,
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )

    def _request_id(self) -> str:
        seed = f"{self.world.seed}:request:{next(self._counter)}"
        return hashlib.blake2b(seed.encode(), digest_size=16).hexdigest()

    def _new_token(self, kind: str) -> str:
        # 32 hex characters like live tokens, from the seed so a run can be replayed.
        seed = f"{self.world.seed}:{kind}:{next(self._counter)}"
        return hashlib.blake2b(seed.encode(), key=PARTNER_KEY.encode(), digest_size=16).hexdigest()

    @staticmethod
    def _dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def _envelope(self, request_id: str, reply: Reply) -> bytes:
        if reply.flat is not None:
            return self._dumps(
                {**reply.flat, "request_id": request_id, "error": "", "message": ""}
            ).encode()
        head = f'{{"request_id":"{request_id}","error":"","message":""'
        if reply.warning is not None:
            head += f',"warning":{self._dumps(reply.warning)}'
        response = (
            reply.response if isinstance(reply.response, str) else self._dumps(reply.response)
        )
        return f'{head},"response":{response}}}'.encode()

    def _error(self, request_id: str, exc: ShopeeError) -> Response:
        body = {"request_id": request_id, "error": exc.error, "message": exc.message}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    async def _unknown_path(self, request: Request) -> Response:
        return self._error(
            self._request_id(),
            ShopeeError(
                "error_param",
                "Permission denied. This API is currently offline or the request path is "
                "incorrect.",
                status=404,
            ),
        )

    # --- authorization -----------------------------------------------------------------------

    async def _auth_partner(self, request: Request) -> Response:
        request_id = self._request_id()
        try:
            call = await self._admit(request, "/api/v2/shop/auth_partner", "public")
            redirect = call.query.get("redirect", "")
            registered = urlsplit(REDIRECT_URL)
            target = urlsplit(redirect)
            if (target.scheme, target.netloc) != (registered.scheme, registered.netloc):
                raise _param_error("redirect does not match the app's registered domain")
            shop = self._consenting_shop(call.query.get("shop_id"))
        except ShopeeError as exc:
            return self._error(request_id, exc)
        code = self._new_token("code")
        self._codes[code] = _Code(shop.shop_id, call.now + CODE_TTL)
        joiner = "&" if target.query else "?"
        location = f"{redirect}{joiner}{urlencode({'code': code, 'shop_id': shop.shop_id})}"
        return RedirectResponse(location, status_code=302)

    def _consenting_shop(self, raw: str | None) -> _Shop:
        if raw is None:
            if not self.shops:
                raise _param_error("no Shopee shop in this sandbox")
            return next(iter(self.shops.values()))
        shop = self.shops.get(_uint(raw) or -1)
        if shop is None:
            raise ShopeeError("error_param", "Shop_id is not found.")
        return shop

    def _body_shop_id(self, body: dict[str, Any]) -> int:
        if body.get("partner_id") != PARTNER_ID:
            raise _param_error("partner_id in body must be the partner_id of the query")
        shop_id = body.get("shop_id")
        if not isinstance(shop_id, int) or isinstance(shop_id, bool):
            raise _param_error("shop_id is required")
        return shop_id

    def _issue(self, shop_id: int, now: float, authorized_until: float) -> tuple[str, str]:
        access = self._new_token("access")
        refresh = self._new_token("refresh")
        self._access[access] = _AccessGrant(shop_id, now + ACCESS_TOKEN_TTL)
        self._refresh[refresh] = _RefreshGrant(
            shop_id, now + REFRESH_TOKEN_TTL, access, authorized_until
        )
        return access, refresh

    def _token_get(self, call: _Call) -> Reply:
        shop_id = self._body_shop_id(call.body)
        code = call.body.get("code")
        grant = self._codes.get(code) if isinstance(code, str) else None
        if not isinstance(code, str) or grant is None or call.now >= grant.expires_at:
            raise ShopeeError(
                "invalid_code", "The code is expired or used or invalid, please check the code."
            )
        if grant.shop_id != shop_id:
            raise ShopeeError(
                "invalid_shop_id",
                "The code or shop_id is wrong, please check the code or the shop_id.",
            )
        del self._codes[code]
        access, refresh = self._issue(shop_id, call.now, call.now + AUTHORIZATION_TTL)
        return Reply(
            flat={"access_token": access, "refresh_token": refresh, "expire_in": ACCESS_TOKEN_TTL}
        )

    def _token_refresh(self, call: _Call) -> Reply:
        shop_id = self._body_shop_id(call.body)
        token = call.body.get("refresh_token")
        grant = self._refresh.get(token) if isinstance(token, str) else None
        if not isinstance(token, str) or grant is None:
            raise ShopeeError("error_auth", "Invalid refresh_token.")
        if grant.shop_id != shop_id:
            raise ShopeeError(
                "error_shop_refresh_token",
                "Your refresh token is error ,please check refresh token or shopid.",
            )
        if call.now >= grant.authorized_until:
            raise ShopeeError("shop_access_expired", "Your access to shop has expired.")
        if call.now >= grant.expires_at:
            raise ShopeeError("refresh_token_expired", "Your refresh_token expired.")
        del self._refresh[token]
        previous = self._access.get(grant.access_token)
        if previous is not None:
            previous.expires_at = min(previous.expires_at, call.now + PREVIOUS_TOKEN_GRACE)
        access, refresh = self._issue(shop_id, call.now, grant.authorized_until)
        return Reply(
            flat={
                "partner_id": PARTNER_ID,
                "shop_id": shop_id,
                "access_token": access,
                "refresh_token": refresh,
                "expire_in": ACCESS_TOKEN_TTL,
            }
        )

    # --- products --------------------------------------------------------------------------

    def _get_item_list(self, call: _Call) -> Reply:
        shop = call.the_shop
        offset = _int_param(call.query, "offset")
        page_size = _int_param(call.query, "page_size")
        if offset < 0:
            raise _param_error("offset should be >= 0")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise _param_error(f"page_size should be between 1 and {MAX_PAGE_SIZE}")
        statuses = call.query.getlist("item_status")
        if not statuses:
            raise _param_error("item_status is required")
        if any(status not in ITEM_STATUSES for status in statuses):
            raise ShopeeError("error_param_item_status", "Item status error.")
        time_from = _int_param(call.query, "update_time_from", required=False)
        time_to = _int_param(call.query, "update_time_to", required=False)
        if time_from is not None and time_to is not None and time_to < time_from:
            raise ShopeeError(
                "error_update_time_range", "Update_time_to should be later than update_time_from."
            )
        matching = []
        for listing in shop.listings:
            updated = shop.update_time(listing)
            if self.catalog.item_status(listing) not in statuses:
                continue
            if (time_from is not None and updated < time_from) or (
                time_to is not None and updated > time_to
            ):
                continue
            matching.append(
                {
                    "item_id": item_id_of(listing),
                    "item_status": self.catalog.item_status(listing),
                    "update_time": updated,
                    "tag": {"kit": self.catalog.product_of(listing.variations[0]).is_kit},
                }
            )
        for created in self.writes.shop_items(shop.shop_id):
            if created.status not in statuses:
                continue
            if (time_from is not None and created.update_time < time_from) or (
                time_to is not None and created.update_time > time_to
            ):
                continue
            matching.append(
                {
                    "item_id": created.item_id,
                    "item_status": created.status,
                    "update_time": created.update_time,
                    "tag": {"kit": False},
                }
            )
        page = matching[offset : offset + page_size]
        return Reply(
            {
                "item": page,
                "total_count": len(matching),
                "has_next_page": offset + len(page) < len(matching),
                "next_offset": offset + len(page),
            },
            warning="",
        )

    def _get_item_base_info(self, call: _Call) -> Reply:
        shop = call.the_shop
        ids = _id_list(call.query, "item_id_list", MAX_ITEM_IDS)
        items = []
        for item_id in dict.fromkeys(ids):
            listing = shop.items.get(item_id)
            if listing is not None:
                items.append(self.catalog.item_base_info(listing, shop.update_time(listing)))
            elif (created := self.writes.item(shop.shop_id, item_id)) is not None:
                items.append(self.writes.base_info(created))
        return Reply({"item_list": items}, warning="")

    def _listing(self, shop: _Shop, item_id: int) -> Listing:
        listing = shop.items.get(item_id)
        if listing is None:
            raise ShopeeError("error_item_not_found", "Item_id is not found.")
        return listing

    def _get_model_list(self, call: _Call) -> Reply:
        shop = call.the_shop
        item_id = _int_param(call.query, "item_id")
        created = self.writes.item(shop.shop_id, item_id)
        if created is not None:
            return Reply(self.writes.model_list(created), warning="")
        listing = self._listing(shop, item_id)
        return Reply(self.catalog.model_list(listing), warning="")

    def _update_stock(self, call: _Call) -> Reply:
        shop = call.the_shop
        item_id = call.body.get("item_id")
        if not isinstance(item_id, int) or isinstance(item_id, bool):
            raise _param_error("item_id is required")
        created = self.writes.item(shop.shop_id, item_id)
        listing = self._listing(shop, item_id) if created is None else None
        stock_list = call.body.get("stock_list")
        if not isinstance(stock_list, list) or not 1 <= len(stock_list) <= MAX_STOCK_ENTRIES:
            raise _param_error(f"stock_list length should be between 1 and {MAX_STOCK_ENTRIES}")
        entries: list[tuple[int, list[Any]]] = []
        for entry in stock_list:
            if not isinstance(entry, dict):
                raise _param_error("stock_list entries must be objects")
            model_id = entry.get("model_id", 0)
            seller_stock = entry.get("seller_stock")
            if (
                not isinstance(model_id, int)
                or not isinstance(seller_stock, list)
                or not seller_stock
            ):
                raise _param_error("model_id must be an integer and seller_stock a non-empty list")
            for slot in seller_stock:
                stock = slot.get("stock") if isinstance(slot, dict) else None
                if not isinstance(stock, int) or isinstance(stock, bool) or stock < 0:
                    raise ShopeeError(
                        "error_param",
                        "Parameter is not match the constraints, stock should be an integer >= 0.",
                    )
            entries.append((model_id, seller_stock))
        if len({model_id for model_id, _ in entries}) != len(entries):
            raise ShopeeError("error_param", "Repeat model_id.")
        if created is not None:
            return self._update_created_stock(shop, created, entries)
        assert listing is not None
        models = {v.variation_number: v for v in listing.variations}
        success: list[dict[str, Any]] = []
        failure: list[dict[str, Any]] = []
        now = self.clock.now()
        with self._lock:
            for model_id, seller_stock in entries:
                variation, reason = self._stock_target(listing, models, model_id, seller_stock)
                if variation is None:
                    failure.append({"model_id": model_id, "failed_reason": reason})
                    continue
                stock = seller_stock[0]["stock"]
                variation.available_quantity = stock
                self.stock_writes.append(
                    StockWrite(shop.shop_id, item_id, model_id, LOCATION_ID, stock, now)
                )
                success.append({"model_id": model_id, "location_id": LOCATION_ID, "stock": stock})
            if success:
                shop.item_updated[item_id] = ts(now)
        return Reply({"failure_list": failure, "success_list": success}, warning="")

    def _update_created_stock(
        self, shop: _Shop, created: Any, entries: list[tuple[int, list[Any]]]
    ) -> Reply:
        success: list[dict[str, Any]] = []
        failure: list[dict[str, Any]] = []
        now = self.clock.now()
        with self._lock:
            for model_id, seller_stock in entries:
                location = seller_stock[0].get("location_id", LOCATION_ID)
                stock = seller_stock[0]["stock"]
                reason = (
                    "The location_id input is not matched the shop's location_id(more/wrong). "
                    "Please double check."
                    if len(seller_stock) > 1 or location != LOCATION_ID
                    else self.writes.set_stock(created, model_id, stock)
                )
                if reason:
                    failure.append({"model_id": model_id, "failed_reason": reason})
                    continue
                self.stock_writes.append(
                    StockWrite(shop.shop_id, created.item_id, model_id, LOCATION_ID, stock, now)
                )
                success.append({"model_id": model_id, "location_id": LOCATION_ID, "stock": stock})
            if success:
                created.update_time = ts(now)
        return Reply({"failure_list": failure, "success_list": success}, warning="")

    @staticmethod
    def _stock_target(
        listing: Listing,
        models: dict[int, ListingVariation],
        model_id: int,
        seller_stock: list[dict[str, Any]],
    ) -> tuple[ListingVariation | None, str]:
        if len(seller_stock) > 1 or seller_stock[0].get("location_id", LOCATION_ID) != LOCATION_ID:
            return None, (
                "The location_id input is not matched the shop's location_id(more/wrong). "
                "Please double check."
            )
        if not listing.has_variations:
            if model_id != 0:
                return None, "Wrong model_id."
            return listing.variations[0], ""
        if model_id == 0:
            return None, "Can't to edit item stock directly while item has models."
        variation = models.get(model_id)
        return (variation, "") if variation is not None else (None, "Wrong model_id.")

    def _language(self, query: QueryParams) -> str:
        language = query.get("language", "en").lower()
        if language not in LANGUAGES:
            raise ShopeeError("error_invalid_language", "Invalid language.")
        return language

    def _get_category(self, call: _Call) -> Reply:
        language = self._language(call.query)
        return Reply({"category_list": self.catalog.categories.render_list(language)}, warning="")

    def _get_attribute_tree(self, call: _Call) -> Reply:
        language = self._language(call.query)
        ids = _id_list(call.query, "category_id_list", MAX_CATEGORY_IDS)
        tree = self.catalog.categories
        unknown = [cid for cid in ids if cid not in tree.by_id or tree.by_id[cid].has_children]
        if unknown:
            raise ShopeeError(
                "error_invalid_category", f"Invalid category ID {','.join(map(str, unknown))}"
            )
        return Reply(
            {
                "list": [
                    {
                        "category_id": cid,
                        "attribute_tree": tree.render_attribute_tree(tree.by_id[cid], language),
                        "warning": "",
                    }
                    for cid in ids
                ]
            },
            warning="",
        )

    def _category_recommend(self, call: _Call) -> Reply:
        item_name = call.query.get("item_name", "").strip()
        if not item_name:
            raise _param_error("item_name is required")
        return Reply({"category_id": self.catalog.categories.recommend(item_name)}, warning="")

    # --- orders ----------------------------------------------------------------------------

    def _order_index(self, shop: _Shop) -> _OrderIndex:
        with self._lock:
            if shop.orders is None:
                shop.orders = _OrderIndex(self.world.orders_of(shop.seller))
            return shop.orders

    def _get_order_list(self, call: _Call) -> Reply:
        shop = call.the_shop
        query = call.query
        field_name = query.get("time_range_field")
        if field_name not in ("create_time", "update_time"):
            raise _param_error("time_range_field should be create_time or update_time")
        time_from = _int_param(query, "time_from")
        time_to = _int_param(query, "time_to")
        if time_to < time_from or time_to - time_from > MAX_ORDER_WINDOW:
            raise ShopeeError(
                "order.order_list_invalid_time",
                "Start time must be earlier than end time and diff in 15days.",
            )
        page_size = _int_param(query, "page_size")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise _param_error(f"page_size should be between 1 and {MAX_PAGE_SIZE}")
        status = query.get("order_status") or None
        if status is not None and status not in ORDER_STATUSES:
            raise _param_error("order_status is invalid")
        with_status = "order_status" in _fields(query)
        index = self._order_index(shop)
        with self._lock:
            page, next_cursor = index.page(
                field_name,
                (time_from, time_to),
                int(call.now),
                status,
                query.get("cursor", ""),
                page_size,
            )
            rows = []
            for order, step in page:
                row = {"order_sn": index.sn(order)}
                if with_status:
                    row["order_status"] = SHOPEE_STATUS[order.timeline[step][0]]
                rows.append(row)
        return Reply({"more": bool(next_cursor), "next_cursor": next_cursor, "order_list": rows})

    def _order_sns(self, query: QueryParams, name: str, limit: int) -> list[str]:
        sns = list(dict.fromkeys(s.strip() for s in query.get(name, "").split(",") if s.strip()))
        if not 1 <= len(sns) <= limit:
            raise _param_error(f"{name} should contain 1 to {limit} order_sn")
        return sns

    def _get_order_detail(self, call: _Call) -> Reply:
        shop = call.the_shop
        sns = self._order_sns(call.query, "order_sn_list", MAX_ORDER_SNS)
        fields = tuple(sorted(_fields(call.query) & OPTIONAL_ORDER_FIELDS))
        index = self._order_index(shop)
        fragments = []
        missing = []
        now = int(call.now)
        with self._lock:
            for sn in sns:
                found = index.find(sn, now)
                if found is None:
                    missing.append(sn)
                    continue
                order, step = found
                fragments.append(self._detail_json(order, step, sn, fields))
        if not fragments:
            raise ShopeeError(
                "error_not_found", "Wrong parameters, detail: the order is not found."
            )
        warning = [f"order_sn {sn} is not found" for sn in missing] or None
        return Reply('{"order_list":[' + ",".join(fragments) + "]}", warning=warning)

    def _detail_json(self, order: Order, step: int, sn: str, fields: tuple[str, ...]) -> str:
        if self.writes.touches(order):  # the seller's invoice or shipment: not cacheable
            rendered = self.orders_render.detail(order, step, sn, fields)
            return self._dumps(self.writes.overlay(order, step, rendered))
        # A rendering only changes with the order's status step, so it is cached by it.
        key = (order.order_number, step, fields)
        cached = self._detail_cache.get(key)
        if cached is None:
            cached = self._dumps(self.orders_render.detail(order, step, sn, fields))
            if len(self._detail_cache) >= _DETAIL_CACHE_SIZE:
                del self._detail_cache[next(iter(self._detail_cache))]
            self._detail_cache[key] = cached
        return cached

    def _get_escrow_detail(self, call: _Call) -> Reply:
        shop = call.the_shop
        sn = call.query.get("order_sn", "").strip()
        if not sn:
            raise ShopeeError(
                "error_param",
                "Missing order_sn. Please include a valid order_sn to get escrow details.",
            )
        with self._lock:
            found = self._order_index(shop).find(sn, int(call.now))
        if found is None:
            raise ShopeeError(
                "order_not_found",
                "Order SN provided is invalid or does not belong to you. "
                "Please enter a valid Order SN.",
            )
        order, step = found
        return Reply(self.orders_render.escrow(order, step, sn))

    def _get_escrow_detail_batch(self, call: _Call) -> Reply:
        """Up to 50 orders' escrow in one POST. An order_sn the shop does not have gets an
        entry of its own with `fail_error`, as the doc's error example shows."""
        shop = call.the_shop
        raw = call.body.get("order_sn_list")
        if not isinstance(raw, list) or not all(isinstance(sn, str) for sn in raw):
            raise _param_error("order_sn_list is required, format should be string[]")
        sns = list(dict.fromkeys(sn.strip() for sn in raw if sn.strip()))
        if not sns:
            raise _param_error("order_sn_list is required, format should be string[]")
        if len(sns) > MAX_ORDER_SNS:
            raise ShopeeError(
                "exceed_max_limit", "Your request exceeds the max limit of 50 orders."
            )
        index = self._order_index(shop)
        entries: list[dict[str, Any]] = []
        with self._lock:
            for sn in sns:
                found = index.find(sn, int(call.now))
                if found is None:
                    entries.append(
                        {
                            "escrow_detail": {"order_sn": sn, "return_order_sn_list": []},
                            "fail_error": "order_not_found",
                            "fail_message": "The order info not found.",
                        }
                    )
                    continue
                order, step = found
                entries.append({"escrow_detail": self.orders_render.escrow(order, step, sn)})
        return Reply(entries)

    def _releases(self, shop: _Shop) -> list[tuple[int, int]]:
        with self._lock:
            if shop.releases is None:
                index = self._order_index(shop)
                shop.releases = sorted(
                    (released, number)
                    for number, order in index.by_number.items()
                    if (released := release_time(order)) is not None
                )
            return shop.releases

    def _get_escrow_list(self, call: _Call) -> Reply:
        """Orders whose escrow was released in [release_time_from, release_time_to] (and by
        now), oldest release first, paged by page_no."""
        shop = call.the_shop
        query = call.query
        try:
            time_from = int(query["release_time_from"])
            time_to = int(query["release_time_to"])
        except (KeyError, ValueError):
            raise ShopeeError(
                "error_param",
                "release_time_from and/or release_time_to parameter is missing or invalid. "
                "Please provide both a valid start date, and end date to query.",
            ) from None
        if time_from > time_to:
            raise ShopeeError(
                "error_param",
                "release_time_from and/or release_time_to parameter is invalid. Please provide "
                "both a valid start date, and end date to query where start date cannot be "
                "later than the end date.",
            )
        page_size = query.get("page_size") or str(ESCROW_LIST_PAGE_DEFAULT)
        page_no = query.get("page_no") or "1"
        if not page_size.isdigit() or not 1 <= int(page_size) <= MAX_PAGE_SIZE:
            raise ShopeeError(
                "error_param",
                "Invalid page_size parameter. Please provide a valid value between 1 and 100. "
                "If left empty, the default value of 40 will be applied.",
            )
        if not page_no.isdigit() or int(page_no) < 1:
            raise _param_error("page_no should be an integer >= 1")
        size, number = int(page_size), int(page_no)
        releases = self._releases(shop)
        last = min(time_to, int(call.now))
        lo = bisect_left(releases, (time_from, -1))
        hi = bisect_right(releases, (last, _MAX))
        chosen = releases[lo:hi][(number - 1) * size : number * size]
        index = self._order_index(shop)
        rows = []
        with self._lock:
            for released, order_number in chosen:
                order = index.by_number[order_number]
                rows.append(
                    {
                        "order_sn": index.sn(order),
                        "payout_amount": self.orders_render.released_payout(
                            order, index.step_at(order_number, released)
                        ),
                        "escrow_release_time": released,
                    }
                )
        return Reply({"more": lo + number * size < hi, "escrow_list": rows})

    def _shop_order(self, call: _Call, sn: str) -> tuple[Order, int]:
        if not sn:
            raise _param_error("order_sn is required")
        with self._lock:
            found = self._order_index(call.the_shop).find(sn, int(call.now))
        if found is None:
            raise ShopeeError("logistics.invalid_error", "The order is not exist.")
        return found

    def _package(self, order: Order, number: str | None) -> Package:
        """The order's package by number; a split order needs the number to say which."""
        packages = packages_of(order)
        if number is None:
            if len(packages) > 1:
                raise ShopeeError(
                    "logistics.package_number_not_exist",
                    "Please request with package_number for this split order.",
                )
            return packages[0]
        for package in packages:
            if package.number == number:
                return package
        raise ShopeeError("logistics.package_not_exist", "The package is not exist.")

    def _get_tracking_number(self, call: _Call) -> Reply:
        order, step = self._shop_order(call, call.query.get("order_sn", "").strip())
        package = self._package(order, call.query.get("package_number") or None)
        answer = {"tracking_number": self._tracking(order, step, package)}
        answer |= {name: "" for name in TRACKING_OPTIONAL_FIELDS if name in _fields(call.query)}
        return Reply(answer)

    def _tracking(self, order: Order, step: int, package: Package) -> str:
        """The seller's tracking number once it arranged the package, else Shopee's from
        pickup on."""
        arranged = self.writes.tracking_of(order, package)
        if arranged is not None:
            return arranged
        return tracking_number(order, package) if has_tracking(order, step) else ""

    def _get_mass_tracking_number(self, call: _Call) -> Reply:
        """Tracking numbers of up to 50 packages (POST); unknown ones go to fail_list."""
        shop = call.the_shop
        numbers = self._package_numbers(call.body.get("package_list"))
        # The optional fields are a comma list, like the other logistics calls' query.
        wanted = _fields(call.query) | {
            f.strip() for f in str(call.body.get("response_optional_fields", "")).split(",")
        }
        success, failure = [], []
        index = self._order_index(shop)
        with self._lock:
            for number in numbers:
                found = self._owned_package(index, number, int(call.now))
                if found is None:
                    failure.append(
                        {"package_number": number, "fail_reason": "The package is not exist."}
                    )
                    continue
                order, step, package = found
                entry = {
                    "package_number": number,
                    "tracking_number": self._tracking(order, step, package),
                    "first_mile_tracking_number": "",
                    "hint": "",
                    "pickup_code": "",
                }
                entry |= {name: "" for name in TRACKING_OPTIONAL_FIELDS if name in wanted}
                success.append(entry)
        return Reply({"fail_list": failure, "success_list": success})

    @staticmethod
    def _package_numbers(raw: Any) -> list[str]:
        if not isinstance(raw, list) or not raw:
            raise _param_error("package_list is required")
        if len(raw) > MAX_PACKAGES:
            raise ShopeeError("logistics.error_param", "Package exceeds limit.")
        numbers = [e.get("package_number") if isinstance(e, dict) else None for e in raw]
        valid = [n for n in numbers if isinstance(n, str) and n]
        if len(valid) != len(numbers):
            raise _param_error("package_number is required")
        if len(set(valid)) != len(valid):
            raise ShopeeError("logistics.error_param", "Duplicate package number")
        return valid

    def _owned_package(
        self, index: _OrderIndex, number: str, now: int
    ) -> tuple[Order, int, Package] | None:
        owner = package_owner(number)
        order = index.by_number.get(owner[0]) if owner else None
        if order is None or owner is None:
            return None
        step = index.step_at(order.order_number, now)
        packages = packages_of(order)
        if step < 0 or owner[1] >= len(packages):
            return None
        return order, step, packages[owner[1]]

    def _get_tracking_info(self, call: _Call) -> Reply:
        order, step = self._shop_order(call, call.query.get("order_sn", "").strip())
        package = self._package(order, call.query.get("package_number") or None)
        if "paid" not in dict(order.timeline[: step + 1]):
            raise ShopeeError(
                "logistics.error_status_limit",
                "The order status is invalid. Please check the order status.",
            )
        return Reply(
            {
                "order_sn": call.query.get("order_sn", "").strip(),
                "package_number": package.number,
                "logistics_status": logistics_status(order, step),
                "tracking_info": tracking_events(order, step),
            }
        )

    def _get_item_violation_info(self, call: _Call) -> Reply:
        shop = call.the_shop
        raw = [p.strip() for p in call.query.get("item_id_list", "").split(",") if p.strip()]
        if not raw:
            raise _param_error("The item_id_list is required")
        if len(raw) > MAX_VIOLATION_ITEMS:
            raise ShopeeError("error_param", "Request items over limit, should be less than 50")
        if not all(p.isdigit() for p in raw):
            raise ShopeeError("error_param", "Invalid request item_id")
        items = []
        for item_id in dict.fromkeys(int(p) for p in raw):
            listing = shop.items.get(item_id)
            created = self.writes.item(shop.shop_id, item_id)
            if created is not None:
                items.append(
                    {
                        "item_id": item_id,
                        "item_name": created.item_name,
                        "item_status": created.status,
                        "deboost": False,
                        "item_status_details": [],
                        "deboost_details": [],
                    }
                )
                continue
            if listing is None:
                items.append(
                    {
                        "item_id": item_id,
                        "fail_error": "error_item_not_found",
                        "fail_message": "Item_id is not found.",
                    }
                )
                continue
            violation = self.catalog.violation(listing)
            details = []
            if violation is not None:
                kind, reason, suggestion = violation
                details.append(
                    {
                        "violation_type": kind,
                        "violation_reason": reason,
                        "suggestion": suggestion,
                        "fix_deadline_time": 0,
                        "update_time": shop.update_time(listing),
                    }
                )
            items.append(
                {
                    "item_id": item_id,
                    "item_name": listing.title,
                    "item_status": self.catalog.item_status(listing),
                    "deboost": False,
                    "item_status_details": details,
                    "deboost_details": [],
                }
            )
        return Reply({"item_list": items}, warning="")

    # --- sandbox-only ----------------------------------------------------------------------

    def record_sale(self, item_id: int, model_id: int, quantity: int) -> Order:
        """A buyer pays for `quantity` of a model now: a paid order appears and stock drops."""
        with self._lock:
            shop = next((s for s in self.shops.values() if item_id in s.items), None)
            if shop is None:
                raise ValueError(f"unknown Shopee item {item_id}")
            listing = shop.items[item_id]
            models = {v.variation_number: v for v in listing.variations}
            variation = (
                listing.variations[0] if not listing.has_variations else models.get(model_id)
            )
            if variation is None or (not listing.has_variations and model_id != 0):
                raise ValueError(f"item {item_id} has no model {model_id}")
            if quantity < 1 or quantity > variation.available_quantity:
                raise ValueError(
                    f"cannot sell {quantity}; model {model_id} has {variation.available_quantity}"
                )
            index = self._order_index(shop)
            number = max(index.by_number, default=0) + 1
            rng = random.Random(f"{self.world.seed}:shopee-sale:{number}")
            city, state = rng.choice(_SALE_CITIES)
            buyer_id = rng.randrange(100_000_000, 999_999_999)
            now = self.clock.now().replace(microsecond=0)
            order = Order(
                order_number=number,
                seller=shop.seller,
                lines=(
                    OrderLine(
                        listing_number=listing.listing_number,
                        variation_number=variation.variation_number,
                        sku=variation.sku,
                        title=listing.title,
                        quantity=quantity,
                        unit_price=variation.price,
                    ),
                ),
                buyer=Buyer(
                    buyer_id=buyer_id,
                    nickname=f"COMPRADOR{buyer_id % 100000}",
                    first_name=rng.choice(("Ana", "Bruno", "Carla", "Diego")),
                    last_name=rng.choice(("Silva", "Souza", "Lima", "Costa")),
                    city=city,
                    state=state,
                ),
                shipping_cost=Decimal("0"),
                timeline=[("pending", now), ("paid", now)],
            )
            self.world.orders.append(order)
            index.add(order)
            shop.releases = None
            variation.available_quantity -= quantity
            shop.item_updated[item_id] = ts(now)
            self.world.order_created(order)
            return order

    def on_order_changed(self, change: OrderChange) -> None:
        """World listener: re-index an order whose timeline changed at runtime."""
        order = change.order
        if change.kind != "status" or order.seller.marketplace != self.name:
            return
        with self._lock:
            shop = self.shops[int(order.seller.seller_id)]
            if shop.orders is not None:
                shop.orders.restep(order)
            shop.releases = None  # a delivery or a return moves the escrow's release
            if change.status == "cancelled":  # a cancelled runtime sale restocked its model
                for line in order.lines:
                    listing = self.world.listings_by_number[line.listing_number]
                    shop.item_updated[item_id_of(listing)] = ts(change.at)

    async def _sales(self, request: Request) -> Response:
        try:
            body = await request.json()
            order = self.record_sale(
                int(body["item_id"]), int(body.get("model_id", 0)), int(body.get("quantity", 1))
            )
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        with self._lock:
            sn = self._order_index(self.shops[int(order.seller.seller_id)]).sn(order)
        return JSONResponse(
            {
                "order_sn": sn,
                "order_number": order.order_number,
                "create_time": ts(order.created_at),
            }
        )


def _uint(raw: str) -> int | None:
    """A 32-bit unsigned integer, as Shopee's common parameters must be."""
    if not raw.isdigit():
        return None
    value = int(raw)
    return value if value <= 4_294_967_295 else None


def _int_param(query: QueryParams, name: str, required: bool = True) -> Any:
    raw = query.get(name)
    if raw is None or raw == "":
        if required:
            raise _param_error(f"{name} is required")
        return None
    try:
        return int(raw)
    except ValueError:
        raise _param_error(f"{name} should be an integer") from None


def _id_list(query: QueryParams, name: str, limit: int) -> list[int]:
    parts = [p.strip() for raw in query.getlist(name) for p in raw.split(",") if p.strip()]
    if not 1 <= len(parts) <= limit:
        raise _param_error(f"{name} length should be between 1 and {limit}")
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise _param_error(f"{name} should be a list of integers") from None


def _fields(query: QueryParams) -> set[str]:
    raw = query.get("response_optional_fields", "")
    return {f.strip() for f in raw.split(",") if f.strip()}
