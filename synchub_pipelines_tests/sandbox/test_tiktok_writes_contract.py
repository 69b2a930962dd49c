"""Contract tests for the TikTok simulator's write endpoints (publishing and fulfilment),
over real HTTP on loopback, with requests signed from the documented algorithm (the
`sign` of the read contract tests), never with the client's code."""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.sandbox.tiktok import APP_KEY, APP_SECRET
from synchub_pipelines.sandbox.tiktok_render import (
    SELLER_DELIVERY_OPTION,
    TIKTOK_DELIVERY_OPTION,
    order_id,
    order_money,
    package_id,
    product_id,
    sku_id,
)
from synchub_pipelines_tests.sandbox.test_tiktok_contract import Client, _start, sign

PRODUCTS = "/product/202309/products"
SEARCH = "/product/202309/products/search"
UPLOAD = "/product/202309/images/upload"


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    rows = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _gtin13(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _nfe_key(body43: str) -> str:
    weights = [2 + i % 8 for i in range(43)]
    total = sum(int(d) * w for d, w in zip(reversed(body43), weights, strict=True))
    rest = total % 11
    return body43 + str(0 if rest < 2 else 11 - rest)


def _nfe_xml(key: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<nfeProc xmlns="http://www.portalfiscal.inf.br/nfe" versao="4.00">'
        f'<NFe><infNFe Id="NFe{key}" versao="4.00"><ide><mod>55</mod></ide></infNFe></NFe>'
        f"<protNFe><infProt><chNFe>{key}</chNFe></infProt></protNFe></nfeProc>"
    )


class WriteClient(Client):
    """The read contract's client, plus PUT bodies and multipart uploads."""

    def send(
        self, method: str, path: str, body: Any = None, *, cipher: bool = True
    ) -> httpx.Response:
        params = {"app_key": APP_KEY, "timestamp": str(int(time.time()))}
        if cipher:
            params["shop_cipher"] = self.cipher
        raw = json.dumps(body, separators=(",", ":")).encode() if method != "GET" else b""
        params["sign"] = sign(APP_SECRET, path, params, raw)
        headers = {"x-tts-access-token": self.access_token, "content-type": "application/json"}
        return self.http.request(method, path, params=params, content=raw or None, headers=headers)

    def upload(
        self, data: bytes, use_case: str = "MAIN_IMAGE", cipher: bool = False
    ) -> httpx.Response:
        params = {"app_key": APP_KEY, "timestamp": str(int(time.time()))}
        if cipher:
            params["shop_cipher"] = self.cipher
        params["sign"] = sign(APP_SECRET, UPLOAD, params)  # multipart: the body is not signed
        return self.http.post(
            UPLOAD,
            params=params,
            files={"data": ("p.png", data, "image/png")},
            data={"use_case": use_case},
            headers={"x-tts-access-token": self.access_token},
        )


def _ok(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200 and body["code"] == 0, body
    data: dict[str, Any] = body["data"]
    return data


def _refused(response: httpx.Response, code: int) -> str:
    body = response.json()
    assert (response.status_code, body["code"]) == (400, code), body
    assert body["request_id"]
    message: str = body["message"]
    return message


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = _start(rate=10_000)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def client(running: RunningSandbox) -> WriteClient:
    c = WriteClient(running)
    assert c.authorize()["code"] == 0
    c.cipher = c.ok("GET", "/authorization/202309/shops", cipher=False)["shops"][0]["cipher"]
    return c


def _sim(running: RunningSandbox) -> Any:
    return running.sandbox.simulators["tiktok"]


@pytest.fixture(scope="module")
def image(client: WriteClient) -> str:
    uri: str = _ok(client.upload(_png(800, 800)))["uri"]
    return uri


def _body(sim: Any, client: WriteClient, uri: str, sku: str, **changes: Any) -> dict[str, Any]:
    """A valid create body for a Moda leaf (Material required)."""
    leaf = sim.catalog.leaf_by_path["Moda > Camisetas"]
    material = next(a for a in sim.catalog.attributes(leaf) if a["id"] == "100157")
    warehouse = _ok(client.send("GET", "/logistics/202309/warehouses"))["warehouses"][0]["id"]
    body: dict[str, Any] = {
        "title": "Camiseta Teste Algodão Premium",
        "description": "<p>Camiseta de teste.</p>",
        "category_id": leaf.id,
        "main_images": [{"uri": uri}],
        "product_attributes": [{"id": "100157", "values": [{"id": material["values"][0]["id"]}]}],
        "package_weight": {"value": "0.3", "unit": "KILOGRAM"},
        "package_dimensions": {"length": "30", "width": "20", "height": "5", "unit": "CENTIMETER"},
        "skus": [
            {
                "seller_sku": sku,
                "price": {"amount": "59.90", "currency": "BRL"},
                "inventory": [{"warehouse_id": warehouse, "quantity": 10}],
                "identifier_code": {"code": _gtin13("789100000001"), "type": "EAN"},
            }
        ],
    }
    body.update(changes)
    return body


def _search(client: WriteClient, sku: str) -> list[dict[str, Any]]:
    params = {"page_size": "20"}
    response = client.call("POST", SEARCH, query=params, body={"seller_skus": [sku]})
    products: list[dict[str, Any]] = _ok(response)["products"]
    return products


# --- pictures ----------------------------------------------------------------------------


def test_image_upload_answers_an_uri_and_refuses_what_tiktok_refuses(
    running: RunningSandbox, client: WriteClient
) -> None:
    sim = _sim(running)
    before = sim.write_calls["images.upload"]
    data = _ok(client.upload(_png(800, 600)))
    assert data["uri"].startswith("tos-") and (data["width"], data["height"]) == (800, 600)
    assert "12038014" not in json.dumps(data)
    assert _refused(client.upload(_png(200, 200)), 12038014).endswith("300 x 300 to 4000 x 4000")
    _ok(client.upload(_png(200, 200), use_case="ATTRIBUTE_IMAGE"))  # 100 px is enough there
    _refused(client.upload(b"GIF89a not a supported image"), 12038015)
    _refused(client.upload(_png(800, 800), use_case="BANNER"), 11050001)
    # Uploads take no shop_cipher (API-NOTES).
    assert client.upload(_png(800, 800), cipher=True).json()["code"] == 36009004
    assert sim.write_calls["images.upload"] - before == 5
    # The sandbox's own picture host serves real PNGs of the size named.
    picture = client.http.get("/_sandbox/pictures/front-640x480.png")
    assert picture.status_code == 200 and picture.content[16:24] == struct.pack(">II", 640, 480)
    assert client.http.get("/_sandbox/pictures/missing-640x480.png").status_code == 404


# --- products ----------------------------------------------------------------------------


def test_created_product_is_searchable_with_its_price_and_stock(
    running: RunningSandbox, client: WriteClient, image: str
) -> None:
    sim = _sim(running)
    data = _ok(client.send("POST", PRODUCTS, _body(sim, client, image, "TT-NEW-1")))
    [sku] = data["skus"]
    assert sku["seller_sku"] == "TT-NEW-1" and data["warnings"] == []
    [found] = _search(client, "TT-NEW-1")
    assert found["id"] == data["product_id"] and found["status"] == "ACTIVATE"
    assert found["skus"][0]["price"]["sale_price"] == "59.9"
    assert found["skus"][0]["inventory"][0]["quantity"] == 10
    detail = _ok(client.send("GET", f"{PRODUCTS}/{data['product_id']}"))
    assert detail["main_images"][0]["uri"] == image
    assert detail["skus"][0]["identifier_code"]["code"] == _gtin13("789100000001")
    assert detail["product_attributes"][0]["id"] == "100157"


def test_an_unknown_brand_is_cleared_with_a_warning(
    running: RunningSandbox, client: WriteClient, image: str
) -> None:
    body = _body(_sim(running), client, image, "TT-BRAND-1", brand_id="123")
    data = _ok(client.send("POST", PRODUCTS, body))
    assert "[brand_id]:123" in data["warnings"][0]["message"]


def _with_sku(sim: Any, client: WriteClient, image: str, **sku_changes: Any) -> dict[str, Any]:
    body = _body(sim, client, image, "TT-BAD")
    body["skus"][0].update(sku_changes)
    return body


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("non_leaf", 12052024),
        ("unknown_category", 12052023),
        ("missing_required_attribute", 12052104),
        ("title_too_long", 12052051),
        ("title_empty", 12052261),
        ("title_emoji", 12052931),
        ("forbidden_word", 12052151),
        ("image_not_uploaded", 12052300),
        ("no_image", 12052028),
        ("no_weight", 12019011),
        ("no_dimensions", 12019012),
        ("bad_check_digit", 12052591),
        ("price_below_floor", 12052073),
        ("wrong_currency", 12052084),
        ("zero_quantity", 12052055),
        ("foreign_warehouse", 12052097),
        ("closed_attribute_custom_value", 12052240),
    ],
)
def test_create_refusals(
    running: RunningSandbox, client: WriteClient, image: str, case: str, code: int
) -> None:
    sim = _sim(running)
    body = _body(sim, client, image, "TT-BAD")
    sku = body["skus"][0]
    if case == "non_leaf":
        body["category_id"] = sim.catalog.leaf_by_path["Moda > Camisetas"].parent_id
    elif case == "unknown_category":
        body["category_id"] = "999999"
    elif case == "missing_required_attribute":
        body["product_attributes"] = []
    elif case == "title_too_long":
        body["title"] = "Camiseta " * 40
    elif case == "title_empty":
        body["title"] = "  "
    elif case == "title_emoji":
        body["title"] = "Camiseta linda 😀"
    elif case == "forbidden_word":
        body["title"] = "Camiseta Réplica Time Oficial"
    elif case == "image_not_uploaded":
        body["main_images"] = [{"uri": "tos-maliva-i-someone-else/abc"}]
    elif case == "no_image":
        body["main_images"] = []
    elif case == "no_weight":
        del body["package_weight"]
    elif case == "no_dimensions":
        del body["package_dimensions"]
    elif case == "bad_check_digit":
        good = _gtin13("789100000001")
        sku["identifier_code"] = {"code": good[:-1] + str((int(good[-1]) + 1) % 10), "type": "EAN"}
    elif case == "price_below_floor":
        sku["price"] = {"amount": "0.49", "currency": "BRL"}
    elif case == "wrong_currency":
        sku["price"] = {"amount": "59.90", "currency": "USD"}
    elif case == "zero_quantity":
        sku["inventory"][0]["quantity"] = 0
    elif case == "foreign_warehouse":
        sku["inventory"][0]["warehouse_id"] = "1"
    elif case == "closed_attribute_custom_value":
        body["product_attributes"] = [{"id": "100157", "values": [{"name": "Seda"}]}]
    before = sum(sim.write_calls.values())
    _refused(client.send("POST", PRODUCTS, body), code)
    assert sum(sim.write_calls.values()) == before + 1  # refused calls count too
    assert _search(client, "TT-BAD") == []


def test_conditional_attribute_is_required_when_its_parent_value_is_chosen(
    running: RunningSandbox, client: WriteClient, image: str
) -> None:
    sim = _sim(running)
    leaf = sim.catalog.leaf_by_path["Casa > Cozinha"]
    attrs = {a["id"]: a for a in sim.catalog.attributes(leaf)}
    bivolt = next(v["id"] for v in attrs["100398"]["values"] if v["name"] == "Bivolt")
    body = _body(sim, client, image, "TT-PAN-1", category_id=leaf.id)
    body["product_attributes"] = [{"id": "100398", "values": [{"id": bivolt}]}]
    message = _refused(client.send("POST", PRODUCTS, body), 12052182)
    assert "Potência" in message and "Bivolt" in message
    body["product_attributes"].append({"id": "100401", "values": [{"name": "1200"}]})
    _ok(client.send("POST", PRODUCTS, body))


def test_variations_need_the_same_sales_attributes(
    running: RunningSandbox, client: WriteClient, image: str
) -> None:
    sim = _sim(running)
    body = _body(sim, client, image, "TT-VAR-P")
    first = body["skus"][0]
    second = {**first, "seller_sku": "TT-VAR-M", "identifier_code": None}
    del second["identifier_code"]
    body["skus"] = [first, second]
    _refused(client.send("POST", PRODUCTS, body), 12052550)
    first["sales_attributes"] = [{"id": "100007", "value_name": "P"}]
    second["sales_attributes"] = [{"id": "100007", "value_name": "P"}]
    _refused(client.send("POST", PRODUCTS, body), 12052560)
    second["sales_attributes"] = [{"id": "100007", "value_name": "M"}]
    data = _ok(client.send("POST", PRODUCTS, body))
    assert [s["seller_sku"] for s in data["skus"]] == ["TT-VAR-P", "TT-VAR-M"]


def test_edit_replaces_the_product_and_deletes_skus_left_out(
    running: RunningSandbox, client: WriteClient, image: str
) -> None:
    sim = _sim(running)
    body = _body(sim, client, image, "TT-EDIT-P")
    second = {**body["skus"][0], "seller_sku": "TT-EDIT-M"}
    del second["identifier_code"]
    body["skus"][0]["sales_attributes"] = [{"id": "100007", "value_name": "P"}]
    second["sales_attributes"] = [{"id": "100007", "value_name": "M"}]
    body["skus"].append(second)
    created = _ok(client.send("POST", PRODUCTS, body))
    kept = created["skus"][0]["id"]
    edit = _body(sim, client, image, "TT-EDIT-P", title="Camiseta Editada Algodão")
    edit["skus"][0]["id"] = kept
    edit["skus"][0]["sales_attributes"] = [{"id": "100007", "value_name": "P"}]
    path = f"{PRODUCTS}/{created['product_id']}"
    _ok(client.send("PUT", path, edit))
    [found] = _search(client, "TT-EDIT-P")
    assert found["title"] == "Camiseta Editada Algodão"
    assert [s["id"] for s in found["skus"]] == [kept]  # TT-EDIT-M was left out: deleted
    edit["skus"][0]["id"] = sku_id(1)
    _refused(client.send("PUT", path, edit), 12052557)
    _refused(client.send("PUT", f"{PRODUCTS}/{product_id(1)}", edit), 12052260)


def test_deactivate_activate_and_price(
    running: RunningSandbox, client: WriteClient, image: str
) -> None:
    sim = _sim(running)
    created = _ok(client.send("POST", PRODUCTS, _body(sim, client, image, "TT-STATE-1")))
    pid, sid = created["product_id"], created["skus"][0]["id"]
    price_path = f"{PRODUCTS}/{pid}/prices/update"

    def price(amount: str) -> httpx.Response:
        body = {"skus": [{"id": sid, "price": {"amount": amount, "currency": "BRL"}}]}
        return client.send("POST", price_path, body)

    _ok(price("64.90"))
    assert _search(client, "TT-STATE-1")[0]["skus"][0]["price"]["sale_price"] == "64.9"
    _refused(price("0.10"), 12052073)
    _refused(price("1.234"), 12052012)

    _ok(client.send("POST", f"{PRODUCTS}/deactivate", {"product_ids": [pid]}))
    assert _search(client, "TT-STATE-1")[0]["status"] == "SELLER_DEACTIVATED"
    _refused(price("70.00"), 12019113)  # only an active product takes a price
    again = _ok(client.send("POST", f"{PRODUCTS}/deactivate", {"product_ids": [pid]}))
    assert again["errors"][0]["detail"]["extra_errors"][0]["code"] == 12052901
    foreign = _ok(client.send("POST", f"{PRODUCTS}/activate", {"product_ids": [pid, "42"]}))
    assert [(e["code"], e["detail"]["product_id"]) for e in foreign["errors"]] == [(12052990, "42")]
    assert foreign["errors"][0]["detail"]["extra_errors"][0]["code"] == 12052048
    assert _search(client, "TT-STATE-1")[0]["status"] == "ACTIVATE"
    too_many = {"product_ids": [str(n) for n in range(21)]}
    _refused(client.send("POST", f"{PRODUCTS}/deactivate", too_many), 12019120)


# --- fulfilment ----------------------------------------------------------------------------


def _sale(sim: Any, seller_shipped: bool) -> Any:
    """A fresh paid order whose shipping is the seller's own (or TikTok's label)."""
    shop = sim.shops[0]
    listing = next(
        lst
        for lst in sim.data[shop.id].listings.values()
        if lst.listing_number not in sim.published and lst.variations[0].available_quantity > 5
    )
    variation = listing.variations[0]
    for _ in range(60):
        order = sim.record_sale(
            product_id(listing.listing_number), sku_id(variation.variation_number)
        )
        money = order_money(order)
        if not money.by_tiktok and money.by_seller == seller_shipped:
            return order
        variation.available_quantity += 1
    raise AssertionError("no such sale in 60 tries")


def _order(client: WriteClient, order: Any) -> dict[str, Any]:
    ids = {"ids": order_id(order.order_number)}
    data = _ok(client.call("GET", "/order/202309/orders", query=ids))
    found: dict[str, Any] = data["orders"][0]
    return found


def _ship(client: WriteClient, order: Any, tracking: str, provider: str) -> httpx.Response:
    body = {"self_shipment": {"tracking_number": tracking, "shipping_provider_id": provider}}
    return client.send(
        "POST", f"/fulfillment/202309/packages/{package_id(order.order_number)}/ship", body
    )


def _invoice(client: WriteClient, order: Any, xml: str) -> dict[str, Any]:
    body = {
        "invoices": [
            {
                "package_id": package_id(order.order_number),
                "order_ids": [order_id(order.order_number)],
                "file_type": "XML",
                "file": base64.b64encode(xml.encode()).decode(),
            }
        ]
    }
    return _ok(client.send("POST", "/fulfillment/202502/invoice/upload", body))


def test_seller_shipped_package_takes_invoice_then_tracking(
    running: RunningSandbox, client: WriteClient
) -> None:
    sim = _sim(running)
    order = _sale(sim, seller_shipped=True)
    detail = _order(client, order)
    assert (detail["shipping_type"], detail["delivery_option_id"]) == (
        "SELLER",
        SELLER_DELIVERY_OPTION[0],
    )
    providers = _ok(
        client.send(
            "GET",
            f"/logistics/202309/delivery_options/{SELLER_DELIVERY_OPTION[0]}/shipping_providers",
        )
    )["shipping_providers"]
    correios = next(p["id"] for p in providers if p["name"] == "Correios")
    _refused(
        client.send(
            "GET",
            f"/logistics/202309/delivery_options/{TIKTOK_DELIVERY_OPTION[0]}/shipping_providers",
        ),
        21008117,
    )

    _refused(_ship(client, order, "BR123456789XX", correios), 21004006)  # no invoice yet
    key = _nfe_key("3525060000000000000155001000001234" + "100000001")
    bad_key = key[:-1] + str((int(key[-1]) + 1) % 10)
    [error] = _invoice(client, order, _nfe_xml(bad_key))["errors"]
    assert error["code"] == 21001001 and "check digit" in error["message"]
    assert _invoice(client, order, _nfe_xml(key)) == {}
    [again] = _invoice(client, order, _nfe_xml(key))["errors"]
    assert again["code"] == 10007014
    assert sim.invoices[order.order_number] == key

    _refused(_ship(client, order, "BR123456789XX", "999"), 21011022)
    _refused(_ship(client, order, "x", correios), 11028006)
    before = sim.write_calls["packages.ship"]
    _ok(_ship(client, order, "BR123456789XX", correios))
    assert sim.write_calls["packages.ship"] == before + 1
    shipped = _order(client, order)
    assert shipped["status"] == "IN_TRANSIT"
    assert (shipped["tracking_number"], shipped["shipping_provider"]) == (
        "BR123456789XX",
        "Correios",
    )
    assert {li["tracking_number"] for li in shipped["line_items"]} == {"BR123456789XX"}
    _refused(_ship(client, order, "BR123456789YY", correios), 21011040)


def test_ship_refusals_for_tiktok_shipped_cancelled_and_unknown_packages(
    running: RunningSandbox, client: WriteClient
) -> None:
    sim = _sim(running)
    labelled = _sale(sim, seller_shipped=False)
    key = _nfe_key("3525060000000000000155001000001235" + "100000002")
    assert _invoice(client, labelled, _nfe_xml(key)) == {}
    _refused(_ship(client, labelled, "BR000000001XX", "7208502187360372482"), 21011030)
    cancelled = _sale(sim, seller_shipped=True)
    sim.world.advance_order(cancelled, "cancelled", sim.clock.now())
    _refused(_ship(client, cancelled, "BR000000002XX", "7208502187360372482"), 21011041)
    [error] = _invoice(client, cancelled, _nfe_xml(key))["errors"]
    assert error["code"] == 21011041
    response = client.send("POST", "/fulfillment/202309/packages/1/ship", {})
    _refused(response, 21011028)
