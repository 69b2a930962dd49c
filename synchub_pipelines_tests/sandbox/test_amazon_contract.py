"""Contract tests for the Amazon SP-API simulator, spoken to over loopback with plain httpx.

Only credentials and ids are taken from the simulator module (they are what Seller Central
would show the app owner); every request is built here from the documented API.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.amazon import (
    APPLICATION_ID,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    MARKETPLACE_ID,
    REDIRECT_URI,
    initial_refresh_token,
)
from synchub_pipelines.sandbox.amazon_render import amazon_order_id
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.world import Seller

ANCHOR = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
SELLER = Seller("amazon", "A1SYNCHUBTEST01", "Casa e Moda BR")
ORDERS = "/orders/v0/orders"
ITEMS = f"/listings/2021-08-01/items/{SELLER.seller_id}"
# Fast enough that a test's back-to-back requests on loopback never drain a bucket.
UNTHROTTLED = {
    name: 1_000_000.0
    for name in (
        "amazon.getOrders",
        "amazon.getOrder",
        "amazon.getOrderItems",
        "amazon.getOrder2026",
        "amazon.listFinancialEventsByOrderId",
        "amazon.listFinancialEvents",
        "amazon.listings",
        "amazon.listings.get",
        "amazon.listings.patch",
    )
}


def _start(rate_limits: dict[str, float]) -> RunningSandbox:
    # Mount only the simulator under test, so another marketplace cannot break this contract.
    with mock.patch.object(server, "SIMULATOR_MODULES", ("amazon",)):
        sandbox = Sandbox(
            SandboxConfig(
                seed=11, size="tiny", anchor=ANCHOR, sellers=[SELLER], rate_limits=rate_limits
            )
        )
    return RunningSandbox(sandbox).start()


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    running = _start(UNTHROTTLED)
    yield running
    running.stop()


@pytest.fixture
def client(running: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.base_url("amazon"), timeout=10) as client:
        yield client


def _lwa(client: httpx.Client, **fields: str) -> httpx.Response:
    form = {"client_id": LWA_CLIENT_ID, "client_secret": LWA_CLIENT_SECRET} | fields
    return client.post("/auth/o2/token", data=form)


def _refresh(client: httpx.Client) -> str:
    response = _lwa(
        client,
        grant_type="refresh_token",
        refresh_token=initial_refresh_token(SELLER.seller_id),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def auth(client: httpx.Client) -> dict[str, str]:
    return {"x-amz-access-token": _refresh(client)}


def _orders(client: httpx.Client, auth: dict[str, str], **params: Any) -> httpx.Response:
    return client.get(ORDERS, params={"MarketplaceIds": MARKETPLACE_ID} | params, headers=auth)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _amount(money: dict[str, str]) -> Decimal:
    assert money["CurrencyCode"] == "BRL"
    return Decimal(money["Amount"])


def _listed_skus(running: RunningSandbox) -> dict[str, int]:
    world = running.sandbox.world
    return {
        v.sku: v.available_quantity
        for listing in world.listings_of(SELLER)
        for v in listing.variations
        if v.sku is not None
    }


# --- Login with Amazon ---------------------------------------------------------------------


def test_refresh_token_grant_issues_bearer_tokens_and_does_not_rotate(
    client: httpx.Client,
) -> None:
    refresh_token = initial_refresh_token(SELLER.seller_id)
    first = _lwa(client, grant_type="refresh_token", refresh_token=refresh_token)
    second = _lwa(client, grant_type="refresh_token", refresh_token=refresh_token)
    assert first.status_code == second.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"].startswith("Atza|")
    assert body["refresh_token"] == refresh_token == second.json()["refresh_token"]
    assert body["access_token"] != second.json()["access_token"]
    # Amazon's own LWA client posts JSON rather than a form; both are accepted.
    as_json = client.post(
        "/auth/o2/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": LWA_CLIENT_ID,
            "client_secret": LWA_CLIENT_SECRET,
        },
    )
    assert as_json.status_code == 200


def test_lwa_rejects_a_bad_client_secret_and_an_unknown_refresh_token(
    client: httpx.Client,
) -> None:
    bad_client = client.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": initial_refresh_token(SELLER.seller_id),
            "client_id": LWA_CLIENT_ID,
            "client_secret": "wrong",
        },
    )
    assert bad_client.status_code == 401
    assert bad_client.json()["error"] == "invalid_client"
    bad_grant = _lwa(client, grant_type="refresh_token", refresh_token="Atzr|forged")
    assert bad_grant.status_code == 400
    assert bad_grant.json()["error"] == "invalid_grant"
    assert "error_description" in bad_grant.json()


def test_website_authorization_code_is_exchanged_once(client: httpx.Client) -> None:
    consent = client.get(
        "/apps/authorize/consent",
        params={
            "application_id": APPLICATION_ID,
            "state": "csrf-123",
            "selling_partner_id": SELLER.seller_id,
        },
    )
    assert consent.status_code == 302
    location = consent.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["csrf-123"]
    assert query["selling_partner_id"] == [SELLER.seller_id]
    code = query["spapi_oauth_code"][0]

    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    granted = _lwa(client, **exchange)
    assert granted.status_code == 200, granted.text
    refresh_token = granted.json()["refresh_token"]
    assert refresh_token.startswith("Atzr|")
    assert _lwa(client, **exchange).json()["error"] == "invalid_grant"  # single use

    renewed = _lwa(client, grant_type="refresh_token", refresh_token=refresh_token)
    listing = client.get(
        ITEMS,
        params={"marketplaceIds": MARKETPLACE_ID},
        headers={"x-amz-access-token": renewed.json()["access_token"]},
    )
    assert listing.status_code == 200


# --- access tokens and the error envelope -----------------------------------------------


def test_missing_or_forged_access_token_is_403_unauthorized(client: httpx.Client) -> None:
    params = {"MarketplaceIds": MARKETPLACE_ID, "CreatedAfter": "2025-01-01T00:00:00Z"}
    missing = client.get(ORDERS, params=params)
    assert missing.status_code == 403
    (error,) = missing.json()["errors"]
    assert error["code"] == "Unauthorized"
    assert error["message"] == "Access to requested resource is denied."
    assert missing.headers["x-amzn-RequestId"]
    forged = client.get(ORDERS, params=params, headers={"x-amz-access-token": "Atza|forged"})
    assert forged.status_code == 403
    assert "revoked, malformed or invalid" in forged.json()["errors"][0]["details"]


def test_access_token_expires_after_an_hour_while_the_refresh_token_keeps_working(
    running: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    params = {"CreatedAfter": "2025-02-01T00:00:00Z", "MaxResultsPerPage": 1}
    assert _orders(client, auth, **params).status_code == 200
    httpx.post(f"{running.url}/_sandbox/clock/advance", json={"seconds": 3600})
    expired = _orders(client, auth, **params)
    assert expired.status_code == 403
    assert expired.json()["errors"][0] == {
        "code": "Unauthorized",
        "message": "Access to requested resource is denied.",
        "details": "The access token you provided has expired.",
    }
    fresh = {"x-amz-access-token": _refresh(client)}
    assert _orders(client, fresh, **params).status_code == 200


def test_injected_faults_use_the_sp_api_error_envelope(
    running: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    knobs = f"{running.url}/_sandbox/faults"
    params = {"CreatedAfter": "2025-02-01T00:00:00Z", "MaxResultsPerPage": 1}
    try:
        httpx.post(knobs, json={"rate_5xx": 1.0})
        failed = _orders(client, auth, **params)
        assert failed.status_code in (500, 503)
        assert failed.json()["errors"][0]["code"] == "InternalFailure"
        assert failed.headers["x-amzn-RequestId"]
        httpx.post(knobs, json={"rate_5xx": 0.0, "rate_429": 1.0})
        throttled = _orders(client, auth, **params)
        assert throttled.status_code == 429
        assert throttled.json()["errors"][0]["code"] == "QuotaExceeded"
    finally:
        httpx.post(knobs, json={"rate_5xx": 0.0, "rate_429": 0.0})
    assert _orders(client, auth, **params).status_code == 200


def test_unknown_path_is_404_in_the_errors_envelope(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    response = client.get("/orders/v9/nothing-here", headers=auth)
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NotFound"


# --- Orders v0 ---------------------------------------------------------------------------


def test_created_after_and_last_updated_after_are_mutually_exclusive(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    both = _orders(
        client,
        auth,
        CreatedAfter="2025-02-01T00:00:00Z",
        LastUpdatedAfter="2025-02-01T00:00:00Z",
    )
    assert both.status_code == 400
    assert both.json()["errors"][0]["code"] == "InvalidInput"
    neither = _orders(client, auth)
    assert neither.status_code == 400
    assert neither.json()["errors"][0]["code"] == "InvalidInput"
    no_marketplace = client.get(
        ORDERS, params={"CreatedAfter": "2025-02-01T00:00:00Z"}, headers=auth
    )
    assert no_marketplace.status_code == 400


def test_created_before_must_be_two_minutes_in_the_past(
    running: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    now = running.sandbox.clock.now()
    too_recent = _orders(
        client,
        auth,
        CreatedAfter="2025-02-01T00:00:00Z",
        CreatedBefore=_iso(now - timedelta(seconds=60)),
    )
    assert too_recent.status_code == 400
    (error,) = too_recent.json()["errors"]
    assert error["code"] == "InvalidInput"
    assert error["message"].startswith("The input you have submitted is not valid.")
    old_enough = _orders(
        client,
        auth,
        CreatedAfter="2025-02-01T00:00:00Z",
        CreatedBefore=_iso(now - timedelta(seconds=180)),
    )
    assert old_enough.status_code == 200


def test_next_token_pages_through_every_order_once_at_100_per_page(
    running: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    expected = sum(1 for _ in running.sandbox.world.orders_of(SELLER))
    window = {"CreatedAfter": _iso(ANCHOR - timedelta(days=400)), "CreatedBefore": _iso(ANCHOR)}
    first = _orders(client, auth, **window)
    assert first.status_code == 200
    assert first.headers["x-amzn-RateLimit-Limit"]
    payload = first.json()["payload"]
    assert len(payload["Orders"]) == 100
    assert payload["CreatedBefore"] == _iso(ANCHOR)
    seen = [order["AmazonOrderId"] for order in payload["Orders"]]
    dates = [order["PurchaseDate"] for order in payload["Orders"]]
    pages = 1
    while "NextToken" in payload:
        # Filters travel inside the token; only the marketplace is sent again.
        response = _orders(client, auth, NextToken=payload["NextToken"])
        assert response.status_code == 200, response.text
        payload = response.json()["payload"]
        seen += [order["AmazonOrderId"] for order in payload["Orders"]]
        dates += [order["PurchaseDate"] for order in payload["Orders"]]
        pages += 1
    assert pages == -(-expected // 100)
    assert len(seen) == len(set(seen)) == expected
    assert dates == sorted(dates)
    assert all(order_id.startswith("701-") and len(order_id) == 19 for order_id in seen)


def test_last_updated_window_reports_each_order_once_inside_the_window(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    since = ANCHOR - timedelta(days=5)
    params = {"LastUpdatedAfter": _iso(since), "MaxResultsPerPage": 7}
    payload = _orders(client, auth, **params).json()["payload"]
    assert "CreatedBefore" not in payload
    until = payload["LastUpdatedBefore"]
    orders = list(payload["Orders"])
    while "NextToken" in payload:
        payload = _orders(client, auth, NextToken=payload["NextToken"]).json()["payload"]
        orders += payload["Orders"]
    assert orders
    ids = [order["AmazonOrderId"] for order in orders]
    assert len(ids) == len(set(ids))
    assert all(_iso(since) <= order["LastUpdateDate"] <= until for order in orders)


def test_status_filter_and_order_lookup(client: httpx.Client, auth: dict[str, str]) -> None:
    window = {"CreatedAfter": _iso(ANCHOR - timedelta(days=400)), "CreatedBefore": _iso(ANCHOR)}
    canceled = _orders(client, auth, OrderStatuses="Canceled", **window).json()["payload"]
    assert canceled["Orders"]
    assert {order["OrderStatus"] for order in canceled["Orders"]} == {"Canceled"}
    order = canceled["Orders"][0]
    single = client.get(f"{ORDERS}/{order['AmazonOrderId']}", headers=auth)
    assert single.status_code == 200
    assert single.json()["payload"] == order
    assert client.get(f"{ORDERS}/701-0000000-0000000", headers=auth).status_code == 404
    assert client.get(f"{ORDERS}/not-an-order-id", headers=auth).status_code == 400


def test_order_items_add_up_to_the_order_total(client: httpx.Client, auth: dict[str, str]) -> None:
    window = {"CreatedAfter": _iso(ANCHOR - timedelta(days=400)), "MaxResultsPerPage": 25}
    orders = _orders(client, auth, **window).json()["payload"]["Orders"]
    checked = 0
    for order in orders:
        if "OrderTotal" not in order:
            assert order["OrderStatus"] in ("Pending", "Canceled")
            continue
        response = client.get(f"{ORDERS}/{order['AmazonOrderId']}/orderItems", headers=auth)
        assert response.status_code == 200
        payload = response.json()["payload"]
        assert payload["AmazonOrderId"] == order["AmazonOrderId"]
        total = sum(
            _amount(item["ItemPrice"])
            + _amount(item["ShippingPrice"])
            + _amount(item["ItemTax"])
            + _amount(item["ShippingTax"])
            - _amount(item["PromotionDiscount"])
            - _amount(item["ShippingDiscount"])
            for item in payload["OrderItems"]
        )
        assert total == _amount(order["OrderTotal"]), order["AmazonOrderId"]
        units = sum(item["QuantityOrdered"] for item in payload["OrderItems"])
        assert units == order["NumberOfItemsShipped"] + order["NumberOfItemsUnshipped"] or (
            order["OrderStatus"] == "Canceled"
        )
        checked += 1
    assert checked >= 20


def test_get_orders_quota_is_a_burst_of_20_at_one_request_a_minute() -> None:
    running = _start({})
    try:
        with httpx.Client(base_url=running.base_url("amazon"), timeout=10) as client:
            auth = {"x-amz-access-token": _refresh(client)}
            params = {"CreatedAfter": "2025-02-01T00:00:00Z", "MaxResultsPerPage": 1}
            statuses = [_orders(client, auth, **params).status_code for _ in range(21)]
            assert statuses == [200] * 20 + [429]
            throttled = _orders(client, auth, **params)
            assert throttled.json() == {
                "errors": [
                    {
                        "code": "QuotaExceeded",
                        "message": "You exceeded your quota for the requested resource.",
                    }
                ]
            }
            assert int(throttled.headers["Retry-After"]) >= 50  # 1 / 0.0167 s per token
            assert throttled.headers["x-amzn-RequestId"]
            # Other operations have buckets of their own.
            listing = client.get(ITEMS, params={"marketplaceIds": MARKETPLACE_ID}, headers=auth)
            assert listing.status_code == 200
            assert listing.headers["x-amzn-RateLimit-Limit"] == "5.0"
    finally:
        running.stop()


def test_get_orders_bucket_refills_at_its_rate() -> None:
    running = _start({"amazon.getOrders": 2.0})
    try:
        with httpx.Client(base_url=running.base_url("amazon"), timeout=10) as client:
            auth = {"x-amz-access-token": _refresh(client)}
            params = {"CreatedAfter": "2025-02-01T00:00:00Z", "MaxResultsPerPage": 1}
            granted = 0
            while _orders(client, auth, **params).status_code == 200:
                granted += 1
                assert granted <= 25, "the burst never ran out"
            assert granted in (20, 21)  # the burst, plus at most one token refilled meanwhile
            time.sleep(0.7)  # 2 tokens/s
            refilled = _orders(client, auth, **params)
            assert refilled.status_code == 200
            assert refilled.headers["x-amzn-RateLimit-Limit"] == "2.0"
    finally:
        running.stop()


# --- Listings Items 2021-08-01 -----------------------------------------------------------


def test_listings_search_pages_by_at_most_20(
    running: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    params: dict[str, Any] = {"marketplaceIds": MARKETPLACE_ID, "pageSize": 21}
    assert client.get(ITEMS, params=params, headers=auth).status_code == 400
    params |= {"pageSize": 20, "includedData": "summaries,offers,fulfillmentAvailability"}
    body = client.get(ITEMS, params=params, headers=auth).json()
    first_page = [item["sku"] for item in body["items"]]
    skus = list(first_page)
    while "nextToken" in body.get("pagination", {}):
        assert len(body["items"]) == 20
        token = body["pagination"]["nextToken"]
        body = client.get(ITEMS, params=params | {"pageToken": token}, headers=auth).json()
        skus += [item["sku"] for item in body["items"]]
    listed = _listed_skus(running)
    assert body["numberOfResults"] == len(listed) == len(skus)
    assert set(skus) == set(listed)
    item = body["items"][0]
    assert item["summaries"][0]["marketplaceId"] == MARKETPLACE_ID
    assert item["summaries"][0]["asin"].startswith("B0")
    assert item["offers"][0]["price"]["currencyCode"] == "BRL"
    assert item["fulfillmentAvailability"][0]["fulfillmentChannelCode"] == "DEFAULT"

    second = client.get(
        ITEMS, params=params | {"pageToken": _page_token(client, auth, params)}, headers=auth
    ).json()
    back = client.get(
        ITEMS,
        params=params | {"pageToken": second["pagination"]["previousToken"]},
        headers=auth,
    ).json()
    assert [item["sku"] for item in back["items"]] == first_page


def _page_token(client: httpx.Client, auth: dict[str, str], params: dict[str, Any]) -> str:
    return str(client.get(ITEMS, params=params, headers=auth).json()["pagination"]["nextToken"])


def _stock(client: httpx.Client, auth: dict[str, str], sku: str) -> tuple[int, int]:
    params = {
        "marketplaceIds": MARKETPLACE_ID,
        "includedData": "fulfillmentAvailability,attributes",
    }
    item = client.get(f"{ITEMS}/{sku}", params=params, headers=auth).json()
    return (
        item["fulfillmentAvailability"][0]["quantity"],
        item["attributes"]["fulfillment_availability"][0]["quantity"],
    )


def _patch(
    client: httpx.Client,
    auth: dict[str, str],
    sku: str,
    body: dict[str, Any],
    mode: str | None = None,
) -> httpx.Response:
    params = {"marketplaceIds": MARKETPLACE_ID} | ({"mode": mode} if mode else {})
    return client.patch(f"{ITEMS}/{sku}", params=params, json=body, headers=auth)


def _quantity_patch(quantity: Any, path: str = "/attributes/fulfillment_availability") -> dict:
    return {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": path,
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            }
        ],
    }


def test_patched_quantity_is_what_get_returns(
    running: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    sku = sorted(_listed_skus(running))[0]
    before, _ = _stock(client, auth, sku)
    response = _patch(client, auth, sku, _quantity_patch(before + 7))
    assert response.status_code == 200
    body = response.json()
    assert body["sku"] == sku
    assert body["status"] == "ACCEPTED"
    assert body["issues"] == []
    assert body["submissionId"]
    assert _stock(client, auth, sku) == (before + 7, before + 7)
    assert _listed_skus(running)[sku] == before + 7


def test_validation_preview_leaves_stock_alone(
    running: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    sku = sorted(_listed_skus(running))[1]
    before = _stock(client, auth, sku)
    response = _patch(client, auth, sku, _quantity_patch(before[0] + 50), "VALIDATION_PREVIEW")
    assert response.status_code == 200
    assert response.json()["status"] == "VALID"
    assert _stock(client, auth, sku) == before


def test_invalid_patches_are_rejected_without_touching_stock(
    running: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    sku = sorted(_listed_skus(running))[2]
    before = _stock(client, auth, sku)

    negative = _patch(client, auth, sku, _quantity_patch(-3))
    assert negative.status_code == 200
    assert negative.json()["status"] == "INVALID"
    (issue,) = negative.json()["issues"]
    assert issue["severity"] == "ERROR"
    assert issue["attributeNames"] == ["fulfillment_availability"]

    camel_case = _patch(
        client, auth, sku, _quantity_patch(3, "/attributes/fulfillmentAvailability")
    )
    assert camel_case.json()["status"] == "INVALID"
    assert camel_case.json()["issues"][0]["code"] == "90000900"

    not_a_path = _patch(client, auth, sku, _quantity_patch(3, "fulfillment_availability"))
    assert not_a_path.status_code == 400
    assert not_a_path.json()["errors"][0]["code"] == "InvalidInput"

    untyped = _quantity_patch(3)
    del untyped["productType"]
    missing_type = _patch(client, auth, sku, untyped)
    assert missing_type.status_code == 400
    assert missing_type.json()["errors"][0]["code"] == "InvalidInput"

    assert _stock(client, auth, sku) == before


def test_unknown_sku_is_404_and_other_sellers_are_forbidden(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    params = {"marketplaceIds": MARKETPLACE_ID}
    missing = client.get(f"{ITEMS}/NO-SUCH-SKU", params=params, headers=auth)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "NOT_FOUND"
    foreign = client.get("/listings/2021-08-01/items/A9OTHER", params=params, headers=auth)
    assert foreign.status_code == 403


def test_sandbox_sale_creates_an_unshipped_order_and_takes_stock(
    running: RunningSandbox, client: httpx.Client, auth: dict[str, str]
) -> None:
    sku = next(sku for sku, quantity in sorted(_listed_skus(running).items()) if quantity > 0)
    before, _ = _stock(client, auth, sku)
    sale = client.post("/_sandbox/sales", json={"sku": sku, "quantity": 1})
    assert sale.status_code == 201
    order_id = sale.json()["AmazonOrderId"]
    order = client.get(f"{ORDERS}/{order_id}", headers=auth).json()["payload"]
    assert order["OrderStatus"] == "Unshipped"
    assert order["NumberOfItemsUnshipped"] == 1
    items = client.get(f"{ORDERS}/{order_id}/orderItems", headers=auth).json()["payload"]
    assert [item["SellerSKU"] for item in items["OrderItems"]] == [sku]
    assert _stock(client, auth, sku)[0] == before - 1
    oversold = client.post("/_sandbox/sales", json={"sku": sku, "quantity": before + 1})
    assert oversold.status_code == 409
    assert _stock(client, auth, sku)[0] == before - 1


# --- money on the order lines --------------------------------------------------------------


def test_order_items_carry_taxes_discounts_and_quantity_prices(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    window = {"CreatedAfter": _iso(ANCHOR - timedelta(days=400)), "CreatedBefore": _iso(ANCHOR)}
    orders = _orders(client, auth, **window).json()["payload"]["Orders"]
    seen: set[str] = set()
    for order in orders:
        path = f"{ORDERS}/{order['AmazonOrderId']}/orderItems"
        for item in client.get(path, headers=auth).json()["payload"]["OrderItems"]:
            price, units = _amount(item["ItemPrice"]), item["QuantityOrdered"]
            if price % units or (price / units) % Decimal("0.01"):
                seen.add("a line total the units do not divide")
            for name in ("ItemTax", "ShippingTax", "PromotionDiscount", "ShippingDiscount"):
                if _amount(item[name]):
                    seen.add(name)
            if _amount(item["PromotionDiscount"]):
                assert item["PromotionIds"]
        seen.add(order["FulfillmentChannel"])
    assert seen == {
        "a line total the units do not divide",
        "ItemTax",
        "ShippingTax",
        "PromotionDiscount",
        "ShippingDiscount",
        "AFN",
        "MFN",
    }
    # Seller-fulfilled orders promise a ship date; Amazon-fulfilled ones do not.
    for order in orders:
        assert ("LatestShipDate" in order) == (order["FulfillmentChannel"] == "MFN")


# --- Finances v0 and Orders 2026-01-01 -----------------------------------------------------

FINANCES = "/finances/v0"
CLOCK_AT = ANCHOR + timedelta(days=3)
DEFERRAL = timedelta(days=7)


@pytest.fixture(scope="module")
def later() -> Iterator[RunningSandbox]:
    """A sandbox three days after the World's newest orders: some sales released, the
    recent ones still deferred."""
    running = _start(UNTHROTTLED)
    running.sandbox.clock.advance(CLOCK_AT.timestamp() - time.time())
    yield running
    running.stop()


@pytest.fixture
def later_client(later: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=later.base_url("amazon"), timeout=10) as client:
        client.headers["x-amz-access-token"] = _refresh(client)
        yield client


def _decimal_json(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


def _first(order: Any, status: str) -> datetime | None:
    return next((when for step, when in order.timeline if step == status), None)


def _events_sum(items: list[dict[str, Any]], *lists: str) -> Decimal:
    total = Decimal(0)
    for item in items:
        for name in lists:
            for entry in item.get(name, []):
                money = (
                    entry.get("ChargeAmount")
                    or entry.get("FeeAmount")
                    or entry.get("PromotionAmount")
                )
                assert money["CurrencyCode"] == "BRL"
                total += money["CurrencyAmount"]
    return total


def test_financial_events_by_order_are_released_after_delivery_and_add_up(
    later: RunningSandbox, later_client: httpx.Client
) -> None:
    seen: set[str] = set()
    for order in later.sandbox.world.orders_of(SELLER):
        order_id = amazon_order_id(order.order_number)
        response = later_client.get(f"{FINANCES}/orders/{order_id}/financialEvents")
        assert response.status_code == 200
        assert response.headers["x-amzn-RateLimit-Limit"] == "1000000.0"
        events = _decimal_json(response)["payload"]["FinancialEvents"]
        assert len(events) == 34 and all(isinstance(v, list) for v in events.values())
        shipped, delivered = _first(order, "shipped"), _first(order, "delivered")
        returned = _first(order, "returned")
        released = delivered is not None and delivered + DEFERRAL <= CLOCK_AT
        sales, refunds = events["ShipmentEventList"], events["RefundEventList"]
        assert len(sales) == (1 if released else 0), order_id
        assert len(refunds) == (1 if returned is not None and returned <= CLOCK_AT else 0)
        if shipped is not None and not released:
            seen.add("deferred")
        if not sales and not refunds:
            continue
        header = later_client.get(f"{ORDERS}/{order_id}").json()["payload"]
        paid = _amount(header["OrderTotal"])
        items = later_client.get(f"{ORDERS}/{order_id}/orderItems").json()["payload"]
        prices = {i["OrderItemId"]: _amount(i["ItemPrice"]) for i in items["OrderItems"]}
        for sale in sales:
            seen.add("released")
            assert sale["AmazonOrderId"] == order_id
            assert sale["PostedDate"] == _iso(shipped)  # posted at shipment
            lines = sale["ShipmentItemList"]
            # What the buyer paid is what Orders v0 says: charges less promotions.
            assert _events_sum(lines, "ItemChargeList", "PromotionList") == paid
            assert _events_sum(lines, "ItemFeeList") < 0  # fees are debits
            principal = {
                line["OrderItemId"]: c["ChargeAmount"]["CurrencyAmount"]
                for line in lines
                for c in line["ItemChargeList"]
                if c["ChargeType"] == "Principal"
            }
            assert principal == prices
            fee_types = {f["FeeType"] for line in lines for f in line["ItemFeeList"]}
            seen |= fee_types
        for refund in refunds:
            seen.add("refund")
            assert refund["PostedDate"] == _iso(returned)
            lines = refund["ShipmentItemAdjustmentList"]
            assert all("OrderAdjustmentItemId" in line for line in lines)
            assert (
                _events_sum(lines, "ItemChargeAdjustmentList", "PromotionAdjustmentList") == -paid
            )
            seen |= {f["FeeType"] for line in lines for f in line["ItemFeeAdjustmentList"]}
    assert seen >= {
        "deferred",
        "released",
        "refund",
        "Commission",
        "FixedClosingFee",
        "FBAPerUnitFulfillmentFee",
        "RefundCommission",
    }


def test_financial_events_by_order_error_envelope(later_client: httpx.Client) -> None:
    bad = later_client.get(f"{FINANCES}/orders/BAD-ORDER/financialEvents")
    assert bad.status_code == 400
    assert bad.json() == {"errors": [{"code": "InvalidInput", "message": "Bad order ID provided."}]}
    unknown = later_client.get(f"{FINANCES}/orders/701-0000000-0000001/financialEvents")
    assert unknown.status_code == 200
    assert not any(unknown.json()["payload"]["FinancialEvents"].values())
    too_many = later_client.get(
        f"{FINANCES}/orders/701-0000000-0000001/financialEvents",
        params={"MaxResultsPerPage": 101},
    )
    assert too_many.status_code == 400


def test_financial_events_by_date_page_in_posting_order(later_client: httpx.Client) -> None:
    query = {
        "PostedAfter": _iso(ANCHOR - timedelta(days=30)),
        "PostedBefore": _iso(CLOCK_AT - timedelta(minutes=3)),
        "MaxResultsPerPage": 7,
    }
    response = later_client.get(f"{FINANCES}/financialEvents", params=query)
    payload = _decimal_json(response)["payload"]
    posted: list[tuple[str, str, str]] = []
    pages = 0
    while True:
        pages += 1
        events = payload["FinancialEvents"]
        page = [("sale", e["AmazonOrderId"], e["PostedDate"]) for e in events["ShipmentEventList"]]
        page += [("refund", e["AmazonOrderId"], e["PostedDate"]) for e in events["RefundEventList"]]
        assert len(page) <= 7
        posted += page
        if "NextToken" not in payload:
            break
        # The same arguments again, plus the token.
        response = later_client.get(
            f"{FINANCES}/financialEvents", params=query | {"NextToken": payload["NextToken"]}
        )
        assert response.status_code == 200, response.text
        payload = _decimal_json(response)["payload"]
    assert pages == -(-len(posted) // 7) and len(posted) > 20
    assert len(set(posted)) == len(posted)
    assert [p[2] for p in posted] == sorted(p[2] for p in posted)
    assert all(query["PostedAfter"] <= p[2] < query["PostedBefore"] for p in posted)
    # The same events one order at a time.
    by_order = set()
    for _, order_id, _ in posted:
        events = later_client.get(f"{FINANCES}/orders/{order_id}/financialEvents").json()
        lists = events["payload"]["FinancialEvents"]
        by_order |= {("sale", order_id, e["PostedDate"]) for e in lists["ShipmentEventList"]}
        by_order |= {("refund", order_id, e["PostedDate"]) for e in lists["RefundEventList"]}
    assert by_order == set(posted)


def test_financial_events_by_date_validate_their_window(later_client: httpx.Client) -> None:
    path = f"{FINANCES}/financialEvents"
    after = _iso(ANCHOR - timedelta(days=30))
    cases = [
        {},  # PostedAfter is required
        {"PostedAfter": after, "PostedBefore": _iso(CLOCK_AT - timedelta(seconds=60))},
        {"PostedAfter": _iso(CLOCK_AT - timedelta(seconds=30))},
        {"PostedAfter": after, "PostedBefore": after},
        {"PostedAfter": after, "MaxResultsPerPage": 0},
    ]
    for params in cases:
        response = later_client.get(path, params=params)
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["code"] == "InvalidInput"
    wide = later_client.get(path, params={"PostedAfter": _iso(ANCHOR - timedelta(days=400))})
    assert wide.status_code == 200
    assert not any(wide.json()["payload"]["FinancialEvents"].values())  # over 180 days
    first = later_client.get(path, params={"PostedAfter": after, "MaxResultsPerPage": 1}).json()
    token = first["payload"]["NextToken"]
    other = later_client.get(
        path, params={"PostedAfter": _iso(ANCHOR), "MaxResultsPerPage": 1, "NextToken": token}
    )
    assert other.status_code == 400
    forged = later_client.get(path, params={"NextToken": "not-a-token"})
    assert forged.status_code == 400


def test_get_order_2026_shows_packages_of_seller_shipped_orders(
    later: RunningSandbox, later_client: httpx.Client
) -> None:
    seen: set[str] = set()
    for order in later.sandbox.world.orders_of(SELLER):
        order_id = amazon_order_id(order.order_number)
        response = later_client.get(
            f"/orders/2026-01-01/orders/{order_id}",
            params={"includedData": "FULFILLMENT,PACKAGES"},
        )
        assert response.status_code == 200
        body = response.json()["order"]
        assert body["orderId"] == order_id
        assert {"buyer", "recipient"}.isdisjoint(body)  # no Restricted Data Token
        fulfillment = body["fulfillment"]
        shipped = _first(order, "shipped")
        if fulfillment["fulfilledBy"] == "AMAZON":
            seen.add("AMAZON")
            assert "packages" not in body and "shipByWindow" not in fulfillment
            continue
        if shipped is None or shipped - timedelta(hours=3) > CLOCK_AT:
            assert "packages" not in body
            continue
        (package,) = body["packages"]
        assert package["carrier"] and package["trackingNumber"]
        assert package["packageItems"]
        status = package["packageStatus"]["status"]
        seen.add(status)
        if status == "DELIVERED":
            assert package["shipTime"] == _iso(shipped)
            assert _first(order, "delivered") <= CLOCK_AT
        assert body["lastUpdatedTime"] <= _iso(CLOCK_AT)
    assert seen >= {"AMAZON", "DELIVERED", "IN_TRANSIT"}


def test_get_order_2026_errors(later_client: httpx.Client) -> None:
    path = "/orders/2026-01-01/orders"
    assert later_client.get(f"{path}/701-0000000-0000001").status_code == 404
    assert later_client.get(f"{path}/TEST_CASE_400").json() == {
        "errors": [
            {
                "code": "InvalidInput",
                "message": "Invalid Input",
                "details": "Invalid orderId TEST_CASE_400.",
            }
        ]
    }
    order_id = amazon_order_id(next(iter(_world_orders())).order_number)
    bogus = later_client.get(f"{path}/{order_id}", params={"includedData": "PACKAGES,BOGUS"})
    assert bogus.status_code == 400
    assert bogus.json()["errors"][0]["code"] == "InvalidInput"
    bare = later_client.get(f"{path}/{order_id}")
    assert bare.status_code == 200
    assert {"packages", "fulfillment"}.isdisjoint(bare.json()["order"])


def _world_orders() -> Iterator[Any]:
    with mock.patch.object(server, "SIMULATOR_MODULES", ("amazon",)):
        sandbox = Sandbox(SandboxConfig(seed=11, size="tiny", anchor=ANCHOR, sellers=[SELLER]))
    return sandbox.world.orders_of(SELLER)


def test_finance_quota_is_a_burst_of_30_at_half_a_request_a_second() -> None:
    running = _start({})
    try:
        with httpx.Client(base_url=running.base_url("amazon"), timeout=10) as client:
            auth = {"x-amz-access-token": _refresh(client)}
            path = f"{FINANCES}/orders/701-0000000-0000001/financialEvents"
            statuses = [client.get(path, headers=auth) for _ in range(31)]
            assert [r.status_code for r in statuses] == [200] * 30 + [429]
            assert statuses[0].headers["x-amzn-RateLimit-Limit"] == "0.5"
            assert statuses[-1].json()["errors"][0]["code"] == "QuotaExceeded"
            assert int(statuses[-1].headers["Retry-After"]) >= 1
            # listFinancialEvents and getOrder (2026-01-01) have buckets of their own.
            by_date = client.get(
                f"{FINANCES}/financialEvents",
                params={"PostedAfter": "2025-02-01T00:00:00Z"},
                headers=auth,
            )
            assert by_date.status_code == 200
            assert by_date.headers["x-amzn-RateLimit-Limit"] == "0.5"
    finally:
        running.stop()


# --- Listings issues ---------------------------------------------------------------------


def test_some_listings_are_suppressed_with_issues(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    params: dict[str, Any] = {
        "marketplaceIds": MARKETPLACE_ID,
        "pageSize": 20,
        "includedData": "summaries,issues",
    }
    items: list[dict[str, Any]] = []
    body = client.get(ITEMS, params=params, headers=auth).json()
    items += body["items"]
    while "nextToken" in body.get("pagination", {}):
        token = body["pagination"]["nextToken"]
        body = client.get(ITEMS, params=params | {"pageToken": token}, headers=auth).json()
        items += body["items"]
    actions: Counter[str] = Counter()
    for item in items:
        (summary,) = item["summaries"]
        for issue in item["issues"]:
            assert issue["severity"] in ("ERROR", "WARNING")
            assert issue["marketplaceIds"] == [MARKETPLACE_ID]
            for action in issue.get("enforcements", {}).get("actions", []):
                actions[action["action"]] += 1
                # Suppressed listings are not discoverable.
                assert "DISCOVERABLE" not in summary["status"]
    assert actions["LISTING_SUPPRESSED"] > 0 and actions["SEARCH_SUPPRESSED"] > 0
    without = client.get(ITEMS, params=params | {"includedData": "summaries"}, headers=auth)
    assert all("issues" not in item for item in without.json()["items"])
