"""The marts as the code location shows them: one graph from the pipeline's assets into the
marts, dbt tests as checks, automation and freshness, every column described, and a dbt
connection taken from the warehouse URL without its password in sight."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster_dbt import DbtProject

from synchub_pipelines import settings
from synchub_pipelines.defs.checks import TABLE_ASSET
from synchub_pipelines.defs.marts import profile
from synchub_pipelines.defs.marts.assets import MART_FRESHNESS, REFRESH_WHEN_FACTS_LAND, marts_dbt
from synchub_pipelines.defs.marts.resources import (
    MartsDbtCliResource,
    dbt_resource,
    installed_dbt_version,
    manifest_is_stale,
    marts_project,
)

MARTS = {
    "mart_sales_daily",
    "mart_order_funnel",
    "mart_stock_coverage",
    "mart_stockout_periods",
    "mart_listing_health",
    "mart_questions_sla",
    "mart_shipping_sla",
}


@pytest.fixture(scope="module")
def location() -> dg.Definitions:
    """The code location as definitions.py builds it: the marts domain merged in, the
    `dbt` resource among the resources, freshness and column schemas on everything."""
    from synchub_pipelines.definitions import defs

    assert "dbt" in (defs.resources or {})
    return defs


def test_the_location_loads_with_the_marts(location: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(location)
    graph = location.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {*MARTS, "mart_exports"} <= keys
    # The marts keep their own freshness (hourly facts), the exports follow them.
    for key in [*MARTS, "mart_exports"]:
        assert graph.get(dg.AssetKey(key)).freshness_policy == MART_FRESHNESS, key
    # The location's automation sensor evaluates the marts' conditions.
    sensors = {s.name: s for s in location.sensors or []}
    automation = sensors["synchub_automation"]
    assert isinstance(automation, dg.AutomationConditionSensorDefinition)
    targeted = automation.asset_selection.resolve(graph)
    assert {dg.AssetKey(m) for m in [*MARTS, "mart_exports"]} <= targeted


def test_one_graph_from_the_pipeline_into_every_mart(location: dg.Definitions) -> None:
    graph = location.resolve_asset_graph()
    assert dg.AssetKey("orders") in graph.get(dg.AssetKey("mart_sales_daily")).parent_keys
    assert dg.AssetKey("order_fees") in graph.get(dg.AssetKey("mart_sales_daily")).parent_keys
    expected_parents = {
        "mart_order_funnel": {"orders", "stores"},
        "mart_shipping_sla": {"shipments", "orders", "stores"},
        "mart_questions_sla": {"questions", "stores"},
        "mart_listing_health": {"listings", "listing_links", "listing_readiness", "stores"},
        "mart_stockout_periods": {"stock_snapshots", "listing_links", "central_products"},
        "mart_stock_coverage": {"allocatable_stock", "mart_stockout_periods", "order_items"},
    }
    for mart, parents in expected_parents.items():
        found = {k.to_user_string() for k in graph.get(dg.AssetKey(mart)).parent_keys}
        assert parents <= found, mart
    # No island: every parent of a mart is an asset the location materializes, never a stub
    # dagster-dbt would invent for an unmapped source.
    for mart in MARTS:
        for parent in graph.get(dg.AssetKey(mart)).parent_keys:
            assert graph.get(parent).is_materializable, (mart, parent)


def test_sources_point_at_the_assets_that_write_their_tables() -> None:
    sources = yaml.safe_load((profile.PROJECT_DIR / "models" / "sources.yml").read_text())
    tables = sources["sources"][0]["tables"]
    assert tables, "no source tables"
    for table in tables:
        assert table["meta"]["dagster"]["asset_key"] == [TABLE_ASSET[table["name"]]], table


def test_models_are_assets_of_group_marts_with_checks_automation_and_freshness() -> None:
    specs = {s.key.to_user_string(): s for s in marts_dbt.specs}
    assert set(specs) == MARTS
    for spec in specs.values():
        assert spec.group_name == "marts"
        assert spec.owners == ["team:data-platform"]
        assert spec.kinds == {"dbt", "sql"}
        assert spec.automation_condition == REFRESH_WHEN_FACTS_LAND
        assert spec.freshness_policy is not None
        assert spec.description
        columns = spec.metadata["dagster/column_schema"].columns
        assert columns and all(c.description for c in columns), spec.key
    checks = {(k.asset_key.to_user_string(), k.name) for k in marts_dbt.check_keys}
    assert ("mart_sales_daily", "mart_sales_daily_reconciles_with_orders") in checks
    for mart in MARTS:
        assert any(a == mart and name.startswith("unique_grain") for a, name in checks), mart


def test_every_model_and_column_is_described() -> None:
    manifest = json.loads(marts_project.manifest_path.read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert {m["name"] for m in models} >= MARTS
    undescribed = [
        f"{m['name']}.{c}"
        for m in models
        for c, column in m["columns"].items()
        if not column.get("description", "").strip()
    ]
    assert not undescribed
    assert all(m["description"].strip() for m in models)
    # Every mart's columns are documented (a mart without columns in schema.yml fails here).
    assert all(m["columns"] for m in models if m["name"] in MARTS)


def test_the_connection_comes_from_the_warehouse_url_and_hides_its_password() -> None:
    url = "postgresql+psycopg://analyst:s3cr3t-pw@db.example:6543/shop?sslmode=require"
    env = profile.dbt_environment(url)
    assert env[profile.TARGET] == "postgres"
    assert (env[profile.PG_HOST], env[profile.PG_PORT]) == ("db.example", "6543")
    assert (env[profile.PG_USER], env[profile.PG_DBNAME]) == ("analyst", "shop")
    assert env[profile.PG_SSLMODE] == "require"
    # Only under dbt's secret prefix, which dbt scrubs from its logs.
    assert [k for k, v in env.items() if v == "s3cr3t-pw"] == ["DBT_ENV_SECRET_SYNCHUB_PG_PASSWORD"]
    assert "s3cr3t" not in profile.describe(url)
    profiles = (profile.PROJECT_DIR / "profiles.yml").read_text()
    assert "password: \"{{ env_var('DBT_ENV_SECRET_SYNCHUB_PG_PASSWORD'" in profiles

    sqlite = profile.dbt_environment("sqlite:///relative/warehouse.sqlite")
    assert sqlite[profile.TARGET] == "sqlite"
    assert Path(sqlite[profile.SQLITE_PATH]).is_absolute()
    assert sqlite[profile.PG_PASSWORD] == ""  # nothing left over from another warehouse


def test_the_environment_holds_the_connection_only_while_dbt_starts() -> None:
    url = "postgresql+psycopg://analyst:s3cr3t-pw@db.example/shop"
    before = os.environ.get(profile.PG_PASSWORD)
    with profile.environment_for(url):
        assert os.environ[profile.PG_PASSWORD] == "s3cr3t-pw"
    assert os.environ.get(profile.PG_PASSWORD) == before


def test_the_dbt_executable_is_configurable_and_resolved_from_the_project_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SYNCHUB_DBT_EXECUTABLE", raising=False)
    assert profile.dbt_executable() == str(settings.PROJECT_ROOT / ".venv-dbt" / "bin" / "dbt")
    monkeypatch.setenv("SYNCHUB_DBT_EXECUTABLE", "tools/dbt")
    assert profile.dbt_executable() == str(settings.PROJECT_ROOT / "tools" / "dbt")
    monkeypatch.setenv("SYNCHUB_DBT_EXECUTABLE", "/opt/dbt/bin/dbt")
    assert profile.dbt_executable() == "/opt/dbt/bin/dbt"
    monkeypatch.setenv("SYNCHUB_DBT_EXECUTABLE", "dbt")
    assert profile.dbt_executable() == "dbt"  # a bare name: found on PATH


def test_the_dbt_resource_runs_dbt_from_its_own_environment() -> None:
    resource = dbt_resource()
    assert isinstance(resource, MartsDbtCliResource)
    assert resource.dbt_executable == profile.dbt_executable()
    assert Path(resource.project_dir) == profile.PROJECT_DIR
    version = installed_dbt_version(resource.dbt_executable)
    assert version is not None and version.major == 1  # read from metadata, dbt not started


def test_an_edited_model_makes_the_manifest_stale(tmp_path: Path) -> None:
    assert not manifest_is_stale()
    copy = tmp_path / "dbt_project"
    shutil.copytree(profile.PROJECT_DIR, copy, ignore=shutil.ignore_patterns("logs"))
    project = DbtProject(project_dir=copy, profiles_dir=copy)
    built = project.manifest_path.stat().st_mtime
    for path in copy.rglob("*"):
        os.utime(path, (built - 10, built - 10))
    assert not manifest_is_stale(project)
    model = copy / "models" / "marts" / "mart_order_funnel.sql"
    os.utime(model, (built + 10, built + 10))
    assert manifest_is_stale(project)
    project.manifest_path.unlink()
    assert manifest_is_stale(project)


def test_marts_refresh_when_their_facts_land(location: dg.Definitions) -> None:
    marts_group = dg.AssetSelection.groups("marts")
    graph = location.resolve_asset_graph()

    def requested(result: dg.EvaluateAutomationConditionsResult) -> set[str]:
        return {
            k.to_user_string() for k in graph.get_all_asset_keys() if result.get_num_requested(k)
        }

    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(
            defs=location, instance=instance, asset_selection=marts_group
        )
        assert requested(first) == {*MARTS, "mart_exports", "merchant_dashboard"}
        for key in [
            *marts_dbt.keys,
            dg.AssetKey("mart_exports"),
            dg.AssetKey("merchant_dashboard"),
        ]:
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        cursor = first.cursor
        for _ in range(2):  # the exports follow the marts once, then all is quiet
            settled = dg.evaluate_automation_conditions(
                defs=location, instance=instance, asset_selection=marts_group, cursor=cursor
            )
            cursor = settled.cursor
        assert requested(settled) == set()
        # The catalog lands: the marts that read it, and the files, refresh; the others not.
        instance.report_runless_asset_event(dg.AssetMaterialization("central_products"))
        landed = dg.evaluate_automation_conditions(
            defs=location, instance=instance, asset_selection=marts_group, cursor=cursor
        )
        assert requested(landed) == {
            "mart_sales_daily",
            "mart_stock_coverage",
            "mart_stockout_periods",
            "mart_exports",
            "merchant_dashboard",
        }


def test_the_marts_page_lists_every_column_of_every_mart() -> None:
    page = (settings.PROJECT_ROOT / "docs" / "marts.md").read_text(encoding="utf-8")
    manifest = json.loads(marts_project.manifest_path.read_text())
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["name"] not in MARTS:
            continue
        section = page.split(f"\n### {node['name']}\n", 1)[1].split("\n### ", 1)[0]
        listed = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
        assert listed == list(node["columns"]), node["name"]
