"""The alerts domain: run failures and failing checks, recorded and sent."""

import dagster as dg

from synchub_pipelines.defs.alerts.sensors import check_failure_alerts, run_failure_alerts

defs = dg.Definitions(sensors=[run_failure_alerts, check_failure_alerts])
