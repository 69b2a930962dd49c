"""Marts benchmark: how long the marts take to rebuild on the demo warehouse.

Builds the demo warehouse first (`synchub demo` into a throwaway data folder: the embedded
SQLite file, or with --pg a throwaway PostgreSQL database), or reuses the one given with
--warehouse. Then, on that warehouse, measures in the same run:

- baseline 1: `SELECT COUNT(*)` over every table the marts read (reading the sources once);
- baseline 2: `dbt parse` (dbt's start-up and project parse, no database): the fixed cost
  of any dbt command, which `dbt build` pays too;
- `dbt build` of every mart with its tests (what the `marts_dbt` asset runs), `--repeat`
  times, reusing the parse as the code location does: wall seconds, and from dbt's
  run_results.json the seconds of each model and of its tests;
- the same rebuild as a Dagster run of the marts' assets (`marts_dbt`, checks included),
  and the CSV/XLSX exports (`mart_exports`) on their own.

Printed: seconds per model, per model's tests and in total, beside the baselines and the
ratios to them. The target is a rebuild under 10 s on the demo warehouse; nothing asserts
it: the figures are printed.

Usage: python benchmarks/marts.py [--warehouse URL | --pg postgresql://postgres@127.0.0.1/postgres]
                                  [--size demo] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backfill import throwaway_database

ROOT = Path(__file__).resolve().parents[1]


def build_demo(data: Path, url: str | None, size: str) -> str:
    """`synchub demo` into `data` (and `url` when given); returns the warehouse URL."""
    env = {**os.environ, "SYNCHUB_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "home")}
    if url:
        env["SYNCHUB_WAREHOUSE_URL"] = url
    else:
        env.pop("SYNCHUB_WAREHOUSE_URL", None)
    (data / "home").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"building the demo warehouse ({size}) with `synchub demo`…", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "synchub_pipelines.cli", "demo", "--size", size],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        raise SystemExit("the demo failed: no warehouse to measure")
    print(f"  built in {time.perf_counter() - started:.0f}s")
    return url or f"sqlite:///{data / 'warehouse.sqlite'}"


def source_tables() -> list[str]:
    import yaml

    from synchub_pipelines.defs.marts.profile import PROJECT_DIR

    sources = yaml.safe_load((PROJECT_DIR / "models" / "sources.yml").read_text())
    return [t["name"] for s in sources["sources"] for t in s["tables"]]


def count_sources(url: str) -> tuple[float, int]:
    from synchub_pipelines.warehouse.engine import engine_for

    engine = engine_for(url)
    started = time.perf_counter()
    rows = 0
    with engine.connect() as conn:
        for table in source_tables():
            rows += conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    return time.perf_counter() - started, rows


def timed_dbt(args: list[str], url: str, target: Path) -> tuple[float, str]:
    from synchub_pipelines.defs.marts.profile import run_dbt

    started = time.perf_counter()
    done = run_dbt(args, url, target_path=target)
    return time.perf_counter() - started, done.stdout


def per_model(target: Path) -> tuple[dict[str, float], dict[str, float], float]:
    """Seconds of each model and of the tests on it, and dbt's own elapsed time."""
    results = json.loads((target / "run_results.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    models: dict[str, float] = {}
    tests: dict[str, float] = defaultdict(float)
    for result in results["results"]:
        unique_id = result["unique_id"]
        node = manifest["nodes"][unique_id]
        if node["resource_type"] == "model":
            models[node["name"]] = result["execution_time"]
        elif node["resource_type"] == "test":
            refs = [d for d in node["depends_on"]["nodes"] if d.startswith("model.")]
            attached = node.get("attached_node") or (refs[0] if refs else unique_id)
            tests[attached.rsplit(".", 1)[-1]] += result["execution_time"]
    return models, dict(tests), results["elapsed_time"]


def dagster_rebuild(url: str) -> tuple[float, float]:
    """Seconds of the marts' Dagster run (dbt build + checks), and of the exports after it."""
    import dagster as dg

    from synchub_pipelines.defs.marts.assets import mart_exports, marts_dbt
    from synchub_pipelines.defs.marts.resources import dbt_resource
    from synchub_pipelines.defs.resources import WarehouseResource

    resources = {"dbt": dbt_resource(), "warehouse": WarehouseResource(url=url)}
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    # dagster-dbt echoes dbt's output on stdout (the compute logs): not for this report.
    with dg.DagsterInstance.ephemeral() as instance, contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        built = dg.materialize(
            [marts_dbt, mart_exports],
            selection=[marts_dbt],
            instance=instance,
            resources=resources,
            run_config=quiet,
        )
        dbt_seconds = time.perf_counter() - started
        assert built.success
        started = time.perf_counter()
        exported = dg.materialize(
            [marts_dbt, mart_exports],
            selection=[mart_exports],
            instance=instance,
            resources=resources,
            run_config=quiet,
        )
        assert exported.success
        return dbt_seconds, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", help="measure this warehouse (SQLAlchemy URL) as it is")
    parser.add_argument("--pg", help="build the demo into a throwaway database on this server")
    parser.add_argument("--size", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("SYNCHUB_SECRET_KEY", Fernet.generate_key().decode())
    with tempfile.TemporaryDirectory(prefix="synchub-marts-bench-") as scratch:
        data = Path(scratch)
        os.environ["SYNCHUB_DATA_DIR"] = str(data)  # the exports land here, not in ./data
        if args.warehouse:
            return measure(args.warehouse, data, args.repeat)
        if args.pg:
            with throwaway_database(args.pg) as (url, _):
                return measure(build_demo(data, url, args.size), data, args.repeat)
        return measure(build_demo(data, None, args.size), data, args.repeat)


def measure(url: str, data: Path, repeat: int) -> int:
    from synchub_pipelines.defs.marts.profile import describe
    from synchub_pipelines.defs.marts.resources import prepare_marts_project
    from synchub_pipelines.warehouse.engine import engine_for

    prepare_marts_project()
    with engine_for(url).connect() as conn:
        orders = conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one()
        lines = conn.execute(sa.text("SELECT COUNT(*) FROM order_items")).scalar_one()
        snapshots = conn.execute(sa.text("SELECT COUNT(*) FROM stock_snapshots")).scalar_one()
    print(f"warehouse: {describe(url)}")
    print(f"           {orders} orders, {lines} lines, {snapshots} stock snapshots")
    print(f"machine:   {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")

    target = data / "dbt-target"
    count_seconds, source_rows = count_sources(url)
    cold_parse, _ = timed_dbt(["parse"], url, target)
    warm_parse, _ = timed_dbt(["parse"], url, target)
    walls: list[float] = []
    runs: list[tuple[dict[str, float], dict[str, float], float]] = []
    for _ in range(repeat):
        seconds, stdout = timed_dbt(["build"], url, target)
        if "ERROR=0" not in stdout:
            print(stdout[-3000:])
            raise SystemExit("dbt build failed")
        walls.append(seconds)
        runs.append(per_model(target))
    dagster_seconds, export_seconds = dagster_rebuild(url)

    best = min(range(repeat), key=lambda i: walls[i])
    models, tests, elapsed = runs[best]
    width = max(len(m) for m in models)
    print(f"\n`dbt build` of the marts, fastest of {repeat} (seconds):")
    print(f"  {'model':<{width}}  {'build':>6}  {'tests':>6}")
    for model in sorted(models, key=lambda m: -models[m]):
        print(f"  {model:<{width}}  {models[model]:>6.2f}  {tests.get(model, 0.0):>6.2f}")
    model_total, test_total = sum(models.values()), sum(tests.values())
    print(f"  {'total':<{width}}  {model_total:>6.2f}  {test_total:>6.2f}")
    print(f"\n  dbt's own elapsed time (models and tests, threads overlapping): {elapsed:.2f}s")
    print(f"  wall, dbt process start to exit: {', '.join(f'{w:.2f}' for w in walls)}"
          f" (median {statistics.median(walls):.2f}s)")  # fmt: skip
    print(f"  as a Dagster run of the marts (checks included): {dagster_seconds:.2f}s;"
          f" the CSV/XLSX exports after it: {export_seconds:.2f}s")  # fmt: skip
    print("\nbaselines, same run:")
    print(f"  SELECT COUNT(*) over the {len(source_tables())} source tables"
          f" ({source_rows} rows): {count_seconds:.3f}s")  # fmt: skip
    print(f"  dbt parse: {cold_parse:.2f}s cold, {warm_parse:.2f}s reusing the parse")
    wall = statistics.median(walls)
    print("\nratios:")
    print(f"  dbt build wall / dbt parse (warm):     {wall / warm_parse:.2f}")
    print(f"  dbt build wall − dbt parse (warm):     {wall - warm_parse:.2f}s of SQL and tests")
    print(f"  model SQL / SELECT COUNT(*) baseline:  {model_total / count_seconds:.1f}")
    verdict = "under" if wall < 10 else "OVER"
    print(f"\nmarts rebuild (dbt build wall, median): {wall:.2f}s — {verdict} the 10 s target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
