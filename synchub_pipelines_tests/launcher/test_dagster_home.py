"""The one-machine commands (`synchub demo`, `live`, `scrape`, `make ui`) run the project's
instance policy, not Dagster's bare defaults, and keep an operator's own dagster.yaml."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from synchub_pipelines.dagster_home import PROJECT_CONFIG, prepare_dagster_home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_new_home_gets_the_projects_instance_config(home: Path) -> None:
    assert prepare_dagster_home() == home
    assert (home / "dagster.yaml").read_text() == PROJECT_CONFIG.read_text()
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_launcher).__name__ == "ForkingRunLauncher"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_retries_enabled


def test_an_operators_config_is_kept_unless_replaced(home: Path) -> None:
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    prepare_dagster_home()
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    prepare_dagster_home(replace=True)
    assert (home / "dagster.yaml").read_text() == PROJECT_CONFIG.read_text()
