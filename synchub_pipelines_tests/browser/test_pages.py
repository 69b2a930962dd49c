"""The pages people look at, in a browser, on one small sandbox world landed by the real
pipeline (conftest.py `landed`; one module, so the world lands once per test process):

- the merchant dashboard: every chart drawn (a non-empty plotly SVG) and no console error,
  offline (nothing requested beyond the page's folder), in every period, from disk and
  served by `synchub dashboard --serve`;
- the Dagster UI on that world's instance (`dagster-webserver` against its DAGSTER_HOME,
  like `make ui` after `make demo`): the project's asset groups and the runs of its named
  jobs, and asset pages with their metadata and column schema (the data dictionary's).

Screenshots go to SYNCHUB_TEST_ARTIFACTS (see conftest.py), named after what they show.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from synchub_pipelines.dashboard import page as dashboard_page
from synchub_pipelines.dashboard.cli import make_server
from synchub_pipelines.warehouse import dictionary, schema
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines_tests.browser.conftest import Landed
from synchub_pipelines_tests.browser.ui_server import dagster_webserver
from synchub_pipelines_tests.marts.helpers import documented_columns

pytestmark = pytest.mark.slow

# Per chart: drawn (an SVG with traces and a real size), or the reason it is empty.
CHART_STATE = """
() => Array.from(document.querySelectorAll('[data-chart]')).map(node => {
  const box = node.getBoundingClientRect();
  const svg = node.querySelector('svg.main-svg');
  return {
    name: node.getAttribute('data-chart'),
    svgs: node.querySelectorAll('svg.main-svg').length,
    traces: node.querySelectorAll('g.trace').length,
    marks: node.querySelectorAll('g.trace path, g.trace .point').length,
    width: svg ? svg.getBoundingClientRect().width : 0,
    height: svg ? svg.getBoundingClientRect().height : 0,
    boxHeight: box.height,
    empty: node.classList.contains('chart--empty') ? node.textContent.trim() : null,
  };
})
"""


def offline(page: Any, allowed: tuple[str, ...]) -> list[str]:
    """Refuse every request that leaves `allowed` (file:// or the loopback server); the
    list it returns fills with what the page tried."""
    attempted: list[str] = []

    def route(request: Any) -> None:
        url = request.request.url
        if url.startswith(allowed) or url.startswith("data:"):
            request.continue_()
        else:
            attempted.append(url)
            request.abort()

    page.route("**/*", route)
    return attempted


def charts(page: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in page.evaluate(CHART_STATE)}


def assert_drawn(state: dict[str, Any]) -> None:
    assert state["empty"] is None, state
    assert state["svgs"] >= 1 and state["traces"] >= 1 and state["marks"] >= 1, state
    assert state["width"] > 100 and state["height"] > 100, state


def ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready=true]", state="attached")


def test_the_dashboard_draws_every_chart_offline_without_errors(
    landed: Landed, page: Any, artifacts: Path
) -> None:
    index = landed.dashboard
    assert index.is_file(), index
    assert landed.dashboard_metadata["url"] == index.resolve().as_uri()
    attempted = offline(page, ("file://",))
    page.goto(index.resolve().as_uri())
    ready(page)
    page.screenshot(path=str(artifacts / "dashboard-sqlite-default-period.png"), full_page=True)

    drawn = charts(page)
    assert set(drawn) == set(dashboard_page.CHARTS)
    for state in drawn.values():
        assert_drawn(state)
    assert page.locator(".kpi").count() >= 8
    assert "R$" in page.locator("[data-kpi=gross] .value").first.inner_text()

    # Every period: its KPIs shown, every chart drawn or saying why it is empty.
    options = page.eval_on_selector_all("#period option", "os => os.map(o => o.value)")
    assert "all" in options and len(options) >= 2
    for option in options:
        page.select_option("#period", option)
        ready(page)
        assert page.locator(f'.pane[data-period="{option}"]:visible').count() >= 1
        for state in charts(page).values():
            if state["empty"] is None:
                assert_drawn(state)
            else:
                assert state["empty"] in dashboard_page.PERIOD_CHARTS.values(), state
        assert f"period={option}" in page.url
    page.screenshot(path=str(artifacts / "dashboard-sqlite-all-history.png"), full_page=True)

    # Gross and net, by the chart's own buttons.
    page.locator("#chart-sales .updatemenu-button", has_text="Net of fees").click()
    page.wait_for_function(
        "() => document.querySelector('#chart-sales .ytitle').textContent.startsWith('Net')"
    )
    # The exported files are next to it, linked.
    csv = page.locator('a[href$="mart_sales_daily.csv"]')
    assert csv.count() == 1
    assert (index.parent / str(csv.get_attribute("href"))).resolve().is_file()

    assert page.console.errors == []
    assert attempted == []


def test_the_served_dashboard_loads_with_its_files(
    landed: Landed, page: Any, artifacts: Path
) -> None:
    server = make_server(landed.dashboard.parent, 0, exports=landed.data / "marts")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        attempted = offline(page, (base,))
        page.goto(base + "/")
        ready(page)
        for state in charts(page).values():
            assert_drawn(state)
        href = page.locator('a[href$="mart_sales_daily.xlsx"]').get_attribute("href")
        status = page.evaluate("href => fetch(href).then(r => r.status)", href)
        assert status == 200
        page.screenshot(path=str(artifacts / "dashboard-served.png"))
        assert page.console.errors == []
        assert attempted == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- the Dagster UI ------------------------------------------------------------------------

# The groups an operator must find, whatever else the location grows.
CORE_GROUPS = {"catalog", "stores", "listings", "orders", "stock", "normalization", "marts"}
# Dagster's first-visit "join the community" dialog, answered as if already seen.
NO_COMMUNITY_DIALOG = "window.localStorage.setItem('communityNux', '1')"


@pytest.fixture(scope="module")
def dagster_ui(landed: Landed, artifacts: Path) -> Iterator[str]:
    environment = {
        "SYNCHUB_WAREHOUSE_URL": landed.warehouse_url,
        "SYNCHUB_DATA_DIR": str(landed.data),
        "SYNCHUB_ORDERS_START_DATE": landed.orders_start,
    }
    with dagster_webserver(
        landed.dagster_home, environment, artifacts / "dagster-webserver.log"
    ) as base:
        yield base


def open_ui(page: Any, url: str) -> None:
    page.add_init_script(NO_COMMUNITY_DIALOG)
    page.goto(url)
    skip = page.get_by_role("button", name="Skip")
    if skip.count():  # the dialog, should this version name its key otherwise
        skip.first.click()


def shoot(page: Any, path: Path, section: str | None = None) -> None:
    """A screenshot of the viewport, scrolled to a section's heading first."""
    if section is not None:
        page.get_by_text(section, exact=True).first.scroll_into_view_if_needed()
    page.screenshot(path=str(path))


def lines(page: Any) -> set[str]:
    return {line.strip() for line in page.inner_text("body").splitlines() if line.strip()}


def wait_for_text(page: Any, *texts: str) -> None:
    """Until every text is on the page (bounded by the page's default timeout)."""
    page.wait_for_function(
        "texts => texts.every(t => document.body.innerText.includes(t))", arg=list(texts)
    )


def test_the_dagster_ui_shows_the_project_groups_and_named_runs(
    dagster_ui: str, page: Any, artifacts: Path
) -> None:
    from synchub_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    groups.discard(None)
    assert groups >= CORE_GROUPS

    open_ui(page, f"{dagster_ui}/asset-groups")
    page.wait_for_function(
        "groups => { const shown = new Set(document.body.innerText.split('\\n')"
        ".map(l => l.trim())); return groups.every(g => shown.has(g)); }",
        arg=sorted(groups),
    )
    assert groups <= lines(page)
    shoot(page, artifacts / "dagster-ui-asset-groups.png")

    # The runs carry the location's job names (what an operator would launch).
    open_ui(page, f"{dagster_ui}/runs")
    wait_for_text(page, "marts_job", "orders_job")
    shoot(page, artifacts / "dagster-ui-runs.png")
    assert page.console.errors == []


def test_an_asset_page_shows_its_metadata_and_column_schema(
    dagster_ui: str, landed: Landed, page: Any, artifacts: Path
) -> None:
    # A mart: dbt's model, its columns described by the marts' schema.yml.
    with engine_for(landed.warehouse_url).connect() as conn:
        rows = conn.execute(sa.text("SELECT COUNT(*) FROM mart_sales_daily")).scalar_one()
    columns = documented_columns()["mart_sales_daily"]
    open_ui(page, f"{dagster_ui}/assets/mart_sales_daily")
    # The column table renders after the asset's header: wait for a description in it.
    wait_for_text(
        page,
        "Columns",
        "Metadata",
        "model.synchub_marts.mart_sales_daily",
        "The orders' business date",
    )
    shown = lines(page)
    assert set(columns) <= shown, set(columns) - shown
    body = page.inner_text("body")
    assert "The orders' business date" in body  # a column's description
    assert "Row count" in body and f"{rows:,}" in body  # the run's own count
    shoot(page, artifacts / "dagster-ui-asset-mart_sales_daily-columns.png", "Columns")
    shoot(page, artifacts / "dagster-ui-asset-mart_sales_daily-metadata.png", "Metadata")

    # A warehouse table's asset: its column schema from the data dictionary, and the
    # metadata of its last run.
    described = {c.name: c for c in dictionary.columns_of(schema.metadata.tables["orders"])}
    open_ui(page, f"{dagster_ui}/assets/orders")
    wait_for_text(page, "Columns", "Metadata", "run_orders", "payout_amount")
    assert set(described) <= lines(page), set(described) - lines(page)
    body = page.inner_text("body")
    assert "key (store_id, order_id)" in body and "grain:" in body
    # The description's first words (the UI renders `code` without its backticks).
    payout = " ".join(described["payout_amount"].description.replace("`", "").split()[:5])
    assert payout in body
    shoot(page, artifacts / "dagster-ui-asset-orders-columns.png", "Columns")
    shoot(page, artifacts / "dagster-ui-asset-orders-metadata.png", "Metadata")

    # The dashboard's asset: where its page is.
    open_ui(page, f"{dagster_ui}/assets/merchant_dashboard")
    wait_for_text(page, "Metadata", str(landed.dashboard))
    assert re.search(r"file://\S+index\.html", page.inner_text("body"))
    shoot(page, artifacts / "dagster-ui-asset-merchant_dashboard-metadata.png", "Metadata")
    assert page.console.errors == []
