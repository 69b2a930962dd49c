"""Contract tests for the TikTok Shop simulator, spoken to over real HTTP on loopback.

Signing is implemented here from the documented algorithm (API-NOTES section 3), never
imported from the simulator, so a mistake on either side shows up as a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.tiktok import APP_KEY, APP_SECRET, REDIRECT_URI
from synchub_pipelines_tests.conftest import PAYLOADS

ANCHOR = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
# The sandbox clock sits three days before the anchor, so the World holds orders that are
# not created yet and orders still moving through their statuses.
CLOCK_AT = ANCHOR - timedelta(days=3)
SEARCH = "/order/202309/orders/search"
WORLD_TO_TIKTOK = {
    "pending": {"UNPAID"},
    "paid": {"AWAITING_SHIPMENT"},
    "shipped": {"IN_TRANSIT"},
    "delivered": {"DELIVERED", "COMPLETED"},
    "cancelled": {"CANCELLED"},
    "returned": {"COMPLETED"},
}


def sign(secret: str, path: str, params: dict[str, str], body: bytes = b"") -> str:
    pieces = "".join(
        f"{key}{params[key]}" for key in sorted(params) if key not in ("sign", "access_token")
    )
    message = secret.encode() + path.encode() + pieces.encode() + body + secret.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _start(rate: float) -> RunningSandbox:
    # Only the TikTok simulator: these tests must not depend on the other marketplaces.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server, "SIMULATOR_MODULES", ("tiktok",))
        sandbox = Sandbox(
            SandboxConfig(seed=11, size="tiny", anchor=ANCHOR, rate_limits={"tiktok": rate})
        )
    sandbox.clock.advance(CLOCK_AT.timestamp() - time.time())
    return RunningSandbox(sandbox).start()


class Client:
    """A minimal TikTok client written from the documentation."""

    def __init__(self, running: RunningSandbox) -> None:
        self.running = running
        self.http = httpx.Client(base_url=running.base_url("tiktok"), timeout=10)
        self.access_token = ""
        self.refresh_token = ""
        self.cipher = ""

    def authorize(self) -> dict[str, Any]:
        redirect = self.http.get("/oauth/authorize", params={"app_key": APP_KEY, "state": "s1"})
        assert redirect.status_code == 302
        location = httpx.URL(redirect.headers["location"])
        assert str(location).startswith(REDIRECT_URI)
        assert location.params["state"] == "s1"
        return self.token_get(location.params["code"])

    def token_get(self, code: str) -> dict[str, Any]:
        params = {
            "app_key": APP_KEY,
            "app_secret": APP_SECRET,
            "auth_code": code,
            "grant_type": "authorized_code",
        }
        body: dict[str, Any] = self.http.get("/api/v2/token/get", params=params).json()
        if body["code"] == 0:
            self.access_token = body["data"]["access_token"]
            self.refresh_token = body["data"]["refresh_token"]
        return body

    def token_refresh(self, refresh_token: str) -> dict[str, Any]:
        params = {
            "app_key": APP_KEY,
            "app_secret": APP_SECRET,
            "refresh_token": refresh_token,
            "grant_type": "refresh_token",
        }
        body: dict[str, Any] = self.http.get("/api/v2/token/refresh", params=params).json()
        return body

    def call(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        *,
        cipher: bool = True,
        timestamp: int | None = None,
        tamper: bool = False,
    ) -> httpx.Response:
        params = {"app_key": APP_KEY, "timestamp": str(timestamp or int(time.time()))}
        if cipher:
            params["shop_cipher"] = self.cipher
        params.update(query or {})
        raw = json.dumps(body, separators=(",", ":")).encode() if method == "POST" else b""
        params["sign"] = sign(APP_SECRET, path, params, raw)
        if tamper:
            raw = raw.replace(b"}", b',"x":1}', 1)
        headers = {"x-tts-access-token": self.access_token, "content-type": "application/json"}
        return self.http.request(method, path, params=params, content=raw, headers=headers)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, **kwargs)
        body = response.json()
        assert response.status_code == 200 and body["code"] == 0, body
        data: dict[str, Any] = body["data"]
        return data

    def drain(self, filters: dict[str, Any], page_size: int, order: str) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = []
        token = ""
        while True:
            query = {"page_size": str(page_size), "sort_field": "create_time", "sort_order": order}
            if token:
                query["page_token"] = token
            data = self.ok("POST", SEARCH, query=query, body=filters)
            assert len(data["orders"]) <= page_size
            orders += data["orders"]
            token = data["next_page_token"]
            if not token:
                return orders


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = _start(rate=10_000)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def client(running: RunningSandbox) -> Client:
    c = Client(running)
    assert c.authorize()["code"] == 0
    shops = c.ok("GET", "/authorization/202309/shops", cipher=False)["shops"]
    c.cipher = shops[0]["cipher"]
    return c


def _simulator(running: RunningSandbox) -> Any:
    return running.sandbox.simulators["tiktok"]


def test_signature_matches_a_worked_example() -> None:
    # Derived by hand: secret + path + sorted key/value pairs (sign and access_token left
    # out) + raw body + secret, then HMAC-SHA256 keyed with the secret. The hex digest was
    # computed separately (python hmac and `openssl dgst -sha256 -hmac`).
    params = {
        "timestamp": "1700000000",
        "shop_cipher": "ROW_x",
        "app_key": "abc",
        "page_size": "10",
        "sign": "left-out",
        "access_token": "left-out",
    }
    body = b'{"order_status":"UNPAID"}'
    expected = "89d95eff88102f9e98141b4cfb08f629c31d276b92842b11a129a8507c554861"
    assert sign("test-secret", "/order/202309/orders/search", params, body) == expected


def test_authorized_shops(client: Client, running: RunningSandbox) -> None:
    shops = client.ok("GET", "/authorization/202309/shops", cipher=False)["shops"]
    seller = running.sandbox.world.sellers_of("tiktok")[0]
    assert [(s["id"], s["region"], s["name"]) for s in shops] == [
        (seller.seller_id, "BR", seller.nickname)
    ]
    assert shops[0]["cipher"].startswith("ROW_") and shops[0]["code"]
    # shop_cipher is not allowed on /authorization/*.
    response = client.call("GET", "/authorization/202309/shops")
    assert response.status_code == 400 and response.json()["code"] == 36009004


def test_bad_signature_and_tampered_body_are_rejected(client: Client) -> None:
    # Extra query parameters are part of the signed string.
    response = client.call("GET", "/authorization/202309/shops", cipher=False, query={"x": "1"})
    assert response.status_code == 200
    params = {"app_key": APP_KEY, "timestamp": str(int(time.time())), "sign": "0" * 64}
    bad = client.http.get(
        "/authorization/202309/shops",
        params=params,
        headers={"x-tts-access-token": client.access_token},
    )
    assert bad.status_code == 400 and bad.json()["code"] == 36009004
    assert bad.json()["request_id"]
    tampered = client.call("POST", SEARCH, query={"page_size": "5"}, body={}, tamper=True)
    assert tampered.status_code == 400 and tampered.json()["code"] == 36009004
    untampered = client.call("POST", SEARCH, query={"page_size": "5"}, body={})
    assert untampered.status_code == 200
    params = {"app_key": "someone-else", "timestamp": str(int(time.time()))}
    params["sign"] = sign(APP_SECRET, "/authorization/202309/shops", params)
    foreign = client.http.get(
        "/authorization/202309/shops",
        params=params,
        headers={"x-tts-access-token": client.access_token},
    )
    assert foreign.status_code == 400 and foreign.json()["code"] == 36009004


def test_stale_timestamp_is_rejected(client: Client) -> None:
    stale = int(time.time()) - 3600
    response = client.call("POST", SEARCH, query={"page_size": "5"}, body={}, timestamp=stale)
    assert response.status_code == 400 and response.json()["code"] == 36009004


def test_shop_cipher_is_required_on_shop_calls(client: Client) -> None:
    missing = client.call("POST", SEARCH, query={"page_size": "5"}, body={}, cipher=False)
    assert missing.status_code == 400 and missing.json()["code"] == 106011
    wrong = client.call(
        "POST", SEARCH, query={"page_size": "5", "shop_cipher": "ROW_NOPE"}, body={}
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == 106011


def test_unknown_path_envelope(client: Client) -> None:
    response = client.call("GET", "/order/202309/nothing")
    assert response.status_code == 404 and response.json()["code"] == 36009009


def test_token_get_and_refresh_rotation(running: RunningSandbox) -> None:
    c = Client(running)
    redirect = c.http.get("/oauth/authorize", params={"app_key": APP_KEY, "state": "abc"})
    code = httpx.URL(redirect.headers["location"]).params["code"]
    first = c.token_get(code)
    now = running.sandbox.clock.time()
    data = first["data"]
    assert first["code"] == 0 and first["request_id"]
    assert abs(data["access_token_expire_in"] - (now + 7 * 86400)) < 60  # absolute epoch
    assert data["refresh_token_expire_in"] > data["access_token_expire_in"]
    assert data["seller_base_region"] == "BR" and data["open_id"] and data["user_type"] == 0
    assert c.token_get(code)["code"] != 0  # the authorization code is single-use

    refreshed = c.token_refresh(data["refresh_token"])
    assert refreshed["code"] == 0
    assert refreshed["data"]["refresh_token"] != data["refresh_token"]
    assert refreshed["data"]["access_token"] != data["access_token"]
    assert c.token_refresh(data["refresh_token"])["code"] != 0  # the old one was rotated out
    again = c.token_refresh(refreshed["data"]["refresh_token"])
    assert again["code"] == 0
    c.access_token = again["data"]["access_token"]
    assert c.ok("GET", "/authorization/202309/shops", cipher=False)["shops"]


def test_expired_and_invalid_access_tokens(running: RunningSandbox) -> None:
    c = Client(running)
    c.authorize()
    c.access_token = "TTP_not-a-token"
    invalid = c.call("GET", "/authorization/202309/shops", cipher=False)
    assert invalid.status_code == 401 and invalid.json()["code"] == 105001
    c.authorize()
    week = 7 * 86400 + 1
    running.sandbox.clock.advance(week)
    try:
        expired = c.call("GET", "/authorization/202309/shops", cipher=False)
        assert expired.status_code == 401 and expired.json()["code"] == 105002
        # A refresh brings the shop back without a new authorization.
        refreshed = c.token_refresh(c.refresh_token)
        c.access_token = refreshed["data"]["access_token"]
        assert c.ok("GET", "/authorization/202309/shops", cipher=False)["shops"]
    finally:
        running.sandbox.clock.advance(-week)


def test_orders_search_pages_each_order_once_within_the_window(
    client: Client, running: RunningSandbox
) -> None:
    world = running.sandbox.world
    clock = running.sandbox.clock.now()
    seller = world.sellers_of("tiktok")[0]
    created = [o.created_at for o in world.orders_of(seller)]
    start, end = created[10], created[70]
    expected = {o.order_number for o in world.orders_of(seller) if start <= o.created_at < end}
    window = {"create_time_ge": int(start.timestamp()), "create_time_lt": int(end.timestamp())}

    ascending = client.drain(window, page_size=7, order="ASC")
    ids = [o["id"] for o in ascending]
    assert len(ids) == len(set(ids)) == len(expected) == 60
    times = [o["create_time"] for o in ascending]
    assert times == sorted(times)
    assert all(window["create_time_ge"] <= t < window["create_time_lt"] for t in times)
    descending = client.drain(window, page_size=9, order="DESC")
    assert [o["id"] for o in descending] == ids[::-1]

    first = client.ok("POST", SEARCH, query={"page_size": "7"}, body=window)
    assert first["total_count"] == 60
    reuse = client.call(
        "POST",
        SEARCH,
        query={"page_size": "7", "page_token": first["next_page_token"]},
        body={"create_time_ge": window["create_time_ge"]},
    )
    assert reuse.status_code == 400 and reuse.json()["code"] == 36009004
    too_big = client.call("POST", SEARCH, query={"page_size": "101"}, body={})
    assert too_big.status_code == 400

    # Orders created after the sandbox clock are not visible yet.
    everything = client.drain({}, page_size=100, order="ASC")
    visible = [o for o in world.orders_of(seller) if o.created_at <= clock]
    assert len(visible) < len(created)
    assert {o["id"] for o in everything} == {
        str(576_400_000_000_000_000 + o.order_number) for o in visible
    }


def test_order_shape_and_status_as_of_the_clock(client: Client, running: RunningSandbox) -> None:
    world = running.sandbox.world
    clock = running.sandbox.clock.now()
    seller = world.sellers_of("tiktok")[0]
    orders = {str(576_400_000_000_000_000 + o.order_number): o for o in world.orders_of(seller)}
    seen_statuses = set()
    exercised: set[str] = set()
    for rendered in client.drain({}, page_size=50, order="DESC"):
        order = orders[rendered["id"]]
        world_status, since = order.status_at(clock)
        assert rendered["status"] in WORLD_TO_TIKTOK[world_status]
        seen_statuses.add(rendered["status"])
        assert rendered["create_time"] == int(order.created_at.timestamp())
        assert rendered["update_time"] >= int(since.timestamp())
        payment = rendered["payment"]
        assert payment["currency"] == "BRL"
        _assert_payment_adds_up(rendered, order)
        exercised.update(k for k in DISCOUNTS_AND_TAX if Decimal(payment[k]))
        # One line item per unit, each with its own id.
        assert len(rendered["line_items"]) == sum(line.quantity for line in order.lines)
        assert len({item["id"] for item in rendered["line_items"]}) == len(rendered["line_items"])
        assert "@" in rendered["buyer_email"]
        levels = rendered["recipient_address"]["district_info"]
        assert levels[0]["address_name"] == "Brasil" and levels[-1]["address_name"]
    # The clock sits inside the World's history, so some orders are still on their way.
    assert {"IN_TRANSIT", "COMPLETED", "CANCELLED"} <= seen_statuses
    # Seller and TikTok discounts, on items and shipping, and taxes all occur.
    assert exercised == set(DISCOUNTS_AND_TAX)

    in_transit = client.ok(
        "POST", SEARCH, query={"page_size": "100"}, body={"order_status": "IN_TRANSIT"}
    )
    assert in_transit["orders"] and all(o["status"] == "IN_TRANSIT" for o in in_transit["orders"])
    assert in_transit["total_count"] == len(in_transit["orders"])


DISCOUNTS_AND_TAX = (
    "seller_discount",
    "platform_discount",
    "shipping_fee_seller_discount",
    "shipping_fee_platform_discount",
    "tax",
)


def _assert_payment_adds_up(rendered: dict[str, Any], order: Any) -> None:
    """The order's money to the cent: prices before discounts are the World's, and the
    payment object sums its line items as TikTok documents it."""
    payment, units = rendered["payment"], rendered["line_items"]
    d = Decimal
    for unit in units:
        assert d(unit["sale_price"]) == (
            d(unit["original_price"]) - d(unit["seller_discount"]) - d(unit["platform_discount"])
        )

    def total(key: str) -> Decimal:
        return sum((d(u[key]) for u in units), d(0))

    world_items = sum((line.unit_price * line.quantity for line in order.lines), d(0))
    assert total("original_price") == d(payment["original_total_product_price"]) == world_items
    assert total("sale_price") == d(payment["sub_total"])
    assert total("seller_discount") == d(payment["seller_discount"])
    assert total("platform_discount") == d(payment["platform_discount"])
    item_tax = sum((d(t["tax_amount"]) for u in units for t in u.get("item_tax", [])), d(0))
    assert item_tax == d(payment["product_tax"])
    assert d(payment["original_shipping_fee"]) == order.shipping_cost
    assert d(payment["shipping_fee"]) == (
        order.shipping_cost
        - d(payment["shipping_fee_seller_discount"])
        - d(payment["shipping_fee_platform_discount"])
    )
    assert d(payment["tax"]) == d(payment["product_tax"]) + d(payment["shipping_fee_tax"])
    assert d(payment["total_amount"]) == (
        d(payment["sub_total"]) + d(payment["shipping_fee"]) + d(payment["tax"])
    )


def test_get_orders_by_ids(client: Client) -> None:
    page = client.ok("POST", SEARCH, query={"page_size": "3"}, body={})["orders"]
    ids = [o["id"] for o in page]
    got = client.ok("GET", "/order/202309/orders", query={"ids": ",".join(ids)})["orders"]
    assert [o["id"] for o in got] == ids
    assert got[0] == page[0]
    too_many = client.call("GET", "/order/202309/orders", query={"ids": ",".join(["1"] * 51)})
    assert too_many.status_code == 400


def _products(client: Client, body: dict[str, Any], page_size: int) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    token = ""
    while True:
        query = {"page_size": str(page_size)}
        if token:
            query["page_token"] = token
        data = client.ok("POST", "/product/202309/products/search", query=query, body=body)
        products += data["products"]
        token = data["next_page_token"]
        if not token:
            return products


def test_products_search_and_detail(client: Client, running: RunningSandbox) -> None:
    world = running.sandbox.world
    listings = world.listings_of(world.sellers_of("tiktok")[0])
    products = _products(client, {}, page_size=4)
    assert len(products) == len({p["id"] for p in products}) == len(listings)
    skus = {s["seller_sku"] for p in products for s in p["skus"]}
    assert {v.sku or "" for lst in listings for v in lst.variations} == skus
    sku = products[0]["skus"][0]
    assert sku["price"]["currency"] == "BRL" and sku["inventory"][0]["warehouse_id"]

    wanted = next(s for s in sorted(skus) if s and not s.startswith("OLD-"))
    by_sku = _products(client, {"seller_skus": [wanted]}, page_size=10)
    assert len(by_sku) == 1 and wanted in {s["seller_sku"] for s in by_sku[0]["skus"]}

    detail = client.ok("GET", f"/product/202309/products/{products[0]['id']}")
    assert detail["id"] == products[0]["id"]
    assert detail["category_chains"][-1]["is_leaf"] is True
    missing = client.call("GET", "/product/202309/products/1729580000000000000")
    assert missing.status_code == 400 and missing.json()["code"] != 0


def test_inventory_update_is_reflected_in_search(client: Client, running: RunningSandbox) -> None:
    product = _products(client, {}, page_size=100)[1]
    sku = product["skus"][0]
    warehouse = sku["inventory"][0]["warehouse_id"]
    quantity = sku["inventory"][0]["quantity"] + 37
    path = f"/product/202309/products/{product['id']}/inventory/update"
    body = {
        "skus": [
            {"id": sku["id"], "inventory": [{"warehouse_id": warehouse, "quantity": quantity}]}
        ]
    }
    client.ok("POST", path, body=body)

    after = next(p for p in _products(client, {}, page_size=100) if p["id"] == product["id"])
    assert after["skus"][0]["inventory"][0]["quantity"] == quantity
    assert after["update_time"] >= product["update_time"]
    log = _simulator(running).inventory_writes
    assert (log[-1].sku_id, log[-1].quantity) == (sku["id"], quantity)

    unknown = {"skus": [{"id": "1", "inventory": [{"warehouse_id": warehouse, "quantity": 1}]}]}
    rejected = client.call("POST", path, body=unknown)
    assert rejected.status_code == 400 and rejected.json()["code"] == 12052557


def test_categories_attributes_rules_and_recommend(client: Client) -> None:
    categories = client.ok("GET", "/product/202309/categories")["categories"]
    leaves = {c["local_name"]: c for c in categories if c["is_leaf"]}
    parents = {c["id"] for c in categories if not c["is_leaf"]}
    assert "Camisetas" in leaves and all(c["parent_id"] in parents for c in leaves.values())
    leaf = leaves["Camisetas"]["id"]
    attributes = client.ok("GET", f"/product/202309/categories/{leaf}/attributes")["attributes"]
    kinds = {a["type"] for a in attributes}
    assert kinds == {"SALES_PROPERTY", "PRODUCT_PROPERTY"}
    assert all("is_requried" in a for a in attributes)
    rules = client.ok("GET", f"/product/202309/categories/{leaf}/rules")
    assert rules["size_chart"]["is_supported"] is True
    recommended = client.ok(
        "POST", "/product/202309/categories/recommend", body={"product_title": "Camiseta algodão"}
    )
    assert recommended["leaf_category_id"] == leaf


def test_record_sale_appends_a_paid_order(client: Client, running: RunningSandbox) -> None:
    product, sku = next(
        (p, s)
        for p in _products(client, {}, page_size=100)
        for s in p["skus"]
        if s["inventory"][0]["quantity"] > 0
    )
    before = sku["inventory"][0]["quantity"]
    sale = client.http.post(
        "/_sandbox/sales", json={"product_id": product["id"], "sku_id": sku["id"], "quantity": 1}
    )
    assert sale.status_code == 200
    order_id = sale.json()["order_id"]
    got = client.ok("GET", "/order/202309/orders", query={"ids": order_id})["orders"]
    assert got[0]["status"] == "AWAITING_SHIPMENT"
    assert got[0]["line_items"][0]["sku_id"] == sku["id"]
    after = next(p for p in _products(client, {}, page_size=100) if p["id"] == product["id"])
    sold = next(s for s in after["skus"] if s["id"] == sku["id"])
    assert sold["inventory"][0]["quantity"] == before - 1
    window = {"create_time_ge": got[0]["create_time"], "create_time_lt": got[0]["create_time"] + 1}
    found = client.ok("POST", SEARCH, query={"page_size": "10"}, body=window)["orders"]
    assert order_id in {o["id"] for o in found}


def test_rate_limit_answers_429_with_retry_after() -> None:
    sandbox = _start(rate=0.5)  # burst of one request
    try:
        c = Client(sandbox)
        c.authorize()
        statuses = [c.call("GET", "/authorization/202309/shops", cipher=False) for _ in range(3)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited, [r.status_code for r in statuses]
        assert limited[0].json()["code"] == 36009002
        assert int(limited[0].headers["retry-after"]) >= 1
    finally:
        sandbox.stop()


def test_injected_5xx_uses_the_error_envelope(client: Client, running: RunningSandbox) -> None:
    faults = running.url + "/_sandbox/faults"
    httpx.post(faults, json={"rate_5xx": 1.0})
    try:
        response = client.call("GET", "/authorization/202309/shops", cipher=False)
        body = response.json()
        assert response.status_code == 500
        assert body["code"] not in (0, None) and body["request_id"] and body["message"]
    finally:
        httpx.post(faults, json={"rate_5xx": 0.0})
    assert client.call("GET", "/authorization/202309/shops", cipher=False).status_code == 200


# --- finance, fulfillment and product review ------------------------------------------------

SAMPLES = PAYLOADS / "tiktok"
ORDER_STATEMENT = "/finance/202309/orders/{}/statement_transactions"
# The 202309 fee fields; `fee_amount` is their sum (the sandbox's documented formula).
FEES = (
    "platform_commission_amount",
    "referral_fee_amount",
    "transaction_fee_amount",
    "affiliate_commission_amount",
    "affiliate_ads_commission_amount",
    "affiliate_partner_commission_amount",
    "fbt_fulfillment_fee_amount",
    "refund_administration_fee_amount",
)
SHIPPING_FEE = (
    "actual_shipping_fee_amount",
    "platform_shipping_fee_discount_amount",
    "actual_return_shipping_fee_amount",
    "signature_confirmation_fee_amount",
)
SHIPPING_COST = (
    "shipping_fee_amount",
    "customer_paid_shipping_fee_amount",
    "customer_paid_shipping_fee_refund_amount",
    "fbt_shipping_cost_amount",
    "fbm_shipping_cost_amount",
    "shipping_cost_discount_amount",
    "refund_shipping_cost_discount_amount",
    "shipping_insurance_fee_amount",
    "return_shipping_fee_amount",
    "promo_shipping_incentive_amount",
    "customer_shipping_fee_offset_amount",
)
NOT_MONEY = {
    "currency",
    "id",
    "statement_id",
    "statement_time",
    "status",
    "sku_statement_transactions",
    "product_name",
    "quantity",
    "sku_id",
    "sku_name",
    "order_id",
    "order_create_time",
    "type",
    "adjustment_id",
    "adjustment_order_id",
}


def _sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text())["data"]
    return data


def _money(row: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in row.items() if k not in NOT_MONEY}


def _assert_adds_up(row: dict[str, Any]) -> None:
    """One settlement (a transaction or a SKU row) to the cent."""
    a = _money(row)
    assert a["net_sales_amount"] == (
        a["gross_sales_amount"]
        + a["gross_sales_refund_amount"]
        + a["seller_discount_amount"]
        + a["seller_discount_refund_amount"]
    )
    assert a["revenue_amount"] == (
        a["net_sales_amount"] + a["platform_discount_amount"] + a["platform_discount_refund_amount"]
    )
    assert a["fee_amount"] == sum((a[k] for k in FEES), Decimal(0))
    assert all(a[k] <= 0 for k in FEES)
    assert a["shipping_fee_amount"] == sum((a[k] for k in SHIPPING_FEE), Decimal(0))
    assert a["shipping_cost_amount"] == sum((a[k] for k in SHIPPING_COST), Decimal(0))
    assert a["settlement_amount"] == (
        a["revenue_amount"] + a["fee_amount"] + a["shipping_cost_amount"] + a["adjustment_amount"]
    )


def _statement(client: Client, order_id: str) -> dict[str, Any]:
    return client.ok("GET", ORDER_STATEMENT.format(order_id), cipher=True)


def test_order_statement_transactions_follow_the_sample_and_add_up(client: Client) -> None:
    sample = _sample("finance_202309_order_statement_transactions_response.json")
    sample_tx = sample["statement_transactions"][0]
    orders = client.drain({}, page_size=100, order="ASC")
    settled: dict[str, str] = {}
    waiting = []
    for order in orders:
        data = _statement(client, order["id"])
        assert set(data) == set(sample)
        assert data["order_id"] == order["id"]
        assert data["order_create_time"] == order["create_time"]
        if not data["statement_transactions"]:
            if order["status"] in ("DELIVERED", "COMPLETED"):
                waiting.append(order["id"])
            continue
        [tx] = data["statement_transactions"]
        assert set(tx) == set(sample_tx)
        assert (tx["status"], tx["currency"]) == ("SETTLED", "BRL")
        assert tx["statement_time"] <= client.running.sandbox.clock.time()
        assert tx["statement_time"] > order.get("delivery_time", order.get("cancel_time", 0))
        _assert_adds_up(tx)
        skus = tx["sku_statement_transactions"]
        assert all(set(sku) == set(sample_tx["sku_statement_transactions"][0]) for sku in skus)
        for sku in skus:
            _assert_adds_up(sku)
        for field, total in _money(tx).items():
            assert total == sum((_money(sku)[field] for sku in skus), Decimal(0)), field
        # The settlement starts from the order's own money.
        payment = order["payment"]
        assert Decimal(tx["gross_sales_amount"]) == Decimal(payment["original_total_product_price"])
        assert -Decimal(tx["seller_discount_amount"]) == Decimal(payment["seller_discount"])
        assert Decimal(tx["platform_discount_amount"]) == Decimal(payment["platform_discount"])
        assert Decimal(tx["customer_paid_shipping_fee_amount"]) == Decimal(payment["shipping_fee"])
        assert {sku["sku_id"] for sku in skus} == {i["sku_id"] for i in order["line_items"]}
        settled[order["id"]] = tx["statement_id"]
    # At the clock, older orders are settled and recently delivered ones are not yet.
    assert len(settled) > 10 and waiting, (len(settled), waiting)


def test_statements_list_every_settled_order_once(client: Client) -> None:
    statements_sample = _sample("finance_202309_statements_response.json")
    rows_sample = _sample("finance_202309_statement_transactions_response.json")
    statements = []
    token = ""
    while True:
        query = {"sort_field": "statement_time", "page_size": "4"}
        if token:
            query["page_token"] = token
        page = client.ok("GET", "/finance/202309/statements", query=query)
        assert set(page) == set(statements_sample)
        statements += page["statements"]
        token = page["next_page_token"]
        if not token:
            break
    assert len(statements) > 4
    times = [s["statement_time"] for s in statements]
    assert times == sorted(times) and len(set(times)) == len(times)
    seen: dict[str, str] = {}
    for statement in statements:
        assert set(statement) == set(statements_sample["statements"][0])
        rows = []
        token = ""
        while True:
            query = {"sort_field": "order_create_time", "page_size": "3"}
            if token:
                query["page_token"] = token
            path = f"/finance/202309/statements/{statement['id']}/statement_transactions"
            page = client.ok("GET", path, query=query)
            assert set(page) == set(rows_sample)
            rows += page["statement_transactions"]
            token = page["next_page_token"]
            if not token:
                break
        assert page["total_count"] == len(rows)
        row_keys = set(rows_sample["statement_transactions"][0]) - {
            "adjustment_id",
            "adjustment_order_id",
        }
        for row in rows:
            assert set(row) == row_keys and row["type"] == "ORDER"
            _assert_adds_up(row)
            assert row["order_id"] not in seen
            seen[row["order_id"]] = statement["id"]
        for field in ("revenue_amount", "fee_amount", "settlement_amount", "shipping_cost_amount"):
            total = sum((Decimal(r[field]) for r in rows), Decimal(0))
            assert Decimal(statement[field]) == Decimal(page[field]) == total, field
    # Each statement's orders are the ones the per-order endpoint says it settles.
    for order_id, statement_id in list(seen.items())[:15]:
        [tx] = _statement(client, order_id)["statement_transactions"]
        assert tx["statement_id"] == statement_id


def test_finance_errors_use_the_envelope(client: Client) -> None:
    no_sort = client.call("GET", "/finance/202309/statements", query={"page_size": "5"})
    assert no_sort.status_code == 400 and no_sort.json()["code"] == 36009004
    unknown = client.call(
        "GET",
        "/finance/202309/statements/7238800000000000001/statement_transactions",
        query={"sort_field": "order_create_time"},
    )
    assert unknown.status_code == 400 and unknown.json()["request_id"]
    foreign = client.call("GET", ORDER_STATEMENT.format("576400000000000001"))
    assert foreign.status_code == 400 and foreign.json()["code"] == 36009004
    too_big = client.call(
        "GET",
        "/finance/202309/statements",
        query={"sort_field": "statement_time", "page_size": "101"},
    )
    assert too_big.status_code == 400


def test_settlement_comes_days_after_delivery_and_within_45_days(running: RunningSandbox) -> None:
    world = running.sandbox.world
    seller = world.sellers_of("tiktok")[0]
    clock = running.sandbox.clock
    start = clock.now()
    delivered = [
        o
        for o in world.orders_of(seller)
        if o.status_at(start)[0] == "delivered"
        and start - o.status_at(start)[1] < timedelta(days=1)
    ]
    assert delivered
    order = delivered[0]
    order_id = str(576_400_000_000_000_000 + order.order_number)
    delivered_at = order.status_at(start)[1]
    try:
        for _ in range(12):
            clock.advance_delta(timedelta(days=1))
            c = Client(running)  # the sandbox's own clock expires older tokens
            c.authorize()
            c.cipher = c.ok("GET", "/authorization/202309/shops", cipher=False)["shops"][0][
                "cipher"
            ]
            if _statement(c, order_id)["statement_transactions"]:
                break
        [tx] = _statement(c, order_id)["statement_transactions"]
        settled_at = datetime.fromtimestamp(tx["statement_time"], tz=UTC)
        assert timedelta(days=3) <= settled_at - delivered_at <= timedelta(days=9)
        # Well past the World's last sale, every finished paid order is settled within
        # 45 days of its sale; one never paid, never.
        clock.advance(ANCHOR.timestamp() + 46 * 86400 - clock.time())
        c = Client(running)
        c.authorize()
        c.cipher = c.ok("GET", "/authorization/202309/shops", cipher=False)["shops"][0]["cipher"]
        for o in c.drain({}, page_size=100, order="ASC"):
            txs = _statement(c, o["id"])["statement_transactions"]
            # A sale recorded at the clock by another test is still waiting to ship.
            finished = o["status"] in ("DELIVERED", "COMPLETED", "CANCELLED")
            assert bool(txs) == (finished and "paid_time" in o), o["id"]
            for settled in txs:
                assert settled["statement_time"] - o["create_time"] <= 45 * 86400
    finally:
        clock.advance(start.timestamp() - clock.time())


def test_package_detail_and_tracking_follow_the_samples(client: Client) -> None:
    package_sample = _sample("fulfillment_202309_package_detail_response.json")
    tracking_sample = _sample("fulfillment_202309_order_tracking_response.json")
    orders = client.drain({}, page_size=100, order="ASC")
    delivered = next(o for o in orders if o["status"] == "COMPLETED" and "delivery_time" in o)
    [package] = delivered["packages"]
    detail = client.ok("GET", f"/fulfillment/202309/packages/{package['id']}")
    assert set(detail) <= set(package_sample) and set(package_sample) - set(detail) <= {
        "pickup_slot",
        "split_and_combine_tag",
    }
    assert detail["package_id"] == package["id"]
    assert detail["package_status"] == "COMPLETED"
    assert detail["tracking_number"] == delivered["tracking_number"]
    assert detail["shipping_provider_name"] == delivered["shipping_provider"]
    assert [o["id"] for o in detail["orders"]] == [delivered["id"]]
    units = sum(s["quantity"] for s in detail["orders"][0]["skus"])
    assert units == len(delivered["line_items"]) == len(detail["order_line_item_ids"])
    assert set(detail["order_line_item_ids"]) == {i["id"] for i in delivered["line_items"]}

    tracking = client.ok("GET", f"/fulfillment/202309/orders/{delivered['id']}/tracking")
    assert set(tracking) == set(tracking_sample)
    events = tracking["tracking"]
    assert all(set(e) == set(tracking_sample["tracking"][0]) for e in events)
    stamps = [e["update_time_millis"] for e in events]
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[0] == delivered["delivery_time"] * 1000
    assert stamps[-1] == delivered["collection_time"] * 1000

    unpaid = next(o for o in orders if o["status"] == "UNPAID")
    assert client.ok("GET", f"/fulfillment/202309/orders/{unpaid['id']}/tracking") == {
        "tracking": []
    }
    no_package = client.call("GET", f"/fulfillment/202309/packages/{1_153_000_000_000_000_001}")
    assert no_package.status_code == 400 and no_package.json()["code"] == 36009004


def test_reviewed_products_say_why(client: Client) -> None:
    sample = _sample("product_202309_product_detail_response.json")
    products = _products(client, {}, page_size=100)
    statuses = {p["status"] for p in products}
    assert (
        {"FREEZE", "FAILED"}
        <= statuses
        <= {"ACTIVATE", "SELLER_DEACTIVATED", "FREEZE", "FAILED", "PLATFORM_DEACTIVATED"}
    )
    frozen = _products(client, {"status": "FREEZE"}, page_size=10)
    assert len(frozen) == 1
    for product in products:
        detail = client.ok("GET", f"/product/202309/products/{product['id']}")
        if product["status"] in ("FREEZE", "FAILED", "PLATFORM_DEACTIVATED"):
            [failure] = detail["audit_failed_reasons"]
            assert set(failure) == set(sample["audit_failed_reasons"][0])
            assert failure["reasons"] and failure["suggestions"]
        else:
            assert "audit_failed_reasons" not in detail
