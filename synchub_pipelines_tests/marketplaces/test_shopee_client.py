"""The Shopee client: real payload samples, signing, the error envelope, and the client
against the sandbox simulator over real HTTP on loopback, with faults injected.

The sandbox clock is pinned an hour after the world's anchor (orders are caught mid-life)
and the client's clock follows it: Shopee refuses a request timestamp more than 5 minutes
off its own clock, and advancing the sandbox clock expires tokens on both sides at once.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from synchub_pipelines.marketplaces import shopee as shopee_client
from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    MarketplaceError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from synchub_pipelines.marketplaces.http import ApiHttp, HttpSettings
from synchub_pipelines.marketplaces.shopee import (
    ShopeeApp,
    ShopeeClient,
    SPItemList,
    SPOrder,
    SPOrderList,
    classify,
    listing_of_item,
    listings_of_models,
    order_from_shopee,
    order_windows,
    parse_items,
    parse_orders,
    sign_public,
    sign_shop,
)
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore, TokenSet, iter_secret_values
from synchub_pipelines.models import (
    Listing,
    ListingStatus,
    LogisticMode,
    Order,
    OrderStatus,
    ShipmentStatus,
    Store,
    hash_buyer,
)
from synchub_pipelines.sandbox import shopee as shopee_sandbox
from synchub_pipelines.sandbox.infra import Faults
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.shopee_render import (
    SHOPEE_STATUS,
    item_id_of,
    order_sn,
    returned_after_release,
)
from synchub_pipelines.sandbox.world import Listing as WorldListing
from synchub_pipelines.sandbox.world import Order as WorldOrder
from synchub_pipelines_tests.conftest import PAYLOADS as ALL_PAYLOADS

PAYLOADS = ALL_PAYLOADS / "shopee"
SALT = "test-salt"
STORE = Store.of("shopee", "880012345", "Sample shop")
ANCHOR = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
CLOCK_AT = ANCHOR + timedelta(hours=1)
FAST = HttpSettings(backoff_base_seconds=0.01, backoff_max_seconds=0.2, max_attempts=8)
DAY = 86_400


def _payload(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return body


def _sample_order() -> dict[str, Any]:
    order: dict[str, Any] = _payload("order_get_order_detail_response.json")["response"][
        "order_list"
    ][0]
    return copy.deepcopy(order)


# --- real payloads -------------------------------------------------------------------------


def test_order_detail_sample_maps_to_the_canonical_order() -> None:
    body = _payload("order_get_order_detail_response.json")
    assert body["error"] == ""
    page = parse_orders(body["response"]["order_list"], STORE, SALT)
    assert page.rejects == []
    [order] = page.records
    assert order.order_id == "2404098R48U37H"
    assert (order.status, order.raw_status) == (OrderStatus.DELIVERED, "COMPLETED")
    assert order.created_at == datetime(2024, 4, 8, 18, 39, 51, tzinfo=UTC)
    assert order.updated_at == datetime(2024, 4, 15, 0, 12, 28, tzinfo=UTC)
    assert order.business_date == date(2024, 4, 8)
    assert order.currency == "VND"
    # The line before its flash sale, exactly; the sale's 252 000 is the line's discount.
    assert order.items_amount == Decimal("300000")
    # The order detail states no buyer-paid shipping (estimated_shipping_fee is Shopee's
    # estimate of the carrier's charge) and no fee: both come from the escrow.
    assert order.shipping_paid_by_buyer is None
    assert order.total_amount == Decimal("32119")
    assert (order.fee_amount, order.payout_amount, order.fees_final) == (None, None, None)
    assert order.buyer_hash == hash_buyer("shopee", 1170319091, SALT)
    assert (order.buyer_city, order.buyer_state) == ("Huyện Phước Long", "Bạc Liêu")
    [item] = order.items
    assert (item.listing_id, item.variation_id) == ("23620853561", "221404189791")
    assert item.line_ref == "23620853561:221404189791"
    assert item.seller_sku == "QAZ-SADOER-05"
    assert (item.quantity, item.unit_price, item.line_amount) == (
        1,
        Decimal("300000"),
        Decimal("300000"),
    )
    assert (item.discount_amount, item.fee) == (Decimal("252000"), None)
    # The package, inline: COD paid at delivery, so the pay time follows the pickup.
    [package] = order.shipments
    assert (package.shipment_id, package.status, package.raw_status) == (
        "OFG166300791210964",
        ShipmentStatus.DELIVERED,
        "LOGISTICS_DELIVERY_DONE",
    )
    assert (package.carrier, package.logistic_type, package.logistic_mode) == (
        "5-Day Delivery (SPX)",
        "18080",
        LogisticMode.SELLER,
    )
    assert package.ship_by == datetime.fromtimestamp(1712671200, UTC)
    assert package.shipped_at == datetime.fromtimestamp(1712726577, UTC)
    assert package.delivered_at is None and package.tracking_number is None
    assert (package.buyer_city, package.buyer_state) == ("Huyện Phước Long", "Bạc Liêu")
    assert [(e.status, int(e.at.timestamp())) for e in order.status_events] == [
        (OrderStatus.PENDING, 1712601591),
        (OrderStatus.PAID, 1712817766),
        (OrderStatus.SHIPPED, 1712726577),
    ]
    assert item.title is not None and item.title.startswith("🦋giảm giá🦋")
    # LGPD: nothing of the buyer's name, username, phone or street survives.
    dumped = order.model_dump_json()
    for personal in ("xt4fdsf96j", "P******n", "******64", "Ấp******"):
        assert personal not in dumped


def test_order_list_sample() -> None:
    body = _payload("order_get_order_list_response.json")
    page = SPOrderList.model_validate(body["response"])
    assert (page.more, page.next_cursor) == (True, "20")
    assert len(page.order_list) == 10
    assert page.order_list[0].order_sn == "201218V2Y6E59M"


def test_item_list_sample() -> None:
    body = _payload("product_get_item_list_response.json")
    page = SPItemList.model_validate(body["response"])
    assert [(i.item_id, i.item_status) for i in page.item] == [(2500139861, "NORMAL")]
    assert (page.total_count, page.has_next_page, page.next_offset) == (19, True, 10)


def test_item_base_info_sample() -> None:
    body = _payload("product_get_item_base_info_response.json")
    items, rejects = parse_items(body["response"]["item_list"], STORE.store_id)
    assert rejects == []
    [item] = items
    assert (item.item_id, item.category_id, item.has_model) == (34002, 14646, True)
    assert item.item_sku is None  # the doc's "-" placeholder is no SKU
    # As a listing of its own (an item without models), price and stock come from the item.
    listing = listing_of_item(item.model_copy(update={"has_model": False}), STORE.store_id)
    assert listing == Listing(
        store_id=STORE.store_id,
        listing_id="34002",
        variation_id="",
        title="seller discount",
        status=ListingStatus.ACTIVE,
        raw_status="NORMAL",
        price=Decimal("122.02"),
        currency="SGD",
        available_quantity=100,
        category_id="14646",
        updated_at=datetime(2020, 9, 20, 3, 30, 40, tzinfo=UTC),
    )


def test_model_list_sample_without_model_ids_is_rejected_with_the_reason() -> None:
    # The doc sample leaves model_id out: a model we cannot address is quarantined.
    body = _payload("product_get_model_list_response.json")
    items, _ = parse_items(
        _payload("product_get_item_base_info_response.json")["response"]["item_list"],
        STORE.store_id,
    )
    raw_models = body["response"]["model"]
    page = listings_of_models(items[0], raw_models, STORE.store_id)
    assert page.records == []
    [rejected] = page.rejects
    assert rejected.source == "shopee.models"
    assert rejected.record_key == "34002:<no model id>"
    assert "model_id" in rejected.reason
    assert json.loads(rejected.payload)["model_sku"] == "blue bag"
    # With its id, the same model is one listing priced and stocked per model.
    page = listings_of_models(items[0], [{**raw_models[0], "model_id": 9}], STORE.store_id)
    assert page.rejects == []
    [listing] = page.records
    assert (listing.listing_id, listing.variation_id, listing.seller_sku) == (
        "34002",
        "9",
        "blue bag",
    )
    assert (listing.price, listing.currency, listing.available_quantity) == (
        Decimal("100"),
        "TWD",
        0,
    )
    assert listing.gtin is None  # "-" is no GTIN


def test_business_date_is_the_local_day_of_a_late_evening_order() -> None:
    raw = _sample_order()
    raw["create_time"] = 1712629800  # 2024-04-09 02:30 UTC = 2024-04-08 23:30 in São Paulo
    order = order_from_shopee(SPOrder.model_validate(raw), STORE, SALT)
    assert order.business_date == date(2024, 4, 8)


@pytest.mark.parametrize(
    ("raw_status", "expected"),
    [
        ("UNPAID", OrderStatus.PENDING),
        ("READY_TO_SHIP", OrderStatus.PAID),
        ("PROCESSED", OrderStatus.PAID),
        ("RETRY_SHIP", OrderStatus.PAID),
        ("INVOICE_PENDING", OrderStatus.PAID),
        ("IN_CANCEL", OrderStatus.PAID),
        ("SHIPPED", OrderStatus.SHIPPED),
        ("TO_CONFIRM_RECEIVE", OrderStatus.DELIVERED),
        ("COMPLETED", OrderStatus.DELIVERED),
        ("CANCELLED", OrderStatus.CANCELLED),
        ("TO_RETURN", OrderStatus.RETURNED),
    ],
)
def test_status_normalization(raw_status: str, expected: OrderStatus) -> None:
    raw = {**_sample_order(), "order_status": raw_status}
    order = order_from_shopee(SPOrder.model_validate(raw), STORE, SALT)
    assert (order.status, order.raw_status) == (expected, raw_status)


def test_brazilian_address_keeps_the_state_code() -> None:
    raw = _sample_order()
    raw["recipient_address"] = {"city": "Campinas", "state": "São Paulo", "region": "BR"}
    order = order_from_shopee(SPOrder.model_validate(raw), STORE, SALT)
    assert (order.buyer_city, order.buyer_state) == ("Campinas", "SP")
    assert (order.shipments[0].buyer_city, order.shipments[0].buyer_state) == ("Campinas", "SP")


def test_an_unpaid_order_has_paid_nothing_and_a_paid_one_must_state_its_total() -> None:
    raw = {**_sample_order(), "order_status": "UNPAID"}
    del raw["total_amount"], raw["pay_time"]
    order = order_from_shopee(SPOrder.model_validate(raw), STORE, SALT)
    assert (order.status, order.total_amount, order.items_amount) == (
        OrderStatus.PENDING,
        Decimal(0),
        Decimal("300000"),
    )
    no_total = {k: v for k, v in _sample_order().items() if k != "total_amount"}
    page = parse_orders([no_total], STORE, SALT)
    assert page.records == [] and "total_amount" in page.rejects[0].reason


def test_malformed_orders_are_rejected_with_a_reason_and_the_page_goes_on() -> None:
    good = _sample_order()
    no_lines = {k: v for k, v in _sample_order().items() if k != "item_list"}
    unknown_status = {**_sample_order(), "order_sn": "2404098R48U999", "order_status": "LOST"}
    page = parse_orders([no_lines, good, unknown_status, "junk"], STORE, SALT)
    assert [o.order_id for o in page.records] == ["2404098R48U37H"]
    assert [r.record_key for r in page.rejects] == ["2404098R48U37H", "2404098R48U999", "<no id>"]
    assert "item_list" in page.rejects[0].reason
    assert "order_status" in page.rejects[1].reason
    assert all(r.source == "shopee.orders" and r.store_id == STORE.store_id for r in page.rejects)
    assert json.loads(page.rejects[1].payload)["order_status"] == "LOST"


# --- signing, windows and errors -------------------------------------------------------------


def test_signature_worked_examples() -> None:
    # By hand from the documented algorithm: the base string is partner_id + api path +
    # timestamp (+ access_token + shop_id for shop calls), HMAC-SHA256 keyed with the partner
    # key, lowercase hex. The expected digests were computed once with Python's hmac on these
    # literal base strings:
    #   "2001887/api/v2/auth/token/get1700000000"
    #   "2001887/api/v2/order/get_order_list1700000000tok123880012345"
    #   "2001887/api/v2/shop/auth_partner1700000000"
    key = "test-partner-key"
    assert (
        sign_public(key, 2001887, "/api/v2/auth/token/get", 1700000000)
        == "313fa4d01454b434d4a218f576e7d68a10dc41f9d37d30bac8087603ac214d97"
    )
    assert (
        sign_shop(key, 2001887, "/api/v2/order/get_order_list", 1700000000, "tok123", 880012345)
        == "a04d2627d50a04a8c6e79d867c40fa2e97f7cb746172ef5f7e3595a487de7ff3"
    )
    app = ShopeeApp(
        partner_id=2001887,
        partner_key=SecretStr(key),
        redirect_uri="https://example.com/cb?tenant=t1",
        clock=lambda: 1700000000.7,
    )
    url, state = app.authorization_url("st")
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("partner.shopeemobile.com", "/api/v2/shop/auth_partner")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "partner_id": "2001887",
        "timestamp": "1700000000",
        "sign": "7a10d9497d05c0ab82c8f1a07de662b31cecafcc23903790386ad088d70ddafc",
        "redirect": "https://example.com/cb?tenant=t1&state=st",
    }
    assert state == "st"


def test_order_windows_split_at_15_days_and_keep_whole_seconds() -> None:
    start = datetime(2026, 1, 1, 3, 0, 0, 500_000, tzinfo=UTC)  # ends mid-second
    end = start + timedelta(days=31)
    lo, hi = int(start.timestamp()) + 1, int(end.timestamp())  # ceil(start), ceil(end) - 1
    windows = order_windows(start, end)
    assert windows == [
        (lo, lo + 15 * DAY),
        (lo + 15 * DAY + 1, lo + 30 * DAY + 1),
        (lo + 30 * DAY + 2, hi),
    ]
    assert order_windows(end, start) == []


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


def _envelope(error: str, message: str = "m") -> dict[str, Any]:
    return {"request_id": "RID1", "error": error, "message": message}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, _envelope("error_sign", "Wrong sign."), AuthError),
        (200, _envelope("invalid_access_token"), AuthError),
        (200, _envelope("invalid_acceess_token"), AuthError),  # the doc's own spelling
        (200, _envelope("error_auth", "Invalid refresh_token."), AuthError),
        (403, _envelope("error_auth"), AuthError),
        (200, _envelope("refresh_token_expired"), AuthError),
        (200, _envelope("error_rate_limit"), RateLimitedError),
        (429, _envelope("error_rate_limit"), RateLimitedError),
        (500, _envelope("error_server"), TransientError),
        (200, _envelope("error_server"), TransientError),
        (200, _envelope("error_param", "Timestamp is expired."), InvalidRequestError),
        (200, _envelope("order.order_list_invalid_time"), InvalidRequestError),
        (200, _envelope("error_not_found"), NotFoundError),
        (404, _envelope("error_param"), NotFoundError),
        (200, _envelope("error_limit"), MarketplaceError),
        (502, b"<html>bad gateway</html>", TransientError),
        (200, b"<html>cut off", TransientError),
    ],
)
def test_error_envelopes(status: int, body: Any, expected: type[Exception]) -> None:
    error = classify(_response(status, body, {"retry-after": "3"}), "order.get_order_list")
    assert type(error) is expected
    assert error is not None and error.status == status
    if isinstance(body, dict):
        assert error.code == body["error"] and error.request_id == "RID1"
        assert "RID1" in str(error)
    if isinstance(error, RateLimitedError):
        assert error.retry_after == 3.0
    assert not error.retryable if expected is MarketplaceError else True


def test_success_envelope_is_no_error() -> None:
    assert classify(_response(200, {"error": "", "message": "", "response": {}}), "x") is None
    # The token calls answer flat, without `response`.
    assert classify(_response(200, {"access_token": "a", "error": ""}), "x") is None


def test_rate_limit_waits_as_long_as_retry_after_says(caplog: pytest.LogCaptureFixture) -> None:
    answers = iter(
        [
            _response(429, _envelope("error_rate_limit"), {"retry-after": "0.3"}),
            _response(200, _envelope("error_rate_limit")),  # in a 200, without a hint
            _response(200, {"error": "", "message": "", "response": {"ok": 1}}),
        ]
    )
    http = ApiHttp(
        "shopee",
        "http://shopee.invalid",
        classify,
        settings=HttpSettings(backoff_base_seconds=0.01, backoff_max_seconds=5),
        transport=httpx.MockTransport(lambda request: next(answers)),
    )
    caplog.set_level(logging.WARNING, logger="synchub.http")
    try:
        response = http.send("product.get_item_list", lambda: http.build("GET", "/x"))
    finally:
        http.close()
    assert response.json()["response"] == {"ok": 1}
    assert http.stats["errors.RateLimitedError"] == 2
    pauses = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(pauses) == 2
    assert "retrying in 0.3s" in pauses[0]  # the hint, not the 0.01 s backoff


# --- against the sandbox -------------------------------------------------------------------


@dataclass
class Recorder:
    """A loopback transport that logs each request and may rewrite answers."""

    events: list[tuple[str, ...]] = field(default_factory=list)
    bodies: list[tuple[str, Any]] = field(default_factory=list)
    rewrite: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None

    def transport(self) -> httpx.BaseTransport:
        recorder = self

        class _Transport(httpx.HTTPTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                path = request.url.path.removeprefix("/shopee")
                token = request.url.params.get("access_token", "")
                recorder.events.append(("request", path, str(request.url.query, "ascii"), token))
                if request.content:
                    recorder.bodies.append((path, json.loads(request.content)))
                response = super().handle_request(request)
                if recorder.rewrite is None:
                    return response
                response.read()
                body = recorder.rewrite(path, response.json())
                return httpx.Response(response.status_code, json=body)

        return _Transport()

    def queries(self, path: str) -> list[dict[str, str]]:
        return [
            {k: v[0] for k, v in parse_qs(query).items()}
            for kind, called, query, _ in self.events
            if kind == "request" and called == path
        ]


class RecordingStore(MemoryTokenStore):
    def __init__(self, events: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.events = events

    def save(self, store_id: str, tokens: TokenSet) -> None:
        self.events.append(("save", tokens.access_token.get_secret_value()))
        super().save(store_id, tokens)


@dataclass
class Connected:
    running: RunningSandbox
    app: ShopeeApp
    store: Store
    token_store: MemoryTokenStore

    @property
    def sandbox(self) -> Sandbox:
        return self.running.sandbox

    @property
    def simulator(self) -> Any:
        return self.sandbox.simulators["shopee"]

    def client(self, recorder: Recorder | None = None) -> ShopeeClient:
        http = None
        if recorder is not None:
            http = self.app.new_http(recorder.transport(), shop_id=self.store.seller_id)
        return ShopeeClient(self.app, self.store, self.token_store, SALT, http=http)

    def tokens(self) -> TokenSet:
        tokens = self.token_store.load(self.store.store_id)
        assert tokens is not None
        return tokens

    def expire_locally(self) -> TokenSet:
        """Mark the stored access token as expired (as the 4 h lifetime would)."""
        past = datetime.fromtimestamp(self.app.clock(), tz=UTC) - timedelta(minutes=1)
        expired = self.tokens().model_copy(update={"access_expires_at": past})
        self.token_store.save(self.store.store_id, expired)
        return expired


def _sandbox_app(running: RunningSandbox) -> ShopeeApp:
    return ShopeeApp(
        partner_id=shopee_sandbox.PARTNER_ID,
        partner_key=SecretStr(shopee_sandbox.PARTNER_KEY),
        redirect_uri=shopee_sandbox.REDIRECT_URL,
        api_url=running.base_url("shopee"),
        requests_per_second=500,
        http=FAST,
        clock=running.sandbox.clock.time,
    )


def _start(faults: Faults | None = None) -> RunningSandbox:
    sandbox = Sandbox(SandboxConfig(seed=7, size="tiny", anchor=ANCHOR, faults=faults or Faults()))
    sandbox.clock.advance(CLOCK_AT.timestamp() - time.time())
    return RunningSandbox(sandbox).start()


def _connect(running: RunningSandbox, token_store: MemoryTokenStore | None = None) -> Connected:
    app = _sandbox_app(running)
    url, state = app.authorization_url()
    redirect = httpx.get(url, follow_redirects=False)
    assert redirect.status_code == 302, redirect.text
    location = httpx.URL(redirect.headers["location"])
    assert str(location).startswith(shopee_sandbox.REDIRECT_URL)
    assert location.params["state"] == state
    shop_id = location.params["shop_id"]
    http = app.new_http()
    try:
        tokens = app.exchange_code(http, location.params["code"], shop_id)
        with pytest.raises(AuthError) as used:  # the code is single-use
            app.exchange_code(http, location.params["code"], shop_id)
        assert used.value.code == "invalid_code"
    finally:
        http.close()
    store = Store.of("shopee", shop_id, "Loja Shopee")
    token_store = token_store if token_store is not None else MemoryTokenStore()
    token_store.save(store.store_id, tokens)
    return Connected(running, app, store, token_store)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    running = _start(Faults(seed=5))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def connected(running: RunningSandbox) -> Connected:
    return _connect(running)


@pytest.fixture
def own() -> Iterator[Connected]:
    """A sandbox of its own, for tests that move the clock or spend tokens."""
    running = _start()
    yield _connect(running, RecordingStore([]))
    running.stop()


def _drain_listings(client: ShopeeClient) -> list[Listing]:
    listings = []
    for page in client.iter_listings():
        assert page.rejects == []
        listings += page.records
    return listings


def _drain_orders(client: ShopeeClient, by: str = "created", **window: datetime) -> list[Order]:
    start = window.get("start", ANCHOR - timedelta(days=40))
    end = window.get("end", ANCHOR + timedelta(days=40))
    orders = []
    for page in client.iter_orders(start, end, by=by):  # type: ignore[arg-type]
        assert page.rejects == []
        orders += page.records
    return orders


def test_connect_keeps_the_shop_and_both_lifetimes(connected: Connected) -> None:
    seller = connected.sandbox.world.sellers_of("shopee")[0]
    assert connected.store.seller_id == seller.seller_id
    tokens = connected.tokens()
    assert tokens.extra == {"shop_id": seller.seller_id}
    assert tokens.refresh_token is not None
    # Four hours from the sandbox clock, which the client's clock follows.
    assert abs(tokens.access_expires_at - (CLOCK_AT + timedelta(hours=4))) < timedelta(minutes=1)
    assert tokens.refresh_expires_at is not None
    assert tokens.refresh_expires_at - tokens.access_expires_at > timedelta(days=29)


def test_listings_match_the_world_one_per_model(connected: Connected) -> None:
    seller = connected.sandbox.world.sellers_of("shopee")[0]
    catalog = connected.simulator.catalog
    verdict = {
        "NORMAL": ListingStatus.ACTIVE,
        "UNLIST": ListingStatus.PAUSED,
        "BANNED": ListingStatus.SUPPRESSED,
        "REVIEWING": ListingStatus.UNDER_REVIEW,
    }

    def reason(listing: WorldListing) -> str | None:
        violation = catalog.violation(listing)
        return f"{violation[0]}: {violation[1]}" if violation else None

    expected = {
        (
            str(item_id_of(listing)),
            str(v.variation_number) if listing.has_variations else "",
            v.sku or None,
            v.price,
            v.available_quantity,
            (
                verdict[catalog.item_status(listing)],
                catalog.item_status(listing),
                reason(listing),
            ),
            listing.title,
        )
        for listing in connected.sandbox.world.listings_of(seller)
        for v in listing.variations
    }
    recorder = Recorder()
    client = connected.client(recorder)
    try:
        listings = _drain_listings(client)
    finally:
        client.close()
    got = {
        (
            lst.listing_id,
            lst.variation_id,
            lst.seller_sku,
            lst.price,
            lst.available_quantity,
            (lst.status, lst.raw_status, lst.status_reason),
            lst.title,
        )
        for lst in listings
    }
    assert len(listings) == len(expected) > 20
    assert got == expected
    # Shopee holds a few items, and says why; only those cost a violation call.
    held = {lst.raw_status for lst in listings if lst.status_reason}
    assert held == {"BANNED", "REVIEWING"}
    violations = recorder.queries("/api/v2/product/get_item_violation_info")
    asked = {int(i) for q in violations for i in q["item_id_list"].split(",")}
    assert asked == {
        item_id_of(lst)
        for lst in connected.sandbox.world.listings_of(seller)
        if catalog.item_status(lst) in {"BANNED", "REVIEWING"}
    }
    assert all(lst.currency == "BRL" and lst.category_id for lst in listings)
    # Items with models cost one model call each; items without models cost none.
    with_models = [lst for lst in connected.sandbox.world.listings_of(seller) if lst.has_variations]
    assert with_models and len(with_models) < len(connected.sandbox.world.listings_of(seller))
    assert len(recorder.queries("/api/v2/product/get_model_list")) == len(with_models)
    for query in recorder.queries("/api/v2/product/get_item_base_info"):
        assert len(query["item_id_list"].split(",")) <= 50


def _paid(connected: Connected, source: WorldOrder) -> bool:
    now = connected.sandbox.clock.now()
    return any(status == "paid" and at <= now for status, at in source.timeline)


def _world_orders(connected: Connected) -> dict[str, WorldOrder]:
    seller = connected.sandbox.world.sellers_of("shopee")[0]
    now = connected.sandbox.clock.now()
    return {order_sn(o): o for o in connected.sandbox.world.orders_of(seller) if o.visible_at(now)}


def expected_money(connected: Connected, source: WorldOrder) -> dict[str, Any]:
    """The canonical money the World's order implies at the sandbox clock, restated from
    the sandbox's deterministic derivation (prices, vouchers, carrier cost, rates)."""
    now = connected.sandbox.clock.now()
    m = connected.simulator.orders_render.money(source)
    reached = {status for status, at in source.timeline if at <= now}
    status = source.status_at(now)[0]
    expected: dict[str, Any] = {
        "items_amount": m.original,
        "total_amount": m.buyer_total if "paid" in reached else Decimal(0),
    }
    if "paid" not in reached:
        if status == "cancelled":  # never paid: nothing charged, final at once
            expected |= {"fee_amount": Decimal(0), "payout_amount": Decimal(0), "fees_final": True}
        else:
            expected |= {"fee_amount": None, "payout_amount": None, "fees_final": None}
        return expected
    charges = m.commission + m.service + m.ams + m.protection_fee
    shipping = m.carrier_cost - m.shipping_rebate if "shipped" in reached else Decimal(0)
    after_release = returned_after_release(source, len(source.timeline) - 1)
    fee, refund, buyer_shipping = charges, Decimal(0), m.buyer_shipping
    if status == "cancelled":
        fee, refund, buyer_shipping, shipping = Decimal(0), m.item_refund, Decimal(0), Decimal(0)
    elif status == "returned" and not after_release:
        fee, refund, shipping = Decimal(0), m.item_refund, shipping + m.carrier_cost
    elif status == "returned":
        fee = charges + m.item_refund  # the refund after the release is an adjustment
    seller_discount = m.original - m.goods + m.seller_voucher
    seller_shipping = shipping - buyer_shipping
    return expected | {
        "fee_amount": fee,
        "refund_amount": refund,
        "shipping_paid_by_buyer": buyer_shipping,
        "seller_shipping_cost": seller_shipping,
        "seller_discount_amount": seller_discount,
        "marketplace_discount_amount": m.shopee_voucher + m.coins,
        "payout_amount": m.original - seller_discount - fee - seller_shipping - refund,
        "fees_final": True if status == "cancelled" else None,
    }


def _assert_orders_match_the_world(connected: Connected, orders: list[Order]) -> Counter[str]:
    """Every order the sandbox shows at its clock, as the World holds it; returns statuses."""
    world = _world_orders(connected)
    now = connected.sandbox.clock.now()
    listings = {lst.listing_number: lst for lst in connected.sandbox.world.listings}
    assert sorted(o.order_id for o in orders) == sorted(world)
    statuses: Counter[str] = Counter()
    for order in orders:
        source = world[order.order_id]
        status, since = source.status_at(now)
        assert (order.status.value, order.raw_status) == (status, SHOPEE_STATUS[status])
        statuses[order.status.value] += 1
        assert order.created_at == source.created_at.replace(microsecond=0)
        assert order.updated_at == since.replace(microsecond=0)
        assert order.business_date == source.created_at.astimezone(connected.store.zone).date()
        money = expected_money(connected, source)
        assert {k: getattr(order, k) for k in money} == money, order.order_id
        assert (order.buyer_city, order.buyer_state) == (source.buyer.city, source.buyer.state)
        assert order.buyer_hash == hash_buyer("shopee", source.buyer.buyer_id, SALT)
        # What the buyer paid per line is the World's price; the promotion is beside it.
        want: Counter[tuple[str, str]] = Counter()
        for line in source.lines:
            listing = listings[line.listing_number]
            model = str(line.variation_number) if listing.has_variations else ""
            want[(str(item_id_of(listing)), model)] += line.unit_price * line.quantity
        got: Counter[tuple[str, str]] = Counter()
        for item in order.items:
            got[(item.listing_id or "", item.variation_id)] += item.line_amount - (
                item.discount_amount or 0
            )
        assert got == want
    return statuses


def test_orders_match_the_world_in_15_day_windows_and_50_order_batches(
    connected: Connected,
) -> None:
    recorder = Recorder()
    client = connected.client(recorder)
    start, end = ANCHOR - timedelta(days=40), ANCHOR + timedelta(days=1)
    try:
        orders = _drain_orders(client, start=start, end=end)
    finally:
        client.close()
    assert len(orders) > 60  # more than one detail batch
    statuses = _assert_orders_match_the_world(connected, orders)
    assert {"paid", "shipped", "delivered", "cancelled", "returned"} <= set(statuses), statuses

    windows = [
        (int(q["time_from"]), int(q["time_to"]))
        for q in recorder.queries("/api/v2/order/get_order_list")
        if not q.get("cursor")
    ]
    # 41 days in three back-to-back windows of at most 15 days, inclusive at both ends.
    assert len(windows) == 3
    assert windows[0][0] == int(start.timestamp()) and windows[-1][1] == int(end.timestamp()) - 1
    assert all(nxt[0] == prev[1] + 1 for prev, nxt in pairwise(windows))
    assert all(hi - lo <= 15 * DAY for lo, hi in windows)
    lists = recorder.queries("/api/v2/order/get_order_list")
    assert all(q["page_size"] == "100" and q["time_range_field"] == "create_time" for q in lists)
    batches = [
        len(q["order_sn_list"].split(","))
        for q in recorder.queries("/api/v2/order/get_order_detail")
    ]
    assert max(batches) <= 50 and sum(batches) == len(orders)
    # Money comes from the escrow API, a batch per detail batch, for every paid order.
    escrows = [b["order_sn_list"] for p, b in recorder.bodies if p.endswith("escrow_detail_batch")]
    assert max(len(sns) for sns in escrows) <= 50
    world = _world_orders(connected)
    charged = sorted(o.order_id for o in orders if _paid(connected, world[o.order_id]))
    assert sorted(sn for sns in escrows for sn in sns) == charged


def test_cursor_pages_through_a_window(
    connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connected.client()
    try:
        whole = _drain_orders(client)
    finally:
        client.close()
    # Small pages, so that the tiny world's windows take several cursor pages each.
    monkeypatch.setattr(shopee_client, "ORDERS_PAGE", 7)
    recorder = Recorder()
    client = connected.client(recorder)
    try:
        paged = _drain_orders(client)
    finally:
        client.close()
    assert sorted(paged, key=str) == sorted(whole, key=str)
    lists = recorder.queries("/api/v2/order/get_order_list")
    cursors = [q["cursor"] for q in lists if q.get("cursor")]
    assert len(cursors) == len(set(cursors)) > 5
    assert all(q["page_size"] == "7" for q in lists)


def test_update_time_window_and_get_orders_by_sn(connected: Connected) -> None:
    recorder = Recorder()
    client = connected.client(recorder)
    try:
        everything = {o.order_id: o for o in _drain_orders(client)}
        lo, hi = CLOCK_AT - timedelta(days=6), CLOCK_AT - timedelta(days=2)
        updated = _drain_orders(client, by="updated", start=lo, end=hi)
        assert updated and all(lo <= o.updated_at < hi for o in updated)
        assert {o.order_id for o in updated} == {
            i for i, o in everything.items() if lo <= o.updated_at < hi
        }
        created = _drain_orders(client, start=lo, end=hi)
        assert created and {o.order_id for o in created} == {
            i for i, o in everything.items() if lo <= o.created_at < hi
        }
        assert list(client.iter_orders(hi, lo)) == []

        sns = [*list(everything)[:60], "260101ZZZZZZZZ"]  # the last one does not exist
        fetched = client.get_orders(sns)
        assert fetched.rejects == []
        assert sorted(o.order_id for o in fetched.records) == sorted(sns[:60])
        assert all(o == everything[o.order_id] for o in fetched.records)
        batches = [
            q["order_sn_list"].split(",")
            for q in recorder.queries("/api/v2/order/get_order_detail")
        ]
        assert batches[-2:] == [sns[:50], sns[50:]]  # at most 50 order_sn a call
        assert client.get_orders(["260101ZZZZZZZZ"]).records == []
    finally:
        client.close()


def test_malformed_order_from_the_api_is_rejected_and_the_rest_kept(
    connected: Connected,
) -> None:
    # A paid order: before payment Shopee states no total, so its absence is no error.
    victim = sorted(sn for sn, o in _world_orders(connected).items() if _paid(connected, o))[0]

    def drop_total(path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path == "/api/v2/order/get_order_detail":
            for order in body["response"]["order_list"]:
                if order["order_sn"] == victim:
                    del order["total_amount"]
        return body

    client = connected.client(Recorder(rewrite=drop_total))
    try:
        pages = list(client.iter_orders(ANCHOR - timedelta(days=40), ANCHOR + timedelta(days=1)))
    finally:
        client.close()
    rejects = [r for p in pages for r in p.rejects]
    records = [o for p in pages for o in p.records]
    assert [r.record_key for r in rejects] == [victim]
    assert rejects[0].source == "shopee.orders" and "total_amount" in rejects[0].reason
    assert json.loads(rejects[0].payload)["order_sn"] == victim
    assert len(records) == len(_world_orders(connected)) - 1


def test_malformed_escrow_entry_is_quarantined_and_its_order_lands_without_a_fee(
    connected: Connected,
) -> None:
    victim = sorted(sn for sn, o in _world_orders(connected).items() if _paid(connected, o))[0]

    def garble_fee(path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path.endswith("get_escrow_detail_batch"):
            for entry in body["response"]:
                if entry["escrow_detail"]["order_sn"] == victim:
                    entry["escrow_detail"]["order_income"]["commission_fee"] = "catorze"
        return body

    client = connected.client(Recorder(rewrite=garble_fee))
    try:
        pages = list(client.iter_orders(ANCHOR - timedelta(days=40), ANCHOR + timedelta(days=1)))
    finally:
        client.close()
    rejects = [r for p in pages for r in p.rejects]
    orders = {o.order_id: o for p in pages for o in p.records}
    assert [(r.source, r.record_key) for r in rejects] == [("shopee.escrow", victim)]
    assert "commission_fee" in rejects[0].reason and "catorze" not in rejects[0].reason
    assert orders[victim].fee_amount is None
    assert len(orders) == len(_world_orders(connected))
    assert any(o.fee_amount for o in orders.values())


def test_update_stock_answers_per_model(connected: Connected) -> None:
    seller = connected.sandbox.world.sellers_of("shopee")[0]
    listings = connected.sandbox.world.listings_of(seller)
    with_models = next(lst for lst in listings if len(lst.variations) > 1)
    single = next(lst for lst in listings if not lst.has_variations)
    first, second = with_models.variations[:2]
    client = connected.client()
    try:
        results = client.update_stock(
            item_id_of(with_models),
            [(first.variation_number, 7), (second.variation_number, 0), (999_999_999, 3)],
        )
        by_model = {r.model_id: r for r in results}
        assert by_model[first.variation_number].ok and by_model[first.variation_number].stock == 7
        assert by_model[second.variation_number].ok
        assert not by_model[999_999_999].ok
        assert by_model[999_999_999].failed_reason == "Wrong model_id."
        assert (first.available_quantity, second.available_quantity) == (7, 0)

        # The canonical ids work too: a string item id, '' for an item without models.
        [answer] = client.update_stock(str(item_id_of(single)), [("", 11)])
        assert (answer.model_id, answer.ok, answer.stock) == (0, True, 11)
        assert single.variations[0].available_quantity == 11
        [refused] = client.update_stock(item_id_of(with_models), [(0, 5)])
        assert not refused.ok and "while item has models" in (refused.failed_reason or "")
        with pytest.raises(ValueError):
            client.update_stock(item_id_of(single), [(0, 1), ("0", 2)])
        with pytest.raises(ValueError):
            client.update_stock(item_id_of(single), [(0, -1)])
        assert client.update_stock(item_id_of(single), []) == []
        listings_now = {(x.listing_id, x.variation_id): x for x in _drain_listings(client)}
        assert listings_now[(str(item_id_of(single)), "")].available_quantity == 11
    finally:
        client.close()
    write = connected.simulator.stock_writes[-1]
    assert (write.item_id, write.model_id, write.stock) == (item_id_of(single), 0, 11)


def test_categories_attributes_and_recommendation(connected: Connected) -> None:
    client = connected.client()
    try:
        categories = client.get_category()
        leaves = [c for c in categories if not c.has_children]
        assert leaves and all(c.parent_category_id for c in leaves)
        names = {c.display_category_name for c in categories}
        assert "Calçados" in names  # pt-br display names
        english = {c.display_category_name for c in client.get_category(language="en")}
        assert "Shoes" in english
        trees = client.get_attribute_tree([c.category_id for c in leaves])
        assert [t.category_id for t in trees] == [c.category_id for c in leaves]
        origin = next(a for a in trees[0].attribute_tree if a.attribute_id == 100011)
        assert origin.mandatory and origin.display_name("pt-br") == "País de Origem"
        other = next(v for v in origin.attribute_value_list if v.name == "Other")
        assert [c.name for c in other.child_attribute_list] == ["Specify Country"]
        assert client.get_attributes(leaves[0].category_id) == trees[0].attribute_tree
        parent = next(c for c in categories if c.has_children)
        with pytest.raises(InvalidRequestError, match="Invalid category"):
            client.get_attribute_tree([parent.category_id])
        seller = connected.sandbox.world.sellers_of("shopee")[0]
        listing = connected.sandbox.world.listings_of(seller)[0]
        recommended = client.category_recommend(listing.title)
        assert recommended and set(recommended) <= {c.category_id for c in leaves}
    finally:
        client.close()


def test_faults_do_not_change_what_is_read(connected: Connected) -> None:
    client = connected.client()

    def read_everything() -> tuple[list[Listing], list[Order], list[Order]]:
        orders = _drain_orders(client)
        by_sn = client.get_orders([o.order_id for o in orders])
        assert by_sn.rejects == []
        return (
            sorted(_drain_listings(client), key=str),
            sorted(orders, key=str),
            sorted(by_sn.records, key=str),
        )

    try:
        clean = read_everything()
        connected.sandbox.faults.update(rate_429=0.2, rate_5xx=0.1)
        try:
            # Faults are random: read again until some calls were retried (a few rounds).
            for _ in range(10):
                assert read_everything() == clean
                if (
                    client.http.stats["errors.RateLimitedError"]
                    and client.http.stats["errors.TransientError"]
                ):
                    break
        finally:
            connected.sandbox.faults.update(rate_429=0.0, rate_5xx=0.0)
        assert client.http.stats["retries"] >= 3
        assert client.http.stats["errors.RateLimitedError"] >= 1
        assert client.http.stats["errors.TransientError"] >= 1
    finally:
        client.close()


def test_refresh_before_expiry_rotates_and_stores_the_pair_before_using_it(own: Connected) -> None:
    events = own.token_store.events  # type: ignore[attr-defined]
    stale = own.expire_locally()
    recorder = Recorder(events=events)
    events.clear()
    client = own.client(recorder)
    try:
        assert _drain_listings(client)
    finally:
        client.close()
    fresh = own.tokens()
    assert fresh.access_token != stale.access_token
    assert fresh.refresh_token != stale.refresh_token
    assert fresh.extra == stale.extra
    new_token = fresh.access_token.get_secret_value()
    kinds = [(e[0], e[1]) for e in events]
    refresh_at = kinds.index(("request", "/api/v2/auth/access_token/get"))
    saved_at = events.index(("save", new_token))
    first_use = next(i for i, e in enumerate(events) if e[0] == "request" and e[3] == new_token)
    assert refresh_at < saved_at < first_use
    assert client.http.stats["calls.auth.access_token_get"] == 1
    assert client.http.stats["errors.AuthError"] == 0

    # The spent refresh token is refused for good: a copy of the old pair cannot refresh.
    other = Store.of("shopee", own.store.seller_id, "stale copy", tenant="other")
    old_store = MemoryTokenStore()
    old_store.save(other.store_id, stale)
    replay = ShopeeClient(own.app, other, old_store, SALT)
    try:
        with pytest.raises(AuthError) as caught:
            next(replay.iter_listings())
    finally:
        replay.close()
    assert (caught.value.code, caught.value.detail) == ("error_auth", "Invalid refresh_token.")
    leaked = [*iter_secret_values(stale), *iter_secret_values(fresh), shopee_sandbox.PARTNER_KEY]
    assert not any(secret in str(caught.value) for secret in leaked)


def test_token_expired_by_the_server_is_refreshed_transparently(
    own: Connected, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = own.client()
    try:
        assert _drain_listings(client)
    finally:
        client.close()
    stale = own.tokens()
    # Four hours on, the server has expired the token; this client's copy still says it
    # is good (a clock off by minutes, or a revocation), so only the API's refusal tells.
    own.sandbox.clock.advance_delta(timedelta(hours=4, minutes=1))
    believed = stale.model_copy(
        update={"access_expires_at": stale.access_expires_at + timedelta(days=1)}
    )
    own.token_store.save(own.store.store_id, believed)
    client = own.client()
    try:
        listings = _drain_listings(client)
        assert client.http.stats["errors.AuthError"] == 1
        assert client.http.stats["calls.auth.access_token_get"] == 1
        statuses = _assert_orders_match_the_world(own, _drain_orders(client))
        assert client.http.stats["errors.AuthError"] == 1
    finally:
        client.close()
    assert len(listings) > 20 and statuses
    fresh = own.tokens()
    assert fresh.access_token != stale.access_token
    assert fresh.refresh_token != stale.refresh_token
    secrets = [*iter_secret_values(stale), *iter_secret_values(fresh), shopee_sandbox.PARTNER_KEY]
    assert caplog.records and not any(s in caplog.text for s in secrets)


def test_concurrent_clients_refresh_once(own: Connected) -> None:
    own.expire_locally()
    clients = [own.client() for _ in range(4)]
    results: list[int] = []
    errors: list[BaseException] = []

    def drain(client: ShopeeClient) -> None:
        try:
            results.append(len(_drain_listings(client)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(set(results)) == 1 and results[0] > 20
        # The single-use refresh token was spent once; the others found the fresh pair.
        assert sum(c.http.stats["calls.auth.access_token_get"] for c in clients) == 1
    finally:
        for client in clients:
            client.close()
