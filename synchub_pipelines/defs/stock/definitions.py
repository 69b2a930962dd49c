"""The stock domain's Dagster definitions, merged into the code location."""

import dagster as dg

from synchub_pipelines.defs.stock.automation import (
    stock_drift_sweep_schedule,
    stock_reservation_sensor,
)
from synchub_pipelines.defs.stock.planning import (
    allocatable_stock_asset,
    published_within_allocatable,
    stock_push_plan_asset,
)
from synchub_pipelines.defs.stock.pushing import stock_push_job, stock_pushes_asset

defs = dg.Definitions(
    assets=[allocatable_stock_asset, stock_push_plan_asset, stock_pushes_asset],
    asset_checks=[published_within_allocatable],
    jobs=[stock_push_job],
    sensors=[stock_reservation_sensor],
    schedules=[stock_drift_sweep_schedule],
)
