"""The publishing domain's Dagster definitions, merged into the code location."""

import dagster as dg

from synchub_pipelines.defs.publishing.assets import ASSETS, CHECKS, JOBS

defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, jobs=JOBS)
