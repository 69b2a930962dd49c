"""Bling as the catalog of record, kept right: the central catalog's normalized category,
brand and attributes written back to each Bling product, and Bling's product–store links
(the marketplace listing id per store) kept for every linked listing.

Like the Bling category sync, Bling itself is the state: each run reads what Bling holds
(products in detail, custom fields, category tree, each store's links), plans only what
differs, then writes it — or, in a dry run, only audits the plan. A rerun that finds Bling
right plans nothing, writes nothing and records nothing. Every planned and real write is a
row of `bling_catalog_writes`; one product's refusal is recorded on that product and the
others still go.

What is written, per central product of a tenant whose Bling company is connected:
- its category: the internal category its catalog category resolves to, as the Bling
  category the category sync linked it to (`bling_category_links`, default tenant), else
  the Bling category with the same path. A variation's category is its parent's: Bling
  keeps one per product with variations, so the write goes to the parent.
- its brand (`marca`) from the normalized `brand`.
- every other normalized attribute that has a Bling custom field of the products module
  with the same name (folded: case, accents and spaces ignored), e.g. material →
  "Material", `país de origem` → "País de origem". Colour and size are the variation's name
  in Bling, and GTIN, weight and dimensions Bling's own fields: none of them is written.
- a link per (product, store): `codigo` = the listing id (`<listing>-<variation>` for a
  variation), `preco` = the listing's price. The store's Bling loja id comes from
  SYNCHUB_BLING_LOJAS (`store_id=loja_id,…`). A SKU listed twice in one store keeps the
  link of its first active listing (Bling holds one per product and store). Links the hub
  did not make are updated when they disagree, never deleted.
"""

import functools
import os
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import dagster as dg
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.common import OWNERS
from synchub_pipelines.defs.normalization.bling_sync import load_links
from synchub_pipelines.defs.normalization.tree_file import CategoryTree
from synchub_pipelines.defs.publishing.common import Outcome, attempt, summary
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stores.tenants import DEFAULT_TENANT, Tenant
from synchub_pipelines.marketplaces.bling import BlingCategory, BlingClient, category_paths
from synchub_pipelines.marketplaces.bling_writes import (
    BlingCustomField,
    BlingProductFields,
    BlingStoreLink,
    ProductPatch,
    fold,
)
from synchub_pipelines.marketplaces.errors import MarketplaceError
from synchub_pipelines.warehouse import schema, upsert
from synchub_pipelines.warehouse import schema_normalization as normalization
from synchub_pipelines.warehouse.schema_bling_catalog import bling_catalog_writes

GROUP = "publishing"
TAGS = {"domain": "publishing"}
LOJAS_ENV = "SYNCHUB_BLING_LOJAS"
CENT = Decimal("0.01")
# Attributes Bling keeps in its own fields or in the variation's name: never custom fields.
NOT_CUSTOM = frozenset({"brand", "color", "size", "gtin", "weight", "length", "width", "height"})
DEFAULT_MAX_WRITES = 2000

Action = Literal["update_product", "create_link", "update_link"]


# --- the store → Bling loja mapping ----------------------------------------------------------


class LojasError(ValueError):
    pass


def parse_lojas(text: str) -> dict[str, int]:
    """`store_id=loja_id` pairs separated by commas or new lines (SYNCHUB_BLING_LOJAS)."""
    lojas: dict[str, int] = {}
    for raw in text.replace("\n", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        store_id, sep, loja = (part.strip() for part in entry.partition("="))
        if not sep or not store_id or not loja.isdigit() or int(loja) <= 0:
            raise LojasError(
                f"{LOJAS_ENV}: {entry!r} is not store_id=loja_id (the loja id is Bling's "
                "positive number for the store)"
            )
        if store_id in lojas and lojas[store_id] != int(loja):
            raise LojasError(f"{LOJAS_ENV}: store {store_id} is given two loja ids")
        lojas[store_id] = int(loja)
    return lojas


def lojas_from_env() -> dict[str, int]:
    return parse_lojas(os.environ.get(LOJAS_ENV, ""))


# --- the inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    sku: str
    parent_sku: str | None
    category: str | None


@dataclass(frozen=True)
class Link:
    store_id: str
    listing_id: str
    variation_id: str
    sku: str
    price: Decimal | None
    active: bool

    @property
    def codigo(self) -> str:
        return (
            self.listing_id if not self.variation_id else f"{self.listing_id}-{self.variation_id}"
        )


@dataclass(frozen=True)
class CatalogInputs:
    """One tenant's side of the comparison, from the warehouse."""

    tenant: str
    products: list[Product]
    attributes: dict[str, dict[str, str]]  # SKU → normalized attribute → value
    links: list[Link]


def load_inputs(engine: Engine, tenant: str) -> CatalogInputs:
    cp = schema.central_products
    pan = normalization.product_attributes_normalized
    ll = schema.listing_links
    li = schema.listings
    with engine.connect() as conn:
        products = [
            Product(r.sku, r.parent_sku, r.category)
            for r in conn.execute(
                sa.select(cp.c.sku, cp.c.parent_sku, cp.c.category)
                .where(cp.c.tenant == tenant)
                .order_by(cp.c.sku)
            )
        ]
        attributes: dict[str, dict[str, str]] = {}
        for r in conn.execute(
            sa.select(pan.c.sku, pan.c.attribute, pan.c.value).where(
                pan.c.tenant == tenant, pan.c.status == "ok", pan.c.value.is_not(None)
            )
        ):
            attributes.setdefault(r.sku, {})[r.attribute] = str(r.value).strip()
        joined = ll.outerjoin(
            li,
            sa.and_(
                li.c.store_id == ll.c.store_id,
                li.c.listing_id == ll.c.listing_id,
                li.c.variation_id == ll.c.variation_id,
            ),
        )
        links = [
            Link(
                r.store_id,
                r.listing_id,
                r.variation_id,
                r.sku,
                r.price,
                r.status in (None, "active"),
            )
            for r in conn.execute(
                sa.select(
                    ll.c.store_id,
                    ll.c.listing_id,
                    ll.c.variation_id,
                    ll.c.sku,
                    li.c.price,
                    li.c.status,
                )
                .select_from(joined)
                .where(ll.c.tenant == tenant)
                .order_by(ll.c.store_id, ll.c.sku, ll.c.listing_id, ll.c.variation_id)
            )
        ]
    return CatalogInputs(tenant, products, attributes, links)


@dataclass
class BlingView:
    """What one Bling company holds, as far as the write-back compares it."""

    ids: dict[str, int]  # SKU → Bling product id
    parents: dict[int, int]  # variation id → parent id
    fields: dict[int, BlingProductFields]  # every product read in detail, variations too
    categories: list[BlingCategory]
    custom_fields: list[BlingCustomField]
    links: dict[int, list[BlingStoreLink]]  # loja id → its links
    codigos: dict[int, str] = field(default_factory=dict)  # Bling id → its SKU


def read_bling(client: BlingClient, inputs: CatalogInputs, loja_ids: Iterable[int]) -> BlingView:
    """Read what the plan compares: one list walk, one detail per top-level product that
    holds one of the tenant's SKUs (variations come inside their parent's), the category
    tree, the products module's custom fields and each mapped store's links."""
    ids = client.product_index()
    wanted = {p.sku for p in inputs.products} | {link.sku for link in inputs.links}
    parents: dict[int, int] = {}
    tops: list[int] = []
    for sku in sorted(wanted):
        product_id = ids.get(sku)
        if product_id is None:
            continue
        parent = client.parent_of(product_id)
        if parent is not None:
            parents[product_id] = parent
        top = parent if parent is not None else product_id
        if top not in tops:
            tops.append(top)
    fields: dict[int, BlingProductFields] = {}
    for top in tops:
        detail = client.product_fields(top)
        fields[detail.id] = detail
        for variation in detail.variacoes:
            fields[variation.id] = variation
            parents[variation.id] = detail.id
    return BlingView(
        ids=ids,
        parents=parents,
        fields=fields,
        categories=client.categories(),
        custom_fields=client.product_custom_fields(),
        links={loja: client.store_links(loja_id=loja) for loja in sorted(set(loja_ids))},
        codigos={v: k for k, v in ids.items()},
    )


# --- the plan --------------------------------------------------------------------------------


@dataclass
class PlannedWrite:
    tenant: str
    sku: str
    store_id: str  # '' for a product write
    action: Action
    bling_product_id: int
    before: dict[str, Any]
    request: dict[str, Any]
    patch: ProductPatch | None = None
    loja_id: int | None = None
    listing_id: str | None = None
    link_id: int | None = None
    codigo: str | None = None
    price: Decimal | None = None


@dataclass(frozen=True)
class Skip:
    tenant: str
    sku: str
    store_id: str
    reason: str


@dataclass
class CatalogPlan:
    writes: list[PlannedWrite] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    # Attributes no custom field takes: attribute → SKUs (told once, not per product).
    unmapped: dict[str, int] = field(default_factory=dict)


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def _bling_category_of(
    path_ids: Mapping[str, int],
    existing: set[int],
    tree: CategoryTree,
    links: Mapping[str, int],
    category: str | None,
) -> tuple[int | None, str | None]:
    """(Bling category id, None) or (None, why not) for a catalog category."""
    if not category:
        return None, None
    node = tree.resolve(category)
    if node is None:
        return None, f"category {category!r} is not in the internal tree"
    linked = links.get(node.category_id)
    if linked is not None and linked in existing:
        return linked, None
    found = path_ids.get(fold(node.path))
    if found is not None:
        return found, None
    return None, (f"category {node.path!r} is not in Bling: run bling_category_sync first")


def plan(
    inputs: CatalogInputs,
    bling: BlingView,
    tree: CategoryTree,
    category_links: Mapping[str, int],
    lojas: Mapping[str, int],
) -> CatalogPlan:
    """Pure: the writes that make Bling hold what the warehouse says, and what cannot be."""
    tenant = inputs.tenant
    out = CatalogPlan()
    path_ids = {fold(path): cid for cid, path in category_paths(bling.categories).items()}
    existing = {c.id for c in bling.categories}
    by_name: dict[str, BlingCustomField] = {}
    for known in bling.custom_fields:
        by_name.setdefault(fold(known.nome), known)

    patches: dict[int, dict[str, Any]] = {}  # Bling id → {"sku", "category", "brand", "custom"}
    category_votes: dict[int, set[int]] = {}
    for product in inputs.products:
        product_id = bling.ids.get(product.sku)
        current = bling.fields.get(product_id) if product_id is not None else None
        if product_id is None or current is None:
            out.skipped.append(Skip(tenant, product.sku, "", "not a product in Bling"))
            continue
        own = patches.setdefault(product_id, {"sku": product.sku, "custom": {}})
        attrs = inputs.attributes.get(product.sku, {})
        brand = attrs.get("brand")
        if brand and (current.marca or "").strip() != brand:
            own["brand"] = brand
        values = current.custom_values
        for attribute, value in sorted(attrs.items()):
            if attribute in NOT_CUSTOM:
                continue
            custom = by_name.get(fold(attribute))
            if custom is None:
                out.unmapped[attribute] = out.unmapped.get(attribute, 0) + 1
                continue
            if not custom.active:
                out.skipped.append(
                    Skip(
                        tenant,
                        product.sku,
                        "",
                        f"custom field {custom.nome!r} ({attribute}) is inactive in Bling",
                    )
                )
                continue
            if values.get(custom.id, "").strip() != value:
                own["custom"][custom.id] = value
        category_id, problem = _bling_category_of(
            path_ids, existing, tree, category_links, product.category
        )
        if problem:
            out.skipped.append(Skip(tenant, product.sku, "", problem))
        if category_id is not None:
            target = bling.parents.get(product_id, product_id)
            category_votes.setdefault(target, set()).add(category_id)

    for target, votes in category_votes.items():
        holder = bling.fields.get(target)
        sku = bling.codigos.get(target) or (holder.codigo if holder else str(target))
        if len(votes) > 1:
            out.skipped.append(
                Skip(
                    tenant,
                    sku,
                    "",
                    f"its variations resolve to different Bling categories {sorted(votes)}",
                )
            )
            continue
        (wanted,) = votes
        if holder is not None and holder.category_id != wanted:
            entry = patches.setdefault(target, {"sku": sku, "custom": {}})
            entry["category"] = wanted

    for product_id, entry in patches.items():
        patch = ProductPatch(
            category_id=entry.get("category"),
            brand=entry.get("brand"),
            custom_values=dict(entry["custom"]) or None,
        )
        if patch.empty:
            continue
        current = bling.fields[product_id]
        before: dict[str, Any] = {}
        if patch.category_id is not None:
            before["categoria"] = current.category_id
        if patch.brand is not None:
            before["marca"] = current.marca
        if patch.custom_values:
            now = current.custom_values
            before["camposCustomizados"] = {str(k): now.get(k) for k in patch.custom_values}
        out.writes.append(
            PlannedWrite(
                tenant,
                entry["sku"],
                "",
                "update_product",
                product_id,
                before,
                patch.body(),
                patch=patch,
            )
        )

    out.writes.extend(_plan_links(inputs, bling, lojas, out))
    return out


def _plan_links(
    inputs: CatalogInputs, bling: BlingView, lojas: Mapping[str, int], out: CatalogPlan
) -> list[PlannedWrite]:
    tenant = inputs.tenant
    writes: list[PlannedWrite] = []
    chosen: dict[tuple[str, str], Link] = {}
    for link in sorted(inputs.links, key=lambda k: (not k.active, k.listing_id, k.variation_id)):
        key = (link.sku, link.store_id)
        kept = chosen.get(key)
        if kept is None:
            chosen[key] = link
            continue
        out.skipped.append(
            Skip(
                tenant,
                link.sku,
                link.store_id,
                f"listing {link.codigo} not linked: Bling keeps one link per product and "
                f"store, and it is listing {kept.codigo}'s",
            )
        )
    unmapped_stores: set[str] = set()
    for (sku, store_id), link in sorted(chosen.items()):
        loja = lojas.get(store_id)
        if loja is None:
            if store_id not in unmapped_stores:
                unmapped_stores.add(store_id)
                out.skipped.append(
                    Skip(
                        tenant,
                        "",
                        store_id,
                        f"no Bling loja id for store {store_id}: add it to {LOJAS_ENV}",
                    )
                )
            continue
        product_id = bling.ids.get(sku)
        if product_id is None:
            out.skipped.append(Skip(tenant, sku, store_id, "not a product in Bling"))
            continue
        current = next((x for x in bling.links.get(loja, []) if x.product_id == product_id), None)
        price = _cents(link.price)
        body: dict[str, Any] = {
            "codigo": link.codigo,
            "produto": {"id": product_id},
            "loja": {"id": loja},
        }
        if price is not None:
            body["preco"] = str(price)
        if current is None:
            action: Action = "create_link"
            before: dict[str, Any] = {}
        else:
            same_price = price is None or _cents(current.preco) == price
            if current.codigo == link.codigo and same_price:
                continue
            action = "update_link"
            before = {
                "id": current.id,
                "codigo": current.codigo,
                "preco": None if current.preco is None else str(_cents(current.preco)),
            }
        writes.append(
            PlannedWrite(
                tenant,
                sku,
                store_id,
                action,
                product_id,
                before,
                body,
                loja_id=loja,
                listing_id=link.listing_id,
                link_id=current.id if current is not None else None,
                codigo=link.codigo,
                price=price,
            )
        )
    return writes


# --- carrying it out -------------------------------------------------------------------------


@dataclass
class TenantReport:
    tenant: str
    plan: CatalogPlan
    outcomes: list[tuple[PlannedWrite, Outcome]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(f"{w.action}:{o.status}" for w, o in self.outcomes))


def _write(client: BlingClient, write: PlannedWrite) -> int | None:
    if write.action == "update_product":
        assert write.patch is not None
        client.patch_product(write.bling_product_id, write.patch)
        return None
    assert write.loja_id is not None and write.codigo is not None
    if write.action == "create_link":
        return client.create_store_link(
            write.bling_product_id, write.loja_id, write.codigo, write.price
        )
    assert write.link_id is not None
    client.update_store_link(
        write.link_id, write.bling_product_id, write.loja_id, write.codigo, write.price
    )
    return None


def carry_out(
    engine: Engine,
    client: BlingClient | None,
    report: TenantReport,
    run_id: str,
    dry_run: bool,
    now: datetime | None = None,
) -> TenantReport:
    """Send each planned write (none in a dry run) and audit it, one row at a time, so a
    run cut short keeps the record of what it did."""
    for write in report.plan.writes:
        at = now or datetime.now(UTC)
        result: int | None = None
        if dry_run or client is None:
            outcome = Outcome("planned")
        else:
            result, outcome = attempt(functools.partial(_write, client, write))
        report.outcomes.append((write, outcome))
        batch = upsert.Batch.for_table(bling_catalog_writes)
        batch.rows.append(
            (
                run_id,
                write.tenant,
                write.sku,
                write.store_id,
                write.action,
                write.bling_product_id,
                write.loja_id,
                write.listing_id,
                dry_run,
                summary(write.before),
                summary(write.request),
                outcome.status,
                outcome.code,
                outcome.message,
                result,
                at,
            )
        )
        upsert.write(engine, [batch], now=at)
    return report


def sync_tenant(
    engine: Engine,
    client: BlingClient,
    tenant: str,
    tree: CategoryTree,
    lojas: Mapping[str, int],
    run_id: str,
    dry_run: bool,
    max_writes: int = DEFAULT_MAX_WRITES,
) -> TenantReport:
    """Read, plan and (unless dry) write one tenant's catalog to its Bling company."""
    inputs = load_inputs(engine, tenant)
    store_ids = {link.store_id for link in inputs.links}
    view = read_bling(client, inputs, [lojas[s] for s in store_ids if s in lojas])
    # The category sync keeps the default tenant's Bling company: its links are that one's.
    links = load_links(engine) if tenant == DEFAULT_TENANT else {}
    catalog_plan = plan(inputs, view, tree, links, lojas)
    if len(catalog_plan.writes) > max_writes:
        raise DamageLimit(tenant, len(catalog_plan.writes), max_writes)
    return carry_out(engine, client, TenantReport(tenant, catalog_plan), run_id, dry_run)


class DamageLimit(Exception):
    def __init__(self, tenant: str, planned: int, limit: int) -> None:
        super().__init__(
            f"tenant {tenant}: {planned} Bling writes planned, above the damage limit of "
            f"{limit}; nothing was written (raise max_writes after checking a dry run)"
        )


# --- Dagster ---------------------------------------------------------------------------------


class BlingCatalogConfig(dg.Config):
    dry_run: bool = Field(
        default=True,
        description="Only plan and audit (status planned); write nothing. A real run says "
        "dry_run: false, like every publishing write",
    )
    tenants: list[str] | None = Field(
        default=None, description="Only these tenants (all with a Bling company when unset)"
    )
    lojas: dict[str, int] = Field(
        default_factory=dict,
        description=f"store_id → Bling loja id, over {LOJAS_ENV} (`store_id=loja_id,…`)",
    )
    max_writes: int = Field(
        default=DEFAULT_MAX_WRITES,
        ge=0,
        description="Damage limit: a tenant's run planning more writes writes nothing",
    )


@dataclass
class WriteBack:
    """One write-back run over the tenants: what each did, and why the others did not."""

    run_id: str
    dry_run: bool
    reports: list[TenantReport] = field(default_factory=list)
    not_written: dict[str, str] = field(default_factory=dict)  # tenant → why

    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for report in self.reports:
            counts.update(report.counts())
        return counts

    def skipped(self) -> list[Skip]:
        return [s for r in self.reports for s in r.plan.skipped]

    def unmapped(self) -> Counter[str]:
        unmapped: Counter[str] = Counter()
        for report in self.reports:
            unmapped.update(report.plan.unmapped)
        return unmapped

    def problems(self) -> list[tuple[str, PlannedWrite, Outcome]]:
        return [
            (r.tenant, w, o)
            for r in self.reports
            for w, o in r.outcomes
            if o.status in ("refused", "failed")
        ]


def write_back(
    warehouse: WarehouseResource,
    catalog: CatalogResource,
    run_id: str,
    *,
    dry_run: bool,
    tenants: Collection[str] | None = None,
    lojas: Mapping[str, int] | None = None,
    max_writes: int = DEFAULT_MAX_WRITES,
) -> WriteBack:
    """Every eligible tenant's catalog written back to its Bling company (the asset's and
    the CLI's run). `lojas` overrides SYNCHUB_BLING_LOJAS entries; a bad setting raises
    LojasError before anything is read."""
    from synchub_pipelines.defs.normalization.assets import read_tree

    mapped = {**lojas_from_env(), **(lojas or {})}
    tree = read_tree()
    engine = warehouse.engine()
    result = WriteBack(run_id, dry_run)
    for tenant in catalog.tenants():
        if tenants is not None and tenant.name not in tenants:
            continue
        why = _eligible(tenant, catalog)
        if why is not None:
            result.not_written[tenant.name] = why
            continue
        try:
            client = catalog.bling_client(warehouse, tenant)
        except dg.Failure as exc:
            result.not_written[tenant.name] = str(exc.description or "Bling is not connected")
            continue
        try:
            result.reports.append(
                sync_tenant(engine, client, tenant.name, tree, mapped, run_id, dry_run, max_writes)
            )
        except (MarketplaceError, DamageLimit) as exc:
            result.not_written[tenant.name] = str(exc)
        finally:
            client.close()
    return result


def _table(reports: Sequence[TenantReport]) -> str:
    lines = ["| tenant | SKU | store | action | status | message |", "|---|---|---|---|---|---|"]
    for report in reports:
        for write, outcome in report.outcomes[:200]:
            lines.append(
                f"| {report.tenant} | {write.sku} | {write.store_id or '—'} | {write.action} "
                f"| {outcome.status} | {(outcome.message or '').replace('|', '/')[:120]} |"
            )
    if len(lines) == 2:
        return "Bling already holds the catalog: nothing to write."
    return "\n".join(lines)


def _eligible(tenant: Tenant, catalog: CatalogResource) -> str | None:
    """Why a tenant's catalog cannot be written to Bling, or None."""
    if not catalog.bling.configured:
        return "Bling is not configured"
    if not tenant.bling_account:
        return "the tenant has no Bling account"
    return None


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    pool="bling_api",
    deps=[
        dg.AssetKey("bling_category_sync"),
        dg.AssetKey("product_attributes_normalized"),
        dg.AssetKey("listing_links"),
    ],
    description=(
        "Bling kept as the catalog of record: each central product's normalized category, "
        "brand and attributes (Bling custom fields of the same name) written back with "
        "PATCH /produtos/{id}, and a product–store link (produtos/lojas: the listing id and "
        "price) for every linked listing of a store mapped in SYNCHUB_BLING_LOJAS. Only what "
        "differs from Bling is written; a rerun writes nothing. dry_run plans and audits "
        "without writing. Audit in `bling_catalog_writes`."
    ),
)
def bling_catalog_writeback(
    context: dg.AssetExecutionContext,
    config: BlingCatalogConfig,
    warehouse: WarehouseResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    try:
        result = write_back(
            warehouse,
            catalog,
            context.run.run_id,
            dry_run=config.dry_run,
            tenants=config.tenants,
            lojas=config.lojas,
            max_writes=config.max_writes,
        )
    except LojasError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    reports, not_written = result.reports, result.not_written
    counts, skipped, unmapped = result.counts(), result.skipped(), result.unmapped()
    verb = "planned" if config.dry_run else "made"
    context.log.info(f"Bling catalog write-back {verb}: {dict(counts)}")
    metadata: dict[str, Any] = {
        "dry_run": config.dry_run,
        "writes": dg.MetadataValue.json(dict(counts)),
        "plan" if config.dry_run else "applied": dg.MetadataValue.md(_table(reports)),
        "skipped": dg.MetadataValue.json(
            [f"{s.tenant} {s.sku or '—'} {s.store_id or ''}: {s.reason}" for s in skipped[:200]]
        ),
        "attributes_without_custom_field": dg.MetadataValue.json(dict(unmapped)),
        "tenants_not_written": dg.MetadataValue.json(not_written),
        "dagster/table_name": "bling_catalog_writes",
    }
    if not reports and not_written and config.tenants is not None:
        raise dg.Failure(
            "no tenant's catalog was written to Bling: "
            + "; ".join(f"{k}: {v}" for k, v in not_written.items()),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=bling_catalog_writeback,
    description=(
        "The last write-back run left no product refused or failed in Bling "
        "(`bling_catalog_writes`); a refusal names the product, the field and Bling's reason."
    ),
)
def bling_catalog_writes_accepted(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    t = bling_catalog_writes
    with warehouse.engine().connect() as conn:
        last = conn.execute(sa.select(t.c.run_id).order_by(t.c.at.desc()).limit(1)).scalar()
        bad = (
            []
            if last is None
            else conn.execute(
                sa.select(t.c.tenant, t.c.sku, t.c.store_id, t.c.status, t.c.message)
                .where(t.c.run_id == last, t.c.status.in_(("refused", "failed")))
                .order_by(t.c.tenant, t.c.sku, t.c.store_id)
            ).all()
        )
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "run_id": last or "",
            "not_accepted": dg.MetadataValue.json(
                [f"{r.tenant} {r.sku} {r.store_id}: {r.status}: {r.message}" for r in bad[:50]]
            ),
        },
    )


bling_catalog_job = dg.define_asset_job(
    "bling_catalog_job",
    selection=dg.AssetSelection.assets(bling_catalog_writeback),
    description="Write the normalized catalog and the store links back to Bling.",
)

ASSETS = [bling_catalog_writeback]
CHECKS = [bling_catalog_writes_accepted]
JOBS = [bling_catalog_job]
defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, jobs=JOBS)
