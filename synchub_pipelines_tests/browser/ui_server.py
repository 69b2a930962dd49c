"""`dagster-webserver` on a free loopback port, against a given DAGSTER_HOME and warehouse,
loading the project's workspace.yaml like `make ui`; stopped (its process group, by id)
when done. Every wait is bounded; its log is kept beside the screenshots."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from synchub_pipelines import settings

START_TIMEOUT_S = 240.0
LOCATION_QUERY = """
{ workspaceOrError { __typename
  ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } }
  ... on PythonError { message } } }
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def location_state(client: httpx.Client) -> tuple[str, str]:
    """("LOADED" | "LOADING" | "ERROR", detail) of the project's code location."""
    answer = client.post("/graphql", json={"query": LOCATION_QUERY}).json()
    workspace = answer["data"]["workspaceOrError"]
    if workspace["__typename"] != "Workspace":
        return "ERROR", workspace.get("message", str(workspace))
    entries = workspace["locationEntries"]
    if not entries:
        return "LOADING", "no location yet"
    entry = entries[0]
    loaded = entry["locationOrLoadError"]
    if loaded and loaded["__typename"] == "PythonError":
        return "ERROR", loaded["message"]
    return ("LOADED" if entry["loadStatus"] == "LOADED" and loaded else "LOADING"), ""


@contextmanager
def dagster_webserver(dagster_home: Path, environment: dict[str, str], log: Path) -> Iterator[str]:
    """The UI's base URL, once the code location has loaded."""
    port = free_port()
    executable = Path(sys.executable).with_name("dagster-webserver")
    env = {**os.environ, **environment, "DAGSTER_HOME": str(dagster_home)}
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(executable), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=settings.PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_loaded(base, process, log)
            yield base
        finally:
            stop(process)


def wait_until_loaded(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    state, detail = "LOADING", "not answering yet"
    with httpx.Client(base_url=base, timeout=10) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"dagster-webserver exited ({process.returncode}): {log.read_text()[-3000:]}"
                )
            try:
                state, detail = location_state(client)
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                state, detail = "LOADING", str(exc)
            if state == "ERROR":
                raise AssertionError(f"the code location failed to load: {detail}")
            if state == "LOADED":
                return
            time.sleep(1)
    raise AssertionError(
        f"the Dagster UI did not load the location in {START_TIMEOUT_S:.0f} s ({detail}); "
        f"log: {log.read_text()[-3000:]}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the webserver and the code server it started (its process group)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    # The code server it started may outlive it for a moment: the rest of its group.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
