"""Amazon Selling Partner API simulator: Login with Amazon, Orders v0 and 2026-01-01 (getOrder),
Finances v0 (financial events by order and by posting date), Listings Items 2021-08-01.

One mount serves what Amazon spreads over three hosts: LWA (`api.amazon.com/auth/o2/token`),
Seller Central's consent page (`/apps/authorize/consent`) and the SP-API itself. Facts follow
section 4 of API-NOTES.md and API-NOTES-MONEY.md, and `amzn/selling-partner-api-models`
(ordersV0.json, orders_2026-01-01.json, financesV0.json, listingsItems_2021-08-01.json); error
bodies and messages are the ones Amazon is seen returning (or the models' examples show).
Every operation has its own token bucket at the published rate (0.5 req/s, burst 30 for
getOrder 2026-01-01 and both financial-events operations), and `x-amzn-RateLimit-Limit`.

The World's Amazon sellers are the selling partners. A self-authorized private app gets its
refresh token from Seller Central, so each seller starts with `initial_refresh_token(seller_id)`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import itertools
import json
import math
import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from synchub_pipelines.sandbox.amazon_listings import (
    META_SCHEMA,
    PRODUCT_TYPES,
    Malformed,
    Submission,
    definition_body,
    nfe_key_of,
    read_patch,
    read_put,
    schema_document,
    search_product_types,
)
from synchub_pipelines.sandbox.amazon_render import (
    INCLUDED_DATA,
    MARKETPLACE_ID,
    ORDER_2026_INCLUDED,
    ORDER_STATUSES,
    AmazonListing,
    AmazonOrder,
    Catalog,
    OrderBook,
    amazon_order_id,
    asin_for,
    dumps,
    identifier,
    iso,
    listing_issue,
    order_item_id,
    render_financial_events,
    render_listing_item,
    render_order_2026,
    render_order_items,
    valid_orders_query,
)
from synchub_pipelines.sandbox.infra import TokenBucket
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

__all__ = [
    "APPLICATION_ID",
    "LWA_CLIENT_ID",
    "LWA_CLIENT_SECRET",
    "MARKETPLACE_ID",
    "REDIRECT_URI",
    "InsufficientStock",
    "ListingWrite",
    "ShipmentConfirmation",
    "Simulator",
    "SubmittedInvoice",
    "initial_refresh_token",
]

LWA_CLIENT_ID = "amzn1.application-oa2-client.sandboxsynchub"
LWA_CLIENT_SECRET = "sandbox-amazon-lwa-secret"  # noqa: S105 - a published sandbox credential
# The consent URL names the app by its SP-API solution id, not by its LWA client id.
APPLICATION_ID = "amzn1.sp.solution.sandboxsynchub"
REDIRECT_URI = "https://localhost:8787/synchub/callback/amazon"

ACCESS_TOKEN_SECONDS = 3600
AUTH_CODE_SECONDS = 300  # spapi_oauth_code is only good for five minutes
BEFORE_MARGIN_SECONDS = 120  # *Before must be at least two minutes in the past
ORDER_ITEMS_PAGE = 30
EVENTS_SPAN_SECONDS = 180 * 86_400  # PostedAfter to PostedBefore: wider answers empty
LISTINGS_PAGEABLE = 1000  # searchListingsItems pages through at most 1000 SKUs

_INVALID_INPUT = "The input you have submitted is not valid. Please check your input and try again."
_UNPARSABLE = "Request has missing or invalid parameters and cannot be parsed."
_DENIED = "Access to requested resource is denied."
_LWA_MISSING = "The request is missing a required parameter : "
_LWA_BAD_GRANT = "The request has an invalid grant parameter : "
_ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
_SORT_FIELDS = {"sku", "createdDate", "lastUpdatedDate"}
_LISTING_STATUSES = frozenset({"BUYABLE", "DISCOVERABLE"})
_IDENTIFIER_TYPES = frozenset(
    {"ASIN", "EAN", "FNSKU", "GTIN", "ISBN", "JAN", "MINSAN", "SKU", "UPC"}
)


def initial_refresh_token(seller_id: str) -> str:
    """The refresh token Seller Central shows a self-authorized private app for this seller."""
    return f"Atzr|sandbox-{seller_id}"


@dataclass(frozen=True)
class ListingWrite:
    """One patchListingsItem call as the sandbox received it (the stock-push audit's mirror)."""

    at: datetime
    seller_id: str
    sku: str
    mode: str  # "APPLY" or "VALIDATION_PREVIEW"
    status: str  # ACCEPTED | VALID | INVALID
    submission_id: str
    quantity: int | None  # requested DEFAULT quantity, if the patch carried one
    previous_quantity: int | None  # None when the SKU is not a listing of this seller
    applied: bool  # the listing changed (stock, price, attributes; created by a put)
    operation: str = "patchListingsItem"  # or "putListingsItem"


@dataclass(frozen=True)
class ShipmentConfirmation:
    """One accepted confirmShipment call (the fulfilment audit's mirror)."""

    at: datetime
    order_id: str
    package_reference_id: str
    carrier_code: str
    carrier_name: str | None
    tracking_number: str
    items: tuple[tuple[str, int], ...]
    edit: bool  # the package was already confirmed: its details were replaced


@dataclass(frozen=True)
class SubmittedInvoice:
    """One submitInvoice that passed the request checks; `status` is what getInvoiceStatus
    reports (Accepted, or Rejected with the sandbox's `reason`)."""

    at: datetime
    order_id: str
    access_key: str | None
    status: str
    reason: str | None


class InsufficientStock(ValueError):
    """A sandbox sale asked for more units than the listing has: Amazon would not sell them."""


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _invalid(details: str) -> _ApiError:
    return _ApiError(400, "InvalidInput", _INVALID_INPUT, details)


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers, media_type="application/json")


def _errors(
    status: int, code: str, message: str, details: str | None, headers: dict[str, str]
) -> Response:
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return _json({"errors": [error]}, status, headers)


def _encode_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(dumps(state).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise _invalid("The NextToken is invalid.") from None
    if not isinstance(state, dict):
        raise _invalid("The NextToken is invalid.")
    return state


def _instant(raw: str, name: str) -> float:
    """An ISO 8601 date-time in UTC; Amazon rejects dates without a time and other offsets."""
    text = raw.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(f"Invalid date/time field [{name}].") from None
    if "T" not in text.upper():
        raise _invalid(f"Invalid date/time field [{name}].")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset() != timedelta(0):
        raise _invalid(f"Invalid date/time field [{name}].")
    return moment.timestamp()


def _csv(request: Request, name: str) -> list[str]:
    """A list parameter, sent either comma-separated or repeated."""
    return [v for raw in request.query_params.getlist(name) for v in raw.split(",") if v]


def _marketplaces(request: Request, name: str) -> None:
    ids = _csv(request, name)
    if not ids:
        raise _invalid(f"Missing required parameter {name}.")
    if len(ids) > 50 or any(mid != MARKETPLACE_ID for mid in ids):
        raise _invalid(f"Invalid {name}: this seller only sells in {MARKETPLACE_ID}.")


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(f"{name} must be an integer between {low} and {high}.") from None
    if not low <= value <= high:
        raise _invalid(f"{name} must be an integer between {low} and {high}.")
    return value


def _valid_events_query(query: dict[str, Any]) -> bool:
    def number(value: object) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    size = query.get("n")
    return (
        set(query) == {"a", "b", "n"}
        and number(query["a"])
        and number(query["b"])
        and isinstance(size, int)
        and 1 <= size <= 100
    )


def _valid_posting(resume: object) -> bool:
    """Whether a token's keyset is a (PostedDate, order number, kind) triple."""
    return (
        isinstance(resume, list)
        and len(resume) == 3
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in resume)
    )


# Each operation's published quota (rate per second, burst), under the name a sandbox
# `--rate-limit` overrides it by.
PUBLISHED_QUOTAS: dict[str, tuple[float, float]] = {
    "amazon.getOrders": (0.0167, 20),
    "amazon.getOrder": (0.5, 30),
    "amazon.getOrderItems": (0.5, 30),
    "amazon.getOrder2026": (0.5, 30),
    "amazon.listFinancialEventsByOrderId": (0.5, 30),
    "amazon.listFinancialEvents": (0.5, 30),
    "amazon.listings": (5.0, 5),
    "amazon.listings.get": (5.0, 10),
    "amazon.listings.patch": (5.0, 5),
    "amazon.listings.put": (5.0, 10),
    "amazon.definitions": (5.0, 10),
    "amazon.definitions.search": (5.0, 10),
    "amazon.confirmShipment": (2.0, 10),
    "amazon.submitInvoice": (1.133, 25),
    "amazon.getInvoiceStatus": (1.133, 25),
}


@dataclass(frozen=True)
class _Operation:
    rate: float
    bucket: TokenBucket


class Simulator:
    """The Amazon SP-API as seen from one private app authorized by the World's sellers."""

    name = "amazon"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.sellers = {s.seller_id: s for s in sandbox.world.sellers_of("amazon")}
        self.writes: list[ListingWrite] = []
        # Every write request received (refused ones too), by operation; a validation
        # preview is counted apart ("…:VALIDATION_PREVIEW") since it changes nothing.
        self.write_calls: Counter[str] = Counter()
        self.shipment_confirmations: list[ShipmentConfirmation] = []
        self.invoices: list[SubmittedInvoice] = []
        self._packages: dict[int, dict[str, dict[str, Any]]] = {}
        self._numbers: tuple[int, int] | None = None  # last listing and variation numbers
        self._refresh_tokens = {initial_refresh_token(sid): sid for sid in self.sellers}
        self._access_tokens: dict[str, tuple[str, float]] = {}
        self._auth_codes: dict[str, tuple[str, float]] = {}
        self._books: dict[str, OrderBook] = {}
        self._catalogs: dict[str, Catalog] = {}
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._fault_count = itertools.count()

        def operation(name: str) -> _Operation:
            default, burst = PUBLISHED_QUOTAS[name]
            rate = sandbox.rate_limit(name, default)
            return _Operation(rate, sandbox.quota(name, rate, burst))

        self._get_orders_op = operation("amazon.getOrders")
        self._get_order_op = operation("amazon.getOrder")
        self._order_items_op = operation("amazon.getOrderItems")
        self._get_order_2026_op = operation("amazon.getOrder2026")
        self._events_by_order_op = operation("amazon.listFinancialEventsByOrderId")
        self._events_op = operation("amazon.listFinancialEvents")
        self._search_op = operation("amazon.listings")
        self._get_item_op = operation("amazon.listings.get")
        self._patch_op = operation("amazon.listings.patch")
        self._put_op = operation("amazon.listings.put")
        self._definition_op = operation("amazon.definitions")
        self._search_types_op = operation("amazon.definitions.search")
        self._confirm_op = operation("amazon.confirmShipment")
        self._invoice_op = operation("amazon.submitInvoice")
        self._invoice_status_op = operation("amazon.getInvoiceStatus")

    def app(self) -> Starlette:
        items = "/listings/2021-08-01/items/{seller_id}"
        routes = [
            Route("/auth/o2/token", self._token, methods=["POST"]),
            Route("/apps/authorize/consent", self._consent, methods=["GET"]),
            Route("/orders/v0/orders", self._api(self._get_orders_op, self._get_orders)),
            Route("/orders/v0/orders/{order_id}", self._api(self._get_order_op, self._get_order)),
            Route(
                "/orders/v0/orders/{order_id}/orderItems",
                self._api(self._order_items_op, self._get_order_items),
            ),
            Route(
                "/orders/2026-01-01/orders/{order_id}",
                self._api(self._get_order_2026_op, self._get_order_2026),
            ),
            Route(
                "/finances/v0/orders/{order_id}/financialEvents",
                self._api(self._events_by_order_op, self._events_by_order),
            ),
            Route(
                "/finances/v0/financialEvents",
                self._api(self._events_op, self._events_by_date),
            ),
            Route(items, self._api(self._search_op, self._search_listings)),
            Route(items + "/{sku}", self._api(self._get_item_op, self._get_listing)),
            Route(
                items + "/{sku}",
                self._api(self._patch_op, self._patch_listing),
                methods=["PATCH"],
            ),
            Route(items + "/{sku}", self._api(self._put_op, self._put_listing), methods=["PUT"]),
            Route(
                "/definitions/2020-09-01/productTypes",
                self._api(self._search_types_op, self._search_product_types),
            ),
            Route(
                "/definitions/2020-09-01/productTypes/{product_type}",
                self._api(self._definition_op, self._product_type_definition),
            ),
            Route("/_sandbox/schemas/{product_type}", self._schema),
            Route("/_sandbox/meta-schema", self._meta_schema),
            Route(
                "/orders/v0/orders/{order_id}/shipmentConfirmation",
                self._api(self._confirm_op, self._confirm_shipment),
                methods=["POST"],
            ),
            Route(
                "/delivery/2022-07-01/invoice",
                self._api(self._invoice_op, self._submit_invoice),
                methods=["POST"],
            ),
            Route(
                "/delivery/2022-07-01/invoice/status",
                self._api(self._invoice_status_op, self._invoice_status),
            ),
            Route("/_sandbox/sales", self._sales, methods=["POST"]),
            Route("/_sandbox/write_calls", self._write_calls),
        ]
        return Starlette(
            routes=routes,
            exception_handlers={404: self._not_found, 405: self._not_found},
        )

    # --- sandbox-only ------------------------------------------------------------------

    def record_sale(self, sku: str, quantity: int, seller_id: str | None = None) -> Order:
        """A buyer pays for `quantity` units of `sku` now: a new Unshipped order, less stock."""
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        seller = self._seller(seller_id)
        with self._lock:
            catalog = self._catalog(seller)
            book = self._book(seller)  # index first, so the new order is not counted twice
            item = catalog.by_sku.get(sku)
            if item is None:
                raise KeyError(f"{sku!r} is not an Amazon listing of seller {seller.seller_id}")
            if item.variation.available_quantity < quantity:
                raise InsufficientStock(
                    f"only {item.variation.available_quantity} units of {sku!r} are available"
                )
            now = self.sandbox.clock.now().replace(microsecond=0)
            number = book.next_order_number()
            order = Order(
                order_number=number,
                seller=seller,
                lines=(
                    OrderLine(
                        listing_number=item.listing.listing_number,
                        variation_number=item.variation.variation_number,
                        sku=sku,
                        title=item.listing.title,
                        quantity=quantity,
                        unit_price=item.variation.price,
                    ),
                ),
                buyer=self._buyer(number),
                shipping_cost=Decimal(0),
                timeline=[("pending", now), ("paid", now)],
            )
            self.sandbox.world.orders.append(order)
            book.add(order)
            item.variation.available_quantity -= quantity
            item.updated_ts = now.timestamp()
        self.sandbox.world.order_created(order)
        return order

    def on_order_changed(self, change: OrderChange) -> None:
        """World listener: re-index an order whose timeline changed at runtime."""
        order = change.order
        if change.kind != "status" or order.seller.seller_id not in self.sellers:
            return
        with self._lock:
            book = self._books.get(order.seller.seller_id)
            if book is not None:  # an unbuilt book indexes the new timeline when built
                book.restep(order)
            if change.status == "cancelled":  # a cancelled runtime sale restocked its SKU
                catalog = self._catalog(order.seller)
                for line in order.lines:
                    item = catalog.by_sku.get(line.sku) if line.sku else None
                    if item is not None:
                        item.updated_ts = change.at.timestamp()

    @staticmethod
    def amazon_order_id(order: Order) -> str:
        return amazon_order_id(order.order_number)

    def _buyer(self, number: int) -> Buyer:
        rng = random.Random(f"{self.sandbox.world.seed}:amazon-sale:{number}")
        buyer_id = rng.randrange(100_000_000, 999_999_999)
        return Buyer(
            buyer_id=buyer_id,
            nickname=f"COMPRADOR{buyer_id % 100000}",
            first_name=rng.choice(["Ana", "Bruno", "Carla", "Diego"]),
            last_name=rng.choice(["Silva", "Souza", "Lima"]),
            city="São Paulo",
            state="SP",
        )

    async def _sales(self, request: Request) -> Response:
        try:
            body = await request.json()
            sku, quantity = str(body["sku"]), int(body.get("quantity", 1))
            seller_id = body.get("seller_id")
        except (ValueError, TypeError, KeyError, AttributeError):
            return _json({"error": 'expected {"sku": str, "quantity": int, "seller_id"?}'}, 400)
        try:
            order = self.record_sale(sku, quantity, None if seller_id is None else str(seller_id))
        except KeyError as exc:
            return _json({"error": exc.args[0]}, 404)
        except InsufficientStock as exc:
            return _json({"error": str(exc)}, 409)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        return _json(
            {
                "AmazonOrderId": self.amazon_order_id(order),
                "order_number": order.order_number,
                "selling_partner_id": order.seller.seller_id,
            },
            201,
        )

    # --- indices -----------------------------------------------------------------------

    def _seller(self, seller_id: str | None) -> Seller:
        if seller_id is None:
            if not self.sellers:
                raise KeyError("the World has no Amazon seller")
            return next(iter(self.sellers.values()))
        try:
            return self.sellers[seller_id]
        except KeyError:
            raise KeyError(f"unknown Amazon seller {seller_id}") from None

    def _book(self, seller: Seller) -> OrderBook:
        book = self._books.get(seller.seller_id)
        if book is None:
            book = self._books[seller.seller_id] = OrderBook(self.sandbox.world.orders_of(seller))
        return book

    def _catalog(self, seller: Seller) -> Catalog:
        catalog = self._catalogs.get(seller.seller_id)
        if catalog is None:
            catalog = self._catalogs[seller.seller_id] = Catalog(self.sandbox.world, seller)
        return catalog

    def _opaque(self, kind: str, length: int) -> str:
        digest = hashlib.sha256(
            f"{self.sandbox.world.seed}:{kind}:{next(self._serial)}".encode()
        ).digest()
        return base64.b32encode(digest).decode().rstrip("=")[:length]

    # --- Login with Amazon -------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        fault = await self._roll_fault()
        if fault == "429":
            return _json(
                {"error": "temporarily_unavailable", "error_description": "Rate exceeded"}, 429
            )
        if fault == "5xx":
            return _json(
                {"error": "server_error", "error_description": "Internal Server Error"}, 500
            )
        fields = await self._form(request)
        grant_type = fields.get("grant_type")
        if not grant_type:
            return self._lwa_error(400, "invalid_request", _LWA_MISSING + "grant_type")
        if grant_type not in ("refresh_token", "authorization_code"):
            return _json(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "The authorization grant type is not supported "
                    "by the authorization server",
                },
                400,
            )
        if (
            fields.get("client_id") != LWA_CLIENT_ID
            or fields.get("client_secret") != LWA_CLIENT_SECRET
        ):
            return _json(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                401,
            )
        now = self.sandbox.clock.time()
        if grant_type == "refresh_token":
            refresh_token = fields.get("refresh_token")
            if not refresh_token:
                return self._lwa_error(400, "invalid_request", _LWA_MISSING + "refresh_token")
            seller_id = self._refresh_tokens.get(refresh_token)
            if seller_id is None:
                return self._lwa_error(400, "invalid_grant", _LWA_BAD_GRANT + "refresh_token")
        else:
            code, redirect_uri = fields.get("code"), fields.get("redirect_uri")
            if not code or not redirect_uri:
                missing = "code" if not code else "redirect_uri"
                return self._lwa_error(400, "invalid_request", _LWA_MISSING + missing)
            grant = self._auth_codes.pop(code, None)  # single use, even when it fails
            if grant is None or grant[1] <= now:
                return self._lwa_error(400, "invalid_grant", _LWA_BAD_GRANT + "code")
            if redirect_uri != REDIRECT_URI:
                return self._lwa_error(400, "invalid_grant", _LWA_BAD_GRANT + "redirect_uri")
            seller_id = grant[0]
            refresh_token = "Atzr|IwEB" + self._opaque("refresh", 48)
            self._refresh_tokens[refresh_token] = seller_id
        access_token = "Atza|IwEB" + self._opaque("access", 64)
        self._access_tokens[access_token] = (seller_id, now + ACCESS_TOKEN_SECONDS)
        return _json(
            {
                "access_token": access_token,
                "refresh_token": refresh_token,
                "token_type": "bearer",
                "expires_in": ACCESS_TOKEN_SECONDS,
            },
            headers={"Cache-Control": "no-cache, no-store"},
        )

    @staticmethod
    def _lwa_error(status: int, error: str, description: str) -> Response:
        return _json({"error_description": description, "error": error}, status)

    @staticmethod
    async def _form(request: Request) -> dict[str, str]:
        raw = await request.body()
        if "json" in request.headers.get("content-type", ""):
            # Amazon's own LWA client libraries post JSON; most others post a form.
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))

    async def _consent(self, request: Request) -> Response:
        """Seller Central's consent page, already accepted: straight back to the app."""
        params = request.query_params
        if params.get("application_id") != APPLICATION_ID:
            return _json(
                {"error": "invalid_request", "error_description": "Unknown application_id"}, 400
            )
        state = params.get("state")
        if not state:
            return _json(
                {"error": "invalid_request", "error_description": "state is required"}, 400
            )
        if params.get("redirect_uri", REDIRECT_URI) != REDIRECT_URI:
            return _json(
                {"error": "invalid_request", "error_description": "redirect_uri is not registered"},
                400,
            )
        try:
            seller = self._seller(params.get("selling_partner_id"))
        except KeyError as exc:
            return _json({"error": "invalid_request", "error_description": str(exc)}, 400)
        code = "AN" + self._opaque("code", 18)
        self._auth_codes[code] = (seller.seller_id, self.sandbox.clock.time() + AUTH_CODE_SECONDS)
        query = urlencode(
            {"spapi_oauth_code": code, "selling_partner_id": seller.seller_id, "state": state}
        )
        return RedirectResponse(f"{REDIRECT_URI}?{query}", status_code=302)

    # --- the SP-API request pipeline ---------------------------------------------------

    async def _roll_fault(self) -> str | None:
        fault = self.sandbox.faults.roll()
        if fault == "slow":
            await asyncio.sleep(self.sandbox.faults.slow_seconds)
            return None
        return fault

    def _api(
        self,
        operation: _Operation,
        handler: Callable[[Request, Seller], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """Faults, then the access token, then the operation's quota, then the handler."""

        async def endpoint(request: Request) -> Response:
            headers = {"x-amzn-RequestId": str(uuid.uuid4())}
            fault = await self._roll_fault()
            if fault == "429":
                return self._quota_exceeded(headers, 1.0)
            if fault == "5xx":
                status = 503 if next(self._fault_count) % 2 else 500
                message = (
                    "Service temporarily unavailable. Please try again."
                    if status == 503
                    else "We encountered an internal error. Please try again."
                )
                return _errors(status, "InternalFailure", message, None, headers)
            seller, denial = self._authenticate(request)
            if seller is None:
                return _errors(403, "Unauthorized", _DENIED, denial, headers)
            wait = operation.bucket.take(seller.seller_id)
            if wait is not None:
                return self._quota_exceeded(headers, wait)
            headers["x-amzn-RateLimit-Limit"] = repr(float(operation.rate))
            try:
                response = await handler(request, seller)
            except _ApiError as exc:
                return _errors(exc.status, exc.code, exc.message, exc.details, headers)
            response.headers.update(headers)
            return response

        return endpoint

    @staticmethod
    def _quota_exceeded(headers: dict[str, str], wait: float) -> Response:
        message = "You exceeded your quota for the requested resource."
        retry = {"Retry-After": str(max(1, math.ceil(wait)))}
        return _errors(429, "QuotaExceeded", message, None, headers | retry)

    def _authenticate(self, request: Request) -> tuple[Seller | None, str]:
        token = request.headers.get("x-amz-access-token")
        if not token:
            return None, ""
        grant = self._access_tokens.get(token)
        if grant is None:
            return None, "The access token you provided is revoked, malformed or invalid."
        if self.sandbox.clock.time() >= grant[1]:
            return None, "The access token you provided has expired."
        return self.sellers[grant[0]], ""

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        return _errors(404, "NotFound", "The requested resource was not found.", None, headers)

    # --- Orders v0 ---------------------------------------------------------------------

    async def _get_orders(self, request: Request, seller: Seller) -> Response:
        params = request.query_params
        _marketplaces(request, "MarketplaceIds")
        now = self.sandbox.clock.time()
        token = params.get("NextToken")
        query = _decode_token(token) if token else self._orders_query(request, now)
        if not valid_orders_query(query):
            raise _invalid("The NextToken is invalid.")
        with self._lock:
            found, last = self._book(seller).page(query, now)
        window = "CreatedBefore" if query["m"] == "c" else "LastUpdatedBefore"
        tail = f',"{window}":"{iso(query["b"])}"}}}}'
        if last is not None:
            tail = f',"NextToken":"{_encode_token(query | {"k": last})}"' + tail
        body = '{"payload":{"Orders":[' + ",".join(found) + "]" + tail
        return Response(body, media_type="application/json")

    def _orders_query(self, request: Request, now: float) -> dict[str, Any]:
        params = request.query_params
        created_after, updated_after = params.get("CreatedAfter"), params.get("LastUpdatedAfter")
        created_before, updated_before = (
            params.get("CreatedBefore"),
            params.get("LastUpdatedBefore"),
        )
        if (created_after is None) == (updated_after is None):
            raise _invalid("Exactly one of CreatedAfter and LastUpdatedAfter must be specified.")
        if created_after is not None and updated_before is not None:
            raise _invalid("LastUpdatedBefore cannot be set when CreatedAfter is set.")
        if updated_after is not None and created_before is not None:
            raise _invalid("CreatedBefore cannot be set when LastUpdatedAfter is set.")
        by_creation = created_after is not None
        after_name = "CreatedAfter" if by_creation else "LastUpdatedAfter"
        before_name = "CreatedBefore" if by_creation else "LastUpdatedBefore"
        after = _instant(created_after or updated_after or "", after_name)
        if after > now:
            raise _invalid(f"{after_name} cannot be in the future.")
        latest = math.floor(now - BEFORE_MARGIN_SECONDS)
        raw_before = created_before if by_creation else updated_before
        before = float(latest)
        if raw_before is not None:
            before = _instant(raw_before, before_name)
            if before > now - BEFORE_MARGIN_SECONDS:
                raise _invalid(f"{before_name} must be at least 2 minutes before the current time.")
            if before < after:
                raise _invalid(f"{before_name} must be equal to or after {after_name}.")
        statuses = _csv(request, "OrderStatuses")
        if any(s not in ORDER_STATUSES for s in statuses):
            raise _invalid("Invalid OrderStatuses.")
        channels = _csv(request, "FulfillmentChannels")
        if any(c not in ("AFN", "MFN") for c in channels):
            raise _invalid("Invalid FulfillmentChannels.")
        size = _int_param(request, "MaxResultsPerPage", 100, 1, 100)
        mode = "c" if by_creation else "u"
        return {"m": mode, "a": after, "b": before, "s": statuses, "f": channels, "n": size}

    def _view(self, seller: Seller, order_id: str) -> tuple[OrderBook, AmazonOrder, int]:
        if not _ORDER_ID.match(order_id):
            raise _ApiError(400, "InvalidInput", "Invalid Input", f"Invalid orderId {order_id}.")
        book = self._book(seller)
        view = book.by_amazon_id.get(order_id)
        step = -1 if view is None else view.step_at(self.sandbox.clock.time())
        if view is None or step < 0:
            raise _ApiError(404, "NotFound", "Order not found.", f"Order {order_id} not found.")
        return book, view, step

    async def _get_order(self, request: Request, seller: Seller) -> Response:
        with self._lock:
            book, view, step = self._view(seller, request.path_params["order_id"])
            text = book.order_json(view, step)
        return Response('{"payload":' + text + "}", media_type="application/json")

    async def _get_order_items(self, request: Request, seller: Seller) -> Response:
        order_id = request.path_params["order_id"]
        with self._lock:
            _, view, step = self._view(seller, order_id)
            items = render_order_items(view, step, self._catalog(seller).asins)
        offset = 0
        token = request.query_params.get("NextToken")
        if token:
            state = _decode_token(token)
            if state.get("o") != order_id or not isinstance(state.get("i"), int):
                raise _invalid("The NextToken is invalid.")
            offset = state["i"]
        payload: dict[str, Any] = {"AmazonOrderId": order_id}
        if offset + ORDER_ITEMS_PAGE < len(items):
            payload["NextToken"] = _encode_token({"o": order_id, "i": offset + ORDER_ITEMS_PAGE})
        payload["OrderItems"] = items[offset : offset + ORDER_ITEMS_PAGE]
        return _json({"payload": payload})

    # --- Orders 2026-01-01 -------------------------------------------------------------

    async def _get_order_2026(self, request: Request, seller: Seller) -> Response:
        included = frozenset(_csv(request, "includedData"))
        if not included <= ORDER_2026_INCLUDED:
            unknown = ", ".join(sorted(included - ORDER_2026_INCLUDED))
            raise _invalid(f"Invalid includedData: {unknown}.")
        now = self.sandbox.clock.time()
        with self._lock:
            _, view, step = self._view(seller, request.path_params["order_id"])
            confirmed = list(self._packages.get(view.order.order_number, {}).values())
            body = render_order_2026(
                view, step, now, included, self._catalog(seller).asins, confirmed
            )
        return _json(body)

    # --- Finances v0 -------------------------------------------------------------------

    async def _events_by_order(self, request: Request, seller: Seller) -> Response:
        """listFinancialEventsByOrderId: an unknown order simply has no events; a deferred
        sale is not shown until it is released."""
        order_id = request.path_params["order_id"]
        if not _ORDER_ID.match(order_id):
            raise _ApiError(400, "InvalidInput", "Bad order ID provided.")
        size = _int_param(request, "MaxResultsPerPage", 100, 1, 100)
        offset = 0
        token = request.query_params.get("NextToken")
        if token:
            state = _decode_token(token)
            if state.get("o") != order_id or not isinstance(state.get("i"), int):
                raise _invalid("The NextToken is invalid.")
            offset = state["i"]
        now = self.sandbox.clock.time()
        with self._lock:
            book = self._book(seller)
            view = book.by_amazon_id.get(order_id)
            found = [] if view is None else book.events_of(view, now)
            page = render_financial_events(found[offset : offset + size])
        payload: dict[str, Any] = {}
        if offset + size < len(found):
            payload["NextToken"] = _encode_token({"o": order_id, "i": offset + size})
        payload["FinancialEvents"] = page
        return Response(dumps({"payload": payload}), media_type="application/json")

    async def _events_by_date(self, request: Request, seller: Seller) -> Response:
        """listFinancialEvents: events posted in [PostedAfter, PostedBefore), in posting
        order; a page holds MaxResultsPerPage events, and NextToken resumes after the last.
        The token carries the query; arguments sent with it must be the same."""
        now = self.sandbox.clock.time()
        params = request.query_params
        resume: tuple[float, int, int] | None = None
        if params.get("NextToken"):
            query = _decode_token(params["NextToken"])
            keyset = query.pop("k", None)
            if not _valid_events_query(query) or not _valid_posting(keyset):
                raise _invalid("The NextToken is invalid.")
            sent = "PostedAfter" in params or "PostedBefore" in params
            if sent and self._events_query(request, now) != query:
                raise _invalid("The NextToken does not belong to these arguments.")
            resume = (float(keyset[0]), int(keyset[1]), int(keyset[2]))
        else:
            query = self._events_query(request, now)
        found: list[tuple[AmazonOrder, int]] = []
        last: tuple[float, int, int] | None = None
        with self._lock:
            if query["b"] - query["a"] <= EVENTS_SPAN_SECONDS:
                book = self._book(seller)
                found, last = book.events(query["a"], query["b"], now, resume, query["n"])
            events = render_financial_events(found)
        payload: dict[str, Any] = {}
        if last is not None:
            payload["NextToken"] = _encode_token(query | {"k": list(last)})
        payload["FinancialEvents"] = events
        return Response(dumps({"payload": payload}), media_type="application/json")

    @staticmethod
    def _events_query(request: Request, now: float) -> dict[str, Any]:
        params = request.query_params
        size = _int_param(request, "MaxResultsPerPage", 100, 1, 100)
        raw_after, raw_before = params.get("PostedAfter"), params.get("PostedBefore")
        if raw_after is None:
            raise _invalid("PostedAfter is required.")
        latest = now - BEFORE_MARGIN_SECONDS
        after = _instant(raw_after, "PostedAfter")
        if after > latest:
            raise _invalid("PostedAfter must be at least 2 minutes before the current time.")
        before = float(math.floor(latest))
        if raw_before is not None:
            before = _instant(raw_before, "PostedBefore")
            if before > latest:
                raise _invalid("PostedBefore must be at least 2 minutes before the current time.")
            if before <= after:
                raise _invalid("PostedBefore must be after PostedAfter.")
        return {"a": after, "b": before, "n": size}

    # --- Listings Items 2021-08-01 -----------------------------------------------------

    @staticmethod
    def _own(request: Request, seller: Seller) -> None:
        if request.path_params["seller_id"] != seller.seller_id:
            raise _ApiError(403, "Unauthorized", _DENIED, "")

    @staticmethod
    def _included(request: Request) -> frozenset[str]:
        included = frozenset(_csv(request, "includedData")) or frozenset({"summaries"})
        if not included <= INCLUDED_DATA:
            raise _invalid(f"Invalid includedData: {', '.join(sorted(included - INCLUDED_DATA))}.")
        return included

    async def _search_listings(self, request: Request, seller: Seller) -> Response:
        self._own(request, seller)
        _marketplaces(request, "marketplaceIds")
        included = self._included(request)
        size = _int_param(request, "pageSize", 10, 1, 20)
        params = request.query_params
        offset = 0
        if params.get("pageToken"):
            state = _decode_token(params["pageToken"])
            offset = state.get("o", -1)
            if not isinstance(offset, int) or offset < 0:
                raise _invalid("The pageToken is invalid.")
        with self._lock:
            matches = self._search(request, self._catalog(seller).items)
            page = [render_listing_item(i, included) for i in matches[offset : offset + size]]
        pagination = {}
        if offset + size < min(len(matches), LISTINGS_PAGEABLE):
            pagination["nextToken"] = _encode_token({"o": offset + size})
        if offset > 0:
            pagination["previousToken"] = _encode_token({"o": max(0, offset - size)})
        body: dict[str, Any] = {"numberOfResults": len(matches)}
        if pagination:
            body["pagination"] = pagination
        body["items"] = page
        return _json(body)

    @staticmethod
    def _search(request: Request, items: list[AmazonListing]) -> list[AmazonListing]:
        params = request.query_params
        identifiers = set(_csv(request, "identifiers"))
        kind = params.get("identifiersType")
        if bool(identifiers) != bool(kind):
            raise _invalid("identifiers and identifiersType must be specified together.")
        if (kind is not None and kind not in _IDENTIFIER_TYPES) or len(identifiers) > 20:
            raise _invalid("Invalid identifiers or identifiersType.")
        with_status, without_status = (
            set(_csv(request, "withStatus")),
            set(_csv(request, "withoutStatus")),
        )
        if not (with_status | without_status) <= _LISTING_STATUSES:
            raise _invalid("Invalid withStatus or withoutStatus.")
        bounds = {
            name: _instant(params[name], name)
            for name in ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")
            if name in params
        }
        sort_by = params.get("sortBy", "lastUpdatedDate")
        order = params.get("sortOrder", "DESC")
        if sort_by not in _SORT_FIELDS or order not in ("ASC", "DESC"):
            raise _invalid("Invalid sortBy or sortOrder.")
        parent = params.get("variationParentSku")

        def keep(item: AmazonListing) -> bool:
            if identifiers and identifier(item, kind or "") not in identifiers:
                return False
            statuses = set(item.statuses)
            if with_status and not with_status & statuses:
                return False
            if without_status & statuses:
                return False
            if parent is not None and item.listing.parent_sku != parent:
                return False
            return (
                item.created_ts >= bounds.get("createdAfter", -math.inf)
                and item.created_ts <= bounds.get("createdBefore", math.inf)
                and item.updated_ts >= bounds.get("lastUpdatedAfter", -math.inf)
                and item.updated_ts <= bounds.get("lastUpdatedBefore", math.inf)
            )

        def sort_key(item: AmazonListing) -> tuple[Any, str]:
            if sort_by == "sku":
                return (item.sku, item.sku)
            return (item.created_ts if sort_by == "createdDate" else item.updated_ts, item.sku)

        return sorted(filter(keep, items), key=sort_key, reverse=order == "DESC")

    async def _get_listing(self, request: Request, seller: Seller) -> Response:
        self._own(request, seller)
        _marketplaces(request, "marketplaceIds")
        included = self._included(request)
        sku = request.path_params["sku"]
        with self._lock:
            item = self._catalog(seller).by_sku.get(sku)
            if item is None:
                raise _ApiError(
                    404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {MARKETPLACE_ID}", ""
                )
            body = render_listing_item(item, included)
        return _json(body)

    async def _patch_listing(self, request: Request, seller: Seller) -> Response:
        self._own(request, seller)
        _marketplaces(request, "marketplaceIds")
        mode = request.query_params.get("mode")
        if mode not in (None, "VALIDATION_PREVIEW"):
            raise _invalid("Invalid mode.")
        self.write_calls["patchListingsItem" + (f":{mode}" if mode else "")] += 1
        body = await self._json_body(request)
        sku = request.path_params["sku"]
        with self._lock:
            item = self._catalog(seller).by_sku.get(sku)
            try:
                patch = read_patch(body, None if item is None else item.product_type)
            except Malformed as exc:
                raise _ApiError(400, "InvalidInput", exc.message, exc.details) from None
            issues = patch.issues
            previous = None if item is None else item.variation.available_quantity
            status = "INVALID" if issues else "VALID" if mode else "ACCEPTED"
            # Like Amazon, a patch for an unknown SKU is accepted (it would create an
            # offer-only listing); nothing in the World changes, and the log says so.
            applied = status == "ACCEPTED" and item is not None
            now = self.sandbox.clock.now()
            if applied and item is not None:
                for name, values in patch.replaced.items():
                    if name == "fulfillment_availability" and patch.quantity is not None:
                        item.variation.available_quantity = patch.quantity
                    elif name == "purchasable_offer" and patch.price is not None:
                        item.variation.price = patch.price
                    else:
                        item.submitted[name] = values
                for name in patch.deleted:
                    item.submitted.pop(name, None)
                item.updated_ts = now.timestamp()
            submission_id = self._opaque("submission", 32).lower()
            self.writes.append(
                ListingWrite(
                    at=now,
                    seller_id=seller.seller_id,
                    sku=sku,
                    mode=mode or "APPLY",
                    status=status,
                    submission_id=submission_id,
                    quantity=patch.quantity,
                    previous_quantity=previous,
                    applied=applied,
                )
            )
        return _json(
            {"sku": sku, "status": status, "submissionId": submission_id, "issues": issues}
        )

    @staticmethod
    async def _json_body(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except ValueError:
            raise _ApiError(400, "InvalidInput", _UNPARSABLE, "") from None

    async def _put_listing(self, request: Request, seller: Seller) -> Response:
        """putListingsItem: create or fully replace the SKU's listing, after the product
        type's checks (amazon_listings.read_put); the new listing is in the reads at once."""
        self._own(request, seller)
        _marketplaces(request, "marketplaceIds")
        mode = request.query_params.get("mode")
        if mode not in (None, "VALIDATION_PREVIEW"):
            raise _invalid("Invalid mode.")
        self.write_calls["putListingsItem" + (f":{mode}" if mode else "")] += 1
        body = await self._json_body(request)
        sku = request.path_params["sku"]
        with self._lock:
            catalog = self._catalog(seller)
            known = {s: item.parentage for s, item in catalog.by_sku.items()}
            try:
                submission = read_put(body, known)
            except Malformed as exc:
                raise _ApiError(400, "InvalidInput", exc.message, exc.details) from None
            existing = catalog.by_sku.get(sku)
            if existing is not None and existing.product_type != submission.product_type:
                submission.issues.append(
                    listing_issue(
                        "4000003",
                        f"The product type '{submission.product_type}' does not match the "
                        f"product type '{existing.product_type}' of the listing.",
                        [],
                        "INVALID_ATTRIBUTE",
                    )
                )
            status = "INVALID" if submission.issues else "VALID" if mode else "ACCEPTED"
            now = self.sandbox.clock.now()
            previous = None if existing is None else existing.variation.available_quantity
            if status == "ACCEPTED":
                self._store_listing(seller, catalog, sku, submission, now)
            submission_id = self._opaque("submission", 32).lower()
            self.writes.append(
                ListingWrite(
                    at=now,
                    seller_id=seller.seller_id,
                    sku=sku,
                    mode=mode or "APPLY",
                    status=status,
                    submission_id=submission_id,
                    quantity=submission.quantity,
                    previous_quantity=previous,
                    applied=status == "ACCEPTED",
                    operation="putListingsItem",
                )
            )
        return _json(
            {
                "sku": sku,
                "status": status,
                "submissionId": submission_id,
                "issues": submission.issues,
            }
        )

    def _next_numbers(self) -> tuple[int, int]:
        """Fresh World listing and variation numbers for a listing created through the API."""
        if self._numbers is None:
            world = self.sandbox.world
            self._numbers = (
                max((lst.listing_number for lst in world.listings), default=0),
                max(
                    (v.variation_number for lst in world.listings for v in lst.variations),
                    default=0,
                ),
            )
        listing_number, variation_number = self._numbers[0] + 1, self._numbers[1] + 1
        self._numbers = (listing_number, variation_number)
        return listing_number, variation_number

    def _store_listing(
        self, seller: Seller, catalog: Catalog, sku: str, submission: Submission, now: datetime
    ) -> None:
        definition = PRODUCT_TYPES[submission.product_type]
        price = submission.price if submission.price is not None else Decimal(0)
        quantity = submission.quantity if submission.quantity is not None else 0
        existing = catalog.by_sku.get(sku)
        if existing is not None:
            # A put replaces every attribute; price and stock live on the variation.
            existing.submitted = dict(submission.attributes)
            existing.parentage = submission.parentage
            if submission.price is not None:
                existing.variation.price = price
            if submission.quantity is not None:
                existing.variation.available_quantity = quantity
            existing.updated_ts = now.timestamp()
            return
        listing_number, variation_number = self._next_numbers()
        axes = submission.axes(definition)
        variation = ListingVariation(variation_number, sku, axes, price, quantity)
        listing = Listing(
            listing_number=listing_number,
            seller=seller,
            title=submission.item_name,
            category=definition.display_name,
            parent_sku=submission.parent_sku or sku,
            variations=[variation],
            status="active",
            created_at=now,
            has_variations=bool(submission.parentage),
        )
        world = self.sandbox.world
        world.listings.append(listing)
        world.listings_by_number[listing_number] = listing
        item = AmazonListing(
            sku=sku,
            listing=listing,
            variation=variation,
            product=None,
            asin=asin_for(listing.parent_sku, (("SKU", sku), *axes)),
            product_type=submission.product_type,
            created_ts=now.timestamp(),
            updated_ts=now.timestamp(),
            submitted=dict(submission.attributes),
            parentage=submission.parentage,
            api_created=True,
        )
        catalog.items.append(item)
        catalog.by_sku[sku] = item
        catalog.asins[variation_number] = item.asin

    # --- Product Type Definitions 2020-09-01 -------------------------------------------

    async def _search_product_types(self, request: Request, seller: Seller) -> Response:
        _marketplaces(request, "marketplaceIds")
        keywords = _csv(request, "keywords")
        item_name = request.query_params.get("itemName")
        if keywords and item_name:
            raise _invalid("Only one of keywords and itemName may be specified.")
        words = keywords or (item_name.split() if item_name else [])
        found = search_product_types(words)
        return _json(
            {
                "productTypes": [
                    {
                        "name": d.name,
                        "displayName": d.display_name,
                        "marketplaceIds": [MARKETPLACE_ID],
                    }
                    for d in found
                ],
                "productTypeVersion": "SANDBOX-1",
            }
        )

    async def _product_type_definition(self, request: Request, seller: Seller) -> Response:
        _marketplaces(request, "marketplaceIds")
        params = request.query_params
        if params.get("requirements", "LISTING") not in (
            "LISTING",
            "LISTING_PRODUCT_ONLY",
            "LISTING_OFFER_ONLY",
        ):
            raise _invalid("Invalid requirements.")
        name = request.path_params["product_type"]
        definition = PRODUCT_TYPES.get(name)
        if definition is None:
            raise _ApiError(404, "NOT_FOUND", f"Product type '{name}' is not found.", "")
        base = str(request.url).split("/definitions/", 1)[0]
        checksum = hashlib.md5(  # noqa: S324 - a checksum, as Amazon's
            dumps(schema_document(definition)).encode()
        ).hexdigest()
        return _json(
            definition_body(
                definition,
                f"{base}/_sandbox/schemas/{name}",
                f"{base}/_sandbox/meta-schema",
                checksum,
            )
        )

    async def _schema(self, request: Request) -> Response:
        """The schema document behind a definition's link (Amazon: a pre-signed S3 URL,
        fetched without the SP-API access token)."""
        definition = PRODUCT_TYPES.get(request.path_params["product_type"])
        if definition is None:
            return Response("<Error><Code>NoSuchKey</Code></Error>", 404)
        return _json(schema_document(definition))

    async def _meta_schema(self, request: Request) -> Response:
        return _json(META_SCHEMA)

    async def _write_calls(self, request: Request) -> Response:
        return _json({"total": self.write_count(), "by_operation": dict(self.write_calls)})

    def write_count(self) -> int:
        """Write requests that could have changed something (previews excluded)."""
        return sum(n for op, n in self.write_calls.items() if ":" not in op)

    # --- Orders v0 confirmShipment -----------------------------------------------------

    async def _confirm_shipment(self, request: Request, seller: Seller) -> Response:
        """confirmShipment: the seller's package of an MFN order, 204 when accepted. The same
        packageReferenceId again edits that package; the order is Shipped once every unit
        is in a package."""
        self.write_calls["confirmShipment"] += 1
        order_id = request.path_params["order_id"]
        body = await self._json_body(request)
        detail, items = self._read_confirmation(body)
        now = self.sandbox.clock.now()
        ship_at = _instant(detail["shipDate"], "shipDate")
        advance: Order | None = None
        with self._lock:
            _, view, step = self._view(seller, order_id)
            status = view.steps[step][0]
            if view.afn:
                raise _ApiError(
                    400,
                    "InvalidInput",
                    "Shipment confirmation is not allowed for orders fulfilled by Amazon.",
                    f"Order {order_id} is fulfilled by Amazon (AFN).",
                )
            if status == "Canceled":
                raise _ApiError(
                    400, "InvalidInput", f"Order {order_id} is canceled and cannot be shipped.", ""
                )
            if status in ("Pending", "PendingAvailability"):
                raise _ApiError(
                    400, "InvalidInput", f"Order {order_id} is pending and cannot be shipped.", ""
                )
            order = view.order
            ordered = {
                order_item_id(order.order_number, index): line.quantity
                for index, line in enumerate(order.lines)
            }
            for item_id, quantity in items:
                if item_id not in ordered:
                    raise _ApiError(
                        400,
                        "InvalidInput",
                        f"OrderItemId {item_id} is invalid, please obtain the value through "
                        "the getOrderItems API or Manage Orders page",
                        "",
                    )
                if quantity > ordered[item_id]:
                    raise _invalid(f"Quantity {quantity} exceeds the ordered quantity.")
            packages = self._packages.setdefault(order.order_number, {})
            reference = detail["packageReferenceId"]
            edit = reference in packages
            shipped: Counter[str] = Counter()
            for ref, package in packages.items():
                if ref != reference:
                    for entry in package["packageItems"]:
                        shipped[entry["orderItemId"]] += entry["quantity"]
            already = status == "Shipped" and not packages
            if already or any(shipped[i] + q > ordered[i] for i, q in items):
                raise _ApiError(
                    400,
                    "InvalidInput",
                    "Failed to create package due to not finding a matching package or order "
                    "already fulfilled.",
                    "",
                )
            carrier = detail.get("carrierName") or detail["carrierCode"]
            packages[reference] = {
                "packageReferenceId": reference,
                "createdTime": iso(now.timestamp()),
                "packageStatus": {"status": "SHIPPED"},
                "carrier": carrier,
                "shipTime": iso(ship_at),
                **(
                    {"shippingService": detail["shippingMethod"]}
                    if detail.get("shippingMethod")
                    else {}
                ),
                "trackingNumber": detail["trackingNumber"],
                "packageItems": [{"orderItemId": i, "quantity": q} for i, q in items],
                "_updated_ts": now.timestamp(),
            }
            for i, q in items:
                shipped[i] += q
            if status == "Unshipped" and all(shipped[i] >= q for i, q in ordered.items()):
                advance = order
            self.shipment_confirmations.append(
                ShipmentConfirmation(
                    at=now,
                    order_id=order_id,
                    package_reference_id=reference,
                    carrier_code=detail["carrierCode"],
                    carrier_name=detail.get("carrierName"),
                    tracking_number=detail["trackingNumber"],
                    items=tuple(items),
                    edit=edit,
                )
            )
        if advance is not None:
            # Outside the lock: the World announces the change to on_order_changed.
            self.sandbox.world.advance_order(advance, "shipped", now)
        return Response(status_code=204)

    @staticmethod
    def _read_confirmation(body: Any) -> tuple[dict[str, Any], list[tuple[str, int]]]:
        if not isinstance(body, dict):
            raise _ApiError(400, "InvalidInput", "Invalid Input", "")
        if body.get("marketplaceId") != MARKETPLACE_ID:
            raise _invalid(f"Invalid marketplaceId: this seller only sells in {MARKETPLACE_ID}.")
        detail = body.get("packageDetail")
        if not isinstance(detail, dict):
            raise _invalid("packageDetail is required.")
        for name in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate"):
            if not isinstance(detail.get(name), str) or not detail[name].strip():
                raise _invalid(f"packageDetail.{name} is required.")
        reference = detail["packageReferenceId"]
        if not reference.isdigit() or int(reference) <= 0:
            raise _ApiError(
                400,
                "InvalidInput",
                "PackageReferenceId: is invalid, must be a positive numeric value.",
                "",
            )
        if detail["carrierCode"] == "Other" and not detail.get("carrierName"):
            raise _invalid("carrierName is required when carrierCode is Other.")
        raw_items = detail.get("orderItems")
        if not isinstance(raw_items, list) or not raw_items:
            raise _invalid("packageDetail.orderItems must have at least one item.")
        items: list[tuple[str, int]] = []
        for entry in raw_items:
            item_id = entry.get("orderItemId") if isinstance(entry, dict) else None
            quantity = entry.get("quantity") if isinstance(entry, dict) else None
            if (
                not isinstance(item_id, str)
                or isinstance(quantity, bool)
                or not isinstance(quantity, int)
                or quantity < 1
            ):
                raise _invalid(
                    "Each orderItems entry needs an orderItemId and a quantity of 1 or more."
                )
            items.append((item_id, quantity))
        return detail, items

    # --- Delivery by Amazon 2022-07-01 (Brazil): NF-e of seller-shipped orders ---------

    async def _submit_invoice(self, request: Request, seller: Seller) -> Response:
        """submitInvoice: the request is checked at once (400s); the NF-e document itself is
        judged as Amazon's asynchronous validation would, its verdict shown by
        getInvoiceStatus (Accepted, or Rejected)."""
        self.write_calls["submitInvoice"] += 1
        order_id = request.query_params.get("orderId")
        shipment_id = request.query_params.get("shipmentId")
        body = await self._json_body(request)
        if not isinstance(body, dict):
            raise _ApiError(400, "InvalidInput", _UNPARSABLE, "")
        for name in ("invoiceContent", "contentMD5Value", "invoiceType", "programType"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _ApiError(400, "InvalidInput", _UNPARSABLE, f"{name} is required.")
        if body.get("marketplaceId") != MARKETPLACE_ID:
            raise _invalid(f"Invalid marketplaceId: this API serves {MARKETPLACE_ID} only.")
        if body["invoiceType"] != "Outbound":
            raise _invalid(f"Invalid invoiceType {body['invoiceType']}.")
        program = body["programType"]
        if program not in ("EasyShip", "FbaOnSite", "SelfShip"):
            raise _invalid(f"Invalid programType {program}.")
        try:
            document = base64.b64decode(body["invoiceContent"], validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("invoiceContent is not valid Base64.") from None
        digest = hashlib.md5(document).digest()  # noqa: S324 - Amazon's Content-MD5
        # The model's own examples spell the MD5 in hex, while the Content-MD5 page it links
        # to says Base64: both are accepted (which Amazon requires is UNCONFIRMED).
        if body["contentMD5Value"] not in (digest.hex(), base64.b64encode(digest).decode()):
            raise _invalid("contentMD5Value does not match the invoice content.")
        if not order_id:
            entity = ("ShipmentId", shipment_id) if shipment_id else ("OrderId", "")
            raise _ApiError(
                400, "EntityNotFound", f"Entity ({entity[0]}, {entity[1]}) was not found", ""
            )
        now = self.sandbox.clock.now()
        with self._lock:
            book = self._book(seller)
            view = book.by_amazon_id.get(order_id)
            step = -1 if view is None else view.step_at(now.timestamp())
            if view is None or step < 0:
                raise _ApiError(
                    400, "EntityNotFound", f"Entity (OrderId, {order_id}) was not found", ""
                )
            status = view.steps[step][0]
            if view.afn or program != "SelfShip":
                raise _invalid(
                    f"Order {order_id} is not a {program} order: "
                    + ("Amazon invoices the orders it fulfils." if view.afn else "it is SelfShip.")
                )
            if status == "Canceled":
                raise _invalid(f"Order {order_id} is canceled; no invoice can be submitted.")
            if status in ("Pending", "PendingAvailability"):
                raise _invalid(f"Order {order_id} is pending payment; it cannot be invoiced yet.")
            if any(i.order_id == order_id and i.status == "Accepted" for i in self.invoices):
                raise _invalid(f"An invoice has already been accepted for order {order_id}.")
            key, problem = nfe_key_of(document)
            verdict = "Rejected" if problem else "Accepted"
            self.invoices.append(SubmittedInvoice(now, order_id, key, verdict, problem))
            number = view.order.order_number
            book.invoice_status[number] = "Accepted" if verdict == "Accepted" else "Errored"
            book.forget(number)
        return _json({})

    async def _invoice_status(self, request: Request, seller: Seller) -> Response:
        params = request.query_params
        if params.get("marketplaceId") != MARKETPLACE_ID:
            raise _invalid("marketplaceId is required.")
        if params.get("invoiceType") != "Outbound":
            raise _invalid("invoiceType is required.")
        if params.get("programType") not in ("EasyShip", "FbaOnSite", "SelfShip"):
            raise _invalid("programType is required.")
        order_id = params.get("orderId")
        key = params.get("invoiceId")
        with self._lock:
            found = [
                i
                for i in self.invoices
                if (order_id and i.order_id == order_id)
                or (not order_id and key and i.access_key == key)
            ]
        if not found:
            return _json(
                {"amazonOrderId": order_id or "", "invoiceStatus": "NotFound", "invoices": []}
            )
        statuses = {i.status for i in found}
        overall = (
            "Accepted"
            if statuses == {"Accepted"}
            else "Rejected"
            if statuses == {"Rejected"}
            else "PartiallyAccepted"
        )
        return _json(
            {
                "amazonOrderId": found[-1].order_id,
                "invoiceStatus": "Accepted" if found[-1].status == "Accepted" else "Errored",
                "orderInvoicingStatus": overall,
                "invoices": [{"id": i.access_key or "", "status": i.status} for i in found],
            }
        )
