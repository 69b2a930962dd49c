"""A store that connects after its first notifications: its quarantined events become pending."""

from __future__ import annotations

import httpx

from synchub_pipelines.webhooks.store import release_quarantined
from synchub_pipelines_tests.webhooks.harness import (
    event_rows,
    mercadolivre,
    prepare_warehouse,
    receiver_settings,
)


def test_released_events_are_pending_and_after_any_cursor(warehouse_url, serve_receiver) -> None:  # type: ignore[no-untyped-def]
    engine = prepare_warehouse(warehouse_url)
    receiver = serve_receiver(receiver_settings(warehouse_url))
    early = [mercadolivre(f"d0d0d0d0d0{i:06d}", user_id="4242") for i in range(3)]
    known = mercadolivre("e0e0e0e0e0000001")
    for sent in [early[0], known, *early[1:]]:
        httpx.post(receiver.url + sent.path, content=sent.body, headers=sent.headers)
    before = {row.event_key: row for row in event_rows(engine)}
    cursor = max(row.seq for row in before.values())  # a sensor has read everything

    assert release_quarantined(engine, "mercadolivre-4242") == 3
    assert release_quarantined(engine, "mercadolivre-4242") == 0

    after = {row.event_key: row for row in event_rows(engine)}
    released = [row for row in after.values() if row.store_id == "mercadolivre-4242"]
    assert [(r.state, r.last_error) for r in released] == [("pending", None)] * 3
    assert all(r.seq > cursor for r in released)
    assert after["mercadolivre:e0e0e0e0e0000001"].seq == before["mercadolivre:e0e0e0e0e0000001"].seq
