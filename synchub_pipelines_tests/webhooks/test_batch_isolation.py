"""A row the database refuses fails alone: its group-commit peers are stored and answered.

verify.py's limits keep such rows out, so these tests hand the writer rows that skipped
verification: what PostgreSQL refuses (NUL, a lone surrogate, a key too long for its
index) and what SQLite refuses (a lone surrogate: the driver cannot encode it).
"""

from __future__ import annotations

import asyncio
import json
import random
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.engine import Engine

from synchub_pipelines.webhooks import store
from synchub_pipelines.webhooks.store import (
    EventRow,
    EventWriter,
    RowRefused,
    StorageUnavailable,
    receiver_engine,
)
from synchub_pipelines.webhooks.verify import Bling, Notification
from synchub_pipelines_tests.webhooks.harness import (
    event_rows,
    payload,
    prepare_warehouse,
    receiver_settings,
    signed,
)


def _row(key: str, topic: str = "order.updated") -> EventRow:
    notification = Notification(
        event_key=f"bling:{key}",
        marketplace="bling",
        store_id="bling-c0ffee",
        topic=topic,
        resource_id="7",
        payload="{}",
    )
    return EventRow(notification, datetime.now(UTC))


def _refused_rows(url: str) -> list[EventRow]:
    rows = [_row("surrogate-in-key-\ud800"), _row("surrogate-in-topic", topic="x\udfff")]
    if url.startswith("postgresql"):
        long_key = "".join(random.Random(6).choices(string.ascii_letters, k=6000))
        rows += [_row("nul-in-key-\x00"), _row("nul-in-topic", topic="a\x00"), _row(long_key)]
    return rows


def test_refused_rows_fail_alone_in_a_shared_batch(warehouse_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    prepare_warehouse(warehouse_url)
    engine = receiver_engine(warehouse_url, 5.0)
    refused = _refused_rows(warehouse_url)
    good = [_row(f"GOOD-{i:02d}") for i in range(40 - len(refused))]
    rows = [*good, *refused]
    random.Random(3).shuffle(rows)
    batches: list[int] = []
    insert_events = store.insert_events

    def counting(engine: Engine, batch: Sequence[EventRow]) -> set[str]:
        batches.append(len(batch))
        return insert_events(engine, batch)

    monkeypatch.setattr(store, "insert_events", counting)

    async def write_all() -> list[bool | BaseException]:
        writer = EventWriter(engine, max_batch=500, timeout_seconds=30)
        await writer.start()
        try:
            return await asyncio.gather(*(writer.write(r) for r in rows), return_exceptions=True)
        finally:
            await writer.stop()

    outcomes = dict(zip(map(id, rows), asyncio.run(write_all()), strict=True))
    monkeypatch.undo()
    assert batches[0] == 40  # all forty shared the first commit attempt
    assert [outcomes[id(r)] for r in good] == [True] * len(good)
    assert all(isinstance(outcomes[id(r)], RowRefused) for r in refused)
    assert sorted(r.event_key for r in event_rows(engine)) == sorted(
        r.notification.event_key for r in good
    )
    engine.dispose()


@pytest.mark.postgres
def test_a_refusal_is_not_mistaken_for_an_outage(pg_url: str) -> None:
    """PostgreSQL files "index row size exceeds maximum" under OperationalError; it once
    read as "database unavailable" and failed every event in the batch with a 503."""
    prepare_warehouse(pg_url)
    engine = receiver_engine(pg_url, 5.0)
    long_key = "".join(random.Random(7).choices(string.ascii_letters, k=6000))
    with pytest.raises(RowRefused, match="ProgramLimitExceeded"):
        store.insert_events(engine, [_row(long_key)])
    with pytest.raises(RowRefused, match="UntranslatableCharacter"):
        store.insert_events(engine, [_row("A\x00B")])
    engine.dispose()
    # ...while an outage is still one.
    gone = receiver_engine(pg_url.rsplit("/", 1)[0] + "/no_such_database", 1.0)
    with pytest.raises(StorageUnavailable):
        store.insert_events(gone, [_row("GOOD")])


class _Unchecked(Bling):
    """Bling whose verification lets a bad key through (as a verify.py bug would)."""

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification:
        notification = super().verify(headers, body)
        key = json.loads(body).get("rawKey")
        if key is None:
            return notification
        return Notification(**{**notification.__dict__, "event_key": f"bling:{key}"})


def test_a_refused_event_gets_400_and_its_peers_200(  # type: ignore[no-untyped-def]
    warehouse_url, serve_receiver, monkeypatch
) -> None:
    monkeypatch.setattr("synchub_pipelines.webhooks.config.Bling", _Unchecked)
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(receiver_settings(warehouse_url))
    good = [signed("bling", json.dumps(payload("bling", f"OK{i:02d}")).encode()) for i in range(30)]
    bad = [
        signed("bling", json.dumps({**payload("bling", "BAD"), "rawKey": key}).encode())
        for key in ("\ud800", "x\udbff", "\udc00y")
    ]
    sent = [*good, *bad]
    random.Random(5).shuffle(sent)

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(sent))
        async with httpx.AsyncClient(base_url=receiver.url, limits=limits, timeout=30) as client:
            return await asyncio.gather(
                *(client.post(s.path, content=s.body, headers=s.headers) for s in sent)
            )

    answers = dict(zip(map(id, sent), asyncio.run(send_all()), strict=True))
    assert [answers[id(s)].status_code for s in good] == [200] * len(good)
    assert [answers[id(s)].status_code for s in bad] == [400] * len(bad)
    assert answers[id(bad[0])].json()["error"].startswith("the warehouse cannot store this event")
    assert sorted(r.event_key for r in event_rows(engine)) == [
        f"bling:OK{i:02d}" for i in range(30)
    ]
