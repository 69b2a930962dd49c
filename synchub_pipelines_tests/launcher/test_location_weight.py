"""What loading the code location imports: every run worker of Dagster's default launcher,
every code-server start and every warm process pays it. pandas, plotly and Alembic load
where they are used (marts, dashboard, migrations), not with the location."""

from __future__ import annotations

import json
import subprocess
import sys

DEFERRED = ("pandas", "plotly", "alembic")


def test_loading_the_location_leaves_the_heavy_libraries_for_the_runs_that_use_them() -> None:
    probe = (
        "import json, sys, warnings; warnings.simplefilter('ignore');"
        "import synchub_pipelines.definitions;"
        f"print(json.dumps([m for m in {DEFERRED!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
