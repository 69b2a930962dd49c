"""Bling kept as the catalog of record: the normalized category, brand and attributes and
the product–store links written back to the Bling sandbox over loopback HTTP, from a real
PostgreSQL warehouse — the dry run (no write call), the audit, idempotence, and Bling's
refusals on the right product."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.marketplaces import BlingResource
from synchub_pipelines.defs.publishing.bling_catalog import (
    LojasError,
    bling_catalog_writeback,
    bling_catalog_writes_accepted,
    parse_lojas,
)
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.marketplaces.bling import BlingClient
from synchub_pipelines.marketplaces.bling_writes import ProductPatch
from synchub_pipelines.marketplaces.publishing import WriteRefused
from synchub_pipelines.sandbox.bling import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, Simulator
from synchub_pipelines.sandbox.bling_render import loja_id_for
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.warehouse import schema
from synchub_pipelines.warehouse import schema_normalization as normalization
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines_tests.catalog.test_bling_catalog_source import _connect

pytestmark = pytest.mark.postgres

ACCOUNT = "bling-test"
ML = "mercadolivre-241551001"
SHOPEE = "shopee-880012345"
TIKTOK = "tiktok-7494012345678901234"  # deliberately without a Bling loja id
TREE = """id,name,parent,mercadolivre,tiktok,shopee
moda,Moda,,,,
moda.camisetas,Camisetas,moda,,,
moda.moletons,Moletons,moda,,,
calcados,Calçados,,,,
calcados.tenis,Tênis,calcados,,,
"""
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


@dataclass
class Env:
    running: RunningSandbox
    sim: Simulator
    warehouse: WarehouseResource
    engine: sa.Engine
    resources: dict[str, Any]
    bling: BlingResource

    def client(self) -> BlingClient:
        return self.bling.client(self.warehouse)


@pytest.fixture
def env(
    sandbox_factory: Callable[..., RunningSandbox],
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Env]:
    running = sandbox_factory(rate_limits={"bling": 1000.0})
    engine = engine_for(pg_url)
    migrate(engine)
    warehouse = WarehouseResource(url=pg_url)
    bling = BlingResource(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        api_url=f"{running.base_url('bling')}/Api/v3",
        account_id=ACCOUNT,
        requests_per_second=1000.0,
    )
    _connect(bling, warehouse)
    tree = tmp_path / "categories.csv"
    tree.write_text(TREE, encoding="utf-8")
    monkeypatch.setenv("SYNCHUB_CATEGORY_TREE_FILE", str(tree))
    monkeypatch.setenv(
        "SYNCHUB_BLING_LOJAS", f"{ML}={loja_id_for(ML)},{SHOPEE}={loja_id_for(SHOPEE)}"
    )
    resources = {
        "warehouse": warehouse,
        "catalog": CatalogResource(file_path=str(tmp_path / "unused.csv"), bling=bling),
    }
    sim = running.sandbox.simulators["bling"]
    assert isinstance(sim, Simulator)
    yield Env(running, sim, warehouse, engine, resources, bling)


def _seed(engine: sa.Engine, attributes: dict[tuple[str, str], str]) -> None:
    """The warehouse's side: CAM01's normalized category is Moletons (Bling has it under
    Camisetas), a brand and attributes, and listings on three stores."""
    cp = schema.central_products
    products = [
        ("CAM01-VRM-P", "CAM01", "Moda > Moletons"),
        ("CAM01-VRM-M", "CAM01", "Moda > Moletons"),
        ("MOL01-CNZ-P", "MOL01", "Moda > Moletons"),
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(cp),
            [
                {
                    "tenant": "default",
                    "sku": sku,
                    "parent_sku": parent,
                    "name": sku,
                    "category": category,
                    "currency": "BRL",
                    "is_kit": False,
                    "source": "file",
                    "synced_at": NOW,
                }
                for sku, parent, category in products
            ],
        )
        conn.execute(
            sa.insert(normalization.product_attributes_normalized),
            [
                {
                    "tenant": "default",
                    "sku": sku,
                    "attribute": attribute,
                    "value": value,
                    "raw_value": value,
                    "source": "attributes_file",
                    "status": "ok",
                    "synced_at": NOW,
                }
                for (sku, attribute), value in attributes.items()
            ],
        )
        listings = [
            (ML, "MLB100", "", "CAM01-VRM-P", Decimal("59.90"), "active"),
            (ML, "MLB050", "", "CAM01-VRM-P", Decimal("58.00"), "paused"),
            (SHOPEE, "9001", "77", "CAM01-VRM-P", Decimal("61.50"), "active"),
            (SHOPEE, "9001", "78", "CAM01-VRM-M", Decimal("61.50"), "active"),
            (TIKTOK, "1729", "", "CAM01-VRM-M", Decimal("60.00"), "active"),
        ]
        conn.execute(
            sa.insert(schema.listings),
            [
                {
                    "store_id": store,
                    "listing_id": listing,
                    "variation_id": variation,
                    "title": sku,
                    "seller_sku": sku,
                    "status": status,
                    "price": price,
                    "currency": "BRL",
                    "synced_at": NOW,
                }
                for store, listing, variation, sku, price, status in listings
            ],
        )
        conn.execute(
            sa.insert(schema.listing_links),
            [
                {
                    "store_id": store,
                    "listing_id": listing,
                    "variation_id": variation,
                    "tenant": "default",
                    "sku": sku,
                    "method": "seller_sku",
                    "synced_at": NOW,
                }
                for store, listing, variation, sku, _, _ in listings
            ],
        )


ATTRIBUTES = {
    ("CAM01-VRM-P", "brand"): "Malwee Brasil",
    ("CAM01-VRM-P", "material"): "Algodão",
    ("CAM01-VRM-P", "pais de origem"): "Brasil",
    ("CAM01-VRM-P", "color"): "Vermelho",  # the variation's name in Bling: never a field
    ("CAM01-VRM-M", "genero"): "Unissex",
    ("CAM01-VRM-M", "voltage"): "n/a",  # no custom field of that name: told, not written
}


def _run(env: Env, dry_run: bool = False, **config: Any) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [bling_catalog_writeback, bling_catalog_writes_accepted],
            resources=env.resources,
            instance=instance,
            run_config={
                "ops": {"bling_catalog_writeback": {"config": {"dry_run": dry_run, **config}}}
            },
            raise_on_error=False,
        )


def _audit(env: Env, run_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    with env.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT * FROM bling_catalog_writes WHERE run_id = :r"), {"r": run_id}
        ).mappings()
        return {(r["sku"], r["store_id"]): dict(r) for r in rows}


def _ids(env: Env) -> dict[str, int]:
    return {p.codigo: p.id for p in env.sim.catalog.products}


def _category_id(env: Env, name: str) -> int:
    return next(c.id for c in env.sim.categorias.values() if c.descricao == name)


def test_dry_run_writes_nothing_then_the_write_lands_in_bling_reads_and_a_rerun_writes_nothing(
    env: Env,
) -> None:
    _seed(env.engine, ATTRIBUTES)
    ids = _ids(env)
    camisetas, moletons = _category_id(env, "Camisetas"), _category_id(env, "Moletons")
    assert env.sim.catalog.by_id[ids["CAM01"]].categoria_id == camisetas

    dry = _run(env, dry_run=True)
    assert dry.success
    assert env.sim.catalog_writes.writes == []  # not one write call reached Bling
    assert env.sim.catalog.by_id[ids["CAM01"]].categoria_id == camisetas
    planned = _audit(env, dry.run_id)
    assert {r["status"] for r in planned.values()} == {"planned"}
    assert all(r["dry_run"] for r in planned.values())
    assert set(planned) == {
        ("CAM01", ""),  # the category goes to the parent of the variations
        ("CAM01-VRM-P", ""),
        ("CAM01-VRM-M", ""),
        ("CAM01-VRM-P", ML),
        ("CAM01-VRM-P", SHOPEE),
        ("CAM01-VRM-M", SHOPEE),
    }  # MOL01 already sits in Moletons in Bling: nothing to write
    assert planned[("CAM01", "")]["action"] == "update_product"
    assert str(moletons) in planned[("CAM01", "")]["request"]
    assert str(camisetas) in planned[("CAM01", "")]["before"]

    real = _run(env)
    assert real.success
    written = _audit(env, real.run_id)
    assert set(written) == set(planned)
    assert {r["status"] for r in written.values()} == {"written"}, written
    [check] = real.get_asset_check_evaluations()
    assert check.passed

    client = env.client()
    try:
        parent = client.product_fields(ids["CAM01"])
        assert parent.category_id == moletons
        assert {v.category_id for v in parent.variacoes} == {moletons}
        fields = {f.nome: f.id for f in client.product_custom_fields()}
        vrm_p = next(v for v in parent.variacoes if v.codigo == "CAM01-VRM-P")
        assert vrm_p.marca == "Malwee Brasil"
        assert vrm_p.custom_values == {
            fields["Material"]: "Algodão",
            fields["País de origem"]: "Brasil",
        }
        vrm_m = next(v for v in parent.variacoes if v.codigo == "CAM01-VRM-M")
        assert vrm_m.custom_values == {fields["Gênero"]: "Unissex"}

        ml_links = client.store_links(loja_id=loja_id_for(ML))
        assert [(x.product_id, x.codigo, x.preco) for x in ml_links] == [
            (ids["CAM01-VRM-P"], "MLB100", Decimal("59.9"))  # the active listing's
        ]
        shopee = {x.product_id: x for x in client.store_links(loja_id=loja_id_for(SHOPEE))}
        assert shopee[ids["CAM01-VRM-M"]].codigo == "9001-78"
        assert written[("CAM01-VRM-M", SHOPEE)]["result_id"] == shopee[ids["CAM01-VRM-M"]].id
        assert client.store_links(loja_id=loja_id_for(TIKTOK)) == []
    finally:
        client.close()
    metadata = real.asset_materializations_for_node("bling_catalog_writeback")[0].metadata
    assert metadata["attributes_without_custom_field"].value == {"voltage": 1}
    skipped = " ".join(metadata["skipped"].value)
    assert f"no Bling loja id for store {TIKTOK}" in skipped
    assert "listing MLB050 not linked" in skipped

    calls = len(env.sim.catalog_writes.writes)
    rerun = _run(env)
    assert rerun.success
    assert len(env.sim.catalog_writes.writes) == calls  # Bling is right: nothing sent
    assert _audit(env, rerun.run_id) == {}

    # The price moves on the marketplace: only that link is rewritten, in place.
    with env.engine.begin() as conn:
        conn.execute(
            sa.update(schema.listings)
            .where(schema.listings.c.listing_id == "MLB100")
            .values(price=Decimal("64.90"))
        )
    moved = _run(env)
    changed = _audit(env, moved.run_id)
    assert list(changed) == [("CAM01-VRM-P", ML)]
    assert changed[("CAM01-VRM-P", ML)]["action"] == "update_link"
    link = env.sim.catalog_writes.link_of(ids["CAM01-VRM-P"], loja_id_for(ML))
    assert link is not None and link.preco == 64.9
    assert len(env.sim.catalog_writes.vinculos) == 3


def test_a_refusal_lands_on_the_right_product_and_the_others_are_written(env: Env) -> None:
    too_long = "Algodão orgânico penteado fio 30.1 com elastano"  # Material takes 30
    _seed(env.engine, {**ATTRIBUTES, ("MOL01-CNZ-P", "material"): too_long})
    result = _run(env)
    assert result.success
    audit = _audit(env, result.run_id)
    refused = audit[("MOL01-CNZ-P", "")]
    assert refused["status"] == "refused"
    assert refused["code"] == "VALIDATION_ERROR"
    assert "Material aceita no máximo 30 caracteres" in refused["message"]
    assert "camposCustomizados[0].valor" in refused["message"]
    others = {k: r["status"] for k, r in audit.items() if k != ("MOL01-CNZ-P", "")}
    assert set(others.values()) == {"written"}
    [check] = result.get_asset_check_evaluations()
    assert not check.passed
    assert "MOL01-CNZ-P" in str(check.metadata["not_accepted"].value)

    # The refused product is retried by the next run; nothing else is rewritten.
    again = _run(env)
    assert list(_audit(env, again.run_id)) == [("MOL01-CNZ-P", "")]


def test_the_damage_limit_writes_nothing(env: Env) -> None:
    _seed(env.engine, ATTRIBUTES)
    result = _run(env, max_writes=3)
    assert result.success
    assert env.sim.catalog_writes.writes == []
    metadata = result.asset_materializations_for_node("bling_catalog_writeback")[0].metadata
    assert "above the damage limit of 3" in metadata["tenants_not_written"].value["default"]


def test_sandbox_refuses_what_bling_refuses(env: Env) -> None:
    ids = _ids(env)
    client = env.client()
    loja = loja_id_for(ML)
    try:
        with pytest.raises(WriteRefused, match=r"categoria\.id: Categoria não encontrada"):
            client.patch_product(ids["CAM01"], ProductPatch(category_id=1))
        with pytest.raises(WriteRefused, match=r"Campo customizado 42 não encontrado"):
            client.patch_product(ids["CAM01-VRM-P"], ProductPatch(custom_values={42: "x"}))
        inactive = env.sim.catalog_writes.campo_id("Garantia (antigo)")
        with pytest.raises(WriteRefused, match=r"Garantia \(antigo\) está inativo"):
            client.patch_product(ids["CAM01-VRM-P"], ProductPatch(custom_values={inactive: "1"}))
        with pytest.raises(WriteRefused, match=r"loja\.id: Loja não encontrada"):
            client.create_store_link(ids["CAM01-VRM-P"], 12345, "MLB1")
        with pytest.raises(WriteRefused, match=r"produto\.id: Produto não encontrado"):
            client.create_store_link(1, loja, "MLB1")
        first = client.create_store_link(ids["CAM01-VRM-P"], loja, "MLB1", Decimal("10.00"))
        with pytest.raises(WriteRefused, match=r"já está vinculado a esta loja") as refused:
            client.create_store_link(ids["CAM01-VRM-P"], loja, "MLB2")
        assert refused.value.code == "VALIDATION_ERROR"
        with pytest.raises(WriteRefused, match=r"RESOURCE_NOT_FOUND|não encontrado"):
            client.update_store_link(first + 1, ids["CAM01-VRM-P"], loja, "MLB1")
        # Every refusal was all-or-nothing: one link, and the product untouched.
        assert [x.id for x in client.store_links(product_id=ids["CAM01-VRM-P"])] == [first]
        assert client.product_fields(ids["CAM01-VRM-P"]).custom_values == {}
    finally:
        client.close()


def test_link_writes_meet_429_in_bling_envelope_and_the_client_retries(env: Env) -> None:
    ids = _ids(env)
    # Seeded faults: some requests are answered 429 TOO_MANY_REQUESTS with Retry-After.
    env.running.sandbox.faults.update(rate_429=0.3)
    client = env.client()
    try:
        link = client.create_store_link(ids["CAM01-VRM-P"], loja_id_for(ML), "MLB7", None)
        # Enough calls that a 429 comes whatever earlier tests drew from the seeded faults
        # (0.7**16 ≈ 0.3 % that none does).
        for _ in range(15):
            client.update_store_link(link, ids["CAM01-VRM-P"], loja_id_for(ML), "MLB7")
        assert [x.id for x in client.store_links(loja_id=loja_id_for(ML))] == [link]
    finally:
        env.running.sandbox.faults.update(rate_429=0)
        client.close()
    assert client.http.stats["errors.RateLimitedError"] > 0
    assert client.http.stats["retries"] > 0
    assert len(env.sim.catalog_writes.vinculos) == 1  # a retried POST made one link


def test_lojas_mapping_is_parsed_and_a_bad_entry_is_named() -> None:
    assert parse_lojas(f" {ML}=203 ,\n{SHOPEE}=204,") == {ML: 203, SHOPEE: 204}
    with pytest.raises(LojasError, match=r"'shopee-1=abc' is not store_id=loja_id"):
        parse_lojas("shopee-1=abc")
    with pytest.raises(LojasError, match="two loja ids"):
        parse_lojas("a=1,a=2")
