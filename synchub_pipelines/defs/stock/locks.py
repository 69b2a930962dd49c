"""One stock step at a time across runs, so what reaches the marketplaces only gets fresher.

Fast-path runs overlap (one per sensor tick). If two pushes ran at once, the one that read
older reservations could write after the one that read newer ones and put back units that
were sold. Each stock step (allocation, plan, push) therefore holds one warehouse-wide lock
while it reads and writes: steps run in the order they get the lock, each on the freshest
data, and writes reach the APIs in that order. PostgreSQL: a session advisory lock (held by
a connection of its own, released if the process dies). SQLite, the single-user embedded
default: a lock of this process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# An arbitrary constant naming the stock domain's lock among PostgreSQL advisory locks.
STOCK_LOCK_ID = 5_005_005
_local = threading.Lock()


@contextmanager
def stock_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":
        with _local:
            yield
        return
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": STOCK_LOCK_ID})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": STOCK_LOCK_ID})
            conn.commit()
