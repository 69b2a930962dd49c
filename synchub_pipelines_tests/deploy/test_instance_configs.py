"""Every Dagster instance config of the project loads, with its launcher and its log storage.

- dagster.yaml (repository root): one machine, SQLite, the default launcher;
- docker/dagster.yaml (compose): PostgreSQL, DockerRunLauncher, compute logs on a volume;
- deploy/dagster.yaml (Kubernetes): what Dagster's Helm chart renders from
  deploy/helm/values.yaml: PostgreSQL, K8sRunLauncher, compute logs in S3 (dagster-aws).

No Docker daemon or cluster is needed: the launchers are built (that validates their config
against their own schema), never asked to launch. Loading an instance on PostgreSQL creates
its tables, so those tests take a throwaway database.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import dagster as dg
import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._serdes.config_class import (
    ConfigurableClass,
    ConfigurableClassData,
    class_from_code_pointer,
)
from sqlalchemy.engine import make_url

from synchub_pipelines_tests.deploy.files import (
    COMPOSE,
    COMPOSE_INSTANCE,
    HELM_VALUES,
    K8S_INSTANCE,
    ROOT_INSTANCE,
    load_yaml,
)

INSTANCES = {"root": ROOT_INSTANCE, "compose": COMPOSE_INSTANCE, "kubernetes": K8S_INSTANCE}
# What every deployment must run the same way: how many runs, per marketplace, how many API
# steps, what is retried, how sensors tick.
RUN_POLICY = ("concurrency", "run_retries", "sensors", "schedules", "telemetry")
# Where the chart is installed (deploy/helm/values.yaml, first lines): the names it renders.
RELEASE, NAMESPACE = "dagster", "synchub"


def _config(name: str) -> dict[str, Any]:
    loaded = load_yaml(INSTANCES[name])
    assert isinstance(loaded, dict)
    return loaded


def _write_home(home: Path, config: dict[str, Any]) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


@pytest.fixture
def dagster_pg(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A throwaway database for Dagster's storage, in the DAGSTER_PG_* variables compose sets."""
    url = make_url(pg_url)
    coordinates = {
        "hostname": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "username": url.username or "postgres",
        "db_name": url.database,
    }
    monkeypatch.setenv("DAGSTER_PG_HOST", str(coordinates["hostname"]))
    monkeypatch.setenv("DAGSTER_PG_PORT", str(coordinates["port"]))
    monkeypatch.setenv("DAGSTER_PG_USER", str(coordinates["username"]))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    monkeypatch.setenv("DAGSTER_PG_DB", str(coordinates["db_name"]))
    return coordinates


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """K8sRunLauncher reads its cluster credentials when built; record the request instead."""
    import dagster_k8s.launcher

    asked: list[dict[str, Any]] = []
    monkeypatch.setattr(
        dagster_k8s.launcher, "load_kubernetes_config", lambda **kw: asked.append(kw)
    )
    yield asked


@pytest.mark.parametrize("name", list(INSTANCES))
def test_each_config_is_a_valid_instance_config(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_DB"):
        monkeypatch.setenv(variable, "x")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "x")
    home = _write_home(tmp_path, _config(name))
    dagster_instance_config(str(home))  # raises on any error, naming the key


@pytest.mark.parametrize(
    ("name", "section"),
    [
        ("root", "run_launcher"),
        ("root", "run_coordinator"),
        ("compose", "run_launcher"),
        ("compose", "compute_logs"),
        ("kubernetes", "run_launcher"),
        ("kubernetes", "compute_logs"),
    ],
)
def test_each_pluggable_part_matches_its_own_class_schema(name: str, section: str) -> None:
    """The instance schema only checks module/class/config; the class checks its config."""
    part = _config(name)[section]
    # ConfigurableClassData maps `dagster.core` to `dagster._core`, as the instance does.
    data = ConfigurableClassData(part["module"], part["class"], yaml.safe_dump({}))
    cls = cast(
        "type[ConfigurableClass]", class_from_code_pointer(data.module_name, data.class_name)
    )
    result = process_config(resolve_to_config_type(cls.config_type()), part.get("config", {}))
    assert result.success, [error.message for error in result.errors or []]


@pytest.mark.parametrize("policy", RUN_POLICY)
def test_every_deployment_runs_the_same_policy(policy: str) -> None:
    root = _config("root")[policy]
    assert _config("compose")[policy] == root
    assert _config("kubernetes")[policy] == root


def test_every_deployment_queues_runs_and_monitors_them() -> None:
    for name in INSTANCES:
        config = _config(name)
        assert config["run_coordinator"]["class"] == "QueuedRunCoordinator", name
        queue = config["run_coordinator"]["config"]
        assert queue == {
            "dequeue_interval_seconds": 1,
            "dequeue_use_threads": True,
            "dequeue_num_workers": 4,
        }, name
        assert config["run_monitoring"]["enabled"] is True, name


def test_the_root_config_loads_without_any_setting(tmp_path: Path) -> None:
    """`dagster dev` and `dg check defs` from the project root read it with nothing set."""
    with dg.DagsterInstance.from_ref(
        InstanceRef.from_dir(str(tmp_path), config_dir=str(ROOT_INSTANCE.parent))
    ) as instance:
        assert type(instance.run_launcher).__name__ == "ForkingRunLauncher"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        _assert_run_policy(instance)


@pytest.mark.postgres
def test_the_compose_instance_loads_with_the_docker_launcher(
    dagster_pg: dict[str, Any], tmp_path: Path
) -> None:
    from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
    from dagster_docker import DockerRunLauncher
    from dagster_postgres import PostgresRunStorage

    config = _config("compose")
    mounted = config["compute_logs"]["config"]["base_dir"]
    # The volume's path is the containers'; here the logs go to a temporary folder.
    config["compute_logs"]["config"]["base_dir"] = str(tmp_path / "compute_logs")
    home = _write_home(tmp_path / "home", config)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, DockerRunLauncher)
        assert launcher.networks == [_compose()["networks"]["default"]["name"]]
        assert set(launcher.env_vars) == set(_compose()["services"]["daemon"]["environment"])
        assert launcher.container_kwargs["volumes_from"] == [_compose_code()["container_name"]]
        assert launcher.supports_check_run_worker_health  # run monitoring sees dead containers
        assert isinstance(instance.compute_log_manager, LocalComputeLogManager)
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        _assert_run_policy(instance)
        _assert_events_are_stored(instance)
    # Runs mount the code server's volumes: the log folder must be one of them.
    assert any(v.rsplit(":", 1)[-1] == mounted for v in _compose_code()["volumes"])


@pytest.mark.postgres
def test_the_kubernetes_instance_loads_with_the_k8s_launcher(
    dagster_pg: dict[str, Any], no_cluster: list[dict[str, Any]], tmp_path: Path
) -> None:
    from dagster_k8s import K8sRunLauncher
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    config = _kubernetes_on(dagster_pg)
    home = _write_home(tmp_path / "home", config)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, K8sRunLauncher)
        assert no_cluster == [
            {
                "load_incluster_config": True,
                "kubeconfig_file": None,
                "k8s_api_ssl_ca_cert_file": None,
            }
        ]
        assert launcher.job_namespace == NAMESPACE
        assert launcher.instance_config_map == f"{RELEASE}-instance"
        # The chart's DAGSTER_HOME, which the image uses too (Dockerfile).
        assert launcher.dagster_home == "/opt/dagster/dagster_home"
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert type(instance.scheduler).__name__ == "DagsterDaemonScheduler"
        _assert_run_policy(instance)
        _assert_events_are_stored(instance)


@pytest.mark.postgres
def test_the_kubernetes_instance_keeps_compute_logs_in_s3(
    dagster_pg: dict[str, Any], no_cluster: list[dict[str, Any]], tmp_path: Path
) -> None:
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager  # type: ignore[import-not-found]

    home = _write_home(tmp_path / "home", _kubernetes_on(dagster_pg))
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert isinstance(instance.compute_log_manager, S3ComputeLogManager)


def test_the_kubernetes_config_is_what_the_chart_renders_from_the_values() -> None:
    """deploy/dagster.yaml and deploy/helm/values.yaml say the same, key by key.

    The chart's templates (helm/dagster/templates/helpers/instance/*.tpl in dagster-io/
    dagster at 1.13) map each value to an instance key; `expected` applies the same mapping
    to the values the project sets, so a change to one file without the other fails here.
    """
    values = _helm()
    rendered = _config("kubernetes")
    for key, value in _render_instance(values).items():
        assert _subset(value, rendered.get(key)), (key, value, rendered.get(key))


def _assert_events_are_stored(instance: dg.DagsterInstance) -> None:
    """Every run and daemon writes events; under the wrong PostgreSQL driver none can
    (dagster-postgres binds its NOTIFY parameter the psycopg2 way)."""
    from dagster._core.events.log import EventLogEntry

    entry = EventLogEntry(
        error_info=None,
        level=logging.INFO,
        user_message="written by the deployment tests",
        run_id="deploy-test-run",
        timestamp=time.time(),
    )
    instance.event_log_storage.store_event(entry)
    stored = instance.all_logs("deploy-test-run")
    assert [e.user_message for e in stored] == ["written by the deployment tests"]


def _assert_run_policy(instance: dg.DagsterInstance) -> None:
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.run_retries_retry_on_asset_or_op_failure is False
    assert instance.run_monitoring_enabled
    concurrency = instance.get_concurrency_config()
    assert concurrency.pool_config.default_pool_limit == 4
    queue = concurrency.run_queue_config
    assert queue is not None and queue.max_concurrent_runs == 8
    limits = {limit["key"]: limit for limit in queue.tag_concurrency_limits}
    assert set(limits) == {"synchub/marketplace", "synchub/scrape_site"}
    assert limits["synchub/marketplace"]["limit"] == 2
    assert limits["synchub/scrape_site"]["limit"] == 1  # one crawl of a site at a time
    assert all(limit["value"] == {"applyLimitPerUniqueValue": True} for limit in limits.values())


def _kubernetes_on(coordinates: dict[str, Any]) -> dict[str, Any]:
    """deploy/dagster.yaml with its storage on the throwaway database (host, port, user and
    database are literal there, as the chart renders them)."""
    config = copy.deepcopy(_config("kubernetes"))
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        config[storage]["config"]["postgres_db"].update(coordinates)
    return config


def _compose() -> dict[str, Any]:
    loaded = load_yaml(COMPOSE)
    assert isinstance(loaded, dict)
    return loaded


def _compose_code() -> dict[str, Any]:
    code = _compose()["services"]["code"]
    assert isinstance(code, dict)
    return code


def _helm() -> dict[str, Any]:
    loaded = load_yaml(HELM_VALUES)
    assert isinstance(loaded, dict)
    return loaded


def _render_instance(values: dict[str, Any]) -> dict[str, Any]:
    """The instance keys the chart renders from the values this project sets."""
    pg = values["postgresql"]
    postgres_db = {
        "username": pg["postgresqlUsername"],
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": pg["postgresqlHost"],
        "db_name": pg["postgresqlDatabase"],
        "port": pg["service"]["port"],
        "scheme": pg["postgresqlScheme"],
    }
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher_config: dict[str, Any] = {
        "load_incluster_config": launcher["loadInclusterConfig"],
        "job_namespace": launcher.get("jobNamespace") or NAMESPACE,
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": RELEASE,
        "dagster_home": "/opt/dagster/dagster_home",
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
    }
    if launcher.get("resources"):
        launcher_config["resources"] = launcher["resources"]
    if launcher.get("failPodOnRunFailure"):
        launcher_config["fail_pod_on_run_failure"] = True
    logs = values["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager"
    s3 = logs["config"]["s3ComputeLogManager"]
    daemon = values["dagsterDaemon"]
    queue = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    monitoring, retries = daemon["runMonitoring"], daemon["runRetries"]
    concurrency = values["concurrency"]
    assert concurrency["enabled"]
    return {
        "run_storage": {"class": "PostgresRunStorage", "config": {"postgres_db": postgres_db}},
        "event_log_storage": {
            "class": "PostgresEventLogStorage",
            "config": {"postgres_db": postgres_db},
        },
        "schedule_storage": {
            "class": "PostgresScheduleStorage",
            "config": {"postgres_db": postgres_db},
        },
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": launcher_config,
        },
        "compute_logs": {
            "module": "dagster_aws.s3.compute_log_manager",
            "class": "S3ComputeLogManager",
            "config": {
                "bucket": s3["bucket"],
                "prefix": s3["prefix"],
                "region": s3["region"],
                "verify": s3.get("verify", True) is not False,
            },
        },
        "run_coordinator": {
            "class": daemon["runCoordinator"]["type"],
            "config": {
                "dequeue_interval_seconds": queue["dequeueIntervalSeconds"],
                "dequeue_use_threads": queue["dequeueUseThreads"],
                "dequeue_num_workers": queue["dequeueNumWorkers"],
            },
        },
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "max_resume_run_attempts": monitoring["maxResumeRunAttempts"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
        },
        "run_retries": {
            "enabled": retries["enabled"],
            "max_retries": retries["maxRetries"],
            "retry_on_asset_or_op_failure": retries["retryOnAssetOrOpFailure"],
        },
        "sensors": {
            "use_threads": daemon["sensors"]["useThreads"],
            "num_workers": daemon["sensors"]["numWorkers"],
            "num_submit_workers": daemon["sensors"]["numSubmitWorkers"],
        },
        "schedules": {
            "use_threads": daemon["schedules"]["useThreads"],
            "num_workers": daemon["schedules"]["numWorkers"],
        },
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
        "concurrency": {
            "pools": {"default_limit": concurrency["pools"]["defaultLimit"]},
            "runs": {
                "max_concurrent_runs": concurrency["runs"]["maxConcurrentRuns"],
                "tag_concurrency_limits": concurrency["runs"]["tagConcurrencyLimits"],
            },
        },
    }


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            _subset(value, actual.get(key)) for key, value in expected.items()
        )
    return bool(expected == actual)
