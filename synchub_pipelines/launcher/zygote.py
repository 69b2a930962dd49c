"""The warm process run workers fork from.

A run launched the usual way starts a new interpreter that imports Dagster and the whole code
location before its first step: about 3.5 s of CPU on the development machines, paid again by
every run. Event runs are small and frequent (one per store per sensor tick), so that import
was most of their latency and most of the machine's load. This process pays it once: it loads
the code location, then forks one child per run, and each child does exactly what `dagster
api execute_run` does (the command Dagster's Docker and Kubernetes launchers run), with the
code already in memory.

Started by `ForkingRunLauncher` as `python -m synchub_pipelines.launcher.zygote <origin>
<instance>`, the serialized `RepositoryPythonOrigin` of the code location and `InstanceRef` of
the Dagster instance. It opens the instance once too (and closes it before any fork), so
that a run's own opening finds its storage modules imported and its schema checked: the
first opening in a process costs over a second, the next ones a tenth of that. It speaks
one JSON line per message on its standard input and output:

- out, once loaded: `{"ready": <pid>, "threads": <n>}` (or `{"error": "..."}` and exit);
- in, per run: the serialized `ExecuteRunArgs`; out: `{"pid": <run worker pid>}`.

Its standard input closing (the launching process is gone) ends it. Runs already forked go
on, as Dagster's own run workers outlive the code server that started them.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from typing import IO, NoReturn


def main(argv: list[str]) -> int:
    # The protocol keeps its own copies of stdin/stdout; fds 0 and 1 are repointed so that
    # nothing the code location prints can corrupt it (stdout goes to our stderr).
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)

    try:
        execute_run = _load(argv[1], argv[2])
    except Exception:
        replies.write(json.dumps({"error": traceback.format_exc(limit=20)}) + "\n")
        return 1
    # A fork copies only the forking thread: report others, whose locks a child could inherit.
    replies.write(json.dumps({"ready": os.getpid(), "threads": threading.active_count()}) + "\n")

    # The kernel reaps finished run workers; nothing here waits for them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in requests:
        request = line.strip()
        if not request:
            continue
        pid = os.fork()
        if pid == 0:
            _run_worker(request, execute_run, (requests, replies))
        replies.write(json.dumps({"pid": pid}) + "\n")
    return 0


def _load(serialized_origin: str, serialized_instance: str) -> object:
    """Import and resolve the code location exactly as a run worker will, open and close the
    instance, and return the command the run workers execute."""
    from dagster import DagsterInstance
    from dagster._cli.api import execute_run_command
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.origin import RepositoryPythonOrigin
    from dagster._serdes import deserialize_value
    from dagster._utils.hosted_user_process import recon_repository_from_origin

    origin = deserialize_value(serialized_origin, RepositoryPythonOrigin)
    recon_repository_from_origin(origin).get_definition()
    # Closed before the first fork: no connection or thread of it is shared with a run.
    with DagsterInstance.from_ref(deserialize_value(serialized_instance, InstanceRef)) as instance:
        instance.get_runs(limit=1)
    return execute_run_command.callback


def _run_worker(request: str, execute_run: object, protocol: tuple[IO[str], ...]) -> NoReturn:
    """In the forked child: run one Dagster run, then exit without returning to the loop."""
    code = 1
    try:
        for stream in protocol:
            stream.close()
        # Its own session: stopping the launcher's process group must not stop the run.
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        execute_run(input_json=request, compressed_input_json=None)  # type: ignore[operator]
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
