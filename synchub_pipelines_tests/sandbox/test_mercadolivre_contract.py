"""Contract tests of the Mercado Livre simulator, over real HTTP on loopback.

The expectations are written from API-NOTES §1 and computed from the World directly, never
through the simulator's own rendering helpers.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest

from synchub_pipelines.sandbox.infra import Faults
from synchub_pipelines.sandbox.mercadolivre import APP_ID, APP_SECRET, REDIRECT_URI
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.world import Listing, Order

SP = ZoneInfo("America/Sao_Paulo")
SEED = 7
ANCHOR = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
LOCAL_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-03:00$")
UNAUTHORIZED = {
    "message": "invalid access token",
    "error": "unauthorized",
    "status": 401,
    "cause": [],
}
# World status → (ML order status, tags), as the brief for this simulator states it.
EXPECTED_STATUS = {
    "pending": ("payment_required", {"not_delivered"}),
    "paid": ("paid", {"paid", "not_delivered"}),
    "shipped": ("paid", {"paid", "not_delivered"}),
    "delivered": ("paid", {"paid", "delivered"}),
    "cancelled": ("cancelled", {"not_delivered"}),
    "returned": ("paid", {"paid", "delivered"}),
}


# ML's verdicts on listings, as the simulator documents them: per seller, the first active
# listings in crc32("review:<listing number>") order are under review, then inactive; an
# item with nothing left to sell is paused by ML (sub_status out_of_stock).
REVIEWS = (("under_review", ["waiting_for_patch"]), ("inactive", ["held"]))
# One order in eight carries an ML coupon of R$5/10/15/20 (by crc32("coupon:<number>")),
# capped at a third of the items.
COUPONS = (Decimal(5), Decimal(10), Decimal(15), Decimal(20))
FEE_RATES = {"gold_special": Decimal("0.14"), "gold_pro": Decimal("0.19")}


def expected_item_status(sandbox: Sandbox, listing: Listing) -> tuple[str, list[str]]:
    active = sorted(
        (
            lst
            for lst in world_listings(sandbox, int(listing.seller.seller_id))
            if lst.status == "active"
        ),
        key=lambda lst: zlib.crc32(f"review:{lst.listing_number}".encode()),
    )
    for reviewed, (status, sub_status) in zip(active, REVIEWS, strict=False):
        if reviewed is listing:
            return status, sub_status
    if not any(v.available_quantity for v in listing.variations):
        return "paused", ["out_of_stock"]
    return listing.status, []


def expected_coupon(order: Order) -> Decimal:
    draw = zlib.crc32(f"coupon:{order.order_number}".encode())
    if draw % 8:
        return Decimal(0)
    items = sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))
    return min(COUPONS[draw // 8 % 4], (items / 3).quantize(Decimal("0.01")))


def expected_line_fee(listing_number: int, unit_price: Decimal, quantity: int) -> Decimal:
    rate = FEE_RATES["gold_pro" if listing_number % 3 == 0 else "gold_special"]
    return (unit_price * rate).quantize(Decimal("0.01"), ROUND_HALF_UP) * quantity


def set_clock(sandbox: Sandbox, moment: datetime) -> None:
    sandbox.clock.advance(moment.timestamp() - sandbox.clock.time())


def local_iso(day: date, at: time) -> str:
    return datetime.combine(day, at, tzinfo=SP).isoformat(timespec="milliseconds")


def assert_error(response: httpx.Response, status: int, error: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message", "error", "status", "cause"}
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    if error is not None:
        assert body["error"] == error
    return body


def authorize(client: httpx.Client, user_id: int | None = None, state: str = "st-1") -> str:
    params = {
        "response_type": "code",
        "client_id": APP_ID,
        "redirect_uri": REDIRECT_URI,
        "state": state,
    }
    if user_id is not None:
        params["user_id"] = str(user_id)
    response = client.get("/authorization", params=params)
    assert response.status_code == 302, response.text
    location = urlparse(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def token_call(client: httpx.Client, **form: str) -> httpx.Response:
    return client.post(
        "/oauth/token", data={"client_id": APP_ID, "client_secret": APP_SECRET, **form}
    )


def login(client: httpx.Client, user_id: int | None = None) -> dict[str, Any]:
    code = authorize(client, user_id)
    response = token_call(
        client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = Sandbox(SandboxConfig(seed=SEED, size="tiny", anchor=ANCHOR))
    with RunningSandbox(sandbox) as served:
        yield served


@pytest.fixture(autouse=True)
def at_anchor(running: RunningSandbox) -> None:
    set_clock(running.sandbox, ANCHOR)


@pytest.fixture
def sandbox(running: RunningSandbox) -> Sandbox:
    return running.sandbox


@pytest.fixture
def client(running: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.base_url("mercadolivre"), timeout=10) as c:
        yield c


@pytest.fixture
def sellers(sandbox: Sandbox) -> list[int]:
    return [int(s.seller_id) for s in sandbox.world.sellers_of("mercadolivre")]


@pytest.fixture
def tokens(client: httpx.Client, sellers: list[int]) -> dict[str, Any]:
    return login(client, sellers[0])


def world_orders(sandbox: Sandbox, seller: int) -> list[Order]:
    now = sandbox.clock.now()
    found = [
        o
        for o in sandbox.world.orders
        if o.seller.marketplace == "mercadolivre"
        and int(o.seller.seller_id) == seller
        and o.created_at <= now
    ]
    return sorted(found, key=lambda o: (o.created_at, o.order_number))


def world_listings(sandbox: Sandbox, seller: int) -> list[Listing]:
    return [
        lst
        for lst in sandbox.world.listings
        if lst.seller.marketplace == "mercadolivre" and int(lst.seller.seller_id) == seller
    ]


def search_all(
    client: httpx.Client, headers: dict[str, str], params: dict[str, Any], limit: int = 50
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = client.get(
            "/orders/search", headers=headers, params={**params, "offset": offset, "limit": limit}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        results += body["results"]
        offset += limit
        if offset >= body["paging"]["total"]:
            return results


# --- OAuth ----------------------------------------------------------------------------------


def test_code_flow_exchanges_a_single_use_code_for_tokens(
    client: httpx.Client, sellers: list[int]
) -> None:
    code = authorize(client, sellers[1], state="abc")
    assert code.startswith("TG-")
    response = token_call(
        client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"].startswith("APP_USR-")
    assert body["refresh_token"].startswith("TG-")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 21600
    assert body["scope"] == "offline_access read write"
    assert body["user_id"] == sellers[1]
    me = client.get("/users/me", headers=bearer(body)).json()
    assert me["id"] == sellers[1]
    assert me["site_id"] == "MLB"
    assert me["nickname"]

    reused = token_call(
        client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert_error(reused, 400, "invalid_grant")

    # The default seller is the first Mercado Livre seller of the world.
    assert login(client)["user_id"] == sellers[0]


def test_authorization_rejects_unknown_client_and_foreign_redirect(client: httpx.Client) -> None:
    base = {"response_type": "code", "client_id": APP_ID, "redirect_uri": REDIRECT_URI}
    assert_error(client.get("/authorization", params={**base, "client_id": "999"}), 400)
    wrong = {**base, "redirect_uri": REDIRECT_URI + "/other"}
    assert_error(client.get("/authorization", params=wrong), 400)


def test_code_exchange_checks_secret_redirect_and_expiry(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    code = authorize(client)
    bad_secret = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": APP_ID,
            "client_secret": "nope",
            "code": code,
            "redirect_uri": REDIRECT_URI,
        },
    )
    assert_error(bad_secret, 400, "invalid_client")
    wrong_redirect = token_call(
        client, grant_type="authorization_code", code=code, redirect_uri="https://evil.example/cb"
    )
    assert_error(wrong_redirect, 400, "invalid_grant")

    late = authorize(client)
    sandbox.clock.advance(601)
    expired = token_call(
        client, grant_type="authorization_code", code=late, redirect_uri=REDIRECT_URI
    )
    assert_error(expired, 400, "invalid_grant")


def test_refresh_token_rotates_and_is_single_use(
    client: httpx.Client, tokens: dict[str, Any]
) -> None:
    first = token_call(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]

    reused = token_call(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert_error(reused, 400, "invalid_grant")

    again = token_call(client, grant_type="refresh_token", refresh_token=rotated["refresh_token"])
    assert again.status_code == 200
    # The access token issued before the refresh keeps working until it expires.
    assert client.get("/users/me", headers=bearer(tokens)).status_code == 200
    assert client.get("/users/me", headers=bearer(again.json())).status_code == 200


def test_access_token_expires_after_six_hours(
    client: httpx.Client, sandbox: Sandbox, tokens: dict[str, Any]
) -> None:
    sandbox.clock.advance(6 * 3600 - 60)
    assert client.get("/users/me", headers=bearer(tokens)).status_code == 200
    sandbox.clock.advance(61)
    expired = client.get("/users/me", headers=bearer(tokens))
    assert expired.status_code == 401
    assert expired.json() == UNAUTHORIZED
    fresh = token_call(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert client.get("/users/me", headers=bearer(fresh.json())).status_code == 200


def test_token_only_counts_in_the_authorization_header(
    client: httpx.Client, tokens: dict[str, Any]
) -> None:
    in_query = client.get("/users/me", params={"access_token": tokens["access_token"]})
    assert in_query.status_code == 401
    assert in_query.json() == UNAUTHORIZED
    garbage = client.get("/users/me", headers={"Authorization": "Bearer APP_USR-garbage"})
    assert garbage.json() == UNAUTHORIZED
    assert client.get("/users/me").status_code == 401


def test_unknown_path_answers_ml_not_found(client: httpx.Client, tokens: dict[str, Any]) -> None:
    body = assert_error(client.get("/no/such/thing", headers=bearer(tokens)), 404, "not_found")
    assert "/no/such/thing" in body["message"]
    assert_error(client.delete("/users/me", headers=bearer(tokens)), 405)


# --- items -----------------------------------------------------------------------------------


def test_items_search_pages_by_offset_up_to_1000(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    path = f"/users/{sellers[0]}/items/search"
    page = client.get(path, headers=bearer(tokens), params={"offset": 0, "limit": 3}).json()
    expected = [f"MLB{lst.listing_number}" for lst in world_listings(sandbox, sellers[0])]
    assert page["seller_id"] == str(sellers[0])
    assert page["paging"] == {"total": len(expected), "offset": 0, "limit": 3}
    assert page["results"] == sorted(expected)[:3]
    default = client.get(path, headers=bearer(tokens)).json()
    assert default["paging"]["limit"] == 50
    assert sorted(default["results"]) == sorted(expected)

    active = client.get(path, headers=bearer(tokens), params={"status": "active"}).json()
    active_expected = [
        f"MLB{lst.listing_number}"
        for lst in world_listings(sandbox, sellers[0])
        if expected_item_status(sandbox, lst)[0] == "active"
    ]
    assert len(active_expected) < len(expected)  # some are not active
    assert sorted(active["results"]) == sorted(active_expected)

    beyond = client.get(path, headers=bearer(tokens), params={"offset": 990, "limit": 20})
    assert "scan" in assert_error(beyond, 400)["message"]
    assert client.get(path, headers=bearer(tokens), params={"offset": 950, "limit": 50}).is_success
    assert_error(client.get(path, headers=bearer(tokens), params={"limit": 101}), 400)


def test_items_search_of_another_seller_is_forbidden(
    client: httpx.Client, sellers: list[int], tokens: dict[str, Any]
) -> None:
    response = client.get(f"/users/{sellers[1]}/items/search", headers=bearer(tokens))
    assert_error(response, 403, "forbidden")


def test_scan_drains_every_item_exactly_once(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    path = f"/users/{sellers[0]}/items/search"
    seen: list[str] = []
    params: dict[str, Any] = {"search_type": "scan", "limit": 2}
    calls = 0
    while True:
        body = client.get(path, headers=bearer(tokens), params=params).json()
        calls += 1
        if not body["results"]:
            break
        seen += body["results"]
        params = {"search_type": "scan", "limit": 2, "scroll_id": body["scroll_id"]}
    expected = {f"MLB{lst.listing_number}" for lst in world_listings(sandbox, sellers[0])}
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
    assert calls == -(-len(expected) // 2) + 1

    started = client.get(path, headers=bearer(tokens), params={"search_type": "scan", "limit": 1})
    scroll_id = started.json()["scroll_id"]
    sandbox.clock.advance(301)
    late = client.get(
        path, headers=bearer(tokens), params={"search_type": "scan", "scroll_id": scroll_id}
    )
    assert_error(late, 400)


def test_multiget_caps_ids_and_answers_per_id(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    listing = world_listings(sandbox, sellers[0])[0]
    ids = [f"MLB{listing.listing_number}", "MLB1"]
    answers = client.get("/items", headers=bearer(tokens), params={"ids": ",".join(ids)}).json()
    assert [a["code"] for a in answers] == [200, 404]
    assert answers[0]["body"]["id"] == ids[0]
    assert answers[1]["body"]["error"] == "not_found"
    assert answers[1]["body"]["status"] == 404
    too_many = ",".join(f"MLB{n}" for n in range(1, 22))
    assert_error(client.get("/items", headers=bearer(tokens), params={"ids": too_many}), 400)


def test_item_shape_follows_the_world(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    for listing in world_listings(sandbox, sellers[0]):
        item = client.get(f"/items/MLB{listing.listing_number}", headers=bearer(tokens)).json()
        assert item["site_id"] == "MLB"
        assert item["seller_id"] == sellers[0]
        assert item["currency_id"] == "BRL"
        assert item["title"] == listing.title
        assert [item["status"], item["sub_status"]] == list(expected_item_status(sandbox, listing))
        assert item["category_id"].startswith("MLB")
        assert item["listing_type_id"] in {"gold_special", "gold_pro"}
        assert item["permalink"].startswith("https://")
        assert item["available_quantity"] == sum(v.available_quantity for v in listing.variations)
        skus = {a["id"]: a["value_name"] for a in item["attributes"]}
        if listing.has_variations:
            assert [v["id"] for v in item["variations"]] == [
                v.variation_number for v in listing.variations
            ]
            for rendered, variation in zip(item["variations"], listing.variations, strict=True):
                assert rendered["available_quantity"] == variation.available_quantity
                combos = {c["id"]: c["value_name"] for c in rendered["attribute_combinations"]}
                assert combos == dict(variation.attributes)
                assert {c["name"] for c in rendered["attribute_combinations"]} <= {"Cor", "Tamanho"}
                attrs = {a["id"]: a["value_name"] for a in rendered["attributes"]}
                assert attrs.get("SELLER_SKU") == variation.sku
                assert rendered["seller_custom_field"] == variation.sku
                assert rendered["user_product_id"]
        else:
            only = listing.variations[0]
            assert item["variations"] == []
            assert skus.get("SELLER_SKU") == only.sku
            assert item["seller_custom_field"] == only.sku
            assert item["user_product_id"]


def test_put_stock_changes_what_items_show(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    simulator = sandbox.simulators["mercadolivre"]
    listings = world_listings(sandbox, sellers[0])
    single = next(lst for lst in listings if not lst.has_variations)
    multi = next(lst for lst in listings if lst.has_variations and len(lst.variations) > 1)
    single_id, multi_id = f"MLB{single.listing_number}", f"MLB{multi.listing_number}"

    put = client.put(f"/items/{single_id}", headers=bearer(tokens), json={"available_quantity": 7})
    assert put.status_code == 200, put.text
    assert put.json()["available_quantity"] == 7
    assert (
        client.get(f"/items/{single_id}", headers=bearer(tokens)).json()["available_quantity"] == 7
    )
    assert single.variations[0].available_quantity == 7
    assert simulator.write_log[-1][:3] == (single_id, None, 7)

    target = multi.variations[1]
    untouched = multi.variations[0].available_quantity
    body = {"variations": [{"id": target.variation_number, "available_quantity": 3}]}
    assert client.put(f"/items/{multi_id}", headers=bearer(tokens), json=body).status_code == 200
    item = client.get(f"/items/{multi_id}", headers=bearer(tokens)).json()
    by_id = {v["id"]: v for v in item["variations"]}
    assert by_id[target.variation_number]["available_quantity"] == 3
    assert by_id[multi.variations[0].variation_number]["available_quantity"] == untouched
    assert item["available_quantity"] == sum(v["available_quantity"] for v in item["variations"])
    assert simulator.write_log[-1][:3] == (multi_id, target.variation_number, 3)

    log_size = len(simulator.write_log)
    for bad in ({"available_quantity": -1}, {"available_quantity": 1.5}):
        rejected = client.put(f"/items/{single_id}", headers=bearer(tokens), json=bad)
        assert assert_error(rejected, 400)["cause"], "a rejected quantity names its cause"
    foreign_variation = {"variations": [{"id": 1, "available_quantity": 2}]}
    assert_error(
        client.put(f"/items/{multi_id}", headers=bearer(tokens), json=foreign_variation), 400
    )
    assert single.variations[0].available_quantity == 7
    assert len(simulator.write_log) == log_size

    other = login(client, sellers[1])
    stolen = client.put(
        f"/items/{single_id}", headers=bearer(other), json={"available_quantity": 0}
    )
    assert_error(stolen, 403, "forbidden")
    assert single.variations[0].available_quantity == 7


# --- orders ----------------------------------------------------------------------------------


def test_orders_search_limits_and_input_errors(
    client: httpx.Client, sellers: list[int], tokens: dict[str, Any]
) -> None:
    h = bearer(tokens)
    seller = sellers[0]
    assert_error(
        client.get("/orders/search", headers=h, params={"seller": seller, "limit": 52}), 400
    )
    ok = client.get("/orders/search", headers=h, params={"seller": seller, "limit": 51})
    assert ok.status_code == 200
    assert ok.json()["paging"]["limit"] == 51
    assert len(ok.json()["results"]) == 51
    default = client.get("/orders/search", headers=h, params={"seller": seller}).json()
    assert default["paging"]["limit"] == 50
    assert default["display"] == "complete"
    assert default["sort"]["id"] == "date_asc"

    deep = {"seller": seller, "offset": 9950, "limit": 51}
    assert_error(client.get("/orders/search", headers=h, params=deep), 400)
    edge = client.get("/orders/search", headers=h, params={**deep, "offset": 9949})
    assert edge.status_code == 200
    assert edge.json()["results"] == []

    for bad_date in ("2026-13-01T00:00:00.000-03:00", "yesterday", "2026-02-01T00:00:00"):
        params: dict[str, Any] = {"seller": seller, "order.date_created.from": bad_date}
        assert_error(client.get("/orders/search", headers=h, params=params), 400)
    bad_sort: dict[str, Any] = {"seller": seller, "sort": "price_asc"}
    assert_error(client.get("/orders/search", headers=h, params=bad_sort), 400)
    other = client.get("/orders/search", headers=h, params={"seller": sellers[1]})
    assert_error(other, 403, "forbidden")


def test_orders_search_date_created_window_sort_and_paging(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    h = bearer(tokens)
    first_day = ANCHOR.astimezone(SP).date() - timedelta(days=6)
    last_day = first_day + timedelta(days=2)
    window: dict[str, Any] = {
        "seller": sellers[0],
        "order.date_created.from": local_iso(first_day, time(0, 0)),
        "order.date_created.to": local_iso(last_day, time(23, 59, 59, 999000)),
    }
    expected = [
        o.order_number
        for o in world_orders(sandbox, sellers[0])
        if first_day <= o.created_at.astimezone(SP).date() <= last_day
    ]
    assert len(expected) > 10
    asc = search_all(client, h, {**window, "sort": "date_asc"}, limit=7)
    assert [o["id"] for o in asc] == expected
    desc = search_all(client, h, {**window, "sort": "date_desc"}, limit=7)
    assert [o["id"] for o in desc] == expected[::-1]
    for order in asc:
        local_day = datetime.fromisoformat(order["date_created"]).date()
        assert first_day <= local_day <= last_day

    page = client.get("/orders/search", headers=h, params={**window, "limit": 5}).json()
    assert page["paging"] == {"total": len(expected), "offset": 0, "limit": 5}

    everything = search_all(client, h, {"seller": sellers[0]})
    assert [o["id"] for o in everything] == [
        o.order_number for o in world_orders(sandbox, sellers[0])
    ]


def test_orders_only_visible_once_created_on_the_sandbox_clock(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    orders = world_orders(sandbox, sellers[0])
    middle = orders[len(orders) // 2]
    set_clock(sandbox, middle.created_at)
    visible = search_all(client, bearer(tokens), {"seller": sellers[0]})
    assert visible[-1]["id"] == middle.order_number
    later = orders[len(orders) // 2 + 1]
    if later.created_at > middle.created_at:
        hidden = client.get(f"/orders/{later.order_number}", headers=bearer(tokens))
        assert_error(hidden, 404)


def test_orders_search_date_last_updated_and_status_filters(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    h = bearer(tokens)
    now = sandbox.clock.now()
    start, end = ANCHOR - timedelta(days=3), ANCHOR - timedelta(days=1)
    params = {
        "seller": sellers[0],
        "order.date_last_updated.from": start.astimezone(SP).isoformat(timespec="milliseconds"),
        "order.date_last_updated.to": end.astimezone(SP).isoformat(timespec="milliseconds"),
    }
    expected = [
        o.order_number
        for o in world_orders(sandbox, sellers[0])
        if start <= o.status_at(now)[1] <= end
    ]
    assert expected
    got = search_all(client, h, params, limit=10)
    assert [o["id"] for o in got] == expected
    for order in got:
        assert start <= datetime.fromisoformat(order["last_updated"]) <= end

    cancelled = search_all(client, h, {"seller": sellers[0], "order.status": "cancelled"})
    expected_cancelled = [
        o.order_number
        for o in world_orders(sandbox, sellers[0])
        if o.status_at(now)[0] == "cancelled"
    ]
    assert [o["id"] for o in cancelled] == expected_cancelled
    assert all(o["status"] == "cancelled" for o in cancelled)


def check_order(order: dict[str, Any], world: Order, now: datetime) -> None:
    status, since = world.status_at(now)
    ml_status, tags = EXPECTED_STATUS[status]
    assert order["status"] == ml_status, (world.order_number, status)
    coupon = expected_coupon(world)
    discount_tag = {"order_has_discount"} if coupon else set()
    assert set(order["tags"]) - {"pack_order"} == tags | discount_tag
    assert Decimal(str(order["coupon"]["amount"])) == coupon
    assert order["last_updated"] == since.astimezone(SP).isoformat(timespec="milliseconds")
    assert LOCAL_ISO.match(order["date_created"])
    assert datetime.fromisoformat(order["date_created"]) == world.created_at
    assert order["currency_id"] == "BRL"
    assert order["buyer"]["id"] == world.buyer.buyer_id
    assert order["shipping"]["id"]
    if status == "pending" or (status == "cancelled" and len(world.timeline) == 2):
        assert order["payments"] == []
    else:
        (payment,) = order["payments"]
        assert payment["order_id"] == world.order_number
        items = sum((line.unit_price * line.quantity for line in world.lines), Decimal(0))
        # ML's money adds up: the buyer paid the items less the coupon plus shipping.
        assert Decimal(str(payment["transaction_amount"])) == items
        assert Decimal(str(payment["coupon_amount"])) == coupon
        assert Decimal(str(payment["shipping_cost"])) == world.shipping_cost
        paid = items - coupon + world.shipping_cost
        assert Decimal(str(payment["total_paid_amount"])) == paid
        undone = status in {"cancelled", "returned"}
        assert payment["status"] == ("refunded" if undone else "approved")
        refunded = Decimal(str(payment["transaction_amount_refunded"]))
        assert refunded == (items if undone else 0)
        fees = sum(
            (expected_line_fee(x.listing_number, x.unit_price, x.quantity) for x in world.lines),
            Decimal(0),
        )
        assert Decimal(str(payment["marketplace_fee"])) == fees
    if status == "cancelled":
        assert datetime.fromisoformat(order["cancel_detail"]["date"]) == since
        assert order["cancel_detail"]["requested_by"] in {"buyer", "seller"}
    else:
        assert order["cancel_detail"] is None
    assert bool(order["mediations"]) == (status == "returned")
    total = sum((line.unit_price * line.quantity for line in world.lines), Decimal(0))
    assert Decimal(str(order["total_amount"])) == total
    for rendered, line in zip(order["order_items"], world.lines, strict=True):
        assert rendered["item"]["id"] == f"MLB{line.listing_number}"
        assert rendered["item"]["seller_sku"] == line.sku
        assert rendered["quantity"] == line.quantity
        assert Decimal(str(rendered["unit_price"])) == line.unit_price
        # sale_fee is per unit.
        fee = expected_line_fee(line.listing_number, line.unit_price, 1)
        assert Decimal(str(rendered["sale_fee"])) == fee


def test_order_status_rendering_follows_the_timeline(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    h = bearer(tokens)
    seen: set[str] = set()
    for moment in (ANCHOR, ANCHOR + timedelta(days=30)):
        set_clock(sandbox, moment)
        fresh = login(client, sellers[0])
        h = bearer(fresh)
        by_number = {o.order_number: o for o in world_orders(sandbox, sellers[0])}
        rendered = search_all(client, h, {"seller": sellers[0]})
        assert len(rendered) == len(by_number)
        now = sandbox.clock.now()
        for order in rendered:
            world = by_number[order["id"]]
            check_order(order, world, now)
            seen.add(world.status_at(now)[0])
        single = client.get(f"/orders/{rendered[0]['id']}", headers=h).json()
        assert single == rendered[0]
    assert {"pending", "delivered", "cancelled", "returned"} <= seen
    assert_error(client.get("/orders/1", headers=h), 404)


def test_order_of_another_seller_is_forbidden(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    foreign = world_orders(sandbox, sellers[1])[0]
    response = client.get(f"/orders/{foreign.order_number}", headers=bearer(tokens))
    assert_error(response, 403, "forbidden")
    shipment = client.get(
        f"/orders/{foreign.order_number}", headers=bearer(login(client, sellers[1]))
    ).json()["shipping"]["id"]
    assert_error(client.get(f"/shipments/{shipment}", headers=bearer(tokens)), 403)


def test_shipment_follows_the_order_timeline(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    now = sandbox.clock.now()
    expected_status = {
        "pending": "pending",
        "paid": "ready_to_ship",
        "shipped": "shipped",
        "delivered": "delivered",
        "cancelled": "cancelled",
    }
    checked = set()
    for world in reversed(world_orders(sandbox, sellers[0])):
        status = world.status_at(now)[0]
        if status in checked or status not in expected_status:
            continue
        order = client.get(f"/orders/{world.order_number}", headers=bearer(tokens)).json()
        shipment = client.get(f"/shipments/{order['shipping']['id']}", headers=bearer(tokens))
        body = shipment.json()
        assert body["order_id"] == world.order_number
        assert body["status"] == expected_status[status]
        assert Decimal(str(body["shipping_option"]["cost"])) == world.shipping_cost
        assert body["receiver_address"]["state"]["id"] == f"BR-{world.buyer.state}"
        assert body["receiver_address"]["city"]["name"] == world.buyer.city
        checked.add(status)
    assert {"pending", "shipped", "delivered"} <= checked


def shipment_of(client: httpx.Client, headers: dict[str, str], world: Order) -> int:
    order = client.get(f"/orders/{world.order_number}", headers=headers).json()
    return int(order["shipping"]["id"])


def local(moment: datetime) -> str:
    return moment.astimezone(SP).isoformat(timespec="milliseconds")


def test_new_format_shipment_only_with_the_header(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    h = bearer(tokens)
    now = sandbox.clock.now()
    delivered = next(
        o for o in world_orders(sandbox, sellers[0]) if o.status_at(now)[0] == "delivered"
    )
    steps = dict(delivered.timeline)
    shipment_id = shipment_of(client, h, delivered)

    legacy = client.get(f"/shipments/{shipment_id}", headers=h).json()
    assert legacy["order_id"] == delivered.order_number
    assert "logistic" not in legacy and "receiver_address" in legacy

    new = client.get(f"/shipments/{shipment_id}", headers={**h, "x-format-new": "true"}).json()
    # Since October 2025 the shipment no longer names its order.
    assert "order_id" not in new and "receiver_address" not in new
    assert set(new) >= {
        "id", "status", "substatus", "logistic", "source", "origin", "destination",
        "lead_time", "tracking_number", "tracking_method", "status_history",
    }  # fmt: skip
    assert new["id"] == shipment_id and new["status"] == "delivered"
    assert new["logistic"]["mode"] == "me2"
    assert new["logistic"]["type"] in {
        "fulfillment", "drop_off", "xd_drop_off", "cross_docking", "self_service",
    }  # fmt: skip
    address = new["destination"]["shipping_address"]
    assert address["city"]["name"] == delivered.buyer.city
    assert address["state"]["id"] == f"BR-{delivered.buyer.state}"
    history = new["status_history"]
    assert history["date_shipped"] == local(steps["shipped"])
    assert history["date_delivered"] == local(steps["delivered"])
    limit = datetime.fromisoformat(new["lead_time"]["estimated_handling_limit"]["date"])
    assert limit - steps["paid"] in {timedelta(hours=24), timedelta(hours=48)}
    assert new["tracking_number"] and new["tracking_method"]

    items = client.get(f"/shipments/{shipment_id}/items", headers=h).json()
    assert [(i["item_id"], i["quantity"], i["order_id"]) for i in items] == [
        (f"MLB{line.listing_number}", line.quantity, delivered.order_number)
        for line in delivered.lines
    ]
    assert_error(client.get("/shipments/abc/costs", headers=h), 404, "not_found")
    assert_error(client.get("/shipments/1/items", headers=h), 404, "not_found")


def test_shipment_costs_add_up(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    h = bearer(tokens)
    now = sandbox.clock.now()
    checked = Counter[str]()
    for world in world_orders(sandbox, sellers[0])[-60:]:
        costs = client.get(f"/shipments/{shipment_of(client, h, world)}/costs", headers=h).json()
        (sender,) = costs["senders"]
        assert sender["user_id"] == sellers[0]
        receiver = Decimal(str(costs["receiver"]["cost"]))
        cost, save = Decimal(str(sender["cost"])), Decimal(str(sender["save"]))
        assert receiver == world.shipping_cost
        steps = dict(step for step in world.timeline if step[1] <= now)
        if world.shipping_cost:
            checked["buyer_pays"] += 1
            assert (cost, save, Decimal(str(costs["gross_amount"]))) == (0, 0, receiver)
        elif "cancelled" in steps and "shipped" not in steps:
            checked["label_cancelled"] += 1
            assert (cost, save) == (0, 0)
        else:
            checked["seller_pays"] += 1
            # gross = what the seller pays + ML's discount, and the discount says so.
            assert cost + save == Decimal(str(costs["gross_amount"]))
            (discount,) = sender["discounts"]
            assert Decimal(str(discount["promoted_amount"])) == save
            rate = Decimal(str(discount["rate"]))
            assert save == ((cost + save) * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if sender["compensations"]:
            assert "delivered" in steps
            assert sender["compensations"][0]["reason"] == "incorrect_dimensions"
    assert checked["buyer_pays"] and checked["seller_pays"], checked


def test_mercado_pago_payment_releases_days_after_delivery(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    now = sandbox.clock.now()
    world = next(
        o
        for o in reversed(world_orders(sandbox, sellers[0]))
        if o.status_at(now)[0] == "delivered"
        and o.timeline[-1][0] == "delivered"
        and o.timeline[-1][1] > now - timedelta(days=1)
    )
    order = client.get(f"/orders/{world.order_number}", headers=bearer(tokens)).json()
    payment_id = order["payments"][0]["id"]
    path = f"/mercadopago/v1/payments/{payment_id}"

    payment = client.get(path, headers=bearer(tokens)).json()
    items = sum((line.unit_price * line.quantity for line in world.lines), Decimal(0))
    coupon = expected_coupon(world)
    assert payment["status"] == "approved"
    assert payment["order"] == {"id": str(world.order_number), "type": "mercadolibre"}
    assert Decimal(str(payment["transaction_amount"])) == items
    paid = Decimal(str(payment["transaction_details"]["total_paid_amount"]))
    assert paid == items - coupon + world.shipping_cost
    assert payment["money_release_status"] == "pending"
    release = datetime.fromisoformat(payment["money_release_date"])
    assert release - world.timeline[-1][1] in {timedelta(days=2), timedelta(days=6)}

    set_clock(sandbox, release + timedelta(seconds=1))
    later = login(client, sellers[0])
    assert client.get(path, headers=bearer(later)).json()["money_release_status"] == "released"
    assert_error(client.get("/mercadopago/v1/payments/1", headers=bearer(later)), 404)
    other = login(client, sellers[1])
    assert_error(client.get(path, headers=bearer(other)), 403, "forbidden")


def test_late_evening_order_keeps_its_sao_paulo_date(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    evening = [
        o
        for o in world_orders(sandbox, sellers[0])
        if o.created_at.astimezone(SP).hour == 23 and o.created_at.astimezone(SP).minute >= 30
    ]
    assert evening, "the world should hold orders created after 23:30 local time"
    world = evening[0]
    shown = client.get(f"/orders/{world.order_number}", headers=bearer(tokens)).json()
    local = world.created_at.astimezone(SP)
    assert shown["date_created"].startswith(local.strftime("%Y-%m-%dT23:"))
    assert shown["date_created"].endswith("-03:00")
    assert world.created_at.astimezone(UTC).date() == local.date() + timedelta(days=1)

    # A sale recorded at 23:30 local belongs to that local day in the search window too.
    sale_day = ANCHOR.astimezone(SP).date() + timedelta(days=2)
    set_clock(sandbox, datetime.combine(sale_day, time(23, 30, 5), tzinfo=SP))
    listing = next(lst for lst in world_listings(sandbox, sellers[0]) if lst.has_variations)
    variation = max(listing.variations, key=lambda v: v.available_quantity)
    before = variation.available_quantity
    h = bearer(login(client, sellers[0]))
    sale = client.post(
        "/_sandbox/sales",
        json={
            "item_id": f"MLB{listing.listing_number}",
            "variation_id": variation.variation_number,
            "quantity": 2,
        },
    )
    assert sale.status_code == 201, sale.text
    order = sale.json()
    assert order["date_created"].startswith(f"{sale_day.isoformat()}T23:30:0")
    assert order["date_created"].endswith("-03:00")
    assert order["status"] == "paid"
    assert order["order_items"][0]["item"]["variation_id"] == variation.variation_number
    assert variation.available_quantity == before - 2
    item = client.get(f"/items/MLB{listing.listing_number}", headers=h).json()
    by_id = {v["id"]: v for v in item["variations"]}
    assert by_id[variation.variation_number]["available_quantity"] == before - 2

    def day_ids(day: date) -> list[int]:
        params = {
            "seller": sellers[0],
            "order.date_created.from": local_iso(day, time(0, 0)),
            "order.date_created.to": local_iso(day, time(23, 59, 59, 999000)),
        }
        return [o["id"] for o in search_all(client, h, params)]

    assert order["id"] in day_ids(sale_day)
    assert order["id"] not in day_ids(sale_day + timedelta(days=1))
    assert (
        client.get(f"/orders/{order['id']}", headers=h).json()["date_created"]
        == order["date_created"]
    )


# --- categories ------------------------------------------------------------------------------


def test_categories_tree_and_attributes(client: httpx.Client, sandbox: Sandbox) -> None:
    top = client.get("/sites/MLB/categories").json()
    assert top and all(set(c) == {"id", "name"} and c["id"].startswith("MLB") for c in top)
    leaves = []
    for parent in top:
        body = client.get(f"/categories/{parent['id']}").json()
        assert body["path_from_root"] == [parent]
        assert body["children_categories"]
        assert body["settings"]["listing_allowed"] is False
        for child in body["children_categories"]:
            assert set(child) == {"id", "name", "total_items_in_this_category"}
            leaves.append(child["id"])
    assert client.get("/categories/MLB31447").json()["path_from_root"][-1]["id"] == "MLB31447"

    leaf = client.get(f"/categories/{leaves[0]}").json()
    assert leaf["children_categories"] == []
    assert leaf["settings"]["listing_allowed"] is True
    assert len(leaf["path_from_root"]) == 2

    attributes = client.get(f"/categories/{leaves[0]}/attributes").json()
    by_id = {a["id"]: a for a in attributes}
    for attribute in attributes:
        assert {"id", "name", "tags", "hierarchy", "relevance", "value_type"} <= set(attribute)
        assert {"attribute_group_id", "attribute_group_name"} <= set(attribute)
        assert attribute["value_type"] in {"string", "number_unit", "list", "boolean", "number"}
    assert by_id["BRAND"]["tags"].get("required") is True
    assert by_id["GTIN"]["tags"].get("conditional_required") is True
    for closed in ("COLOR", "SIZE"):
        assert by_id[closed]["tags"].get("allow_variations") is True
        assert by_id[closed]["values"] and all(
            {"id", "name"} <= set(v) for v in by_id[closed]["values"]
        )
    assert {u["id"] for u in by_id["PACKAGE_WEIGHT"]["allowed_units"]} == {"g", "kg"}
    assert by_id["PACKAGE_WEIGHT"]["value_type"] == "number_unit"
    assert {"MODEL", "MATERIAL", "SELLER_SKU"} <= set(by_id)
    assert_error(client.get("/categories/MLB0/attributes"), 404)

    found = client.get(
        "/sites/MLB/domain_discovery/search", params={"q": "camiseta algodão", "limit": 2}
    ).json()
    assert found and found[0]["category_id"] == "MLB31447"
    assert set(found[0]) == {
        "domain_id",
        "domain_name",
        "category_id",
        "category_name",
        "attributes",
    }
    assert client.get("/sites/MLB/domain_discovery/search", params={"q": "xyzzy"}).json() == []


def test_every_item_category_is_a_listable_leaf(
    client: httpx.Client, sandbox: Sandbox, sellers: list[int], tokens: dict[str, Any]
) -> None:
    ids = ",".join(f"MLB{lst.listing_number}" for lst in world_listings(sandbox, sellers[0]))
    for answer in client.get("/items", headers=bearer(tokens), params={"ids": ids}).json():
        category = client.get(f"/categories/{answer['body']['category_id']}").json()
        assert category["settings"]["listing_allowed"] is True


# --- quotas and faults -----------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after() -> None:
    config = SandboxConfig(seed=SEED, size="tiny", anchor=ANCHOR, rate_limits={"mercadolivre": 2.0})
    sandbox = Sandbox(config)
    set_clock(sandbox, ANCHOR)
    with (
        RunningSandbox(sandbox) as served,
        httpx.Client(base_url=served.base_url("mercadolivre")) as client,
    ):
        tokens = login(client)
        restarted = httpx.post(f"{served.url}/_sandbox/quotas").json()["mercadolivre"]
        statuses = [client.get("/users/me", headers=bearer(tokens)) for _ in range(6)]
        counts = httpx.get(f"{served.url}/_sandbox/quotas").json()["mercadolivre"]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    # the quota counts what it let through and what it refused, for benchmarks to read
    assert (restarted["served"], restarted["refused"], restarted["first_served"]) == (0, 0, None)
    assert (counts["rate"], counts["burst"]) == (2.0, 4.0)
    assert counts["refused"] == len(limited)
    assert counts["served"] == len(statuses) - len(limited)
    assert counts["first_served"] <= counts["last_served"]
    body = assert_error(limited[0], 429, "too_many_requests")
    assert body["message"] == "Too many requests"
    assert int(limited[0].headers["Retry-After"]) >= 1


def test_injected_faults_use_the_ml_error_body() -> None:
    sandbox = Sandbox(
        SandboxConfig(seed=SEED, size="tiny", anchor=ANCHOR, faults=Faults(rate_5xx=1.0))
    )
    with (
        RunningSandbox(sandbox) as served,
        httpx.Client(base_url=served.base_url("mercadolivre")) as client,
    ):
        failures = [client.get("/users/me") for _ in range(2)]
        sandbox.faults.update(rate_5xx=0.0, rate_429=1.0)
        throttled = client.get("/users/me")
    assert {r.status_code for r in failures} == {500, 503}
    for failure in failures:
        body = assert_error(failure, failure.status_code)
        assert body["error"] in {"internal_server_error", "service_unavailable"}
    assert assert_error(throttled, 429, "too_many_requests")
    assert int(throttled.headers["Retry-After"]) >= 1
