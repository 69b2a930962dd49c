"""One API budget per scope for the whole deployment: processes and threads that call the
same marketplace draw from one bucket in the warehouse's database, so together they stay
within the limit and the API never has to refuse them."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.mercadolivre import MercadoLivreApp
from synchub_pipelines.marketplaces.ratelimit import SharedBudget, shared_limiter, use_budget_store
from synchub_pipelines.sandbox import mercadolivre as ml_sandbox
from synchub_pipelines.warehouse.budgets import SqlBudgetStore, share_budgets
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate

RATE = 10.0  # the sandbox grants 10/s with bursts of 20; the app is configured to 10/s
PROCESSES = 4
THREADS = 2
CALLS_PER_THREAD = 8


def _calls(api_url: str, warehouse_url: str, shared: bool) -> tuple[int, int, int]:
    """In a fresh process: THREADS threads calling the API; (calls, 429s, retries)."""
    if shared:
        share_budgets(engine_for(warehouse_url))
    app = MercadoLivreApp(
        client_id=ml_sandbox.APP_ID,
        client_secret=SecretStr(ml_sandbox.APP_SECRET),
        redirect_uri=ml_sandbox.REDIRECT_URI,
        api_url=api_url,
        auth_url=api_url,
        requests_per_second=RATE,
        http=HttpSettings(backoff_base_seconds=0.05, backoff_max_seconds=2.0),
    )
    http = app.new_http()

    def work(_: int) -> None:
        for _ in range(CALLS_PER_THREAD):
            http.send("sites.categories", lambda: http.build("GET", "/sites/MLB/categories"))

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(work, range(THREADS)))
    finally:
        http.close()
    return (
        http.stats["requests"],
        http.stats.get("errors.RateLimitedError", 0),
        http.stats.get("retries", 0),
    )


def _run_everywhere(
    api_url: str, warehouse_url: str, shared: bool
) -> tuple[list[tuple[int, int, int]], float]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        # Every worker imports the package first, so the clock starts on the calls.
        pool.map(time.sleep, [0.0] * PROCESSES)
        started = time.monotonic()
        results = pool.starmap(_calls, [(api_url, warehouse_url, shared)] * PROCESSES)
        return results, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.postgres
def test_four_processes_share_one_budget_and_get_no_429(sandbox_factory, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    running = sandbox_factory(rate_limits={"mercadolivre": RATE})
    migrate(engine_for(pg_url))
    api = running.base_url("mercadolivre")

    results, seconds = _run_everywhere(api, pg_url, shared=True)

    calls = sum(r[0] for r in results)
    assert calls == PROCESSES * THREADS * CALLS_PER_THREAD
    assert sum(r[1] for r in results) == 0  # no 429 at all, so none left unrecovered
    # Together within the limit: the bucket's burst plus the rate over the run.
    assert calls <= RATE + RATE * seconds + 1


@pytest.mark.slow
@pytest.mark.postgres
def test_without_a_shared_budget_the_processes_overrun_the_limit(
    sandbox_factory, pg_url: str
) -> None:  # type: ignore[no-untyped-def]
    """The control: each process pacing itself alone makes the API refuse calls."""
    running = sandbox_factory(rate_limits={"mercadolivre": RATE})
    results, _ = _run_everywhere(running.base_url("mercadolivre"), pg_url, shared=False)
    assert sum(r[1] for r in results) > 0


def test_a_reservation_queues_callers_instead_of_refusing_them(warehouse_url: str) -> None:
    engine = engine_for(warehouse_url)
    migrate(engine)
    store = SqlBudgetStore(engine)
    now = 1_000_000.0
    left = [store.reserve("x:1", rate=2.0, burst=3.0, now=now) for _ in range(5)]
    assert left == [2.0, 1.0, 0.0, -1.0, -2.0]  # the 5th waits 1 s for its token
    assert store.reserve("x:1", rate=2.0, burst=3.0, now=now + 10) == 2.0  # refilled, capped
    store.penalize("x:1", rate=2.0, burst=3.0, seconds=5, now=now + 10)
    assert store.reserve("x:1", rate=2.0, burst=3.0, now=now + 10) == -11.0
    # A clock a little behind another process's never refills backwards.
    assert store.reserve("x:1", rate=2.0, burst=3.0, now=now) == -12.0


def test_limiters_come_from_the_store_once_installed(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    migrate(engine)
    assert not isinstance(shared_limiter("t:1", 5.0), SharedBudget)
    share_budgets(engine)
    limiter = shared_limiter("t:1", 5.0)
    assert isinstance(limiter, SharedBudget)
    assert limiter.acquire() == 0.0
    use_budget_store(None)
    assert not isinstance(shared_limiter("t:1", 5.0), SharedBudget)
