"""The marts domain's Dagster definitions: the dbt models (with their tests as checks), the
files exported from them and the merchant dashboard built from them. The `dbt` resource
(`resources.dbt_resource()`) and the `warehouse` resource come from the code location's
resources, like every domain's."""

import dagster as dg

from synchub_pipelines.defs.marts.assets import mart_exports, marts_dbt
from synchub_pipelines.defs.marts.dashboard import merchant_dashboard

marts_job = dg.define_asset_job(
    "marts_job",
    selection=dg.AssetSelection.groups("marts"),
    description=(
        "Rebuild every mart with `dbt build` (its tests as checks), then its files and the "
        "merchant dashboard."
    ),
)

defs = dg.Definitions(assets=[marts_dbt, mart_exports, merchant_dashboard], jobs=[marts_job])
