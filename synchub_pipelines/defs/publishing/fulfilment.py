"""Fulfilment write-back: the merchant's invoices (NF-e) and trackings sent to the
marketplaces for the orders the seller ships.

Input: the `fulfilment_updates` table, which the merchant's ERP (or Bling) fills, and/or a
CSV file at $SYNCHUB_FULFILMENT_FILE (default `fulfilment.csv` in the data directory),
loaded into that table first. Columns: store_id, order_id (required); invoice_key (44
digits), invoice_number, invoice_series, invoice_issued_at (ISO 8601 with a zone),
invoice_amount, invoice_xml_path (the authorized NF-e XML; Amazon needs it); carrier,
tracking_number, tracking_url. A bad row is quarantined in `ingest_errors` with its line
and reason; the others load.

Per order an invoice and a tracking are separate writes. Neither is sent for an order the
marketplace ships itself (its shipments say `logistic_mode = marketplace`), nor again once
the same content was accepted or refused (`fulfilment_pushes`), nor — for a tracking — when the
shipments already show that tracking number. The marketplace's refusals (a cancelled
order, an invoice already there…) are kept on the order's audit row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy.engine import Engine

from synchub_pipelines import settings
from synchub_pipelines.defs.publishing.common import (
    PLANNED,
    ClientFactory,
    Outcome,
    RunScope,
    attempt,
    client_calls,
    summary,
)
from synchub_pipelines.marketplaces.publishing import Invoice, Tracking
from synchub_pipelines.models import Rejected
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import reject_batch
from synchub_pipelines.warehouse.schema_publishing import fulfilment_pushes, fulfilment_updates

FULFILMENT_FILE_ENV = "SYNCHUB_FULFILMENT_FILE"


class FulfilmentRow(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    store_id: str
    order_id: str
    invoice_key: str | None = None
    invoice_number: str | None = None
    invoice_series: str | None = None
    invoice_issued_at: datetime | None = None
    invoice_amount: Decimal | None = None
    invoice_xml_path: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("invoice_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 44 or not value.isdigit()):
            raise ValueError("invoice_key must be the NF-e's 44-digit access key")
        return value

    @field_validator("invoice_issued_at")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("invoice_issued_at needs a time zone (e.g. 2026-03-14T10:00-03:00)")
        return value

    def check(self) -> None:
        invoice = [
            self.invoice_key,
            self.invoice_number,
            self.invoice_series,
            self.invoice_issued_at,
        ]
        if any(v is not None for v in invoice) and not all(v is not None for v in invoice):
            raise ValueError(
                "an invoice needs invoice_key, invoice_number, invoice_series and "
                "invoice_issued_at together"
            )
        if (self.carrier is None) != (self.tracking_number is None):
            raise ValueError("a tracking needs carrier and tracking_number together")
        if self.invoice_key is None and self.tracking_number is None:
            raise ValueError("the row has neither an invoice nor a tracking")


def fulfilment_file(path: str | None = None) -> Path | None:
    chosen = path or os.environ.get(FULFILMENT_FILE_ENV, "").strip()
    if chosen:
        return Path(chosen)
    default = settings.data_dir() / "fulfilment.csv"
    return default if default.exists() else None


def load_file(engine: Engine, path: Path, now: datetime) -> tuple[int, int]:
    """The file's rows into `fulfilment_updates` (source `file`); returns (loaded, rejected)."""
    if not path.exists():
        raise ValueError(f"the fulfilment file {path} does not exist ({FULFILMENT_FILE_ENV})")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        raws = list(csv.DictReader(handle))
    batch = upsert.Batch.for_table(fulfilment_updates)
    # The ERP's own rows win over an older file row of the same order.
    batch.only_if = (
        "NOT EXISTS (SELECT 1 FROM fulfilment_updates f WHERE f.store_id = "
        "{row}.store_id AND f.order_id = {row}.order_id AND f.source <> 'file')"
    )
    rejects: list[Rejected] = []
    for line, raw in enumerate(raws, start=2):
        try:
            row = FulfilmentRow.model_validate(raw)
            row.check()
        except (ValidationError, ValueError, InvalidOperation) as exc:
            reason = str(exc).replace("\n", " ")[:400]
            rejects.append(
                Rejected(
                    source="fulfilment_file",
                    store_id=str(raw.get("store_id") or "") or None,
                    record_key=str(raw.get("order_id") or f"line {line}"),
                    reason=f"line {line}: {reason}",
                    payload=json.dumps(raw, ensure_ascii=False, sort_keys=True),
                )
            )
            continue
        batch.rows.append(
            (
                row.store_id,
                row.order_id,
                row.invoice_key,
                row.invoice_number,
                row.invoice_series,
                row.invoice_issued_at,
                row.invoice_amount,
                row.invoice_xml_path,
                row.carrier,
                row.tracking_number,
                row.tracking_url,
                "file",
                now,
            )
        )
    batches = [batch] + ([reject_batch(rejects, now)] if rejects else [])
    upsert.write(engine, batches)
    return len(batch.rows), len(rejects)


@dataclass(frozen=True)
class PlannedFulfilment:
    store_id: str
    order_id: str
    kind: str  # invoice | tracking
    tenant: str
    marketplace: str
    invoice: Invoice | None = None
    tracking: Tracking | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.store_id, self.order_id, self.kind)

    def request(self) -> dict[str, Any]:
        if self.invoice is not None:
            i = self.invoice
            return {
                "access_key": i.access_key,
                "number": i.number,
                "series": i.series,
                "issued_at": i.issued_at.isoformat(),
                "total_amount": i.total_amount,
                "xml": bool(i.xml),
            }
        assert self.tracking is not None
        return self.tracking.model_dump(mode="json")

    def fingerprint(self) -> str:
        return hashlib.sha256(summary(self.request()).encode()).hexdigest()[:16]


@dataclass
class FulfilmentReport:
    plan: list[PlannedFulfilment] = field(default_factory=list)
    skipped: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # store, order, kind, why
    outcomes: list[tuple[PlannedFulfilment, Outcome]] = field(default_factory=list)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return sum(1 for _, o in self.outcomes if o.ok)

    @property
    def problems(self) -> list[tuple[PlannedFulfilment, Outcome]]:
        return [(p, o) for p, o in self.outcomes if o.status in ("refused", "failed")]


def _utc(value: datetime | str) -> datetime:
    """A stored instant: UTC, aware (SQLite answers text SQL's timestamps as naive text)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _xml(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the NF-e XML {path}: {exc}") from None


def plan_fulfilment(engine: Engine, scope: RunScope) -> FulfilmentReport:
    report = FulfilmentReport()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT f.*, s.tenant, s.marketplace, o.order_id AS known "
                "FROM fulfilment_updates f JOIN stores s ON s.store_id = f.store_id "
                "LEFT JOIN orders o ON o.store_id = f.store_id AND o.order_id = f.order_id "
                "ORDER BY f.store_id, f.order_id"
            )
        ).all()
        modes: dict[tuple[str, str], set[str]] = defaultdict(set)
        trackings: dict[tuple[str, str], set[str]] = defaultdict(set)
        for r in conn.execute(
            sa.text("SELECT store_id, order_id, logistic_mode, tracking_number FROM shipments")
        ):
            modes[(r.store_id, r.order_id)].add(r.logistic_mode or "")
            if r.tracking_number:
                trackings[(r.store_id, r.order_id)].add(r.tracking_number)
        # The last verdict on each content sent: accepted, or refused (the same content
        # would be refused again; a corrected row is a new content and goes).
        sent: dict[tuple[str, str, str, str], str] = {}
        for r in conn.execute(
            sa.text(
                "SELECT store_id, order_id, kind, request, status FROM fulfilment_pushes "
                "WHERE status IN ('written', 'refused') AND NOT dry_run ORDER BY at"
            )
        ):
            fingerprint = hashlib.sha256(r.request.encode()).hexdigest()[:16]
            sent[(r.store_id, r.order_id, r.kind, fingerprint)] = r.status
    for r in rows:
        if not scope.covers(r.store_id, r.tenant):
            continue
        order = (r.store_id, r.order_id)

        def skip(kind: str, why: str, r: Any = r) -> None:
            report.skipped.append((r.store_id, r.order_id, kind, why))

        kinds = [
            k for k, given in (("invoice", r.invoice_key), ("tracking", r.tracking_number)) if given
        ]
        if r.known is None:
            for kind in kinds:
                skip(kind, "the order is not in the warehouse (not synced yet, or another store)")
            continue
        if modes.get(order) and modes[order] <= {"marketplace"}:
            for kind in kinds:
                skip(kind, "the marketplace ships this order itself")
            continue
        planned: list[PlannedFulfilment] = []
        if r.invoice_key:
            try:
                invoice = Invoice(
                    access_key=r.invoice_key,
                    number=r.invoice_number,
                    series=r.invoice_series,
                    issued_at=_utc(r.invoice_issued_at),
                    total_amount=None if r.invoice_amount is None else Decimal(r.invoice_amount),
                    xml=_xml(r.invoice_xml_path),
                )
            except (ValidationError, ValueError) as exc:
                skip("invoice", str(exc).replace("\n", " ")[:300])
            else:
                planned.append(
                    PlannedFulfilment(
                        r.store_id, r.order_id, "invoice", r.tenant, r.marketplace, invoice=invoice
                    )
                )
        if r.tracking_number:
            if r.tracking_number in trackings.get(order, set()):
                skip("tracking", "the shipment already shows this tracking number")
            else:
                planned.append(
                    PlannedFulfilment(
                        r.store_id,
                        r.order_id,
                        "tracking",
                        r.tenant,
                        r.marketplace,
                        tracking=Tracking(
                            carrier=r.carrier,
                            tracking_number=r.tracking_number,
                            tracking_url=r.tracking_url,
                        ),
                    )
                )
        for p in planned:
            verdict = sent.get((*p.key, p.fingerprint()))
            if verdict == "written":
                skip(p.kind, "already sent and accepted")
            elif verdict == "refused":
                skip(p.kind, "refused before as it is: correct the row to send it again")
            else:
                report.plan.append(p)
    return report


def run_fulfilment(
    engine: Engine,
    client_for: ClientFactory,
    dry_run: bool,
    scope: RunScope,
    run_id: str,
    attempt_no: int,
    now: datetime,
    file_path: str | None = None,
) -> FulfilmentReport:
    source = fulfilment_file(file_path)
    if source is not None:
        load_file(engine, source, now)
    report = plan_fulfilment(engine, scope)
    if dry_run:
        report.outcomes = [(p, PLANNED) for p in report.plan]
        _audit(engine, run_id, attempt_no, now, report.outcomes, dry_run=True)
        return report
    by_store: dict[str, list[PlannedFulfilment]] = defaultdict(list)
    for p in report.plan:
        by_store[p.store_id].append(p)
    for store_id, writes in sorted(by_store.items()):
        done: list[tuple[PlannedFulfilment, Outcome]] = []
        try:
            client = client_for(store_id)
        except Exception as exc:
            done = [(p, Outcome("failed", None, f"no client: {exc}"[:500])) for p in writes]
        else:
            try:
                for p in writes:
                    method = getattr(client, f"send_{p.kind}", None)
                    if method is None:
                        done.append(
                            (
                                p,
                                Outcome(
                                    "skipped",
                                    "unsupported",
                                    f"the {type(client).__name__} cannot send a {p.kind} yet",
                                ),
                            )
                        )
                        continue
                    payload = p.invoice if p.kind == "invoice" else p.tracking
                    _, outcome = attempt(partial(method, p.order_id, payload))
                    done.append((p, outcome))
                report.calls[store_id] = client_calls(client)
            finally:
                client.close()
        _audit(engine, run_id, attempt_no, now, done, dry_run=False)
        report.outcomes += done
    return report


def _audit(
    engine: Engine,
    run_id: str,
    attempt_no: int,
    now: datetime,
    done: Sequence[tuple[PlannedFulfilment, Outcome]],
    *,
    dry_run: bool,
) -> None:
    if not done:
        return
    audit = upsert.Batch.for_table(fulfilment_pushes)
    audit.rows.extend(
        (
            run_id,
            attempt_no,
            *p.key,
            p.tenant,
            p.marketplace,
            dry_run,
            summary(p.request()),
            o.status,
            o.code,
            o.message,
            now,
        )
        for p, o in done
    )
    upsert.write(engine, [audit])
