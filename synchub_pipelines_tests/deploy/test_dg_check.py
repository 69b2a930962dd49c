"""`dg check defs` passes from the project root, as CI runs it.

It loads the code location the way a deployment does ([tool.dg] in pyproject.toml: project
`synchub_pipelines`, definitions `synchub_pipelines.defs`) against a temporary instance
configured from the root dagster.yaml, which therefore must load with nothing set: no
DAGSTER_HOME, no DAGSTER_PG_* variables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from synchub_pipelines_tests.deploy.files import ROOT

DG = Path(sys.executable).parent / "dg"


def test_dg_check_defs_passes_with_no_instance_settings() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    # dg warns when the active virtual environment is not the project's; CI runs it as below.
    env["VIRTUAL_ENV"] = sys.prefix
    done = subprocess.run(
        [str(DG), "check", "defs"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "All definitions loaded successfully" in output
