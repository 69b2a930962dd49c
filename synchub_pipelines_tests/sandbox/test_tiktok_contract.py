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
from typing import Any

import httpx
import pytest

from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.tiktok import APP_KEY, APP_SECRET, REDIRECT_URI

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
    for rendered in client.drain({}, page_size=50, order="DESC"):
        order = orders[rendered["id"]]
        world_status, since = order.status_at(clock)
        assert rendered["status"] in WORLD_TO_TIKTOK[world_status]
        seen_statuses.add(rendered["status"])
        assert rendered["create_time"] == int(order.created_at.timestamp())
        assert rendered["update_time"] >= int(since.timestamp())
        payment = rendered["payment"]
        assert payment["currency"] == "BRL"
        total = sum((line.unit_price * line.quantity for line in order.lines), start=0)
        assert float(payment["sub_total"]) == pytest.approx(float(total))
        assert float(payment["total_amount"]) == pytest.approx(float(total + order.shipping_cost))
        # One line item per unit, each with its own id.
        assert len(rendered["line_items"]) == sum(line.quantity for line in order.lines)
        assert len({item["id"] for item in rendered["line_items"]}) == len(rendered["line_items"])
        assert "@" in rendered["buyer_email"]
        levels = rendered["recipient_address"]["district_info"]
        assert levels[0]["address_name"] == "Brasil" and levels[-1]["address_name"]
    # The clock sits inside the World's history, so some orders are still on their way.
    assert {"IN_TRANSIT", "COMPLETED", "CANCELLED"} <= seen_statuses

    in_transit = client.ok(
        "POST", SEARCH, query={"page_size": "100"}, body={"order_status": "IN_TRANSIT"}
    )
    assert in_transit["orders"] and all(o["status"] == "IN_TRANSIT" for o in in_transit["orders"])
    assert in_transit["total_count"] == len(in_transit["orders"])


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
