"""One publishing run outside Dagster (the CLI, the demo, the benchmark): the same plans,
limits, writes and audits as the assets, in the same order."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from synchub_pipelines.defs.publishing import answers, fulfilment, listings, prices
from synchub_pipelines.defs.publishing.common import ClientFactory, RunScope
from synchub_pipelines.defs.publishing.rules import load_rules

PARTS = ("listings", "prices", "fulfilment", "answers")


@dataclass
class PublishReport:
    run_id: str
    dry_run: bool
    listings: listings.ListingReport | None = None
    prices: prices.PriceReport | None = None
    fulfilment: fulfilment.FulfilmentReport | None = None
    answers: answers.AnswerReport | None = None
    errors: dict[str, str] = field(default_factory=dict)


def publish(
    engine: Engine,
    client_for: ClientFactory,
    *,
    dry_run: bool = True,
    force: bool = False,
    stores: Collection[str] | None = None,
    only: Collection[str] = PARTS,
    run_id: str | None = None,
    rules_file: str | None = None,
) -> PublishReport:
    now = datetime.now(UTC)
    scope = RunScope(stores=frozenset(stores) if stores else None)
    report = PublishReport(run_id or f"cli-{uuid.uuid4().hex[:12]}", dry_run)
    rules = load_rules(rules_file)
    if "listings" in only:
        options = listings.ListingOptions(dry_run=dry_run, force=force, scope=scope)
        report.listings = listings.run_listings(
            engine, client_for, rules, options, report.run_id, 0, now
        )
    if "prices" in only:
        price_options = prices.PriceOptions(dry_run=dry_run, force=force, scope=scope)
        report.prices = prices.run_prices(
            engine, client_for, rules, price_options, report.run_id, 0, now
        )
    if "fulfilment" in only:
        try:
            report.fulfilment = fulfilment.run_fulfilment(
                engine, client_for, dry_run, scope, report.run_id, 0, now
            )
        except ValueError as exc:
            report.errors["fulfilment"] = str(exc)
    if "answers" in only:
        try:
            book = answers.load_answers()
        except ValueError as exc:
            report.errors["answers"] = str(exc)
        else:
            report.answers = answers.run_answers(
                engine, client_for, book, dry_run, scope, report.run_id, 0, now
            )
    return report


def describe(report: PublishReport) -> list[str]:
    """The run in lines an operator reads: each write and its outcome."""
    mode = "DRY RUN (nothing sent)" if report.dry_run else "REAL"
    lines = [f"publish run {report.run_id}: {mode}"]
    if report.listings is not None:
        lines.append(f"listings: {len(report.listings.plan.writes)} write(s)")
        for w, o, result in report.listings.outcomes:
            lines.append(
                f"  {o.status:<8} {w.action:<8} {w.store_id} {w.seller_sku} "
                f"{result or w.listing_id or ''} {_why(o.code, o.message)}".rstrip()
            )
        for tenant, why in report.listings.plan.refused.items():
            lines.append(f"  HELD BACK ({tenant}): {why}")
        for (store, group), why in list(report.listings.plan.unpublishable.items())[:20]:
            lines.append(f"  not ready {store} {group}: {why}")
    if report.prices is not None:
        moving = [p for p in report.prices.plan if p.needs_write]
        lines.append(f"prices: {len(moving)} change(s) of {len(report.prices.plan)} priced")
        for p, o in report.prices.outcomes:
            lines.append(
                f"  {o.status:<8} {p.store_id} {p.listing_id}/{p.variation_id or '-'} {p.sku} "
                f"{p.current} → {p.target} (floor {p.floor}) {_why(o.code, o.message)}".rstrip()
            )
    if report.fulfilment is not None:
        lines.append(f"fulfilment: {len(report.fulfilment.plan)} write(s)")
        for f, o in report.fulfilment.outcomes:
            lines.append(
                f"  {o.status:<8} {f.kind:<8} {f.store_id} order {f.order_id} "
                f"{_why(o.code, o.message)}".rstrip()
            )
        for store, order, kind, why in report.fulfilment.skipped[:20]:
            lines.append(f"  skipped  {kind:<8} {store} order {order}: {why}")
    if report.answers is not None:
        lines.append(
            f"answers: {len(report.answers.plan)} answer(s), "
            f"{report.answers.unanswered} open question(s) without one"
        )
        for a, o in report.answers.outcomes:
            lines.append(
                f"  {o.status:<8} {a.store_id} question {a.question_id} ({a.rule}) "
                f"{_why(o.code, o.message)}".rstrip()
            )
    for part, error in report.errors.items():
        lines.append(f"{part}: ERROR {error}")
    return lines


def _why(code: str | None, message: str | None) -> str:
    if code is None and message is None:
        return ""
    if message and message.startswith("{"):
        return ""  # an accepted write's answer: the audit keeps it
    return f"[{code or ''}] {message or ''}".strip()


def problems(report: PublishReport) -> int:
    parts: list[Any] = [report.listings, report.prices, report.fulfilment, report.answers]
    return sum(len(p.problems) for p in parts if p is not None) + len(report.errors)
