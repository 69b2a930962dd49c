"""Browser tests: the pages people look at, in Debian's headless Chromium driven by
Playwright (never a downloaded browser: `.ci/run` installs `chromium` with apt).

Without Chromium (or Playwright) the tests skip, except under CI=true, where that is a
failure. Screenshots are kept as test artifacts in SYNCHUB_TEST_ARTIFACTS (default
synchub_pipelines_tests/.artifacts/). Every wait is bounded.

The world is landed once per test process (`landed`): a small sandbox world through the
real pipeline (the location's named jobs, then `marts_job`: the marts, their files and
the dashboard) into a SQLite warehouse, with the runs kept in a Dagster instance of its
own (a temporary DAGSTER_HOME), as `make demo` keeps them for `make ui`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from synchub_pipelines_tests.conftest import ANCHOR

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TESTS = Path(__file__).resolve().parent.parent
WAIT_MS = 30_000  # the longest any page step may take
AS_OF = ANCHOR.strftime("%Y-%m-%d %H:%M:%S")


def chromium_executable() -> str | None:
    configured = os.environ.get("SYNCHUB_TEST_CHROMIUM", "").strip()
    if configured:
        return configured if Path(configured).exists() else None
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI requires the browser tests to run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (kept after the run)."""
    folder = Path(os.environ.get("SYNCHUB_TEST_ARTIFACTS", "").strip() or TESTS / ".artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def required_chromium() -> str:
    """Chromium's executable, and Playwright importable; else skip (fail under CI)."""
    executable = chromium_executable()
    if executable is None:
        unavailable(
            "no Chromium (Debian's `chromium`: apt-get install chromium, as .ci/run does; "
            "or SYNCHUB_TEST_CHROMIUM=/path/to/chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:  # pragma: no cover - dev dependency
        unavailable(f"playwright is not installed ({exc}): pip install -e '.[dev]'")
    assert executable is not None
    return executable


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, for one module: Playwright's sync API runs an event loop in this thread
    while it is open, so it must close before other tests call asyncio.run()."""
    executable = required_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, timeout=WAIT_MS
        )
        try:
            yield launched
        finally:
            launched.close()


class Console:
    """A page's console errors, uncaught exceptions and failed requests (a request the
    browser cancels because the test navigated away, ERR_ABORTED, is no failure)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", self.message)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("requestfailed", self.request_failed)

    def message(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def request_failed(self, request: Any) -> None:
        if request.failure != "net::ERR_ABORTED":
            self.errors.append(f"request failed ({request.failure}): {request.url}")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (own context) with bounded waits; its console in `page.console`."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="en-US")
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    opened = context.new_page()
    opened.console = Console(opened)
    try:
        yield opened
    finally:
        context.close()


@dataclass(frozen=True)
class Landed:
    warehouse_url: str
    data: Path  # SYNCHUB_DATA_DIR of the runs: marts files, dashboard
    dagster_home: Path
    orders_start: str
    dashboard: Path  # the page, from merchant_dashboard's metadata
    dashboard_metadata: dict[str, Any]


@pytest.fixture(scope="session")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Landed:
    """A small sandbox world landed by the real pipeline, with its marts and dashboard.

    Everything runs inside this fixture's setup and the environment is restored before it
    returns (other tests of this process see nothing of it); the sandbox is stopped.
    Without a browser to look at it, nothing is landed.
    """
    required_chromium()
    from synchub_pipelines.definitions import defs
    from synchub_pipelines.defs.marts.resources import dbt_resource
    from synchub_pipelines.demo.run import materialize_everything
    from synchub_pipelines.demo.sandbox_accounts import (
        connect_bling_account,
        connect_sellers,
        sandbox_rate_limits,
    )
    from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
    from synchub_pipelines.sandbox.world import WorldSize
    from synchub_pipelines_tests.stock.shop import MARKETPLACES, Shop, sandbox_environment

    root = tmp_path_factory.mktemp("browser-world")
    data, home = root / "data", root / "dagster_home"
    data.mkdir()
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    url = f"sqlite:///{data / 'warehouse.sqlite'}"
    saved = dict(os.environ)
    running = RunningSandbox(
        Sandbox(
            SandboxConfig(
                seed=7,
                size=WorldSize(families=4, orders_per_seller=60, days=35),
                anchor=ANCHOR,
                rate_limits=sandbox_rate_limits(),
            )
        )
    ).start()
    try:
        os.environ["SYNCHUB_DATA_DIR"] = str(data)
        with (
            sandbox_environment(running),
            dg.DagsterInstance.from_config(str(home)) as instance,
        ):
            shop = Shop(running, url, root)
            sellers = [s for s in running.sandbox.world.sellers if s.marketplace in MARKETPLACES]
            connect_bling_account(shop.token_store)
            store_ids = [
                s.store_id for s in connect_sellers(sellers, shop.engine, shop.token_store)
            ]
            zone = ZoneInfo(running.sandbox.world.sellers[0].timezone)
            orders = running.sandbox.world.orders
            first = min(o.created_at for o in orders).astimezone(zone).date() - timedelta(days=1)
            last = max(o.created_at for o in orders).astimezone(zone).date()
            failed = materialize_everything(
                store_ids,
                first,
                last,
                instance=instance,
                resources=shop.resources(),
                say=lambda _: None,
                normalize=False,
            )
            assert failed == []
            # A second snapshot round (stock over time), then allocatable stock.
            located = dg.Definitions(
                assets=defs.assets,
                asset_checks=defs.asset_checks,
                jobs=defs.jobs,
                resources={**dict(defs.resources or {}), **shop.resources(), "dbt": dbt_resource()},
            )
            quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
            for store_id in store_ids:
                located.resolve_job_def("listings_job").execute_in_process(
                    instance=instance, partition_key=store_id, run_config=quiet
                )
            assert shop.push(instance, dry_run=True).success
            # The marts, their files and the dashboard, as the location's job builds them.
            result = located.resolve_job_def("marts_job").execute_in_process(
                instance=instance,
                run_config={**quiet, "ops": {"marts_dbt": {"config": {"as_of": AS_OF}}}},
            )
            assert result.success
            metadata = next(
                m.materialization.metadata
                for m in result.get_asset_materialization_events()
                if m.asset_key == dg.AssetKey("merchant_dashboard")
            )
    finally:
        running.stop()
        os.environ.clear()
        os.environ.update(saved)
    return Landed(
        warehouse_url=url,
        data=data,
        dagster_home=home,
        orders_start=first.isoformat(),
        dashboard=Path(str(metadata["path"].value)),
        dashboard_metadata={k: v.value for k, v in metadata.items()},
    )
