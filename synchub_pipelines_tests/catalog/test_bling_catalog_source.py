"""Bling as the catalog of record: the same sandbox world read from Bling and from the
catalog file gives the same central catalog, and `central_products` lands Bling's
categories beside it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from synchub_pipelines.connect import connect_bling
from synchub_pipelines.defs.catalog.assets import central_products, central_stock
from synchub_pipelines.defs.catalog.source import CatalogResource, source_from_env
from synchub_pipelines.defs.marketplaces import BlingResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.sandbox.bling import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines_tests.pipeline.harness import write_catalog

ACCOUNT = "bling-test"


def _bling(running: RunningSandbox) -> BlingResource:
    return BlingResource(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        api_url=f"{running.base_url('bling')}/Api/v3",
        account_id=ACCOUNT,
        # Far above the sandbox's 3/s on purpose: 429s must be absorbed by the client's retries.
        requests_per_second=3.0,
    )


def _connect(resource: BlingResource, warehouse: WarehouseResource) -> None:
    app = resource.app()
    url, state = app.authorization_url()
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlparse(answer.headers["location"]).query)
    assert query["state"] == [state]
    connect_bling(app, query["code"][0], warehouse.token_store(), ACCOUNT)


@pytest.fixture
def sources(
    sandbox: RunningSandbox, warehouse_url: str, tmp_path: Path
) -> tuple[WarehouseResource, CatalogResource, CatalogResource]:
    migrate(engine_for(warehouse_url))
    warehouse = WarehouseResource(url=warehouse_url)
    bling = _bling(sandbox)
    _connect(bling, warehouse)
    catalog_file = write_catalog(sandbox, tmp_path / "catalog.csv")
    return (
        warehouse,
        CatalogResource(source="file", file_path=str(catalog_file), bling=bling),
        CatalogResource(source="bling", file_path="", bling=bling),
    )


def test_bling_and_the_catalog_file_give_the_same_catalog_and_stock(
    sources: tuple[WarehouseResource, CatalogResource, CatalogResource],
) -> None:
    warehouse, from_file, from_bling = sources

    file_catalog = from_file.read_catalog(warehouse)
    bling_catalog = from_bling.read_catalog(warehouse)
    assert bling_catalog.rejects == []
    by_sku_file = {p.sku: p for p in file_catalog.products}
    by_sku_bling = {p.sku: p for p in bling_catalog.products}
    assert set(by_sku_bling) == set(by_sku_file)
    for sku, product in by_sku_file.items():
        other = by_sku_bling[sku]
        assert (other.name, other.parent_sku, other.gtin) == (
            product.name,
            product.parent_sku,
            product.gtin,
        ), sku
    kits = {(c.kit_sku, c.component_sku, c.quantity) for c in bling_catalog.components}
    assert kits and kits == {
        (c.kit_sku, c.component_sku, c.quantity) for c in file_catalog.components
    }
    assert bling_catalog.categories and all(
        c.category_id.startswith("bling:") for c in bling_catalog.categories
    )

    def on_hand(resource: CatalogResource) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in resource.read_stock(warehouse).stock:
            totals[row.sku] = totals.get(row.sku, 0) + row.on_hand
        return totals

    assert on_hand(from_bling) == on_hand(from_file)


def test_central_products_from_bling_lands_products_kits_and_categories_idempotently(
    sources: tuple[WarehouseResource, CatalogResource, CatalogResource],
) -> None:
    warehouse, _, from_bling = sources
    resources = {"warehouse": warehouse, "catalog": from_bling}

    def counts() -> dict[str, int]:
        with warehouse.engine().connect() as conn:
            return {
                table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("central_products", "product_components", "categories")
            }

    first = dg.materialize([central_products, central_stock], resources=resources)
    assert first.success
    landed = counts()
    assert all(landed.values()), landed
    with warehouse.engine().connect() as conn:
        sources_seen = set(conn.execute(sa.text("SELECT DISTINCT source FROM central_products")))
    assert sources_seen == {("bling",)}

    again = dg.materialize([central_products, central_stock], resources=resources)
    assert again.success
    assert counts() == landed


def test_an_unknown_catalog_source_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="SYNCHUB_CATALOG_SOURCE"):
        source_from_env("erp")
