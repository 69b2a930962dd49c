"""The production topology, minus Docker: the processes docker-compose.yml runs, each on its
own, following one sale from the marketplace's webhook to its order row.

- Dagster's storage on PostgreSQL: docker/dagster.yaml as the image carries it, with two
  changes that need Docker (runs start as processes of the code server instead of containers;
  compute logs in a temporary folder instead of the volume);
- the code location served over gRPC (`dagster code-server start`);
- `dagster-daemon run` and `dagster-webserver`, both loading the location from the gRPC
  server (docker/workspace-grpc.yaml with its host and port);
- the webhook receiver (`synchub webhooks serve`) and the sandbox (`synchub sandbox serve
  --webhook-url <receiver>`), whose sale sends Mercado Livre's notification.

Every process gets the environment compose would give it: the compose file's own settings,
interpolated with a .env that points the Mercado Livre hosts at the sandbox. The sale must
reach `orders` through the webhook sensor, the run queue and a run, and the webserver must
show that run, within a bounded time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
import yaml
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from synchub_pipelines_tests.conftest import ADMIN_URL
from synchub_pipelines_tests.deploy.files import (
    COMPOSE,
    COMPOSE_INSTANCE,
    COMPOSE_WORKSPACE,
    ROOT,
    compose_environment,
    load_yaml,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BIN = Path(sys.executable).parent
# From starting the first process to the order row: the code server's first import, the
# daemon's first ticks, one queued run. Far above what it takes; a hang fails, not waits.
DEADLINE_SECONDS = 420
IMAGE_WORKDIR = "/opt/synchub/"


@pytest.fixture
def dagster_database(pg_url: str) -> Iterator[dict[str, str]]:
    """A second throwaway database, for Dagster's storage (pg_url is the warehouse)."""
    name = f"synchub_test_dagster_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    admin = make_url(ADMIN_URL)
    try:
        yield {
            "DAGSTER_PG_HOST": admin.host or "127.0.0.1",
            "DAGSTER_PG_PORT": str(admin.port or 5432),
            "DAGSTER_PG_USER": admin.username or "postgres",
            "DAGSTER_PG_PASSWORD": admin.password or "",
            "DAGSTER_PG_DB": name,
        }
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """Children in their own process groups, each logging to a file; stopped together."""

    def __init__(self, stack: ExitStack, logs: Path, env: dict[str, str], cwd: Path) -> None:
        self._stack, self._logs, self._env, self._cwd = stack, logs, env, cwd
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        child = self._stack.enter_context(self._running(name, list(command)))
        self.children[name] = child
        return child

    @contextmanager
    def _running(self, name: str, command: list[str]) -> Iterator[subprocess.Popen[bytes]]:
        with (self._logs / f"{name}.log").open("wb") as out:
            child = subprocess.Popen(
                command,
                env=self._env,
                cwd=self._cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                yield child
            finally:
                _stop(child)

    def check_alive(self) -> None:
        dead = {n: c.returncode for n, c in self.children.items() if c.poll() is not None}
        assert not dead, f"exited: {dead}\n{self.report()}"

    def report(self) -> str:
        parts = []
        for name in self.children:
            lines = (self._logs / f"{name}.log").read_text(errors="replace").splitlines()
            parts.append(f"--- {name} (last lines) ---\n" + "\n".join(lines[-40:]))
        return "\n".join(parts)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _free_port() -> int:
    from synchub_pipelines.demo.live import free_port

    return free_port()


def _until(what: str, processes: Processes, deadline: float, probe: Any) -> Any:
    """Poll `probe()` until it returns something truthy, a child dies or time runs out."""
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            found = probe()
        except (httpx.HTTPError, OSError, sa.exc.OperationalError):
            found = None
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {DEADLINE_SECONDS} s\n{processes.report()}")


def _compose_env(dotenv: dict[str, str], home: Path) -> dict[str, str]:
    """The code server's environment from docker-compose.yml, outside a container."""
    service = load_yaml(COMPOSE)["services"]["code"]["environment"]
    env = compose_environment(service, dotenv)
    env = {k: v.replace(IMAGE_WORKDIR, f"{ROOT}/") for k, v in env.items()}
    env["DAGSTER_HOME"] = str(home)
    env.pop("DAGSTER_CURRENT_IMAGE")  # no image: runs start as processes here
    return env


def _instance_without_docker(home: Path, logs: Path) -> None:
    config = load_yaml(COMPOSE_INSTANCE)
    assert config["run_launcher"]["class"] == "DockerRunLauncher"
    config["run_launcher"] = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
    config["compute_logs"]["config"]["base_dir"] = str(logs)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


def _workspace(path: Path, port: int) -> None:
    workspace = load_yaml(COMPOSE_WORKSPACE)
    server = workspace["load_from"][0]["grpc_server"]
    server.update(host="127.0.0.1", port=port)
    path.write_text(yaml.safe_dump(workspace))


def _answers(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


def _serving(port: int) -> bool:
    from dagster._grpc.client import DagsterGrpcClient

    try:
        return bool(
            DagsterGrpcClient(port=port, host="127.0.0.1").health_check_query() == "SERVING"
        )
    except Exception:  # not listening yet
        return False


def _graphql(url: str, query: str) -> dict[str, Any]:
    answer = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30)
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    return body["data"]


def _location_loaded(url: str) -> bool:
    data = _graphql(
        url,
        "{ workspaceOrError { __typename ... on Workspace { locationEntries "
        "{ name locationOrLoadError { __typename ... on PythonError { message } } } } } }",
    )
    entries = data["workspaceOrError"]["locationEntries"]
    states = {e["name"]: (e["locationOrLoadError"] or {}).get("__typename") for e in entries}
    if states.get("synchub_pipelines") == "PythonError":
        pytest.fail(f"the webserver could not load the code location: {data}")
    return states.get("synchub_pipelines") == "RepositoryLocation"


def _event_runs(url: str) -> list[dict[str, Any]]:
    data = _graphql(
        url,
        '{ runsOrError(filter: {pipelineName: "store_events_job"}) '
        "{ ... on Runs { results { runId status } } } }",
    )
    runs: list[dict[str, Any]] = data["runsOrError"]["results"]
    return runs


def _stocked_variation(warehouse_url: str) -> tuple[str, str]:
    """(item id, variation id) of a Mercado Livre listing with stock, read through the API."""
    from synchub_pipelines.defs.marketplaces import MarketplacesResource
    from synchub_pipelines.defs.resources import WarehouseResource
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.stores import load_stores

    warehouse = WarehouseResource(url=warehouse_url, secret_key=os.environ["SYNCHUB_SECRET_KEY"])
    marketplaces = MarketplacesResource.from_environment(resolve=True)
    for store in load_stores(engine_for(warehouse_url)):
        client = marketplaces.client_for(store, warehouse)
        try:
            for page in client.iter_listings():
                for listing in page.records:
                    if (listing.available_quantity or 0) > 0:
                        return listing.listing_id, listing.variation_id
        finally:
            client.close()
    raise AssertionError("the sandbox has no Mercado Livre listing with stock")


def test_one_sale_travels_from_the_webhook_to_its_order_row(
    pg_url: str,
    dagster_database: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from synchub_pipelines import settings
    from synchub_pipelines.demo.sandbox_accounts import configure_sandbox_env, connect_sellers
    from synchub_pipelines.sandbox.world import default_sellers
    from synchub_pipelines.warehouse.credentials import SqlTokenStore
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate

    home, logs, compute_logs = tmp_path / "home", tmp_path / "logs", tmp_path / "compute_logs"
    for folder in (home, logs, compute_logs):
        folder.mkdir()
    ports = {name: _free_port() for name in ("sandbox", "receiver", "code", "webserver")}
    sandbox_url = f"http://127.0.0.1:{ports['sandbox']}"
    receiver_url = f"http://127.0.0.1:{ports['receiver']}"
    webserver_url = f"http://127.0.0.1:{ports['webserver']}"

    # The .env an operator would write to try compose against the sandbox.
    saved = dict(os.environ)
    try:  # it sets os.environ itself
        configure_sandbox_env(sandbox_url)
        sandbox_settings = {
            k: v for k, v in os.environ.items() if k.startswith("SYNCHUB_") and saved.get(k) != v
        }
    finally:
        os.environ.clear()
        os.environ.update(saved)
    dotenv = {
        **sandbox_settings,
        **dagster_database,
        "POSTGRES_PASSWORD": "unused-here",
        "SYNCHUB_SECRET_KEY": Fernet.generate_key().decode(),
        "SYNCHUB_BUYER_SALT": "topology-salt",
        "SYNCHUB_WAREHOUSE_URL": pg_url,
        "SYNCHUB_DATA_DIR": str(tmp_path / "data"),
        "SYNCHUB_WEBHOOK_PUBLIC_URL": receiver_url,
        "SYNCHUB_ML_REQUESTS_PER_SECOND": "400",
    }
    settings_env = _compose_env(dotenv, home)
    assert settings_env["DAGSTER_PG_DB"] == dagster_database["DAGSTER_PG_DB"]
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCHUB_", "DAGSTER_"))}
    env = {**base, **settings_env}
    _instance_without_docker(home, compute_logs)
    _workspace(home / "workspace.yaml", ports["code"])
    workspace = str(home / "workspace.yaml")
    deadline = time.monotonic() + DEADLINE_SECONDS

    with ExitStack() as stack:
        # Started outside the repository: Dagster's commands read a .env from where they start.
        processes = Processes(stack, logs, env, cwd=tmp_path)
        processes.start(
            "sandbox", str(BIN / "synchub"), "sandbox", "serve", "--port", str(ports["sandbox"]),
            "--size", "tiny", "--marketplaces", "mercadolivre", "--webhook-url", receiver_url,
        )  # fmt: skip
        _until("the sandbox", processes, deadline,
               lambda: _answers(f"{sandbox_url}/_sandbox/healthz"))  # fmt: skip
        engine = engine_for(pg_url)
        migrate(engine)
        sellers = [s for s in default_sellers() if s.marketplace == "mercadolivre"]
        stores = connect_sellers(sellers, engine, SqlTokenStore(engine, settings.secret_key()))
        assert stores

        processes.start(
            "receiver", str(BIN / "synchub"), "webhooks", "serve", "--port", str(ports["receiver"])
        )
        processes.start(
            "code", str(BIN / "dagster"), "code-server", "start", "--host=127.0.0.1",
            f"--port={ports['code']}", "--module-name=synchub_pipelines.definitions",
            "--location-name=synchub_pipelines",
        )  # fmt: skip
        # As compose's `depends_on: code: service_healthy`: the webserver and the daemon
        # start once the code server answers its health check.
        _until("the code server's gRPC health check", processes, deadline,
               lambda: _serving(ports["code"]))  # fmt: skip
        processes.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", workspace)
        processes.start(
            "webserver", str(BIN / "dagster-webserver"), "-h", "127.0.0.1",
            "-p", str(ports["webserver"]), "-w", workspace,
        )  # fmt: skip
        _until("the receiver", processes, deadline,
               lambda: _answers(f"{receiver_url}/healthz"))  # fmt: skip
        _until("the webserver loading the location over gRPC", processes, deadline,
               lambda: _location_loaded(webserver_url))  # fmt: skip

        item, variation = _stocked_variation(pg_url)
        body: dict[str, object] = {"item_id": item, "quantity": 1}
        if variation:
            body["variation_id"] = int(variation)
        sale = httpx.post(f"{sandbox_url}/mercadolivre/_sandbox/sales", json=body, timeout=10)
        assert sale.status_code == 201, sale.text
        order_id = str(sale.json()["id"])

        def order_row() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.execute(
                        sa.text("SELECT 1 FROM orders WHERE order_id = :id"), {"id": order_id}
                    ).first()
                )

        _until(f"order {order_id} in the warehouse", processes, deadline, order_row)
        succeeded = _until(
            "the event run, as the webserver shows it",
            processes,
            deadline,
            lambda: [r for r in _event_runs(webserver_url) if r["status"] == "SUCCESS"],
        )

    with engine.connect() as conn:
        states: dict[str, int] = dict(
            conn.execute(sa.text("SELECT state, count(*) FROM webhook_events GROUP BY state")).all()
        )
    assert states.get("processed", 0) >= 1, states
    # The run went through the queue the daemon keeps (QueuedRunCoordinator), as in compose.
    _assert_queued(home, succeeded[0]["runId"])


def _assert_queued(home: Path, run_id: str) -> None:
    import dagster as dg
    from dagster._core.events import DagsterEventType
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        types = {
            record.event_log_entry.dagster_event_type
            for record in instance.get_records_for_run(run_id).records
        }
        run = instance.get_run_by_id(run_id)
    assert {DagsterEventType.RUN_ENQUEUED, DagsterEventType.RUN_STARTING} <= types
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
