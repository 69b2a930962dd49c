"""The marts as Dagster assets: every dbt model an asset downstream of the pipeline's own.

- **Lineage through sources.** The translator maps each dbt source to the asset that writes
  its table (`meta.dagster.asset_key` in sources.yml), so the graph runs
  `orders` → `mart_sales_daily`, not two islands. Two tables written by one asset
  (`orders`, `order_status_history`) share its key.
- **Checks.** dbt's tests (grain, not null, ranges, the sales reconciliation) are the
  models' asset checks, run by the same `dbt build`.
- **Automation.** A mart refreshes when its facts land, its SQL changes or it is missing
  (`~in_progress() & (code_version_changed() | missing() | any_deps_updated())`, as
  dagster-open-platform does), evaluated by the location's automation sensor; the files
  follow the marts.
- **One warehouse.** dbt builds where the `warehouse` resource points, with the connection
  handed to it in its environment (profile.py), and its per-run artifacts in a temporary
  folder (the package folder may be read-only in an image).
"""

import json
import tempfile
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from pydantic import Field

from synchub_pipelines import settings
from synchub_pipelines.defs.common import OWNERS
from synchub_pipelines.defs.marts.exports import export_mart, read_mart
from synchub_pipelines.defs.marts.profile import describe, environment_for
from synchub_pipelines.defs.marts.resources import marts_project, prepare_marts_project
from synchub_pipelines.defs.resources import WarehouseResource

GROUP = "marts"
KINDS = {"dbt", "sql"}
# Facts land hourly at least (fees, shipments, listings, snapshots): so do the marts.
MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=3), warn_window=timedelta(hours=2)
)
REFRESH_WHEN_FACTS_LAND = ~dg.AutomationCondition.in_progress() & (
    dg.AutomationCondition.code_version_changed()
    | dg.AutomationCondition.missing()
    | dg.AutomationCondition.any_deps_updated()
)


class MartsTranslator(DagsterDbtTranslator):
    """Models → assets of group `marts`; sources → the assets that write their tables."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        meta = dbt_resource_props.get("meta") or {}
        asset_key = (meta.get("dagster") or {}).get("asset_key")
        if dbt_resource_props["resource_type"] == "source" and asset_key:
            return dg.AssetKey(asset_key)
        if dbt_resource_props["resource_type"] == "source":
            raise ValueError(
                f"dbt source {dbt_resource_props['unique_id']} names no Dagster asset "
                "(meta.dagster.asset_key in sources.yml)"
            )
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not unique_id.startswith("model."):
            return spec
        return spec.replace_attributes(
            group_name=GROUP,
            owners=OWNERS,
            kinds=KINDS,
            automation_condition=REFRESH_WHEN_FACTS_LAND,
            freshness_policy=MART_FRESHNESS,
        ).merge_attributes(
            metadata={"dagster/table_name": unique_id.rsplit(".", 1)[-1]},
            tags={"domain": "marts"},
        )


translator = MartsTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True,
        # orders and order_status_history are both the `orders` asset's tables
        enable_duplicate_source_asset_keys=True,
        enable_code_references=False,
    )
)


class MartsConfig(dg.Config):
    as_of: str | None = Field(
        default=None,
        description=(
            "Measure the 'last 7/30 days', 'unanswered for 24 h' and 'overdue' figures at this "
            "UTC instant (ISO, e.g. 2026-03-14 15:00:00) instead of now: a past day replayed."
        ),
    )


def dbt_build_args(config: MartsConfig) -> list[str]:
    args = ["build"]
    if config.as_of:
        args += ["--vars", json.dumps({"as_of": config.as_of})]
    return args


prepare_marts_project()


@dbt_assets(
    manifest=marts_project.manifest_path,
    project=marts_project,
    dagster_dbt_translator=translator,
    name="marts_dbt",
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def marts_dbt(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: MartsConfig,
) -> Iterator[Any]:
    """`dbt build` of the selected marts and their tests, in the code location's warehouse."""
    engine = warehouse.engine()  # the warehouse's tables exist and are migrated
    context.log.info(describe(warehouse.url))
    with tempfile.TemporaryDirectory(prefix="synchub-dbt-") as artifacts:
        # The connection goes in the environment only while dbt's process starts.
        with environment_for(warehouse.url):
            invocation = dbt.cli(
                dbt_build_args(config), context=context, target_path=Path(artifacts)
            )
        for event in invocation.stream():
            if isinstance(event, dg.Output):
                # Rows per mart (dagster-dbt's own counts need dbt importable here).
                table = context.asset_key_for_output(event.output_name).to_user_string()
                with engine.connect() as conn:
                    rows = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                event = event.with_metadata(
                    {**event.metadata, "dagster/row_count": dg.MetadataValue.int(rows)}
                )
            yield event


def mart_keys() -> list[dg.AssetKey]:
    return sorted(
        (k for k in marts_dbt.keys if k.to_user_string().startswith("mart_")),
        key=lambda k: k.to_user_string(),
    )


def documented_types(mart: str) -> dict[str, str]:
    """Column → its documented PostgreSQL type (schema.yml), from the manifest."""
    manifest = json.loads(marts_project.manifest_path.read_text())
    node = manifest["nodes"][f"model.{marts_project.name}.{mart}"]
    return {name: (c.get("data_type") or "") for name, c in node["columns"].items()}


def exports_folder() -> Path:
    return settings.data_dir() / "marts"


@dg.asset(
    key="mart_exports",
    deps=mart_keys(),
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "csv", "excel"},
    tags={"domain": "marts"},
    automation_condition=~dg.AutomationCondition.in_progress()
    & (dg.AutomationCondition.missing() | dg.AutomationCondition.any_deps_updated()),
    freshness_policy=MART_FRESHNESS,
    description=(
        "Every mart as a CSV and an XLSX file in the data folder (`<data>/marts/<mart>.csv` "
        "and `.xlsx`), rewritten whole after the marts build; the paths are in the metadata."
    ),
)
def mart_exports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.Output[None]:
    engine = warehouse.engine()
    folder = exports_folder()
    files: dict[str, Any] = {}
    rows: dict[str, int] = {}
    for key in mart_keys():
        mart = key.to_user_string()
        done = export_mart(read_mart(engine, mart, documented_types(mart)), mart, folder)
        rows[mart] = done.rows
        files[f"{mart}_csv"] = dg.MetadataValue.path(str(done.csv_path))
        if done.xlsx_path is not None:
            files[f"{mart}_xlsx"] = dg.MetadataValue.path(str(done.xlsx_path))
        if done.note:
            context.log.warning(f"{mart}: {done.note}")
    return dg.Output(
        None,
        metadata={
            "folder": dg.MetadataValue.path(str(folder)),
            "rows": dg.MetadataValue.json(rows),
            "dagster/row_count": dg.MetadataValue.int(sum(rows.values())),
            **files,
        },
    )
