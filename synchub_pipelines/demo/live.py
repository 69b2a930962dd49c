"""`synchub live`: orders arriving by webhook, watched in the Dagster UI.

Runs what production runs, each in its own process on loopback: the sandbox making random
sales and sending each marketplace's signed notifications, the webhook receiver storing
them in `webhook_events`, and `dagster dev` (webserver + daemon) whose
`webhook_events_sensor` launches one `store_events_job` run per store per tick. The Dagster
instance is the demo's (`data/dagster_home`), so `make demo` first gives the live orders a
catalog, listings and history to land beside.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from synchub_pipelines import settings
from synchub_pipelines.dagster_home import prepare_dagster_home
from synchub_pipelines.warehouse.engine import engine_for, redacted
from synchub_pipelines.warehouse.migrate import migrate


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, what: str, child: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the {what} exited with code {child.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the {what} did not answer on {url} within {seconds:.0f} s")


@contextmanager
def _process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        # Our own executables with our own arguments.
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


def run_live(
    sales_per_minute: float = 30.0,
    webhook_drop: float = 0.0,
    webhook_duplicates: float = 0.1,
    ui_port: int = 3000,
) -> int:
    from synchub_pipelines.demo.run import connect_sandbox_sellers
    from synchub_pipelines.demo.sandbox_accounts import configure_sandbox_env, sandbox_rate_limits
    from synchub_pipelines.sandbox.world import default_sellers

    data = settings.data_dir()
    # The project's policy, whatever an earlier command left there: the sales must take the
    # path production does (queue, forking launcher, threaded sensors).
    prepare_dagster_home(replace=True)
    logs = data / "live"
    logs.mkdir(parents=True, exist_ok=True)
    url = settings.warehouse_url()
    migrate(engine_for(url))

    sandbox_url = f"http://127.0.0.1:{free_port()}"
    receiver_url = f"http://127.0.0.1:{free_port()}"
    configure_sandbox_env(sandbox_url)
    # Shopee signs the callback URL: the receiver must know the one the sandbox posts to.
    os.environ["SYNCHUB_WEBHOOK_PUBLIC_URL"] = receiver_url
    # The key the tokens are encrypted with, shared by every process started here.
    os.environ.setdefault("SYNCHUB_SECRET_KEY", settings.secret_key().decode())
    synchub = str(Path(sys.executable).parent / "synchub")
    dagster = str(Path(sys.executable).parent / "dagster")
    limits = [f"--rate-limit={name}={rate}" for name, rate in sandbox_rate_limits().items()]

    with ExitStack() as stack:
        sandbox = stack.enter_context(
            _process(
                [synchub, "sandbox", "serve", "--port", sandbox_url.rsplit(":", 1)[1],
                 "--webhook-url", receiver_url, "--webhook-drop", str(webhook_drop),
                 "--webhook-duplicates", str(webhook_duplicates), *limits],
                logs / "sandbox.log",
            )
        )  # fmt: skip
        wait_for(f"{sandbox_url}/_sandbox/healthz", "sandbox", sandbox)
        stores = connect_sandbox_sellers(default_sellers())
        receiver = stack.enter_context(
            _process(
                [synchub, "webhooks", "serve", "--port", receiver_url.rsplit(":", 1)[1]],
                logs / "receiver.log",
            )
        )  # fmt: skip
        wait_for(f"{receiver_url}/healthz", "receiver", receiver)
        ui = stack.enter_context(
            _process(
                [dagster, "dev", "-w", str(settings.PROJECT_ROOT / "workspace.yaml"),
                 "--port", str(ui_port)],
                logs / "dagster.log",
            )
        )  # fmt: skip
        wait_for(f"http://127.0.0.1:{ui_port}/server_info", "Dagster UI", ui, seconds=240)
        answer = httpx.post(
            f"{sandbox_url}/_sandbox/live",
            json={"rate_per_minute": sales_per_minute, "seed": 7},
            timeout=10,
        )
        answer.raise_for_status()

        print(f"warehouse: {redacted(url)}")
        print(f"stores:    {', '.join(stores)}")
        print(f"sandbox:   {sandbox_url} — {sales_per_minute:g} random sales a minute, webhooks")
        print(f"           to {receiver_url} ({webhook_duplicates:.0%} sent twice, ")
        print(f"           {webhook_drop:.0%} dropped: the daily reconciliation repairs those)")
        print(f"Dagster:   http://127.0.0.1:{ui_port}  — Runs: store_events_job, one per store")
        print("           per tick; Assets → orders: the partitions each run touched")
        print(f"logs:      {logs}")
        print("Ctrl-C stops everything.")
        try:
            while all(p.poll() is None for p in (sandbox, receiver, ui)):
                time.sleep(1)
        except KeyboardInterrupt:
            print("\nstopping…")
            return 0
        print(f"a process stopped on its own; see the logs in {logs}", file=sys.stderr)
        return 1
