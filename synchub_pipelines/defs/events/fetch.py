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
from synchub_pipelines.models import Listing, Order
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import listing_batch, reject_batch

T = TypeVar("T")


@dataclass
class BatchResult:
    processed: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)
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


def process_events(
    client: StoreClient, engine: Engine, claimed: Sequence[ClaimedEvent]
) -> BatchResult:
    """Fetch, upsert and settle a store's claimed events. API failures become per-event
    failures (retried by the caller's policy); a warehouse failure raises."""
    result = BatchResult()
    orders: dict[str, list[ClaimedEvent]] = {}
    listings: dict[str, list[ClaimedEvent]] = {}
    for event in claimed:
        kind = resource_kind(event.marketplace, event.topic)
        if kind is None:
            result.ignored_topics += 1
            result.processed.append(event.seq)
        elif not event.resource_id:
            reason = f"{event.marketplace} topic {event.topic} event names no {kind}"
            result.failures.append(Failure(event, reason, retryable=False))
        else:
            (orders if kind == "order" else listings).setdefault(event.resource_id, []).append(
                event
            )

    if orders:
        ids = list(orders)
        try:
            page, errors = _fetch_isolated(client.get_orders, ids)
        except MarketplaceError as exc:
            page, errors = Page(), dict.fromkeys(ids, describe(exc))
        result.add_changed(upsert_orders(engine, page.records, page.rejects))
        result.orders = list(page.records)
        result.rejected += len(page.rejects)
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
    return result
