"""The events domain's Dagster definitions, merged into the code location."""

import dagster as dg

from synchub_pipelines.defs.events.bling import (
    bling_events_sensor,
    catalog_refresh_job,
    catalog_refresh_schedule,
)
from synchub_pipelines.defs.events.polling import order_polling_job, order_polling_schedule
from synchub_pipelines.defs.events.process import store_events_job
from synchub_pipelines.defs.events.reconciliation import (
    order_reconciliation,
    order_reconciliation_job,
    order_reconciliation_schedule,
)
from synchub_pipelines.defs.events.sensor import webhook_events_sensor

defs = dg.Definitions(
    assets=[order_reconciliation],
    jobs=[catalog_refresh_job, store_events_job, order_polling_job, order_reconciliation_job],
    sensors=[webhook_events_sensor, bling_events_sensor],
    schedules=[catalog_refresh_schedule, order_polling_schedule, order_reconciliation_schedule],
)
