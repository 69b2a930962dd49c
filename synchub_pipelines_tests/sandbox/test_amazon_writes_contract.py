"""The Amazon sandbox's write endpoints on the wire: putListingsItem submissions and issues,
Product Type Definitions and their schema link, confirmShipment and submitInvoice errors,
the `{"errors": [...]}` envelope, auth and per-operation 429s, and the write-call counter."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import httpx
import pytest

from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.amazon import (
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    MARKETPLACE_ID,
    initial_refresh_token,
)
from synchub_pipelines.sandbox.amazon_listings import gtin_ok, nfe_key_ok
from synchub_pipelines.sandbox.amazon_render import amazon_order_id, fulfilled_by_amazon
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.world import gtin13

ANCHOR = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
SELLER = "A1SYNCHUBDEMO01"
ITEMS = f"/listings/2021-08-01/items/{SELLER}"
FAST = {
    f"amazon.{name}": 1000.0
    for name in ("listings.get", "listings.patch", "definitions", "getOrder", "getOrder2026")
}
# putListingsItem and confirmShipment keep a slow bucket so their 429 can be shown.
RATES = FAST | {"amazon.listings.put": 0.01, "amazon.confirmShipment": 0.01}


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with mock.patch.object(server, "SIMULATOR_MODULES", ("amazon",)):
        sandbox = Sandbox(SandboxConfig(seed=5, size="tiny", anchor=ANCHOR, rate_limits=RATES))
    sandbox.clock.advance(ANCHOR.timestamp() + 3600 - time.time())
    running = RunningSandbox(sandbox).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(running: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.base_url("amazon")) as client:
        yield client


@pytest.fixture(scope="module")
def auth(http: httpx.Client) -> dict[str, str]:
    token = http.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": initial_refresh_token(SELLER),
            "client_id": LWA_CLIENT_ID,
            "client_secret": LWA_CLIENT_SECRET,
        },
    ).json()["access_token"]
    return {"x-amz-access-token": token}


def _text(value: str) -> list[dict[str, str]]:
    return [{"value": value, "language_tag": "pt_BR", "marketplace_id": MARKETPLACE_ID}]


def _bottle(**changes: Any) -> dict[str, Any]:
    attributes = {
        "item_name": _text("Garrafa Térmica 1L"),
        "brand": _text("Stanley"),
        "color": _text("Verde"),
        "condition_type": [{"value": "new_new", "marketplace_id": MARKETPLACE_ID}],
        "main_product_image_locator": [
            {"media_location": "https://img.example.com/g.jpg", "marketplace_id": MARKETPLACE_ID}
        ],
        "externally_assigned_product_identifier": [
            {"type": "ean", "value": gtin13("789300000001"), "marketplace_id": MARKETPLACE_ID}
        ],
        "purchasable_offer": [
            {
                "currency": "BRL",
                "our_price": [{"schedule": [{"value_with_tax": 129.9}]}],
                "marketplace_id": MARKETPLACE_ID,
            }
        ],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}],
    }
    return {"productType": "BOTTLE", "requirements": "LISTING", "attributes": attributes | changes}


def _put(http: httpx.Client, auth: dict[str, str], sku: str, body: Any) -> httpx.Response:
    return http.put(
        f"{ITEMS}/{sku}", params={"marketplaceIds": MARKETPLACE_ID}, json=body, headers=auth
    )


def test_checksums_match_gs1_and_nfe_rules() -> None:
    assert gtin_ok(gtin13("789100000123")) and not gtin_ok("7891000001235")
    assert gtin_ok("036000291452") and not gtin_ok("12345")
    body = "3525031234567800019555001000000077100000077"
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(body)))
    digit = 11 - total % 11
    key = body + str(0 if digit >= 10 else digit)
    assert nfe_key_ok(key)
    assert not nfe_key_ok(key[:43] + str((int(key[43]) + 1) % 10))
    assert not nfe_key_ok(key[:20] + "65" + key[22:])  # an NFC-e, not an NF-e


def test_put_rules_answer_invalid_submissions_with_issues(
    running: RunningSandbox, http: httpx.Client, auth: dict[str, str]
) -> None:
    sandbox: Sandbox = running.sandbox
    cases = {
        "missing": (_bottle(color=None), "90220", "MISSING_ATTRIBUTE", ["color"]),
        "unknown": (
            _bottle(fake_attribute=_text("x")),
            "90000900",
            "INVALID_ATTRIBUTE",
            ["fake_attribute"],
        ),
        "image": (
            _bottle(main_product_image_locator=[{"media_location": "ftp://x/y.jpg"}]),
            "4000001",
            "INVALID_IMAGE",
            ["main_product_image_locator"],
        ),
        "price": (
            _bottle(
                purchasable_offer=[
                    {"currency": "BRL", "our_price": [{"schedule": [{"value_with_tax": 1}]}]}
                ]
            ),
            "4000001",
            "INVALID_PRICE",
            ["purchasable_offer"],
        ),
    }
    for name, (body, code, category, attributes) in cases.items():
        body["attributes"] = {k: v for k, v in body["attributes"].items() if v is not None}
        sandbox.clock.advance(200)  # refill the slow put bucket
        response = _put(http, auth, f"RAW-{name}", body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["status"] == "INVALID" and answer["sku"] == f"RAW-{name}"
        (issue,) = answer["issues"]
        assert (issue["code"], issue["categories"], issue["attributeNames"]) == (
            code,
            [category],
            attributes,
        )
        assert issue["severity"] == "ERROR"
    sandbox.clock.advance(200)
    accepted = _put(http, auth, "RAW-OK", _bottle())
    assert accepted.json()["status"] == "ACCEPTED" and accepted.json()["issues"] == []
    item = http.get(
        f"{ITEMS}/RAW-OK",
        params={"marketplaceIds": MARKETPLACE_ID, "includedData": "summaries,offers,attributes"},
        headers=auth,
    ).json()
    assert item["summaries"][0]["productType"] == "BOTTLE"
    assert item["offers"][0]["price"] == {"currencyCode": "BRL", "amount": "129.90"}
    assert item["attributes"]["color"] == _text("Verde")


def test_malformed_puts_auth_and_quota_use_the_errors_envelope(
    running: RunningSandbox, http: httpx.Client, auth: dict[str, str]
) -> None:
    running.sandbox.clock.advance(200)
    malformed = _put(
        http, auth, "RAW-MAL", {"productType": "BOTTLE", "attributes": {"item_name": "x"}}
    )
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["code"] == "InvalidInput"
    unauthorized = http.put(
        f"{ITEMS}/RAW-X", params={"marketplaceIds": MARKETPLACE_ID}, json=_bottle()
    )
    assert unauthorized.status_code == 403
    assert unauthorized.json()["errors"][0]["code"] == "Unauthorized"
    # Burst 10 at 0.01 req/s: the eleventh put in a row is throttled.
    statuses = [
        http.put(
            f"{ITEMS}/RAW-Q",
            params={"marketplaceIds": MARKETPLACE_ID},
            json=_bottle(),
            headers=auth,
        ).status_code
        for _ in range(11)
    ]
    assert statuses[-1] == 429
    throttled = http.put(
        f"{ITEMS}/RAW-Q", params={"marketplaceIds": MARKETPLACE_ID}, json=_bottle(), headers=auth
    )
    assert throttled.json()["errors"][0]["code"] == "QuotaExceeded"
    assert "Retry-After" in throttled.headers


def test_definition_links_a_schema_fetched_without_the_token(
    http: httpx.Client, auth: dict[str, str]
) -> None:
    definition = http.get(
        "/definitions/2020-09-01/productTypes/SHIRT",
        params={"marketplaceIds": MARKETPLACE_ID, "requirements": "LISTING"},
        headers=auth,
    )
    assert definition.status_code == 200
    body = definition.json()
    assert (body["productType"], body["requirements"], body["locale"]) == (
        "SHIRT",
        "LISTING",
        "pt_BR",
    )
    schema = httpx.get(body["schema"]["link"]["resource"]).json()
    assert {"color", "size", "item_name"} <= set(schema["required"])
    missing = http.get(
        "/definitions/2020-09-01/productTypes/NOPE",
        params={"marketplaceIds": MARKETPLACE_ID},
        headers=auth,
    )
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "NOT_FOUND"


def _mfn_paid(running: RunningSandbox) -> str:
    sandbox = running.sandbox
    now = sandbox.clock.now()
    (seller,) = sandbox.world.sellers_of("amazon")
    order = next(
        o
        for o in sandbox.world.orders_of(seller)
        if o.status_at(now)[0] == "paid" and not fulfilled_by_amazon(o.order_number)
    )
    return amazon_order_id(order.order_number)


def test_confirm_shipment_checks_the_package_and_counts_writes(
    running: RunningSandbox, http: httpx.Client, auth: dict[str, str]
) -> None:
    order_id = _mfn_paid(running)
    items = http.get(f"/orders/v0/orders/{order_id}/orderItems", headers=auth)
    if items.status_code == 429:
        running.sandbox.clock.advance(60)
        items = http.get(f"/orders/v0/orders/{order_id}/orderItems", headers=auth)
    lines = [
        {"orderItemId": i["OrderItemId"], "quantity": i["QuantityOrdered"]}
        for i in items.json()["payload"]["OrderItems"]
    ]
    detail = {
        "packageReferenceId": "abc",
        "carrierCode": "Other",
        "carrierName": "Loggi",
        "trackingNumber": "LG1",
        "shipDate": (ANCHOR + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "orderItems": lines,
    }
    path = f"/orders/v0/orders/{order_id}/shipmentConfirmation"
    counted = http.get("/_sandbox/write_calls").json()["by_operation"].get("confirmShipment", 0)
    bad = http.post(
        path, json={"marketplaceId": MARKETPLACE_ID, "packageDetail": detail}, headers=auth
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["message"] == (
        "PackageReferenceId: is invalid, must be a positive numeric value."
    )
    good = http.post(
        path,
        json={
            "marketplaceId": MARKETPLACE_ID,
            "packageDetail": detail | {"packageReferenceId": "7"},
        },
        headers=auth,
    )
    assert good.status_code == 204, good.text
    order = http.get(
        f"/orders/2026-01-01/orders/{order_id}", params={"includedData": "PACKAGES"}, headers=auth
    ).json()["order"]
    (package,) = order["packages"]
    assert (package["packageReferenceId"], package["carrier"], package["trackingNumber"]) == (
        "7",
        "Loggi",
        "LG1",
    )
    second = http.post(
        path,
        json={
            "marketplaceId": MARKETPLACE_ID,
            "packageDetail": detail | {"packageReferenceId": "8"},
        },
        headers=auth,
    )
    assert second.status_code == 400
    assert "already fulfilled" in second.json()["errors"][0]["message"]
    assert (
        http.get("/_sandbox/write_calls").json()["by_operation"]["confirmShipment"] == counted + 3
    )


def test_submit_invoice_checks_base64_and_md5(
    running: RunningSandbox, http: httpx.Client, auth: dict[str, str]
) -> None:
    order_id = _mfn_paid(running)
    document = b"<nfeProc/>"
    body = {
        "invoiceContent": base64.b64encode(document).decode(),
        "contentMD5Value": hashlib.md5(b"other").hexdigest(),
        "invoiceType": "Outbound",
        "programType": "SelfShip",
        "marketplaceId": MARKETPLACE_ID,
    }
    wrong_md5 = http.post(
        "/delivery/2022-07-01/invoice", params={"orderId": order_id}, json=body, headers=auth
    )
    assert wrong_md5.status_code == 400
    assert wrong_md5.json()["errors"][0]["code"] == "InvalidInput"
    assert "contentMD5Value" in wrong_md5.json()["errors"][0]["details"]
    unknown = http.post(
        "/delivery/2022-07-01/invoice",
        params={"orderId": "701-0000000-0000000"},
        json=body | {"contentMD5Value": hashlib.md5(document).hexdigest()},
        headers=auth,
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["code"] == "EntityNotFound"
    status = http.get(
        "/delivery/2022-07-01/invoice/status",
        params={
            "orderId": order_id,
            "marketplaceId": MARKETPLACE_ID,
            "invoiceType": "Outbound",
            "programType": "SelfShip",
        },
        headers=auth,
    ).json()
    assert status["invoiceStatus"] == "NotFound" and status["invoices"] == []
