"""The Dagster home of the commands that run Dagster on one machine (`synchub demo`, `live`,
`scrape`; `make ui` after them): DAGSTER_HOME, or `<data folder>/dagster_home`.

Its dagster.yaml is the project's root one, so that these commands run the policy the
README describes (queued runs, limits, retries, monitoring, the forking launcher), not
Dagster's bare defaults. A dagster.yaml already there is the operator's and is kept.
"""

from __future__ import annotations

import os
from pathlib import Path

from synchub_pipelines import settings

PROJECT_CONFIG = Path(__file__).resolve().parents[1] / "dagster.yaml"
# Installed without the repository (a wheel): Dagster's defaults, without telemetry.
BARE_CONFIG = "telemetry:\n  enabled: false\n"


def prepare_dagster_home(replace: bool = False) -> Path:
    """The home, created with the project's instance config if it has none (or `replace`)."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.data_dir() / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if replace or not config.exists():
        config.write_text(PROJECT_CONFIG.read_text() if PROJECT_CONFIG.exists() else BARE_CONFIG)
    return home
