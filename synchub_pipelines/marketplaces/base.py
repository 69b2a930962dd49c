"""What every marketplace client offers the assets, in canonical models."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from synchub_pipelines.models import (
    Listing,
    Order,
    OrderFacts,
    OrderRef,
    Question,
    Rejected,
    Shipment,
)

T = TypeVar("T")
R = TypeVar("R")

# Per-order calls (fees, settlement, tracking) in flight at once: enough to hide the round
# trips, while the shared rate limiter, not the pool, sets the pace.
CALLS_IN_FLIGHT = 8

TimeField = Literal["created", "updated"]


class ApiShape(BaseModel):
    """An API's own payload shape: the fields the pipeline reads; anything else is ignored,
    so a marketplace adding fields never breaks parsing."""

    model_config = ConfigDict(extra="ignore")


def blank_to_none(value: Any) -> Any:
    """Marketplaces send "" where they mean "not given"."""
    return None if isinstance(value, str) and not value.strip() else value


@dataclass
class Page(Generic[T]):
    """Records parsed from one API page, and the ones that failed validation (kept)."""

    records: list[T] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)


class StoreClient(Protocol):
    """One connected account's API, spoken in the canonical model.

    A client may set `max_window_days` (default 1): how many business days one
    `iter_orders` call should cover when a backfill spans many. Day windows run in
    parallel; APIs whose quota is per query rather than per page want longer ones.

    Money and logistics that the order pages do not carry (fees settled after the sale,
    tracking, delivery) come from `get_order_facts`, which the facts refresh calls for
    orders that are not settled yet. Two class attributes bound it:
    `settlement_days` — after how many days from the sale the marketplace has settled
    (older orders are read once more at most, then left alone), and
    `facts_per_run` — how many orders one refresh run may re-read within the API's budget.
    """

    def iter_listings(self) -> Iterator[Page[Listing]]: ...

    def iter_orders(
        self, start: datetime, end: datetime, by: TimeField = "created"
    ) -> Iterator[Page[Order]]:
        """Orders whose creation (or last update) time is in [start, end)."""
        ...

    def get_orders(self, order_ids: Sequence[str]) -> Page[Order]: ...

    def get_order_facts(self, orders: Sequence[OrderRef]) -> Page[OrderFacts]:
        """Fees, settlement, shipments (and their status instants) of these orders, as the
        marketplace shows them now. An order the API does not know is simply absent; one
        whose answer does not parse is a reject."""
        ...

    def close(self) -> None: ...


class ShipmentsClient(Protocol):
    """A client whose shipments have their own ids and API (Mercado Livre)."""

    def get_shipments(self, shipment_ids: Sequence[str]) -> Page[Shipment]: ...


class QuestionsClient(Protocol):
    """A client of a marketplace where buyers ask questions on listings (Mercado Livre)."""

    def iter_questions(self, since: datetime | None = None) -> Iterator[Page[Question]]:
        """Questions received by the seller, newest first, down to `since` (None: all)."""
        ...

    def get_questions(self, question_ids: Sequence[str]) -> Page[Question]: ...


def describe_validation_error(exc: ValidationError) -> str:
    """A short, readable reason: which fields were wrong and why (no input values)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "record"
        problems.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(problems)
    return "; ".join(problems) + (f" (+{more} more)" if more > 0 else "")


def reject(source: str, store_id: str, key: object, reason: str, raw: Any) -> Rejected:
    return Rejected(
        source=source,
        store_id=store_id,
        record_key=str(key) if key not in (None, "") else "<no id>",
        reason=reason,
        payload=json.dumps(raw, default=str, ensure_ascii=False, sort_keys=True),
    )


def parse_records(
    raws: Iterable[Any],
    source: str,
    store_id: str,
    key: Callable[[dict[str, Any]], object],
    build: Callable[[Any], T],
) -> Page[T]:
    """Each raw record through `build`; one that fails validation is kept as a reject with
    its reason and `key` (read from the record when it is an object), and the rest go on."""
    page: Page[T] = Page()
    for raw in raws:
        try:
            page.records.append(build(raw))
        except ValidationError as exc:
            record_key = key(raw) if isinstance(raw, dict) else None
            reason = describe_validation_error(exc)
            page.rejects.append(reject(source, store_id, record_key, reason, raw))
    return page


def chunked(values: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def in_flight(
    call: Callable[[T], R], values: Sequence[T], workers: int = CALLS_IN_FLIGHT
) -> list[R]:
    """`call` of each value, up to `workers` at once; results in the values' order.

    The first error is raised once the calls already running have ended; the calls not yet
    started are cancelled, so a failing API is not asked again by the rest of the batch."""
    if len(values) < 2 or workers < 2:
        return [call(value) for value in values]
    pool = ThreadPoolExecutor(min(workers, len(values)), thread_name_prefix="api-call")
    try:
        return list(pool.map(call, values))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
