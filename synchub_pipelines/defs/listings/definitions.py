"""The listings domain's Dagster definitions: listings and stock snapshots refresh per store
on a schedule (so `stock_snapshots` accrues history), and links follow listings."""

import dagster as dg

from synchub_pipelines.defs.listings.assets import listing_links, listings
from synchub_pipelines.defs.stock.assets import stock_snapshots
from synchub_pipelines.defs.store_schedules import per_store_schedule

listings_job = dg.define_asset_job(
    "listings_job",
    selection=dg.AssetSelection.assets(listings, stock_snapshots),
    description="Listings and a stock snapshot of one store.",
)

listing_links_job = dg.define_asset_job(
    "listing_links_job",
    selection=dg.AssetSelection.assets(listing_links),
    description="Binds every listing variation to its central SKU (also run by automation).",
)

listings_refresh_schedule = per_store_schedule(
    "listings_refresh",
    listings_job,
    "5 * * * *",
    "Hourly, per store: every listing (price, status and its reason, quantity) and a stock "
    "snapshot, so `stock_snapshots` holds the published quantities over time.",
)

# Links follow listings and the catalog whenever either changes, without a schedule.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "synchub_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Evaluates the assets' automation conditions (listing_links after listings).",
)

defs = dg.Definitions(
    assets=[listings, listing_links, stock_snapshots],
    jobs=[listings_job, listing_links_job],
    schedules=[listings_refresh_schedule],
    sensors=[automation_sensor],
)
