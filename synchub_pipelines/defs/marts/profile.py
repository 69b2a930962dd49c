"""How dbt reaches the warehouse: its executable, and the connection from the warehouse URL.

Four rules this module keeps:

1. **One warehouse.** dbt builds the marts in the database the code location writes
   (`WarehouseResource.url`, i.e. SYNCHUB_WAREHOUSE_URL): an embedded SQLite file, or
   PostgreSQL. The committed `dbt_project/profiles.yml` holds no connection at all; it
   reads every field with dbt's `env_var()`, and `dbt_environment(url)` turns the URL into
   those variables for one dbt process.
2. **No password on disk or in logs.** The password only ever travels in the child's
   environment, under dbt's `DBT_ENV_SECRET_` prefix, which dbt scrubs from its logs and
   refuses to render anywhere but a profile. `describe()` names the target without it.
3. **dbt runs as a program.** dbt-core pins libraries the project's own tools cannot use,
   so it lives in its own environment (`.venv-dbt`, built by `make` from
   dbt-requirements.txt) and is never imported here: `dbt_executable()` is
   SYNCHUB_DBT_EXECUTABLE, else `.venv-dbt/bin/dbt`, relative paths resolved from the
   project root.
4. **No Dagster here**, so the benchmark and the tests run dbt exactly as the assets do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from threading import Lock

from synchub_pipelines import settings
from synchub_pipelines.warehouse.engine import normalize_url, warehouse_target

PROJECT_DIR = Path(__file__).resolve().parent / "dbt_project"
PROFILE = "synchub"
DEFAULT_DBT_EXECUTABLE = ".venv-dbt/bin/dbt"
# The variables profiles.yml reads (all of them: a variable left over from another
# warehouse in the parent's environment is overwritten or removed).
TARGET = "SYNCHUB_DBT_TARGET"
SQLITE_PATH = "SYNCHUB_DBT_SQLITE_PATH"
SQLITE_SCHEMA_DIR = "SYNCHUB_DBT_SQLITE_SCHEMA_DIR"
PG_HOST = "SYNCHUB_DBT_PG_HOST"
PG_PORT = "SYNCHUB_DBT_PG_PORT"
PG_USER = "SYNCHUB_DBT_PG_USER"
PG_DBNAME = "SYNCHUB_DBT_PG_DBNAME"
PG_SCHEMA = "SYNCHUB_DBT_PG_SCHEMA"
PG_SSLMODE = "SYNCHUB_DBT_PG_SSLMODE"
PG_PASSWORD = "DBT_ENV_SECRET_SYNCHUB_PG_PASSWORD"  # noqa: S105 - a variable's name
PROFILE_VARIABLES = (
    TARGET,
    SQLITE_PATH,
    SQLITE_SCHEMA_DIR,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PG_DBNAME,
    PG_SCHEMA,
    PG_SSLMODE,
    PG_PASSWORD,
)


def dbt_executable() -> str:
    """SYNCHUB_DBT_EXECUTABLE, else `.venv-dbt/bin/dbt`; a relative path is taken from the
    project root (not the current directory), a bare name is looked up on PATH."""
    configured = os.environ.get("SYNCHUB_DBT_EXECUTABLE", "").strip() or DEFAULT_DBT_EXECUTABLE
    if os.sep not in configured:
        return configured  # a bare name, e.g. "dbt": whatever PATH finds
    path = Path(configured).expanduser()
    return str(path if path.is_absolute() else settings.PROJECT_ROOT / path)


def dbt_environment(url: str) -> dict[str, str]:
    """The variables profiles.yml reads, for the warehouse at `url` (a SQLAlchemy URL)."""
    parsed = normalize_url(url)
    env = dict.fromkeys(PROFILE_VARIABLES, "")
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise ValueError("dbt cannot build marts in an in-memory SQLite database")
        path = Path(database).expanduser().absolute()
        env[TARGET] = "sqlite"
        env[SQLITE_PATH] = str(path)
        # dbt-sqlite attaches every *.db file of this folder as a schema: one of its own.
        env[SQLITE_SCHEMA_DIR] = str(path.parent / "dbt_schemas")
        return env
    env[TARGET] = "postgres"
    env[PG_HOST] = parsed.host or "localhost"
    env[PG_PORT] = str(parsed.port or 5432)
    env[PG_USER] = parsed.username or ""
    env[PG_DBNAME] = parsed.database or ""
    # The warehouse's tables are in the default schema; the marts go beside them.
    env[PG_SCHEMA] = "public"
    sslmode = parsed.query.get("sslmode")
    env[PG_SSLMODE] = str(sslmode) if sslmode else "prefer"
    env[PG_PASSWORD] = parsed.password or ""
    return env


def describe(url: str) -> str:
    """Where dbt builds, for logs and metadata: never the password."""
    return f"dbt target {dbt_environment(url)[TARGET]!r} on {warehouse_target(url)}"


_environ_lock = Lock()


@contextmanager
def environment_for(url: str) -> Iterator[None]:
    """This process's environment holds the warehouse's variables while the block runs.

    dagster-dbt starts dbt with a copy of `os.environ` and offers no other way in: the
    block must only start the process (its `cli()` call), and the variables are removed as
    soon as it has.
    """
    wanted = dbt_environment(url)
    with _environ_lock:
        saved = {name: os.environ.get(name) for name in wanted}
        os.environ.update(wanted)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def run_dbt(
    args: Sequence[str],
    url: str,
    *,
    target_path: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    check: bool = True,
    capture: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run one dbt command on the marts project against `url`, outside Dagster (benchmarks,
    tests, an analyst at a shell). Output is captured and returned.

    Its artifacts go to `target_path`, else to a temporary folder: the project's own
    `target/` holds the manifest the code location loads, which a build must not rewrite
    under it. dbt's partial parse of that manifest is reused, as dagster-dbt does.
    """
    if target_path is None:
        with tempfile.TemporaryDirectory(prefix="synchub-dbt-") as temporary:
            return run_dbt(
                args,
                url,
                target_path=Path(temporary),
                extra_env=extra_env,
                check=check,
                capture=capture,
            )
    if args and args[0] != "parse":
        saved = PROJECT_DIR / "target" / "partial_parse.msgpack"
        if saved.exists() and not (target_path / saved.name).exists():
            target_path.mkdir(parents=True, exist_ok=True)
            shutil.copy(saved, target_path / saved.name)
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_PROJECT_DIR": str(PROJECT_DIR),
        **dbt_environment(url),
        **(extra_env or {}),
    }
    env["DBT_TARGET_PATH"] = str(target_path)
    env["DBT_LOG_PATH"] = str(target_path)
    done = subprocess.run(  # noqa: S603 - our dbt, our arguments
        [dbt_executable(), *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=capture,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        tail = ((done.stdout or "") + (done.stderr or ""))[-6000:]
        raise RuntimeError(f"dbt {' '.join(args)} failed ({describe(url)}):\n{tail}")
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m synchub_pipelines.defs.marts.profile <dbt arguments>`: dbt on the marts
    project against the configured warehouse (SYNCHUB_WAREHOUSE_URL), e.g. `build`,
    `build --select mart_sales_daily`, `source freshness`, `docs generate`."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv) or ["build"]
    url = settings.warehouse_url()
    print(describe(url), flush=True)
    return run_dbt(args, url, check=False, capture=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
