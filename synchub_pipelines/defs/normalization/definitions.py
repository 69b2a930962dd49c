"""The normalization domain's Dagster definitions, merged into the code location."""

import dagster as dg

defs = dg.Definitions()
