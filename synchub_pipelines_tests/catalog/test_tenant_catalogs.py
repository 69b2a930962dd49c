"""Each tenant's catalog from its own source, under its own name: the default tenant's file,
another tenant's file with the same SKUs, a third tenant's Bling company. A tenant whose
source fails is named, and the others are still written."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from synchub_pipelines.defs.catalog.assets import central_products, central_stock
from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.marketplaces import BlingResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.sandbox.bling import CLIENT_ID, CLIENT_SECRET
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines_tests.catalog.test_bling_catalog_source import _bling, _connect
from synchub_pipelines_tests.pipeline.harness import write_catalog

ACCOUNT = "bling-test"  # the account test_bling_catalog_source connects


def _acme_catalog(source: Path, path: Path) -> set[str]:
    """Half of the world's single products, with other stock: the same SKU codes."""
    rows = [r for r in csv.DictReader(source.open(encoding="utf-8")) if not r["components"]]
    rows = rows[: len(rows) // 2]
    for row in rows:
        row["on_hand"] = "3"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {r["sku"] for r in rows}


def _rows(warehouse: WarehouseResource, sql: str) -> list[Any]:
    with warehouse.engine().connect() as conn:
        return list(conn.execute(sa.text(sql)))


def test_every_tenant_gets_its_own_catalog(
    sandbox: RunningSandbox, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(engine_for(warehouse_url))
    warehouse = WarehouseResource(url=warehouse_url)
    # The default tenant keeps no catalog in Bling; lojax's Bling company is another account.
    bling = BlingResource(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        api_url=f"{sandbox.base_url('bling')}/Api/v3",
        account_id="matriz",
    )
    _connect(_bling(sandbox), warehouse)  # the Bling company lojax keeps its catalog in
    default_file = write_catalog(sandbox, tmp_path / "catalog.csv")
    acme_skus = _acme_catalog(default_file, tmp_path / "acme.csv")
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n"
        "  acme: {catalog_file: acme.csv}\n"
        f"  lojax: {{catalog_source: bling, bling_account: {ACCOUNT}}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SYNCHUB_TENANTS_FILE", str(tenants))
    resources = {
        "warehouse": warehouse,
        "catalog": CatalogResource(source="file", file_path=str(default_file), bling=bling),
    }

    first = dg.materialize([central_products, central_stock], resources=resources)
    assert first.success
    counts = dict(_rows(warehouse, "SELECT tenant, COUNT(*) FROM central_products GROUP BY tenant"))
    world = len(list(csv.DictReader(default_file.open(encoding="utf-8"))))
    assert counts == {"default": world, "acme": len(acme_skus), "lojax": world}
    acme_stock = _rows(
        warehouse, "SELECT DISTINCT on_hand FROM central_stock WHERE tenant = 'acme'"
    )
    assert acme_stock == [(3,)]
    assert _rows(warehouse, "SELECT DISTINCT tenant, source FROM categories") == [
        ("lojax", "bling")
    ]
    kits = _rows(warehouse, "SELECT DISTINCT tenant FROM product_components ORDER BY 1")
    assert kits == [("default",), ("lojax",)]
    meta = first.asset_materializations_for_node("central_products")[0].metadata
    assert set(meta["per_tenant"].value) == {"default", "acme", "lojax"}

    again = dg.materialize([central_products, central_stock], resources=resources)
    assert again.success
    changed = again.asset_materializations_for_node("central_products")[0].metadata
    assert not any(
        v for k, v in changed["rows_changed"].value.items() if not k.endswith("_deleted")
    )

    # One tenant's catalog breaks: it is named, and the others' are still refreshed.
    (tmp_path / "acme.csv").write_text("name,price\nCamiseta,10\n", encoding="utf-8")
    broken = dg.materialize(
        [central_products, central_stock],
        selection=[central_products],
        resources=resources,
        raise_on_error=False,
    )
    assert not broken.success
    failure = broken.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert "tenant acme: catalog file" in failure.message and "has no column sku" in failure.message
    assert failure.message.count("tenant acme") == 1
    assert "the other tenants' catalogs were written: default, lojax" in failure.message

    only = dg.materialize(
        [central_products],
        resources=resources,
        run_config={"ops": {"central_products": {"config": {"tenants": ["lojax"]}}}},
    )
    assert only.success
    assert only.asset_materializations_for_node("central_products")[0].metadata["source"].value == (
        f"lojax: bling (bling:{ACCOUNT})"
    )


def test_a_tenant_whose_bling_company_is_not_connected_is_told_how(
    sandbox: RunningSandbox, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants: {lojax: {catalog_source: bling, bling_account: lojax}}")
    monkeypatch.setenv("SYNCHUB_TENANTS_FILE", str(tenants))
    catalog = CatalogResource(
        source="file",
        file_path=str(write_catalog(sandbox, tmp_path / "catalog.csv")),
        bling=_bling(sandbox),
    )
    result = dg.materialize(
        [central_products],
        resources={"warehouse": WarehouseResource(url=sqlite_url), "catalog": catalog},
        run_config={"ops": {"central_products": {"config": {"tenants": ["lojax", "globex"]}}}},
        raise_on_error=False,
    )
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None and "unknown tenant(s) globex" in error.message

    result = dg.materialize(
        [central_products],
        resources={"warehouse": WarehouseResource(url=sqlite_url), "catalog": catalog},
        run_config={"ops": {"central_products": {"config": {"tenants": ["lojax"]}}}},
        raise_on_error=False,
    )
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    assert "run `synchub connect bling --tenant lojax`" in error.message
