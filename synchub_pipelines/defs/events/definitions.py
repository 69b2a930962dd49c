"""The events domain's Dagster definitions, merged into the code location."""

import dagster as dg

from synchub_pipelines.defs.events.process import store_events_job
from synchub_pipelines.defs.events.sensor import webhook_events_sensor

defs = dg.Definitions(
    jobs=[store_events_job],
    sensors=[webhook_events_sensor],
)
