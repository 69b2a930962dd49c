"""The page as written to disk: offline (plotly.js beside it, no address off this machine),
the period's KPIs in pt-BR, every chart's figure for every period, links to the marts'
files, one page per merchant, and a readable page when the marts are still empty."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from synchub_pipelines.dashboard import page
from synchub_pipelines.dashboard.marts import Marts
from synchub_pipelines_tests.dashboard import world

BUILT_AT = datetime(2026, 3, 14, 15, 30, tzinfo=UTC)
TODAY = date(2026, 3, 14)
NBSP = "\u00a0"


def embedded(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', text)
    assert found is not None
    return json.loads(found.group(1))


def pane(text: str, period: str, kpi: str) -> str:
    """The text of one KPI card of one period."""
    panes = re.findall(r'<div class="pane" data-period="([^"]+)"[^>]*>(.*?)</div>', text, re.S)
    for key, content in panes:
        if key == period and f'data-kpi="{kpi}"' in content:
            card = content.split(f'data-kpi="{kpi}"', 1)[1].split("</article>", 1)[0]
            return re.sub(r"<[^>]+>", " ", card)
    raise AssertionError(f"no {kpi} card for {period}")


@pytest.fixture
def exports(tmp_path: Path) -> dict[str, dict[str, Path]]:
    folder = tmp_path / "marts"
    folder.mkdir()
    (folder / "mart_sales_daily.csv").write_text("x\n")
    (folder / "mart_sales_daily.xlsx").write_bytes(b"x")
    return {
        "mart_sales_daily": {
            "CSV": folder / "mart_sales_daily.csv",
            "XLSX": folder / "mart_sales_daily.xlsx",
        },
        "mart_order_funnel": {"CSV": folder / "mart_order_funnel.csv"},  # not written
    }


def test_the_page_works_offline_with_the_periods_kpis(
    tmp_path: Path, exports: dict[str, dict[str, Path]]
) -> None:
    folder = tmp_path / "dashboard"
    built = page.build_dashboard(world.marts(), folder, exports, BUILT_AT, TODAY)
    assert built.index == folder / "index.html"
    assert built.url == built.index.resolve().as_uri()
    assert built.plotly_js.read_text(encoding="utf-8") == get_plotlyjs()
    text = built.index.read_text(encoding="utf-8")

    # Nothing is fetched from elsewhere: plotly.js is the file beside it.
    assert re.findall(r'<script src="([^"]+)"', text) == ["plotly.min.js"]
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "cdn" not in text.lower()

    # The period selector and the default period stated.
    assert re.findall(r'<option value="([^"]+)"', text) == ["week", "4w", "all"]
    assert '<option value="4w" selected>' in text
    assert "16/02/2026 – 14/03/2026 (4 weeks, the last one to date)" in text

    # KPIs of "This week", in pt-BR.
    assert f"R${NBSP}150,00" in pane(text, "week", "gross")
    assert "+400,0%" in pane(text, "week", "gross")  # against 30,00 the week before
    assert f"R${NBSP}120,00" in pane(text, "week", "net")
    assert "final up to 13/03/2026" in pane(text, "week", "net")
    assert "3" in pane(text, "week", "orders") and "of 4 placed" in pane(text, "week", "orders")
    assert "10,0%" in pane(text, "week", "fee_share")
    assert "25,0%" in pane(text, "week", "cancellation_rate")
    assert "66,7%" in pane(text, "week", "answered_share")
    assert "1,5 h" in pane(text, "week", "answered_share")
    assert "25,0%" in pane(text, "week", "late_share")
    assert "1 SKU " in pane(text, "week", "out_of_stock")
    assert "another currency" in text  # the USD sale, left out and said

    # Every chart of every period, as plotly figures (a period without rows says so).
    data = embedded(text)
    assert data["default"] == "4w"
    assert set(data["periods"]) == {"week", "4w", "all"}
    for key, period in data["periods"].items():
        assert set(period["figures"]) == set(page.PERIOD_CHARTS), key
        assert all(f and f["data"] for f in period["figures"].values()), key
    assert data["fixed"]["cover"]["data"]
    for chart in page.CHARTS:
        assert f'data-chart="{chart}"' in text
    assert built.pages[0].charts == ["sales", "top_skus", "questions", "shipping", "cover"]

    # The exports that exist are linked, relative to the page.
    assert 'href="../marts/mart_sales_daily.csv" download' in text
    assert 'href="../marts/mart_sales_daily.xlsx" download' in text
    assert "mart_order_funnel.csv" not in text

    build = json.loads((folder / "build.json").read_text())
    assert build == {
        "built_at": "2026-03-14T15:30:00+00:00",
        "plotly": build["plotly"],
        "pages": {"default": "index.html"},
    }


def test_one_page_per_merchant_linked_together(tmp_path: Path) -> None:
    frames = {
        mart: pd.concat([world.frames("default")[mart], world.frames("acme & co")[mart]])
        for mart in world.frames()
    }
    folder = tmp_path / "dashboard"
    (folder).mkdir()
    (folder / "tenant-gone.html").write_text("stale")
    built = page.build_dashboard(Marts.from_frames(frames), folder, {}, BUILT_AT, TODAY)
    assert [(p.tenant, p.path.name) for p in built.pages] == [
        ("default", "index.html"),
        ("acme & co", "tenant-acme-co.html"),
    ]
    assert not (folder / "tenant-gone.html").exists()
    for built_page in built.pages:
        text = built_page.path.read_text(encoding="utf-8")
        assert '<a href="index.html"' in text and '<a href="tenant-acme-co.html"' in text
        # Each merchant's own figures only.
        assert f"R${NBSP}150,00" in pane(text, "week", "gross")
    assert "acme &amp; co" in built.pages[1].path.read_text(encoding="utf-8")
    assert "The marts were not exported yet" in built.index.read_text(encoding="utf-8")


def test_empty_marts_give_a_page_that_says_so(tmp_path: Path) -> None:
    built = page.build_dashboard(Marts.from_frames({}), tmp_path, None, BUILT_AT, TODAY)
    text = built.index.read_text(encoding="utf-8")
    assert "The marts hold no sale and no order yet" in text
    data = embedded(text)
    assert list(data["periods"]) == ["all"]
    assert all(f is None for f in data["periods"]["all"]["figures"].values())
    assert data["fixed"]["cover"] is None
    assert built.pages[0].charts == []


def test_sqlite_typed_frames_read_the_same() -> None:
    """SQLite gives 0/1 booleans, text dates and instants: the same page figures."""
    frames = world.frames()
    sqlite_like = {mart: frame.copy() for mart, frame in frames.items()}
    sales = sqlite_like["mart_sales_daily"]
    sales["fees_final"] = sales["fees_final"].map(int)
    sales["business_date"] = sales["business_date"].map(lambda d: f"{d} 00:00:00")
    coverage = sqlite_like["mart_stock_coverage"]
    coverage["is_out_of_stock"] = coverage["is_out_of_stock"].map(lambda b: "1" if b else "0")
    coverage["as_of"] = "2026-03-14 15:00:00.000000"
    typed, raw = Marts.from_frames(frames), Marts.from_frames(sqlite_like)
    pd.testing.assert_frame_equal(typed.sales_daily, raw.sales_daily)
    pd.testing.assert_frame_equal(typed.stock_coverage, raw.stock_coverage)


def test_a_mart_without_a_column_the_page_reads_is_refused() -> None:
    frames = world.frames()
    frames["mart_sales_daily"] = frames["mart_sales_daily"].drop(columns=["net_revenue"])
    with pytest.raises(ValueError, match=r"mart_sales_daily lacks .* net_revenue"):
        Marts.from_frames(frames)
    with pytest.raises(ValueError, match="not marts the dashboard reads: mart_nope"):
        Marts.from_frames({"mart_nope": pd.DataFrame()})
