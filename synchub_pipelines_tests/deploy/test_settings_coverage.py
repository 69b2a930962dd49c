"""Every setting the README documents reaches every process that reads it, in both
deployments, and falls back to the same default the code uses when it is unset.

Compose: docker-compose.yml passes each to the code server, the daemon and the receiver; the
daemon hands each to every run's container (DockerRunLauncher `env_vars`); .env.example names
each. Kubernetes: the synchub-settings ConfigMap and the synchub-secrets Secret hold each,
secrets only in the Secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping

import pytest
from cryptography.fernet import Fernet

from synchub_pipelines_tests.deploy.files import (
    CHART_SETTINGS,
    COMPOSE,
    COMPOSE_INSTANCE,
    ENV_EXAMPLE,
    K8S_SECRETS,
    K8S_SETTINGS,
    NOT_DEPLOYMENT_SETTINGS,
    ROOT,
    compose_environment,
    compose_variables,
    env_file_names,
    is_secret,
    load_yaml,
    readme_settings,
    required_compose_variables,
    yaml_documents,
)

COMPOSE_FILE = load_yaml(COMPOSE)
SERVICES = COMPOSE_FILE["services"]
DEPLOYMENT_SETTINGS = sorted(set(readme_settings()) - NOT_DEPLOYMENT_SETTINGS)
# Where the image keeps the project (Dockerfile WORKDIR): compose's defaults point inside it.
IMAGE_WORKDIR = "/opt/synchub/"


def test_the_readme_table_is_read() -> None:
    # A guard for the guard: the parser finds the table's known rows.
    assert {"SYNCHUB_WAREHOUSE_URL", "SYNCHUB_CATALOG_FILE", "SYNCHUB_STOCK_POLICY_FILE"} <= set(
        DEPLOYMENT_SETTINGS
    )


@pytest.mark.parametrize("service", ["code", "daemon", "webhooks"])
def test_compose_passes_every_readme_setting_to_the_processes_that_read_them(
    service: str,
) -> None:
    environment = SERVICES[service]["environment"]
    missing = [name for name in DEPLOYMENT_SETTINGS if name not in environment]
    assert not missing, f"docker-compose.yml does not pass {missing} to `{service}`"
    assert not NOT_DEPLOYMENT_SETTINGS & set(environment)


def test_each_run_container_gets_every_setting_the_daemon_has() -> None:
    launcher = load_yaml(COMPOSE_INSTANCE)["run_launcher"]
    env_vars = launcher["config"]["env_vars"]
    daemon_env = SERVICES["daemon"]["environment"]
    assert len(env_vars) == len(set(env_vars))
    # DockerRunLauncher copies each named variable from the daemon's environment and fails
    # the launch if one is unset: the two lists must be the same.
    assert set(env_vars) == set(daemon_env)
    assert set(DEPLOYMENT_SETTINGS) <= set(env_vars)


def test_env_example_names_every_setting_and_assigns_what_compose_requires() -> None:
    assigned, commented = env_file_names(ENV_EXAMPLE)
    named = assigned | commented
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    compose_text = COMPOSE.read_text(encoding="utf-8")
    assert not [n for n in DEPLOYMENT_SETTINGS if n not in named and n != "DAGSTER_HOME"]
    # Named with the reason they are not set there, and never assigned.
    for name in NOT_DEPLOYMENT_SETTINGS | {"DAGSTER_HOME"}:
        assert name in text
        assert name not in named
    # Every knob of the compose file (image, config folder, PostgreSQL user) is explained.
    assert not compose_variables(compose_text) - named
    # What compose refuses to start without is in the file, ready to fill in.
    assert required_compose_variables(compose_text) <= assigned


def test_compose_refuses_to_start_without_the_required_secrets() -> None:
    from synchub_pipelines_tests.deploy.files import ComposeVariableError

    dotenv = _required_dotenv()
    for name in dotenv:
        partial = {k: v for k, v in dotenv.items() if k != name}
        with pytest.raises(ComposeVariableError, match=name):
            compose_environment(SERVICES["code"]["environment"], {**partial, name: ""})


def test_kubernetes_settings_name_every_setting_and_keep_secrets_in_the_secret() -> None:
    (config_map,) = yaml_documents(K8S_SETTINGS)
    (secret,) = yaml_documents(K8S_SECRETS)
    plain, hidden = set(config_map["data"]), set(secret["stringData"])
    assert config_map["kind"] == "ConfigMap" and secret["kind"] == "Secret"
    assert not plain & hidden
    wanted = set(DEPLOYMENT_SETTINGS) - CHART_SETTINGS
    assert not wanted - plain - hidden
    assert not [name for name in plain if is_secret(name)]
    assert not [name for name in hidden if not is_secret(name)]
    # ConfigMap values are strings: a bare YAML number or boolean would be refused by the API.
    assert all(isinstance(value, str) for value in config_map["data"].values())


def test_compose_defaults_are_the_codes_own_defaults(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """An empty .env (only the required secrets) configures exactly what unset variables do.

    Compose passes every variable to the containers, so a default written in the compose
    file replaces the one in the code: they must agree, and none may be an empty string
    the code would take literally (a float('') at import, an empty URL).
    """
    dotenv = _required_dotenv()
    data = str(tmp_path_factory.mktemp("compose-data"))
    composed = compose_environment(SERVICES["code"]["environment"], dotenv)
    composed = {
        name: value.replace(IMAGE_WORKDIR, f"{ROOT}/") if name != "DAGSTER_HOME" else value
        for name, value in composed.items()
    }
    local = {
        "SYNCHUB_SECRET_KEY": composed["SYNCHUB_SECRET_KEY"],
        "SYNCHUB_BUYER_SALT": composed["SYNCHUB_BUYER_SALT"],
    }
    composed["SYNCHUB_DATA_DIR"] = local["SYNCHUB_DATA_DIR"] = data
    assert _fingerprint(composed) == _fingerprint(local)


def test_kubernetes_settings_are_the_codes_own_defaults(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    (config_map,) = yaml_documents(K8S_SETTINGS)
    (secret,) = yaml_documents(K8S_SECRETS)
    data = str(tmp_path_factory.mktemp("k8s-data"))
    settings = {**config_map["data"], **secret["stringData"]}
    settings = {name: value.replace(IMAGE_WORKDIR, f"{ROOT}/") for name, value in settings.items()}
    settings.update(SYNCHUB_DATA_DIR=data, SYNCHUB_SECRET_KEY=Fernet.generate_key().decode())
    settings.pop("SYNCHUB_WAREHOUSE_URL")
    local = {
        k: settings[k] for k in ("SYNCHUB_DATA_DIR", "SYNCHUB_SECRET_KEY", "SYNCHUB_BUYER_SALT")
    }
    configured, default = _fingerprint(settings), _fingerprint(local)
    # One deliberate difference: a pod sees the node's cores, so the backfill's processes
    # follow the run pod's CPU request instead of os.cpu_count().
    assert configured.pop("backfill_processes") == 2
    default.pop("backfill_processes")
    assert configured == default


def _required_dotenv() -> dict[str, str]:
    return {
        "POSTGRES_PASSWORD": "compose-password",
        "SYNCHUB_SECRET_KEY": Fernet.generate_key().decode(),
        "SYNCHUB_BUYER_SALT": "compose-salt",
    }


# What the code makes of its settings, read in a fresh interpreter (several are read once at
# import). Each probe is reported by itself, so a diff names the setting that differs.
_PROBES = """
import json, os
probes = {
    "marketplaces": "MarketplacesResource.from_environment(resolve=True).model_dump()",
    "bling": "BlingResource.from_environment(resolve=True).model_dump()",
    "catalog": "{k: v for k, v in resources()['catalog'].model_dump().items() if k != 'bling'}",
    "alerts": "{k: v for k, v in resources()['alerts'].model_dump().items()}",
    "buyer_salt": "resources()['warehouse'].buyer_salt",
    "receiver": "{k: v for k, v in vars(ReceiverSettings.from_env()).items()"
    " if k != 'warehouse_url'}",
    "orders_start_date": "settings.orders_start_date()",
    "polled": "list(polled_marketplaces())",
    "sensor_interval": "SENSOR_INTERVAL_SECONDS",
    "tree_file": "str(tree_file())",
    "attributes_file": "str(attributes_file())",
    "policies": "policy_book().model_dump()",
    "backfill_processes": "backfill_processes()",
    "breaker": "(lambda b: [b.threshold, b.cooldown])(breaker_for('mercadolivre', 'orders.x'))",
}
result = {}
try:
    from synchub_pipelines import settings
    from synchub_pipelines.definitions import resources
    from synchub_pipelines.defs.events.polling import polled_marketplaces
    from synchub_pipelines.defs.events.sensor import SENSOR_INTERVAL_SECONDS
    from synchub_pipelines.defs.marketplaces import BlingResource, MarketplacesResource
    from synchub_pipelines.defs.normalization.assets import attributes_file, tree_file
    from synchub_pipelines.defs.orders.shards import backfill_processes
    from synchub_pipelines.defs.stock.policy import policy_book
    from synchub_pipelines.marketplaces.breaker import breaker_for
    from synchub_pipelines.webhooks.config import ReceiverSettings
except Exception as exc:
    result["import"] = f"error: {exc!r}"
else:
    for name, expression in probes.items():
        try:
            result[name] = eval(expression)
        except Exception as exc:
            result[name] = f"error: {exc!r}"
print(json.dumps(result, default=str, sort_keys=True))
"""


def _fingerprint(settings: Mapping[str, str]) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCHUB_", "DAGSTER_"))}
    env.update(settings)
    done = subprocess.run(
        [sys.executable, "-c", _PROBES],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    errors = {k: v for k, v in result.items() if isinstance(v, str) and v.startswith("error:")}
    assert not errors, errors
    return result
