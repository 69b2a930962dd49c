"""Mercado Livre (MLB) API simulator: OAuth, items, stock writes, orders, shipments and
their costs, the sellers' Mercado Pago payments, questions and categories.

Behaves like api.mercadolibre.com as documented in API-NOTES §1 and API-NOTES-MONEY §1:
single-use refresh tokens, bearer-header-only auth, the items offset reach of 1000 and its
scan/scroll_id escape, orders/search with `limit` ≤ 51 and an offset reach of 10,000
(clients must narrow the date window), `/shipments/{id}` in the legacy shape or, with
`x-format-new: true`, the documented new one, questions/search with `limit` ≤ 50 and an
offset reach of 1000, ML's error body `{"message","error","status","cause"}` on every
error, and a per-app token bucket. Mercado Pago's `GET /v1/payments/{id}` (its own host in
production) is served under `/mercadopago`. Everything it shows comes from the sandbox
World, as of the sandbox clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import math
import random
import secrets
import threading
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from synchub_pipelines.sandbox.mercadolivre_fulfilment import FulfilmentDesk
from synchub_pipelines.sandbox.mercadolivre_items import ItemDesk, Refusal
from synchub_pipelines.sandbox.mercadolivre_render import (
    MARKETPLACE,
    ML_ORDER_STATUSES,
    BookQuestion,
    CategoryTree,
    MLCategory,
    QuestionBook,
    Renderer,
    dumps,
    item_id,
    order_number_of_payment,
    order_number_of_shipment,
    order_status,
)
from synchub_pipelines.sandbox.world import Buyer, Listing, Order, OrderChange, OrderLine, Seller

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.server import Sandbox

APP_ID = "5501234567890123"
APP_SECRET = "sandbox-ml-client-secret"  # noqa: S105 - the sandbox app's published secret
REDIRECT_URI = "https://localhost:8787/synchub/callback/mercadolivre"

ACCESS_TOKEN_TTL = 21_600
REFRESH_TOKEN_TTL = 180 * 86_400
CODE_TTL = 600
SCROLL_TTL = 300
ITEMS_LIMIT_MAX = 100
ITEMS_OFFSET_REACH = 1000
MULTIGET_MAX = 20
ORDERS_LIMIT_MAX = 51
ORDERS_OFFSET_REACH = 10_000
QUESTIONS_LIMIT_MAX = 50
QUESTIONS_OFFSET_REACH = 1000
QUESTION_STATUSES = frozenset(
    {
        "ANSWERED",
        "BANNED",
        "CLOSED_UNANSWERED",
        "DELETED",
        "DISABLED",
        "UNANSWERED",
        "UNDER_REVIEW",
    }
)
ANSWER_MAX_LENGTH = 2000
DEFAULT_RATE = 500.0


class MLError(Exception):
    """An error answered in ML's envelope."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        cause: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.cause = cause or []
        self.headers = headers

    def response(self) -> Response:
        body = {"message": self.message, "error": self.error, "status": self.status}
        return _json({**body, "cause": self.cause}, self.status, self.headers)


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return _raw(dumps(value), status, headers)


def _raw(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _bad_request(message: str, cause: list[Any] | None = None) -> MLError:
    return MLError(400, "bad_request", message, cause)


def _answer_cause(code: str, message: str) -> dict[str, Any]:
    return {
        "department": "questions",
        "cause_id": 300 + len(code),
        "type": "error",
        "code": code,
        "references": ["answer"],
        "message": message,
    }


def _forbidden() -> MLError:
    return MLError(403, "forbidden", "caller.id does not have permission over this resource")


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_request(f"Invalid value for parameter {name}: {raw!r}") from None
    if value < 0:
        raise _bad_request(f"Parameter {name} must not be negative")
    return value


def _date_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _bad_request(f"Invalid date for {name}: {raw!r}; use ISO-8601 with offset") from None
    if moment.tzinfo is None:
        # A date without offset is ambiguous between UTC and local time: refuse it.
        raise _bad_request(f"Date {name} must carry a UTC offset, got {raw!r}")
    return moment.timestamp()


@dataclass(frozen=True)
class App:
    client_id: str
    secret: str
    redirect_uris: frozenset[str]


@dataclass(frozen=True)
class Caller:
    client_id: str
    user_id: int


@dataclass
class _Grant:
    client_id: str
    user_id: int
    redirect_uri: str
    expires_at: float
    challenge: str | None
    challenge_method: str | None


@dataclass
class _Token:
    client_id: str
    user_id: int
    expires_at: float


@dataclass
class _Scroll:
    user_id: int
    ids: list[str]
    position: int
    limit: int
    expires_at: float


@dataclass
class _SellerOrders:
    """One seller's orders in (date_created, id) order, with float instants for bisect."""

    orders: list[Order] = field(default_factory=list)
    created: list[float] = field(default_factory=list)
    steps: list[tuple[float, ...]] = field(default_factory=list)
    max_span: float = 0.0  # longest created → last step, bounds last_updated searches
    version: int = 0

    def add(self, order: Order) -> None:
        steps = tuple(when.timestamp() for _, when in order.timeline)
        at = bisect_right(self.created, steps[0])
        self.orders.insert(at, order)
        self.created.insert(at, steps[0])
        self.steps.insert(at, steps)
        self.max_span = max(self.max_span, steps[-1] - steps[0])
        self.version += 1


def _step_at(steps: tuple[float, ...], now: float) -> int:
    index = 0
    for i, when in enumerate(steps):
        if when > now:
            break
        index = i
    return index


def _pkce_ok(verifier: str | None, challenge: str, method: str | None) -> bool:
    if verifier is None:
        return False
    if (method or "plain") == "plain":
        return secrets.compare_digest(verifier, challenge)
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return secrets.compare_digest(expected, challenge)


Handler = Callable[[Request, Caller | None], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
Auth = Literal["required", "optional", "none"]


class Simulator:
    """The Mercado Livre API over the sandbox World, mounted at /mercadolivre."""

    name = MARKETPLACE

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self.clock = sandbox.clock
        self.faults = sandbox.faults
        rate = float(sandbox.rate_limit(MARKETPLACE, DEFAULT_RATE))
        self.bucket = sandbox.quota(MARKETPLACE, rate, 2 * rate)
        self.apps: dict[str, App] = {APP_ID: App(APP_ID, APP_SECRET, frozenset({REDIRECT_URI}))}
        self.sellers: dict[int, Seller] = {
            int(s.seller_id): s for s in self.world.sellers_of(MARKETPLACE)
        }
        # (item_id, variation_id or None, quantity, when) for every stock write received.
        self.write_log: list[tuple[str, int | None, int, datetime]] = []
        # Every write request received (refused ones too), by operation: a dry run makes none.
        self.write_calls: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}
        self._scrolls: dict[str, _Scroll] = {}
        self._faults_seen = itertools.count()
        self.tree = CategoryTree(self.world)
        self.render = Renderer(self.world, self.tree)
        self.questions = QuestionBook(self.world)
        self.listings: dict[int, Listing] = {}
        self._listings_of: dict[int, list[Listing]] = {uid: [] for uid in self.sellers}
        for listing in self.world.listings:
            if listing.seller.marketplace == MARKETPLACE:
                self.listings[listing.listing_number] = listing
                self._listings_of[int(listing.seller.seller_id)].append(listing)
        for listings in self._listings_of.values():
            listings.sort(key=lambda lst: lst.listing_number)
        self._orders_of: dict[int, _SellerOrders] = {uid: _SellerOrders() for uid in self.sellers}
        self.orders: dict[int, Order] = {}
        grouped: dict[int, list[Order]] = {uid: [] for uid in self.sellers}
        for order in self.world.orders:
            if order.seller.marketplace == MARKETPLACE:
                grouped[int(order.seller.seller_id)].append(order)
                self.orders[order.order_number] = order
                self.render.count_sale(order)
        for uid, orders in grouped.items():
            orders.sort(key=lambda o: (o.created_at, o.order_number))
            index = self._orders_of[uid]
            index.orders = orders
            index.created = [o.created_at.timestamp() for o in orders]
            index.steps = [tuple(w.timestamp() for _, w in o.timeline) for o in orders]
            index.max_span = max((s[-1] - s[0] for s in index.steps), default=0.0)
        # Rendered order JSON per order, for the step in force when it was rendered.
        self._order_json: dict[int, tuple[int, bytes]] = {}
        # Filtered searches (status / last_updated), valid until an order changes step.
        self._search_cache: dict[tuple[Any, ...], tuple[int, float, list[int]]] = {}
        self.items = ItemDesk(self)
        self.fulfilment = FulfilmentDesk(self)
        self.render.item_overlay = self.items.overlay
        self.render.shipment_overlay = self.fulfilment.overlay

    # --- the app -------------------------------------------------------------------------

    def app(self) -> Starlette:
        api = self._api
        routes = [
            Route("/authorization", self._authorization, methods=["GET"]),
            Route("/oauth/token", api(self._token, auth="none", throttle=False), methods=["POST"]),
            Route("/users/me", api(self._users_me), methods=["GET"]),
            Route("/users/{user_id:int}", api(self._user, auth="optional"), methods=["GET"]),
            Route("/users/{user_id:int}/items/search", api(self._items_search), methods=["GET"]),
            Route("/items", api(self._items_multiget), methods=["GET"]),
            Route("/items", api(self.items.create), methods=["POST"]),
            Route("/items/{item_id}", api(self._item), methods=["GET"]),
            Route("/items/{item_id}", api(self.items.update), methods=["PUT"]),
            Route("/items/{item_id}/description", api(self.items.description), methods=["GET"]),
            Route(
                "/items/{item_id}/description",
                api(self.items.write_description),
                methods=["POST", "PUT"],
            ),
            Route("/user-products/{up_id}/stock", api(self._user_product_stock), methods=["GET"]),
            Route("/orders/search", api(self._orders_search), methods=["GET"]),
            Route("/orders/{order_id}", api(self._order), methods=["GET"]),
            Route("/shipments/{shipment_id}", api(self._shipment), methods=["GET"]),
            Route("/shipments/{shipment_id}/costs", api(self._shipment_costs), methods=["GET"]),
            Route("/shipments/{shipment_id}/items", api(self._shipment_items), methods=["GET"]),
            Route(
                "/shipments/{shipment_id}/seller_notifications",
                api(self.fulfilment.seller_notification),
                methods=["POST"],
            ),
            Route(
                "/shipments/{shipment_id}/invoice_data",
                api(self.fulfilment.import_invoice),
                methods=["POST"],
            ),
            Route(
                "/shipments/{shipment_id}/invoice_data",
                api(self.fulfilment.invoice),
                methods=["GET"],
            ),
            Route(
                "/sites/MLB/shipping_services",
                api(self.fulfilment.shipping_services, auth="optional"),
            ),
            Route("/mercadopago/v1/payments/{payment_id}", api(self._mp_payment), methods=["GET"]),
            Route("/questions/search", api(self._questions_search), methods=["GET"]),
            Route("/questions/{question_id}", api(self._question), methods=["GET"]),
            Route("/answers", api(self._answers), methods=["POST"]),
            Route("/sites/MLB/categories", api(self._site_categories, auth="optional")),
            Route(
                "/sites/MLB/domain_discovery/search",
                api(self._domain_discovery, auth="optional"),
            ),
            Route("/categories/{category_id}", api(self._category, auth="optional")),
            Route(
                "/categories/{category_id}/attributes",
                api(self._category_attributes, auth="optional"),
            ),
            Route("/_sandbox/sales", self._sandbox_sale, methods=["POST"]),
            Route("/_sandbox/write_calls", self._sandbox_write_calls, methods=["GET"]),
            Route("/_sandbox/questions", self._sandbox_question, methods=["POST"]),
            Route(
                "/_sandbox/questions/{question_id}/answer",
                self._sandbox_answer,
                methods=["POST"],
            ),
        ]
        # Unknown paths and methods fall to the router, answered in ML's envelope below.
        return Starlette(
            routes=routes,
            exception_handlers={404: self._http_error, 405: self._http_error},
        )

    def _api(self, handler: Handler, auth: Auth = "required", throttle: bool = True) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            fault = self.faults.roll()
            if fault == "429":
                return self._too_many(1.0).response()
            if fault == "5xx":
                return self._server_error().response()
            if fault == "slow":
                await asyncio.sleep(self.faults.slow_seconds)
            try:
                caller = None if auth == "none" else self._authenticate(request, auth)
                if throttle:
                    self._throttle(caller.client_id if caller else "anonymous")
                return await handler(request, caller)
            except MLError as exc:
                return exc.response()
            except Refusal as refusal:
                return MLError(
                    400, "validation_error", "Validation error", refusal.causes
                ).response()

        return endpoint

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            return MLError(405, "method_not_allowed", "Method not allowed").response()
        path = request.url.path.removeprefix(request.scope.get("root_path", ""))
        return MLError(404, "not_found", f"Resource {path} not found").response()

    def _too_many(self, wait: float) -> MLError:
        retry_after = str(max(1, math.ceil(wait)))
        return MLError(
            429, "too_many_requests", "Too many requests", headers={"Retry-After": retry_after}
        )

    def _server_error(self) -> MLError:
        if next(self._faults_seen) % 2:
            return MLError(503, "service_unavailable", "service unavailable")
        return MLError(500, "internal_server_error", "internal error")

    def _throttle(self, caller: str) -> None:
        wait = self.bucket.take(caller)
        if wait is not None:
            raise self._too_many(wait)

    def _authenticate(self, request: Request, auth: Auth) -> Caller | None:
        # Only the header counts: a query `access_token` is ignored, as ML no longer reads it.
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if not header and auth == "optional":
            return None
        token = self._access.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None or token.expires_at <= self.clock.time():
            raise MLError(401, "unauthorized", "invalid access token")
        return Caller(token.client_id, token.user_id)

    @staticmethod
    def _owner(caller: Caller | None) -> Caller:
        if caller is None:
            raise MLError(401, "unauthorized", "invalid access token")
        return caller

    # --- OAuth ---------------------------------------------------------------------------

    async def _authorization(self, request: Request) -> Response:
        """The auth host page; the sandbox consents at once for the chosen seller."""
        q = request.query_params
        if q.get("response_type") != "code":
            return MLError(
                400, "unsupported_response_type", "response_type must be code"
            ).response()
        app = self.apps.get(q.get("client_id", ""))
        if app is None:
            return MLError(400, "invalid_client", "invalid client_id").response()
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in app.redirect_uris:
            return MLError(
                400, "invalid_request", "redirect_uri does not match the application's"
            ).response()
        default_user = next(iter(self.sellers), None)
        try:
            user_id = int(q.get("user_id") or default_user or 0)
        except ValueError:
            user_id = 0
        if user_id not in self.sellers:
            return MLError(400, "invalid_user_id", "unknown user_id").response()
        method = q.get("code_challenge_method")
        challenge = q.get("code_challenge")
        if method not in (None, "plain", "S256"):
            return MLError(400, "invalid_request", "unsupported code_challenge_method").response()
        code = f"TG-{secrets.token_hex(12)}-{user_id}"
        with self._lock:
            self._codes[code] = _Grant(
                app.client_id,
                user_id,
                redirect_uri,
                self.clock.time() + CODE_TTL,
                challenge,
                method,
            )
        params = {"code": code}
        if "state" in q:
            params["state"] = q["state"]
        return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=302)

    @staticmethod
    async def _token_form(request: Request) -> dict[str, str]:
        # Starlette's form parser needs python-multipart; a token form is plain urlencoded.
        body = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                raw = json.loads(body or b"{}")
            except ValueError:
                raise MLError(400, "invalid_request", "body is not valid JSON") from None
            return {k: str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise MLError(400, "invalid_request", "body is not valid form data") from None
        return dict(pairs)

    async def _token(self, request: Request, caller: Caller | None) -> Response:
        form = await self._token_form(request)
        client_id = form.get("client_id", "")
        self._throttle(client_id or "anonymous")
        app = self.apps.get(client_id)
        if app is None or not secrets.compare_digest(form.get("client_secret", ""), app.secret):
            raise MLError(400, "invalid_client", "invalid client_id or client_secret.")
        grant_type = form.get("grant_type")
        now = self.clock.time()
        invalid = MLError(
            400,
            "invalid_grant",
            "Error validating grant. Your authorization code or refresh token may be expired "
            "or it was already used",
        )
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)
                if grant is None or grant.expires_at <= now or grant.client_id != client_id:
                    raise invalid
                if form.get("redirect_uri") != grant.redirect_uri:
                    raise MLError(400, "invalid_grant", "the redirect_uri does not match")
                if grant.challenge is not None and not _pkce_ok(
                    form.get("code_verifier"), grant.challenge, grant.challenge_method
                ):
                    raise MLError(400, "invalid_grant", "invalid code_verifier")
                user_id = grant.user_id
            elif grant_type == "refresh_token":
                # Single-use: popping it is what makes a second refresh fail.
                old = self._refresh.pop(form.get("refresh_token", ""), None)
                if old is None or old.expires_at <= now or old.client_id != client_id:
                    raise invalid
                user_id = old.user_id
            else:
                raise MLError(400, "unsupported_grant_type", "grant_type not supported")
            access = f"APP_USR-{client_id}-{secrets.token_hex(16)}-{user_id}"
            refresh = f"TG-{secrets.token_hex(12)}-{user_id}"
            self._access[access] = _Token(client_id, user_id, now + ACCESS_TOKEN_TTL)
            self._refresh[refresh] = _Token(client_id, user_id, now + REFRESH_TOKEN_TTL)
        return _json(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": ACCESS_TOKEN_TTL,
                "scope": "offline_access read write",
                "user_id": user_id,
                "refresh_token": refresh,
            }
        )

    # --- users ---------------------------------------------------------------------------

    def _user_body(self, seller: Seller) -> dict[str, Any]:
        return {
            "id": int(seller.seller_id),
            "nickname": seller.nickname,
            "registration_date": "2019-03-11T10:21:35.000-03:00",
            "country_id": "BR",
            "site_id": "MLB",
            "user_type": "normal",
            "tags": ["normal", "mshops"],
            "permalink": f"http://perfil.mercadolivre.com.br/{seller.nickname}",
            "seller_reputation": {
                "level_id": "5_green",
                "power_seller_status": "gold",
                "transactions": {
                    "period": "historic",
                    "total": len(self._orders_of_seller(seller).orders),
                },
            },
            "status": {"site_status": "active"},
        }

    def _orders_of_seller(self, seller: Seller) -> _SellerOrders:
        return self._orders_of[int(seller.seller_id)]

    async def _users_me(self, request: Request, caller: Caller | None) -> Response:
        return _json(self._user_body(self.sellers[self._owner(caller).user_id]))

    async def _user(self, request: Request, caller: Caller | None) -> Response:
        seller = self.sellers.get(request.path_params["user_id"])
        if seller is None:
            raise MLError(404, "not_found", "user not found")
        return _json(self._user_body(seller))

    # --- items ---------------------------------------------------------------------------

    def _listing(self, raw_id: str) -> Listing | None:
        if not raw_id.startswith("MLB") or not raw_id[3:].isdigit():
            return None
        return self.listings.get(int(raw_id[3:]))

    def _item_not_found(self, raw_id: str) -> MLError:
        return MLError(404, "not_found", f"Item with id {raw_id} not found")

    async def _items_search(self, request: Request, caller: Caller | None) -> Response:
        user_id = request.path_params["user_id"]
        if self._owner(caller).user_id != user_id:
            raise _forbidden()
        q = request.query_params
        limit = _int_param(request, "limit", 50)
        if limit > ITEMS_LIMIT_MAX:
            raise _bad_request(f"Limit must be lower or equal to {ITEMS_LIMIT_MAX}")
        status = q.get("status")
        sku = q.get("seller_sku")
        now = self.clock.time()
        if q.get("search_type") == "scan":
            return self._items_scan(user_id, q.get("scroll_id"), limit, status, sku, now)
        offset = _int_param(request, "offset", 0)
        if offset + limit > ITEMS_OFFSET_REACH:
            raise _bad_request(
                f"Invalid limit and offset values: offset + limit must not exceed "
                f"{ITEMS_OFFSET_REACH}. Use search_type=scan to go further"
            )
        ids = self._item_ids(user_id, status, sku)
        return _json(
            {
                "seller_id": str(user_id),
                "query": None,
                "paging": {"limit": limit, "offset": offset, "total": len(ids)},
                "results": ids[offset : offset + limit],
                "orders": [{"id": "stop_time_asc", "name": "Order by stop time asc"}],
                "available_orders": [],
            }
        )

    def _item_ids(self, user_id: int, status: str | None, sku: str | None) -> list[str]:
        # seller_sku matches the SELLER_SKU of the item or of any of its variations.
        return [
            item_id(lst.listing_number)
            for lst in self._listings_of[user_id]
            if (status is None or self.render.item_status(lst)[0] == status)
            and (
                sku is None
                or any(v.sku == sku for v in lst.variations)
                or self._item_sku(lst) == sku
            )
        ]

    def _item_sku(self, listing: Listing) -> str | None:
        extras = self.items.extras.get(listing.listing_number)
        return extras.sku() if extras else None

    def _items_scan(
        self,
        user_id: int,
        scroll_id: str | None,
        limit: int,
        status: str | None,
        sku: str | None,
        now: float,
    ) -> Response:
        with self._lock:
            for key in [k for k, s in self._scrolls.items() if s.expires_at <= now]:
                del self._scrolls[key]
            if scroll_id:
                scroll = self._scrolls.get(scroll_id)
                if scroll is None or scroll.user_id != user_id:
                    raise _bad_request("scroll_id is invalid or has expired")
            else:
                scroll_id = secrets.token_urlsafe(24)
                ids = self._item_ids(user_id, status, sku)
                scroll = _Scroll(user_id, ids, 0, limit, now + SCROLL_TTL)
                self._scrolls[scroll_id] = scroll
            start = scroll.position
            page = scroll.ids[start : start + limit]
            scroll.position += len(page)
        return _json(
            {
                "seller_id": str(user_id),
                "query": None,
                "paging": {"limit": limit, "total": len(scroll.ids)},
                "results": page,
                "scroll_id": scroll_id,
            }
        )

    async def _item(self, request: Request, caller: Caller | None) -> Response:
        raw_id = request.path_params["item_id"]
        listing = self._listing(raw_id)
        if listing is None:
            raise self._item_not_found(raw_id)
        return _json(self.render.item(listing))

    async def _items_multiget(self, request: Request, caller: Caller | None) -> Response:
        raw = request.query_params.get("ids")
        if not raw:
            raise _bad_request("Parameter ids is required")
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if len(ids) > MULTIGET_MAX:
            raise _bad_request(f"Too many ids: at most {MULTIGET_MAX} per request")
        wanted = request.query_params.get("attributes")
        fields = {f.strip() for f in wanted.split(",")} | {"id"} if wanted else None
        answers = []
        for raw_id in ids:
            listing = self._listing(raw_id)
            if listing is None:
                err = self._item_not_found(raw_id)
                body = {"message": err.message, "error": err.error, "status": 404, "cause": []}
                answers.append({"code": 404, "body": body})
                continue
            item = self.render.item(listing)
            if fields is not None:
                item = {k: v for k, v in item.items() if k in fields}
            answers.append({"code": 200, "body": item})
        return _json(answers)

    # --- what the write desks share ------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def count_write(self, operation: str) -> None:
        with self._lock:
            self.write_calls[operation] += 1

    @staticmethod
    async def json_body(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _bad_request("body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _bad_request("body must be a JSON object")
        return body

    @staticmethod
    def bad_request(message: str) -> MLError:
        return _bad_request(message)

    @staticmethod
    def error(status: int, error: str, message: str, cause: list[Any] | None = None) -> MLError:
        return MLError(status, error, message, cause)

    @staticmethod
    def json_response(value: Any, status: int = 200) -> Response:
        return _json(value, status)

    def visible_listing(self, raw_id: str) -> Listing:
        listing = self._listing(raw_id)
        if listing is None:
            raise self._item_not_found(raw_id)
        return listing

    def own_listing(self, raw_id: str, caller: Caller | None) -> Listing:
        listing = self.visible_listing(raw_id)
        if int(listing.seller.seller_id) != self._owner(caller).user_id:
            raise _forbidden()
        return listing

    def visible_shipment(self, request: Request, caller: Caller | None) -> Order:
        return self._visible_shipment(request, caller)

    def item_response(self, listing: Listing, status: int = 200) -> Response:
        return _json(self.render.item(listing), status)

    def listings_of_seller(self, user_id: int) -> list[Listing]:
        return self._listings_of[user_id]

    def add_listing(self, listing: Listing) -> None:
        """A listing the seller just created: every read of the World sees it from now on."""
        with self._lock:
            self.listings[listing.listing_number] = listing
            self._listings_of[int(listing.seller.seller_id)].append(listing)
            self.world.listings.append(listing)
            self.world.listings_by_number[listing.listing_number] = listing
            for variation in listing.variations:
                self.render.variation_index[variation.variation_number] = (listing, variation)
            self.render.item_updated[listing.listing_number] = listing.created_at

    def apply_stock(self, listing: Listing, writes: Sequence[tuple[int | None, int]]) -> None:
        when = self.clock.now()
        raw_id = item_id(listing.listing_number)
        with self._lock:
            by_number = {v.variation_number: v for v in listing.variations}
            for variation_id, quantity in writes:
                number = (
                    variation_id
                    if variation_id is not None
                    else listing.variations[0].variation_number
                )
                by_number[number].available_quantity = quantity
                self.write_log.append((raw_id, variation_id, quantity, when))

    async def _sandbox_write_calls(self, request: Request) -> Response:
        with self._lock:
            counts = dict(self.write_calls)
        return _json({"total": sum(counts.values()), "by_operation": counts})

    async def _user_product_stock(self, request: Request, caller: Caller | None) -> Response:
        raw = request.path_params["up_id"]
        found = None
        if raw.startswith("MLBU") and raw[4:].isdigit():
            found = self.render.variation_index.get(int(raw[4:]))
        if found is None:
            raise MLError(404, "not_found", f"User product {raw} not found")
        listing, variation = found
        if int(listing.seller.seller_id) != self._owner(caller).user_id:
            raise _forbidden()
        return _json(
            {
                "locations": [
                    {"type": "selling_address", "quantity": variation.available_quantity}
                ],
                "user_id": int(listing.seller.seller_id),
                "id": raw,
            }
        )

    # --- orders --------------------------------------------------------------------------

    def warm(self) -> None:
        """Render every order as it stands now, so benchmarks time the client, not us."""
        for order in self.sandbox.world.orders:
            if order.seller.marketplace == MARKETPLACE and order.visible_at(self.clock.now()):
                self._order_bytes(order, self._step_now(order))

    def _order_bytes(self, order: Order, step: int) -> bytes:
        cached = self._order_json.get(order.order_number)
        if cached is not None and cached[0] == step:
            return cached[1]
        body = self.render.order_json(order, step)
        self._order_json[order.order_number] = (step, body)
        return body

    async def _orders_search(self, request: Request, caller: Caller | None) -> Response:
        q = request.query_params
        seller_raw = q.get("seller")
        if not seller_raw:
            raise _bad_request("Parameter seller is required")
        if not seller_raw.isdigit() or int(seller_raw) != self._owner(caller).user_id:
            raise _forbidden()
        limit = _int_param(request, "limit", 50)
        offset = _int_param(request, "offset", 0)
        if limit > ORDERS_LIMIT_MAX:
            raise _bad_request(f"Invalid limit {limit}: the maximum is {ORDERS_LIMIT_MAX}")
        if offset + limit > ORDERS_OFFSET_REACH:
            raise _bad_request(
                f"Invalid offset: offset + limit must not exceed {ORDERS_OFFSET_REACH}; "
                "narrow the date range instead"
            )
        sort = q.get("sort") or "date_asc"
        if sort not in ("date_asc", "date_desc"):
            raise _bad_request(f"Invalid sort {sort!r}: use date_asc or date_desc")
        statuses: frozenset[str] | None = None
        if q.get("order.status"):
            statuses = frozenset(s.strip() for s in q["order.status"].split(","))
            if not statuses <= ML_ORDER_STATUSES:
                raise _bad_request(f"Invalid order.status {q['order.status']!r}")
        created_from = _date_param(request, "order.date_created.from")
        created_to = _date_param(request, "order.date_created.to")
        updated_from = _date_param(request, "order.date_last_updated.from")
        updated_to = _date_param(request, "order.date_last_updated.to")
        now = self.clock.time()
        index = self._orders_of[int(seller_raw)]
        plain = statuses is None and updated_from is None and updated_to is None
        with self._lock:
            lo = 0 if created_from is None else bisect_left(index.created, created_from)
            top = now if created_to is None else min(now, created_to)
            hi = max(lo, bisect_right(index.created, top))
            if plain:
                # Creation order is the index order: a page is a slice, whatever the depth.
                total = hi - lo
                if sort == "date_asc":
                    chosen: Sequence[int] = range(lo + offset, min(hi, lo + offset + limit))
                else:
                    chosen = range(hi - 1 - offset, max(lo, hi - offset - limit) - 1, -1)
            else:
                selected = self._filtered(
                    int(seller_raw), index, lo, hi, now, statuses, updated_from, updated_to
                )
                total = len(selected)
                ordered = selected if sort == "date_asc" else selected[::-1]
                chosen = ordered[offset : offset + limit]
            parts = [
                self._order_bytes(index.orders[i], _step_at(index.steps[i], now)) for i in chosen
            ]
        tail = dumps(
            {
                "sort": {
                    "id": sort,
                    "name": "Date ascending" if sort == "date_asc" else "Date descending",
                },
                "available_sorts": [],
                "filters": [],
                "paging": {"total": total, "offset": offset, "limit": limit},
                "display": "complete",
            }
        )
        body = b'{"query":null,"results":[' + b",".join(parts) + b"]," + tail[1:]
        return _raw(body)

    def _filtered(
        self,
        seller: int,
        index: _SellerOrders,
        lo: int,
        hi: int,
        now: float,
        statuses: frozenset[str] | None,
        updated_from: float | None,
        updated_to: float | None,
    ) -> list[int]:
        """Positions matching status / last_updated filters, cached until any order moves."""
        if updated_to is not None:
            hi = min(hi, bisect_right(index.created, updated_to))
        if updated_from is not None:
            # last_updated never runs more than max_span past creation.
            lo = max(lo, bisect_left(index.created, updated_from - index.max_span))
        key = (seller, lo, hi, statuses, updated_from, updated_to)
        cached = self._search_cache.get(key)
        if cached is not None and cached[0] == index.version and now < cached[1]:
            return cached[2]
        selected: list[int] = []
        valid_until = math.inf
        for i in range(lo, max(lo, hi)):
            steps = index.steps[i]
            step = _step_at(steps, now)
            if step + 1 < len(steps):
                valid_until = min(valid_until, steps[step + 1])
            when = steps[step]
            if updated_from is not None and when < updated_from:
                continue
            if updated_to is not None and when > updated_to:
                continue
            status = order_status(index.orders[i].timeline[step][0])
            if statuses is not None and status not in statuses:
                continue
            selected.append(i)
        if len(self._search_cache) > 256:
            self._search_cache.clear()
        self._search_cache[key] = (index.version, valid_until, selected)
        return selected

    def _visible_order(self, raw: str, caller: Caller | None) -> Order:
        order = self.orders.get(int(raw)) if raw.isdigit() else None
        if order is None or order.created_at.timestamp() > self.clock.time():
            raise MLError(404, "not_found", f"Order {raw} not found")
        if int(order.seller.seller_id) != self._owner(caller).user_id:
            raise _forbidden()
        return order

    def _step_now(self, order: Order) -> int:
        return _step_at(tuple(w.timestamp() for _, w in order.timeline), self.clock.time())

    async def _order(self, request: Request, caller: Caller | None) -> Response:
        order = self._visible_order(request.path_params["order_id"], caller)
        with self._lock:
            body = self._order_bytes(order, self._step_now(order))
        return _raw(body)

    def _visible_shipment(self, request: Request, caller: Caller | None) -> Order:
        raw = request.path_params["shipment_id"]
        number = order_number_of_shipment(int(raw)) if raw.isdigit() else -1
        try:
            return self._visible_order(str(number), caller)
        except MLError as exc:
            if exc.status == 404:
                raise MLError(404, "not_found", f"Shipment {raw} not found") from None
            raise

    async def _shipment(self, request: Request, caller: Caller | None) -> Response:
        order = self._visible_shipment(request, caller)
        step = self._step_now(order)
        # The documented new shape only for callers that ask for it, as ML does.
        if request.headers.get("x-format-new", "").lower() == "true":
            return _json(self.render.shipment_new(order, step))
        return _json(self.render.shipment(order, step))

    async def _shipment_costs(self, request: Request, caller: Caller | None) -> Response:
        order = self._visible_shipment(request, caller)
        return _json(self.render.shipment_costs(order, self._step_now(order)))

    async def _shipment_items(self, request: Request, caller: Caller | None) -> Response:
        order = self._visible_shipment(request, caller)
        return _json(self.render.shipment_items(order))

    async def _mp_payment(self, request: Request, caller: Caller | None) -> Response:
        raw = request.path_params["payment_id"]
        number = order_number_of_payment(int(raw)) if raw.isdigit() else -1
        order = self.orders.get(number)
        now = self.clock.now()
        paid = order is not None and any(s == "paid" and w <= now for s, w in order.timeline)
        if order is None or not paid:
            raise MLError(404, "not_found", f"Payment not found: {raw}")
        if int(order.seller.seller_id) != self._owner(caller).user_id:
            raise _forbidden()
        return _json(self.render.mp_payment(order, now))

    # --- questions -----------------------------------------------------------------------

    async def _questions_search(self, request: Request, caller: Caller | None) -> Response:
        q = request.query_params
        owner = self._owner(caller).user_id
        if q.get("api_version") != "4":
            raise _bad_request("Parameter api_version=4 is required")
        limit = _int_param(request, "limit", 50)
        offset = _int_param(request, "offset", 0)
        if limit > QUESTIONS_LIMIT_MAX:
            raise _bad_request(f"Invalid limit {limit}: the maximum is {QUESTIONS_LIMIT_MAX}")
        if offset + limit > QUESTIONS_OFFSET_REACH:
            raise _bad_request(
                f"Invalid offset: offset + limit must not exceed {QUESTIONS_OFFSET_REACH}"
            )
        if (q.get("sort_fields") or "date_created") != "date_created":
            raise _bad_request(f"Invalid sort_fields {q['sort_fields']!r}")
        sort = q.get("sort_types") or "ASC"
        if sort not in ("ASC", "DESC"):
            raise _bad_request(f"Invalid sort_types {sort!r}: use ASC or DESC")
        status = q.get("status")
        if status is not None and status not in QUESTION_STATUSES:
            raise _bad_request(f"Invalid status {status!r}")
        listing = self._questions_scope(q.get("seller_id"), q.get("item"), owner)
        now = self.clock.now()
        with self._lock:
            found = [
                x
                for x in self.questions.of_seller(owner, now)
                if (listing is None or x.listing is listing)
                and (status is None or self.questions.status_at(x, now) == status)
            ]
            found.sort(key=lambda x: (x.asked_at, x.question_id), reverse=sort == "DESC")
            page = [self.questions.render(x, now) for x in found[offset : offset + limit]]
        filters = {"limit": limit, "offset": offset, "api_version": "4", "seller": str(owner)}
        return _json({"total": len(found), "limit": limit, "questions": page, "filters": filters})

    def _questions_scope(self, seller: str | None, item: str | None, owner: int) -> Listing | None:
        if item:
            listing = self._listing(item)
            if listing is None:
                raise self._item_not_found(item)
            if int(listing.seller.seller_id) != owner:
                raise _forbidden()
            return listing
        if not seller:
            raise _bad_request("One of the parameters seller_id or item is required")
        if not seller.isdigit() or int(seller) != owner:
            raise _forbidden()
        return None

    def _visible_question(self, raw: str, caller: Caller | None) -> BookQuestion:
        question = self.questions.by_id.get(int(raw)) if raw.isdigit() else None
        if question is None or question.asked_at > self.clock.now():
            raise MLError(404, "not_found", f"Question {raw} not found")
        if int(question.listing.seller.seller_id) != self._owner(caller).user_id:
            raise _forbidden()
        return question

    async def _question(self, request: Request, caller: Caller | None) -> Response:
        question = self._visible_question(request.path_params["question_id"], caller)
        return _json(self.questions.render(question, self.clock.now()))

    async def _answers(self, request: Request, caller: Caller | None) -> Response:
        try:
            body = await request.json()
        except ValueError:
            raise _bad_request("body is not valid JSON") from None
        if not isinstance(body, dict) or "question_id" not in body:
            raise _bad_request("question_id is required")
        question = self._visible_question(str(body["question_id"]), caller)
        self.count_write("answers.create")
        return _json(self._answer(question, body.get("text")))

    def _answer(self, question: BookQuestion, text: object) -> dict[str, Any]:
        if not isinstance(text, str) or not text.strip():
            raise _bad_request(
                "text is required", [_answer_cause("answer.text.required", "text is required")]
            )
        if len(text) > ANSWER_MAX_LENGTH:
            message = f"text must have at most {ANSWER_MAX_LENGTH} characters"
            raise _bad_request(message, [_answer_cause("answer.text.max_length", message)])
        now = self.clock.now()
        with self._lock:
            status = self.questions.status_at(question, now)
            if status != "UNANSWERED":
                message = (
                    f"Question {question.question_id} is {status}: only UNANSWERED questions "
                    "can be answered"
                )
                code = (
                    "question.status.answered"
                    if status == "ANSWERED"
                    else "question.status.invalid"
                )
                raise MLError(
                    400,
                    "question_already_answered"
                    if status == "ANSWERED"
                    else "question_not_answerable",
                    message,
                    [_answer_cause(code, message)],
                )
            self.questions.answer(question, text, now)
            rendered = self.questions.render(question, now)
        self._notify_question(question, now, "answered")
        return rendered

    def _notify_question(self, question: BookQuestion, at: datetime, event: str) -> None:
        # The emitter exists once the sandbox is built; a question never waits for it.
        webhooks = getattr(self.sandbox, "webhooks", None)
        if webhooks is not None:
            seller = int(question.listing.seller.seller_id)
            webhooks.notify_question(question.question_id, seller, at, event)

    async def _sandbox_question(self, request: Request) -> Response:
        """A buyer asks a question on an item right now."""
        try:
            body = await request.json()
            listing = self._listing(str(body["item_id"]))
            if listing is None:
                raise ValueError(f"unknown item {body['item_id']}")
            text = body.get("text") or "Tem pronta entrega?"
            if not isinstance(text, str):
                raise TypeError("text must be a string")
            buyer = int(body.get("from_id") or 123_456_789)
        except (ValueError, KeyError, TypeError) as exc:
            return _bad_request(f"invalid question: {exc}").response()
        now = self.clock.now()
        with self._lock:
            question = self.questions.ask(listing, text, buyer, now)
            rendered = self.questions.render(question, now)
        self._notify_question(question, now, "asked")
        return _json(rendered, 201)

    async def _sandbox_answer(self, request: Request) -> Response:
        """The seller answers a question right now (as POST /answers would)."""
        raw = request.path_params["question_id"]
        question = self.questions.by_id.get(int(raw)) if raw.isdigit() else None
        if question is None or question.asked_at > self.clock.now():
            return MLError(404, "not_found", f"Question {raw} not found").response()
        try:
            body = await request.json() if await request.body() else {}
            text = body.get("text", "Olá! Obrigado pela pergunta.")
            return _json(self._answer(question, text))
        except MLError as exc:
            return exc.response()
        except (ValueError, AttributeError):
            return _bad_request("body must be a JSON object").response()

    # --- categories ----------------------------------------------------------------------

    async def _site_categories(self, request: Request, caller: Caller | None) -> Response:
        return _json([{"id": c.id, "name": c.name} for c in self.tree.top_level()])

    def _ml_category(self, request: Request) -> MLCategory:
        category = self.tree.by_id.get(request.path_params["category_id"])
        if category is None:
            raise MLError(404, "not_found", "Category not found")
        return category

    async def _category(self, request: Request, caller: Caller | None) -> Response:
        return _json(self.tree.render(self._ml_category(request)))

    async def _category_attributes(self, request: Request, caller: Caller | None) -> Response:
        return _json(self.tree.attributes(self._ml_category(request)))

    async def _domain_discovery(self, request: Request, caller: Caller | None) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            raise _bad_request("Parameter q is required")
        limit = _int_param(request, "limit", 4)
        if not 1 <= limit <= 8:
            raise _bad_request("limit must be between 1 and 8")
        return _json(self.tree.discover(query, limit))

    # --- sandbox-only hooks --------------------------------------------------------------

    def record_sale(self, listing_number: int, variation_number: int, quantity: int) -> Order:
        """A buyer purchase right now: a paid order, and the variation's stock goes down."""
        listing = self.listings.get(listing_number)
        if listing is None:
            raise ValueError(f"no Mercado Livre listing {listing_number}")
        variation = next(
            (v for v in listing.variations if v.variation_number == variation_number), None
        )
        if variation is None:
            raise ValueError(f"variation {variation_number} is not in listing {listing_number}")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValueError("quantity must be a positive integer")
        if quantity > variation.available_quantity:
            raise ValueError(
                f"only {variation.available_quantity} units available, asked {quantity}"
            )
        now = self.clock.now()
        created = now.replace(microsecond=now.microsecond // 1000 * 1000)
        seller_id = int(listing.seller.seller_id)
        with self._lock:
            index = self._orders_of[seller_id]
            number = max((o.order_number for o in index.orders), default=0) + 1
            rng = random.Random(f"{self.world.seed}:sale:{number}")
            buyer_id = rng.randrange(100_000_000, 999_999_999)
            order = Order(
                order_number=number,
                seller=listing.seller,
                lines=(
                    OrderLine(
                        listing_number=listing_number,
                        variation_number=variation_number,
                        sku=variation.sku,
                        title=listing.title,
                        quantity=quantity,
                        unit_price=variation.price,
                    ),
                ),
                buyer=Buyer(
                    buyer_id=buyer_id,
                    nickname=f"COMPRADOR{buyer_id % 100000}",
                    first_name=rng.choice(["Ana", "Bruno", "Carla", "Diego"]),
                    last_name=rng.choice(["Silva", "Souza", "Lima"]),
                    city="São Paulo",
                    state="SP",
                ),
                shipping_cost=Decimal(0),
                timeline=[("pending", created), ("paid", created)],
            )
            variation.available_quantity -= quantity
            self.world.orders.append(order)
            self.orders[number] = order
            index.add(order)
            self.render.count_sale(order)
            self.render.item_updated[listing_number] = created
            self.fulfilment.on_sale(order)
        self.world.order_created(order)
        return order

    def on_order_changed(self, change: OrderChange) -> None:
        """World listener: re-index an order whose timeline changed at runtime."""
        order = change.order
        if change.kind != "status" or order.seller.marketplace != MARKETPLACE:
            return
        with self._lock:
            index = self._orders_of[int(order.seller.seller_id)]
            steps = tuple(when.timestamp() for _, when in order.timeline)
            at = bisect_left(index.created, steps[0])
            while index.orders[at] is not order:
                at += 1
            index.steps[at] = steps
            index.max_span = max(index.max_span, steps[-1] - steps[0])
            index.version += 1
            self._search_cache.clear()
            if change.status == "cancelled":
                for line in order.lines:
                    self.render.item_updated[line.listing_number] = change.at

    async def _sandbox_sale(self, request: Request) -> Response:
        try:
            body = await request.json()
            listing = self._listing(str(body["item_id"]))
            if listing is None:
                raise ValueError(f"unknown item {body['item_id']}")
            raw_variation = body.get("variation_id")
            variation_number = (
                listing.variations[0].variation_number
                if raw_variation is None
                else int(raw_variation)
            )
            order = self.record_sale(listing.listing_number, variation_number, body["quantity"])
        except (ValueError, KeyError, TypeError) as exc:
            return _bad_request(f"invalid sale: {exc}").response()
        with self._lock:
            payload = self._order_bytes(order, len(order.timeline) - 1)
        return _raw(payload, 201)
