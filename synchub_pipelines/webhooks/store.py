"""The receiver's durable write: accepted notifications into `webhook_events`.

One writer task per process gathers whatever requests are waiting and writes them in one
transaction (one INSERT … ON CONFLICT DO NOTHING, one commit), then answers them all.
Under no load a batch is a single event and nothing waits for a timer; under load one
commit (one WAL flush) covers many events, which is what lets a 2-core machine take
thousands of notifications a second with each answered only after its row is durable.

`seq` orders events for the sensors ("events with seq > cursor"). A cursor is only safe if
a row never becomes visible after a row with a higher seq, so on PostgreSQL every insert
transaction takes one advisory lock before drawing numbers: transactions that draw seq
values commit in the order they drew them, across receiver processes. SQLite has one
writer at a time anyway, and draws MAX(seq) + 1 inside the inserting statement. A
duplicate may consume a number (a gap), never repeat or reorder one. Every writer of
`webhook_events` must go through `insert_events` (or take the same lock).

A failed write is one of three things, and each gets its own answer: the database cannot
take writes now (`StorageUnavailable`: 503, the sender retries), it refuses this event's
content (`RowRefused`: a 4xx, since a retry would be refused again), or something else (a
bug: 500). Only the first fails a whole batch at once; otherwise the batch is split until
the failing row is alone, so its neighbours are still stored and answered 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from synchub_pipelines.warehouse.engine import normalize_url
from synchub_pipelines.warehouse.schema import stores, webhook_events, webhook_events_seq
from synchub_pipelines.webhooks.verify import Notification

log = logging.getLogger(__name__)

# Serializes seq assignment + commit of webhook_events inserts on PostgreSQL ("WHEV").
SEQ_LOCK_KEY = 0x57484556


class StorageUnavailable(Exception):
    """The warehouse could not take the write (down, unreachable, locked, timed out)."""


class RowRefused(Exception):
    """The warehouse refuses this event's values (a character or a size it cannot store)."""


@dataclass(frozen=True)
class EventRow:
    notification: Notification
    received_at: datetime
    state: str = "pending"
    reason: str | None = None

    def values(self) -> dict[str, Any]:
        n = self.notification
        return {
            "event_key": n.event_key,
            "marketplace": n.marketplace,
            "store_id": n.store_id,
            "topic": n.topic,
            "resource_id": n.resource_id,
            "payload": n.payload,
            "received_at": self.received_at,
            "state": self.state,
            "attempts": 0,
            "last_error": self.reason,
        }


def receiver_engine(url: str, timeout_seconds: float) -> Engine:
    """A small pool with short timeouts: a slow database must become a 503, not a hang.

    No pre-ping (it would cost a round trip per batch); a connection found dead is retried
    once on a fresh one instead (see `insert_events`).
    """
    parsed = normalize_url(url)
    millis = max(1, int(timeout_seconds * 1000))
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed,
            pool_size=2,
            max_overflow=2,
            pool_timeout=timeout_seconds,
            # The busy timeout: how long a write waits for another writer's lock.
            connect_args={"timeout": timeout_seconds, "check_same_thread": False},
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: the commit survives a power cut, not just a crash — the 2xx promises it.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    return sa.create_engine(
        parsed,
        pool_size=3,
        max_overflow=2,
        pool_timeout=timeout_seconds,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": max(1, math.ceil(timeout_seconds)),
            # Bounds a query on a connection whose peer vanished (no RST ever comes).
            "tcp_user_timeout": millis,
            "options": f"-c statement_timeout={millis} -c lock_timeout={millis}",
        },
    )


# SQLSTATE classes (PostgreSQL) by what they say about the write. Psycopg files some
# content errors under OperationalError — 54000, "index row size exceeds maximum", among
# them — so the state decides before the exception type does.
_REFUSED_STATES = ("22", "54")  # data exception; program limit exceeded
_UNAVAILABLE_STATES = (
    "08",  # connection exception
    "28",  # invalid authorization
    "3D",  # no such database
    "40",  # serialization failure, deadlock: retryable
    "53",  # insufficient resources (disk full, too many connections)
    "55P03",  # lock_timeout
    "57",  # statement_timeout, administrator shutdown, cannot connect now
    "58",  # system (I/O) error
    "42P01",  # no webhook_events table: the warehouse is not migrated yet
)


def _refused(exc: BaseException) -> bool:
    if isinstance(exc, UnicodeError):  # a lone surrogate: the driver cannot encode it
        return True
    if not isinstance(exc, sa.exc.DBAPIError) or exc.connection_invalidated:
        return False
    state = getattr(exc.orig, "sqlstate", None) or ""
    return state.startswith(_REFUSED_STATES) or isinstance(exc, sa.exc.DataError)


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa.exc.TimeoutError):
        return True
    if not isinstance(exc, sa.exc.DBAPIError) or _refused(exc):
        return False
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None) or ""
    if state.startswith(_UNAVAILABLE_STATES):
        return True
    # No state: SQLite (locked, no such table, disk I/O) or a connection that failed.
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)


_SQLITE_NEXT_SEQ = sa.select(
    sa.func.coalesce(sa.func.max(webhook_events.c.seq), 0) + 1
).scalar_subquery()


_EVENT_COLUMNS = (
    "event_key",
    "marketplace",
    "store_id",
    "topic",
    "resource_id",
    "payload",
    "received_at",
    "state",
    "attempts",
    "last_error",
)

# The whole write is one statement, run outside an explicit transaction (autocommit):
# one round trip per batch. The statement takes the seq lock first — its CTE must produce
# its row before the join yields any row to number — and PostgreSQL releases a
# transaction's advisory locks only after the commit is visible. The batch travels as one
# JSON array that json_to_recordset() turns back into rows: the statement text is the same
# for every batch size (a multi-row VALUES list is a new statement the driver re-parses
# for each size), and one json.dumps runs in C where arrays of text would be escaped
# element by element in Python.
_SEQ_LOCK = sa.select(sa.func.pg_advisory_xact_lock(SEQ_LOCK_KEY).label("locked")).cte("seq_lock")
_BATCH = (
    sa.func.json_to_recordset(sa.cast(sa.bindparam("batch", type_=sa.Text), sa.JSON))
    .table_valued(*(webhook_events.c[name] for name in _EVENT_COLUMNS))
    .render_derived(name="batch", with_types=True)
)
_POSTGRES_INSERT = (
    postgresql.insert(webhook_events)
    .from_select(
        ["seq", *_EVENT_COLUMNS],
        sa.select(webhook_events_seq.next_value(), *_BATCH.c).select_from(
            _SEQ_LOCK.join(_BATCH, sa.true())
        ),
    )
    .on_conflict_do_nothing(index_elements=[webhook_events.c.event_key])
    .returning(webhook_events.c.event_key)
)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _insert_postgres(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    batch = json.dumps(
        [{name: _json_value(row[name]) for name in _EVENT_COLUMNS} for row in rows],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return set(conn.execute(_POSTGRES_INSERT, {"batch": batch}).scalars())


def _insert_sqlite(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    statement = (
        sqlite.insert(webhook_events)
        .values(seq=_SQLITE_NEXT_SEQ)
        .on_conflict_do_nothing(index_elements=[webhook_events.c.event_key])
        .returning(webhook_events.c.event_key)
    )
    inserted: set[str] = set()
    # One statement per row so each MAX(seq) sees the rows before it; one transaction
    # (pysqlite begins it at the first INSERT), so still one commit for the batch.
    for row in rows:
        inserted.update(conn.execute(statement, row).scalars())
    return inserted


def _write_transaction(engine: Engine) -> AbstractContextManager[sa.Connection]:
    if engine.dialect.name == "postgresql":
        # _POSTGRES_INSERT is a transaction by itself (see there).
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    return engine.begin()


def insert_events(engine: Engine, rows: Sequence[EventRow]) -> set[str]:
    """Insert the rows that are new, in one transaction; return the event keys inserted.

    Raises StorageUnavailable when the database cannot take the write, RowRefused when it
    refuses a value (which row is for the caller to find: nothing was written).
    """
    if not rows:
        return set()
    values = [row.values() for row in rows]
    insert = _insert_postgres if engine.dialect.name == "postgresql" else _insert_sqlite
    for attempt in (1, 2):
        try:
            with _write_transaction(engine) as conn:
                return insert(conn, values)
        except sa.exc.DBAPIError as exc:
            # A pooled connection that died with the server (restart, failover) is found
            # here; SQLAlchemy has discarded the pool, so one more try gets a fresh one.
            # Safe to repeat: ON CONFLICT DO NOTHING makes the insert idempotent.
            if exc.connection_invalidated and attempt == 1:
                continue
            if _is_unavailable(exc):
                raise StorageUnavailable(_reason(exc)) from exc
            if _refused(exc):
                raise RowRefused(_reason(exc)) from exc
            raise
        except sa.exc.TimeoutError as exc:
            raise StorageUnavailable(_reason(exc)) from exc
        except UnicodeError as exc:
            raise RowRefused(_reason(exc)) from exc
    raise AssertionError("unreachable")


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    first = str(original).strip().splitlines()
    return f"{type(original).__name__}: {first[0] if first else ''}"


def load_active_store_ids(engine: Engine) -> frozenset[str]:
    query = sa.select(stores.c.store_id).where(stores.c.status == "active")
    try:
        with engine.connect() as conn:
            return frozenset(conn.execute(query).scalars())
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
        raise StorageUnavailable(_reason(exc)) from exc


def ping(engine: Engine) -> None:
    """Raise StorageUnavailable unless the database answers and has the events table."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(webhook_events.c.seq).limit(0))
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
        raise StorageUnavailable(_reason(exc)) from exc


def release_quarantined(engine: Engine, store_id: str) -> int:
    """Make a newly connected store's quarantined events pending; returns how many.

    Each released event draws a new `seq`, so a sensor whose cursor already passed the
    quarantined row still sees it.
    """
    quarantined = sa.and_(
        webhook_events.c.store_id == store_id, webhook_events.c.state == "quarantined"
    )
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SEQ_LOCK_KEY)))
            result = conn.execute(
                sa.update(webhook_events)
                .where(quarantined)
                .values(state="pending", last_error=None, seq=webhook_events_seq.next_value())
            )
            return int(result.rowcount)
        keys = conn.execute(
            sa.select(webhook_events.c.event_key).where(quarantined).order_by(webhook_events.c.seq)
        ).scalars()
        released = 0
        for key in list(keys):
            conn.execute(
                sa.update(webhook_events)
                .where(webhook_events.c.event_key == key)
                .values(state="pending", last_error=None, seq=_SQLITE_NEXT_SEQ)
            )
            released += 1
        return released


# --- async side: the batching writer and the known-stores cache --------------------------


@dataclass
class _Pending:
    row: EventRow
    future: asyncio.Future[bool]


class EventWriter:
    """Gathers concurrent writes into batches; `write` returns True if new, False if a dup."""

    def __init__(self, engine: Engine, max_batch: int = 500, timeout_seconds: float = 10.0):
        self._engine = engine
        self._max_batch = max_batch
        self._timeout = timeout_seconds
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="webhook-event-writer")

    async def stop(self) -> None:
        """Write what is queued, then end the task."""
        if self._queue is None or self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def write(self, row: EventRow) -> bool:
        if self._queue is None or self._task is None or self._task.done():
            raise StorageUnavailable("the event writer is not running")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(row, future))
        try:
            # shield: a caller that gives up must not cancel the batch's bookkeeping. A
            # write that lands after the timeout is harmless: the marketplace retries, and
            # the retry is a duplicate that is stored once.
            return await asyncio.wait_for(asyncio.shield(future), self._timeout)
        except TimeoutError:
            raise StorageUnavailable(f"no commit within {self._timeout:g}s") from None

    async def _run(self) -> None:
        assert self._queue is not None
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self._flush(batch)

    async def _flush(self, batch: list[_Pending]) -> None:
        # Two copies of one event in the same batch: the first is the write, the rest
        # are duplicates (the database would drop them too; this keeps the answer exact).
        copies: dict[str, list[_Pending]] = {}
        for pending in batch:
            copies.setdefault(pending.row.notification.event_key, []).append(pending)
        await self._commit(list(copies.values()))

    async def _commit(self, events: list[list[_Pending]], isolating: bool = False) -> None:
        """Write one row per event (each a list of its copies) and settle every copy."""
        try:
            inserted = await run_in_threadpool(
                insert_events, self._engine, [copies[0].row for copies in events]
            )
        except StorageUnavailable as exc:
            # Down for everyone: splitting would only multiply the waiting.
            log.warning("webhook events not stored (%d): %s", len(events), exc)
            _settle_all(events, exc)
            return
        except Exception as exc:
            if len(events) > 1:
                # Not the database being down but a row it refuses (or one that trips a
                # bug): halve until that row is alone — a few extra commits for the batch
                # that holds it, instead of failing every event that shared its commit.
                if not isolating:
                    log.warning(
                        "batch of %d not stored (%s); isolating what failed", len(events), exc
                    )
                half = len(events) // 2
                await self._commit(events[:half], isolating=True)
                await self._commit(events[half:], isolating=True)
                return
            if isinstance(exc, RowRefused):
                log.warning("webhook event %s refused by the warehouse: %s", _key(events), exc)
            else:
                log.exception("webhook event %s not stored", _key(events))
            _settle_all(events, exc)
            return
        for first, *again in events:
            _settle(first.future, result=first.row.notification.event_key in inserted)
            for pending in again:
                _settle(pending.future, result=False)


def _key(events: list[list[_Pending]]) -> str:
    # A refused key may be long or hold control characters: cut and escaped for the log.
    return repr(events[0][0].row.notification.event_key[:80])


def _settle_all(events: list[list[_Pending]], exc: BaseException) -> None:
    for copies in events:
        for pending in copies:
            _settle(pending.future, exc=exc)


def _settle(
    future: asyncio.Future[bool], result: bool = False, exc: BaseException | None = None
) -> None:
    if future.done():  # its caller timed out or went away
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class KnownStores:
    """The active store ids, cached: the hot path reads a set, not the database.

    A hit is answered from the cache; a cache older than `max_age` seconds is reloaded in
    the background meanwhile (if that fails, the old list stays: a store rarely vanishes).
    A miss is answered only by a list read *after* the question was asked, because the
    store may have connected a moment ago: the caller waits for the next load, and loads
    happen at most once per `min_interval` seconds, each answering every miss that was
    waiting for it. So a stream of events for an unknown store costs a few queries a
    second, not one per event, and an event whose store row was committed before it arrived is
    never quarantined. Before the first load, any load will do.
    """

    def __init__(
        self,
        load: Callable[[], frozenset[str]],
        max_age: float = 5.0,
        # Short enough that a miss is answered well within Mercado Livre's 500 ms.
        min_interval: float = 0.25,
    ) -> None:
        self._load = load
        self._max_age = max_age
        self._min_interval = min_interval
        self._ids: frozenset[str] = frozenset()
        self._loaded = False
        self._loaded_at = -math.inf  # start of the newest load that succeeded
        self._attempted_at: float | None = None  # start of the newest load
        self._failure: StorageUnavailable | None = None  # why the newest load failed
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def contains(self, store_id: str) -> bool:
        """Raises StorageUnavailable when it cannot tell (the caller answers 503)."""
        asked_at = time.monotonic()
        if store_id in self._ids:
            if asked_at - self._loaded_at >= self._max_age:
                self._refresh_in_background(asked_at)
            return True
        first_try = not self._loaded and self._failure is None
        await self._load_since(-math.inf if first_try else asked_at)
        return store_id in self._ids

    async def close(self) -> None:
        if self._background is not None and not self._background.done():
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background

    def _refresh_in_background(self, asked_at: float) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self._refresh(asked_at))

    async def _refresh(self, since: float) -> None:
        try:
            await self._load_since(since)
        except StorageUnavailable as exc:
            log.warning("store list not refreshed; using the one from before: %s", exc)

    async def _load_since(self, since: float) -> None:
        """Make sure a load that started at or after `since` has ended; raise if it failed."""
        async with self._lock:
            if self._attempted_at is not None and self._attempted_at >= since:
                if self._failure is not None:
                    raise self._failure
                return
            if self._attempted_at is not None:
                wait = self._attempted_at + self._min_interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            started = self._attempted_at = time.monotonic()
            try:
                ids = await run_in_threadpool(self._load)
            except StorageUnavailable as exc:
                self._failure = exc
                raise
            self._ids, self._loaded, self._loaded_at, self._failure = ids, True, started, None
