"""Normalization assets: internal tree, its Bling sync, marketplace trees and rules,
category mappings, normalized attributes and listing readiness.

The internal tree and its mappings are the deployment's (one SYNCHUB_CATEGORY_TREE_FILE);
everything about a product — its normalized attributes, per-marketplace values and
readiness — is its tenant's, judged on the marketplaces that tenant's stores are on.
"""

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import Field, ValidationError

from synchub_pipelines import settings
from synchub_pipelines.defs.catalog.assets import central_products
from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.common import OWNERS, quarantine, write_metadata
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.normalization import bling_sync
from synchub_pipelines.defs.normalization.attributes import Normalized, attribute_key, normalize
from synchub_pipelines.defs.normalization.attributes_file import (
    SOURCE as ATTRIBUTES_SOURCE,
)
from synchub_pipelines.defs.normalization.attributes_file import (
    AttributesFileError,
    load_attributes,
)
from synchub_pipelines.defs.normalization.mapping import CategoryMapping, map_category
from synchub_pipelines.defs.normalization.marketplace_values import fit
from synchub_pipelines.defs.normalization.readiness import MappingState, judge
from synchub_pipelines.defs.normalization.sources import (
    category_sources,
    client_of,
    skipped,
    tenant_marketplaces,
)
from synchub_pipelines.defs.normalization.store import (
    batch_of,
    category_rows,
    load_marketplace_categories,
    load_products,
    load_rules,
    replace,
    rule_rows,
)
from synchub_pipelines.defs.normalization.tree_file import (
    CategoryTree,
    CategoryTreeError,
    load_tree,
)
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stores.tenants import (
    DEFAULT_TENANT,
    TenantsFileError,
    UnknownTenant,
    file_tenant,
    tenant_names,
    tenant_source,
)
from synchub_pipelines.marketplaces.base import reject
from synchub_pipelines.marketplaces.categories.models import AttributeRule
from synchub_pipelines.marketplaces.errors import MarketplaceError
from synchub_pipelines.warehouse import schema
from synchub_pipelines.warehouse import schema_normalization as tables

GROUP = "normalization"
DEMO_DIR = settings.PROJECT_ROOT / "synchub_pipelines" / "demo"
TAGS = {"domain": "normalization"}


def tree_file() -> Path:
    return Path(os.environ.get("SYNCHUB_CATEGORY_TREE_FILE") or DEMO_DIR / "categories.csv")


def attributes_file() -> Path | None:
    """SYNCHUB_PRODUCT_ATTRIBUTES_FILE; the demo's file when unset; none if that is absent."""
    configured = os.environ.get("SYNCHUB_PRODUCT_ATTRIBUTES_FILE")
    if configured:
        return Path(configured)
    demo = DEMO_DIR / "product_attributes.csv"
    return demo if demo.is_file() else None


def tenant_attributes_file(tenant: str) -> Path | None:
    """The default tenant's SYNCHUB_PRODUCT_ATTRIBUTES_FILE; another tenant's
    `product_attributes_file` (none when the tenant is not configured)."""
    if tenant == DEFAULT_TENANT:
        return attributes_file()
    try:
        settings_of = file_tenant(tenant)
    except UnknownTenant:
        return None
    except TenantsFileError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    chosen = settings_of.product_attributes_file if settings_of else None
    return Path(chosen) if chosen else None


def _whose(tenant: str, sku: str) -> str:
    return sku if tenant == DEFAULT_TENANT else f"{tenant}/{sku}"


def read_tree() -> CategoryTree:
    try:
        return load_tree(tree_file())
    except CategoryTreeError as exc:
        raise dg.Failure(f"the category tree was not loaded: {exc}") from None


def _table(rows: list[list[str]], header: list[str], limit: int = 40) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows[:limit]
    ]
    if len(rows) > limit:
        lines.append(f"\n… and {len(rows) - limit} more")
    return dg.MetadataValue.md("\n".join(lines))


# --- internal tree and Bling ---------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    description=(
        "The merchant's internal category tree (SYNCHUB_CATEGORY_TREE_FILE, a CSV of id, "
        "name, parent and per-marketplace manual mappings) in `categories` with source "
        "'internal', once per tenant (every tenant's catalog uses the same tree). A tree "
        "with a duplicate id, an unknown parent or a cycle is refused whole."
    ),
)
def internal_categories(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    tree = read_tree()
    try:
        tenants = tenant_names()
    except TenantsFileError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    batch = batch_of(
        schema.categories,
        [
            (tenant, n.category_id, n.name, n.parent_id, n.path, "internal")
            for tenant in tenants
            for n in tree.nodes
        ],
    )
    with warehouse.engine().begin() as conn:
        changed = replace(conn, batch, schema.categories.c.source == "internal")
    manual = Counter(m for n in tree.nodes for m in n.mappings)
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "categories",
            len(tree.nodes),
            changed,
            file=dg.MetadataValue.path(str(tree_file())),
            depth=max(n.depth for n in tree.nodes) + 1,
            manual_mappings=dg.MetadataValue.json(dict(manual)),
            tree=_table(
                [
                    [n.category_id, n.path, ", ".join(f"{k}={v}" for k, v in n.mappings.items())]
                    for n in tree.nodes
                ],
                ["id", "path", "manual mappings"],
            ),
        )
    )


class BlingSyncConfig(dg.Config):
    dry_run: bool = Field(
        default=False, description="Only show the plan (run metadata); change nothing"
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    deps=[internal_categories],
    description=(
        "Bling's product categories made to follow the internal tree: created, renamed and "
        "moved (idempotent; a second run changes nothing). With dry_run the plan is shown and "
        "nothing is written. Links in `bling_category_links`, changes in `category_sync_log`."
    ),
)
def bling_category_sync(
    context: dg.AssetExecutionContext,
    config: BlingSyncConfig,
    warehouse: WarehouseResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    tree = read_tree()
    engine = warehouse.engine()
    client = catalog.bling.client(warehouse)
    try:
        if config.dry_run:
            result = bling_sync.plan(tree, client.categories(), bling_sync.load_links(engine))
        else:
            result = bling_sync.apply(client, engine, tree, context.run.run_id)
    except MarketplaceError as exc:
        raise dg.Failure(f"the Bling category sync stopped: {exc}") from None
    finally:
        client.close()
    actions: Counter[str] = Counter(c.action for c in result.changes)
    verb = "would change" if config.dry_run else "changed"
    context.log.info(
        f"Bling category sync {verb} {len(result.changes)} categories: {dict(actions)}"
    )
    return dg.MaterializeResult(
        metadata={
            "dry_run": config.dry_run,
            "changes": dg.MetadataValue.json(dict(actions)),
            "plan" if config.dry_run else "applied": dg.MetadataValue.md(
                bling_sync.plan_table(result.changes)
            ),
            "unmanaged_bling_categories": dg.MetadataValue.json(
                [f"{c.id} {c.descricao}" for c in result.unmanaged]
            ),
            "dagster/table_name": "category_sync_log",
        }
    )


# --- marketplace trees, mappings, attribute rules -------------------------------------------


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    description=(
        "Each connected marketplace's category tree (`marketplace_categories`), fetched with "
        "any of its stores' clients: trees are per site, not per store. Refreshed weekly."
    ),
)
def marketplace_categories(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    counts: dict[str, int] = {}
    problems: list[str] = []
    changed: dict[str, int] = {}
    t = tables.marketplace_categories
    for source in category_sources(warehouse):
        try:
            with client_of(source, marketplaces, warehouse) as client:
                tree = source.module.fetch_tree(client)
        except (MarketplaceError, dg.Failure, ValidationError) as exc:
            problems.append(skipped(context, source, exc))
            continue
        with warehouse.engine().begin() as conn:
            for k, v in replace(
                conn, category_rows(tree), t.c.marketplace == source.marketplace
            ).items():
                changed[k] = changed.get(k, 0) + v
        counts[source.marketplace] = len(tree)
    if problems and not counts:
        raise dg.Failure("no marketplace tree could be fetched: " + "; ".join(problems))
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "marketplace_categories",
            sum(counts.values()),
            changed,
            categories_per_marketplace=dg.MetadataValue.json(counts),
            skipped=dg.MetadataValue.json(problems),
        )
    )


def _sample_titles(tree: CategoryTree, products: list[Any]) -> dict[str, str]:
    """A product title per internal category (the first SKU's), the predictors' input."""
    titles: dict[str, str] = {}
    for product in products:
        node = tree.resolve(product["category"])
        if node is not None and not product["is_kit"]:
            titles.setdefault(node.category_id, product["name"])
    return titles


def _stored_mappings(conn: sa.Connection) -> dict[tuple[str, str], CategoryMapping]:
    t = tables.category_mappings
    return {
        (r.category_id, r.marketplace): CategoryMapping(
            r.category_id,
            r.marketplace,
            r.marketplace_category_id,
            r.marketplace_category_path,
            r.status,
            r.based_on,
            r.reason,
        )
        for r in conn.execute(sa.select(t))
    }


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    deps=[internal_categories, marketplace_categories, central_products],
    description=(
        "Internal category → each marketplace's category (`category_mappings`). Manual "
        "mappings from the tree file win; otherwise the marketplace's predictor (ML domain "
        "discovery, TikTok recommendation, Shopee category_recommend) suggests one, marked "
        "'suggested' with what it was based on. Mappings to vanished categories are 'invalid'."
    ),
)
def category_mappings(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    tree = read_tree()
    engine = warehouse.engine()
    trees = load_marketplace_categories(engine)
    products = load_products(engine)
    titles = _sample_titles(tree, products)
    parents = {n.parent_id for n in tree.nodes}
    wanted = [n for n in tree.nodes if n.category_id not in parents or n.category_id in titles]
    with engine.connect() as conn:
        stored = _stored_mappings(conn)
    mappings: list[CategoryMapping] = []
    problems: list[str] = []
    for source in category_sources(warehouse):
        try:
            with client_of(source, marketplaces, warehouse) as client:

                def ask(text: str, client: Any = client, module: Any = source.module) -> Any:
                    return module.suggest(client, text)

                for node in wanted:
                    mappings.append(
                        map_category(
                            node,
                            source.marketplace,
                            trees.get(source.marketplace, {}),
                            titles.get(node.category_id, node.path.replace(" > ", " ")),
                            stored.get((node.category_id, source.marketplace)),
                            ask,
                        )
                    )
        except (MarketplaceError, dg.Failure, ValidationError) as exc:
            problems.append(skipped(context, source, exc))
            mappings = [m for m in mappings if m.marketplace != source.marketplace]
            mappings += [
                stored[key]
                for key in stored
                if key[1] == source.marketplace and key[0] in {n.category_id for n in wanted}
            ]
    with engine.begin() as conn:
        changed = replace(conn, batch_of(tables.category_mappings, [m.row() for m in mappings]))
    statuses = Counter(f"{m.marketplace}:{m.status}" for m in mappings)
    for m in mappings:
        if m.status == "invalid":
            context.log.warning(f"mapping {m.category_id} → {m.marketplace}: {m.reason}")
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "category_mappings",
            len(mappings),
            changed,
            statuses=dg.MetadataValue.json(dict(statuses)),
            skipped=dg.MetadataValue.json(problems),
            mappings=_table(
                [
                    [
                        m.category_id,
                        m.marketplace,
                        m.status,
                        m.marketplace_category_id or "—",
                        m.marketplace_category_path or "—",
                        m.reason or m.based_on,
                    ]
                    for m in mappings
                ],
                ["category", "marketplace", "status", "target", "target path", "why"],
            ),
        )
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    deps=[category_mappings],
    description=(
        "The attribute rules of every marketplace category a mapping points at "
        "(`marketplace_required_attributes`): required / conditional / catalog-only, value "
        "type, closed value lists, allowed units; TikTok's category rules included."
    ),
)
def marketplace_required_attributes(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    engine = warehouse.engine()
    t = tables.category_mappings
    with engine.connect() as conn:
        targets = conn.execute(
            sa.select(t.c.marketplace, t.c.marketplace_category_id)
            .where(t.c.status.in_(("manual", "suggested")))
            .distinct()
        ).all()
    by_marketplace: dict[str, set[str]] = {}
    for marketplace, category_id in targets:
        by_marketplace.setdefault(marketplace, set()).add(category_id)
    problems: list[str] = []
    counts: Counter[str] = Counter()
    changed: dict[str, int] = {}
    for source in category_sources(warehouse):
        rules: list[AttributeRule] = []
        try:
            with client_of(source, marketplaces, warehouse) as client:
                for category_id in sorted(by_marketplace.get(source.marketplace, ())):
                    rules += source.module.fetch_attributes(client, category_id)
        except (MarketplaceError, dg.Failure, ValidationError) as exc:
            problems.append(skipped(context, source, exc))
            continue
        scope = tables.marketplace_required_attributes.c.marketplace == source.marketplace
        with engine.begin() as conn:
            for k, v in replace(conn, rule_rows(rules), scope).items():
                changed[k] = changed.get(k, 0) + v
        counts.update(f"{r.marketplace}:{r.requirement}" for r in rules)
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "marketplace_required_attributes",
            sum(counts.values()),
            changed,
            requirements=dg.MetadataValue.json(dict(counts)),
            categories=dg.MetadataValue.json({k: len(v) for k, v in by_marketplace.items()}),
            skipped=dg.MetadataValue.json(problems),
        )
    )


# --- product attributes and readiness --------------------------------------------------------


def _normalized_values(
    products: list[Any], context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> tuple[dict[tuple[str, str], dict[str, Normalized]], int]:
    """(tenant, SKU) → normalized attributes, each tenant with its own attributes file."""
    by_tenant: dict[str, list[Any]] = {}
    for p in products:
        by_tenant.setdefault(p["tenant"], []).append(p)
    values: dict[tuple[str, str], dict[str, Normalized]] = {}
    rejected = 0
    for tenant, mine in sorted(by_tenant.items()):
        found, quarantined = _tenant_values(tenant, mine, context, warehouse)
        values.update(((tenant, sku), attrs) for sku, attrs in found.items())
        rejected += quarantined
    return values, rejected


def _tenant_values(
    tenant: str,
    products: list[Any],
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
) -> tuple[dict[str, dict[str, Normalized]], int]:
    values: dict[str, dict[str, Normalized]] = {}
    children: dict[str, list[str]] = {}
    for p in products:
        mine = values.setdefault(p["sku"], {})
        for column in ("brand", "color", "size", "gtin"):
            if p[column] is not None:
                mine[column] = normalize(column, str(p[column]), "catalog")
        if p["weight_g"] is not None:
            mine["weight"] = normalize("weight", f"{p['weight_g']} g", "catalog")
        if p["parent_sku"]:
            children.setdefault(p["parent_sku"], []).append(p["sku"])
    path = tenant_attributes_file(tenant)
    if path is None:
        return values, 0
    try:
        extra = load_attributes(path)
    except AttributesFileError as exc:
        raise dg.Failure(str(exc)) from None
    rejects = list(extra.rejects)
    for row in extra.rows:
        skus = [row.sku] if row.sku in values else children.get(row.sku, [])
        if not skus:
            reason = f"line {row.line}: unknown SKU or parent SKU {row.sku}"
            rejects.append(reject(ATTRIBUTES_SOURCE, "", f"line {row.line}", reason, row.__dict__))
            continue
        key = attribute_key(row.attribute)
        for sku in skus:
            values[sku][key] = normalize(key, row.value, "attributes_file")
    suffix = tenant_source(tenant)
    if suffix:
        rejects = [r.model_copy(update={"source": r.source + suffix}) for r in rejects]
    return values, quarantine(warehouse, rejects, context)


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    deps=[central_products],
    description=(
        "Central products' attributes normalized per tenant × SKU "
        "(`product_attributes_normalized`): brand, colour, size, material in canonical names, "
        "weights in g and dimensions in cm, GTINs check-digit validated. Extra attributes come "
        "from SYNCHUB_PRODUCT_ATTRIBUTES_FILE (other tenants: product_attributes_file in the "
        "tenants file). Rejected values stay with their reason (status 'rejected')."
    ),
)
def product_attributes_normalized(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    products = load_products(warehouse.engine())
    values, rejected_rows = _normalized_values(products, context, warehouse)
    rows = [
        (
            tenant,
            sku,
            key,
            n.value,
            n.unit,
            n.raw_value,
            n.source,
            "ok" if n.ok else "rejected",
            n.reason,
        )
        for (tenant, sku), attrs in values.items()
        for key, n in sorted(attrs.items())
    ]
    with warehouse.engine().begin() as conn:
        changed = replace(conn, batch_of(tables.product_attributes_normalized, rows))
    bad = [r for r in rows if r[7] == "rejected"]
    for r in bad[:5]:
        context.log.warning(f"{_whose(r[0], r[1])} {r[2]}: {r[8]}")
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "product_attributes_normalized",
            len(rows),
            changed,
            rejected_rows,
            rejected_values=len(bad),
            attributes=dg.MetadataValue.json(dict(Counter(r[2] for r in rows))),
            rejects=_table(
                [[_whose(r[0], r[1]), r[2], r[5], r[8] or ""] for r in bad],
                ["sku", "attribute", "given", "reason"],
            ),
            attributes_file=str(attributes_file() or "none"),
        )
    )


def _load_normalized(conn: sa.Connection) -> dict[tuple[str, str], dict[str, Normalized]]:
    t = tables.product_attributes_normalized
    out: dict[tuple[str, str], dict[str, Normalized]] = {}
    for r in conn.execute(sa.select(t)):
        out.setdefault((r.tenant, r.sku), {})[r.attribute] = Normalized(
            r.attribute, r.value, r.unit, r.raw_value, r.source, r.reason
        )
    return out


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    deps=[product_attributes_normalized, marketplace_required_attributes, category_mappings],
    description=(
        "Per tenant's product × marketplace its stores are on: can it be listed, and if not "
        "exactly which attribute is missing or invalid (`listing_readiness`), with each "
        "attribute's value fitted to the marketplace's closed lists and units "
        "(`product_marketplace_attributes`)."
    ),
)
def listing_readiness(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    tree = read_tree()
    engine = warehouse.engine()
    products = load_products(engine)
    rules = load_rules(engine)
    marketplaces_of = tenant_marketplaces(warehouse)
    with engine.connect() as conn:
        values = _load_normalized(conn)
        stored = _stored_mappings(conn)
    readiness_rows = []
    value_rows = []
    missing_counter: Counter[str] = Counter()
    for p in products:
        node = tree.resolve(p["category"])
        for marketplace in marketplaces_of.get(p["tenant"], []):
            mapping = stored.get((node.category_id, marketplace)) if node else None
            state = (
                MappingState(
                    mapping.marketplace_category_id,
                    mapping.status,
                    mapping.marketplace_category_path,
                    mapping.reason,
                )
                if mapping
                else None
            )
            fitted = []
            if state and state.status in ("manual", "suggested") and state.marketplace_category_id:
                for rule in rules.get((marketplace, state.marketplace_category_id), []):
                    item = fit(rule, values.get((p["tenant"], p["sku"]), {}), p["sku"])
                    if rule.requirement != "optional" or item.status != "missing":
                        fitted.append(item)
            verdict = judge(p["sku"], marketplace, node.path if node else None, state, fitted)
            if node is None and p["category"]:
                verdict.missing = [f"category: {p['category']!r} is not in the internal tree"]
            readiness_rows.append(
                (
                    p["tenant"],
                    p["sku"],
                    marketplace,
                    verdict.ready,
                    verdict.marketplace_category_id,
                    json.dumps(verdict.missing, ensure_ascii=False),
                    json.dumps(verdict.invalid, ensure_ascii=False),
                    json.dumps(verdict.notes, ensure_ascii=False),
                )
            )
            missing_counter.update(f"{marketplace}: {m}" for m in verdict.missing)
            missing_counter.update(
                f"{marketplace}: {i.split(':')[0]} (invalid)" for i in verdict.invalid
            )
            value_rows += [
                (
                    p["tenant"],
                    p["sku"],
                    marketplace,
                    f.rule.attribute_id,
                    f.rule.name,
                    f.value_id,
                    f.value_name,
                    f.status,
                    f.reason,
                )
                for f in fitted
            ]
    with engine.begin() as conn:
        changed = replace(conn, batch_of(tables.product_marketplace_attributes, value_rows))
        changed.update(replace(conn, batch_of(tables.listing_readiness, readiness_rows)))
    ready = Counter(r[2] for r in readiness_rows if r[3])
    total = Counter(r[2] for r in readiness_rows)
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "listing_readiness",
            len(readiness_rows),
            changed,
            ready=dg.MetadataValue.json({m: f"{ready[m]}/{total[m]}" for m in total}),
            top_blockers=dg.MetadataValue.json(dict(missing_counter.most_common(10))),
        )
    )


@dg.asset_check(
    asset=listing_readiness,
    description=(
        "Every tenant's product × marketplace of that tenant's stores has a readiness row, "
        "and every row that is not ready names at least one missing or invalid attribute (so "
        "operators know what to fix)."
    ),
    blocking=False,
)
def listing_readiness_is_explained(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    engine = warehouse.engine()
    t = tables.listing_readiness
    marketplaces_of = tenant_marketplaces(warehouse)
    products = schema.central_products
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t)).all()
        skus = {
            (r.tenant, r.sku) for r in conn.execute(sa.select(products.c.tenant, products.c.sku))
        }
    present = {(r.tenant, r.sku, r.marketplace) for r in rows}
    uncovered = sorted(
        f"{_whose(tenant, sku)} × {m}"
        for tenant, sku in skus
        for m in marketplaces_of.get(tenant, [])
        if (tenant, sku, m) not in present
    )
    unexplained = sorted(
        f"{_whose(r.tenant, r.sku)} × {r.marketplace}"
        for r in rows
        if not r.ready and not json.loads(r.missing) and not json.loads(r.invalid)
    )
    ready = sum(1 for r in rows if r.ready)
    return dg.AssetCheckResult(
        passed=not uncovered and not unexplained,
        metadata={
            "rows": len(rows),
            "ready": ready,
            "not_ready": len(rows) - ready,
            "without_row": dg.MetadataValue.json(uncovered[:20]),
            "not_ready_without_reason": dg.MetadataValue.json(unexplained[:20]),
        },
    )
