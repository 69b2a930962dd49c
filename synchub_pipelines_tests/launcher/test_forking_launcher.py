"""ForkingRunLauncher: runs fork from a warm process that loaded the code location once, and
behave as Dagster's run workers do (own process, terminate, health, failures named)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.code_pointer import FileCodePointer
from dagster._core.launcher.base import WorkerStatus
from dagster._core.origin import RepositoryPythonOrigin
from dagster._core.test_utils import in_process_test_workspace, poll_for_finished_run
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceRequestContext

from synchub_pipelines.launcher import ForkingRunLauncher
from synchub_pipelines.launcher.forking import PID_TAG, LaunchFailed, WarmProcess
from synchub_pipelines_tests.launcher import location

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LAUNCHER = {"module": "synchub_pipelines.launcher", "class": "ForkingRunLauncher"}


@pytest.fixture
def import_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "imports.log"
    monkeypatch.setenv("SYNCHUB_TEST_IMPORT_LOG", str(log))
    return log


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(overrides={"run_launcher": LAUNCHER}) as instance:
        yield instance
        instance.run_launcher.dispose()


@pytest.fixture
def workspace(instance: dg.DagsterInstance, import_log: Path) -> Iterator[WorkspaceRequestContext]:
    origin = LoadableTargetOrigin(
        executable_path=sys.executable,
        python_file=str(HERE / "location.py"),
        working_directory=str(ROOT),
    )
    with in_process_test_workspace(instance, origin) as workspace:
        yield workspace


def _launch(
    instance: dg.DagsterInstance, workspace: WorkspaceRequestContext, folder: Path, seconds: float
) -> str:
    entry = next(iter(workspace.get_code_location_entries().values()))
    assert entry.code_location, entry.load_error
    repository = next(iter(entry.code_location.get_repositories().values()))
    remote_job = repository.get_full_job("report_job")
    run = instance.create_run_for_job(
        job_def=location.report_job,
        run_config=_config(folder, seconds),
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
    )
    instance.launch_run(run.run_id, workspace)
    return run.run_id


def _config(folder: Path, seconds: float) -> dict[str, object]:
    return {"ops": {"report_worker": {"config": {"folder": str(folder), "seconds": seconds}}}}


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> int:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return int(run.tags[PID_TAG])


def _wait_for_start(instance: dg.DagsterInstance, run_id: str, folder: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run and run.status == dg.DagsterRunStatus.STARTED and list(folder.glob("*.worker")):
            return
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not start")


def test_runs_fork_from_one_process_that_loaded_the_location_once(
    instance: dg.DagsterInstance,
    workspace: WorkspaceRequestContext,
    import_log: Path,
    tmp_path: Path,
) -> None:
    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        folder.mkdir()
        run_id = _launch(instance, workspace, folder, seconds=0)
        finished = poll_for_finished_run(instance, run_id, timeout=120)
        assert finished.status == dg.DagsterRunStatus.SUCCESS

    imports = import_log.read_text().split()
    # Once in this process (the in-process workspace), once in the warm process: not per run.
    assert len(imports) == 2
    assert imports[0] == str(os.getpid())
    warm_pid = int(imports[1])
    workers = [next(f.glob("*.worker")) for f in folders]
    assert {int(w.read_text()) for w in workers} == {warm_pid}
    assert len({w.stem for w in workers}) == 2, "each run has a process of its own"
    assert all(int(w.stem) != os.getpid() for w in workers)


def test_a_dead_warm_process_is_replaced_and_the_run_still_launches(
    instance: dg.DagsterInstance, workspace: WorkspaceRequestContext, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    first.mkdir()
    poll_for_finished_run(instance, _launch(instance, workspace, first, seconds=0), timeout=120)
    warm_pid = int(next(first.glob("*.worker")).read_text())
    os.kill(warm_pid, signal.SIGKILL)

    second = tmp_path / "second"
    second.mkdir()
    run_id = _launch(instance, workspace, second, seconds=0)

    assert poll_for_finished_run(instance, run_id, timeout=120).status == (
        dg.DagsterRunStatus.SUCCESS
    )
    assert int(next(second.glob("*.worker")).read_text()) != warm_pid


def test_terminate_interrupts_the_worker_and_cancels_the_run(
    instance: dg.DagsterInstance, workspace: WorkspaceRequestContext, tmp_path: Path
) -> None:
    run_id = _launch(instance, workspace, tmp_path, seconds=120)
    _wait_for_start(instance, run_id, tmp_path)

    assert instance.run_launcher.terminate(run_id)

    finished = poll_for_finished_run(instance, run_id, timeout=60)
    assert finished.status == dg.DagsterRunStatus.CANCELED


def test_a_killed_worker_is_reported_failed_to_run_monitoring(
    instance: dg.DagsterInstance, workspace: WorkspaceRequestContext, tmp_path: Path
) -> None:
    run_id = _launch(instance, workspace, tmp_path, seconds=120)
    _wait_for_start(instance, run_id, tmp_path)
    launcher = instance.run_launcher
    run = instance.get_run_by_id(run_id)
    assert run is not None
    assert launcher.supports_check_run_worker_health
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING

    pid = _worker_pid(instance, run_id)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and launcher.check_run_worker_health(run).status == (
        WorkerStatus.RUNNING
    ):
        time.sleep(0.1)

    health = launcher.check_run_worker_health(run)
    assert health.status == WorkerStatus.FAILED
    assert str(pid) in (health.msg or "")


def test_a_location_that_cannot_load_fails_the_launch_with_its_error(
    instance: dg.DagsterInstance,
) -> None:
    origin = RepositoryPythonOrigin(
        executable_path=sys.executable,
        code_pointer=FileCodePointer(str(HERE / "broken_location.py"), "defs", str(ROOT)),
    )
    with pytest.raises(LaunchFailed, match="broken on purpose"):
        WarmProcess(origin, instance.get_ref(), generation=None)


def test_a_reloaded_location_gets_a_new_warm_process(
    instance: dg.DagsterInstance, import_log: Path
) -> None:
    origin = RepositoryPythonOrigin(
        executable_path=sys.executable,
        code_pointer=FileCodePointer(str(HERE / "location.py"), "defs", str(ROOT)),
    )
    launcher = instance.run_launcher
    assert isinstance(launcher, ForkingRunLauncher)
    try:
        first = launcher._warm_process(origin, generation="server-1")
        assert launcher._warm_process(origin, generation="server-1") is first
        second = launcher._warm_process(origin, generation="server-2")
        assert second is not first
        assert second.pid != first.pid
        assert not first.alive(), "the stale process is closed"
    finally:
        launcher.dispose()
    assert len(import_log.read_text().split()) == 2
