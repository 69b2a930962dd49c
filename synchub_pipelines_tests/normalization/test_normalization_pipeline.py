"""The normalization assets end to end: loopback sandbox (Mercado Livre, TikTok Shop, Bling)
into a throwaway PostgreSQL warehouse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from synchub_pipelines.connect import connect_shopee, connect_tiktok
from synchub_pipelines.defs.catalog.assets import central_products
from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.marketplaces import (
    AmazonResource,
    MarketplacesResource,
    MercadoLivreResource,
    ShopeeResource,
    TikTokResource,
)
from synchub_pipelines.defs.normalization.definitions import defs as normalization_defs
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.marketplaces.shopee import ShopeeApp
from synchub_pipelines.marketplaces.tiktok import TikTokApp
from synchub_pipelines.sandbox import mercadolivre as ml_sandbox
from synchub_pipelines.sandbox import shopee as shopee_sandbox
from synchub_pipelines.sandbox import tiktok as tt_sandbox
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines_tests.catalog.test_bling_catalog_source import _bling, _connect
from synchub_pipelines_tests.pipeline.harness import FAST_RETRIES, Harness

pytestmark = pytest.mark.postgres

# Manual mappings for Mercado Livre only (TikTok and Shopee get suggestions); MLB3697
# (headphones) is absent from the tiny sandbox world's tree.
TREE = """id,name,parent,mercadolivre,tiktok,shopee
moda,Moda,,,,
moda.camisetas,Camisetas,moda,MLB31447,,
moda.moletons,Moletons,moda,MLB31448,,
moda.meias,Meias,moda,,,
calcados,Calçados,,,,
calcados.tenis,Tênis,calcados,MLB23332,,
casa,Casa,,,,
casa.garrafas,Garrafas,casa,,,
casa.cozinha,Cozinha,casa,,,
eletronicos,Eletrônicos,,,,
eletronicos.fones,Fones,eletronicos,MLB3697,,
esporte,Esporte,,,,
esporte.yoga,Yoga,esporte,,,
"""
ATTRIBUTES = """sku,attribute,value
CAM01,material,algodao
CAM01-VRM-P,peso,"1,2 kg"
CAM01-VRM-M,weight,3 arrobas
CAM01-PRT-P,gtin,7891010713646
MOL01,comprimento,650 mm
NOPE-1,material,couro
"""
STEPS = [
    "central_products",
    "internal_categories",
    "marketplace_categories",
    "category_mappings",
    "marketplace_required_attributes",
    "product_attributes_normalized",
    "listing_readiness",
]


@dataclass
class World:
    running: RunningSandbox
    harness: Harness
    resources: dict[str, Any]
    tree: Path


def _connect_tiktok(running: RunningSandbox, harness: Harness) -> TikTokResource:
    base = running.base_url("tiktok")
    app = TikTokApp(
        app_key=tt_sandbox.APP_KEY,
        app_secret=SecretStr(tt_sandbox.APP_SECRET),
        api_url=base,
        auth_url=base,
        services_url=base,
        requests_per_second=500,
        http=FAST_RETRIES,
    )
    url, _ = app.authorization_url()
    redirect = httpx.get(url, follow_redirects=False)
    code = httpx.URL(redirect.headers["location"]).params["code"]
    connect_tiktok(app, code, harness.engine, harness.token_store)
    return TikTokResource(
        app_key=tt_sandbox.APP_KEY,
        app_secret=tt_sandbox.APP_SECRET,
        api_url=base,
        auth_url=base,
        requests_per_second=500,
    )


def _connect_shopee(running: RunningSandbox, harness: Harness) -> ShopeeResource:
    resource = ShopeeResource(
        partner_id=str(shopee_sandbox.PARTNER_ID),
        partner_key=shopee_sandbox.PARTNER_KEY,
        redirect_uri=shopee_sandbox.REDIRECT_URL,
        api_url=running.base_url("shopee"),
        requests_per_second=500,
    )
    app: ShopeeApp = resource.app()
    url, _ = app.authorization_url()
    location = httpx.URL(httpx.get(url, follow_redirects=False).headers["location"])
    connect_shopee(
        app,
        location.params["code"],
        location.params["shop_id"],
        harness.engine,
        harness.token_store,
    )
    return resource


@pytest.fixture
def world(
    sandbox: RunningSandbox, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    harness = Harness(sandbox, pg_url, tmp_path)
    harness.connect_all()
    tiktok = _connect_tiktok(sandbox, harness)
    shopee = _connect_shopee(sandbox, harness)
    warehouse = WarehouseResource(url=pg_url)
    bling = _bling(sandbox)
    _connect(bling, warehouse)
    base = sandbox.base_url("mercadolivre")
    tree = tmp_path / "categories.csv"
    tree.write_text(TREE, encoding="utf-8")
    attributes = tmp_path / "attributes.csv"
    attributes.write_text(ATTRIBUTES, encoding="utf-8")
    monkeypatch.setenv("SYNCHUB_CATEGORY_TREE_FILE", str(tree))
    monkeypatch.setenv("SYNCHUB_PRODUCT_ATTRIBUTES_FILE", str(attributes))
    resources = {
        "warehouse": warehouse,
        "catalog": CatalogResource(file_path=str(harness.catalog), bling=bling),
        "marketplaces": MarketplacesResource(
            mercadolivre=MercadoLivreResource(
                client_id=ml_sandbox.APP_ID,
                client_secret=ml_sandbox.APP_SECRET,
                redirect_uri=ml_sandbox.REDIRECT_URI,
                api_url=base,
                auth_url=base,
                requests_per_second=2000,
            ),
            tiktok=tiktok,
            amazon=AmazonResource(),
            shopee=shopee,
        ),
    }
    yield World(sandbox, harness, resources, tree)


def materialize(world: World, selection: list[str], **kw: Any) -> dg.ExecuteInProcessResult:
    assets = [central_products, *(normalization_defs.assets or [])]
    return dg.materialize(
        [*assets, *(normalization_defs.asset_checks or [])],  # type: ignore[list-item]
        selection=selection,
        resources=world.resources,
        instance=dg.DagsterInstance.ephemeral(),
        **kw,
    )


def rows(world: World, table: str, where: str = "") -> list[dict[str, Any]]:
    with world.harness.engine.connect() as conn:
        sql = f"SELECT * FROM {table} {where} ORDER BY 1, 2"
        return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]


def test_trees_mappings_attributes_and_readiness_land_and_a_rerun_changes_nothing(
    world: World,
) -> None:
    result = materialize(world, STEPS)
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.metadata

    categories = {
        (r["marketplace"], r["category_id"]): r for r in rows(world, "marketplace_categories")
    }
    assert categories[("mercadolivre", "MLB31447")]["is_leaf"] is True
    assert categories[("mercadolivre", "MLB1430")]["is_leaf"] is False
    assert categories[("mercadolivre", "MLB31447")]["path"].endswith("> Camisetas e Regatas")
    assert any(m == "tiktok" for m, _ in categories)

    internal = rows(world, "categories", "WHERE source = 'internal'")
    assert {r["category_id"] for r in internal} >= {"moda", "moda.camisetas", "esporte.yoga"}

    mappings = {(r["category_id"], r["marketplace"]): r for r in rows(world, "category_mappings")}
    camisetas = mappings[("moda.camisetas", "mercadolivre")]
    assert (camisetas["status"], camisetas["marketplace_category_id"]) == ("manual", "MLB31447")
    meias = mappings[("moda.meias", "mercadolivre")]
    assert meias["status"] == "suggested"
    assert meias["marketplace_category_id"] == "MLB108791"
    assert "domain_discovery" in meias["based_on"] and "Meia" in meias["based_on"]
    # The tiny sandbox world sells no headphones: ML's tree has no MLB3697 there.
    fones = mappings[("eletronicos.fones", "mercadolivre")]
    assert fones["status"] == "invalid"
    assert fones["reason"] == "mercadolivre category MLB3697 no longer exists in its category tree"
    shopee_tshirts = mappings[("moda.camisetas", "shopee")]
    assert shopee_tshirts["status"] == "suggested"
    assert "Shopee category_recommend" in shopee_tshirts["based_on"]
    assert shopee_tshirts["marketplace_category_path"] != shopee_tshirts["marketplace_category_id"]
    tiktok_tshirts = mappings[("moda.camisetas", "tiktok")]
    assert tiktok_tshirts["status"] == "suggested"
    assert "TikTok category recommendation" in tiktok_tshirts["based_on"]

    rules = {
        (r["marketplace"], r["category_id"], r["attribute_id"]): r
        for r in rows(world, "marketplace_required_attributes")
    }
    assert rules[("mercadolivre", "MLB31447", "BRAND")]["requirement"] == "required"
    assert rules[("mercadolivre", "MLB31447", "GTIN")]["requirement"] == "conditional"
    color = rules[("mercadolivre", "MLB31447", "COLOR")]
    assert color["closed_list"] is True and "Preto" in color["allowed_values"]
    weight = rules[("mercadolivre", "MLB31447", "PACKAGE_WEIGHT")]
    assert json.loads(weight["allowed_units"]) == ["g", "kg"]
    tiktok_leaf = tiktok_tshirts["marketplace_category_id"]
    assert rules[("tiktok", tiktok_leaf, "package_dimension.weight")]["requirement"] == "required"

    normalized = {
        (r["sku"], r["attribute"]): r for r in rows(world, "product_attributes_normalized")
    }
    assert normalized[("CAM01-VRM-P", "weight")]["value"] == "1200"
    assert normalized[("CAM01-VRM-G", "material")]["value"] == "Algodão"  # from the parent row
    assert normalized[("MOL01-CNZ-P", "length")]["value"] == "65"
    unit = normalized[("CAM01-VRM-M", "weight")]
    assert unit["status"] == "rejected"
    assert unit["reason"].startswith("unknown unit 'arrobas' for weight")
    gtin = normalized[("CAM01-PRT-P", "gtin")]
    assert (gtin["status"], gtin["reason"]) == (
        "rejected",
        "GTIN 7891010713646 has check digit 6, expected 5",
    )
    errors = rows(world, "ingest_errors", "WHERE source = 'normalization.attributes_file'")
    assert [e["reason"] for e in errors] == ["line 7: unknown SKU or parent SKU NOPE-1"]

    readiness = {(r["sku"], r["marketplace"]): r for r in rows(world, "listing_readiness")}
    skus = {r["sku"] for r in rows(world, "central_products")}
    marketplaces = ("mercadolivre", "shopee", "tiktok")
    assert set(readiness) == {(s, m) for s in skus for m in marketplaces}
    ready = readiness[("CAM01-VRM-G", "mercadolivre")]
    assert ready["ready"] is True, ready
    bad_gtin = readiness[("CAM01-PRT-P", "mercadolivre")]
    assert bad_gtin["ready"] is False
    assert json.loads(bad_gtin["invalid"]) == [
        "Código universal de produto (GTIN): GTIN 7891010713646 has check digit 6, expected 5"
    ]
    suggested = readiness[("CAM01-VRM-G", "tiktok")]
    assert suggested["ready"] is False
    assert "only a suggestion" in json.loads(suggested["invalid"])[0]
    fitted = rows(world, "product_marketplace_attributes", "WHERE sku = 'CAM01-VRM-G'")
    ml_color = next(
        f for f in fitted if f["marketplace"] == "mercadolivre" and f["attribute_id"] == "COLOR"
    )
    assert (ml_color["value_name"], ml_color["status"]) == ("Vermelho", "ok")

    before = {
        t: rows(world, t)
        for t in (
            "marketplace_categories",
            "category_mappings",
            "marketplace_required_attributes",
            "product_attributes_normalized",
            "product_marketplace_attributes",
            "listing_readiness",
        )
    }
    assert materialize(world, STEPS).success
    after = {t: rows(world, t) for t in before}
    assert after == before  # same rows, same synced_at: nothing rewritten


def test_accepting_a_suggestion_in_the_tree_file_makes_the_product_ready(world: World) -> None:
    assert materialize(world, STEPS).success
    mapping = rows(
        world,
        "category_mappings",
        "WHERE category_id = 'moda.camisetas' AND marketplace = 'tiktok'",
    )[0]
    text = world.tree.read_text(encoding="utf-8").replace(
        "moda.camisetas,Camisetas,moda,MLB31447,,",
        f"moda.camisetas,Camisetas,moda,MLB31447,{mapping['marketplace_category_id']},",
    )
    world.tree.write_text(text, encoding="utf-8")
    assert materialize(world, STEPS[1:]).success
    accepted = rows(
        world,
        "category_mappings",
        "WHERE category_id = 'moda.camisetas' AND marketplace = 'tiktok'",
    )[0]
    assert accepted["status"] == "manual"
    readiness = rows(
        world, "listing_readiness", "WHERE sku = 'CAM01-VRM-G' AND marketplace = 'tiktok'"
    )[0]
    invalid = json.loads(readiness["invalid"])
    assert not any("suggestion" in i for i in invalid)
    # TikTok requires package dimensions for the category; only weight and length are known.
    missing = json.loads(readiness["missing"])
    assert "Largura do pacote (package_dimension.width)" in missing
    assert "Peso do pacote (package_dimension.weight)" not in missing


def _bling_tree(world: World) -> dict[int, tuple[str, int | None]]:
    catalog: CatalogResource = world.resources["catalog"]
    client = catalog.bling.client(world.resources["warehouse"])
    try:
        return {c.id: (c.descricao, c.parent_id) for c in client.categories()}
    finally:
        client.close()


def _sync(world: World, dry_run: bool) -> dg.ExecuteInProcessResult:
    config = {"ops": {"bling_category_sync": {"config": {"dry_run": dry_run}}}}
    return materialize(world, ["bling_category_sync"], run_config=config)


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [event] = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_bling_category_sync_dry_run_writes_nothing_then_creates_renames_moves_once(
    world: World,
) -> None:
    original = _bling_tree(world)
    names = {name for name, _ in original.values()}
    assert {"Moda", "Camisetas", "Calçados"} <= names and "Eletrônicos" not in names

    plan = _metadata(_sync(world, dry_run=True))
    assert plan["dry_run"] is True
    assert plan["changes"]["create"] >= 3 and plan["changes"]["adopt"] >= 3
    assert "| Eletrônicos | create | new |" in plan["plan"]
    assert _bling_tree(world) == original
    assert rows(world, "bling_category_links") == []
    assert rows(world, "category_sync_log") == []

    applied = _metadata(_sync(world, dry_run=False))
    assert applied["changes"] == plan["changes"]
    after_first = _bling_tree(world)
    by_name = {name: (cid, parent) for cid, (name, parent) in after_first.items()}
    eletronicos, root = by_name["Eletrônicos"]
    assert root is None and by_name["Fones"][1] == eletronicos
    assert by_name["Camisetas"][0] in original  # adopted, not duplicated
    assert len(after_first) == len(original) + plan["changes"]["create"]

    text = world.tree.read_text(encoding="utf-8")
    text = text.replace("moda.camisetas,Camisetas,", "moda.camisetas,Camisetas e Regatas,")
    text = text.replace("moda.meias,Meias,moda,", "moda.meias,Meias,calcados,")
    text += "moda.bones,Bonés,moda,,,\n"
    world.tree.write_text(text, encoding="utf-8")
    second = _metadata(_sync(world, dry_run=False))
    assert second["changes"] == {"rename": 1, "move": 1, "create": 1}
    after_second = _bling_tree(world)
    camisetas_id = by_name["Camisetas"][0]
    assert after_second[camisetas_id] == ("Camisetas e Regatas", by_name["Moda"][0])
    assert after_second[by_name["Meias"][0]] == ("Meias", by_name["Calçados"][0])
    assert ("Bonés", by_name["Moda"][0]) in after_second.values()

    log = {(r["category_id"], r["action"]): r for r in rows(world, "category_sync_log")}
    rename = log[("moda.camisetas", "rename")]
    assert (rename["before_name"], rename["after_name"]) == ("Camisetas", "Camisetas e Regatas")
    move = log[("moda.meias", "move")]
    assert move["before_parent_bling_id"] == by_name["Moda"][0]
    assert move["after_parent_bling_id"] == by_name["Calçados"][0]
    assert ("moda.bones", "create") in log

    third = _metadata(_sync(world, dry_run=False))
    assert third["changes"] == {}
    assert _bling_tree(world) == after_second
    assert len(rows(world, "category_sync_log")) == len(log)
