"""A run's work for one store's events: fetch what they name by id, upsert, settle each.

Orders go through the orders domain's upsert (`upsert_orders`: lines pruned, malformed
records into `ingest_errors`), listings through the listings batch — the same writes a
backfill does, so an event and a backfill of the same order leave the same row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.engine import Engine

from synchub_pipelines.defs.events.event_log import ClaimedEvent, Failure
from synchub_pipelines.defs.events.topics import resource_kind
from synchub_pipelines.defs.orders.sync import upsert_orders
from synchub_pipelines.marketplaces.base import Page, StoreClient
from synchub_pipelines.marketplaces.errors import InvalidRequestError, MarketplaceError
from synchub_pipelines.models import (
    Listing,
    Order,
    OrderFacts,
    OrderRef,
    OrderStatus,
    Question,
    Shipment,
)
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.order_facts import write_order_facts, write_shipments
from synchub_pipelines.warehouse.rows import listing_batch, question_batch, reject_batch

T = TypeVar("T")


@dataclass
class BatchResult:
    processed: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    facts_read: int = 0
    facts_error: str | None = None
    rejected: int = 0
    ignored_topics: int = 0
    changed: dict[str, int] = field(default_factory=dict)

    def add_changed(self, changed: dict[str, int]) -> None:
        for table, count in changed.items():
            self.changed[table] = self.changed.get(table, 0) + count


def describe(exc: BaseException) -> str:
    """A reason for `last_error`. Client errors are written to carry no secret; anything
    else is reduced to its type and first line."""
    if isinstance(exc, MarketplaceError):
        return str(exc)
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''}"[:500]


def _fetch_isolated(
    fetch: Callable[[list[str]], Page[T]], ids: list[str]
) -> tuple[Page[T], dict[str, str]]:
    """One call for all ids; if the API refuses the batch (a 4xx such as one unknown id in
    Mercado Livre's per-order GETs), each id alone, so one bad id fails only its events."""
    try:
        return fetch(ids), {}
    except InvalidRequestError as exc:
        if len(ids) == 1:
            return Page(), {ids[0]: describe(exc)}
    page: Page[T] = Page()
    errors: dict[str, str] = {}
    for one in ids:
        try:
            part = fetch([one])
        except InvalidRequestError as exc:
            errors[one] = describe(exc)
            continue
        page.records += part.records
        page.rejects += part.rejects
    return page, errors


def fetch_listings(client: StoreClient, listing_ids: Sequence[str]) -> Page[Listing]:
    """Listings by id where the client offers a multiget (Mercado Livre's `get_items`);
    otherwise a scan of the store's listings keeping the ones asked for."""
    get_items = getattr(client, "get_items", None)
    if get_items is not None:
        return get_items(list(listing_ids))  # type: ignore[no-any-return]
    wanted = set(listing_ids)
    found: Page[Listing] = Page()
    for page in client.iter_listings():
        found.records += [x for x in page.records if x.listing_id in wanted]
        found.rejects += [r for r in page.rejects if r.record_key in wanted]
    return found


def _settle(
    result: BatchResult,
    by_id: dict[str, list[ClaimedEvent]],
    found: set[str],
    rejected: dict[str, str],
    errors: dict[str, str],
    what: str,
) -> None:
    for resource_id, claimed in by_id.items():
        for event in claimed:
            if resource_id in found:
                result.processed.append(event.seq)
            elif resource_id in rejected:
                # Fetching again returns the same malformed record: no retry.
                reason = (
                    f"{what} {resource_id} quarantined in ingest_errors: {rejected[resource_id]}"
                )
                result.failures.append(Failure(event, reason, retryable=False))
            else:
                reason = errors.get(resource_id) or f"{what} {resource_id} not returned by the API"
                result.failures.append(Failure(event, reason))


def order_ref(order: Order) -> OrderRef:
    return OrderRef(
        order_id=order.order_id,
        created_at=order.created_at,
        status=order.status,
        raw_status=order.raw_status,
        currency=order.currency,
        items_amount=order.items_amount,
        total_amount=order.total_amount,
        shipping_paid_by_buyer=order.shipping_paid_by_buyer,
        fee_amount=order.fee_amount,
        shipment_ids=tuple(s.shipment_id for s in order.shipments),
    )


def refresh_facts(client: StoreClient, engine: Engine, orders: Sequence[Order]) -> Page[OrderFacts]:
    """The fees and shipments of orders an event just delivered, read and written at once
    (a shipped or settled order shows so without waiting for the scheduled refresh)."""
    if not orders:
        return Page()
    page = client.get_order_facts([order_ref(o) for o in orders])
    never_ship = {o.order_id for o in orders if o.status == OrderStatus.CANCELLED}
    write_order_facts(engine, page.records, datetime.now(UTC), never_ship)
    if page.rejects:
        upsert.write(engine, [reject_batch(page.rejects, datetime.now(UTC))])
    return page


def _shipments_or_questions(
    client: StoreClient,
    engine: Engine,
    result: BatchResult,
    kind: str,
    wanted: dict[str, list[ClaimedEvent]],
) -> None:
    method = getattr(client, "get_shipments" if kind == "shipment" else "get_questions", None)
    if method is None:
        # This marketplace keeps no such resource here: nothing to fetch, nothing to retry.
        result.ignored_topics += sum(len(events) for events in wanted.values())
        result.processed += [e.seq for events in wanted.values() for e in events]
        return
    ids = list(wanted)
    try:
        page, errors = _fetch_isolated(method, ids)
    except MarketplaceError as exc:
        page, errors = Page(), dict.fromkeys(ids, describe(exc))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if kind == "shipment":
            result.add_changed(write_shipments(conn, page.records, now))
            result.shipments = list(page.records)
            found = {s.shipment_id for s in page.records}
        else:
            result.add_changed(upsert.write(conn, [question_batch(page.records)], now=now))
            result.questions = list(page.records)
            found = {q.question_id for q in page.records}
        if page.rejects:
            upsert.write(conn, [reject_batch(page.rejects, now)], now=now)
    result.rejected += len(page.rejects)
    rejected = {r.record_key: r.reason for r in page.rejects if r.record_key not in found}
    _settle(result, wanted, found, rejected, errors, kind)


def process_events(
    client: StoreClient, engine: Engine, claimed: Sequence[ClaimedEvent]
) -> BatchResult:
    """Fetch, upsert and settle a store's claimed events. API failures become per-event
    failures (retried by the caller's policy); a warehouse failure raises."""
    result = BatchResult()
    by_kind: dict[str, dict[str, list[ClaimedEvent]]] = {
        "order": {},
        "listing": {},
        "shipment": {},
        "question": {},
    }
    for event in claimed:
        kind = resource_kind(event.marketplace, event.topic)
        if kind is None:
            result.ignored_topics += 1
            result.processed.append(event.seq)
        elif not event.resource_id:
            reason = f"{event.marketplace} topic {event.topic} event names no {kind}"
            result.failures.append(Failure(event, reason, retryable=False))
        else:
            by_kind[kind].setdefault(event.resource_id, []).append(event)
    orders, listings = by_kind["order"], by_kind["listing"]

    if orders:
        ids = list(orders)
        try:
            page, errors = _fetch_isolated(client.get_orders, ids)
        except MarketplaceError as exc:
            page, errors = Page(), dict.fromkeys(ids, describe(exc))
        result.add_changed(upsert_orders(engine, page.records, page.rejects))
        result.orders = list(page.records)
        result.rejected += len(page.rejects)
        try:
            facts = refresh_facts(client, engine, page.records)
        except MarketplaceError as exc:
            # The orders are written; their facts wait for the scheduled refresh.
            result.facts_error = describe(exc)
        else:
            result.facts_read = len(facts.records)
            result.rejected += len(facts.rejects)
        found = {o.order_id for o in page.records}
        rejected = {r.record_key: r.reason for r in page.rejects if r.record_key not in found}
        _settle(result, orders, found, rejected, errors, "order")

    if listings:
        ids = list(listings)
        try:
            lpage, errors = _fetch_isolated(lambda chunk: fetch_listings(client, chunk), ids)
        except MarketplaceError as exc:
            lpage, errors = Page(), dict.fromkeys(ids, describe(exc))
        batches = [listing_batch(lpage.records)]
        if lpage.rejects:
            batches.append(reject_batch(lpage.rejects, datetime.now(UTC)))
        result.add_changed(upsert.write(engine, batches))
        result.listings = list(lpage.records)
        result.rejected += len(lpage.rejects)
        found = {x.listing_id for x in lpage.records}
        rejected = {r.record_key: r.reason for r in lpage.rejects if r.record_key not in found}
        _settle(result, listings, found, rejected, errors, "listing")

    for other in ("shipment", "question"):
        if by_kind[other]:
            _shipments_or_questions(client, engine, result, other, by_kind[other])
    return result
