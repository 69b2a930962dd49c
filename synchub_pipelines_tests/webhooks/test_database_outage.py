"""The warehouse goes away: the receiver answers 503 (so senders retry), and loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines_tests.conftest import ADMIN_URL
from synchub_pipelines_tests.webhooks.harness import (
    Sent,
    bling,
    event_rows,
    free_port,
    mercadolivre,
    prepare_warehouse,
    receiver_settings,
    shopee,
    tiktok,
)


def post(url: str, sent: Sent) -> httpx.Response:
    return httpx.post(url + sent.path, content=sent.body, headers=sent.headers, timeout=30)


@contextmanager
def database_gone(url: str) -> Iterator[None]:
    """Cut every connection to the database and rename it away; put it back after."""
    name = make_url(url).database
    engine_for(url).dispose()
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"')
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"')


@pytest.mark.postgres
def test_postgres_down_gets_503_and_every_retry_is_stored_once_when_back(
    pg_url: str,
    serve_receiver,  # type: ignore[no-untyped-def]
) -> None:
    engine = prepare_warehouse(pg_url)
    receiver = serve_receiver(receiver_settings(pg_url, db_timeout_seconds=2.0))
    before = mercadolivre("6a0000000000000001")
    assert post(receiver.url, before).status_code == 200
    during = [mercadolivre("6a0000000000000002"), shopee("2603141111"), tiktok("N1"), bling("B1")]

    with database_gone(pg_url):
        for sent in during:
            response = post(receiver.url, sent)
            assert response.status_code == 503, sent.marketplace
            assert response.headers["retry-after"] == "5"
        assert httpx.get(receiver.url + "/healthz").status_code == 503

    assert httpx.get(receiver.url + "/healthz").status_code == 200
    # The marketplaces retry what got a 503, some of it twice, and resend what succeeded.
    for sent in [*during, *during, before]:
        assert post(receiver.url, sent).status_code == 200
    rows = event_rows(engine)
    assert len(rows) == 5
    assert sorted(r.marketplace for r in rows) == sorted(
        ["mercadolivre", "mercadolivre", "shopee", "tiktok", "bling"]
    )
    assert {r.state for r in rows} == {"pending"}


def test_nothing_listening_at_the_warehouse_address_gets_503(serve_receiver) -> None:  # type: ignore[no-untyped-def]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/synchub"
    receiver = serve_receiver(receiver_settings(url, db_timeout_seconds=1.0))
    for sent in (mercadolivre("6b0000000000000001"), bling("B2")):
        response = post(receiver.url, sent)
        assert response.status_code == 503
        assert response.json() == {"error": "the event could not be stored; retry later"}
    health = httpx.get(receiver.url + "/healthz")
    assert (health.status_code, health.json()["warehouse"]) == (503, "unreachable")
