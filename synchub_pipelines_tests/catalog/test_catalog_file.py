"""The catalog file (CSV or JSON) a merchant without ERP keeps."""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from synchub_pipelines.defs.catalog.catalog_file import CatalogFileError, load_catalog
from synchub_pipelines.sandbox.world import World

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "synchub_pipelines" / "demo" / "catalog.csv"
REGENERATE = (
    "synchub_pipelines/demo/catalog.csv drifted from the sandbox world: regenerate it with "
    "`synchub sandbox catalog --out synchub_pipelines/demo/catalog.csv`"
)
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_catalog_matches_the_sandbox_world() -> None:
    world_rows = World(seed=7, size="demo").catalog_rows()
    catalog = load_catalog(DEMO_CATALOG)

    assert catalog.rejects == [], REGENERATE
    assert [p.sku for p in catalog.products] == [r["sku"] for r in world_rows], REGENERATE
    with DEMO_CATALOG.open(newline="", encoding="utf-8") as handle:
        demo_rows = list(csv.DictReader(handle))
    # The world's columns as the world has them; the demo adds what publishing reads
    # (description, pictures, status), which the world does not model.
    assert [{k: r[k] for k in world_rows[0]} for r in demo_rows] == world_rows, REGENERATE
    assert all(r["description"] and r["images"] and r["status"] == "active" for r in demo_rows)
    assert all(p.images and p.images[0].startswith("https://") for p in catalog.products)

    # Kits load with their components and carry no stock of their own.
    world = World(seed=7, size="demo")
    kits = {p.sku: p for p in world.products if p.is_kit}
    assert kits
    loaded_kits = {p.sku for p in catalog.products if p.is_kit}
    assert loaded_kits == set(kits)
    assert {(c.kit_sku, c.component_sku, c.quantity) for c in catalog.components} == {
        (kit, sku, qty) for kit, p in kits.items() for sku, qty in p.components
    }
    stocked = {s.sku: s.on_hand for s in catalog.stock}
    assert stocked == {p.sku: p.on_hand for p in world.products if not p.is_kit}
    assert {s.warehouse for s in catalog.stock} == {"principal"}


def test_stock_is_as_of_the_file_mtime_by_default(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "sku,name,on_hand\nA-1,Produto A,3\n")
    moment = datetime(2026, 3, 1, 10, 0, tzinfo=UTC).timestamp()
    os.utime(path, (moment, moment))
    catalog = load_catalog(path)
    assert catalog.stock[0].updated_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_csv_with_semicolons_and_blank_optionals(tmp_path: Path) -> None:
    # Blank cells mean "not given": optional fields stay empty, and the currency and
    # warehouse fall back to their defaults instead of rejecting the row.
    path = write(
        tmp_path / "c.csv",
        "sku;name;brand;price;currency;on_hand;warehouse\n"
        " A-1 ;Produto A;;12.50;;3;\n"
        "B-2;Produto B;Marca;;USD;7;loja\n",
    )
    catalog = load_catalog(path, now=NOW)
    assert catalog.rejects == []
    a, b = catalog.products
    assert (a.sku, a.brand, a.price, a.currency) == ("A-1", None, Decimal("12.50"), "BRL")
    assert (b.sku, b.brand, b.price, b.currency) == ("B-2", "Marca", None, "USD")
    assert [(s.sku, s.warehouse, s.on_hand) for s in catalog.stock] == [
        ("A-1", "principal", 3),
        ("B-2", "loja", 7),
    ]


def test_json_null_currency_takes_the_default(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json",
        json.dumps(
            [{"sku": "A", "name": "Produto A", "currency": None, "warehouse": None, "on_hand": 1}]
        ),
    )
    catalog = load_catalog(path, now=NOW)
    assert catalog.rejects == []
    assert catalog.products[0].currency == "BRL"
    assert catalog.stock[0].warehouse == "principal"


@pytest.mark.parametrize("wrapped", [False, True], ids=["list", "products-object"])
def test_json_catalog(tmp_path: Path, wrapped: bool) -> None:
    products = [
        {"sku": "A-1", "name": "Produto A", "price": 12.5, "on_hand": 4, "gtin": "7891234567895"},
        {"sku": "B-2", "name": "Produto B", "cost": "3.10", "weight_g": 250},
        {"sku": "KIT", "name": "Kit A+B", "components": "A-1x2;B-2x1", "on_hand": 9},
    ]
    data = {"products": products} if wrapped else products
    path = write(tmp_path / "catalog.json", json.dumps(data))

    catalog = load_catalog(path, now=NOW)

    assert catalog.rejects == []
    by_sku = {p.sku: p for p in catalog.products}
    assert set(by_sku) == {"A-1", "B-2", "KIT"}
    assert by_sku["A-1"].price == Decimal("12.5")
    assert by_sku["A-1"].gtin == "7891234567895"
    assert by_sku["B-2"].cost == Decimal("3.10")
    assert by_sku["B-2"].weight_g == 250
    assert by_sku["KIT"].is_kit and not by_sku["A-1"].is_kit
    assert {(c.component_sku, c.quantity) for c in catalog.components} == {("A-1", 2), ("B-2", 1)}
    # A kit's stock comes from its components, never from its own column.
    assert [(s.sku, s.on_hand, s.updated_at) for s in catalog.stock] == [("A-1", 4, NOW)]


def test_json_that_is_not_a_list_of_objects_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "catalog.json", json.dumps({"items": [1, 2]}))
    with pytest.raises(CatalogFileError, match="list of objects"):
        load_catalog(path)
    broken = write(tmp_path / "broken.json", "{not json")
    with pytest.raises(CatalogFileError, match="cannot be read"):
        load_catalog(broken)


def test_missing_required_column_refuses_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "codigo,name,price\nA-1,Produto A,10\n")
    with pytest.raises(CatalogFileError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert "sku" in message
    assert "codigo" in message  # says what it found instead
    no_name = write(tmp_path / "n.csv", "sku,price\nA-1,10\n")
    with pytest.raises(CatalogFileError, match="name"):
        load_catalog(no_name)


def test_bad_rows_are_rejected_with_line_numbers_and_good_rows_load(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.csv",
        "sku,name,price,on_hand,components\n"  # line 1
        "GOOD-1,Produto 1,10.00,5,\n"  # line 2
        "NEG,Produto negativo,10.00,-1,\n"  # line 3
        "PRICE,Produto preço,dez reais,1,\n"  # line 4
        "GOOD-1,Repetido,11.00,1,\n"  # line 5
        "KITBAD,Kit ruim,20.00,,ABC\n"  # line 6
        "GOOD-2,Produto 2,,,\n"  # line 7
        ",Sem SKU,1.00,1,\n"  # line 8
        "KITOK,Kit bom,20.00,,GOOD-1x2;GOOD-2x1\n",  # line 9
    )

    catalog = load_catalog(path, now=NOW)

    assert [p.sku for p in catalog.products] == ["GOOD-1", "GOOD-2", "KITOK"]
    assert catalog.products[0].name == "Produto 1"  # the first of a repeated SKU wins
    reasons = {r.record_key: r.reason for r in catalog.rejects}
    assert set(reasons) == {"NEG", "PRICE", "GOOD-1", "KITBAD", "line 8"}
    assert reasons["NEG"].startswith("line 3:") and "on_hand" in reasons["NEG"]
    assert "negative" in reasons["NEG"]
    assert reasons["PRICE"].startswith("line 4:") and "price" in reasons["PRICE"]
    assert reasons["GOOD-1"].startswith("line 5:") and "repeats line 2" in reasons["GOOD-1"]
    assert reasons["KITBAD"].startswith("line 6:") and "'ABC'" in reasons["KITBAD"]
    assert reasons["line 8"].startswith("line 8:") and "sku" in reasons["line 8"]
    for rejected in catalog.rejects:
        assert rejected.source == "catalog_file"
        assert json.loads(rejected.payload)["name"]  # the raw row is kept
    assert [(c.kit_sku, c.component_sku, c.quantity) for c in catalog.components] == [
        ("KITOK", "GOOD-1", 2),
        ("KITOK", "GOOD-2", 1),
    ]
    assert [(s.sku, s.on_hand) for s in catalog.stock] == [("GOOD-1", 5)]


@pytest.mark.parametrize("component", ["ABC", "Ax0", "Ax-1", "x2", "Ax"])
def test_malformed_components_are_rejected(tmp_path: Path, component: str) -> None:
    path = write(tmp_path / "c.csv", f"sku,name,components\nK,Kit,{component}\nA,Produto A,\n")
    catalog = load_catalog(path, now=NOW)
    assert [p.sku for p in catalog.products] == ["A"]
    assert [r.record_key for r in catalog.rejects] == ["K"]
    assert "SKUxQUANTITY" in catalog.rejects[0].reason


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(CatalogFileError) as caught:
        load_catalog(missing)
    assert str(missing) in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "catalog.xlsx", "sku,name\n")
    with pytest.raises(CatalogFileError, match=r"\.csv or \.json"):
        load_catalog(path)
