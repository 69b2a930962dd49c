"""The `merchant_dashboard` asset on real marts, on SQLite and PostgreSQL: the marts of the
hand-written marts world (synchub_pipelines_tests/marts/world.py) built by dbt, then the
exports and the page as Dagster materializes them. The page's figures are the marts' own
to the cent on both warehouses, its path and address are in the metadata, and it links
the exported files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.dashboard import formatting as fmt
from synchub_pipelines.dashboard.marts import MART_NAMES
from synchub_pipelines.defs.marts.assets import mart_exports
from synchub_pipelines.defs.marts.dashboard import merchant_dashboard
from synchub_pipelines.defs.marts.profile import run_dbt
from synchub_pipelines.defs.marts.resources import prepare_marts_project
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines_tests.marts import world
from synchub_pipelines_tests.marts.helpers import throwaway_warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Engine]]:
    prepare_marts_project()
    with throwaway_warehouse(request.param, tmp_path_factory) as url:
        engine = engine_for(url)
        world.build(engine)
        done = run_dbt(["build", "--vars", json.dumps({"as_of": world.AS_OF})], url)
        assert "ERROR=0" in done.stdout, done.stdout[-3000:]
        yield url, engine


def test_the_asset_writes_the_marts_page_and_says_where(
    built: tuple[str, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, engine = built
    monkeypatch.setenv("SYNCHUB_DATA_DIR", str(tmp_path))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [mart_exports, merchant_dashboard],
            instance=instance,
            resources={"warehouse": WarehouseResource(url=url)},
        )
    assert result.success
    metadata = next(
        m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey("merchant_dashboard")
    )
    index = tmp_path / "dashboard" / "index.html"
    assert metadata["path"].value == str(index)
    assert metadata["url"].value == index.resolve().as_uri()
    assert metadata["merchants"].value == {"default": str(index)}
    assert (tmp_path / "dashboard" / "plotly.min.js").exists()
    text = index.read_text(encoding="utf-8")

    # "All history" of the world, to the cent, from the mart itself.
    with engine.connect() as conn:
        gross, net, units = conn.execute(
            sa.text(
                "SELECT SUM(gross_amount), SUM(net_revenue), SUM(units) FROM mart_sales_daily "
                "WHERE currency = 'BRL'"
            )
        ).one()
        paid = conn.execute(sa.text("SELECT SUM(orders_paid) FROM mart_order_funnel")).scalar()
    cards = re.search(r'data-period="all"[^>]*>(.*?)</div>', text, re.S)
    assert cards is not None
    all_history = cards.group(1)
    assert fmt.money(gross) in all_history
    assert fmt.money(net) in all_history
    assert f">{fmt.number(units)}<" in all_history
    assert f">{fmt.number(paid)}<" in all_history
    # The charts of the world's marts are drawn (it has sales, questions, packages, stock).
    data = json.loads(
        re.search(r'id="dashboard-data">(.*?)</script>', text, re.S).group(1)  # type: ignore[union-attr]
    )
    assert all(data["periods"]["all"]["figures"].values())
    assert data["fixed"]["cover"] is not None
    # Every mart's files, linked from the page.
    for mart in MART_NAMES:
        assert f'href="../marts/{mart}.csv"' in text, mart
        assert f'href="../marts/{mart}.xlsx"' in text, mart
