"""The merchant dashboard: one HTML page per merchant built from the marts (pandas + plotly,
no Dagster here), and `synchub dashboard`, which opens or serves the last page built.

The page is written to `<data folder>/dashboard/` with plotly.js beside it, so it opens
offline from disk (docs/dashboard.md)."""
