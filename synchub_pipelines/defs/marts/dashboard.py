"""The merchant dashboard as an asset: one HTML page per merchant, built from the marts.

The page itself is built by `synchub_pipelines.dashboard` (pandas + plotly, no Dagster);
this asset reads the marts from the code location's warehouse, typed by their documented
types like the exports, and writes the pages to `<data folder>/dashboard/` with plotly.js
beside them (they open offline). It follows the marts and their files (the page links the
CSV and XLSX exports), with the same automation: rebuilt when they land, or when missing.
Its path and file:// address are in the materialization's metadata; `synchub dashboard`
opens the last one built.
"""

from pathlib import Path

import dagster as dg

from synchub_pipelines.dashboard.columns import MART_NAMES
from synchub_pipelines.dashboard.location import dashboard_folder
from synchub_pipelines.defs.common import OWNERS
from synchub_pipelines.defs.marts.assets import (
    GROUP,
    MART_FRESHNESS,
    documented_types,
    exports_folder,
    mart_exports,
    mart_keys,
)
from synchub_pipelines.defs.marts.exports import read_mart
from synchub_pipelines.defs.resources import WarehouseResource

# The page reads these marts: each must be a model of the dbt project (a renamed one would
# otherwise become a dependency on nothing).
_unknown = set(MART_NAMES) - {key.to_user_string() for key in mart_keys()}
if _unknown:
    raise ValueError(f"the dashboard reads marts the dbt project lacks: {sorted(_unknown)}")


def export_files(folder: Path) -> dict[str, dict[str, Path]]:
    """Mart → its exported files (CSV, XLSX) in `folder`, those that exist."""
    files: dict[str, dict[str, Path]] = {}
    for mart in MART_NAMES:
        for kind, suffix in (("CSV", ".csv"), ("XLSX", ".xlsx")):
            path = folder / f"{mart}{suffix}"
            if path.exists():
                files.setdefault(mart, {})[kind] = path
    return files


@dg.asset(
    key="merchant_dashboard",
    deps=[*(dg.AssetKey(m) for m in MART_NAMES), mart_exports.key],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "plotly", "html"},
    tags={"domain": "marts"},
    automation_condition=~dg.AutomationCondition.in_progress()
    & (dg.AutomationCondition.missing() | dg.AutomationCondition.any_deps_updated()),
    freshness_policy=MART_FRESHNESS,
    description=(
        "The merchant dashboard: one HTML page per merchant (`<data>/dashboard/index.html`, "
        "plotly.js beside it, works offline) with the period's KPIs, sales per day and "
        "channel, top SKUs, days of cover and stock-outs, questions SLA and late shipments, "
        "built from the marts and linking their CSV and XLSX files. Open it with "
        "`synchub dashboard`; its path is in the metadata."
    ),
)
def merchant_dashboard(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    # pandas and plotly load here, not with the code location that every run process imports.
    from synchub_pipelines.dashboard.marts import Marts
    from synchub_pipelines.dashboard.page import build_dashboard

    engine = warehouse.engine()
    marts = Marts.from_frames(
        {mart: read_mart(engine, mart, documented_types(mart)) for mart in MART_NAMES}
    )
    built = build_dashboard(marts, dashboard_folder(), export_files(exports_folder()))
    default = built.pages[0]
    periods = {p.key: p for p in default.periods}
    shown = periods[default.default_period]
    context.log.info(f"dashboard: {built.index} ({built.url})")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(built.index)),
            "url": dg.MetadataValue.url(built.url),
            "folder": dg.MetadataValue.path(str(built.folder)),
            "merchants": dg.MetadataValue.json(
                {page.tenant: str(page.path) for page in built.pages}
            ),
            "period": dg.MetadataValue.text(
                f"{shown.label}: {shown.start.isoformat()} to {shown.end.isoformat()}"
            ),
            "charts": dg.MetadataValue.json(default.charts),
            "open": dg.MetadataValue.md(
                f"Open [{built.index.name}]({built.url}) or run `synchub dashboard` "
                "(`--serve` to serve it on loopback)."
            ),
        }
    )
