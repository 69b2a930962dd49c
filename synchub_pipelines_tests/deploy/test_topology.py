"""The production topology, minus Docker: the processes docker-compose.yml runs, each on its
own, following one sale from the marketplace's webhook to its order row and to the stock the
same SKU's other listing publishes.

- Dagster's storage on PostgreSQL: docker/dagster.yaml as the image carries it, with two
  changes that need Docker (runs start as processes of the code server instead of containers;
  compute logs in a temporary folder instead of the volume);
- the code location served over gRPC (`dagster code-server start`);
- `dagster-daemon run` and `dagster-webserver`, both loading the location from the gRPC
  server (docker/workspace-grpc.yaml with its host and port);
- the webhook receiver (`synchub webhooks serve`) and the sandbox (`synchub sandbox serve
  --webhook-url <receiver>`), whose sale sends Mercado Livre's notification.

Every process gets the environment compose would give it: the compose file's own settings,
interpolated with the .env an operator would write to try it against the sandbox (the
marketplace and Bling hosts there, the catalog from the sandbox's Bling, the push from the
run that lands a sale turned on). As that operator, the test connects the two Mercado Livre
stores and Bling, then has the deployment land the stock domain's inputs and align every
listing with a first push, each a run launched through the webserver (what the UI's
buttons do) and queued for the daemon.

Then a buyer on one store takes two units of a SKU listed once on each store: its
allocatable units drop by two, so each listing's share (publish-all: an even split) drops by
one. The sale must reach `orders` through the webhook sensor, the run queue and a run; that
same run must write the new share to the other store's listing — audited in `stock_pushes`,
and published by the marketplace as its API answers a GET of the item — and the webserver
must show the run, all within a bounded time.
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
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from dagster_graphql import DagsterGraphQLClient

    from synchub_pipelines.defs.stock.allocation import ListingKey

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    # Dagster's GraphQL client calls gql the way gql 4 deprecates, on every poll.
    pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning"),
]

BIN = Path(sys.executable).parent
# From starting the first process to the pushed stock: the code server's first import, the
# daemon's first ticks, five queued runs (the inputs, a first push, the sale's). Far above
# what it takes; a hang fails, not waits.
DEADLINE_SECONDS = 600
IMAGE_WORKDIR = "/opt/synchub/"
LOCATION = "synchub_pipelines"
# The operator's switch for the push from the run that lands a sale (defs/stock/fast_push.py).
PUSH_ON_SALE = "SYNCHUB_PUSH_STOCK_ON_SALE"


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
    if states.get(LOCATION) == "PythonError":
        pytest.fail(f"the webserver could not load the code location: {data}")
    return states.get(LOCATION) == "RepositoryLocation"


def _event_runs(url: str) -> list[dict[str, Any]]:
    data = _graphql(
        url,
        '{ runsOrError(filter: {pipelineName: "store_events_job"}) '
        "{ ... on Runs { results { runId status } } } }",
    )
    runs: list[dict[str, Any]] = data["runsOrError"]["results"]
    return runs


def _launch(client: DagsterGraphQLClient, job: str, **options: Any) -> str:
    """Submit a run through the webserver, as the UI's Launch and Materialize buttons do."""
    from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME

    return client.submit_job_execution(
        job, repository_location_name=LOCATION, repository_name=SINGLETON_REPOSITORY_NAME,
        **options,
    )  # fmt: skip


def _finished(client: DagsterGraphQLClient, home: Path, run_id: str) -> bool:
    import dagster as dg

    status = client.get_run_status(run_id)
    if status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        pytest.fail(f"run {run_id} ended {status.value}: {_run_errors(home, run_id)}")
    return status == dg.DagsterRunStatus.SUCCESS


def _run_errors(home: Path, run_id: str) -> list[str]:
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        entries = instance.all_logs(run_id)
    errors = []
    for entry in entries:
        event = entry.dagster_event
        if event is not None and event.is_failure:
            error = getattr(event.event_specific_data, "error", None)
            errors.append(error.message if error is not None else entry.message)
    return errors


def _land_the_stock_inputs(
    client: DagsterGraphQLClient,
    home: Path,
    processes: Processes,
    deadline: float,
    store_ids: list[str],
) -> str:
    """What an operator does once the accounts are connected, each step a run of the
    deployment: the stores (their partitions) and the catalog, each store's listings, the
    links of listings to the catalog's SKUs, and a first push that aligns every listing with
    the plan. Returns that push's run id."""

    def run(what: str, *launches: tuple[str, dict[str, Any]]) -> list[str]:
        run_ids = [_launch(client, job, **options) for job, options in launches]
        for run_id in run_ids:
            _until(f"{what} (run {run_id})", processes, deadline,
                   lambda r=run_id: _finished(client, home, r))  # fmt: skip
        return run_ids

    # One process per run, not per step (the Launchpad's `in_process`): the steps take a
    # second each, a process start many on two busy cores.
    one_process: dict[str, Any] = {"run_config": {"execution": {"config": {"in_process": {}}}}}
    inputs = ["stores", "central_products", "central_stock"]
    run(
        "the stores and the catalog from Bling",
        ("__ASSET_JOB", {"asset_selection": inputs, **one_process}),
    )
    run(
        "each store's listings",
        *[
            ("listings_job", {"tags": {"dagster/partition": store_id}, **one_process})
            for store_id in store_ids
        ],
    )
    run("the links of listings to SKUs", ("listing_links_job", one_process))
    # stock_push_job runs in one process already.
    (push,) = run("the first stock push", ("stock_push_job", {}))
    return push


def _sku_on_both_stores(
    engine: sa.Engine, store_ids: list[str]
) -> tuple[ListingKey, ListingKey, int]:
    """A SKU (not a kit) listed once on each store, each listing's share at least one unit per
    listing: (the listing to sell on, the other store's listing, the other's share)."""
    query = sa.text(
        "SELECT p.sku, p.store_id, p.listing_id, p.variation_id, p.target_quantity "
        "FROM stock_push_plan p JOIN allocatable_stock a ON a.tenant = p.tenant AND a.sku = p.sku "
        "WHERE NOT a.is_kit ORDER BY p.sku, p.store_id"
    )
    by_sku: dict[str, list[tuple[ListingKey, int]]] = {}
    with engine.connect() as conn:
        for sku, store_id, listing_id, variation_id, target in conn.execute(query):
            by_sku.setdefault(sku, []).append(((store_id, listing_id, variation_id), target))
    for listings in by_sku.values():
        stores = sorted(key[0] for key, _ in listings)
        if stores == sorted(store_ids) and min(t for _, t in listings) >= len(store_ids):
            (sold, _), (other, share) = listings
            return sold, other, share
    raise AssertionError(f"no SKU is listed once on each of {store_ids} with stock to sell")


def _published(sandbox_url: str, engine: sa.Engine, key: ListingKey) -> int:
    """What the listing offers, from a GET of the item with its store's token, as any API
    client reads it."""
    from synchub_pipelines import settings
    from synchub_pipelines.warehouse.credentials import SqlTokenStore

    store_id, item, variation = key
    tokens = SqlTokenStore(engine, settings.secret_key()).load(store_id)
    assert tokens is not None, f"{store_id} has no stored token"
    answer = httpx.get(
        f"{sandbox_url}/mercadolivre/items/{item}",
        headers={"Authorization": f"Bearer {tokens.access_token.get_secret_value()}"},
        timeout=10,
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    if not variation:
        return int(body["available_quantity"])
    (found,) = [v for v in body["variations"] if str(v["id"]) == variation]
    return int(found["available_quantity"])


def test_one_sale_travels_from_the_webhook_to_its_order_row_and_the_other_stores_listing(
    pg_url: str,
    dagster_database: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from synchub_pipelines import settings
    from synchub_pipelines.demo.sandbox_accounts import (
        configure_sandbox_env,
        connect_bling_account,
        connect_sellers,
        sandbox_rate_limits,
    )
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
        # The central catalog and stock of record: the sandbox's Bling company.
        "SYNCHUB_CATALOG_SOURCE": "bling",
        # The run that lands a sale pushes the sold SKUs' stock (off unless turned on).
        PUSH_ON_SALE: "1",
    }
    settings_env = _compose_env(dotenv, home)
    assert settings_env["DAGSTER_PG_DB"] == dagster_database["DAGSTER_PG_DB"]
    assert settings_env["SYNCHUB_CATALOG_SOURCE"] == "bling"
    # Compose passes on only the settings it names: without this one the operator's switch
    # never reaches the code server, nor the runs it starts.
    passed = settings_env.get(PUSH_ON_SALE)
    assert passed == "1", f"docker-compose.yml does not pass {PUSH_ON_SALE} from .env: {passed!r}"
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
        # The sandbox's quotas at the pace the sandbox settings give the clients (`synchub live`).
        quotas = [f"--rate-limit={name}={rate}" for name, rate in sandbox_rate_limits().items()]
        processes.start(
            "sandbox", str(BIN / "synchub"), "sandbox", "serve", "--port", str(ports["sandbox"]),
            "--size", "tiny", "--marketplaces", "mercadolivre", "--webhook-url", receiver_url,
            *quotas,
        )  # fmt: skip
        _until("the sandbox", processes, deadline,
               lambda: _answers(f"{sandbox_url}/_sandbox/healthz"))  # fmt: skip
        engine = engine_for(pg_url)
        migrate(engine)
        sellers = [s for s in default_sellers() if s.marketplace == "mercadolivre"]
        token_store = SqlTokenStore(engine, settings.secret_key())
        store_ids = [s.store_id for s in connect_sellers(sellers, engine, token_store)]
        assert len(store_ids) == 2, store_ids
        connect_bling_account(token_store)

        processes.start(
            "receiver", str(BIN / "synchub"), "webhooks", "serve", "--port", str(ports["receiver"])
        )
        processes.start(
            "code", str(BIN / "dagster"), "code-server", "start", "--host=127.0.0.1",
            f"--port={ports['code']}", "--module-name=synchub_pipelines.definitions",
            f"--location-name={LOCATION}",
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

        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=ports["webserver"])
        first_push = _land_the_stock_inputs(client, home, processes, deadline, store_ids)
        sold, other, share = _sku_on_both_stores(engine, store_ids)
        before = _published(sandbox_url, engine, other)
        assert before == share, f"the first push left {other} at {before}, not {share}"
        # One unit per listing: each listing's share drops by one (the module docstring).
        units = len(store_ids)
        _, item, variation = sold
        body: dict[str, object] = {"item_id": item, "quantity": units}
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

        def pushed_to_the_other() -> list[Any]:
            with engine.connect() as conn:
                return list(
                    conn.execute(
                        sa.text(
                            "SELECT run_id, mode, status, quantity_after FROM stock_pushes "
                            "WHERE store_id = :s AND listing_id = :l AND variation_id = :v "
                            "AND run_id <> :first"
                        ),
                        {"s": other[0], "l": other[1], "v": other[2], "first": first_push},
                    )
                )

        _until(f"order {order_id} in the warehouse", processes, deadline, order_row)
        (push,) = _until(
            f"the stock of {other} pushed after the sale", processes, deadline, pushed_to_the_other
        )
        landed = _until(
            "the run that landed the sale, as the webserver shows it",
            processes,
            deadline,
            lambda: [
                r for r in _event_runs(webserver_url)
                if r["runId"] == push.run_id and r["status"] == "SUCCESS"
            ],
        )  # fmt: skip
        after = _published(sandbox_url, engine, other)

    assert (push.mode, push.status, push.quantity_after) == ("real", "written", before - 1)
    assert after == before - 1, (before, after)
    with engine.connect() as conn:
        states: dict[str, int] = dict(
            conn.execute(sa.text("SELECT state, count(*) FROM webhook_events GROUP BY state")).all()
        )
    assert states.get("processed", 0) >= 1, states
    # The run went through the queue the daemon keeps (QueuedRunCoordinator), as in compose.
    _assert_queued(home, landed[0]["runId"])


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
