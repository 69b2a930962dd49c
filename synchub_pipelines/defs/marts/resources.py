"""The marts' dbt project and the `dbt` resource, the way dagster-open-platform sets them up.

- `marts_project` is a `DbtProject` over `dbt_project/` beside this module. Its manifest
  (what `@dbt_assets` reads at load time) is built by `dbt parse`, which needs no database.
  `prepare_marts_project()` plays `prepare_if_dev()`'s part and more: it re-parses whenever
  the manifest is missing or older than a file of the project — an edited model under
  `dagster dev`, but also a clean clone, CI or a fresh image, where `prepare_if_dev()`
  would find no manifest — one process at a time, and not on every run's start.
- The `dbt` resource is a `DbtCliResource` that runs dbt as a program from its own
  environment (`profile.dbt_executable()`): dbt is not importable from the code location's
  environment, so the two things dagster-dbt would do in-process with dbt's Python API — a
  live adapter handle (only used for column and row-count metadata, which the marts take
  from their documented schema instead) and `dbt --version` on every run (which also asks
  PyPI for a newer release) — are replaced by nothing and by reading the installed
  version's metadata.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster._utils import run_with_concurrent_update_guard
from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from synchub_pipelines import settings
from synchub_pipelines.defs.marts.profile import PROJECT_DIR, dbt_executable, run_dbt

# What dbt parses: a change to any of these makes the manifest stale.
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")


class MartsDbtCliResource(DbtCliResource):
    """dagster-dbt's `DbtCliResource`, for a dbt that lives in another environment."""

    @cached_property
    def _cli_version(self) -> version.Version:
        installed = installed_dbt_version(self.dbt_executable)
        return installed if installed is not None else super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        # dbt-core is not importable here (see the module docstring): no adapter handle.
        return None


def installed_dbt_version(executable: str) -> version.Version | None:
    """dbt-core's version from the metadata of the environment `executable` lives in, without
    starting dbt; None when it is not a virtual environment's `bin/dbt`."""
    venv = Path(executable).resolve().parent.parent
    for dist_info in sorted(venv.glob("lib/python*/site-packages/dbt_core-*.dist-info")):
        try:
            return version.parse(
                dist_info.name.removeprefix("dbt_core-").removesuffix(".dist-info")
            )
        except version.InvalidVersion:
            continue
    return None


marts_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)


def manifest_is_stale(project: DbtProject = marts_project) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in PROJECT_FILES:
        path = project.project_dir / name
        files = [path] if path.is_file() else path.rglob("*") if path.exists() else []
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def prepare_marts_project(project: DbtProject = marts_project, *, force: bool = False) -> Path:
    """Build the manifest with `dbt parse` when needed; returns its path.

    Parsed with the code location's own warehouse settings, so that runs reuse the parse
    (dbt's partial parsing starts over when the profile changes); parsing connects to
    nothing.
    """
    if force or manifest_is_stale(project):
        executable = dbt_executable()
        if os.sep in executable and not Path(executable).exists():
            raise FileNotFoundError(
                f"the marts' dbt manifest must be built and dbt is not at {executable}: "
                "`make install` builds .venv-dbt from dbt-requirements.txt, or set "
                "SYNCHUB_DBT_EXECUTABLE to a dbt with the sqlite and postgres adapters"
            )

        def parse() -> None:
            run_dbt(
                ["parse", "--quiet"],
                settings.warehouse_url(),
                target_path=project.project_dir / project.target_path,
            )

        project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        run_with_concurrent_update_guard(project.manifest_path, parse, guard_timeout_seconds=300)
    return project.manifest_path


def dbt_resource() -> MartsDbtCliResource:
    """The `dbt` resource of the code location."""
    return MartsDbtCliResource(
        project_dir=str(marts_project.project_dir),
        profiles_dir=str(marts_project.profiles_dir),
        dbt_executable=dbt_executable(),
    )
