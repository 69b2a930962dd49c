"""Where the central catalog comes from: the merchant's catalog file, or the Bling ERP.

Both sources produce the same `CatalogSnapshot`, so the assets that write
`central_products`, `product_components`, `central_stock` and `categories` do not care
which one the merchant uses. `SYNCHUB_CATALOG_SOURCE` chooses (`file` by default).
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
from synchub_pipelines.marketplaces import bling
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
        return self.file_path if self.source == "file" else f"bling:{self.bling.account_id}"

    def read_catalog(self, warehouse: WarehouseResource) -> CatalogSnapshot:
        if self.source == "file":
            return self._file_catalog()
        client = self.bling.client(warehouse)
        try:
            snapshot = CatalogSnapshot(source="bling", location=self.location)
            snapshot.categories = bling_categories(client.categories())
            for page in client.iter_catalog():
                snapshot.rejects += page.rejects
                for entry in page.records:
                    snapshot.products.append(entry.product)
                    snapshot.components += entry.components
            return snapshot
        except MarketplaceError as exc:
            raise dg.Failure(f"reading the catalog from Bling failed: {exc}") from None
        finally:
            client.close()

    def read_stock(self, warehouse: WarehouseResource) -> StockSnapshot:
        if self.source == "file":
            catalog = self._load_file()
            return StockSnapshot(source="catalog_file", stock=catalog.stock)
        client = self.bling.client(warehouse)
        try:
            snapshot = StockSnapshot(source="bling")
            for page in client.iter_stock():
                snapshot.stock += page.records
                snapshot.rejects += page.rejects
            return snapshot
        except MarketplaceError as exc:
            raise dg.Failure(f"reading stock from Bling failed: {exc}") from None
        finally:
            client.close()

    def _load_file(self):  # type: ignore[no-untyped-def]
        if not self.file_path:
            raise dg.Failure("no catalog file is set: set SYNCHUB_CATALOG_FILE")
        try:
            return load_catalog(Path(self.file_path))
        except CatalogFileError as exc:
            raise dg.Failure(str(exc)) from None

    def _file_catalog(self) -> CatalogSnapshot:
        catalog = self._load_file()
        return CatalogSnapshot(
            source="catalog_file",
            location=self.file_path,
            products=catalog.products,
            components=catalog.components,
            rejects=catalog.rejects,
        )


def category_batch(nodes: list[CategoryNode], source: str) -> Batch:
    batch = Batch.for_table(schema.categories)
    batch.rows.extend((n.category_id, n.name, n.parent_id, n.path, source) for n in nodes)
    return batch
