"""Contract tests of the Shopee Open Platform v2 simulator, over HTTP on loopback.

Signing is written here from the documented algorithm (API-NOTES §2, the official
"API calls" guide), never imported from the simulator, so a shared mistake cannot hide.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.shopee_render import order_sn
from synchub_pipelines.sandbox.world import Listing, Order, Seller
from synchub_pipelines_tests.conftest import PAYLOADS as ALL_PAYLOADS
from synchub_pipelines_tests.marketplaces.test_shopee_facts import escrow_formula

PARTNER_ID = 2001887
PARTNER_KEY = "sandbox-shopee-partner-key-0123456789abcdef"
REDIRECT = "https://localhost:8787/synchub/callback/shopee"
ANCHOR = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SHOPEE_STATUS = {
    "pending": "UNPAID",
    "paid": "READY_TO_SHIP",
    "shipped": "SHIPPED",
    "delivered": "COMPLETED",
    "cancelled": "CANCELLED",
    "returned": "TO_RETURN",
}
DAY = 86_400
PAYLOADS = ALL_PAYLOADS / "shopee"


def base_string(
    partner_id: int, path: str, timestamp: int, token: str = "", shop_id: Any = ""
) -> str:
    return f"{partner_id}{path}{timestamp}{token}{shop_id}"


def sign(base: str, key: str = PARTNER_KEY) -> str:
    return hmac.new(key.encode("utf-8"), base.encode("utf-8"), hashlib.sha256).hexdigest()


class ShopeeClient:
    """A minimal independent client: signs public and shop calls at the sandbox clock."""

    def __init__(self, running: RunningSandbox) -> None:
        self.sandbox = running.sandbox
        self.http = httpx.Client(base_url=running.base_url("shopee"), timeout=10)
        self.shop_id = int(self.sandbox.world.sellers_of("shopee")[0].seller_id)
        self.access_token = ""
        self.refresh_token = ""

    def now(self) -> int:
        return int(self.sandbox.clock.time())

    def public(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        timestamp = params.pop("timestamp", self.now())
        query = {
            "partner_id": PARTNER_ID,
            "timestamp": timestamp,
            "sign": sign(base_string(PARTNER_ID, path, timestamp)),
            **params,
        }
        return self.http.request(method, path, params=query, json=body)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        timestamp = params.pop("timestamp", self.now())
        token = params.pop("access_token", self.access_token)
        query = {
            "partner_id": PARTNER_ID,
            "timestamp": timestamp,
            "access_token": token,
            "shop_id": self.shop_id,
            "sign": sign(base_string(PARTNER_ID, path, timestamp, token, self.shop_id)),
            **params,
        }
        return self.http.request(method, path, params=query, json=body)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.call("GET", path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def ok(self, path: str, **params: Any) -> dict[str, Any]:
        payload = self.get(path, **params)
        assert payload["error"] == "", payload
        return payload["response"]

    def consent(self) -> str:
        path = "/api/v2/shop/auth_partner"
        response = self.public("GET", path, redirect=REDIRECT)
        assert response.status_code == 302, response.text
        location = urlsplit(response.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        query = parse_qs(location.query)
        assert int(query["shop_id"][0]) == self.shop_id
        return query["code"][0]

    def exchange(self, code: str) -> httpx.Response:
        body = {"code": code, "partner_id": PARTNER_ID, "shop_id": self.shop_id}
        return self.public("POST", "/api/v2/auth/token/get", body)

    def refresh(self, refresh_token: str) -> httpx.Response:
        body = {"refresh_token": refresh_token, "partner_id": PARTNER_ID, "shop_id": self.shop_id}
        return self.public("POST", "/api/v2/auth/access_token/get", body)

    def authorize(self) -> ShopeeClient:
        tokens = self.exchange(self.consent()).json()
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        return self


@pytest.fixture(scope="module")
def only_shopee() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server, "SIMULATOR_MODULES", ("shopee",))
        yield


def _start(rate_limits: dict[str, float] | None = None) -> RunningSandbox:
    sandbox = Sandbox(
        SandboxConfig(seed=11, size="tiny", anchor=ANCHOR, rate_limits=rate_limits or {})
    )
    # Run the clock an hour past the anchor so orders are caught mid-life.
    sandbox.clock.advance(ANCHOR.timestamp() + 3600 - time.time())
    return RunningSandbox(sandbox).start()


@pytest.fixture(scope="module")
def running(only_shopee: None) -> Iterator[RunningSandbox]:
    running = _start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def shopee(running: RunningSandbox) -> ShopeeClient:
    return ShopeeClient(running).authorize()


@pytest.fixture
def fresh(only_shopee: None) -> Iterator[ShopeeClient]:
    """A sandbox of its own, for tests that move the clock."""
    running = _start()
    yield ShopeeClient(running)
    running.stop()


def _seller(client: ShopeeClient) -> Seller:
    return client.sandbox.world.sellers_of("shopee")[0]


def _listings(client: ShopeeClient) -> list[Listing]:
    return client.sandbox.world.listings_of(_seller(client))


def _orders(client: ShopeeClient) -> list[Order]:
    return list(client.sandbox.world.orders_of(_seller(client)))


# --- signing -----------------------------------------------------------------------------


def test_sign_follows_the_documented_worked_example() -> None:
    from synchub_pipelines.sandbox import shopee

    assert (shopee.PARTNER_ID, shopee.PARTNER_KEY, shopee.REDIRECT_URL) == (
        PARTNER_ID,
        PARTNER_KEY,
        REDIRECT,
    )
    # The base string of the official guide's shop-API example, character for character.
    base = base_string(
        2001887,
        "/api/v2/shop/get_shop_info",
        1655714431,
        "59777174636562737266615546704c6d",
        14701711,
    )
    assert (
        base
        == "2001887/api/v2/shop/get_shop_info165571443159777174636562737266615546704c6d14701711"
    )
    # HMAC-SHA256 keyed with the partner key's UTF-8 bytes, lowercase hex (computed by hand).
    assert sign(base) == "39db5430971fa0f2c941e1bf9ae1cd1a07d5e718672ae32ab823442cdb7ad6b4"
    public = base_string(2001887, "/api/v2/public/get_shops_by_partner", 1655714431)
    assert sign(public) == "48acbb05a312bb78e8ce108897770577f1374cb1cd2a58b55f28c4af9a3d037d"


def test_wrong_sign_is_error_sign(shopee: ShopeeClient) -> None:
    path = "/api/v2/product/get_item_list"
    good = shopee.now()
    response = shopee.http.get(
        path,
        params={
            "partner_id": PARTNER_ID,
            "timestamp": good,
            "access_token": shopee.access_token,
            "shop_id": shopee.shop_id,
            # Signed as a public call: the shop part of the base string is missing.
            "sign": sign(base_string(PARTNER_ID, path, good)),
            "offset": 0,
            "page_size": 10,
            "item_status": "NORMAL",
        },
    )
    assert response.status_code == 200
    payload = response.json()
    assert (payload["error"], payload["message"]) == ("error_sign", "Wrong sign.")
    assert payload["request_id"] and "response" not in payload
    # Signing with the mount prefix in the path is also wrong: the API path is /api/v2/…
    prefixed = base_string(PARTNER_ID, "/shopee" + path, good, shopee.access_token, shopee.shop_id)
    response = shopee.call("GET", path, offset=0, page_size=10, item_status="NORMAL")
    assert response.json()["error"] == ""
    params = dict(response.request.url.params)
    params["sign"] = sign(prefixed)
    assert shopee.http.get(path, params=params).json()["error"] == "error_sign"


def test_timestamp_must_be_within_five_minutes(shopee: ShopeeClient) -> None:
    path = "/api/v2/product/get_item_list"
    page = {"offset": 0, "page_size": 5, "item_status": "NORMAL"}
    expired = shopee.get(path, timestamp=shopee.now() - 301, **page)
    assert (expired["error"], expired["message"]) == ("error_param", "Timestamp is expired.")
    future = shopee.get(path, timestamp=shopee.now() + 400, **page)
    assert (future["error"], future["message"]) == ("error_param", "Invalid timestamp")
    assert shopee.get(path, timestamp=shopee.now() - 200, **page)["error"] == ""


def test_unknown_partner_is_rejected(shopee: ShopeeClient) -> None:
    path = "/api/v2/auth/token/get"
    now = shopee.now()
    response = shopee.http.post(
        path,
        params={"partner_id": 999, "timestamp": now, "sign": sign(base_string(999, path, now))},
        json={"code": "x", "partner_id": 999, "shop_id": shopee.shop_id},
    )
    assert response.json()["error"] == "error_param"


# --- authorization -----------------------------------------------------------------------


def test_token_flow_rotates_single_use_refresh_tokens(fresh: ShopeeClient) -> None:
    path = "/api/v2/product/get_item_list"
    page = {"offset": 0, "page_size": 5, "item_status": "NORMAL"}
    code = fresh.consent()
    first = fresh.exchange(code).json()
    assert first["error"] == "" and first["expire_in"] == 14400
    assert len(first["access_token"]) == 32 and first["refresh_token"] != first["access_token"]
    assert fresh.exchange(code).json()["error"] == "invalid_code"  # the code is single-use

    second = fresh.refresh(first["refresh_token"]).json()
    assert second["error"] == "" and second["expire_in"] == 14400
    assert second["access_token"] != first["access_token"]
    reused = fresh.refresh(first["refresh_token"]).json()
    assert reused["error"] == "error_auth" and "refresh_token" in reused["message"]

    # The previous access token keeps working for 5 minutes after the refresh, then stops.
    fresh.sandbox.clock.advance(240)
    assert fresh.get(path, access_token=first["access_token"], **page)["error"] == ""
    fresh.sandbox.clock.advance(70)
    stale = fresh.get(path, access_token=first["access_token"], **page)
    assert stale["error"] == "invalid_access_token"
    assert fresh.get(path, access_token=second["access_token"], **page)["error"] == ""

    # Access tokens last 4 hours; the refresh token (30 days) still rotates after that.
    fresh.sandbox.clock.advance(4 * 3600)
    expired = fresh.get(path, access_token=second["access_token"], **page)
    assert expired["error"] == "invalid_access_token"
    third = fresh.refresh(second["refresh_token"]).json()
    assert third["error"] == "" and third["shop_id"] == fresh.shop_id
    assert fresh.get(path, access_token=third["access_token"], **page)["error"] == ""
    fresh.sandbox.clock.advance(31 * DAY)
    assert fresh.refresh(third["refresh_token"]).json()["error"] == "refresh_token_expired"


def test_auth_partner_only_redirects_to_the_registered_domain(shopee: ShopeeClient) -> None:
    path = "/api/v2/shop/auth_partner"
    response = shopee.public("GET", path, redirect="https://attacker.example/cb")
    assert response.status_code == 200 and response.json()["error"] == "error_param"


# --- products ------------------------------------------------------------------------------


LISTED = ["NORMAL", "UNLIST", "BANNED", "REVIEWING"]


def test_item_list_pages_to_the_end(shopee: ShopeeClient) -> None:
    path = "/api/v2/product/get_item_list"
    statuses = LISTED
    seen: list[int] = []
    offset, pages = 0, 0
    while True:
        page = shopee.ok(path, offset=offset, page_size=2, item_status=statuses)
        assert page["total_count"] == len(_listings(shopee))
        assert len(page["item"]) <= 2
        seen += [item["item_id"] for item in page["item"]]
        pages += 1
        if not page["has_next_page"]:
            break
        offset = page["next_offset"]
    assert len(seen) == len(set(seen)) == len(_listings(shopee))
    assert pages == -(-len(seen) // 2)
    active = shopee.ok(path, offset=0, page_size=100, item_status="NORMAL")
    held = shopee.ok(path, offset=0, page_size=100, item_status=["BANNED", "REVIEWING"])
    assert held["total_count"] >= 2  # Shopee holds a few items in every shop
    assert active["total_count"] + held["total_count"] <= len(_listings(shopee))
    assert {i["item_status"] for i in active["item"]} == {"NORMAL"}
    assert shopee.get(path, offset=0, page_size=101, item_status="NORMAL")["error"] == "error_param"
    assert shopee.get(path, offset=0, page_size=10)["error"] == "error_param"  # item_status needed


def _all_items(shopee: ShopeeClient) -> list[dict[str, Any]]:
    listed = shopee.ok("/api/v2/product/get_item_list", offset=0, page_size=100, item_status=LISTED)
    ids = ",".join(str(item["item_id"]) for item in listed["item"])
    return shopee.ok("/api/v2/product/get_item_base_info", item_id_list=ids)["item_list"]


def test_item_base_info_caps_ids_and_carries_skus(shopee: ShopeeClient) -> None:
    path = "/api/v2/product/get_item_base_info"
    too_many = ",".join(str(20_000_000_000 + n) for n in range(51))
    assert shopee.get(path, item_id_list=too_many)["error"] == "error_param"
    items = _all_items(shopee)
    by_title = {(lst.title, lst.has_variations): lst for lst in _listings(shopee)}
    assert {(i["item_name"], i["has_model"]) for i in items} == set(by_title)
    for item in items:
        listing = by_title[(item["item_name"], item["has_model"])]
        if item["item_status"] not in ("BANNED", "REVIEWING"):
            assert item["item_status"] == ("NORMAL" if listing.status == "active" else "UNLIST")
        if item["has_model"]:
            assert "price_info" not in item  # model prices live in get_model_list
            continue
        variation = listing.variations[0]
        assert item["item_sku"] == (variation.sku or "")
        assert item["price_info"][0]["currency"] == "BRL"
        assert item["price_info"][0]["current_price"] == float(variation.price)
        stock = item["stock_info_v2"]
        assert stock["seller_stock"] == [
            {"location_id": "BRZ", "stock": variation.available_quantity, "if_saleable": True}
        ]
        assert stock["summary_info"]["total_available_stock"] == variation.available_quantity


def test_update_stock_changes_model_stock(shopee: ShopeeClient, running: RunningSandbox) -> None:
    item = next(i for i in _all_items(shopee) if i["has_model"])
    models = shopee.ok("/api/v2/product/get_model_list", item_id=item["item_id"])
    listing = next(lst for lst in _listings(shopee) if lst.title == item["item_name"])
    assert len(models["model"]) == len(listing.variations)
    tiers = models["tier_variation"]
    for model in models["model"]:
        assert len(model["tier_index"]) == len(tiers)
        assert all(
            0 <= i < len(t["option_list"]) for i, t in zip(model["tier_index"], tiers, strict=True)
        )
    target = models["model"][0]
    new_stock = target["stock_info_v2"]["seller_stock"][0]["stock"] + 17
    before = shopee.now()
    result = shopee.call(
        "POST",
        "/api/v2/product/update_stock",
        {
            "item_id": item["item_id"],
            "stock_list": [
                {
                    "model_id": target["model_id"],
                    "seller_stock": [{"location_id": "BRZ", "stock": new_stock}],
                },
                {"model_id": 1, "seller_stock": [{"stock": 3}]},
            ],
        },
    ).json()
    assert result["error"] == "", result
    assert result["response"]["success_list"] == [
        {"model_id": target["model_id"], "location_id": "BRZ", "stock": new_stock}
    ]
    assert [f["model_id"] for f in result["response"]["failure_list"]] == [1]
    after = shopee.ok("/api/v2/product/get_model_list", item_id=item["item_id"])
    changed = next(m for m in after["model"] if m["model_id"] == target["model_id"])
    assert changed["stock_info_v2"]["summary_info"]["total_available_stock"] == new_stock
    variation = next(v for v in listing.variations if v.variation_number == target["model_id"])
    assert variation.available_quantity == new_stock
    write = running.sandbox.simulators["shopee"].stock_writes[-1]
    assert (write.item_id, write.model_id, write.stock) == (
        item["item_id"],
        target["model_id"],
        new_stock,
    )
    recent = shopee.ok(
        "/api/v2/product/get_item_list",
        offset=0,
        page_size=100,
        item_status=LISTED,
        update_time_from=before - 1,
    )
    assert item["item_id"] in {i["item_id"] for i in recent["item"]}
    empty = shopee.call(
        "POST", "/api/v2/product/update_stock", {"item_id": item["item_id"], "stock_list": []}
    )
    assert empty.json()["error"] == "error_param"


def test_categories_attribute_tree_and_recommendation(shopee: ShopeeClient) -> None:
    categories = shopee.ok("/api/v2/product/get_category", language="pt-br")["category_list"]
    ids = {c["category_id"] for c in categories}
    leaves = [c for c in categories if not c["has_children"]]
    assert leaves and all(c["parent_category_id"] in ids for c in leaves)
    item_categories = {i["category_id"] for i in _all_items(shopee)}
    assert item_categories <= {c["category_id"] for c in leaves}
    leaf_ids = ",".join(str(c["category_id"]) for c in leaves)
    trees = shopee.ok(
        "/api/v2/product/get_attribute_tree", category_id_list=leaf_ids, language="pt-br"
    )
    assert [t["category_id"] for t in trees["list"]] == [c["category_id"] for c in leaves]
    for tree in trees["list"]:
        attributes = tree["attribute_tree"]
        assert any(a["mandatory"] for a in attributes)
        drop_downs = [a for a in attributes if a["attribute_info"]["input_type"] == 1]
        assert drop_downs and all(a["attribute_value_list"] for a in drop_downs)
        weight = next(a for a in attributes if a["name"] == "Net Weight")
        assert weight["attribute_info"]["attribute_unit_list"] == ["g", "kg"]
    too_many = ",".join(str(100 + n) for n in range(21))
    assert (
        shopee.get("/api/v2/product/get_attribute_tree", category_id_list=too_many)["error"]
        == "error_param"
    )
    shirts = next(c for c in leaves if c["display_category_name"] == "Camisetas")
    recommended = shopee.ok("/api/v2/product/category_recommend", item_name="Camiseta de algodão")
    assert recommended["category_id"][0] == shirts["category_id"]


# --- orders --------------------------------------------------------------------------------


def _drain(
    shopee: ShopeeClient, field: str, time_from: int, time_to: int, **extra: Any
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = shopee.ok(
            "/api/v2/order/get_order_list",
            time_range_field=field,
            time_from=time_from,
            time_to=time_to,
            page_size=7,
            cursor=cursor,
            **extra,
        )
        assert len(page["order_list"]) <= 7
        rows += page["order_list"]
        if not page["more"]:
            assert page["next_cursor"] == ""
            return rows
        cursor = page["next_cursor"]


def test_order_list_window_is_at_most_15_days(shopee: ShopeeClient) -> None:
    path = "/api/v2/order/get_order_list"
    now = shopee.now()
    common = {"time_range_field": "create_time", "time_to": now}
    too_wide = shopee.get(path, time_from=now - 15 * DAY - 1, page_size=10, **common)
    assert too_wide["error"] == "order.order_list_invalid_time"
    assert shopee.get(path, time_from=now - 15 * DAY, page_size=10, **common)["error"] == ""
    assert shopee.get(path, time_from=now - DAY, page_size=0, **common)["error"] == "error_param"
    assert shopee.get(path, time_from=now - DAY, page_size=101, **common)["error"] == "error_param"


def test_cursor_paging_returns_each_order_once(shopee: ShopeeClient) -> None:
    now = shopee.now()
    time_from, time_to = now - 15 * DAY, now - 5
    at = datetime.fromtimestamp(now, UTC)
    created = _drain(shopee, "create_time", time_from, time_to)
    sns = [row["order_sn"] for row in created]
    assert len(sns) == len(set(sns))
    expected = [o for o in _orders(shopee) if time_from <= o.created_at.timestamp() <= time_to]
    assert len(sns) == len(expected) > 7
    assert all(len(sn) == 14 for sn in sns)
    assert sns == sorted(sns, key=lambda sn: sn[:6], reverse=True)  # newest first

    updated = _drain(
        shopee, "update_time", time_from, time_to, response_optional_fields="order_status"
    )
    in_window = [
        o for o in _orders(shopee) if time_from <= o.status_at(at)[1].timestamp() <= time_to
    ]
    assert len(updated) == len({row["order_sn"] for row in updated}) == len(in_window)
    counts: dict[str, int] = {}
    for order in in_window:
        status = SHOPEE_STATUS[order.status_at(at)[0]]
        counts[status] = counts.get(status, 0) + 1
    assert {s: sum(1 for r in updated if r["order_status"] == s) for s in counts} == counts
    status = max(counts, key=lambda s: counts[s])
    filtered = _drain(
        shopee,
        "update_time",
        time_from,
        time_to,
        order_status=status,
        response_optional_fields="order_status",
    )
    assert len(filtered) == counts[status] and {r["order_status"] for r in filtered} == {status}


def test_order_detail_returns_only_requested_optional_fields(shopee: ShopeeClient) -> None:
    path = "/api/v2/order/get_order_detail"
    now = shopee.now()
    rows = _drain(shopee, "create_time", now - 15 * DAY, now)[:10]
    sns = ",".join(row["order_sn"] for row in rows)
    bare = shopee.ok(path, order_sn_list=sns)["order_list"]
    assert [o["order_sn"] for o in bare] == [row["order_sn"] for row in rows]
    for order in bare:
        assert {
            "order_sn",
            "region",
            "currency",
            "order_status",
            "create_time",
            "update_time",
        } <= order.keys()
        assert not {"item_list", "buyer_username", "recipient_address", "pay_time"} & order.keys()
        assert (order["region"], order["currency"]) == ("BR", "BRL")

    fields = "buyer_user_id,buyer_username,recipient_address,item_list,pay_time,total_amount"
    full = shopee.ok(path, order_sn_list=sns, response_optional_fields=fields)["order_list"]
    at = datetime.fromtimestamp(shopee.now(), UTC)
    world = {(o.buyer.buyer_id, int(o.created_at.timestamp())): o for o in _orders(shopee)}
    for order in full:
        source = world[(order["buyer_user_id"], order["create_time"])]
        status, since = source.status_at(at)
        assert order["order_status"] == SHOPEE_STATUS[status]
        assert order["update_time"] == int(since.timestamp())
        paid_at = dict(source.timeline).get("paid")
        if paid_at is not None and paid_at <= at:
            money = shopee.sandbox.simulators["shopee"].orders_render.money(source)
            assert order["total_amount"] == float(money.buyer_total)
        else:  # "only returned after the buyer has completed payment"
            assert "total_amount" not in order
        assert order["recipient_address"]["city"] == source.buyer.city
        assert order["recipient_address"]["state"] == source.buyer.state
        paid = dict(source.timeline).get("paid")
        expected_pay = int(paid.timestamp()) if paid and paid <= at else None
        assert order["pay_time"] == expected_pay
        assert [
            (i["model_quantity_purchased"], i["model_sku"] or i["item_sku"])
            for i in order["item_list"]
        ] == [(line.quantity, line.sku or "") for line in source.lines]
    many = ",".join([rows[0]["order_sn"]] + [f"2603{n:02d}00000000" for n in range(50)])
    assert shopee.get(path, order_sn_list=many)["error"] == "error_param"
    assert shopee.get(path, order_sn_list="260101ZZZZZZZZ")["error"] == "error_not_found"


def test_escrow_charges_commission_and_service_fee(shopee: ShopeeClient) -> None:
    now = shopee.now()
    rows = _drain(
        shopee,
        "update_time",
        now - 15 * DAY,
        now,
        order_status="COMPLETED",
        response_optional_fields="order_status",
    )
    sn = rows[0]["order_sn"]
    income = shopee.ok("/api/v2/payment/get_escrow_detail", order_sn=sn)["order_income"]
    goods = Decimal(str(income["original_cost_of_goods_sold"]))
    cent = Decimal("0.01")
    # BR: 14 % commission and 6 % service fee on what the buyer paid for the items.
    assert Decimal(str(income["commission_fee"])) == (goods * Decimal("0.14")).quantize(
        cent, ROUND_HALF_UP
    )
    assert Decimal(str(income["service_fee"])) == (goods * Decimal("0.06")).quantize(
        cent, ROUND_HALF_UP
    )
    assert Decimal(str(income["escrow_amount"])) == escrow_formula(income)
    missing = shopee.get("/api/v2/payment/get_escrow_detail", order_sn="260101ZZZZZZZZ")
    assert missing["error"] == "order_not_found"


def test_escrow_batch_answers_up_to_50_orders_and_fails_the_missing_ones(
    shopee: ShopeeClient,
) -> None:
    now = shopee.now()
    rows = _drain(
        shopee, "update_time", now - 15 * DAY, now, response_optional_fields="order_status"
    )
    sns = [r["order_sn"] for r in rows[:3]]
    path = "/api/v2/payment/get_escrow_detail_batch"
    answer = shopee.call("POST", path, {"order_sn_list": [*sns, "260101ZZZZZZZZ"]}).json()
    assert answer["error"] == ""
    *found, missing = answer["response"]
    # The doc's error example: the order gets an entry of its own, with fail_error.
    assert missing == {
        "escrow_detail": {"order_sn": "260101ZZZZZZZZ", "return_order_sn_list": []},
        "fail_error": "order_not_found",
        "fail_message": "The order info not found.",
    }
    batch = {e["escrow_detail"]["order_sn"]: e["escrow_detail"] for e in found}
    assert list(batch) == sns
    for sn in sns:  # the same figures as the one-order call
        single = shopee.ok("/api/v2/payment/get_escrow_detail", order_sn=sn)
        assert batch[sn]["order_income"] == single["order_income"]
    too_many = [f"2603{n:02d}00000000" for n in range(51)]
    over = shopee.call("POST", path, {"order_sn_list": too_many}).json()
    assert (over["error"], over["message"]) == (
        "exceed_max_limit",
        "Your request exceeds the max limit of 50 orders.",
    )
    assert shopee.call("POST", path, {"order_sn_list": "x"}).json()["error"] == "error_param"
    assert shopee.call("POST", path, {"order_sn_list": []}).json()["error"] == "error_param"


def _sample_keys(name: str) -> tuple[set[str], set[str], set[str]]:
    sample = json.loads((PAYLOADS / name).read_text())["response"]
    income = sample["order_income"]
    return set(income), set(income["items"][0]), set(sample["buyer_payment_info"])


# "Only display for cb sip affiliate shop": a local BR shop never sees them.
CB_SIP_ONLY = {
    "escrow_amount_pri",
    "buyer_total_amount_pri",
    "original_price_pri",
    "seller_return_refund_pri",
    "commission_fee_pri",
    "service_fee_pri",
    "drc_adjustable_refund_pri",
    "pri_currency",
    "aff_currency",
    "exchange_rate",
    "sip_subsidy",
    "sip_subsidy_pri",
}


def _paid_sns(shopee: ShopeeClient) -> list[str]:
    now = shopee.now()
    rows = _drain(
        shopee, "update_time", now - 15 * DAY, now, response_optional_fields="order_status"
    )
    rows += _drain(
        shopee,
        "update_time",
        now - 30 * DAY,
        now - 15 * DAY - 1,
        response_optional_fields="order_status",
    )
    return [r["order_sn"] for r in rows if r["order_status"] != "UNPAID"]


def _escrows(shopee: ShopeeClient, sns: list[str]) -> list[dict[str, Any]]:
    details = []
    for start in range(0, len(sns), 50):
        answer = shopee.call(
            "POST",
            "/api/v2/payment/get_escrow_detail_batch",
            {"order_sn_list": sns[start : start + 50]},
        ).json()
        assert answer["error"] == "", answer
        details += [e["escrow_detail"] for e in answer["response"]]
    return details


def test_escrow_is_shaped_like_shopees_sample_and_adds_up_to_the_cent(
    shopee: ShopeeClient,
) -> None:
    income_keys, item_keys, payment_keys = _sample_keys("payment_get_escrow_detail_response.json")
    details = _escrows(shopee, _paid_sns(shopee))
    assert len(details) > 50
    kinds: set[str] = set()
    for detail in details:
        income = detail["order_income"]
        # Field for field as the doc's sample: every fee field, items[], buyer_payment_info.
        assert income_keys - CB_SIP_ONLY - {"order_adjustment"} <= set(income)
        assert payment_keys <= set(detail["buyer_payment_info"])
        for item in income["items"]:
            assert item_keys - {"kit_items", "original_price_pri"} <= set(item)
        # Shopee's formula gives the escrow, to the cent.
        assert Decimal(str(income["escrow_amount"])) == escrow_formula(income), detail["order_sn"]
        adjustments = sum(Decimal(str(a["amount"])) for a in income.get("order_adjustment", []))
        assert Decimal(str(income["total_adjustment_amount"])) == adjustments
        assert Decimal(str(income["escrow_amount_after_adjustment"])) == (
            Decimal(str(income["escrow_amount"])) + adjustments
        )
        # Brazil: net fees are the gross ones less the seller's share of Shopee's rebate.
        rebate = income["seller_product_rebate"]
        assert Decimal(str(income["net_commission_fee"])) == Decimal(
            str(income["commission_fee"])
        ) - Decimal(str(rebate["commission_fee_offset"]))
        assert Decimal(str(rebate["amount"])) == Decimal(
            str(rebate["commission_fee_offset"])
        ) + Decimal(str(rebate["service_fee_offset"]))
        # The lines' affiliate commissions add up to the order's.
        assert sum(Decimal(str(i["ams_commission_fee"])) for i in income["items"]) == Decimal(
            str(income["order_ams_commission_fee"])
        )
        kinds |= {
            k
            for k in (
                "commission_fee",
                "order_ams_commission_fee",
                "shipping_seller_protection_fee_amount",
                "reverse_shipping_fee",
                "voucher_from_seller",
                "voucher_from_shopee",
                "coins",
            )
            if income[k]
        }
        kinds |= {"offset"} if rebate["amount"] else set()
        kinds |= {"refund"} if income["seller_return_refund"] else set()
    # Enough variety that every rule above was exercised.
    assert kinds == {
        "commission_fee",
        "order_ams_commission_fee",
        "shipping_seller_protection_fee_amount",
        "reverse_shipping_fee",
        "voucher_from_seller",
        "voucher_from_shopee",
        "coins",
        "offset",
        "refund",
    }


def test_escrow_changes_until_completion(fresh: ShopeeClient) -> None:
    fresh.authorize()
    world = fresh.sandbox.world
    now = fresh.sandbox.clock.now()
    source = next(o for o in _orders(fresh) if o.status_at(now)[0] == "paid")
    sn = order_sn(source)
    path = "/api/v2/payment/get_escrow_detail"
    paid = fresh.ok(path, order_sn=sn)["order_income"]
    assert paid["actual_shipping_fee"] == 0 and paid["shopee_shipping_rebate"] == 0
    world.advance_order(source, "ship", now)
    shipped = fresh.ok(path, order_sn=sn)["order_income"]
    assert shipped["actual_shipping_fee"] > 0
    assert shipped["escrow_amount"] != paid["escrow_amount"]
    assert Decimal(str(shipped["final_shipping_fee"])) == Decimal(
        str(shipped["shopee_shipping_rebate"])
    ) - Decimal(str(shipped["actual_shipping_fee"]))
    world.advance_order(source, "deliver", now + timedelta(hours=1))
    fresh.sandbox.clock.advance(3600 + 5)
    delivered = fresh.ok(path, order_sn=sn)["order_income"]
    assert delivered["escrow_amount"] == shipped["escrow_amount"]
    # Not in the escrow list until Shopee releases it, some days after delivery.
    listed = fresh.ok(
        "/api/v2/payment/get_escrow_list",
        release_time_from=fresh.now() - 30 * DAY,
        release_time_to=fresh.now(),
        page_size=100,
    )
    assert sn not in {e["order_sn"] for e in listed["escrow_list"]}
    fresh.sandbox.clock.advance(10 * DAY)
    fresh.authorize()  # the access token lasts 4 hours
    released = []
    page_no = 1
    while True:
        page = fresh.ok(
            "/api/v2/payment/get_escrow_list",
            release_time_from=fresh.now() - 12 * DAY,
            release_time_to=fresh.now(),
            page_size=100,
            page_no=page_no,
        )
        released += page["escrow_list"]
        if not page["more"]:
            break
        page_no += 1
    [entry] = [e for e in released if e["order_sn"] == sn]
    assert entry["payout_amount"] == delivered["escrow_amount"]
    delivered_at = int((now + timedelta(hours=1)).timestamp())
    assert delivered_at + 7 * DAY <= entry["escrow_release_time"] <= delivered_at + 9 * DAY


def test_escrow_list_pages_and_refuses_bad_windows(shopee: ShopeeClient) -> None:
    path = "/api/v2/payment/get_escrow_list"
    now = shopee.now()
    window = {"release_time_from": now - 30 * DAY, "release_time_to": now}
    whole = shopee.ok(path, page_size=100, **window)
    assert not whole["more"] and len(whole["escrow_list"]) > 10
    times = [e["escrow_release_time"] for e in whole["escrow_list"]]
    assert times == sorted(times) and max(times) <= now
    default = shopee.ok(path, **window)  # 40 a page unless asked
    assert len(default["escrow_list"]) == min(40, len(times))
    paged: list[dict[str, Any]] = []
    page_no = 1
    while True:
        page = shopee.ok(path, page_size=7, page_no=page_no, **window)
        assert len(page["escrow_list"]) <= 7
        paged += page["escrow_list"]
        if not page["more"]:
            break
        page_no += 1
    assert paged == whole["escrow_list"]
    # Shopee's own messages for a missing, reversed or badly sized window.
    assert shopee.get(path, release_time_from=now)["error"] == "error_param"
    reversed_ = shopee.get(path, release_time_from=now, release_time_to=now - DAY)
    assert "cannot be later than the end date" in reversed_["message"]
    too_big = shopee.get(path, page_size=101, **window)
    assert too_big["error"] == "error_param" and "between 1 and 100" in too_big["message"]


def _split_order(shopee: ShopeeClient) -> tuple[Order, list[dict[str, Any]]]:
    """A shipped order the seller split into two packages, and its package_list."""
    now = datetime.fromtimestamp(shopee.now(), UTC)
    for source in _orders(shopee):
        status = source.status_at(now)[0] if source.created_at <= now else None
        if status not in ("shipped", "delivered") or len(source.lines) < 2:
            continue
        detail = shopee.ok(
            "/api/v2/order/get_order_detail",
            order_sn_list=order_sn(source),
            response_optional_fields="package_list,item_list",
        )["order_list"][0]
        if len(detail["package_list"]) > 1:
            return source, detail["package_list"]
    raise AssertionError("no split order in this world")


def test_split_orders_list_their_packages_and_want_a_package_number(
    shopee: ShopeeClient,
) -> None:
    source, packages = _split_order(shopee)
    sn = order_sn(source)
    lines = [
        (i["item_id"], i["model_id"], i["model_quantity"]) for p in packages for i in p["item_list"]
    ]
    assert len(lines) == len(source.lines)  # every line in exactly one package
    assert {p["logistics_status"] for p in packages} <= {
        "LOGISTICS_PICKUP_DONE",
        "LOGISTICS_DELIVERY_DONE",
    }
    path = "/api/v2/logistics/get_tracking_number"
    split = shopee.get(path, order_sn=sn)
    assert (split["error"], split["message"]) == (
        "logistics.package_number_not_exist",
        "Please request with package_number for this split order.",
    )
    numbers = [
        shopee.ok(path, order_sn=sn, package_number=p["package_number"])["tracking_number"]
        for p in packages
    ]
    assert len(set(numbers)) == 2 and all(n.startswith("BR") for n in numbers)
    wrong = shopee.get(path, order_sn=sn, package_number="OFG000000000000001")
    assert wrong["error"] == "logistics.package_not_exist"
    assert shopee.get(path, order_sn="260101ZZZZZZZZ")["error"] == "logistics.invalid_error"
    # The batch call answers the same numbers, and fails what it does not know.
    answer = shopee.call(
        "POST",
        "/api/v2/logistics/get_mass_tracking_number",
        {
            "package_list": [{"package_number": p["package_number"]} for p in packages]
            + [{"package_number": "OFG000000000000001"}]
        },
    ).json()
    assert answer["error"] == ""
    assert [e["tracking_number"] for e in answer["response"]["success_list"]] == numbers
    assert answer["response"]["fail_list"] == [
        {"package_number": "OFG000000000000001", "fail_reason": "The package is not exist."}
    ]


def test_mass_tracking_number_limits(shopee: ShopeeClient) -> None:
    path = "/api/v2/logistics/get_mass_tracking_number"
    many = {"package_list": [{"package_number": f"OFG{n:015d}"} for n in range(51)]}
    over = shopee.call("POST", path, many).json()
    assert (over["error"], over["message"]) == ("logistics.error_param", "Package exceeds limit.")
    twice = {"package_list": [{"package_number": "OFG000000000000001"}] * 2}
    assert shopee.call("POST", path, twice).json()["message"] == "Duplicate package number"


def test_tracking_info_tells_pickup_and_delivery(shopee: ShopeeClient) -> None:
    now = datetime.fromtimestamp(shopee.now(), UTC)
    source = next(
        o
        for o in _orders(shopee)
        if o.created_at <= now and o.status_at(now)[0] == "delivered" and len(o.lines) == 1
    )
    when = {s: int(at.timestamp()) for s, at in source.timeline}
    info = shopee.ok("/api/v2/logistics/get_tracking_info", order_sn=order_sn(source))
    assert info["logistics_status"] == "LOGISTICS_DELIVERY_DONE"
    assert [(e["logistics_status"], e["update_time"]) for e in info["tracking_info"]] == [
        ("DELIVERED", when["delivered"]),
        ("PICKED_UP", when["shipped"]),
    ]
    never_paid = next(
        o for o in _orders(shopee) if o.created_at <= now and "paid" not in dict(o.timeline)
    )
    refused = shopee.get("/api/v2/logistics/get_tracking_info", order_sn=order_sn(never_paid))
    assert refused["error"] == "logistics.error_status_limit"


def test_banned_and_reviewed_items_say_why(shopee: ShopeeClient) -> None:
    path = "/api/v2/product/get_item_violation_info"
    items = {i["item_id"]: i for i in _all_items(shopee)}
    held = [i for i, item in items.items() if item["item_status"] in ("BANNED", "REVIEWING")]
    answer = shopee.ok(path, item_id_list=",".join(map(str, [*held, 20_999_999_999])))
    by_id = {i["item_id"]: i for i in answer["item_list"]}
    for item_id in held:
        [detail] = by_id[item_id]["item_status_details"]
        assert by_id[item_id]["item_status"] == items[item_id]["item_status"]
        assert detail["violation_type"] and detail["violation_reason"]
    assert by_id[20_999_999_999]["fail_error"] == "error_item_not_found"
    too_many = ",".join(str(20_000_000_000 + n) for n in range(51))
    assert shopee.get(path, item_id_list=too_many)["error"] == "error_param"


def test_recorded_sale_is_a_paid_order_and_takes_stock(shopee: ShopeeClient) -> None:
    item = next(i for i in _all_items(shopee) if i["has_model"])
    models = shopee.ok("/api/v2/product/get_model_list", item_id=item["item_id"])["model"]
    model = next(
        m for m in models if m["stock_info_v2"]["summary_info"]["total_available_stock"] > 0
    )
    stock = model["stock_info_v2"]["summary_info"]["total_available_stock"]
    sale = shopee.http.post(
        "/_sandbox/sales",
        json={"item_id": item["item_id"], "model_id": model["model_id"], "quantity": 1},
    )
    assert sale.status_code == 200, sale.text
    sn = sale.json()["order_sn"]
    order = shopee.ok(
        "/api/v2/order/get_order_detail",
        order_sn_list=sn,
        response_optional_fields="item_list,pay_time",
    )["order_list"][0]
    assert order["order_status"] == "READY_TO_SHIP" and order["pay_time"] >= shopee.now() - 5
    assert order["item_list"][0]["model_id"] == model["model_id"]
    listed = _drain(shopee, "create_time", shopee.now() - DAY, shopee.now())
    assert sn in {row["order_sn"] for row in listed}
    after = shopee.ok("/api/v2/product/get_model_list", item_id=item["item_id"])["model"]
    assert (
        next(m for m in after if m["model_id"] == model["model_id"])["stock_info_v2"][
            "summary_info"
        ]["total_available_stock"]
        == stock - 1
    )


# --- limits and faults ---------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(only_shopee: None) -> None:
    running = _start(rate_limits={"shopee": 1.0})
    try:
        client = ShopeeClient(running).authorize()  # two public calls: the burst of 2
        path = "/api/v2/product/get_item_list"
        page = {"offset": 0, "page_size": 5, "item_status": "NORMAL"}
        answers = [client.call("GET", path, **page) for _ in range(3)]
        assert [a.status_code for a in answers[:2]] == [200, 200]
        limited = answers[2]
        assert limited.status_code == 429
        assert limited.json()["error"] == "error_rate_limit"
        assert int(limited.headers["Retry-After"]) >= 1
    finally:
        running.stop()


def test_injected_faults_use_the_shopee_envelope(shopee: ShopeeClient) -> None:
    path = "/api/v2/product/get_item_list"
    page = {"offset": 0, "page_size": 5, "item_status": "NORMAL"}
    faults = shopee.sandbox.faults
    try:
        faults.update(rate_5xx=1.0)
        broken = shopee.call("GET", path, **page)
        assert broken.status_code == 500
        assert broken.json()["error"] == "error_server" and broken.json()["request_id"]
        faults.update(rate_5xx=0.0, rate_429=1.0)
        limited = shopee.call("GET", path, **page)
        assert limited.status_code == 429 and limited.json()["error"] == "error_rate_limit"
        assert "Retry-After" in limited.headers
    finally:
        faults.update(rate_5xx=0.0, rate_429=0.0)
    assert shopee.call("GET", path, **page).json()["error"] == ""
