"""Where the central catalog comes from: the merchant's catalog file, or the Bling ERP.

Both sources produce the same `CatalogSnapshot`, so the assets that write
`central_products`, `product_components`, `central_stock` and `categories` do not care
which one the merchant uses. `SYNCHUB_CATALOG_SOURCE` chooses (`file` by default) for the
default tenant; each further tenant names its own source in SYNCHUB_TENANTS_FILE (see
`defs/stores/tenants.py`). One Bling application serves every tenant; each tenant's Bling
company is its own account, with its own tokens and its own 3 requests a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from synchub_pipelines.defs.catalog.catalog_file import CatalogFileError, load_catalog
from synchub_pipelines.defs.marketplaces import BlingResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stores.tenants import (
    DEFAULT_TENANT,
    Tenant,
    TenantsFileError,
    file_tenants,
)
from synchub_pipelines.marketplaces import bling
from synchub_pipelines.marketplaces.bling import BlingClient
from synchub_pipelines.marketplaces.errors import MarketplaceError
from synchub_pipelines.models import CentralProduct, CentralStock, ProductComponent, Rejected
from synchub_pipelines.warehouse import schema
from synchub_pipelines.warehouse.upsert import Batch

CatalogSourceKind = Literal["file", "bling"]


@dataclass(frozen=True)
class CategoryNode:
    category_id: str
    name: str
    parent_id: str | None
    path: str


@dataclass
class CatalogSnapshot:
    """The whole catalog as one source holds it now, with what it could not accept."""

    source: str
    location: str
    products: list[CentralProduct] = field(default_factory=list)
    components: list[ProductComponent] = field(default_factory=list)
    categories: list[CategoryNode] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)


@dataclass
class StockSnapshot:
    source: str
    stock: list[CentralStock] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)


def bling_category_id(category_id: int) -> str:
    # Prefixed so Bling's numeric ids never collide with another tree's ids in `categories`.
    return f"bling:{category_id}"


def bling_categories(tree: list[bling.BlingCategory]) -> list[CategoryNode]:
    paths = bling.category_paths(tree)
    return [
        CategoryNode(
            category_id=bling_category_id(node.id),
            name=node.descricao,
            parent_id=bling_category_id(node.parent_id) if node.parent_id else None,
            path=paths.get(node.id, node.descricao),
        )
        for node in tree
    ]


def source_from_env(value: str | None) -> CatalogSourceKind:
    """`SYNCHUB_CATALOG_SOURCE`, checked here so a typo fails with the variable's name."""
    choice = (value or "file").strip().lower()
    if choice == "file":
        return "file"
    if choice == "bling":
        return "bling"
    raise ValueError(f"SYNCHUB_CATALOG_SOURCE must be 'file' or 'bling', not {value!r}")


class CatalogResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The catalog of record: a CSV/JSON file (merchants without ERP) or a Bling account."""

    source: CatalogSourceKind = Field(
        default="file", description="file | bling (SYNCHUB_CATALOG_SOURCE)"
    )
    file_path: str = Field(default="", description="Catalog file path (SYNCHUB_CATALOG_FILE)")
    bling: BlingResource

    @property
    def location(self) -> str:
        """Where the default tenant's catalog comes from."""
        return self.default_tenant().catalog_location

    def default_tenant(self) -> Tenant:
        return Tenant(DEFAULT_TENANT, self.source, self.file_path or None, self.bling.account_id)

    def tenants(self) -> list[Tenant]:
        """Whose catalogs the deployment keeps: `default` (this resource's settings) first,
        then the tenants of SYNCHUB_TENANTS_FILE."""
        try:
            return [self.default_tenant(), *file_tenants(self.bling.account_id)]
        except TenantsFileError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from None

    def bling_client(
        self, warehouse: WarehouseResource, tenant: Tenant | None = None
    ) -> BlingClient:
        """The tenant's Bling company (the default tenant's: SYNCHUB_BLING_ACCOUNT)."""
        if tenant is None or tenant.name == DEFAULT_TENANT or not tenant.bling_account:
            return self.bling.client(warehouse)
        tokens = warehouse.token_store()
        if tokens.load(bling.token_key(tenant.bling_account)) is None:
            raise dg.Failure(
                f"tenant {tenant.name}: no Bling account {tenant.bling_account!r} is "
                f"connected: run `synchub connect bling --tenant {tenant.name}`"
            )
        return BlingClient(self.bling.app(), tokens, tenant.bling_account)

    def read_catalog(
        self, warehouse: WarehouseResource, tenant: Tenant | None = None
    ) -> CatalogSnapshot:
        tenant = tenant or self.default_tenant()
        if tenant.catalog_source == "file":
            return self._file_catalog(tenant)
        client = self.bling_client(warehouse, tenant)
        try:
            snapshot = CatalogSnapshot(source="bling", location=tenant.catalog_location)
            snapshot.categories = bling_categories(client.categories())
            for page in client.iter_catalog():
                snapshot.rejects += page.rejects
                for entry in page.records:
                    snapshot.products.append(entry.product)
                    snapshot.components += entry.components
            return snapshot
        except MarketplaceError as exc:
            raise dg.Failure(
                f"{_whose(tenant)}reading the catalog from Bling failed: {exc}"
            ) from None
        finally:
            client.close()

    def read_stock(
        self, warehouse: WarehouseResource, tenant: Tenant | None = None
    ) -> StockSnapshot:
        tenant = tenant or self.default_tenant()
        if tenant.catalog_source == "file":
            catalog = self._load_file(tenant)
            return StockSnapshot(source="catalog_file", stock=catalog.stock)
        client = self.bling_client(warehouse, tenant)
        try:
            snapshot = StockSnapshot(source="bling")
            for page in client.iter_stock():
                snapshot.stock += page.records
                snapshot.rejects += page.rejects
            return snapshot
        except MarketplaceError as exc:
            raise dg.Failure(f"{_whose(tenant)}reading stock from Bling failed: {exc}") from None
        finally:
            client.close()

    def _load_file(self, tenant: Tenant):  # type: ignore[no-untyped-def]
        if not tenant.catalog_file:
            raise dg.Failure("no catalog file is set: set SYNCHUB_CATALOG_FILE")
        try:
            return load_catalog(Path(tenant.catalog_file))
        except CatalogFileError as exc:
            raise dg.Failure(f"{_whose(tenant)}{exc}") from None

    def _file_catalog(self, tenant: Tenant) -> CatalogSnapshot:
        catalog = self._load_file(tenant)
        return CatalogSnapshot(
            source="catalog_file",
            location=tenant.catalog_location,
            products=catalog.products,
            components=catalog.components,
            rejects=catalog.rejects,
        )


def _whose(tenant: Tenant) -> str:
    # The default tenant's messages read as they always have.
    return "" if tenant.name == DEFAULT_TENANT else f"tenant {tenant.name}: "


def category_batch(nodes: list[CategoryNode], source: str, tenant: str = DEFAULT_TENANT) -> Batch:
    batch = Batch.for_table(schema.categories)
    batch.rows.extend((tenant, n.category_id, n.name, n.parent_id, n.path, source) for n in nodes)
    return batch
