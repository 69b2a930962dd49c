"""The push: decide which listings to write, write them (or only plan them), audit it all.

A listing the publishing domain paused or closed (its latest accepted publication write
of ours) is never written: on Amazon a pause is quantity 0, which a stock write would undo.
A listing is written when its target differs from what it publishes (as last seen by the
listings sync, our own write, or a read-back in a drift sweep), or when it should show zero
and that zero was last confirmed long ago (a write accepted but never applied must not stay
wrong forever). Writes that fail are audited as failed and left for the next attempt: the
writes that succeeded are remembered in `stock_listing_state`, so a retry only repeats
what failed. A run that would zero an unusual share of all listings stops before writing
anything, unless forced.

Both refusals (a plan above allocatable, an unusual share zeroed) are judged per tenant: a
tenant whose catalog went wrong is refused, and the other tenants' stores are still written
before the run fails — one merchant's mistake must not leave another's listings selling
stock that is gone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from synchub_pipelines.defs.listings.vanished import NOT_FOUND_REASON, close_listings
from synchub_pipelines.defs.stock import reads
from synchub_pipelines.defs.stock.allocation import ListingKey, invariant_breaches
from synchub_pipelines.defs.stock.writers import StockWrite, WriteOutcome, WriterFactory
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.schema import DEFAULT_TENANT
from synchub_pipelines.warehouse.schema_stock import stock_listing_state, stock_pushes


@dataclass(frozen=True)
class PushOptions:
    dry_run: bool = False
    force: bool = False
    skus: frozenset[str] | None = None  # None: every SKU of the plan
    tenants: frozenset[str] | None = None  # None: every tenant's (`skus` are per tenant)
    read_back: bool = False  # drift sweep: read each store's quantities from the API first
    reassert_zero_after: timedelta = timedelta(hours=6)
    max_zero_share: float = 0.25
    store_workers: int = 4


@dataclass(frozen=True)
class PlannedWrite:
    key: ListingKey
    sku: str
    marketplace: str
    before: int | None
    after: int
    reason: str  # changed | drift | reassert_zero
    tenant: str = DEFAULT_TENANT


@dataclass
class PushReport:
    planned: list[PlannedWrite] = field(default_factory=list)
    outcomes: list[tuple[PlannedWrite, WriteOutcome]] = field(default_factory=list)
    listings_in_plan: int = 0
    listings_considered: int = 0
    read_back: int = 0
    drifted: int = 0
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    # Tenant → why its writes were held back (nothing of it was written).
    refused: dict[str, str] = field(default_factory=dict)
    refused_writes: list[PlannedWrite] = field(default_factory=list)
    # Plan rows left alone because publishing paused or closed their listing since.
    held_by_publishing: int = 0

    @property
    def written(self) -> int:
        return sum(1 for _, o in self.outcomes if o.ok)

    @property
    def failed(self) -> list[tuple[PlannedWrite, WriteOutcome]]:
        """Writes refused, but not those to listings the marketplace no longer has
        (`gone`: closed, and left out of the next plan)."""
        return [(p, o) for p, o in self.outcomes if not o.ok and not o.gone]

    @property
    def gone(self) -> list[tuple[PlannedWrite, WriteOutcome]]:
        return [(p, o) for p, o in self.outcomes if o.gone]


class PushRefused(Exception):
    """The push would break a rule (invariant, mass zeroing) for some tenant: nothing of
    that tenant was written. `report` says what was written for the other tenants."""

    def __init__(
        self,
        message: str,
        writes: Sequence[PlannedWrite] = (),
        report: PushReport | None = None,
    ) -> None:
        super().__init__(message)
        self.writes = list(writes)
        self.report = report


def decide(
    plan: Sequence[reads.LinkedListing],
    targets: dict[ListingKey, int],
    known: dict[ListingKey, reads.Published],
    now: datetime,
    options: PushOptions,
    read_back: dict[ListingKey, int] | None = None,
) -> list[PlannedWrite]:
    writes = []
    for listing in plan:
        target = targets[listing.key]
        seen = read_back.get(listing.key) if read_back is not None else None
        if seen is not None:
            before: int | None = seen
            confirmed_at: datetime | None = now
        else:
            published = known.get(listing.key)
            before = published.quantity if published else None
            confirmed_at = published.confirmed_at if published else None
        if before != target:
            reason = "drift" if seen is not None else "changed"
        elif target == 0 and (
            confirmed_at is None or now - confirmed_at >= options.reassert_zero_after
        ):
            reason = "reassert_zero"
        else:
            continue
        writes.append(
            PlannedWrite(
                listing.key,
                listing.sku,
                listing.marketplace,
                before,
                target,
                reason,
                listing.tenant,
            )
        )
    return writes


def _whose(tenant: str) -> str:
    # A single-tenant deployment's messages read as they always have.
    return "" if tenant == DEFAULT_TENANT else f"tenant {tenant}: "


def run_push(
    engine: Engine,
    writer_for: WriterFactory,
    options: PushOptions,
    run_id: str,
    attempt: int,
    now: datetime,
) -> PushReport:
    """Plan, guard, write (or only plan) and audit one push; returns what happened."""
    report = PushReport()
    with engine.connect() as conn:
        rows = reads.plan_rows(conn)
        allocatable = reads.allocatable_by_tenant(conn)
        states = reads.publishing_states(conn)
    in_plan: dict[str, int] = defaultdict(int)
    targets_of: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for r in rows:
        in_plan[r.tenant] += 1
        targets_of[r.tenant].append((r.sku, r.target_quantity))
    for tenant, tenant_targets in sorted(targets_of.items()):
        units = {sku: n for (owner, sku), n in allocatable.items() if owner == tenant}
        breaches = invariant_breaches(tenant_targets, units)
        if breaches:
            sample = ", ".join(f"{s}: {t} > {a}" for s, (t, a) in list(breaches.items())[:5])
            report.refused[tenant] = (
                f"{_whose(tenant)}the plan publishes more than is allocatable for "
                f"{len(breaches)} SKU(s) ({sample}); re-materialize stock_push_plan"
            )
    report.listings_in_plan = len(rows)
    # A listing publishing paused or closed after this plan was made is not written either.
    held = {
        (r.store_id, r.listing_id, r.variation_id)
        for r in rows
        if states.holds((r.store_id, r.listing_id, r.variation_id))
    }
    report.held_by_publishing = len(held)
    chosen = [
        r
        for r in rows
        if (options.skus is None or r.sku in options.skus)
        and (options.tenants is None or r.tenant in options.tenants)
        and r.tenant not in report.refused
        and (r.store_id, r.listing_id, r.variation_id) not in held
    ]
    plan = [
        reads.LinkedListing(
            (r.store_id, r.listing_id, r.variation_id), r.sku, r.marketplace, r.tenant
        )
        for r in chosen
    ]
    targets = {(r.store_id, r.listing_id, r.variation_id): int(r.target_quantity) for r in chosen}
    report.listings_considered = len(plan)
    stores = sorted({listing.key[0] for listing in plan})
    with engine.connect() as conn:
        known = reads.published(conn, stores)
    for listing in plan:
        # What a listing published before our last pause, close or activate of it says
        # nothing now (an Amazon pause zeroed it): the target is written again.
        changed = states.state_changed_at(listing.key)
        seen = known.get(listing.key)
        if changed is not None and (
            seen is None or seen.confirmed_at is None or seen.confirmed_at < changed
        ):
            known[listing.key] = reads.Published(None, None)

    read_back: dict[ListingKey, int] | None = None
    if options.read_back:
        tenant_of = {listing.key[0]: listing.tenant for listing in plan}
        read_back = _read_back(engine, writer_for, stores, now, report, tenant_of)
    planned = decide(plan, targets, known, now, options, read_back)

    zeroing: dict[str, list[PlannedWrite]] = defaultdict(list)
    for w in planned:
        if w.after == 0 and (w.before is None or w.before > 0):
            zeroing[w.tenant].append(w)
    for tenant, zeroed in sorted(zeroing.items()):
        # The share is of the tenant's own listings: another tenant's many listings must
        # not make a tenant's mass zeroing look small.
        share = len(zeroed) / in_plan[tenant] if in_plan[tenant] else 0.0
        if share > options.max_zero_share and not options.force:
            report.refused[tenant] = (
                f"{_whose(tenant)}the push would set {len(zeroed)} of {in_plan[tenant]} "
                f"listings ({share:.0%}) to zero, more than the {options.max_zero_share:.0%} "
                "allowed; check the catalog's stock, then run again with force: true if it "
                "is right"
            )
            report.refused_writes += zeroed
    planned = [w for w in planned if w.tenant not in report.refused]
    report.planned = planned
    report.drifted = sum(1 for w in planned if w.reason == "drift")
    if report.refused and not planned:
        raise _refusal(report)

    if options.dry_run:
        _audit(engine, run_id, attempt, now, [(w, None) for w in planned], dry_run=True)
        if report.refused:
            raise _refusal(report)
        return report

    by_store: dict[str, list[PlannedWrite]] = defaultdict(list)
    for write in planned:
        by_store[write.key[0]].append(write)

    def push_store(store_id: str) -> list[tuple[PlannedWrite, WriteOutcome]]:
        writes = by_store[store_id]
        try:
            writer = writer_for(store_id)
        except Exception as exc:
            refusal = f"no stock writer for {store_id}: {exc}"[:500]
            done = [
                (w, WriteOutcome(StockWrite(w.key[1], w.key[2], w.after), False, refusal))
                for w in writes
            ]
        else:
            try:
                outcomes = writer.write_many(
                    [StockWrite(w.key[1], w.key[2], w.after) for w in writes]
                )
                report.calls[store_id] = writer.calls()
            finally:
                writer.close()
            done = list(zip(writes, outcomes, strict=True))
        # Audit each store as soon as it is done: a run killed later keeps this record.
        _audit(engine, run_id, attempt, now, done, dry_run=False)
        # A listing the marketplace says it does not know is closed: the next plan leaves
        # it out instead of failing every push on it.
        close_listings(engine, [w.key for w, o in done if o.gone], NOT_FOUND_REASON, now)
        return done

    workers = max(1, min(options.store_workers, len(by_store)))
    with ThreadPoolExecutor(workers, thread_name_prefix="stock-push") as pool:
        for done in pool.map(push_store, sorted(by_store)):
            report.outcomes.extend(done)
    if report.refused:
        raise _refusal(report)
    return report


def _refusal(report: PushReport) -> PushRefused:
    message = "; ".join(report.refused[tenant] for tenant in sorted(report.refused))
    if report.planned:
        message += f" (the other tenants' {len(report.planned)} write(s) went ahead)"
    return PushRefused(message, report.refused_writes, report)


def _read_back(
    engine: Engine,
    writer_for: WriterFactory,
    stores: Collection[str],
    now: datetime,
    report: PushReport,
    tenant_of: Mapping[str, str],
) -> dict[ListingKey, int]:
    seen: dict[ListingKey, int] = {}
    for store_id in stores:
        writer = writer_for(store_id)
        try:
            for (listing_id, variation_id), quantity in writer.read_published().items():
                seen[(store_id, listing_id, variation_id)] = quantity
            report.calls[f"{store_id} (read-back)"] = writer.calls()
        finally:
            writer.close()
    batch = upsert.Batch.for_table(stock_listing_state)
    batch.preserve = ("last_written_at",)
    batch.rows.extend(
        (*key, tenant_of.get(key[0], DEFAULT_TENANT), quantity, now, None)
        for key, quantity in seen.items()
    )
    _write_state(engine, batch)
    report.read_back = len(seen)
    return seen


def _write_state(engine: Engine, batch: upsert.Batch) -> None:
    if batch.rows:
        upsert.write(engine, [batch])


def _audit(
    engine: Engine,
    run_id: str,
    attempt: int,
    now: datetime,
    done: Sequence[tuple[PlannedWrite, WriteOutcome | None]],
    *,
    dry_run: bool,
) -> None:
    if not done:
        return
    audit = upsert.Batch.for_table(stock_pushes)
    state = upsert.Batch.for_table(stock_listing_state)
    for write, outcome in done:
        status = "planned" if outcome is None else "written" if outcome.ok else "failed"
        audit.rows.append(
            (
                run_id,
                attempt,
                *write.key,
                write.tenant,
                write.sku,
                write.marketplace,
                write.before,
                write.after,
                write.reason,
                "dry_run" if dry_run else "real",
                status,
                None if outcome is None else outcome.answer,
                now,
            )
        )
        if outcome is not None and outcome.ok:
            state.rows.append((*write.key, write.tenant, write.after, now, now))
    batches = [audit] + ([state] if state.rows else [])
    upsert.write(engine, batches)


def markdown_table(writes: Sequence[PlannedWrite], limit: int = 200) -> str:
    """The plan as a table an operator reads in the Dagster UI."""
    lines = [
        "| store | listing | variation | SKU | before | after | reason |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for w in writes[:limit]:
        before = "?" if w.before is None else str(w.before)
        lines.append(
            f"| {w.key[0]} | {w.key[1]} | {w.key[2] or '—'} | {w.sku} | {before} | "
            f"{w.after} | {w.reason} |"
        )
    if len(writes) > limit:
        lines.append(f"\n… and {len(writes) - limit} more (all in `stock_pushes`).")
    if not writes:
        lines.append("| — | nothing to write | | | | | |")
    return "\n".join(lines)
