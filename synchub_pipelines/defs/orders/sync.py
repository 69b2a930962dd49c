"""Streams orders from a store's API into the warehouse with flat memory.

Windows (one per business day) are fetched by a few threads — the API is I/O bound —
into a bounded queue; the caller's thread parses nothing and writes batches of a few
thousand orders, each batch (orders + lines) in one transaction. Memory holds at most the
queue plus one batch, whatever the size of the backfill.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

from sqlalchemy.engine import Engine

from synchub_pipelines.bulk_gc import bulk_allocation
from synchub_pipelines.marketplaces.base import Page, StoreClient, TimeField
from synchub_pipelines.models import Order, Rejected, Store
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.order_facts import write_shipments
from synchub_pipelines.warehouse.rows import order_batches, reject_batch

Window = tuple[datetime, datetime]


@dataclass
class SyncStats:
    orders: int = 0
    items: int = 0
    rejected: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    windows: int = 0
    seconds: float = 0.0
    # Orders and lines per business date: each partition reports its own figures.
    orders_per_date: Counter[date] = field(default_factory=Counter)
    items_per_date: Counter[date] = field(default_factory=Counter)

    @property
    def business_dates(self) -> set[date]:
        return set(self.orders_per_date)

    def add_changed(self, changed: dict[str, int]) -> None:
        for table, count in changed.items():
            self.changed[table] = self.changed.get(table, 0) + count

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0


def day_windows(store: Store, dates: Sequence[date]) -> list[Window]:
    """[local midnight, next local midnight) for each business date, as UTC instants."""
    zone = store.zone
    windows = []
    for day in sorted(set(dates)):
        start = datetime.combine(day, clock_time.min, tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), clock_time.min, tzinfo=zone)
        windows.append((start, end))
    return windows


def merge_windows(windows: Sequence[Window], max_days: int) -> list[Window]:
    """Join back-to-back day windows into spans of up to `max_days` days."""
    merged: list[Window] = []
    for start, end in sorted(windows):
        if merged:
            last_start, last_end = merged[-1]
            if last_end == start and (end - last_start) <= timedelta(days=max_days, hours=2):
                merged[-1] = (last_start, end)
                continue
        merged.append((start, end))
    return merged


_DONE = object()
# Orders per page of a typical order search (Mercado Livre 51, Shopee and TikTok 100).
PAGE_SIZE_HINT = 50


def _fetch_pages(
    client: StoreClient, windows: Sequence[Window], by: TimeField, workers: int, depth: int
) -> Iterator[Page[Order]]:
    """Pages from every window, fetched concurrently, yielded as they arrive; at most
    `depth` pages wait, so fetching runs on while the caller writes but memory stays bounded."""
    pages: queue.Queue[object] = queue.Queue(maxsize=max(depth, 4 * workers))
    stop = threading.Event()

    def fetch(window: Window) -> None:
        for page in client.iter_orders(window[0], window[1], by):
            while not stop.is_set():
                try:
                    pages.put(page, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return

    def run_all() -> None:
        try:
            with ThreadPoolExecutor(workers, thread_name_prefix="orders-fetch") as pool:
                for future in [pool.submit(fetch, w) for w in windows]:
                    future.result()
        except BaseException as exc:
            stop.set()
            pages.put(exc)
        else:
            pages.put(_DONE)

    producer = threading.Thread(target=run_all, name="orders-fetch-all", daemon=True)
    producer.start()
    try:
        while True:
            item = pages.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        producer.join(timeout=30)


def upsert_orders(
    engine: Engine, orders: Sequence[Order], rejects: Sequence[Rejected] = ()
) -> dict[str, int]:
    """Orders with their lines, shipments and status history, and the malformed ones into
    `ingest_errors`, in one transaction; rows changed per table."""
    batches: list[upsert.Batch] = []
    prunes: list[upsert.Prune] = []
    if orders:
        batches, prunes = order_batches(orders)
    if rejects:
        batches.append(reject_batch(rejects, datetime.now().astimezone()))
    if not batches:
        return {}
    now = datetime.now(UTC)
    with engine.begin() as conn:
        changed = upsert.write(conn, batches, prunes, now=now)
        shipments = [s for o in orders for s in o.shipments]
        for table, count in write_shipments(conn, shipments, now).items():
            changed[table] = changed.get(table, 0) + count
    return changed


def sync_orders(
    client: StoreClient,
    engine: Engine,
    windows: Sequence[Window],
    by: TimeField = "created",
    batch_size: int = 5000,
    workers: int = 4,
    on_batch: Callable[[SyncStats], None] | None = None,
) -> SyncStats:
    # Day windows fetch in parallel; an API with a tight per-query quota (Amazon's getOrders)
    # says so with `max_window_days`, and gets few long windows instead.
    windows = merge_windows(windows, getattr(client, "max_window_days", 1))
    stats = SyncStats(windows=len(windows))
    started = time.perf_counter()
    pending: list[Order] = []
    rejects: list[Rejected] = []

    def flush() -> None:
        stats.add_changed(upsert_orders(engine, pending, rejects))
        pending.clear()
        rejects.clear()
        if on_batch is not None:
            on_batch(stats)

    # Room for about one batch of pages: while a batch merges (PostgreSQL working, this
    # process idle) the fetchers prepare the next one instead of stalling on a full queue.
    depth = batch_size // PAGE_SIZE_HINT
    workers = max(1, min(workers, len(windows)))
    with bulk_allocation():
        for page in _fetch_pages(client, windows, by, workers, depth):
            for order in page.records:
                stats.orders += 1
                stats.items += len(order.items)
                stats.orders_per_date[order.business_date] += 1
                stats.items_per_date[order.business_date] += len(order.items)
            pending.extend(page.records)
            rejects.extend(page.rejects)
            stats.rejected += len(page.rejects)
            if len(pending) >= batch_size:
                flush()
        flush()
    stats.seconds = time.perf_counter() - started
    return stats
