"""Reads and state changes of `webhook_events` for the sensor and the runs it launches.

Life of an event: `pending` (stored by the receiver) → `processing` (claimed by a run,
with a lease in `next_attempt_at`) → `processed`; or, when the fetch fails, back to
`pending` with `attempts` + 1 and `next_attempt_at` after an exponential backoff, and
`failed` with the reason once `max_attempts` are spent.

The sensor's cursor is the highest `seq` it has handed to a run. Events at or below the
cursor come back only when due: a retry whose backoff has passed, a claim whose lease ran
out (the run died), or a pending event no run claimed within the launch grace (the run
never started). So an event is never lost, and at worst processed twice — which is
harmless, the upserts being idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.events.topics import STORE_MARKETPLACES
from synchub_pipelines.warehouse.schema import webhook_events as events

# A pending event handed to a run that has not claimed it after this long is handed out
# again (the run failed to launch, or is stuck in the queue).
LAUNCH_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class EventRef:
    seq: int
    store_id: str
    attempts: int
    due_at: datetime | None


@dataclass
class StoreBatch:
    """What one run processes: a store's events of this tick."""

    store_id: str
    new: list[EventRef] = field(default_factory=list)
    due: list[EventRef] = field(default_factory=list)

    @property
    def seqs(self) -> list[int]:
        return sorted(e.seq for e in self.new + self.due)

    @property
    def run_key(self) -> str:
        """Same events in the same state → same key, so a re-evaluated tick adds nothing."""
        seqs = self.seqs
        key = f"events:{self.store_id}:{seqs[0]}-{seqs[-1]}"
        if self.due:
            # A retry of the same events must not collide with their first run's key, and
            # each further attempt must not collide with the one before.
            digest = hashlib.sha256(
                ";".join(
                    f"{e.seq}/{e.attempts}/{e.due_at.isoformat() if e.due_at else ''}"
                    for e in sorted(self.due, key=lambda e: e.seq)
                ).encode()
            ).hexdigest()[:12]
            key += f":retry-{digest}"
        return key


_REF_COLUMNS = (
    events.c.seq,
    events.c.store_id,
    events.c.attempts,
    events.c.next_attempt_at,
)
_OURS = events.c.marketplace.in_(STORE_MARKETPLACES)


def _refs(engine: Engine, query: sa.Select[Any]) -> list[EventRef]:
    with engine.connect() as conn:
        return [EventRef(int(s), str(st), int(a), d) for s, st, a, d in conn.execute(query)]


def new_events(engine: Engine, after_seq: int, limit: int) -> list[EventRef]:
    """Pending events past the cursor, oldest first."""
    query = (
        sa.select(*_REF_COLUMNS)
        .where(events.c.seq > after_seq, events.c.state == "pending", _OURS)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return _refs(engine, query)


def due_events(engine: Engine, up_to_seq: int, now: datetime, limit: int) -> list[EventRef]:
    """Events at or below the cursor that need another run now (see the module's text)."""
    query = (
        sa.select(*_REF_COLUMNS)
        .where(
            events.c.seq <= up_to_seq,
            _OURS,
            sa.or_(
                sa.and_(
                    events.c.state.in_(("pending", "processing")),
                    events.c.next_attempt_at <= now,
                ),
                sa.and_(
                    events.c.state == "pending",
                    events.c.next_attempt_at.is_(None),
                    events.c.received_at <= now - LAUNCH_GRACE,
                ),
            ),
        )
        .order_by(events.c.seq)
        .limit(limit)
    )
    return _refs(engine, query)


def group_by_store(new: Sequence[EventRef], due: Sequence[EventRef]) -> list[StoreBatch]:
    batches: dict[str, StoreBatch] = {}
    for ref in new:
        batches.setdefault(ref.store_id, StoreBatch(ref.store_id)).new.append(ref)
    for ref in due:
        batches.setdefault(ref.store_id, StoreBatch(ref.store_id)).due.append(ref)
    return [batches[k] for k in sorted(batches)]


@dataclass(frozen=True)
class ClaimedEvent:
    seq: int
    event_key: str
    marketplace: str
    topic: str
    resource_id: str | None
    attempts: int


def claim(
    engine: Engine, store_id: str, seqs: Sequence[int], now: datetime, lease: timedelta
) -> list[ClaimedEvent]:
    """Mark the run's events `processing` and return them — only those still waiting and
    due, so a second run given the same events (a retried or duplicate launch) takes none."""
    claimable = sa.and_(
        events.c.store_id == store_id,
        events.c.seq.in_(list(seqs)),
        sa.or_(
            sa.and_(
                events.c.state == "pending",
                sa.or_(events.c.next_attempt_at.is_(None), events.c.next_attempt_at <= now),
            ),
            sa.and_(events.c.state == "processing", events.c.next_attempt_at <= now),
        ),
    )
    statement = (
        sa.update(events)
        .where(claimable)
        .values(state="processing", next_attempt_at=now + lease)
        .returning(
            events.c.seq,
            events.c.event_key,
            events.c.marketplace,
            events.c.topic,
            events.c.resource_id,
            events.c.attempts,
        )
    )
    with engine.begin() as conn:
        rows = conn.execute(statement).all()
    return sorted((ClaimedEvent(*row) for row in rows), key=lambda e: e.seq)


def mark_processed(engine: Engine, seqs: Sequence[int], now: datetime) -> None:
    if not seqs:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.update(events)
            .where(events.c.seq.in_(list(seqs)), events.c.state == "processing")
            .values(state="processed", processed_at=now, next_attempt_at=None, last_error=None)
        )


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 30.0
    max_seconds: float = 3600.0

    def delay(self, attempt: int) -> timedelta:
        """Wait after the `attempt`-th failure: base, 2×base, 4×base… capped."""
        return timedelta(seconds=min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Failure:
    event: ClaimedEvent
    reason: str
    retryable: bool = True


@dataclass
class FailureOutcome:
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def mark_failed(
    engine: Engine, failures: Sequence[Failure], now: datetime, policy: RetryPolicy
) -> FailureOutcome:
    """Count the attempt; back off and retry, or give up with the reason."""
    outcome = FailureOutcome()
    with engine.begin() as conn:
        for failure in failures:
            attempt = failure.event.attempts + 1
            final = not failure.retryable or attempt >= policy.max_attempts
            values: dict[str, object] = {
                "attempts": attempt,
                "last_error": failure.reason[:2000],
                "state": "failed" if final else "pending",
                "next_attempt_at": None if final else now + policy.delay(attempt),
            }
            conn.execute(
                sa.update(events)
                .where(events.c.seq == failure.event.seq, events.c.state == "processing")
                .values(**values)
            )
            (outcome.failed if final else outcome.retrying).append(failure.event.seq)
    return outcome


def quarantine(engine: Engine, seqs: Sequence[int], reason: str) -> None:
    """Events of a store that is not connected: kept, and released when it connects
    (webhooks.store.release_quarantined), like the receiver's own quarantine."""
    if not seqs:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.update(events)
            .where(events.c.seq.in_(list(seqs)), events.c.state == "processing")
            .values(state="quarantined", last_error=reason, next_attempt_at=None)
        )
