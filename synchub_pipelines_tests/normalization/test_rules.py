"""The normalization rules one by one: tree file, attributes, marketplace fitting, readiness,
mappings, and the real Mercado Livre attribute payload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synchub_pipelines.defs.normalization.attributes import gtin_problem, normalize
from synchub_pipelines.defs.normalization.mapping import map_category
from synchub_pipelines.defs.normalization.marketplace_values import fit
from synchub_pipelines.defs.normalization.readiness import MappingState, judge
from synchub_pipelines.defs.normalization.tree_file import (
    CategoryTreeError,
    build_tree,
    load_tree,
)
from synchub_pipelines.marketplaces.categories import mercadolivre as ml
from synchub_pipelines.marketplaces.categories import tiktok as tt
from synchub_pipelines.marketplaces.categories.models import (
    AllowedValue,
    AttributeRule,
    CategorySuggestion,
    MarketplaceCategory,
)
from synchub_pipelines_tests.conftest import PAYLOADS

DEMO_TREE = Path(__file__).resolve().parents[2] / "synchub_pipelines" / "demo" / "categories.csv"


def rows(*lines: str) -> list[dict[str, str]]:
    out = []
    for line in lines:
        category_id, name, parent, *ml_id = line.split(",")
        out.append(
            {"id": category_id, "name": name, "parent": parent, "mercadolivre": "".join(ml_id)}
        )
    return out


# --- tree file ---------------------------------------------------------------------------


def test_the_demo_tree_loads_parents_first_with_paths_and_manual_mappings() -> None:
    tree = load_tree(DEMO_TREE)
    ids = [n.category_id for n in tree.nodes]
    for node in tree.nodes:
        if node.parent_id:
            assert ids.index(node.parent_id) < ids.index(node.category_id)
    camisetas = tree.by_id["moda.camisetas"]
    assert camisetas.path == "Moda > Camisetas"
    assert camisetas.mappings == {
        "mercadolivre": "MLB31447",
        "tiktok": "850010",
        "shopee": "139553",
    }
    assert "mercadolivre" not in tree.by_id["moda.meias"].mappings  # left to the predictor
    assert tree.resolve("moda >  camisetas") == camisetas
    assert tree.resolve("Moda > Nada") is None


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("a,A,", "a,B,"), "line 3: duplicate id a (first on line 2)"),
        (("a,A,", "b,B,zz"), "line 3: category b has unknown parent zz"),
        (("a,A,c", "b,B,a", "c,C,b"), "cycle in parents"),
        (("a,A,", "a b,B,"), "id 'a b' must be letters"),
        (("a,,",), "category a has no name"),
        (("r,R,", "x,Camisetas,r", "y,camisetas,r"), "'camisetas' twice under the same parent"),
    ],
)
def test_a_bad_tree_is_refused_whole_with_the_line_and_reason(
    lines: tuple[str, ...], expected: str
) -> None:
    with pytest.raises(CategoryTreeError) as raised:
        build_tree(rows(*lines), "tree.csv")
    assert expected in str(raised.value)


def test_a_tree_file_with_an_unknown_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tree.csv"
    path.write_text("id,name,parent,magalu\nm,Moda,,X\n", encoding="utf-8")
    with pytest.raises(CategoryTreeError, match="unknown column\\(s\\) magalu"):
        load_tree(path)


# --- attribute rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "raw", "value", "unit"),
    [
        ("color", " black ", "Preto", None),
        ("color", "AZUL", "Azul", None),
        ("size", "médio", "M", None),
        ("size", "xl", "GG", None),
        ("size", "40.0", "40", None),
        ("material", "algodao", "Algodão", None),
        ("material", "stainless steel", "Aço inoxidável", None),
        ("brand", "  tramontina ", "Tramontina", None),
        ("brand", "JBL", "JBL", None),
        ("weight", "1,25 kg", "1250", "g"),
        ("weight", "500g", "500", "g"),
        ("weight", "2 lb", "907.18", "g"),
        ("length", "350 mm", "35", "cm"),
        ("height", "0.4 m", "40", "cm"),
        ("gtin", "7891010713645", "7891010713645", None),
        ("gtin", "9638-5074", "96385074", None),
    ],
)
def test_values_are_normalized(attribute: str, raw: str, value: str, unit: str | None) -> None:
    result = normalize(attribute, raw, "test")
    assert (result.value, result.unit, result.reason) == (value, unit, None)


@pytest.mark.parametrize(
    ("attribute", "raw", "reason"),
    [
        ("weight", "3 arrobas", "unknown unit 'arrobas' for weight (known: mg, g, kg, lb, oz)"),
        ("length", "12 palmos", "unknown unit 'palmos' for length"),
        ("weight", "500", "weight '500' has no unit"),
        ("weight", "pesado", "'pesado' is not a number"),
        ("weight", "0 g", "weight must be positive"),
        ("gtin", "7891010713646", "GTIN 7891010713646 has check digit 6, expected 5"),
        ("gtin", "78910107", "GTIN 78910107 has check digit 7, expected"),
        ("gtin", "12345", "GTIN 12345 has 5 digits"),
        ("gtin", "78910A0713645", "must be digits only"),
    ],
)
def test_bad_values_are_rejected_with_a_reason(attribute: str, raw: str, reason: str) -> None:
    result = normalize(attribute, raw, "test")
    assert result.value is None
    assert result.reason is not None and reason in result.reason


def test_gtin_check_digits_of_every_length() -> None:
    assert gtin_problem("96385074") is None  # GTIN-8
    assert gtin_problem("036000291452") is None  # GTIN-12 (UPC-A)
    assert gtin_problem("4006381333931") is None  # GTIN-13
    assert gtin_problem("10012345678902") is None  # GTIN-14
    assert gtin_problem("4006381333932") == "GTIN 4006381333932 has check digit 2, expected 1"


# --- marketplace values and readiness --------------------------------------------------------


def rule(attribute_id: str, name: str, **kw: object) -> AttributeRule:
    values: dict[str, object] = {
        "marketplace": "mercadolivre",
        "category_id": "MLB1",
        "attribute_id": attribute_id,
        "name": name,
        "requirement": "required",
        "value_type": "string",
        "closed_list": False,
    }
    values.update(kw)
    return AttributeRule(**values)  # type: ignore[arg-type]


COLOR = rule(
    "COLOR",
    "Cor",
    value_type="list",
    closed_list=True,
    allowed_values=(AllowedValue("52049", "Preto"), AllowedValue("52055", "Branco")),
    canonical="color",
)
WEIGHT = rule(
    "PACKAGE_WEIGHT",
    "Peso",
    value_type="number_unit",
    allowed_units=("kg",),
    default_unit="kg",
    canonical="weight",
)


def test_closed_lists_take_only_their_values_and_units_are_converted() -> None:
    values = {
        "color": normalize("color", "black", "catalog"),
        "weight": normalize("weight", "1250 g", "catalog"),
    }
    color = fit(COLOR, values, "SKU1")
    assert (color.status, color.value_id, color.value_name) == ("ok", "52049", "Preto")
    assert fit(WEIGHT, values, "SKU1").value_name == "1.25 kg"
    wrong = fit(COLOR, {"color": normalize("color", "Vinho", "catalog")}, "SKU1")
    assert wrong.status == "invalid"
    assert wrong.reason == "'Vinho' is not one of the allowed values (Preto, Branco)"
    assert fit(COLOR, {}, "SKU1").status == "missing"


def test_readiness_names_exactly_what_is_missing_or_invalid() -> None:
    brand = rule("BRAND", "Marca", canonical="brand")
    gtin = rule("GTIN", "GTIN", requirement="conditional", condition="cond", canonical="gtin")
    model = rule("MODEL", "Modelo", requirement="catalog_required", condition="catalog")
    values = {"color": normalize("color", "Vinho", "c"), "gtin": normalize("gtin", "123", "c")}
    fitted = [fit(r, values, "SKU1") for r in (brand, COLOR, gtin, model)]
    mapping = MappingState("MLB1", "manual", "Moda > Camisetas", None)
    verdict = judge("SKU1", "mercadolivre", "Moda > Camisetas", mapping, fitted)
    assert not verdict.ready
    assert verdict.missing == ["Marca (BRAND)"]
    assert verdict.invalid == [
        "Cor (COLOR): 'Vinho' is not one of the allowed values (Preto, Branco)",
        "GTIN (GTIN): GTIN 123 has 3 digits; GTIN-8, -12, -13 or -14 expected",
    ]
    assert verdict.notes == ["Modelo (MODEL): catalog"]

    good = {"brand": normalize("brand", "Malwee", "c"), "color": normalize("color", "preto", "c")}
    fitted = [fit(r, good, "SKU1") for r in (brand, COLOR, gtin)]
    verdict = judge("SKU1", "mercadolivre", "Moda > Camisetas", mapping, fitted)
    assert verdict.ready
    assert verdict.notes == ["GTIN (GTIN): cond"]
    suggested = MappingState("MLB1", "suggested", "Camisetas", None)
    verdict = judge("SKU1", "mercadolivre", "Moda > Camisetas", suggested, fitted)
    assert not verdict.ready and "only a suggestion" in verdict.invalid[0]


def test_tiktok_conditional_attribute_is_required_only_when_its_condition_holds() -> None:
    raw = [
        {
            "id": "100398",
            "name": "Voltagem",
            "is_requried": False,
            "values": [{"id": "11", "name": "110V"}, {"id": "12", "name": "Bivolt"}],
        },
        {
            "id": "100401",
            "name": "Potência (W)",
            "is_requried": False,
            "is_customizable": True,
            "value_data_format": "POSITIVE_INT_OR_DECIMAL",
            "requirement_conditions": [
                {
                    "condition_type": "VALUE_ID_MATCH",
                    "attribute_id": "100398",
                    "attribute_value_id": "12",
                }
            ],
        },
    ]
    rules_ = tt.parse_attributes(raw, {"package_dimension": {"is_required": False}}, "850001")
    power = next(r for r in rules_ if r.attribute_id == "100401")
    assert power.requirement == "conditional"
    assert power.condition == "required when Voltagem = Bivolt"
    mapping = MappingState("850001", "manual", "Casa > Cafeteiras", None)
    for voltage, ready in (("Bivolt", False), ("110V", True)):
        values = {"voltagem": normalize("voltagem", voltage, "file")}
        fitted = [fit(r, values, "S") for r in rules_]
        verdict = judge("S", "tiktok", "Casa", mapping, fitted)
        assert verdict.ready is ready
        assert verdict.missing == ([] if ready else ["Potência (W) (100401)"])
        assert verdict.notes == []  # a condition that does not hold is not a note


# --- mappings -------------------------------------------------------------------------------


def _tree(*ids: str) -> dict[str, MarketplaceCategory]:
    return {
        i: MarketplaceCategory("mercadolivre", "MLB", i, i, None, f"Top > {i}", True) for i in ids
    }


def test_manual_mappings_win_and_a_vanished_category_is_flagged() -> None:
    tree = build_tree(rows("m,Moda,", "c,Camisetas,m,MLB9", "x,Meias,m,MLB404"))
    asked: list[str] = []

    def suggest(text: str) -> CategorySuggestion:
        asked.append(text)
        return CategorySuggestion("MLB7", "Meias", f"domain_discovery for {text!r}")

    market = _tree("MLB9", "MLB7")
    manual = map_category(tree.by_id["c"], "mercadolivre", market, "Camiseta", None, suggest)
    assert (manual.status, manual.marketplace_category_id, manual.reason) == (
        "manual",
        "MLB9",
        None,
    )
    gone = map_category(tree.by_id["x"], "mercadolivre", market, "Meia", None, suggest)
    assert gone.status == "invalid"
    assert gone.reason == "mercadolivre category MLB404 no longer exists in its category tree"
    assert asked == []  # manual mappings never ask the predictor

    unmapped = build_tree(rows("m,Moda,", "s,Meias,m"))
    suggested = map_category(
        unmapped.by_id["s"], "mercadolivre", market, "Meia Esportiva", None, suggest
    )
    assert suggested.status == "suggested"
    assert suggested.marketplace_category_id == "MLB7"
    assert suggested.based_on == "domain_discovery for 'Meia Esportiva'"
    again = map_category(unmapped.by_id["s"], "mercadolivre", market, "x", suggested, suggest)
    assert again == suggested and asked == ["Meia Esportiva"]  # reused, not asked again


# --- the real Mercado Livre attribute payload ------------------------------------------------


def test_the_real_mercado_livre_attribute_payload_parses() -> None:
    path = PAYLOADS / "mercadolivre" / "category_MLA1055_attributes_tecnogo_fixture.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    rules_ = {r.attribute_id: r for r in ml.parse_attributes(raw, "MLA1055")}
    assert rules_["BRAND"].requirement == "catalog_required"
    assert rules_["BRAND"].canonical == "brand"
    assert rules_["COLOR"].closed_list is False  # a string with suggested values
    assert len(rules_["COLOR"].allowed_values) == 51
    carrier = rules_["CARRIER"]
    assert carrier.closed_list and carrier.value_type == "list"
    assert rules_["INTERNAL_MEMORY"].allowed_units == ("GB", "MB", "TB")
    assert rules_["INTERNAL_MEMORY"].default_unit == "GB"
    assert rules_["IS_DUAL_SIM"].closed_list  # boolean
    assert "WEIGHT" not in rules_  # hidden and optional: not something a seller fills
    assert all(r.requirement != "required" for r in rules_.values())


def test_shopee_attribute_tree_children_are_conditional_on_their_parent_value() -> None:
    from datetime import UTC, datetime

    from synchub_pipelines.marketplaces.categories import shopee as sp
    from synchub_pipelines.marketplaces.shopee import ShopeeAttribute
    from synchub_pipelines.sandbox.server import Sandbox, SandboxConfig

    sandbox = Sandbox(SandboxConfig(seed=7, size="tiny", anchor=datetime(2026, 3, 14, tzinfo=UTC)))
    tree = sandbox.simulators["shopee"].catalog.categories
    leaf = next(c for c in tree.categories if c.name_pt == "Camisetas")
    raw = tree.render_attribute_tree(leaf, "pt-br")
    rules_ = {
        r.name: r
        for r in sp.parse_attributes([ShopeeAttribute.model_validate(a) for a in raw], "1")
    }
    origin, specify = rules_["País de Origem"], rules_["Especificar País"]
    assert origin.requirement == "required" and origin.closed_list
    assert specify.requirement == "conditional"
    assert specify.condition == "required when País de Origem = Outro"
    assert specify.when_any[0].attribute_id == origin.attribute_id
    assert rules_["Peso Líquido"].canonical == "weight"
    assert rules_["Peso Líquido"].allowed_units == ("g", "kg")
    opener = next(v for v in origin.allowed_values if v.value_id == specify.when_any[0].value_id)
    brazil = next(v for v in origin.allowed_values if v.value_id != opener.value_id)
    mapping = MappingState("1", "manual", "Camisetas", None)
    for country, missing in ((opener.name, ["Especificar País (100012)"]), (brazil.name, [])):
        values = {
            "pais de origem": normalize("pais de origem", country, "file"),
            "material": normalize("material", "algodão", "file"),
            "genero": normalize("genero", rules_["Gênero"].allowed_values[0].name, "file"),
        }
        fitted = [fit(r, values, "S") for r in rules_.values()]
        verdict = judge("S", "shopee", "Moda > Camisetas", mapping, fitted)
        assert (verdict.missing, verdict.invalid) == (missing, [])
        assert verdict.ready == (not missing)


def test_a_marketplace_spelling_of_the_same_value_is_matched() -> None:
    material = rule(
        "100061",
        "Material",
        value_type="list",
        closed_list=True,
        allowed_values=(AllowedValue("1", "Aço Inox"), AllowedValue("2", "Vidro")),
        canonical="material",
    )
    fitted = fit(material, {"material": normalize("material", "aço inoxidável", "file")}, "S")
    assert (fitted.status, fitted.value_id, fitted.value_name) == ("ok", "1", "Aço Inox")
