"""Price plan and price push: every linked listing variation of a store with price rules
gets the price its rule gives its SKU's cost, within the floor and the damage limit.

Our idea of a listing's current price is the price we last wrote (`price_state`) unless
the listings sync has seen the listing since, in which case the marketplace's word
(`listings.price`) wins: a price changed by hand on the marketplace is noticed and put
back. A variation whose price already equals the target is not written, so a re-run
writes nothing.

Two rules are never broken: no price below the floor (cost + the marketplace's fees + the
minimum margin, `rules.price_for`) and, unless forced, no change larger than the rule's
`max_change` (±20% by default) in one run. The plan's blocking check stops a Dagster run
before the push; the push itself refuses such rows too (audited as `refused`), so a run
from the CLI is as safe.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.publishing.common import (
    PLANNED,
    ClientFactory,
    Outcome,
    RunScope,
    attempt,
    client_calls,
)
from synchub_pipelines.defs.publishing.listings import active_stores
from synchub_pipelines.defs.publishing.rules import RuleBook, fee_rate_for, fee_rates, price_for
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.schema_publishing import price_plan, price_pushes, price_state


@dataclass(frozen=True)
class PriceOptions:
    dry_run: bool = True
    force: bool = False
    scope: RunScope = field(default_factory=RunScope)


@dataclass(frozen=True)
class PlannedPrice:
    store_id: str
    listing_id: str
    variation_id: str
    tenant: str
    sku: str
    marketplace: str
    currency: str
    cost: Decimal
    fee_rate: Decimal
    fee_source: str
    rule: str
    current: Decimal | None
    target: Decimal
    floor: Decimal
    max_change: Decimal
    forced: bool

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.store_id, self.listing_id, self.variation_id)

    @property
    def change(self) -> Decimal | None:
        if self.current is None or self.current == 0:
            return None
        return ((self.target - self.current) / self.current).quantize(Decimal("0.0001"))

    @property
    def needs_write(self) -> bool:
        return self.current != self.target

    def breach(self) -> tuple[str, str] | None:
        """(code, message) when writing this price would break a rule."""
        if self.target < self.floor:
            return (
                "below_floor",
                f"{self.target} is below the floor {self.floor} (cost {self.cost}, fees "
                f"{self.fee_rate:.2%}, minimum margin)",
            )
        change = self.change
        if change is not None and abs(change) > self.max_change and not self.forced:
            return (
                "damage_limit",
                f"{self.current} → {self.target} changes the price by {change:+.1%}, more "
                f"than ±{self.max_change:.0%}; run with force if it is right",
            )
        return None


@dataclass
class PriceReport:
    plan: list[PlannedPrice] = field(default_factory=list)
    outcomes: list[tuple[PlannedPrice, Outcome]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # why → listings
    calls: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return sum(1 for _, o in self.outcomes if o.ok)

    @property
    def problems(self) -> list[tuple[PlannedPrice, Outcome]]:
        return [(p, o) for p, o in self.outcomes if o.status in ("refused", "failed")]


def plan_prices(
    engine: Engine, rules: RuleBook, options: PriceOptions, now: datetime
) -> PriceReport:
    report = PriceReport()
    stores = [
        s for s in active_stores(engine, options.scope) if rules.for_store(s.store_id) is not None
    ]
    if not stores:
        return report
    with engine.connect() as conn:
        by_store, by_marketplace = fee_rates(conn)
        rows = conn.execute(
            sa.text(
                "SELECT k.store_id, k.listing_id, k.variation_id, k.tenant, k.sku, "
                "p.cost, p.currency, l.price AS listed, l.synced_at AS seen_at, "
                "ps.price AS written, ps.written_at "
                "FROM listing_links k "
                "JOIN central_products p ON p.tenant = k.tenant AND p.sku = k.sku "
                "LEFT JOIN listings l ON l.store_id = k.store_id "
                "AND l.listing_id = k.listing_id AND l.variation_id = k.variation_id "
                "LEFT JOIN price_state ps ON ps.store_id = k.store_id "
                "AND ps.listing_id = k.listing_id AND ps.variation_id = k.variation_id "
                "ORDER BY k.store_id, k.listing_id, k.variation_id"
            )
        ).all()
    chosen = {s.store_id: s for s in stores}
    for r in rows:
        store = chosen.get(r.store_id)
        if store is None:
            continue
        if r.cost is None:
            report.skipped["no cost in the catalog"] = (
                report.skipped.get("no cost in the catalog", 0) + 1
            )
            continue
        rule = rules.for_store(store.store_id)
        assert rule is not None
        fee = fee_rate_for(store.store_id, store.marketplace, by_store, by_marketplace)
        priced = price_for(rule, Decimal(r.cost), fee.rate, now)
        current = _current(r.listed, r.seen_at, r.written, r.written_at)
        report.plan.append(
            PlannedPrice(
                r.store_id,
                r.listing_id,
                r.variation_id,
                r.tenant,
                r.sku,
                store.marketplace,
                r.currency,
                Decimal(r.cost),
                rule.fee_rate if rule.fee_rate is not None else fee.rate,
                "rule" if rule.fee_rate is not None else fee.source,
                priced.rule,
                current,
                priced.price,
                priced.floor,
                rule.max_change,
                options.force,
            )
        )
    return report


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite answers text SQL's timestamps as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _current(
    listed: Decimal | None,
    seen_at: datetime | None,
    written: Decimal | None,
    written_at: datetime | None,
) -> Decimal | None:
    seen, wrote = _utc(seen_at), _utc(written_at)
    if written is not None and (listed is None or seen is None or (wrote and wrote >= seen)):
        return Decimal(written)
    return None if listed is None else Decimal(listed)


def store_price_plan(engine: Engine, plan: Sequence[PlannedPrice], now: datetime) -> dict[str, int]:
    rows = upsert.Batch.for_table(price_plan)
    rows.rows.extend(
        (
            *p.key,
            p.tenant,
            p.sku,
            p.marketplace,
            p.currency,
            p.cost,
            p.fee_rate,
            p.fee_source,
            p.rule,
            p.current,
            p.target,
            p.floor,
            p.change,
            p.max_change,
            p.forced,
            now,
        )
        for p in plan
    )
    # planned_at moves only when the plan's figures do.
    rows.preserve = ("planned_at",)
    keep = {p.key for p in plan}
    with engine.begin() as conn:
        changed = upsert.write(conn, [rows])
        for r in conn.execute(
            sa.select(price_plan.c.store_id, price_plan.c.listing_id, price_plan.c.variation_id)
        ).all():
            if tuple(r) not in keep:
                conn.execute(
                    sa.delete(price_plan).where(
                        price_plan.c.store_id == r.store_id,
                        price_plan.c.listing_id == r.listing_id,
                        price_plan.c.variation_id == r.variation_id,
                    )
                )
    return changed


def run_prices(
    engine: Engine,
    client_for: ClientFactory,
    rules: RuleBook,
    options: PriceOptions,
    run_id: str,
    attempt_no: int,
    now: datetime,
) -> PriceReport:
    report = plan_prices(engine, rules, options, now)
    store_price_plan(engine, report.plan, now)
    to_write = [p for p in report.plan if p.needs_write]
    done: list[tuple[PlannedPrice, Outcome]] = []
    allowed: list[PlannedPrice] = []
    for p in to_write:
        breach = p.breach()
        if breach:
            done.append((p, Outcome("refused", *breach)))
        else:
            allowed.append(p)
    if options.dry_run:
        done += [(p, PLANNED) for p in allowed]
        _audit(engine, run_id, attempt_no, now, done, dry_run=True)
        report.outcomes = done
        return report
    # The rows the rules refuse are audited first: they are never sent.
    _audit(engine, run_id, attempt_no, now, done, dry_run=False)
    by_store: dict[str, list[PlannedPrice]] = defaultdict(list)
    for p in allowed:
        by_store[p.store_id].append(p)
    for store_id, prices in sorted(by_store.items()):
        store_done: list[tuple[PlannedPrice, Outcome]] = []
        try:
            client = client_for(store_id)
        except Exception as exc:
            store_done = [(p, Outcome("failed", None, f"no client: {exc}"[:500])) for p in prices]
        else:
            try:
                if not hasattr(client, "set_price"):
                    skip = Outcome(
                        "skipped",
                        "unsupported",
                        f"the {type(client).__name__} cannot set prices yet",
                    )
                    store_done = [(p, skip) for p in prices]
                else:
                    for p in prices:
                        _, outcome = attempt(
                            partial(client.set_price, p.listing_id, p.variation_id, p.target)
                        )
                        store_done.append((p, outcome))
                report.calls[store_id] = client_calls(client)
            finally:
                client.close()
        _audit(engine, run_id, attempt_no, now, store_done, dry_run=False)
        done += store_done
    report.outcomes = done
    return report


def _audit(
    engine: Engine,
    run_id: str,
    attempt_no: int,
    now: datetime,
    done: Sequence[tuple[PlannedPrice, Outcome]],
    *,
    dry_run: bool,
) -> None:
    if not done:
        return
    audit = upsert.Batch.for_table(price_pushes)
    audit.rows.extend(
        (
            run_id,
            attempt_no,
            *p.key,
            p.tenant,
            p.sku,
            p.marketplace,
            dry_run,
            p.current,
            p.target,
            p.rule,
            o.status,
            o.code,
            o.message,
            now,
        )
        for p, o in done
    )
    state = upsert.Batch.for_table(price_state)
    state.rows.extend((*p.key, p.tenant, p.target, now) for p, o in done if o.ok)
    upsert.write(engine, [audit] + ([state] if state.rows else []))


def markdown_table(plan: Sequence[PlannedPrice], limit: int = 100) -> str:
    lines = [
        "| store | listing | variation | SKU | now | target | floor | change | rule |",
        "|---|---|---|---|---:|---:|---:|---:|---|",
    ]
    for p in plan[:limit]:
        change = "—" if p.change is None else f"{p.change:+.1%}"
        lines.append(
            f"| {p.store_id} | {p.listing_id} | {p.variation_id or '—'} | {p.sku} | "
            f"{p.current if p.current is not None else '?'} | {p.target} | {p.floor} | "
            f"{change} | {p.rule} |"
        )
    if len(plan) > limit:
        lines.append(f"\n… and {len(plan) - limit} more (all in `price_plan`).")
    if not plan:
        lines.append("| — | nothing to write | | | | | | | |")
    return "\n".join(lines)
