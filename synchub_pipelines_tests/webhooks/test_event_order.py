"""The sensors' cursor property: `seq` increases in commit order, so `seq > cursor` skips nothing.

Writers commit batches concurrently while a reader does what a sensor does: read rows with
seq above its cursor, move the cursor to the highest seq seen. If any row became visible
after a row with a higher seq, the reader's cursor would already be past it and the row
would never be read.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import webhook_events
from synchub_pipelines.webhooks.store import EventRow, insert_events, receiver_engine
from synchub_pipelines.webhooks.verify import Notification
from synchub_pipelines_tests.webhooks.harness import event_rows, prepare_warehouse

WRITERS = 4
BATCHES = 40
BATCH_SIZE = 3


def _row(writer: int, batch: int, item: int) -> EventRow:
    key = f"tiktok:w{writer}-b{batch}-i{item}"
    notification = Notification(
        event_key=key,
        marketplace="tiktok",
        store_id="tiktok-7494049642642441621",
        topic="1",
        resource_id=str(batch),
        payload="{}",
    )
    return EventRow(notification, datetime.now(UTC))


def test_a_cursor_reader_sees_every_event_exactly_once(warehouse_url) -> None:  # type: ignore[no-untyped-def]
    prepare_warehouse(warehouse_url)
    # One engine per writer, like separate receiver processes.
    engines = [receiver_engine(warehouse_url, 30.0) for _ in range(WRITERS)]
    reader = receiver_engine(warehouse_url, 30.0)
    writers_done = threading.Event()
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            for batch in range(BATCHES):
                rows = [_row(index, batch, item) for item in range(BATCH_SIZE)]
                # Each batch also repeats a key of the previous one: a duplicate draws no
                # visible seq and must not disturb the order.
                if batch:
                    rows.append(_row(index, batch - 1, 0))
                insert_events(engines[index], rows)
        except BaseException as exc:
            errors.append(exc)

    seen: list[tuple[int, str]] = []

    def read() -> None:
        cursor = 0
        query = sa.select(webhook_events.c.seq, webhook_events.c.event_key).order_by(
            webhook_events.c.seq
        )
        while True:
            finished = writers_done.is_set()
            with reader.connect() as conn:
                batch = list(conn.execute(query.where(webhook_events.c.seq > cursor)))
            seen.extend((row.seq, row.event_key) for row in batch)
            if batch:
                cursor = batch[-1].seq
            if finished:
                return

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    reading = threading.Thread(target=read)
    reading.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writers_done.set()
    reading.join()
    for engine in [*engines, reader]:
        engine.dispose()

    assert errors == []
    stored = {row.event_key: row.seq for row in event_rows(reader)}
    assert len(stored) == WRITERS * BATCHES * BATCH_SIZE
    # Every stored event was read, once, under the seq it is stored with.
    assert sorted(seen) == sorted((seq, key) for key, seq in stored.items())
    assert [seq for seq, _ in seen] == sorted({seq for seq, _ in seen})
