"""The compose deployment's parts fit together the way DockerRunLauncher needs them to.

A run's container is created by the daemon through the Docker API, outside compose: it finds
the network, the volumes and the image by the names compose gives them, so each name must
be the same on both sides. Docker itself is not needed to check that.
"""

from __future__ import annotations

import re
from typing import Any

from synchub_pipelines_tests.deploy.files import (
    COMPOSE,
    COMPOSE_INSTANCE,
    COMPOSE_WORKSPACE,
    HELM_VALUES,
    ROOT,
    compose_environment,
    interpolate,
    load_yaml,
    yaml_documents,
)

COMPOSE_FILE: dict[str, Any] = load_yaml(COMPOSE)
SERVICES: dict[str, Any] = COMPOSE_FILE["services"]
LAUNCHER: dict[str, Any] = load_yaml(COMPOSE_INSTANCE)["run_launcher"]["config"]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
DOCKER_SOCKET = "/var/run/docker.sock"
REQUIRED = {"POSTGRES_PASSWORD": "p", "SYNCHUB_SECRET_KEY": "k", "SYNCHUB_BUYER_SALT": "s"}


def test_runs_start_in_the_image_the_code_server_reports() -> None:
    code = SERVICES["code"]
    for dotenv in (REQUIRED, {**REQUIRED, "SYNCHUB_IMAGE": "registry.example/synchub:1.2.3"}):
        reported = compose_environment(code["environment"], dotenv)["DAGSTER_CURRENT_IMAGE"]
        assert reported == compose_environment({"image": code["image"]}, dotenv)["image"]
    # Every service runs the one image (DockerRunLauncher falls back to nothing else).
    assert "image" not in LAUNCHER
    assert {SERVICES[name]["image"] for name in SERVICES if name != "postgres"} == {code["image"]}


def test_runs_join_the_compose_network_and_mount_the_code_servers_volumes() -> None:
    assert LAUNCHER["network"] == COMPOSE_FILE["networks"]["default"]["name"]
    assert LAUNCHER["container_kwargs"]["volumes_from"] == [SERVICES["code"]["container_name"]]
    base_dir = load_yaml(COMPOSE_INSTANCE)["compute_logs"]["config"]["base_dir"]
    code, web = _mounts("code"), _mounts("webserver")
    # Runs write the logs (through the code server's volume), the webserver reads them.
    assert code[base_dir][1] != "ro"
    assert code[base_dir][0] == web[base_dir][0]
    assert COMPOSE_FILE["volumes"][code[base_dir][0]]["name"]  # fixed, not prefixed by compose
    # The files the settings point to are where the code server (so every run) has them.
    assert code["/opt/synchub/config"][0] == "./config"


def _mounts(service: str) -> dict[str, tuple[str, str]]:
    """target → (source, mode) of a service's short-syntax volumes, as compose reads them."""
    found = {}
    for mount in SERVICES[service]["volumes"]:
        source, target, *mode = interpolate(mount, REQUIRED).split(":")
        found[target] = (source, mode[0] if mode else "rw")
    return found


def test_the_webserver_and_daemon_reach_the_code_server_over_grpc() -> None:
    (location,) = load_yaml(COMPOSE_WORKSPACE)["load_from"]
    server = location["grpc_server"]
    assert server["host"] == "code"
    command = " ".join(SERVICES["code"]["command"])
    assert f"--port={server['port']}" in command
    assert f"--location-name={server['location_name']}" in command
    # The image carries the workspace where the services read it.
    for name in ("webserver", "daemon"):
        assert "/opt/dagster/dagster_home/workspace.yaml" in SERVICES[name]["command"]
    assert re.search(r"docker/workspace-grpc\.yaml", DOCKERFILE)
    assert 'mv "$DAGSTER_HOME/workspace-grpc.yaml" "$DAGSTER_HOME/workspace.yaml"' in DOCKERFILE


def test_the_image_carries_the_compose_instance_where_compose_looks_for_it() -> None:
    home = SERVICES["code"]["environment"]["DAGSTER_HOME"]
    assert re.search(rf"DAGSTER_HOME={re.escape(home)}\b", DOCKERFILE)
    assert "COPY docker/dagster.yaml" in DOCKERFILE
    # The Helm chart mounts its instance at the same place (its default dagsterHome).
    assert home == "/opt/dagster/dagster_home"


def test_only_the_processes_that_start_or_stop_containers_get_the_docker_socket() -> None:
    with_socket = {
        name
        for name, service in SERVICES.items()
        if any(DOCKER_SOCKET in mount for mount in service.get("volumes", []))
    }
    assert with_socket == {"daemon", "webserver"}


def test_the_webserver_gets_no_secrets_and_nothing_listens_beyond_loopback() -> None:
    # It loads no project code (the code server does): Dagster's storage is all it needs.
    assert all(name.startswith("DAGSTER_") for name in SERVICES["webserver"]["environment"])
    # Dagster's UI has no login, the receiver speaks plain HTTP (a TLS proxy fronts it):
    # nothing is published on every interface of the host.
    published = [port for service in SERVICES.values() for port in service.get("ports", [])]
    assert published and all(port.startswith("127.0.0.1:") for port in published)


def test_the_default_catalog_path_exists_in_the_image() -> None:
    default = compose_environment(SERVICES["code"]["environment"], REQUIRED)["SYNCHUB_CATALOG_FILE"]
    workdir = re.search(r"^WORKDIR (\S+)", DOCKERFILE, re.MULTILINE)
    assert workdir and "COPY synchub_pipelines ./synchub_pipelines" in DOCKERFILE
    relative = default.removeprefix(workdir.group(1).rstrip("/") + "/")
    assert (ROOT / relative).is_file()


def test_the_kubernetes_receiver_runs_the_user_deployments_image() -> None:
    (deployment,) = (
        doc
        for doc in yaml_documents(ROOT / "deploy" / "k8s" / "webhooks.yaml")
        if doc["kind"] == "Deployment"
    )
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (user,) = load_yaml(HELM_VALUES)["dagster-user-deployments"]["deployments"]
    assert container["image"] == f"{user['image']['repository']}:{user['image']['tag']}"
    sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources == {e["name"] for e in user["envConfigMaps"] + user["envSecrets"]}
