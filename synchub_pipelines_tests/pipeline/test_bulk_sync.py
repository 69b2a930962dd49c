"""The bulk order sync's machinery: collector settings, page read-ahead, shard planning."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from synchub_pipelines.defs.orders.shards import merge_stats, plan_shards
from synchub_pipelines.defs.orders.sync import SyncStats, _fetch_pages
from synchub_pipelines.marketplaces.base import Page
from synchub_pipelines.models import Order

# The collector's settings are process-wide: these run in a fresh interpreter, so that
# nothing they freeze or release changes the garbage-collection timing of the other tests.
_NESTED_AND_RESTORED = """
import gc
from synchub_pipelines.bulk_gc import BULK_THRESHOLD, bulk_allocation
before = gc.get_threshold()
with bulk_allocation():
    assert gc.get_threshold()[0] == BULK_THRESHOLD
    assert gc.get_freeze_count() > 0
    with bulk_allocation():  # a second sync in the same process
        assert gc.get_threshold()[0] == BULK_THRESHOLD
    # The inner one leaving must not restore while the outer one still runs.
    assert gc.get_threshold()[0] == BULK_THRESHOLD
assert gc.get_threshold() == before
assert gc.get_freeze_count() == 0
try:
    with bulk_allocation():
        raise RuntimeError("the API went away")
except RuntimeError:
    pass
assert gc.get_threshold() == before and gc.get_freeze_count() == 0
print("ok")
"""


def test_bulk_allocation_raises_the_threshold_nests_and_restores_even_on_error() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _NESTED_AND_RESTORED], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


class _CountingClient:
    """Hands out pages instantly and records how far ahead of the consumer it got."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.produced = 0
        self._lock = threading.Lock()

    def iter_orders(self, start: datetime, end: datetime, by: str) -> Iterator[Page[Order]]:
        for _ in range(self.pages):
            with self._lock:
                self.produced += 1
            yield Page()


def test_fetchers_read_ahead_up_to_the_depth_while_the_consumer_is_busy() -> None:
    client = _CountingClient(pages=500)
    now = datetime.now(UTC)
    pages = _fetch_pages(client, [(now, now + timedelta(days=1))], "created", 1, depth=100)  # type: ignore[arg-type]
    next(pages)
    time.sleep(0.3)  # the consumer is writing a batch: fetching must go on meanwhile…
    assert client.produced >= 100
    assert client.produced <= 100 + 2  # …but never beyond the bound: memory stays flat
    assert sum(1 for _ in pages) == 499


def test_shards_mix_old_and_recent_days_and_stats_add_up() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    windows = [(start + timedelta(days=d), start + timedelta(days=d + 1)) for d in range(40)]
    shards = plan_shards(windows, max_window_days=1, processes=2)
    assert len(shards) == 2
    assert sorted(w for shard in shards for w in shard) == windows
    assert shards[0][0] == windows[0] and shards[1][0] == windows[1]
    # Too few windows to be worth a second process: one shard.
    assert len(plan_shards(windows[:10], max_window_days=1, processes=2)) == 1

    a, b = SyncStats(orders=3, items=5, seconds=2.0), SyncStats(orders=4, items=6, seconds=3.0)
    a.add_changed({"orders": 3})
    b.add_changed({"orders": 1, "order_items": 2})
    total = merge_stats([a, b])
    assert (total.orders, total.items, total.seconds) == (7, 11, 3.0)
    assert total.changed == {"orders": 4, "order_items": 2}
