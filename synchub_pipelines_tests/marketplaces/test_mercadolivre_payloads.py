"""Mercado Livre parsers against the real payload samples in shared/reference/payloads.

Expected values are read off the saved payloads by hand, never through the parser itself.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from synchub_pipelines.marketplaces.mercadolivre import (
    ML_ORDER,
    normalize_status,
    order_from_ml,
    parse_items,
    parse_orders,
)
from synchub_pipelines.models import Listing, ListingStatus, OrderStatus, Store
from synchub_pipelines_tests.conftest import PAYLOADS

ML = PAYLOADS / "mercadolivre"
SALT = "test-salt"
STORE = Store.of("mercadolivre", "478055419", "Loja teste", timezone="America/Sao_Paulo")


def load(name: str) -> Any:
    return json.loads((ML / name).read_text(encoding="utf-8"))


@pytest.fixture
def order_doc() -> dict[str, Any]:
    return dict(load("order_GET_orders_id_doc_example.json"))


def test_order_doc_example_maps_to_the_canonical_order(order_doc: dict[str, Any]) -> None:
    order = order_from_ml(ML_ORDER.validate_python(order_doc), STORE, SALT)

    assert order.store_id == "mercadolivre-478055419"
    assert order.order_id == "2000003508897196"
    # 17:01:30 at -04:00 is 21:01:30 UTC; in São Paulo (-03:00) that is still 2022-04-08.
    assert order.created_at == datetime(2022, 4, 8, 21, 1, 30, tzinfo=UTC)
    assert order.created_at.utcoffset() is not None
    assert order.updated_at == datetime(2022, 4, 8, 21, 3, 32, tzinfo=UTC)
    assert order.business_date == date(2022, 4, 8)
    assert order.status is OrderStatus.PAID
    assert order.raw_status == "paid"
    assert order.currency == "BRL"

    assert len(order.items) == 1
    (item,) = order.items
    assert item.line_no == 1
    assert item.listing_id == "MLB2608564035"
    assert item.variation_id == "174390848694"
    assert item.title == "Camiseta Basica"
    assert item.seller_sku is None
    assert item.quantity == 1
    assert item.unit_price == Decimal(50)
    assert item.fee == Decimal(12)

    assert order.items_amount == Decimal(50)
    assert order.shipping_paid_by_buyer == Decimal(0)  # the approved payment's shipping_cost
    assert order.fee_amount == Decimal(12)
    assert order.total_amount == Decimal(50)

    # LGPD: a pseudonymous buyer key, stable for the salt, never the buyer id itself.
    assert order.buyer_hash is not None
    assert "266272126" not in order.buyer_hash
    again = order_from_ml(ML_ORDER.validate_python(order_doc), STORE, SALT)
    assert order.buyer_hash == again.buyer_hash
    other_salt = order_from_ml(ML_ORDER.validate_python(order_doc), STORE, "another-salt")
    assert other_salt.buyer_hash != order.buyer_hash
    dumped = order.model_dump_json()
    for personal in ("266272126", "TETE8127263"):
        assert personal not in dumped


def test_fee_is_per_unit_times_quantity(order_doc: dict[str, Any]) -> None:
    order_doc["order_items"][0]["quantity"] = 3
    order = order_from_ml(ML_ORDER.validate_python(order_doc), STORE, SALT)
    assert order.items[0].fee == Decimal(36)
    assert order.items_amount == Decimal(150)


def test_business_date_is_the_store_local_day(order_doc: dict[str, Any]) -> None:
    # 23:30 in São Paulo is 02:30 UTC the next day: the order belongs to the local day.
    order_doc["date_created"] = "2026-03-10T23:30:00.000-03:00"
    order = order_from_ml(ML_ORDER.validate_python(order_doc), STORE, SALT)
    assert order.created_at == datetime(2026, 3, 11, 2, 30, tzinfo=UTC)
    assert order.business_date == date(2026, 3, 10)

    manaus = Store.of("mercadolivre", "1", "Loja AM", timezone="America/Manaus")
    assert order_from_ml(ML_ORDER.validate_python(order_doc), manaus, SALT).business_date == date(
        2026, 3, 10
    )
    order_doc["date_created"] = "2026-03-11T00:30:00.000-03:00"  # 23:30 in Manaus (-04:00)
    assert order_from_ml(ML_ORDER.validate_python(order_doc), manaus, SALT).business_date == date(
        2026, 3, 10
    )
    assert order_from_ml(ML_ORDER.validate_python(order_doc), STORE, SALT).business_date == date(
        2026, 3, 11
    )


@pytest.mark.parametrize(
    ("status", "tags", "mediations", "expected"),
    [
        ("payment_required", ["not_delivered"], [], OrderStatus.PENDING),
        ("confirmed", [], [], OrderStatus.PENDING),
        ("paid", ["paid", "not_delivered"], [], OrderStatus.PAID),
        ("paid", ["paid", "shipped"], [], OrderStatus.SHIPPED),
        ("paid", ["paid", "delivered"], [], OrderStatus.DELIVERED),
        ("paid", ["paid", "delivered"], [{"id": 5}], OrderStatus.RETURNED),
        ("partially_refunded", ["paid"], [], OrderStatus.RETURNED),
        ("cancelled", ["not_delivered"], [], OrderStatus.CANCELLED),
        ("invalid", [], [], OrderStatus.CANCELLED),
    ],
)
def test_status_normalization(
    order_doc: dict[str, Any],
    status: str,
    tags: list[str],
    mediations: list[dict[str, Any]],
    expected: OrderStatus,
) -> None:
    order_doc.update(status=status, tags=tags, mediations=mediations)
    parsed = ML_ORDER.validate_python(order_doc)
    assert normalize_status(parsed) is expected
    order = order_from_ml(parsed, STORE, SALT)
    assert (order.status, order.raw_status) == (expected, status)


def test_item_fixture_parses_to_one_listing_without_variations() -> None:
    raw = load("item_GET_items_id_tecnogo_fixture.json")
    page = parse_items([raw], "mercadolivre-199999999")
    assert page.rejects == []
    assert page.records == [
        Listing(
            store_id="mercadolivre-199999999",
            listing_id="MLA111111111",
            variation_id="",
            title="Casa En Venta En Springfield Calle Falsa 123",
            seller_sku=None,
            gtin=None,
            status=ListingStatus.ACTIVE,
            raw_status="active",
            status_reason=None,
            price=Decimal(15000),
            currency="ARS",
            available_quantity=1,
            category_id="MLA1467",
            permalink=(
                "https://casa.mercadolibre.com.ar/"
                "MLA-111111111-casa-en-venta-en-springfield-calle-falsa-123-_JM"
            ),
            updated_at=datetime(2019, 3, 26, 12, 38, 15, 503000, tzinfo=UTC),
        )
    ]


def test_item_with_variations_gives_one_listing_per_variation() -> None:
    raw = copy.deepcopy(load("item_GET_items_id_tecnogo_fixture.json"))
    raw["variations"] = [
        {
            "id": 111,
            "price": 10,
            "available_quantity": 4,
            "seller_custom_field": " CAM-P ",
            "attributes": [{"id": "GTIN", "value_name": "7891234567895"}],
        },
        {
            "id": 222,
            "available_quantity": 0,
            "attributes": [{"id": "SELLER_SKU", "value_name": "CAM-M"}],
        },
    ]
    page = parse_items([raw], "mercadolivre-1")
    by_variation = {x.variation_id: x for x in page.records}
    assert set(by_variation) == {"111", "222"}
    assert by_variation["111"].seller_sku == "CAM-P"  # trimmed
    assert by_variation["111"].gtin == "7891234567895"
    assert by_variation["111"].price == Decimal(10)
    assert by_variation["222"].seller_sku == "CAM-M"  # SELLER_SKU attribute
    assert by_variation["222"].price == Decimal(15000)  # falls back to the item price
    assert by_variation["222"].available_quantity == 0


def test_category_attributes_fixture_lists_brand_as_catalog_required() -> None:
    # No parser reads category attributes yet: this pins the shape a future one will read.
    attributes = load("category_MLA1055_attributes_tecnogo_fixture.json")
    assert isinstance(attributes, list)
    assert len(attributes) == 85
    assert all(isinstance(a, dict) and a.get("id") for a in attributes)
    by_id = {a["id"]: a for a in attributes}
    assert by_id["BRAND"]["tags"].get("catalog_required") is True


def test_malformed_orders_are_rejected_with_the_field_and_the_rest_still_parse(
    order_doc: dict[str, Any],
) -> None:
    no_items = copy.deepcopy(order_doc)
    no_items["id"] = 1001
    del no_items["order_items"]
    bad_date = copy.deepcopy(order_doc)
    bad_date["id"] = 1002
    bad_date["date_created"] = "08/04/2022 17:01"
    empty_items = copy.deepcopy(order_doc)
    empty_items["id"] = 1003
    empty_items["order_items"] = []
    not_an_object = ["not", "an", "order"]
    good = copy.deepcopy(order_doc)

    page = parse_orders([no_items, good, bad_date, empty_items, not_an_object], STORE, SALT)

    assert [o.order_id for o in page.records] == ["2000003508897196"]
    rejects = {r.record_key: r for r in page.rejects}
    assert set(rejects) == {"1001", "1002", "1003", "<no id>"}
    assert "order_items" in rejects["1001"].reason
    assert "date_created" in rejects["1002"].reason
    assert "order_items" in rejects["1003"].reason
    for rejected in page.rejects:
        assert rejected.source == "mercadolivre.orders"
        assert rejected.store_id == STORE.store_id
    # The raw record is kept as received, so nothing is lost.
    assert json.loads(rejects["1002"].payload)["date_created"] == "08/04/2022 17:01"
    # Reasons name fields, never echo input values (which may hold personal data).
    assert "08/04/2022" not in rejects["1002"].reason


def test_malformed_item_is_rejected_and_others_parse() -> None:
    good = load("item_GET_items_id_tecnogo_fixture.json")
    bad = copy.deepcopy(good)
    bad["id"] = "MLA222"
    del bad["title"]
    page = parse_items([bad, good], "mercadolivre-1")
    assert [x.listing_id for x in page.records] == ["MLA111111111"]
    assert [(r.record_key, r.source) for r in page.rejects] == [("MLA222", "mercadolivre.items")]
    assert "title" in page.rejects[0].reason
