"""Backfill benchmark: a large sandbox store's order history into PostgreSQL.

Runs the real `orders` asset (dg.materialize over the whole date range × the store, as a
backfill run would) against the sandbox served by a separate process on loopback, with no
artificial latency or faults, into a throwaway PostgreSQL database. Prints:

- end-to-end orders/s and the same figure for a plain COPY of the very same rows into an
  empty table (the limit: what PostgreSQL ingests with nothing else to do), and the ratio;
- the peak resident memory growth of this process and its workers in each quarter of the
  run (flat memory: once the worker processes are up, the last quarter — by when twice as
  many orders have landed as at the end of the second — is no higher than the second).

Usage: python benchmarks/backfill.py [--size large] [--pg postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import psycopg
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
SP = ZoneInfo("America/Sao_Paulo")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_process(size: str, marketplaces: str, limits: list[str] | None = None):  # type: ignore[no-untyped-def]
    port = free_port()
    command = [
        sys.executable, "-m", "synchub_pipelines.cli", "sandbox", "serve",
        "--port", str(port), "--size", size, "--marketplaces", marketplaces, "--one-account",
        "--prewarm",
    ]  # fmt: skip
    for limit in limits if limits is not None else ["mercadolivre=1000000"]:
        command += ["--rate-limit", limit]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    RssSampler.exclude.add(process.pid)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/_sandbox/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("sandbox did not start")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def throwaway_database(admin_url: str):  # type: ignore[no-untyped-def]
    name = f"synchub_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False), name
    finally:
        from synchub_pipelines.warehouse.engine import engine_for

        engine_for.cache_clear()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RssSampler:
    """Resident memory of this process and its workers over a run, sampled from /proc."""

    exclude: set[int] = set()  # the sandbox's process: not ours to measure

    def __init__(self) -> None:
        self.baseline = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        """This process plus its children (backfill workers), not the sandbox's process."""
        me = os.getpid()
        pids = [me]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == me and int(entry) not in RssSampler.exclude:  # ppid
                    pids.append(int(entry))
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/statm") as handle:
                    total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except OSError:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.current()))
            time.sleep(0.05)

    def quarter_peaks(self) -> list[int]:
        """The highest sample in each quarter of the sampled time."""
        start, end = self.samples[0][0], self.samples[-1][0]
        span = (end - start) / 4 or 1.0
        peaks = [self.baseline] * 4
        for moment, rss in self.samples:
            quarter = min(3, int((moment - start) / span))
            peaks[quarter] = max(peaks[quarter], rss)
        return peaks

    def __enter__(self) -> RssSampler:
        self.baseline = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def connect_store(api_url: str, warehouse_url: str) -> str:
    from synchub_pipelines import settings
    from synchub_pipelines.connect import connect_mercadolivre, mercadolivre_app_from_env
    from synchub_pipelines.warehouse.credentials import SqlTokenStore
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate

    engine = engine_for(warehouse_url)
    migrate(engine)
    app = mercadolivre_app_from_env()
    url, _ = app.authorization_url()
    answer = httpx.get(url, follow_redirects=False)
    code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
    store = connect_mercadolivre(app, code, engine, SqlTokenStore(engine, settings.secret_key()))
    return store.store_id


def materialize_orders(store_id: str, first: date, last: date) -> float:
    import dagster as dg

    from synchub_pipelines.definitions import defs
    from synchub_pipelines.defs.stores.assets import sync_store_partitions

    orders_asset = next(
        a
        for a in defs.assets or []
        if isinstance(a, dg.AssetsDefinition) and dg.AssetKey("orders") in a.keys
    )
    instance = dg.DagsterInstance.ephemeral()
    sync_store_partitions(instance, [store_id])
    start = dg.MultiPartitionKey({"date": first.isoformat(), "store": store_id})
    end = dg.MultiPartitionKey({"date": last.isoformat(), "store": store_id})
    began = time.perf_counter()
    result = dg.materialize(
        [orders_asset],
        instance=instance,
        resources=defs.resources,
        tags={
            "dagster/asset_partition_range_start": str(start),
            "dagster/asset_partition_range_end": str(end),
        },
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    assert result.success
    return time.perf_counter() - began


def copy_baseline(db_name: str, admin_url: str) -> tuple[int, float]:
    """COPY the rows the backfill landed into empty twin tables: PostgreSQL's ingest limit."""
    url = make_url(admin_url).set(database=db_name).render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        orders = conn.execute("SELECT * FROM orders").fetchall()
        items = conn.execute("SELECT * FROM order_items").fetchall()
        conn.execute("CREATE TABLE copy_orders (LIKE orders INCLUDING ALL)")
        conn.execute("CREATE TABLE copy_items (LIKE order_items INCLUDING ALL)")
        conn.commit()
        began = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy("COPY copy_orders FROM STDIN") as copy:
                for row in orders:
                    copy.write_row(row)
            with cur.copy("COPY copy_items FROM STDIN") as copy:
                for row in items:
                    copy.write_row(row)
        conn.commit()
        return len(orders), time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=["tiny", "demo", "large"])
    parser.add_argument("--pg", default=os.environ.get(
        "SYNCHUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
    args = parser.parse_args()

    os.environ.setdefault("SYNCHUB_SECRET_KEY", Fernet.generate_key().decode())
    os.environ["SYNCHUB_DATA_DIR"] = str(Path(os.environ.get("TMPDIR", "/tmp")) / "synchub-bench")
    from synchub_pipelines.demo.sandbox_accounts import configure_sandbox_env
    from synchub_pipelines.sandbox.world import WorldSize

    size = WorldSize.named(args.size)
    anchor_day = datetime.now(UTC).astimezone(SP).date()
    first = anchor_day - timedelta(days=size.days + 1)
    print(f"world: {size.orders_per_seller} orders over {size.days} days, one Mercado Livre store")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the run")
    with (
        sandbox_process(args.size, "mercadolivre") as api,
        throwaway_database(args.pg) as (url, db),
    ):
        configure_sandbox_env(api)
        os.environ["SYNCHUB_ML_REQUESTS_PER_SECOND"] = "100000"
        os.environ["SYNCHUB_WAREHOUSE_URL"] = url
        store_id = connect_store(f"{api}/mercadolivre", url)

        with RssSampler() as memory:
            seconds = materialize_orders(store_id, first, anchor_day)
        copied, copy_seconds = copy_baseline(db, args.pg)

    e2e = copied / seconds
    copy_rate = copied / copy_seconds
    print(f"orders backfilled:           {copied} in one run over {size.days + 2} days")
    print(f"end to end:                  {seconds:.1f}s = {e2e:,.0f} orders/s "
          "(run start to finish: Dagster run, workers, fetch, parse, COPY, merge)")  # fmt: skip
    print(f"plain COPY of the same rows: {copy_seconds:.2f}s = {copy_rate:,.0f} orders/s")
    print(f"end-to-end / plain COPY:     {e2e / copy_rate:.2f}")
    mib = 1024 * 1024
    peaks = [(peak - memory.baseline) / mib for peak in memory.quarter_peaks()]
    print(f"peak RSS growth per quarter of the run (MiB): {', '.join(f'{p:,.0f}' for p in peaks)}")
    print(
        f"last quarter / second quarter: {peaks[3] / max(peaks[1], 1):.2f} (flat memory: about "
        "1.0 once the workers are up, though twice the orders have landed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
