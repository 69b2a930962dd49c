"""`synchub webhooks serve` end to end: a fresh warehouse is migrated and events land in it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines_tests.webhooks.harness import (
    BLING_SECRET,
    ML_APP_ID,
    PUBLIC_URL,
    SHOPEE_KEY,
    TIKTOK_KEY,
    TIKTOK_SECRET,
    bling,
    event_rows,
    free_port,
    mercadolivre,
)


def test_serve_migrates_an_empty_warehouse_and_stores_what_it_accepts(sqlite_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SYNCHUB_WAREHOUSE_URL": sqlite_url,
        "SYNCHUB_WEBHOOK_PUBLIC_URL": PUBLIC_URL,
        "SYNCHUB_ML_CLIENT_ID": ML_APP_ID,
        "SYNCHUB_SHOPEE_PARTNER_KEY": SHOPEE_KEY,
        "SYNCHUB_TIKTOK_APP_KEY": TIKTOK_KEY,
        "SYNCHUB_TIKTOK_APP_SECRET": TIKTOK_SECRET,
        "SYNCHUB_BLING_CLIENT_SECRET": BLING_SECRET,
    }
    command = [sys.executable, "-m", "synchub_pipelines.cli", "webhooks", "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "the receiver exited"
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.2)
        assert health.status_code == 200
        sent = bling("B-CLI-1")
        assert (
            httpx.post(url + sent.path, content=sent.body, headers=sent.headers).status_code == 200
        )
        # No store row in this warehouse: a Mercado Livre event is kept, quarantined.
        stranger = mercadolivre("c1c1c1c1c1000001")
        response = httpx.post(url + stranger.path, content=stranger.body, headers=stranger.headers)
        assert response.status_code == 202
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "/webhooks/shopee: configured" in output
    assert SHOPEE_KEY not in output and TIKTOK_SECRET not in output
    rows = event_rows(engine_for(sqlite_url))
    assert [(r.event_key, r.state) for r in rows] == [
        ("bling:B-CLI-1", "pending"),
        ("mercadolivre:c1c1c1c1c1000001", "quarantined"),
    ]
