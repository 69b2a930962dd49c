"""Contract tests of the Shopee simulator's write APIs over HTTP on loopback, signed by the
independent client of test_shopee_contract (never the simulator's or the app client's code):
the envelope and Shopee's error names for each refusal, and the write-call counter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.sandbox.shopee_render import SELLER_CHANNEL, channel_of
from synchub_pipelines_tests.sandbox.test_shopee_contract import (
    PARTNER_ID,
    ShopeeClient,
    _orders,
    _start,
    base_string,
    only_shopee,
    sign,
)

__all__ = ["only_shopee"]  # the fixture, imported so pytest finds it here

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(scope="module")
def running(only_shopee: None) -> Iterator[RunningSandbox]:
    running = _start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def shopee(running: RunningSandbox) -> ShopeeClient:
    return ShopeeClient(running).authorize()


def _post(shopee: ShopeeClient, path: str, body: Any) -> dict[str, Any]:
    response = shopee.call("POST", path, body)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    assert payload["request_id"]
    return payload


def _upload(shopee: ShopeeClient, content: bytes = PNG) -> dict[str, Any]:
    path = "/api/v2/media_space/upload_image"
    timestamp = shopee.now()
    query: dict[str, Any] = {
        "partner_id": PARTNER_ID,
        "timestamp": timestamp,
        "access_token": shopee.access_token,
        "shop_id": shopee.shop_id,
        "sign": sign(base_string(PARTNER_ID, path, timestamp, shopee.access_token, shopee.shop_id)),
    }
    response = shopee.http.post(
        path,
        params=query,
        files={"image": ("a.png", content, "image/png")},
        data={"scene": "normal"},
    )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


def _leaf(shopee: ShopeeClient) -> dict[str, Any]:
    categories = shopee.ok("/api/v2/product/get_category", language="pt-br")["category_list"]
    leaf = next(c for c in categories if not c["has_children"])
    [tree] = shopee.ok(
        "/api/v2/product/get_attribute_tree",
        category_id_list=str(leaf["category_id"]),
        language="pt-br",
    )["list"]
    return {"category": leaf, "attributes": tree["attribute_tree"]}


def _attribute_list(attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chosen = []
    for attribute in attributes:
        if not attribute["mandatory"]:
            continue
        listed = attribute["attribute_value_list"]
        if listed:
            value = {"value_id": listed[0]["value_id"]}
        else:
            units = attribute["attribute_info"]["attribute_unit_list"]
            value = {
                "value_id": 0,
                "original_value_name": "10",
                "value_unit": units[0] if units else "",
            }
        chosen.append({"attribute_id": attribute["attribute_id"], "attribute_value_list": [value]})
    return chosen


def _item(shopee: ShopeeClient, **changes: Any) -> dict[str, Any]:
    leaf = _leaf(shopee)
    image_id = _upload(shopee)["response"]["image_info"]["image_id"]
    body = {
        "original_price": 25.5,
        "description": "Descrição completa do produto para o teste de contrato.",
        "weight": 0.3,
        "item_name": "Produto de teste do contrato",
        "logistic_info": [{"logistic_id": SELLER_CHANNEL[0], "enabled": True}],
        "category_id": leaf["category"]["category_id"],
        "image": {"image_id_list": [image_id]},
        "attribute_list": _attribute_list(leaf["attributes"]),
        "brand": {"brand_id": 0, "original_brand_name": "No Brand"},
        "seller_stock": [{"stock": 5}],
        "item_sku": "CONTRACT-1",
        "gtin_code": "7891234567895",
    }
    body.update(changes)
    return body


def test_add_item_then_reads_and_write_counter(
    shopee: ShopeeClient, running: RunningSandbox
) -> None:
    writes = running.sandbox.simulators["shopee"].writes
    before = sum(writes.write_calls.values())
    payload = _post(shopee, "/api/v2/product/add_item", _item(shopee))
    assert payload["error"] == ""
    item_id = payload["response"]["item_id"]
    [info] = shopee.ok("/api/v2/product/get_item_base_info", item_id_list=str(item_id))["item_list"]
    assert info["item_sku"] == "CONTRACT-1" and info["price_info"][0]["original_price"] == 25.5
    found = shopee.ok("/api/v2/product/search_item", page_size=10, item_sku="CONTRACT-1")
    assert found["item_id_list"] == [item_id]
    assert sum(writes.write_calls.values()) == before + 2  # the upload and the add
    # Models that do not exist: update_price's failure_list, a tier_index out of range.
    prices = _post(
        shopee,
        "/api/v2/product/update_price",
        {"item_id": item_id, "price_list": [{"model_id": 77, "original_price": 30.0}]},
    )["response"]
    assert prices["failure_list"] == [{"model_id": 77, "failed_reason": "Wrong model_id."}]
    tiers = _post(
        shopee,
        "/api/v2/product/init_tier_variation",
        {
            "item_id": item_id,
            "tier_variation": [{"name": "Cor", "option_list": [{"option": "Azul"}]}],
            "model": [{"tier_index": [3], "original_price": 20.0, "seller_stock": [{"stock": 1}]}],
        },
    )
    assert tiers["error"] == "error_tier_index"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"category_id": "parent"}, "error_param", "Invalid category."),
        ({"attribute_list": []}, "error_less_required_attribute", None),
        ({"item_name": "x" * 121}, "error_title_exceeds_max_length", None),
        ({"item_name": "Tênis pirata original"}, "error_title_character_forbidden", None),
        ({"image": {"image_id_list": ["never-uploaded"]}}, "error_param", "Image not exist."),
        ({"gtin_code": "7891234567890"}, "error_param_validate", None),
        ({"original_price": 0.99}, "error_price_exceed_min_limitt", None),
        ({"original_price": 10.999}, "error_invalid_price", None),
        ({"weight": 0}, "error_param", "Invalid Weight."),
        ({"brand": None}, "error_invalid_brand", "Brand information required"),
    ],
)
def test_add_item_refusals(
    shopee: ShopeeClient, change: dict[str, Any], error: str, message: str | None
) -> None:
    if change.get("category_id") == "parent":
        categories = shopee.ok("/api/v2/product/get_category", language="en")["category_list"]
        change = {"category_id": next(c for c in categories if c["has_children"])["category_id"]}
    payload = _post(shopee, "/api/v2/product/add_item", _item(shopee, **change))
    assert payload["error"] == error, payload
    assert "response" not in payload
    if message is not None:
        assert payload["message"] == message


def test_upload_refuses_what_is_not_an_image(shopee: ShopeeClient) -> None:
    payload = _upload(shopee, b"GIF89a-but-not-really")
    assert payload["error"] == "error_param"
    assert payload["message"].startswith("Invalid image format")


def test_writes_are_signed_like_every_shop_call(shopee: ShopeeClient) -> None:
    body = _item(shopee)
    response = shopee.call("POST", "/api/v2/product/add_item", body, access_token="wrong-token")
    assert response.json()["error"] in ("error_sign", "invalid_access_token")


def test_unlist_refuses_banned_items(shopee: ShopeeClient, running: RunningSandbox) -> None:
    sim = running.sandbox.simulators["shopee"]
    shop = sim.shops[shopee.shop_id]
    banned = next(i for i, lst in shop.items.items() if sim.catalog.item_status(lst) == "BANNED")
    payload = _post(
        shopee, "/api/v2/product/unlist_item", {"item_list": [{"item_id": banned, "unlist": True}]}
    )
    assert payload["error"] == "error_unlist_item_all_failed"


def _ready(shopee: ShopeeClient, running: RunningSandbox, status: str) -> list[str]:
    sim = running.sandbox.simulators["shopee"]
    index = sim._order_index(sim.shops[shopee.shop_id])
    now = int(sim.clock.time())
    picked = []
    for order in _orders(shopee):
        step = index.step_at(order.order_number, now)
        if (
            step >= 0
            and order.timeline[step][0] == status
            and channel_of(order) == SELLER_CHANNEL
            and len(order.lines) == 1
        ):
            picked.append(index.sn(order))
    return picked


def test_ship_order_once_and_never_on_a_cancelled_order(
    shopee: ShopeeClient, running: RunningSandbox
) -> None:
    first, second = _ready(shopee, running, "paid")[:2]
    needed = shopee.ok("/api/v2/logistics/get_shipping_parameter", order_sn=first)
    assert needed["info_needed"] == {"non_integrated": ["tracking_no"]}
    missing = _post(
        shopee, "/api/v2/logistics/ship_order", {"order_sn": first, "non_integrated": {}}
    )
    assert missing["error"] == "logistics.error_traceno_required"
    body = {"order_sn": first, "non_integrated": {"tracking_number": "BRC0NTRACT1"}}
    assert _post(shopee, "/api/v2/logistics/ship_order", body)["error"] == ""
    again = _post(shopee, "/api/v2/logistics/ship_order", body)
    assert (again["error"], again["message"]) == (
        "logistics.error_param",
        "Order has been shipped.",
    )
    reused = _post(
        shopee,
        "/api/v2/logistics/ship_order",
        {"order_sn": second, "non_integrated": {"tracking_number": "BRC0NTRACT1"}},
    )
    assert "tracking number has been used" in reused["message"]
    tracked = shopee.ok("/api/v2/logistics/get_tracking_number", order_sn=first)
    assert tracked["tracking_number"] == "BRC0NTRACT1"
    cancelled = _ready(shopee, running, "cancelled")[0]
    refused = _post(
        shopee,
        "/api/v2/logistics/ship_order",
        {"order_sn": cancelled, "non_integrated": {"tracking_number": "BRC0NTRACT2"}},
    )
    assert refused["error"] == "logistics.error_order_state"


def _key(number: int, check_ok: bool = True) -> str:
    body = f"352603{'12345678000195'}55001{number:09d}1{number:08d}"
    weights = [2 + i % 8 for i in range(43)]
    total = sum(int(d) * w for d, w in zip(reversed(body), weights, strict=True))
    digit = 11 - total % 11
    digit = 0 if digit >= 10 else digit
    return body + str(digit if check_ok else (digit + 1) % 10)


def test_add_invoice_data_checks_the_nfe_and_refuses_twice(
    shopee: ShopeeClient, running: RunningSandbox
) -> None:
    first, second = _ready(shopee, running, "paid")[:2]  # READY_TO_SHIP or PROCESSED
    data = {
        "number": "000000501",
        "series_number": "001",
        "access_key": _key(501),
        "issue_date": shopee.now() - 600,
        "total_value": 99.9,
        "products_total_value": 99.9,
        "tax_code": "5102",
    }

    def send(sn: str, **changes: Any) -> dict[str, Any]:
        return _post(
            shopee,
            "/api/v2/order/add_invoice_data",
            {"order_sn": sn, "invoice_data": data | changes},
        )

    assert send(first, access_key=_key(501, check_ok=False))["message"] == "Invalid access key.."
    assert send(first, access_key="123")["message"] == "access_key must be 44 characters in length."
    assert send(first, number="000000502")["message"] == "Invalid NF-e."
    assert send(first, tax_code="1234")["message"] == "CFOP invalid, please confirm it"
    assert send(first, issue_date=shopee.now() + 3600)["message"].startswith("Invalid issue date")
    assert send(first)["error"] == ""
    assert send(first)["message"] == "The invoice status is invalid to upload invoice data."
    duplicated = send(second)
    assert (
        duplicated["message"] == "Access Key duplicated, please do not use duplicated Access Key."
    )
    [detail] = shopee.ok(
        "/api/v2/order/get_order_detail",
        order_sn_list=first,
        response_optional_fields="invoice_data",
    )["order_list"]
    assert detail["invoice_data"]["access_key"] == data["access_key"]
