"""A run launcher for one machine whose run workers fork from a warm process.

Dagster's `DefaultRunLauncher` asks the code server to start each run in a new interpreter,
which imports Dagster and the code location again before the run's first step. On the
development machines that is about 3.5 s of CPU per run, and the event path launches one run
per store per sensor tick: the import was most of a webhook's latency and most of the load.

`ForkingRunLauncher` keeps one warm process per code location (`zygote.py`): it imports the
location once, and each run is a fork of it running `dagster api execute_run`, the command
Dagster's Docker and Kubernetes launchers run in their containers. So a run is a process of
its own as before (its own crash, memory and signals), only without the import.

- **Code changes.** The warm process holds the code it loaded. It is replaced when the code
  location's server reports a new id (a reload in the UI, a restarted code server) and when
  it has died; otherwise restart the daemon after changing code.
- **Environment.** Runs inherit the environment of the process that launches them: with the
  queued run coordinator, the daemon. On one machine that is the code server's environment.
- **Termination** marks the run canceling and sends SIGTERM to its worker, which Dagster turns
  into an orderly interrupt. **Run monitoring** sees a worker that is gone (kill -9, OOM) as
  failed, so the instance's run retries take over.

For one machine only: the worker's pid and host are run tags, and only that host can signal
or check it. Deployments on several machines use Docker's or Kubernetes' launcher.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Mapping
from typing import IO, Any, Self

from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher.base import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.storage.dagster_run import DagsterRun
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

log = logging.getLogger(__name__)

PID_TAG = "synchub/run_worker_pid"
HOST_TAG = "synchub/run_worker_host"


class LaunchFailed(RuntimeError):
    """The warm process could not load the code location or fork a run."""


class WarmProcess:
    """One zygote: loads a code location once, then forks a run worker per request."""

    def __init__(
        self, origin: RepositoryPythonOrigin, instance_ref: InstanceRef, generation: str | None
    ) -> None:
        self.generation = generation
        self._lock = threading.Lock()
        working_directory = getattr(origin.code_pointer, "working_directory", None)
        # The executable and code pointer are the code location's own, from the workspace.
        self._process = subprocess.Popen(  # noqa: S603
            [origin.executable_path, "-m", "synchub_pipelines.launcher.zygote",
             serialize_value(origin), serialize_value(instance_ref)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=working_directory or None,
            text=True,
            bufsize=1,
            # Its own group: a Ctrl-C meant for the daemon ends it through its stdin instead.
            start_new_session=True,
        )  # fmt: skip
        ready = self._read()
        if "ready" not in ready:
            self.close()
            raise LaunchFailed(
                f"the warm process could not load the code location: {ready.get('error', ready)}"
            )
        self.pid = int(ready["ready"])
        if int(ready.get("threads", 1)) > 1:
            log.warning(
                "the code location started %s threads while loading; run workers forked from "
                "it get only the main one",
                ready["threads"],
            )

    def alive(self) -> bool:
        return self._process.poll() is None

    def fork(self, execute_run_args: ExecuteRunArgs) -> int:
        with self._lock:
            stdin = self._stream(self._process.stdin)
            try:
                stdin.write(serialize_value(execute_run_args) + "\n")
                stdin.flush()
            except (BrokenPipeError, OSError) as error:
                raise LaunchFailed(f"the warm process (pid {self.pid}) is gone: {error}") from error
            reply = self._read()
        if "pid" not in reply:
            raise LaunchFailed(f"the warm process (pid {self.pid}) did not fork: {reply}")
        return int(reply["pid"])

    def close(self) -> None:
        if self._process.stdin and not self._process.stdin.closed:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _read(self) -> dict[str, Any]:
        line = self._stream(self._process.stdout).readline()
        if not line:
            code = self._process.wait()
            return {"error": f"it exited with code {code} (its output is in this process's log)"}
        answer: dict[str, Any] = json.loads(line)
        return answer

    @staticmethod
    def _stream(stream: IO[str] | None) -> IO[str]:
        assert stream is not None, "the warm process was started with pipes"
        return stream


class ForkingRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run as a fork of a warm process that has the code location loaded."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        self._warm: dict[str, WarmProcess] = {}
        self._lock = threading.Lock()
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(inst_data=inst_data)

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if not isinstance(origin, JobPythonOrigin):
            raise LaunchFailed(f"run {run.run_id} has no Python origin to load its code from")
        args = ExecuteRunArgs(
            job_origin=origin, run_id=run.run_id, instance_ref=self._instance.get_ref()
        )
        generation = _generation(context, run)
        warm = self._warm_process(origin.repository_origin, generation)
        try:
            pid = warm.fork(args)
        except LaunchFailed:
            if warm.alive():
                raise
            # It died since it was last asked (killed, out of memory): once more, anew.
            pid = self._warm_process(origin.repository_origin, generation).fork(args)
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(pid), HOST_TAG: socket.gethostname()})

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        pid = _local_worker(run)
        if pid is None or not _alive(pid):
            self._instance.report_engine_event(
                "No run worker process on this host to interrupt.", run, cls=self.__class__
            )
            return False
        os.kill(pid, signal.SIGTERM)
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = _local_worker(run)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "no worker of this host recorded")
        if _alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"run worker process {pid} is gone", run_worker_id=str(pid)
        )

    def dispose(self) -> None:
        with self._lock:
            warm, self._warm = list(self._warm.values()), {}
        for process in warm:
            process.close()

    def _warm_process(self, origin: RepositoryPythonOrigin, generation: str | None) -> WarmProcess:
        key = serialize_value(origin)
        with self._lock:
            current = self._warm.get(key)
            if current and current.alive() and current.generation == generation:
                return current
            if current:
                current.close()
            # Loading takes seconds: launches of other locations wait, as they would have
            # waited for the code server's new interpreter.
            self._warm[key] = WarmProcess(origin, self._instance.get_ref(), generation)
            return self._warm[key]


def _generation(context: LaunchRunContext, run: DagsterRun) -> str | None:
    """The id of the code server the run's location was loaded from, when there is one: it
    changes when the location is reloaded, and the warm process must then load it again."""
    remote = run.remote_job_origin
    if context.workspace is None or remote is None:
        return None
    location_name = remote.repository_origin.code_location_origin.location_name
    try:
        server_id = getattr(context.workspace.get_code_location(location_name), "server_id", None)
    except Exception:  # not loaded from a server (in-process), or its id is not known yet
        return None
    return str(server_id) if server_id else None


def _local_worker(run: DagsterRun) -> int | None:
    pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
    if not pid or host != socket.gethostname():
        return None
    return int(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
