"""Large backfills split across worker processes, each a whole fetch → parse → merge pipeline.

One Python process tops out at one core (parsing and row building hold the GIL), while the
API and PostgreSQL have room to spare. Disjoint day windows go to separate processes that
each run `sync_orders` with their own client and connection; their writes never touch the
same rows, so they need no coordination beyond the token store's row lock.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from synchub_pipelines.marketplaces.base import StoreClient, TimeField
from synchub_pipelines.models import Store
from synchub_pipelines.warehouse.budgets import share_budgets
from synchub_pipelines.warehouse.credentials import SqlTokenStore
from synchub_pipelines.warehouse.engine import engine_for

from .sync import SyncStats, Window, merge_windows, sync_orders

# Below this many windows per process, the seconds a worker takes to start are not worth it.
MIN_WINDOWS_PER_PROCESS = 8


@dataclass(frozen=True)
class ShardJob:
    client_class: type[StoreClient]
    app: Any
    store: Store
    warehouse_url: str
    secret_key: bytes
    buyer_salt: str
    windows: tuple[Window, ...]
    by: TimeField


def run_shard(job: ShardJob) -> SyncStats:
    engine = engine_for(job.warehouse_url)
    share_budgets(engine)  # a worker process draws from the same budget as its run
    client = job.client_class(  # type: ignore[call-arg]
        job.app, job.store, SqlTokenStore(engine, job.secret_key), job.buyer_salt
    )
    try:
        return sync_orders(client, engine, list(job.windows), job.by)
    finally:
        client.close()


def backfill_processes() -> int:
    """SYNCHUB_BACKFILL_PROCESSES, or one per core; 1 keeps everything in this process."""
    configured = os.environ.get("SYNCHUB_BACKFILL_PROCESSES", "").strip()
    return max(1, int(configured)) if configured else max(1, os.cpu_count() or 1)


def plan_shards(windows: list[Window], max_window_days: int, processes: int) -> list[list[Window]]:
    """Split windows round-robin (recent and old days mixed) into at most `processes` shards."""
    merged = merge_windows(windows, max_window_days)
    count = min(processes, max(1, len(merged) // MIN_WINDOWS_PER_PROCESS))
    return [merged[i::count] for i in range(count)]


def merge_stats(parts: list[SyncStats]) -> SyncStats:
    total = SyncStats()
    for part in parts:
        total.orders += part.orders
        total.items += part.items
        total.rejected += part.rejected
        total.windows += part.windows
        total.add_changed(part.changed)
        total.orders_per_date.update(part.orders_per_date)
        total.items_per_date.update(part.items_per_date)
        total.seconds = max(total.seconds, part.seconds)
    return total


def sync_orders_sharded(jobs: list[ShardJob]) -> SyncStats:
    """Every shard but the first in a worker process; the first runs here meanwhile, so the
    caller's process (already warm) does its share instead of waiting."""
    if len(jobs) == 1:
        return run_shard(jobs[0])
    # spawn: a fresh interpreter, not a fork of a process with threads and open sockets.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(jobs) - 1, mp_context=context) as pool:
        others = [pool.submit(run_shard, job) for job in jobs[1:]]
        here = run_shard(jobs[0])
        return merge_stats([here, *(future.result() for future in others)])
