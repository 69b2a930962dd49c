"""The central catalog: each tenant's SKUs, kits and stock on hand (source of truth).

One run refreshes every tenant's catalog, each from its own source and in its own
transaction: a tenant whose source fails (a Bling outage, a broken file) fails the run
with its name, and the other tenants' catalogs are still written.
"""

from collections.abc import Callable
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from synchub_pipelines.defs.catalog.source import CatalogResource, category_batch
from synchub_pipelines.defs.common import OWNERS, quarantine, write_metadata
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stores.tenants import DEFAULT_TENANT, Tenant, tenant_source
from synchub_pipelines.models import Rejected
from synchub_pipelines.warehouse import schema, upsert
from synchub_pipelines.warehouse.rows import product_batches, stock_batch

GROUP = "catalog"


class CatalogConfig(dg.Config):
    tenants: list[str] = Field(
        default_factory=list,
        description="refresh only these tenants' catalogs (empty: every tenant)",
    )


def chosen_tenants(catalog: CatalogResource, config: CatalogConfig) -> list[Tenant]:
    tenants = catalog.tenants()
    if not config.tenants:
        return tenants
    known = {t.name: t for t in tenants}
    unknown = [name for name in config.tenants if name not in known]
    if unknown:
        raise dg.Failure(
            f"unknown tenant(s) {', '.join(unknown)}: known are {', '.join(known)}",
            allow_retries=False,
        )
    return [known[name] for name in config.tenants]


def tenant_rejects(rejects: list[Rejected], tenant: Tenant) -> list[Rejected]:
    """Rejected records named per tenant, so two tenants' bad rows of the same SKU are kept
    apart in `ingest_errors`."""
    suffix = tenant_source(tenant.name)
    return (
        [r.model_copy(update={"source": r.source + suffix}) for r in rejects] if suffix else rejects
    )


def each_tenant(
    tenants: list[Tenant], refresh: Callable[[Tenant], dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Refresh every tenant; then fail, naming each tenant that failed, if any did."""
    done: dict[str, dict[str, Any]] = {}
    failed: list[tuple[Tenant, dg.Failure]] = []
    for tenant in tenants:
        try:
            done[tenant.name] = refresh(tenant)
        except dg.Failure as exc:
            failed.append((tenant, exc))
    if len(failed) == 1 and len(tenants) == 1:
        raise failed[0][1]
    if failed:
        problems = "; ".join(_named(t, exc.description or "failed") for t, exc in failed)
        written = ", ".join(done) or "none"
        raise dg.Failure(
            f"{problems} (the other tenants' catalogs were written: {written})",
            metadata={"tenants_failed": dg.MetadataValue.json([t.name for t, _ in failed])},
        )
    return done


def _named(tenant: Tenant, description: str) -> str:
    prefix = f"tenant {tenant.name}: "
    return description if description.startswith(prefix) else prefix + description


def _summed(results: dict[str, dict[str, Any]], key: str) -> Any:
    return sum(r[key] for r in results.values())


def _changed(results: dict[str, dict[str, Any]]) -> dict[str, int]:
    changed: dict[str, int] = {}
    for result in results.values():
        for table, count in result["changed"].items():
            changed[table] = changed.get(table, 0) + count
    return changed


def _per_tenant(results: dict[str, dict[str, Any]], *keys: str) -> dict[str, Any]:
    """Per tenant figures, shown only where there is more than the default tenant."""
    if set(results) <= {DEFAULT_TENANT}:
        return {}
    return {
        "per_tenant": dg.MetadataValue.json(
            {name: {k: r[k] for k in keys} for name, r in results.items()}
        )
    }


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    description=(
        "Central catalog per tenant: one row per tenant × SKU (variations included) in "
        "`central_products`, kit compositions in `product_components`, and — from Bling — "
        "its category tree in `categories`. Source: the merchant's catalog file or Bling "
        "(SYNCHUB_CATALOG_SOURCE for the default tenant, SYNCHUB_TENANTS_FILE for the others)."
    ),
    tags={"domain": "catalog"},
)
def central_products(
    context: dg.AssetExecutionContext,
    config: CatalogConfig,
    warehouse: WarehouseResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    def refresh(tenant: Tenant) -> dict[str, Any]:
        snapshot = catalog.read_catalog(warehouse, tenant)
        if not snapshot.products:
            raise dg.Failure(
                f"the catalog at {snapshot.location} has no valid product; nothing was changed",
                metadata={"rejected_records": len(snapshot.rejects)},
            )
        products, components, prune = product_batches(
            snapshot.products, snapshot.components, tenant.name
        )
        batches = [products, components]
        if snapshot.categories:
            batches.append(category_batch(snapshot.categories, snapshot.source, tenant.name))
        with warehouse.engine().begin() as conn:
            changed = upsert.write(conn, batches, [prune])
            if snapshot.categories:
                # The source's tree is whole: a category deleted there goes here too.
                current = [n.category_id for n in snapshot.categories]
                gone = conn.execute(
                    sa.delete(schema.categories).where(
                        schema.categories.c.tenant == tenant.name,
                        schema.categories.c.source == snapshot.source,
                        schema.categories.c.category_id.not_in(current),
                    )
                )
                changed["categories_deleted"] = gone.rowcount
        rejected = quarantine(warehouse, tenant_rejects(snapshot.rejects, tenant), context)
        return {
            "changed": changed,
            "products": len(snapshot.products),
            "rejected": rejected,
            "kits": len({c.kit_sku for c in snapshot.components}),
            "categories": len(snapshot.categories),
            "source": f"{snapshot.source} ({snapshot.location})",
        }

    results = each_tenant(chosen_tenants(catalog, config), refresh)
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "central_products",
            _summed(results, "products"),
            _changed(results),
            _summed(results, "rejected"),
            kits=_summed(results, "kits"),
            categories=_summed(results, "categories"),
            source=dg.MetadataValue.text(
                "; ".join(
                    r["source"] if name == DEFAULT_TENANT else f"{name}: {r['source']}"
                    for name, r in results.items()
                )
            ),
            **_per_tenant(results, "products", "kits", "rejected", "source"),
        )
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=[central_products],
    description=(
        "Stock on hand per tenant × SKU × warehouse (`central_stock`), from each tenant's "
        "catalog source (the file's on_hand column, or Bling's physical balance per deposit)."
    ),
    tags={"domain": "catalog"},
)
def central_stock(
    context: dg.AssetExecutionContext,
    config: CatalogConfig,
    warehouse: WarehouseResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    def refresh(tenant: Tenant) -> dict[str, Any]:
        snapshot = catalog.read_stock(warehouse, tenant)
        changed = upsert.write(warehouse.engine(), [stock_batch(snapshot.stock, tenant.name)])
        rejected = quarantine(warehouse, tenant_rejects(snapshot.rejects, tenant), context)
        return {
            "changed": changed,
            "rows": len(snapshot.stock),
            "rejected": rejected,
            "units": sum(s.on_hand for s in snapshot.stock),
            "out_of_stock": sum(1 for s in snapshot.stock if s.on_hand == 0),
            "source": snapshot.source,
        }

    results = each_tenant(chosen_tenants(catalog, config), refresh)
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "central_stock",
            _summed(results, "rows"),
            _changed(results),
            _summed(results, "rejected"),
            units_on_hand=_summed(results, "units"),
            skus_out_of_stock=_summed(results, "out_of_stock"),
            source=dg.MetadataValue.text(
                "; ".join(
                    r["source"] if name == DEFAULT_TENANT else f"{name}: {r['source']}"
                    for name, r in results.items()
                )
            ),
            **_per_tenant(results, "rows", "units", "rejected", "source"),
        )
    )
