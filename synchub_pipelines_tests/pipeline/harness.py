"""Runs the real pipeline against a loopback sandbox into a given warehouse."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dagster as dg
import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from synchub_pipelines import settings
from synchub_pipelines.connect import connect_mercadolivre
from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.marketplaces import (
    AmazonResource,
    BlingResource,
    MarketplacesResource,
    MercadoLivreResource,
    TikTokResource,
)
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.demo.run import DEMO_TABLES, materialize_everything
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.mercadolivre import MercadoLivreApp
from synchub_pipelines.models import DEFAULT_TIMEZONE
from synchub_pipelines.sandbox import mercadolivre as ml_sandbox
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.warehouse.credentials import SqlTokenStore
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate

# The noisy sandbox fails one request in four (429 or 5xx): with the default six attempts
# about one call in 4,000 exhausts them, and a run makes thousands. What the fault tests
# prove is that retried calls converge to the clean result, so they get enough attempts
# that exhausting them is out of reach (0.25**12 ≈ 6e-8).
FAST_RETRIES = HttpSettings(
    timeout_seconds=10, max_attempts=12, backoff_base_seconds=0.01, backoff_max_seconds=0.2
)


def ml_app(running: RunningSandbox) -> MercadoLivreApp:
    return MercadoLivreApp(
        client_id=ml_sandbox.APP_ID,
        client_secret=SecretStr(ml_sandbox.APP_SECRET),
        redirect_uri=ml_sandbox.REDIRECT_URI,
        api_url=running.base_url("mercadolivre"),
        auth_url=running.base_url("mercadolivre"),
        requests_per_second=2000,
        http=FAST_RETRIES,
    )


def authorization_code(app: MercadoLivreApp, seller_id: str) -> str:
    url, _ = app.authorization_url()
    answer = httpx.get(f"{url}&user_id={seller_id}", follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlparse(answer.headers["location"]).query)["code"][0]


def write_catalog(running: RunningSandbox, path: Path) -> Path:
    rows = running.sandbox.world.catalog_rows()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # A fixed "stock as of" instant, so warehouses built from two copies compare equal.
    os.utime(path, (1_773_500_000, 1_773_500_000))
    return path


@dataclass
class PipelineRun:
    store_ids: list[str]
    failed_checks: list[str]
    first_day: date
    last_day: date


class Harness:
    def __init__(self, running: RunningSandbox, warehouse_url: str, tmp: Path) -> None:
        self.running = running
        self.url = warehouse_url
        self.engine = engine_for(warehouse_url)
        migrate(self.engine)
        self.app = ml_app(running)
        self.catalog = write_catalog(running, tmp / "catalog.csv")
        self.token_store = SqlTokenStore(self.engine, settings.secret_key())

    def resources(self) -> dict[str, object]:
        base = self.running.base_url("mercadolivre")
        return {
            "warehouse": WarehouseResource(url=self.url),
            "catalog": CatalogResource(file_path=str(self.catalog), bling=BlingResource()),
            "marketplaces": MarketplacesResource(
                mercadolivre=MercadoLivreResource(
                    client_id=ml_sandbox.APP_ID,
                    client_secret=ml_sandbox.APP_SECRET,
                    redirect_uri=ml_sandbox.REDIRECT_URI,
                    api_url=base,
                    auth_url=base,
                    requests_per_second=2000,
                    max_attempts=FAST_RETRIES.max_attempts,
                ),
                tiktok=TikTokResource(),
                amazon=AmazonResource(),
            ),
        }

    def connect_all(self) -> list[str]:
        store_ids = []
        for seller in self.running.sandbox.world.sellers_of("mercadolivre"):
            code = authorization_code(self.app, seller.seller_id)
            store = connect_mercadolivre(self.app, code, self.engine, self.token_store)
            store_ids.append(store.store_id)
        return store_ids

    def world_days(self) -> tuple[date, date]:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(DEFAULT_TIMEZONE)
        orders = self.running.sandbox.world.orders
        first = min(o.created_at for o in orders).astimezone(zone).date() - timedelta(days=1)
        last = max(o.created_at for o in orders).astimezone(zone).date()
        return first, last

    def run(self, instance: dg.DagsterInstance, store_ids: list[str] | None = None) -> PipelineRun:
        store_ids = store_ids or self.connect_all()
        first, last = self.world_days()
        failed = materialize_everything(
            store_ids,
            first,
            last,
            instance=instance,
            resources=self.resources(),
            say=lambda _: None,
            normalize=False,
        )
        return PipelineRun(store_ids, failed, first, last)

    def snapshot(self, *, with_synced_at: bool = True) -> dict[str, list[tuple[object, ...]]]:
        """Every row of the ingestion tables (not stock snapshots: each run takes a new one).

        The normalization tables stamp when they fetched or evaluated; their own tests check
        that a re-run changes nothing.
        """
        tables = [t for t in DEMO_TABLES[: DEMO_TABLES.index("stock_snapshots")]]
        tables.append("ingest_errors")
        out = {}
        with self.engine.connect() as conn:
            for table in tables:
                columns = [
                    c["name"]
                    for c in sa.inspect(conn).get_columns(table)
                    if with_synced_at
                    or c["name"] not in {"synced_at", "first_seen_at", "connected_at"}
                ]
                rows = conn.execute(
                    sa.text(
                        f"SELECT {', '.join(columns)} FROM {table} ORDER BY "
                        + ", ".join(str(n) for n in range(1, len(columns) + 1))
                    )
                ).all()
                out[table] = [tuple(r) for r in rows]
        return out
