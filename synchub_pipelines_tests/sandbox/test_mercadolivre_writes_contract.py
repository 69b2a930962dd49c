"""Contract tests of the Mercado Livre simulator's write endpoints, over real HTTP on loopback.

Written from API-NOTES-WRITES §1 (the create body, the separate description and its
"use PUT instead" refusal, the missing_required cause, closed is final, ME1 seller
notifications) and the sandbox's documented choices in /work/notes/publishing-mercadolivre.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines_tests.sandbox.test_mercadolivre_contract import (
    ANCHOR,
    SEED,
    assert_error,
    bearer,
    login,
)

LEAF, PARENT = "MLB264811", "MLB1574"


@pytest.fixture
def running() -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox(SandboxConfig(seed=SEED, size="tiny", anchor=ANCHOR))) as served:
        yield served


@pytest.fixture
def client(running: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.base_url("mercadolivre"), timeout=10) as c:
        yield c


@pytest.fixture
def sellers(running: RunningSandbox) -> list[int]:
    return [int(s.seller_id) for s in running.sandbox.world.sellers_of("mercadolivre")]


@pytest.fixture
def h(client: httpx.Client, sellers: list[int]) -> dict[str, str]:
    return bearer(login(client, sellers[0]))


def item_body(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "site_id": "MLB",
        "title": "Garrafa Térmica Inox 500ml",
        "category_id": LEAF,
        "price": 79.9,
        "currency_id": "BRL",
        "available_quantity": 4,
        "buying_mode": "buy_it_now",
        "listing_type_id": "gold_pro",
        "condition": "new",
        "pictures": [{"source": "https://cdn.example.com/g.jpg"}],
        "attributes": [
            {"id": "BRAND", "value_name": "Stanley"},
            {"id": "SELLER_SKU", "value_name": "GAR-C-1"},
            {"id": "GTIN", "value_name": "7891000315507"},
        ],
    }
    body.update(change)
    return body


def test_category_tells_where_listing_is_allowed(client: httpx.Client) -> None:
    parent = client.get(f"/categories/{PARENT}").json()
    assert parent["settings"]["listing_allowed"] is False and parent["children_categories"]
    leaf = client.get(f"/categories/{LEAF}").json()
    assert leaf["settings"]["listing_allowed"] is True
    assert (leaf["settings"]["max_title_length"], leaf["settings"]["minimum_price"]) == (60, 8)
    required = [a["id"] for a in client.get(f"/categories/{LEAF}/attributes").json()
                if a["tags"].get("required")]  # fmt: skip
    assert required == ["BRAND"]


def test_create_answers_201_and_the_item_reads_back(
    client: httpx.Client, running: RunningSandbox, h: dict[str, str], sellers: list[int]
) -> None:
    created = client.post("/items", headers=h, json=item_body())
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["id"].startswith("MLB") and item["status"] == "active"
    assert (item["listing_type_id"], item["price"], item["available_quantity"]) == (
        "gold_pro",
        79.9,
        4,
    )
    assert client.get(f"/items/{item['id']}", headers=h).json()["title"] == item["title"]
    found = client.get(
        f"/users/{sellers[0]}/items/search", headers=h, params={"seller_sku": "GAR-C-1"}
    ).json()
    assert found["results"] == [item["id"]]
    # gold_pro items pay the premium fee: the number says so (fees read it off the number).
    assert int(item["id"][3:]) % 3 == 0
    calls = client.get("/_sandbox/write_calls").json()
    assert calls == {"total": 1, "by_operation": {"items.create": 1}}


def test_refusals_use_the_validation_envelope_with_every_cause(
    client: httpx.Client, running: RunningSandbox, h: dict[str, str]
) -> None:
    bad = item_body(
        title="Réplica " + "x" * 70,
        price=3,
        pictures=[{"source": "file:///tmp/a.jpg"}],
        attributes=[{"id": "GTIN", "value_name": "7891000315508"}],
    )
    body = assert_error(client.post("/items", headers=h, json=bad), 400, "validation_error")
    assert body["message"] == "Validation error"
    codes = {c["code"] for c in body["cause"]}
    assert codes == {
        "item.title.length.invalid",
        "item.title.forbidden_words",
        "item.price.invalid",
        "item.pictures.invalid",
        "item.attribute.gtin.invalid",
        "item.attributes.missing_required",
    }
    for cause in body["cause"]:
        assert set(cause) == {"department", "cause_id", "type", "code", "references", "message"}
        assert cause["type"] == "error"
    missing = next(c for c in body["cause"] if c["code"] == "item.attributes.missing_required")
    assert missing["message"].startswith(f"The attributes [BRAND] are required for category {LEAF}")
    parent = assert_error(client.post("/items", headers=h, json=item_body(category_id=PARENT)), 400)
    assert parent["cause"][0]["code"] == "item.category_id.invalid"
    world = running.sandbox.world
    assert not [lst for lst in world.listings if lst.title.startswith("Réplica")]


def test_auth_ownership_and_429(
    client: httpx.Client, running: RunningSandbox, h: dict[str, str], sellers: list[int]
) -> None:
    assert_error(client.post("/items", json=item_body()), 401, "unauthorized")
    item = client.post("/items", headers=h, json=item_body()).json()
    other = bearer(login(client, sellers[1]))
    assert_error(client.put(f"/items/{item['id']}", headers=other, json={"price": 90}), 403)
    faults = httpx.post(f"{running.url}/_sandbox/faults", json={"rate_429": 1.0})
    assert faults.status_code == 200, faults.text
    throttled = client.post("/items", headers=h, json=item_body())
    assert_error(throttled, 429, "too_many_requests")
    assert throttled.headers["retry-after"]


def test_description_post_once_then_put(client: httpx.Client, h: dict[str, str]) -> None:
    item = client.post("/items", headers=h, json=item_body()).json()
    path = f"/items/{item['id']}/description"
    assert client.post(path, headers=h, json={"plain_text": "Um"}).status_code == 201
    again = assert_error(client.post(path, headers=h, json={"plain_text": "Dois"}), 400)
    assert again["message"] == "Item already has a description, use PUT instead"
    assert client.put(path, headers=h, json={"plain_text": "Dois"}).status_code == 200
    assert client.get(path, headers=h).json()["plain_text"] == "Dois"


def test_status_transitions_and_a_refused_put_changes_nothing(
    client: httpx.Client, h: dict[str, str]
) -> None:
    item = client.post("/items", headers=h, json=item_body()).json()
    path = f"/items/{item['id']}"
    refused = client.put(path, headers=h, json={"title": "Novo título", "price": 2})
    assert assert_error(refused, 400)["cause"][0]["code"] == "item.price.invalid"
    assert client.get(path, headers=h).json()["title"] == item["title"]
    assert client.put(path, headers=h, json={"status": "paused"}).json()["status"] == "paused"
    assert client.put(path, headers=h, json={"status": "active"}).json()["status"] == "active"
    assert client.put(path, headers=h, json={"status": "closed"}).json()["status"] == "closed"
    reopen = assert_error(client.put(path, headers=h, json={"status": "active"}), 400)
    assert reopen["cause"][0]["code"] == "item.closed.not_modifiable"
    assert client.get(path, headers=h).json()["status"] == "closed"


def test_variations_share_one_price(client: httpx.Client, h: dict[str, str]) -> None:
    def variation(color: str, price: float) -> dict[str, Any]:
        return {
            "attribute_combinations": [{"id": "COLOR", "value_name": color}],
            "price": price,
            "available_quantity": 2,
            "attributes": [{"id": "SELLER_SKU", "value_name": f"GAR-{color}"}],
        }

    body = item_body(variations=[variation("Azul", 79.9), variation("Preto", 89.9)])
    del body["price"], body["available_quantity"]
    refused = assert_error(client.post("/items", headers=h, json=body), 400)
    assert refused["cause"][0]["code"] == "item.variations.price.invalid"
    body["variations"][1]["price"] = 79.9
    item = client.post("/items", headers=h, json=body).json()
    ids = [v["id"] for v in item["variations"]]
    one = {"variations": [{"id": ids[0], "price": 85}]}
    assert assert_error(client.put(f"/items/{item['id']}", headers=h, json=one), 400)
    both = {"variations": [{"id": i, "price": 85} for i in ids]}
    assert client.put(f"/items/{item['id']}", headers=h, json=both).json()["price"] == 85


def test_seller_notifications_only_for_me1(
    client: httpx.Client, running: RunningSandbox, h: dict[str, str]
) -> None:
    services = client.get("/sites/MLB/shipping_services").json()
    assert {(s["id"], s["name"]) for s in services} >= {(1, "PAC"), (2, "Sedex")}
    item = client.post("/items", headers=h, json=item_body(shipping={"mode": "me1"})).json()
    sale = client.post("/_sandbox/sales", json={"item_id": item["id"], "quantity": 1}).json()
    shipment = sale["shipping"]["id"]
    notify = {
        "payload": {"service_id": 2, "comment": "despachado"},
        "tracking_number": "OP1BR",
        "status": "shipped",
        "substatus": None,
    }
    path = f"/shipments/{shipment}/seller_notifications"
    done = client.post(path, headers=h, json=notify)
    assert done.status_code == 200 and done.json() == {"status": "OK"}
    legacy = client.get(f"/shipments/{shipment}", headers=h).json()
    assert (legacy["mode"], legacy["status"], legacy["tracking_number"]) == (
        "me1",
        "shipped",
        "OP1BR",
    )
    assert legacy["tracking_method"] == "Sedex"
    again = assert_error(client.post(path, headers=h, json=notify), 400)
    assert again["cause"][0]["code"] == "shipment.status.invalid"
    delivered = client.post(path, headers=h, json={**notify, "status": "delivered"})
    assert delivered.status_code == 200
    assert client.get(f"/shipments/{shipment}", headers=h).json()["status"] == "delivered"
