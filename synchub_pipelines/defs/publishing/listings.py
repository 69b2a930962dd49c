"""Listing publication: plan (create, update, pause, close, activate), guard, write, audit.

Per connected store, every product group of its tenant's catalog (`drafts`) is compared
with what the store has:

- not listed there (no linked SKU, no listing we published) and ready → **create**. First
  `find_listing_by_seller_sku`: a listing already carrying the SKU (a run that died
  between "created" and "recorded") is recorded, never created twice.
- listed, and the draft's content hash differs from what we last published → **update**
  (title, description, attributes, pictures; never price or stock). A listing linked but
  not published by us is *adopted* on first sight: its hash becomes the baseline, so only
  later catalog changes rewrite it.
- listed, and the catalog status asks for it → **pause** (inactive), **close**
  (discontinued), **activate** (active again after a pause). Never delete.

Pauses and closes are a damage limit's business: more than `max_pause_share` of a
tenant's listings, or more than `max_pause_count`, in one run is refused unless forced
(a catalog export that lost its status column must not take a shop off the air).
A created listing is linked to its SKUs (`listing_links`, method `published`) and
written to `listings`, so the stock push keeps its quantity from the next run on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.publishing import drafts
from synchub_pipelines.defs.publishing.common import (
    PLANNED,
    ClientFactory,
    Outcome,
    RunScope,
    answer_of,
    attempt,
    client_calls,
    summary,
    whose,
)
from synchub_pipelines.defs.publishing.rules import (
    RuleBook,
    fee_rate_for,
    fee_rates,
    price_for,
)
from synchub_pipelines.marketplaces.publishing import (
    ListingDraft,
    PublishedListing,
    PublishingClient,
)
from synchub_pipelines.models import Listing, ListingStatus
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.schema import listing_links, listings
from synchub_pipelines.warehouse.schema_publishing import (
    listing_publications,
    publication_plan,
    published_listings,
)

STATE_OF_ACTION = {"pause": "paused", "close": "closed", "activate": "active"}


@dataclass(frozen=True)
class ListingOptions:
    dry_run: bool = True
    force: bool = False
    scope: RunScope = field(default_factory=RunScope)
    max_pause_share: float = 0.10
    max_pause_count: int = 20


@dataclass(frozen=True)
class PlannedListing:
    store_id: str
    seller_sku: str
    listing_id: str  # '' for a create
    action: str
    tenant: str
    marketplace: str
    skus: tuple[str, ...]
    draft: ListingDraft | None
    content_hash: str | None
    reason: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.store_id, self.seller_sku, self.listing_id, self.action)

    def request(self) -> dict[str, Any]:
        if self.action in ("create", "update") and self.draft is not None:
            return drafts.request_summary(self.draft)
        return {"listing_id": self.listing_id, "state": STATE_OF_ACTION.get(self.action)}


@dataclass
class Adoption:
    store_id: str
    listing_id: str
    seller_sku: str
    tenant: str
    content_hash: str
    state: str


@dataclass
class ListingPlan:
    writes: list[PlannedListing] = field(default_factory=list)
    adoptions: list[Adoption] = field(default_factory=list)
    # (store, group) → why it cannot be published there.
    unpublishable: dict[tuple[str, str], str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # tenant → why held back
    held_back: list[PlannedListing] = field(default_factory=list)


@dataclass
class ListingReport:
    plan: ListingPlan
    outcomes: list[tuple[PlannedListing, Outcome, str | None]] = field(default_factory=list)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return sum(1 for _, o, _ in self.outcomes if o.ok)

    @property
    def problems(self) -> list[tuple[PlannedListing, Outcome]]:
        return [(p, o) for p, o, _ in self.outcomes if o.status in ("refused", "failed")]


@dataclass(frozen=True)
class StoreRow:
    store_id: str
    marketplace: str
    tenant: str


def active_stores(engine: Engine, scope: RunScope) -> list[StoreRow]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT store_id, marketplace, tenant FROM stores WHERE status = 'active' "
                "ORDER BY store_id"
            )
        ).all()
    return [
        StoreRow(r.store_id, r.marketplace, r.tenant)
        for r in rows
        if scope.covers(r.store_id, r.tenant)
    ]


def price_function(
    rules: RuleBook, store: StoreRow, fees: tuple[dict[str, Any], dict[str, Any]], now: datetime
) -> drafts.PriceOf:
    """A new listing's price: the store's price rule when it has one, else the catalog's."""
    rule = rules.for_store(store.store_id)
    rate = fee_rate_for(store.store_id, store.marketplace, *fees).rate

    def price_of(product: drafts.Product) -> Decimal | None:
        if rule is not None and product.cost is not None:
            return price_for(rule, product.cost, rate, now).price
        return product.price

    return price_of


def _listing_state(status: str | None) -> str:
    """Our word for an observed listing: a listing the marketplace holds (under review,
    suppressed, draft) is not ours to pause; it counts as paused."""
    if status in ("active", "closed"):
        return str(status)
    return "active" if status is None else "paused"


def plan_listings(
    engine: Engine, rules: RuleBook, options: ListingOptions, now: datetime
) -> ListingPlan:
    plan = ListingPlan()
    stores = active_stores(engine, options.scope)
    catalogs: dict[str, drafts.Catalog] = {}
    with engine.connect() as conn:
        fees = fee_rates(conn)
        for store in stores:
            if store.tenant not in catalogs:
                catalogs[store.tenant] = drafts.read_catalog(conn, store.tenant)
        linked: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for r in conn.execute(
            sa.select(listing_links.c.store_id, listing_links.c.listing_id, listing_links.c.sku)
        ):
            linked[r.store_id][r.sku].add(r.listing_id)
        ours: dict[str, dict[str, Any]] = defaultdict(dict)
        for r in conn.execute(sa.select(published_listings)):
            ours[r.store_id][r.listing_id] = r
        status_of: dict[tuple[str, str], str] = {}
        for r in conn.execute(
            sa.select(listings.c.store_id, listings.c.listing_id, listings.c.status)
        ):
            # A listing with one variation active is active.
            key = (r.store_id, r.listing_id)
            if status_of.get(key) != "active":
                status_of[key] = r.status
    for store in stores:
        catalog = catalogs[store.tenant]
        price_of = price_function(rules, store, fees, now)
        store_ours = ours.get(store.store_id, {})
        by_group: dict[str, set[str]] = defaultdict(set)
        for listing_id, row in store_ours.items():
            by_group[row.seller_sku].add(listing_id)
        for group, members in sorted(catalog.groups().items()):
            drafted = drafts.draft_for(catalog, group, members, store.marketplace, price_of)
            found = set(by_group.get(group, set()))
            for product in members:
                found |= linked[store.store_id].get(product.sku, set())
            desired = drafts.group_status(members)
            new_hash = drafts.content_hash(drafted.draft) if drafted.draft else None

            def write(
                action: str,
                listing_id: str,
                reason: str,
                store: StoreRow = store,
                group: str = group,
                drafted: drafts.Drafted = drafted,
                new_hash: str | None = new_hash,
            ) -> None:
                plan.writes.append(
                    PlannedListing(
                        store.store_id,
                        group,
                        listing_id,
                        action,
                        store.tenant,
                        store.marketplace,
                        drafted.skus,
                        drafted.draft,
                        new_hash,
                        reason,
                    )
                )

            if not found:
                if desired != "active":
                    continue
                if drafted.draft is None:
                    plan.unpublishable[(store.store_id, group)] = drafted.reason
                    continue
                write("create", "", "ready and not listed on this store")
                continue
            for listing_id in sorted(found):
                mine = store_ours.get(listing_id)
                if mine is None:
                    state = _listing_state(status_of.get((store.store_id, listing_id)))
                    plan.adoptions.append(
                        Adoption(
                            store.store_id, listing_id, group, store.tenant, new_hash or "", state
                        )
                    )
                    baseline = new_hash
                else:
                    state, baseline = mine.state, mine.content_hash
                if state == "closed":
                    continue
                if desired == "closed":
                    write("close", listing_id, "every SKU of it is discontinued in the catalog")
                    continue
                if desired == "paused" and state == "active":
                    write("pause", listing_id, "every SKU of it is inactive in the catalog")
                    continue
                # Only a pause of ours is undone: a listing the marketplace paused (no
                # stock, moderation) is the stock push's or the merchant's business.
                if (
                    desired == "active"
                    and state == "paused"
                    and mine
                    and mine.origin == "published"
                ):
                    write("activate", listing_id, "on sale again in the catalog")
                if desired == "active" and new_hash and baseline and new_hash != baseline:
                    write("update", listing_id, "the catalog's content changed")
    _guard(plan, options, ours, linked)
    return plan


def _guard(
    plan: ListingPlan,
    options: ListingOptions,
    ours: dict[str, dict[str, Any]],
    linked: dict[str, dict[str, set[str]]],
) -> None:
    """The damage limit on pauses and closes, per tenant."""
    tenant_of_store = {w.store_id: w.tenant for w in plan.writes}
    tenant_of_store.update({a.store_id: a.tenant for a in plan.adoptions})
    listings_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for store_id, by_sku in linked.items():
        for ids in by_sku.values():
            for listing_id in ids:
                listings_of[tenant_of_store.get(store_id, "")].add((store_id, listing_id))
    for store_id, rows in ours.items():
        for listing_id, row in rows.items():
            listings_of[row.tenant].add((store_id, listing_id))
    stopping: dict[str, list[PlannedListing]] = defaultdict(list)
    for w in plan.writes:
        if w.action in ("pause", "close"):
            stopping[w.tenant].append(w)
    for tenant, writes in sorted(stopping.items()):
        total = len(listings_of.get(tenant, set())) or len(writes)
        share = len(writes) / total
        if options.force or (
            share <= options.max_pause_share and len(writes) <= options.max_pause_count
        ):
            continue
        plan.refused[tenant] = (
            f"{whose(tenant)}the catalog would pause or close {len(writes)} of {total} "
            f"listings ({share:.0%}); the limit is {options.max_pause_share:.0%} and "
            f"{options.max_pause_count} per run. Check the catalog's status column, then run "
            "again with force if it is right"
        )
        plan.held_back += writes
    plan.writes = [
        w for w in plan.writes if not (w.action in ("pause", "close") and w.tenant in plan.refused)
    ]


def store_plan(engine: Engine, plan: ListingPlan, now: datetime) -> dict[str, int]:
    """The plan as a table (the blocking check reads it), and the adopted baselines."""
    rows = upsert.Batch.for_table(publication_plan)
    for w in plan.writes + plan.held_back:
        rows.rows.append(
            (
                w.store_id,
                w.seller_sku,
                w.listing_id,
                w.action,
                w.tenant,
                w.marketplace,
                json.dumps(list(w.skus)),
                w.draft.category_id if w.draft else None,
                w.content_hash,
                summary(w.request()),
                ("HELD BACK: " if w in plan.held_back else "") + w.reason,
                now,
            )
        )
    adopted = upsert.Batch.for_table(published_listings)
    # A baseline is written once: a later plan never moves it (only a write does).
    adopted.preserve = ("content_hash", "state", "origin", "written_at", "seller_sku")
    adopted.rows.extend(
        (
            a.store_id,
            a.listing_id,
            a.tenant,
            a.seller_sku,
            a.content_hash or "-",
            a.state,
            "adopted",
            now,
        )
        for a in plan.adoptions
    )
    keep = {r[:4] for r in rows.rows}
    with engine.begin() as conn:
        changed = upsert.write(conn, [rows, adopted])
        current = conn.execute(
            sa.select(
                publication_plan.c.store_id,
                publication_plan.c.seller_sku,
                publication_plan.c.listing_id,
                publication_plan.c.action,
            )
        ).all()
        for r in current:
            if tuple(r) not in keep:
                conn.execute(
                    sa.delete(publication_plan).where(
                        publication_plan.c.store_id == r.store_id,
                        publication_plan.c.seller_sku == r.seller_sku,
                        publication_plan.c.listing_id == r.listing_id,
                        publication_plan.c.action == r.action,
                    )
                )
                changed["publication_plan"] = changed.get("publication_plan", 0) + 1
    return changed


def run_listings(
    engine: Engine,
    client_for: ClientFactory,
    rules: RuleBook,
    options: ListingOptions,
    run_id: str,
    attempt_no: int,
    now: datetime,
) -> ListingReport:
    plan = plan_listings(engine, rules, options, now)
    store_plan(engine, plan, now)
    report = ListingReport(plan)
    done: list[tuple[PlannedListing, Outcome, str | None]]
    if options.dry_run:
        done = [(w, PLANNED, None) for w in plan.writes]
        _audit(engine, run_id, attempt_no, now, done, dry_run=True)
        report.outcomes = done
        return report
    by_store: dict[str, list[PlannedListing]] = defaultdict(list)
    for w in plan.writes:
        by_store[w.store_id].append(w)
    for store_id, writes in sorted(by_store.items()):
        try:
            client = client_for(store_id)
        except Exception as exc:  # a store that cannot be reached: its rows say why
            outcome = Outcome("failed", None, f"no client for {store_id}: {exc}"[:500])
            done = [(w, outcome, None) for w in writes]
        else:
            try:
                if not isinstance(client, PublishingClient):
                    outcome = Outcome(
                        "skipped",
                        "unsupported",
                        f"the {type(client).__name__} cannot publish listings yet",
                    )
                    done = [(w, outcome, None) for w in writes]
                else:
                    done = []
                    for w in writes:
                        result = _write(client, w)
                        # Recorded one by one: a crash later keeps what was already done.
                        _record(engine, w, *result, now)
                        done.append((w, result[0], result[1].listing_id if result[1] else None))
                report.calls[store_id] = client_calls(client)
            finally:
                client.close()
        _audit(engine, run_id, attempt_no, now, done, dry_run=False)
        report.outcomes += done
    return report


def _write(client: PublishingClient, w: PlannedListing) -> tuple[Outcome, PublishedListing | None]:
    if w.action == "create":
        assert w.draft is not None
        existing, looked = attempt(lambda: client.find_listing_by_seller_sku(w.seller_sku))
        if not looked.ok:
            return looked, None
        if existing is not None:
            return (
                Outcome(
                    "written",
                    "already_listed",
                    f"the marketplace already has {existing.listing_id} with this seller SKU: "
                    "recorded, not created again",
                ),
                existing,
            )
        created, outcome = attempt(lambda: client.create_listing(w.draft))  # type: ignore[arg-type]
        return (Outcome("written", None, answer_of(created)) if created else outcome), created
    if w.action == "update":
        assert w.draft is not None
        updated, outcome = attempt(lambda: client.update_listing(w.listing_id, w.draft))  # type: ignore[arg-type]
        return (Outcome("written", None, answer_of(updated)) if updated else outcome), updated
    state = STATE_OF_ACTION[w.action]
    changed, outcome = attempt(lambda: client.set_listing_state(w.listing_id, state))  # type: ignore[arg-type]
    return (Outcome("written", None, answer_of(changed)) if changed else outcome), changed


def _record(
    engine: Engine,
    w: PlannedListing,
    outcome: Outcome,
    listing: PublishedListing | None,
    now: datetime,
) -> None:
    """What an accepted write changes in the warehouse: our state; for a create, the
    listing's rows and its links, so the stock push keeps it."""
    if not outcome.ok:
        return
    listing_id = listing.listing_id if listing else w.listing_id
    state = STATE_OF_ACTION.get(w.action, "active")
    batches = []
    own = upsert.Batch.for_table(published_listings)
    if w.action != "create":
        # A state change keeps the content hash; any write makes the listing ours.
        own.preserve = ("seller_sku",)
        if w.action != "update":
            own.preserve += ("content_hash",)
    own.rows.append(
        (
            w.store_id,
            listing_id,
            w.tenant,
            w.seller_sku,
            w.content_hash or "-",
            state,
            "published",
            now,
        )
    )
    batches.append(own)
    if w.action == "create" and w.draft is not None and listing is not None:
        rows, links = _listing_rows(w, w.draft, listing, now)
        batches += [rows, links]
    upsert.write(engine, batches)


def _listing_rows(
    w: PlannedListing, draft: ListingDraft, listing: PublishedListing, now: datetime
) -> tuple[upsert.Batch, upsert.Batch]:
    from synchub_pipelines.warehouse.rows import listing_batch

    units: list[tuple[str, str, Any, int, str | None]] = []
    if draft.variations:
        for v in draft.variations:
            variation_id = listing.variation_ids.get(v.seller_sku)
            if variation_id is None:
                continue  # the marketplace did not say it: the next listings sync will
            units.append((variation_id, v.seller_sku, v.price, v.quantity, v.gtin))
    else:
        units.append(("", draft.seller_sku, draft.price, draft.quantity, draft.gtin))
    models = [
        Listing(
            store_id=w.store_id,
            listing_id=listing.listing_id,
            variation_id=variation_id,
            title=draft.title,
            seller_sku=sku,
            gtin=gtin,
            status=ListingStatus.ACTIVE,
            raw_status=listing.status,
            price=price,
            currency=draft.currency,
            available_quantity=quantity,
            category_id=draft.category_id,
            permalink=listing.permalink,
            updated_at=now,
        )
        for variation_id, sku, price, quantity, gtin in units
    ]
    links = upsert.Batch.for_table(listing_links)
    links.rows.extend(
        (w.store_id, listing.listing_id, variation_id, w.tenant, sku, "published")
        for variation_id, sku, *_ in units
    )
    return listing_batch(models), links


def _audit(
    engine: Engine,
    run_id: str,
    attempt_no: int,
    now: datetime,
    done: Sequence[tuple[PlannedListing, Outcome, str | None]],
    *,
    dry_run: bool,
) -> None:
    if not done:
        return
    audit = upsert.Batch.for_table(listing_publications)
    audit.rows.extend(
        (
            run_id,
            attempt_no,
            w.store_id,
            w.seller_sku,
            w.listing_id,
            w.action,
            w.tenant,
            w.marketplace,
            dry_run,
            summary(w.request()),
            o.status,
            o.code,
            o.message,
            result or (w.listing_id or None),
            now,
        )
        for w, o, result in done
    )
    upsert.write(engine, [audit])


def markdown_table(writes: Sequence[PlannedListing], limit: int = 100) -> str:
    lines = ["| store | seller SKU | action | listing | SKUs | why |", "|---|---|---|---|---|---|"]
    for w in writes[:limit]:
        lines.append(
            f"| {w.store_id} | {w.seller_sku} | {w.action} | {w.listing_id or '—'} | "
            f"{', '.join(w.skus)[:80]} | {w.reason} |"
        )
    if len(writes) > limit:
        lines.append(f"\n… and {len(writes) - limit} more (all in `publication_plan`).")
    if not writes:
        lines.append("| — | nothing to write | | | | |")
    return "\n".join(lines)
