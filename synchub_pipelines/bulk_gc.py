"""Garbage-collector settings for bulk ingestion.

A backfill allocates millions of short-lived objects (parsed pages, models, row tuples).
With CPython's default thresholds the cyclic collector runs every 700 allocations and,
every so often, walks every object in the process — Dagster's and SQLAlchemy's large
module graphs included. Measured on a Mercado Livre order page, that doubled the cost of
parsing. Reference counting still frees everything these pipelines allocate (they make no
cycles), so collecting less often changes speed, not memory.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Young-generation threshold while a bulk sync runs (CPython's default is 700).
BULK_THRESHOLD = 50_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Collect rarely, and never walk the objects that existed before, for the block's span.

    Re-entrant and thread-safe: concurrent syncs in one process share the setting, and the
    last one out restores the previous thresholds.
    """
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            # Everything imported and built so far is long-lived: park it out of the
            # collector's sight instead of walking it again on every full collection.
            gc.freeze()
            gc.set_threshold(BULK_THRESHOLD, _saved[1], _saved[2])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()
