"""Webhook receiver throughput on loopback: accepted notifications/s and latency, durably stored.

The receiver runs as `synchub webhooks serve` in its own process against a throwaway
PostgreSQL database (optionally also a SQLite file). This process fires N signed
notifications (Mercado Livre, Shopee, TikTok and Bling in turn, each a distinct event) over
C keep-alive connections from a minimal asyncio HTTP/1.1 client — pre-built request bytes,
so the client spends its CPU on sending, not on building requests. Every 2xx is counted
only if its row is in the database afterwards.

Baselines measured in the same run, on the same machine, with the same client and load:
- "HTTP only": a trivial Starlette app under the same uvicorn, answering 200 with an empty
  body on the same four routes without verifying or storing — the ceiling this machine's
  HTTP stack and client allow; `ratio` is each run's throughput over it;
- "one commit per event": the receiver with SYNCHUB_WEBHOOK_MAX_BATCH=1, i.e. without
  group commit (each notification its own INSERT and commit).

The receiver runs exactly as `synchub webhooks serve` starts it (uvicorn with httptools and
uvloop when installed, one worker unless --workers says otherwise).

Usage: python benchmarks/receiver.py [--requests 10000] [--concurrency 32,64] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill import free_port, throwaway_database

ML_APP_ID = "5503910054141466"
SHOPEE_KEY = "bench-shopee-partner-key"
TIKTOK_KEY, TIKTOK_SECRET = "bench-tiktok-app-key", "bench-tiktok-app-secret"
BLING_SECRET = "bench-bling-client-secret"
STORES = {"mercadolivre": "1001", "shopee": "600001", "tiktok": "7494049642642441621"}


def _hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def notifications(count: int, run: str, public_url: str, forged: bool) -> list[bytes]:
    """`count` raw HTTP requests, each a distinct event; `forged` signs with a wrong key."""
    requests: list[bytes] = []
    bad = "wrong-key" if forged else None
    for i in range(count):
        kind = i % 4
        event = f"{run}-{i:08d}"
        headers: dict[str, str] = {}
        if kind == 0:
            path = "/webhooks/mercadolivre"
            body = json.dumps(
                {
                    "_id": event,
                    "resource": f"/orders/2000{i:012d}",
                    "user_id": 1001,
                    "topic": "orders_v2",
                    "application_id": int("1" if forged else ML_APP_ID),
                    "attempts": 1,
                    "sent": "2026-03-14T15:00:00.000Z",
                }
            ).encode()
        elif kind == 1:
            path = "/webhooks/shopee"
            body = json.dumps(
                {
                    "shop_id": 600001,
                    "code": 3,
                    "data": {"ordersn": event, "status": "READY_TO_SHIP", "update_time": i},
                    "timestamp": 1773500000,
                }
            ).encode()
            headers["Authorization"] = _hex(
                bad or SHOPEE_KEY, f"{public_url}{path}|".encode() + body
            )
        elif kind == 2:
            path = "/webhooks/tiktok"
            body = json.dumps(
                {
                    "type": 1,
                    "tts_notification_id": event,
                    "shop_id": STORES["tiktok"],
                    "timestamp": 1773500000,
                    "data": {"order_id": f"5764{i:010d}", "order_status": "AWAITING_SHIPMENT"},
                }
            ).encode()
            headers["Authorization"] = _hex(bad or TIKTOK_SECRET, TIKTOK_KEY.encode() + body)
        else:
            path = "/webhooks/bling"
            body = json.dumps(
                {
                    "eventId": event,
                    "date": "2026-03-14T15:00:00Z",
                    "version": "v1",
                    "event": "order.updated",
                    "companyId": "c0ffee",
                    "data": {"id": 16000000 + i},
                }
            ).encode()
            headers["X-Bling-Signature-256"] = "sha256=" + _hex(bad or BLING_SECRET, body)
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        requests.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return requests


@dataclass
class Result:
    statuses: dict[int, int]
    latencies: list[float]
    seconds: float

    def count(self, low: int, high: int) -> int:
        return sum(n for status, n in self.statuses.items() if low <= status < high)

    def percentile(self, q: float) -> float:
        return statistics.quantiles(self.latencies, n=100)[int(q) - 1] * 1000


async def _connection(port: int, queue: Iterator[bytes], result: Result) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in queue:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _fire(port: int, requests: list[bytes], concurrency: int) -> Result:
    result = Result({}, [], 0.0)
    queue = iter(requests)  # shared: each connection takes the next request when free
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, queue, result) for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def fire(port: int, requests: list[bytes], concurrency: int) -> Result:
    try:
        import uvloop

        return uvloop.run(_fire(port, requests, concurrency))
    except ImportError:
        return asyncio.run(_fire(port, requests, concurrency))


def prepare(url: str) -> sa.Engine:
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate
    from synchub_pipelines.warehouse.schema import stores

    engine = engine_for(url)
    migrate(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(stores),
            [
                {"store_id": f"{m}-{s}", "marketplace": m, "seller_id": s, "name": m,
                 "connected_at": now, "synced_at": now}
                for m, s in STORES.items()
            ],
        )  # fmt: skip
    return engine


def stored_events(engine: sa.Engine, run: str) -> int:
    from synchub_pipelines.warehouse.schema import webhook_events

    query = sa.select(sa.func.count()).where(
        webhook_events.c.payload.contains(f'"{run}-'), webhook_events.c.state == "pending"
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


@contextmanager
def served(command: list[str], env: dict[str, str], port: int, probe: str) -> Iterator[None]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{command[2:5]} did not start")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def receiver_env(url: str, public_url: str, max_batch: int | None) -> dict[str, str]:
    env = {
        **os.environ,
        "SYNCHUB_WAREHOUSE_URL": url,
        "SYNCHUB_WEBHOOK_PUBLIC_URL": public_url,
        "SYNCHUB_ML_CLIENT_ID": ML_APP_ID,
        "SYNCHUB_SHOPEE_PARTNER_KEY": SHOPEE_KEY,
        "SYNCHUB_TIKTOK_APP_KEY": TIKTOK_KEY,
        "SYNCHUB_TIKTOK_APP_SECRET": TIKTOK_SECRET,
        "SYNCHUB_BLING_CLIENT_SECRET": BLING_SECRET,
    }
    if max_batch is not None:
        env["SYNCHUB_WEBHOOK_MAX_BATCH"] = str(max_batch)
    return env


def run_receiver(
    engine: sa.Engine, label: str, count: int, concurrency: int, workers: int,
    max_batch: int | None = None,
) -> tuple[str, Result, int | None]:  # fmt: skip
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    url = engine.url.render_as_string(hide_password=False)
    command = [sys.executable, "-m", "synchub_pipelines.cli", "webhooks", "serve"]
    command += ["--port", str(port), "--workers", str(workers)]
    run = f"r{time.monotonic_ns() % 10**9}"
    with served(command, receiver_env(url, public_url, max_batch), port, "/healthz"):
        fire(port, notifications(400, run + "w", public_url, False), concurrency)  # warm-up
        result = fire(port, notifications(count, run, public_url, False), concurrency)
    return label, result, stored_events(engine, run)


def run_http_only(count: int, concurrency: int) -> tuple[str, Result, int | None]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "receiver:http_only_app", "--app-dir"]
    command += [str(Path(__file__).resolve().parent), "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    with served(command, dict(os.environ), port, "/webhooks/bling"):
        fire(port, notifications(400, "w", "", False), concurrency)
        result = fire(port, notifications(count, "h", "", False), concurrency)
    return f"HTTP only (no verify, no storage), {concurrency} conn", result, None


def _http_only_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def accept(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    paths = [f"/webhooks/{m}" for m in ("mercadolivre", "shopee", "tiktok", "bling")]
    return Starlette(routes=[Route(p, accept, methods=["GET", "POST"]) for p in paths])


def __getattr__(name: str) -> Any:
    # `uvicorn receiver:http_only_app` builds the baseline app only when asked for it.
    if name == "http_only_app":
        return _http_only_app()
    raise AttributeError(name)


def report(rows: list[tuple[str, Result, int | None]], reference: float) -> None:
    print(f"{'run':<44}{'answers':>12}{'stored':>8}{'ok/s':>7}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'ratio':>7}")  # fmt: skip
    for label, result, stored in rows:
        answered = ", ".join(f"{n}×{s}" for s, n in sorted(result.statuses.items()))
        rate = result.count(200, 300) / result.seconds
        print(
            f"{label:<44}{answered:>12}{'' if stored is None else stored:>8}{rate:>7.0f}"
            f"{result.percentile(50):>8.1f}{result.percentile(99):>8.1f}{rate / reference:>7.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--concurrency", default="32,64", help="connections; a list runs each")
    parser.add_argument("--workers", type=int, default=1, help="receiver processes")
    parser.add_argument("--sqlite", action="store_true", help="also measure a SQLite warehouse")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    os.environ["SYNCHUB_DATA_DIR"] = tempfile.mkdtemp(prefix="synchub-bench-")
    n, w = args.requests, args.workers
    levels = [int(c) for c in args.concurrency.split(",")]

    rows = [run_http_only(n, levels[-1])]
    with throwaway_database(args.pg) as (url, _):
        engine = prepare(url)
        for c in levels:
            rows.append(run_receiver(engine, f"postgres, group commit, {c} conn", n, c, w))
        label = f"postgres, one commit per event, {levels[-1]} conn"
        rows.append(run_receiver(engine, label, n // 5, levels[-1], w, max_batch=1))
        engine.dispose()
    if args.sqlite:
        engine = prepare(f"sqlite:///{os.environ['SYNCHUB_DATA_DIR']}/warehouse.sqlite")
        rows.append(
            run_receiver(engine, f"sqlite, group commit, {levels[-1]} conn", n, levels[-1], w)
        )
    print(f"\n{n} notifications per run, loopback, {w} receiver worker(s), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    report(rows, reference=rows[0][1].count(200, 300) / rows[0][1].seconds)
    print("\nratio: accepted/s over the HTTP-only baseline's answers/s (same client, same run)")
    failed = [label for label, result, stored in rows if stored is not None
              and stored != result.count(200, 300)]  # fmt: skip
    if failed:
        print(f"MISMATCH between 2xx answers and stored rows: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
