"""The code location: every asset, check, job, schedule, sensor and resource."""

from __future__ import annotations

import os

import dagster as dg

from synchub_pipelines import settings
from synchub_pipelines.defs.alerts import definitions as alerts
from synchub_pipelines.defs.alerts.destinations import AlertsResource
from synchub_pipelines.defs.catalog.assets import central_products, central_stock
from synchub_pipelines.defs.catalog.source import CatalogResource, source_from_env
from synchub_pipelines.defs.checks import checks
from synchub_pipelines.defs.column_schemas import with_column_schemas
from synchub_pipelines.defs.enrichment import definitions as enrichment
from synchub_pipelines.defs.events import definitions as events
from synchub_pipelines.defs.freshness import apply_freshness
from synchub_pipelines.defs.listings import definitions as listings
from synchub_pipelines.defs.marketplaces import BlingResource, MarketplacesResource
from synchub_pipelines.defs.marts import definitions as marts
from synchub_pipelines.defs.marts.resources import dbt_resource
from synchub_pipelines.defs.normalization import definitions as normalization
from synchub_pipelines.defs.orders import definitions as orders
from synchub_pipelines.defs.publishing import bling_catalog
from synchub_pipelines.defs.publishing import definitions as publishing
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stock import definitions as stock
from synchub_pipelines.defs.stores.assets import store_partitions_sensor, stores

DEMO_CATALOG = settings.PROJECT_ROOT / "synchub_pipelines" / "demo" / "catalog.csv"

catalog_job = dg.define_asset_job(
    "catalog_job",
    selection=dg.AssetSelection.groups("catalog", "stores"),
    description="Refresh the central catalog and the store list.",
)


def resources() -> dict[str, object]:
    def env(name: str, default: str = "") -> str:
        # An empty value (a bare `NAME=` line in a .env) means the default.
        return os.environ.get(name, "").strip() or default

    return {
        "warehouse": WarehouseResource(
            url=settings.warehouse_url(),
            secret_key=dg.EnvVar("SYNCHUB_SECRET_KEY") if env("SYNCHUB_SECRET_KEY") else None,
            buyer_salt=dg.EnvVar("SYNCHUB_BUYER_SALT") if env("SYNCHUB_BUYER_SALT") else "synchub",
        ),
        "catalog": CatalogResource(
            source=source_from_env(env("SYNCHUB_CATALOG_SOURCE")),
            file_path=env("SYNCHUB_CATALOG_FILE", str(DEMO_CATALOG)),
            bling=BlingResource.from_environment(),
        ),
        "marketplaces": MarketplacesResource.from_environment(),
        "dbt": dbt_resource(),
        "alerts": AlertsResource(
            webhook_url=env("SYNCHUB_ALERT_WEBHOOK_URL", ""),
            slack_token=dg.EnvVar("SYNCHUB_SLACK_TOKEN") if env("SYNCHUB_SLACK_TOKEN") else "",
            slack_channel=env("SYNCHUB_SLACK_CHANNEL", ""),
            min_severity=env("SYNCHUB_ALERT_MIN_SEVERITY", "warn"),
        ),
    }


def core_defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[central_products, central_stock, stores],
        asset_checks=checks,
        jobs=[catalog_job],
        sensors=[store_partitions_sensor],
        resources=resources(),
    )


# Each domain folder contributes its own Definitions; the resources come from core_defs().
defs = dg.Definitions.merge(
    core_defs(),
    listings.defs,
    orders.defs,
    events.defs,
    normalization.defs,
    stock.defs,
    publishing.defs,
    bling_catalog.defs,
    alerts.defs,
    marts.defs,
    enrichment.defs,
)
# Nothing goes stale silently: every asset that should be fresh says how fresh.
defs = apply_freshness(defs)
# Every table's columns, described once (warehouse/dictionary_tables.py), on its asset.
defs = with_column_schemas(defs)
