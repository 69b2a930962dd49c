"""Reading the deployment files the way their tools do: the README's settings table, compose's
variable interpolation, an env file, YAML with anchors and merge keys.

No Docker daemon, Compose plugin or cluster exists where the tests run, so these helpers
implement the small part of each tool the tests need, following the tool's documented rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
ROOT_INSTANCE = ROOT / "dagster.yaml"
COMPOSE_INSTANCE = ROOT / "docker" / "dagster.yaml"
K8S_INSTANCE = ROOT / "deploy" / "dagster.yaml"
HELM_VALUES = ROOT / "deploy" / "helm" / "values.yaml"
K8S_SETTINGS = ROOT / "deploy" / "k8s" / "synchub-settings.yaml"
K8S_SECRETS = ROOT / "deploy" / "k8s" / "synchub-secrets.example.yaml"
COMPOSE_WORKSPACE = ROOT / "docker" / "workspace-grpc.yaml"

# README settings that are not a deployment's: the tests' own server, and the Amazon refresh
# token, which `synchub connect amazon` reads once and stores encrypted (a long-running
# service must never hold it in its environment).
NOT_DEPLOYMENT_SETTINGS = frozenset(
    {
        "SYNCHUB_TEST_PG_URL",
        "SYNCHUB_TEST_ARTIFACTS",
        "SYNCHUB_TEST_CHROMIUM",
        "SYNCHUB_AMAZON_REFRESH_TOKEN",
    }
)
# On Kubernetes the chart owns Dagster's own variables: DAGSTER_HOME on every pod, the
# storage's host, user and database in the instance config it renders, and
# DAGSTER_PG_PASSWORD from its Secret.
CHART_SETTINGS = frozenset(
    {
        "DAGSTER_HOME",
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB",
    }
)
# Values that are secrets although their names do not say so: a database URL carries its
# password, an alert webhook URL often its token.
SECRET_URLS = frozenset({"SYNCHUB_WAREHOUSE_URL", "SYNCHUB_ALERT_WEBHOOK_URL"})
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|SALT|PARTNER_KEY|SECRET_KEY")


def is_secret(name: str) -> bool:
    return name in SECRET_URLS or bool(_SECRET_NAME.search(name))


def readme_settings() -> list[str]:
    """Every variable named in the first column of the README's Configuration table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        names += re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])
    assert names, "the README's Configuration table is not where it used to be"
    return names


def load_yaml(path: Path) -> Any:
    # PyYAML's safe loader resolves anchors, aliases and `<<` merge keys like Compose does.
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


class ComposeVariableError(Exception):
    """`${NAME:?message}` with NAME unset or empty: compose refuses to start."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: $$, ${NAME}, ${NAME:-default}, ${NAME-default},
    ${NAME:?error}, ${NAME?error}, with defaults interpolated in turn (they may nest)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            out.append(_substitute(text[i + 2 : end], env))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"unclosed ${{ in {text!r}")


def _substitute(expression: str, env: Mapping[str, str]) -> str:
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?(.*)\Z", expression, re.DOTALL)
    if match is None:
        raise ValueError(f"not a compose variable: ${{{expression}}}")
    name, operator, rest = match.groups()
    value = env.get(name)
    if operator is None:
        return value or ""
    missing = value is None or (operator.startswith(":") and value == "")
    if operator.endswith("?"):
        if missing:
            raise ComposeVariableError(f"{name}: {rest}")
        return str(value)
    return interpolate(rest, env) if missing else str(value)


def compose_variables(text: str) -> set[str]:
    """Every variable compose reads from the environment or .env in this text."""
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def required_compose_variables(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", text))


def env_file_names(path: Path) -> tuple[set[str], set[str]]:
    """(assigned, commented-out) names of an env file: `NAME=…` and `# NAME=…` lines."""
    assigned: set[str] = set()
    commented: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*(#\s*)?([A-Z][A-Z0-9_]*)=", line)
        if match:
            (commented if match.group(1) else assigned).add(match.group(2))
    return assigned, commented


def compose_environment(
    service_env: Mapping[str, Any], dotenv: Mapping[str, str]
) -> dict[str, str]:
    """A service's environment as compose would hand it over, given the .env values."""
    return {name: interpolate(str(value), dotenv) for name, value in service_env.items()}
