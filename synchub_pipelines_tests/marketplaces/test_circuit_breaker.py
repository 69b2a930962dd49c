"""Circuit breakers: a marketplace that is down fails runs fast, with its name and since
when; one probe tests it after a cooldown; the state is shared through the warehouse."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from synchub_pipelines.marketplaces import breaker
from synchub_pipelines.marketplaces.breaker import (
    CircuitBreaker,
    CircuitOpenError,
    MemoryBreakerStore,
    breaker_for,
)
from synchub_pipelines.marketplaces.errors import TransientError
from synchub_pipelines.marketplaces.http import ApiHttp, HttpSettings
from synchub_pipelines.marketplaces.mercadolivre import MercadoLivreApp
from synchub_pipelines.sandbox import mercadolivre as ml_sandbox
from synchub_pipelines.warehouse.budgets import SqlBreakerStore, share_budgets
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines_tests.marketplaces.test_http_layer import Script, classify

ONE_TRY = HttpSettings(timeout_seconds=5, max_attempts=1)


def http_over(script: Script) -> ApiHttp:
    return ApiHttp(
        "breakerapi",
        "https://api.example.test",
        classify,
        settings=ONE_TRY,
        transport=httpx.MockTransport(script),
    )


def call(http: ApiHttp) -> httpx.Response:
    return http.send("orders.search", lambda: http.build("GET", "/orders"))


def test_repeated_failures_open_the_breaker_and_calls_fail_fast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNCHUB_BREAKER_THRESHOLD", "3")
    monkeypatch.setenv("SYNCHUB_BREAKER_COOLDOWN_SECONDS", "0.2")
    script = Script(503)
    http = http_over(script)
    for _ in range(3):
        with pytest.raises(TransientError):
            call(http)
    with pytest.raises(CircuitOpenError) as opened:
        call(http)
    assert len(script.requests) == 3  # the open breaker made no request
    message = str(opened.value)
    assert "breakerapi" in message and "failing since" in message and "UTC" in message
    assert not opened.value.retryable
    # Another endpoint family of the same marketplace is not affected.
    script.steps = [200]
    http.send("items.get", lambda: http.build("GET", "/items"))
    # After the cooldown one probe goes through; its success closes the breaker.
    time.sleep(0.25)
    assert call(http).status_code == 200
    assert call(http).status_code == 200
    assert breaker_for("breakerapi", "orders.search")._state().state == "closed"


def test_a_failed_probe_opens_the_breaker_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCHUB_BREAKER_THRESHOLD", "2")
    monkeypatch.setenv("SYNCHUB_BREAKER_COOLDOWN_SECONDS", "0.2")
    script = Script(500)
    http = http_over(script)
    for _ in range(2):
        with pytest.raises(TransientError):
            call(http)
    time.sleep(0.25)
    with pytest.raises(TransientError):  # the probe, refused
        call(http)
    with pytest.raises(CircuitOpenError):
        call(http)
    assert len(script.requests) == 3


def test_rate_limits_and_client_errors_do_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCHUB_BREAKER_THRESHOLD", "2")
    script = Script(429, 400, 429, 400, 429)
    http = http_over(script)
    for _ in range(5):
        with pytest.raises(Exception) as raised:
            call(http)
        assert not isinstance(raised.value, CircuitOpenError)


def test_the_state_is_shared_and_one_process_claims_the_probe(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A process re-reads the shared state at most every STATE_TTL_SECONDS; here, every time.
    monkeypatch.setattr(breaker, "STATE_TTL_SECONDS", 0.0)
    engine = engine_for(warehouse_url)
    migrate(engine)
    store = SqlBreakerStore(engine)
    here = CircuitBreaker("mercadolivre", "orders", store, threshold=2, cooldown=0.3)
    there = CircuitBreaker(
        "mercadolivre", "orders", SqlBreakerStore(engine), threshold=2, cooldown=0.3
    )
    down = TransientError("mercadolivre", "orders.search", "HTTP 503")
    here.on_failure(down)
    there.on_failure(down)  # the second failure, in "another process", opens it
    state = store.load("mercadolivre:orders")
    assert (state.state, state.failures) == ("open", 2)
    assert state.opened_at is not None and state.opened_at <= datetime.now(UTC)
    with pytest.raises(CircuitOpenError):
        here.before_call("orders.search")
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert [store.claim_probe("mercadolivre:orders", 0.3, now) for _ in range(3)] == [
        True,
        False,
        False,
    ]
    store.record_success("mercadolivre:orders", now)
    assert store.load("mercadolivre:orders").state == "closed"


def test_memory_store_rules_match() -> None:
    store = MemoryBreakerStore()
    now = datetime.now(UTC)
    for _ in range(2):
        store.record_failure("x:y", "boom", 2, 10.0, now)
    assert store.load("x:y").state == "open"
    assert not store.claim_probe("x:y", 10.0, now)
    assert store.claim_probe("x:y", 10.0, now + timedelta(seconds=11))


@pytest.mark.postgres
def test_a_marketplace_at_100_percent_5xx_then_recovering(  # type: ignore[no-untyped-def]
    sandbox_factory, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCHUB_BREAKER_THRESHOLD", "4")
    monkeypatch.setenv("SYNCHUB_BREAKER_COOLDOWN_SECONDS", "0.5")
    running = sandbox_factory()
    engine = engine_for(pg_url)
    migrate(engine)
    share_budgets(engine)
    api = running.base_url("mercadolivre")
    app = MercadoLivreApp(
        client_id=ml_sandbox.APP_ID,
        client_secret=SecretStr(ml_sandbox.APP_SECRET),
        redirect_uri=ml_sandbox.REDIRECT_URI,
        api_url=api,
        auth_url=api,
        http=HttpSettings(max_attempts=3, backoff_base_seconds=0.01, backoff_max_seconds=0.05),
    )
    http = app.new_http()

    def categories() -> httpx.Response:
        return http.send("sites.categories", lambda: http.build("GET", "/sites/MLB/categories"))

    running.sandbox.faults.update(rate_5xx=1.0)
    with pytest.raises(TransientError):
        categories()  # 3 attempts, 3 failures
    with pytest.raises(CircuitOpenError) as opened:
        categories()  # the 4th failure opens it; the next attempt fails fast
    assert "mercadolivre API (sites calls)" in str(opened.value)
    sent = http.stats["requests"]
    with pytest.raises(CircuitOpenError):
        categories()
    assert http.stats["requests"] == sent  # failing fast: no request at all
    with engine.connect() as conn:
        visible = conn.exec_driver_sql(
            "SELECT state, failures FROM circuit_breakers WHERE scope = 'mercadolivre:sites'"
        ).one()
    assert visible == ("open", 4)

    running.sandbox.faults.update(rate_5xx=0.0)
    time.sleep(0.6)
    assert categories().status_code == 200  # the probe closes it
    assert categories().status_code == 200
    http.close()


def test_failures_count_only_in_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCHUB_BREAKER_THRESHOLD", "3")
    script = Script(503, 503, 200, 503, 503, 200, 503, 503, 200)
    http = http_over(script)
    for _ in range(9):
        with contextlib.suppress(TransientError):
            call(http)
    assert breaker_for("breakerapi", "orders.search")._state().state == "closed"
