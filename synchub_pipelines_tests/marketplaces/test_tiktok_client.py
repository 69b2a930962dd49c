"""The TikTok Shop client: real payload samples, signing, error envelopes, and the client
against the sandbox simulator over real HTTP on loopback.

The sandbox clock is set years ahead of the wall clock (ANCHOR is in 2030): tokens the
sandbox issues then never look stale to the client's wall-clock TokenManager, and only
advancing the sandbox clock expires them, as a server-side expiry or revocation would.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.tiktok import (
    TikTokApp,
    TikTokClient,
    TTOrder,
    classify,
    order_from_tiktok,
    parse_orders,
    parse_products,
    parse_webhook,
    sign_request,
    webhook_order_status,
    webhook_signature,
)
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore, TokenSet, iter_secret_values
from synchub_pipelines.models import Listing, ListingStatus, Order, OrderStatus, Store, hash_buyer
from synchub_pipelines.sandbox.infra import Faults
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.tiktok import APP_KEY, APP_SECRET, REDIRECT_URI, SERVICE_ID
from synchub_pipelines.sandbox.tiktok_render import order_id, product_id, sku_id
from synchub_pipelines_tests.conftest import PAYLOADS as ALL_PAYLOADS

PAYLOADS = ALL_PAYLOADS / "tiktok"
SALT = "test-salt"
STORE = Store.of("tiktok", "7494049642642441621", "Sample shop")
ANCHOR = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
CLOCK_AT = ANCHOR - timedelta(days=3)
FAST = HttpSettings(backoff_base_seconds=0.01, backoff_max_seconds=0.2, max_attempts=8)


def _payload(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return body


def _sample_order() -> dict[str, Any]:
    order: dict[str, Any] = _payload("order_202309_orders_search_response.json")["data"]["orders"][
        0
    ]
    return order


# --- real payloads -------------------------------------------------------------------------


def test_order_search_sample_maps_to_the_canonical_order() -> None:
    body = _payload("order_202309_orders_search_response.json")
    assert body["code"] == 0
    page = parse_orders(body["data"]["orders"], STORE, SALT)
    assert page.rejects == []
    [order] = page.records
    assert order.order_id == "576461413038785752"
    assert (order.status, order.raw_status) == (OrderStatus.PENDING, "UNPAID")
    assert order.created_at == datetime(2021, 4, 28, 12, 6, 1, tzinfo=UTC)
    assert order.updated_at == datetime(2021, 4, 28, 14, 49, 15, tzinfo=UTC)
    assert order.business_date == date(2021, 4, 28)
    assert order.currency == "IDR"
    assert order.items_amount == Decimal("0.01")
    assert order.shipping_paid_by_buyer == Decimal("5000")
    assert order.total_amount == Decimal("5000")
    # Fees and payout come from Finance: the order read leaves them unknown.
    assert (order.fee_amount, order.payout_amount, order.fees_final) == (None, None, None)
    assert order.buyer_hash == hash_buyer("tiktok", "7021436810468230477", SALT)
    # The sample's address only names the country: no city or state to keep.
    assert (order.buyer_city, order.buyer_state) == (None, None)
    [item] = order.items
    assert item.listing_id == "1729582718312380123"
    assert item.variation_id == item.line_ref == "2729382476852921560"
    assert item.seller_sku == "red_iphone_256"
    assert item.title == "Women's Winter Crochet Clothes"
    assert (item.quantity, item.unit_price, item.fee) == (1, Decimal("0.01"), None)
    # LGPD: nothing of the buyer's name, document, e-mail, phone or street survives.
    dumped = order.model_dump_json()
    for personal in ("David", "Kong", "3213-31231412", "v2b2V5", "213-***", "bristol"):
        assert personal not in dumped


def test_business_date_is_the_local_day_of_a_late_evening_order() -> None:
    raw = _sample_order()
    raw["create_time"] = 1619663400  # 2021-04-29 02:30 UTC = 2021-04-28 23:30 in São Paulo
    order = order_from_tiktok(TTOrder.model_validate(raw), STORE, SALT)
    assert order.created_at == datetime(2021, 4, 29, 2, 30, tzinfo=UTC)
    assert order.business_date == date(2021, 4, 28)


def test_units_fold_into_one_line_per_sku() -> None:
    raw = _sample_order()
    unit = raw["line_items"][0]
    other = {
        **unit,
        "sku_id": "2729382476852921999",
        "seller_sku": " ",
        "original_price": "7.5",
        "sale_price": "7.5",
    }
    # One unit of the first SKU got a deeper discount: same SKU line, exact sums.
    discounted = {**unit, "original_price": "0.01", "sale_price": "0.005"}
    raw["line_items"] = [unit, {**unit, "id": "2"}, other, {**unit, "id": "3"}, discounted]
    order = order_from_tiktok(TTOrder.model_validate(raw), STORE, SALT)
    lines = [
        (i.line_no, i.line_ref, i.quantity, i.unit_price, i.line_amount, i.seller_sku)
        for i in order.items
    ]
    assert lines == [
        (1, "2729382476852921560", 4, Decimal("0.01"), Decimal("0.04"), "red_iphone_256"),
        (2, "2729382476852921999", 1, Decimal("7.5"), Decimal("7.5"), None),
    ]
    assert order.items[0].discount_amount == Decimal("0.005")
    assert order.items_amount == Decimal("7.54")


@pytest.mark.parametrize(
    ("raw_status", "line_status", "expected"),
    [
        ("UNPAID", "UNPAID", OrderStatus.PENDING),
        ("ON_HOLD", "ON_HOLD", OrderStatus.PENDING),
        ("AWAITING_SHIPMENT", "AWAITING_SHIPMENT", OrderStatus.PAID),
        ("AWAITING_COLLECTION", "AWAITING_COLLECTION", OrderStatus.PAID),
        ("PARTIALLY_SHIPPING", "PARTIALLY_SHIPPING", OrderStatus.PAID),
        ("IN_TRANSIT", "IN_TRANSIT", OrderStatus.SHIPPED),
        ("DELIVERED", "DELIVERED", OrderStatus.DELIVERED),
        ("COMPLETED", "COMPLETED", OrderStatus.DELIVERED),
        ("COMPLETED", "CANCELLED", OrderStatus.RETURNED),
        ("DELIVERED", "CANCELLED", OrderStatus.RETURNED),
        ("CANCELLED", "CANCELLED", OrderStatus.CANCELLED),
    ],
)
def test_status_normalization(raw_status: str, line_status: str, expected: OrderStatus) -> None:
    raw = _sample_order()
    raw["status"] = raw_status
    raw["line_items"][0]["display_status"] = line_status
    order = order_from_tiktok(TTOrder.model_validate(raw), STORE, SALT)
    assert (order.status, order.raw_status) == (expected, raw_status)


def test_partially_returned_order_stays_delivered() -> None:
    raw = _sample_order()
    raw["status"] = "COMPLETED"
    kept = {**raw["line_items"][0], "display_status": "COMPLETED"}
    refunded = {**raw["line_items"][0], "display_status": "CANCELLED", "id": "9"}
    raw["line_items"] = [kept, refunded]
    assert order_from_tiktok(TTOrder.model_validate(raw), STORE, SALT).status == "delivered"


def test_brazilian_address_keeps_only_city_and_state_code() -> None:
    raw = _sample_order()
    raw["recipient_address"]["region_code"] = "BR"
    raw["recipient_address"]["district_info"] = [
        {"address_level": "L0", "address_level_name": "Country", "address_name": "Brasil"},
        {"address_level": "L1", "address_level_name": "State", "address_name": "São Paulo"},
        {"address_level": "L2", "address_level_name": "City", "address_name": "Campinas"},
    ]
    order = order_from_tiktok(TTOrder.model_validate(raw), STORE, SALT)
    assert (order.buyer_city, order.buyer_state) == ("Campinas", "SP")


def test_malformed_orders_are_rejected_with_a_reason_and_the_page_goes_on() -> None:
    good = _sample_order()
    no_payment = {k: v for k, v in _sample_order().items() if k != "payment"}
    unknown_status = {**_sample_order(), "id": "576461413038785999", "status": "TELEPORTED"}
    page = parse_orders([no_payment, good, unknown_status, "junk"], STORE, SALT)
    assert [o.order_id for o in page.records] == ["576461413038785752"]
    assert [r.record_key for r in page.rejects] == [
        "576461413038785752",
        "576461413038785999",
        "<no id>",
    ]
    assert "payment" in page.rejects[0].reason
    assert "status" in page.rejects[1].reason
    assert all(r.source == "tiktok.orders" and r.store_id == STORE.store_id for r in page.rejects)
    assert json.loads(page.rejects[1].payload)["status"] == "TELEPORTED"


def test_product_search_sample_maps_to_one_listing_per_sku() -> None:
    body = _payload("product_202309_products_search_response.json")
    page, products = parse_products(body["data"]["products"], STORE.store_id)
    assert page.rejects == []
    assert page.records == [
        Listing(
            store_id=STORE.store_id,
            listing_id="1729592969712207008",
            variation_id="1729592969712207012",
            title="Short Boat Invisible Socks",
            seller_sku="Color-Red-XM01",
            status=ListingStatus.ACTIVE,
            raw_status="ACTIVATE",
            price=Decimal("121.11"),
            currency="USD",
            available_quantity=999,
            updated_at=datetime(2009, 2, 13, 23, 30, tzinfo=UTC),
        )
    ]
    inventory = products[0].skus[0].inventory
    assert inventory is not None and inventory[0].warehouse_id == "7068517275539719942"


def test_product_without_skus_is_rejected() -> None:
    raw = copy.deepcopy(_payload("product_202309_products_search_response.json"))
    product = raw["data"]["products"][0]
    page, _ = parse_products([{**product, "skus": []}, product], STORE.store_id)
    assert [lst.variation_id for lst in page.records] == ["1729592969712207012"]
    assert [r.record_key for r in page.rejects] == ["1729592969712207008"]
    assert "skus" in page.rejects[0].reason


def test_order_status_webhook_sample() -> None:
    event = parse_webhook(_payload("webhook_order_status_change_type1.json"))
    assert (event.type, event.shop_id, event.timestamp) == (1, "7494049642642441621", 1644412885)
    change = event.order_status_change()
    assert change is not None
    assert (change.order_id, change.order_status) == ("576486316948490001", "UNPAID")
    assert change.is_on_hold_order is False
    assert change.update_time == 1644412885
    assert webhook_order_status(change) is OrderStatus.PENDING


# --- signing and errors ----------------------------------------------------------------------


def test_request_signature_worked_examples() -> None:
    # By hand: "test-secret" + path + "app_keyabc" + "page_size10" + "shop_cipherROW_x"
    # + "timestamp1700000000" + raw body + "test-secret", HMAC-SHA256 keyed with the secret;
    # the hex digests were computed with `openssl dgst -sha256 -hmac test-secret`.
    params = {
        "timestamp": "1700000000",
        "shop_cipher": "ROW_x",
        "app_key": "abc",
        "page_size": "10",
        "sign": "left-out",
        "access_token": "left-out",
    }
    body = b'{"order_status":"UNPAID"}'
    assert (
        sign_request("test-secret", "/order/202309/orders/search", params, body)
        == "89d95eff88102f9e98141b4cfb08f629c31d276b92842b11a129a8507c554861"
    )
    get_params = {"app_key": "abc", "timestamp": "1700000000"}
    assert (
        sign_request("test-secret", "/authorization/202309/shops", get_params)
        == "a52c5c7a7a200d85386b4e9ae317c3262ef2deac714aa1498c1b64c6a1642f37"
    )


def test_webhook_signature_worked_example() -> None:
    body = b'{"type":1,"shop_id":"7494049642642441621"}'
    expected = "942af821e2f39124a4910ead390c83bc61795e43e630eb5b28074e1a6d2c0cd1"
    assert webhook_signature("abc", "test-secret", body) == expected
    app = TikTokApp(app_key="abc", app_secret=SecretStr("test-secret"))
    assert app.verify_webhook(body, expected.upper())
    assert not app.verify_webhook(body + b" ", expected)
    assert not app.verify_webhook(body, None)
    assert not app.verify_webhook(body, "é" * 64)


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


def _envelope(code: int, message: str = "m") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": "RID1"}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, _envelope(105001), AuthError),
        (401, _envelope(105002), AuthError),
        (400, _envelope(105005), AuthError),
        (401, _envelope(36009007), AuthError),
        (200, _envelope(36004005), AuthError),  # the auth host refuses a used refresh token
        (200, _envelope(36004001), AuthError),
        (200, _envelope(36009004), InvalidRequestError),
        (400, _envelope(36009004), InvalidRequestError),
        (400, _envelope(106011), InvalidRequestError),
        (404, _envelope(36009009), NotFoundError),
        (429, _envelope(36009002), RateLimitedError),
        (200, _envelope(36009002), RateLimitedError),
        (500, _envelope(36009003), TransientError),
        (400, _envelope(25020008), TransientError),
        (502, b"<html>bad gateway</html>", TransientError),
        (200, b"<html>cut off", TransientError),
    ],
)
def test_error_envelopes(status: int, body: Any, expected: type[Exception]) -> None:
    error = classify(_response(status, body, {"retry-after": "3"}), "orders.search")
    assert type(error) is expected
    assert error is not None and error.status == status
    if isinstance(body, dict):
        assert error.code == str(body["code"]) and error.request_id == "RID1"
        assert "RID1" in str(error)
    if isinstance(error, RateLimitedError):
        assert error.retry_after == 3.0


def test_success_envelope_is_no_error() -> None:
    assert classify(_response(200, {"code": 0, "data": {}, "message": "Success"}), "x") is None


def test_authorization_urls() -> None:
    legacy = TikTokApp(app_key="abc", app_secret=SecretStr("s"))
    url, state = legacy.authorization_url("st")
    assert url == "https://auth.tiktok-shops.com/oauth/authorize?app_key=abc&state=st"
    assert state == "st"
    current = TikTokApp(app_key="abc", app_secret=SecretStr("s"), service_id="731")
    url, state = current.authorization_url()
    assert url.startswith("https://services.tiktokshop.com/open/authorize?service_id=731&state=")
    assert len(state) > 10


# --- against the sandbox -------------------------------------------------------------------


@dataclass
class Connected:
    running: RunningSandbox
    app: TikTokApp
    store: Store
    token_store: MemoryTokenStore

    @property
    def sandbox(self) -> Sandbox:
        return self.running.sandbox

    @property
    def simulator(self) -> Any:
        return self.sandbox.simulators["tiktok"]

    def client(self) -> TikTokClient:
        return TikTokClient(self.app, self.store, self.token_store, SALT)

    def tokens(self) -> TokenSet:
        tokens = self.token_store.load(self.store.store_id)
        assert tokens is not None
        return tokens


def _sandbox_app(running: RunningSandbox, **kw: Any) -> TikTokApp:
    base = running.base_url("tiktok")
    return TikTokApp(
        app_key=APP_KEY,
        app_secret=SecretStr(APP_SECRET),
        api_url=base,
        auth_url=base,
        services_url=base,
        requests_per_second=200,
        http=FAST,
        **kw,
    )


def _authorize(app: TikTokApp) -> str:
    url, state = app.authorization_url()
    redirect = httpx.get(url, follow_redirects=False)
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["location"])
    assert str(location).startswith(REDIRECT_URI)
    assert location.params["state"] == state
    return location.params["code"]


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = Sandbox(SandboxConfig(seed=7, size="tiny", anchor=ANCHOR, faults=Faults(seed=5)))
    sandbox.clock.advance(CLOCK_AT.timestamp() - time.time())
    with RunningSandbox(sandbox) as running:
        yield running


@pytest.fixture(scope="module")
def connected(running: RunningSandbox) -> Connected:
    app = _sandbox_app(running)
    http = app.new_http()
    try:
        shop_id, tokens = app.exchange_code(http, _authorize(app))
    finally:
        http.close()
    seller = running.sandbox.world.sellers_of("tiktok")[0]
    store = Store.of("tiktok", shop_id, seller.nickname)
    token_store = MemoryTokenStore()
    token_store.save(store.store_id, tokens)
    return Connected(running, app, store, token_store)


def _drain_listings(client: TikTokClient) -> list[Listing]:
    listings = []
    for page in client.iter_listings():
        assert page.rejects == []
        listings += page.records
    return listings


def _drain_orders(client: TikTokClient, by: str = "created", **window: datetime) -> list[Order]:
    start = window.get("start", ANCHOR - timedelta(days=40))
    end = window.get("end", ANCHOR + timedelta(days=40))
    orders = []
    for page in client.iter_orders(start, end, by=by):  # type: ignore[arg-type]
        assert page.rejects == []
        orders += page.records
    return orders


def test_connect_keeps_the_shop_and_its_cipher(connected: Connected) -> None:
    seller = connected.sandbox.world.sellers_of("tiktok")[0]
    assert connected.store.seller_id == seller.seller_id
    tokens = connected.tokens()
    shop = connected.simulator.shop_by_seller[seller]
    assert tokens.extra == {"shop_id": seller.seller_id, "shop_cipher": shop.cipher}
    assert tokens.refresh_token is not None
    # Absolute expiries from the sandbox clock: seven days for the access token.
    assert abs(tokens.access_expires_at - (CLOCK_AT + timedelta(days=7))) < timedelta(minutes=1)
    assert tokens.refresh_expires_at is not None
    assert tokens.refresh_expires_at > tokens.access_expires_at


def test_service_id_authorization_flow(running: RunningSandbox) -> None:
    app = _sandbox_app(running, service_id=SERVICE_ID)
    http = app.new_http()
    try:
        shop_id, tokens = app.exchange_code(http, _authorize(app))
        assert shop_id == running.sandbox.world.sellers_of("tiktok")[0].seller_id
        assert tokens.extra["shop_cipher"].startswith("ROW_")
        with pytest.raises(AuthError):  # an authorization code is single-use
            app.exchange_code(http, "TTP_not-a-code")
    finally:
        http.close()


def test_listings_match_the_world(connected: Connected) -> None:
    seller = connected.sandbox.world.sellers_of("tiktok")[0]
    world = {
        (product_id(listing.listing_number), sku_id(v.variation_number)): (listing, v)
        for listing in connected.sandbox.world.listings_of(seller)
        for v in listing.variations
    }
    client = connected.client()
    try:
        listings = _drain_listings(client)
    finally:
        client.close()
    assert len(listings) == len(world) == 42
    assert {(lst.listing_id, lst.variation_id) for lst in listings} == set(world)
    reviewed = set()
    for lst in listings:
        listing, variation = world[(lst.listing_id, lst.variation_id)]
        assert (lst.seller_sku, lst.price, lst.available_quantity, lst.title) == (
            variation.sku,
            variation.price,
            variation.available_quantity,
            listing.title,
        )
        assert lst.variation_id and lst.currency == "BRL"
        if listing.status == "paused":
            assert (lst.status, lst.raw_status, lst.status_reason) == (
                ListingStatus.PAUSED,
                "SELLER_DEACTIVATED",
                None,
            )
        elif lst.raw_status == "ACTIVATE":
            assert (lst.status, lst.status_reason) == (ListingStatus.ACTIVE, None)
        else:
            # TikTok's review froze or refused a few products: suppressed, with its reason.
            assert lst.status is ListingStatus.SUPPRESSED and lst.status_reason
            reviewed.add((lst.raw_status, lst.status_reason))
    assert {raw for raw, _ in reviewed} == {"FREEZE", "FAILED"}


def _assert_orders_match_the_world(connected: Connected, orders: list[Order]) -> Counter[str]:
    """Every order the sandbox shows at its clock, as the World holds it; returns statuses."""
    sandbox = connected.sandbox
    seller = sandbox.world.sellers_of("tiktok")[0]
    now = sandbox.clock.now()
    world = {
        order_id(o.order_number): o for o in sandbox.world.orders_of(seller) if o.visible_at(now)
    }
    assert len(orders) == len(world)
    assert [o.order_id for o in orders] == sorted(world, key=lambda i: world[i].created_at)
    statuses: Counter[str] = Counter()
    for order in orders:
        source = world[order.order_id]
        assert order.status == source.status_at(now)[0]
        statuses[order.status.value] += 1
        assert order.created_at == source.created_at
        assert order.business_date == source.created_at.astimezone(connected.store.zone).date()
        # Lines before discounts are the World's prices; the discounts sit beside them.
        assert order.items_amount == source.total
        items_discount = sum((i.discount_amount or Decimal(0) for i in order.items), Decimal(0))
        shipping_discount = (order.discount_amount or 0) - items_discount
        assert order.shipping_paid_by_buyer == source.shipping_cost - shipping_discount
        assert order.total_amount == (
            order.items_amount
            - items_discount
            + (order.shipping_paid_by_buyer or 0)
            + (order.tax_amount or 0)
        )
        assert order.discount_amount == (
            (order.seller_discount_amount or 0) + (order.marketplace_discount_amount or 0)
        )
        assert (order.buyer_city, order.buyer_state) == (source.buyer.city, source.buyer.state)
        assert order.buyer_hash is not None and len(order.buyer_hash) == 32
        want: Counter[tuple[str, str]] = Counter()
        for line in source.lines:
            want[(product_id(line.listing_number), sku_id(line.variation_number))] += line.quantity
        got = Counter({(i.listing_id or "", i.variation_id): i.quantity for i in order.items})
        assert got == want
        assert {i.unit_price for i in order.items} == {line.unit_price for line in source.lines}
    return statuses


def test_orders_match_the_world(connected: Connected) -> None:
    client = connected.client()
    try:
        orders = _drain_orders(client)
    finally:
        client.close()
    assert 50 < len(orders) < 120  # some orders are not created yet at the sandbox clock
    statuses = _assert_orders_match_the_world(connected, orders)
    # Orders at several stages, so each mapping is exercised end to end (returns: below).
    assert {"paid", "shipped", "delivered", "cancelled"} <= set(statuses), statuses


def test_window_bounds_updated_search_and_get_by_id(connected: Connected) -> None:
    client = connected.client()
    try:
        everything = {o.order_id: o for o in _drain_orders(client)}
        lo, hi = CLOCK_AT - timedelta(days=6), CLOCK_AT - timedelta(days=2)
        created = _drain_orders(client, start=lo, end=hi)
        assert created and all(lo <= o.created_at < hi for o in created)
        assert {o.order_id for o in created} == {
            i for i, o in everything.items() if lo <= o.created_at < hi
        }
        updated = _drain_orders(client, by="updated", start=lo, end=hi)
        assert updated and all(lo <= o.updated_at < hi for o in updated)
        assert {o.order_id for o in updated} == {
            i for i, o in everything.items() if lo <= o.updated_at < hi
        }
        assert list(client.iter_orders(hi, lo)) == []

        ids = [*list(everything)[:60], "576400000000000001"]  # the last one does not exist
        before = client.http.stats["requests"]
        fetched = client.get_orders(ids)
        assert client.http.stats["requests"] - before == 2  # chunks of at most 50 ids
        assert fetched.rejects == []
        assert [o.order_id for o in fetched.records] == ids[:60]
        assert all(o == everything[o.order_id] for o in fetched.records)
    finally:
        client.close()


def test_stock_write_is_reflected_by_the_sandbox(connected: Connected) -> None:
    seller = connected.sandbox.world.sellers_of("tiktok")[0]
    listing = connected.sandbox.world.listings_of(seller)[0]
    variation = listing.variations[-1]
    pid, sid = product_id(listing.listing_number), sku_id(variation.variation_number)
    shop = connected.simulator.shop_by_seller[seller]

    fresh = connected.client()
    try:
        before = fresh.http.stats["requests"]
        # Without a listing drain first, the warehouse comes from the product's detail.
        assert fresh.set_available_quantity(pid, sid, 7) == {}
        assert fresh.http.stats["requests"] - before == 2
    finally:
        fresh.close()
    assert variation.available_quantity == 7
    write = connected.simulator.inventory_writes[-1]
    assert (write.product_id, write.sku_id, write.quantity) == (pid, sid, 7)
    assert write.warehouse_id == shop.warehouse_id

    client = connected.client()
    try:
        listings = _drain_listings(client)
        assert {(lst.listing_id, lst.variation_id): lst.available_quantity for lst in listings}[
            (pid, sid)
        ] == 7
        before = client.http.stats["requests"]
        client.set_available_quantity(pid, sid, 0)  # warehouse known from the drain
        assert client.http.stats["requests"] - before == 1
        assert variation.available_quantity == 0
        second = connected.sandbox.world.listings_of(seller)[1]
        other = sku_id(second.variations[0].variation_number)
        with pytest.raises(InvalidRequestError, match="not part of product"):
            client.set_available_quantity(pid, other, 3)
        with pytest.raises(ValueError):
            client.set_available_quantity(pid, "", 3)
    finally:
        client.close()


def test_faults_do_not_change_what_is_read(connected: Connected) -> None:
    client = connected.client()

    def read_everything() -> tuple[list[Listing], list[Order], list[Order], list[Order]]:
        orders = _drain_orders(client)
        by_id = client.get_orders([o.order_id for o in orders])
        assert by_id.rejects == []
        return (
            sorted(_drain_listings(client), key=str),
            orders,
            _drain_orders(client, by="updated"),
            by_id.records,
        )

    try:
        clean = read_everything()
        connected.sandbox.faults.update(rate_429=0.2, rate_5xx=0.1)
        try:
            # Faults are random: read again until some calls were retried (a few rounds).
            for _ in range(10):
                assert read_everything() == clean
                stats = client.http.stats
                if stats["retries"] >= 3 and stats["errors.RateLimitedError"] >= 1:
                    break
        finally:
            connected.sandbox.faults.update(rate_429=0.0, rate_5xx=0.0)
        assert client.http.stats["retries"] >= 3
        assert client.http.stats["errors.RateLimitedError"] >= 1
    finally:
        client.close()


def test_token_refresh_before_expiry_keeps_the_cipher(connected: Connected) -> None:
    stale = connected.tokens()
    connected.token_store.save(
        connected.store.store_id,
        stale.model_copy(update={"access_expires_at": datetime.now(UTC) - timedelta(minutes=1)}),
    )
    client = connected.client()
    try:
        assert _drain_listings(client)
    finally:
        client.close()
    fresh = connected.tokens()
    assert fresh.access_token != stale.access_token
    assert fresh.refresh_token != stale.refresh_token
    assert fresh.extra == stale.extra
    assert fresh.access_expires_at > datetime.now(UTC)


def test_token_expired_by_the_server_is_refreshed_transparently(
    connected: Connected, caplog: pytest.LogCaptureFixture
) -> None:
    client = connected.client()
    caplog.set_level(logging.DEBUG, logger="synchub")
    try:
        assert _drain_listings(client)
        stale = connected.tokens()
        connected.sandbox.clock.advance_delta(timedelta(days=8))
        listings = _drain_listings(client)
        assert len(listings) == 42
        assert client.http.stats["errors.AuthError"] == 1
        # Eight days on, an order delivered in the meantime has been returned.
        statuses = _assert_orders_match_the_world(connected, _drain_orders(client))
        assert statuses["returned"] >= 1, statuses
        assert client.http.stats["errors.AuthError"] == 1
    finally:
        client.close()
    fresh = connected.tokens()
    assert fresh.access_token != stale.access_token
    assert fresh.extra["shop_cipher"] == stale.extra["shop_cipher"]
    secrets = [*iter_secret_values(stale), *iter_secret_values(fresh), APP_SECRET]
    assert caplog.records and not any(s in caplog.text for s in secrets)


def test_refused_refresh_token_fails_loudly_without_leaking_it(connected: Connected) -> None:
    store = Store.of("tiktok", connected.store.seller_id, "revoked", tenant="other")
    token_store = MemoryTokenStore()
    revoked = TokenSet(
        access_token=SecretStr("TTP_revoked-access"),
        refresh_token=SecretStr("TTP_revoked-refresh"),
        access_expires_at=datetime.now(UTC) - timedelta(minutes=1),
        extra=connected.tokens().extra,
    )
    token_store.save(store.store_id, revoked)
    client = TikTokClient(connected.app, store, token_store, SALT)
    try:
        with pytest.raises(AuthError) as caught:
            next(client.iter_listings())
    finally:
        client.close()
    assert caught.value.code == "36004005"
    assert "revoked" not in str(caught.value) and APP_SECRET not in str(caught.value)
