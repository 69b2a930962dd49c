"""Runs in separate containers or pods share no file system, and nothing needs them to.

DockerRunLauncher and K8sRunLauncher start each run in a fresh container: an asset that
handed its value to a downstream asset through Dagster's default IO manager would leave a
pickle in one container's DAGSTER_HOME that the next run, elsewhere, cannot read. Every
asset here writes the warehouse and declares dependencies; none loads an input.
"""

from __future__ import annotations

from synchub_pipelines.definitions import defs


def test_no_asset_loads_an_input_through_an_io_manager() -> None:
    loaded = [
        (key.to_user_string(), name)
        for assets_def in defs.resolve_asset_graph().assets_defs
        if assets_def.is_executable
        for name, input_def in assets_def.node_def.input_dict.items()
        if not input_def.dagster_type.is_nothing
        for key in assets_def.keys
    ]
    assert not loaded, f"these inputs would need storage shared between runs: {loaded}"
