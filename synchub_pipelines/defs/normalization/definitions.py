"""The normalization domain's Dagster definitions, merged into the code location.

Nightly: the internal tree, mappings, normalized attributes and readiness. Weekly: the
marketplaces' trees and attribute rules. The Bling category sync runs on demand (it
writes to the ERP): `bling_category_plan_job` shows the plan, `bling_category_sync_job`
carries it out. Every piece has its own job for operators.
"""

from typing import Any

import dagster as dg

from synchub_pipelines.defs.normalization.assets import (
    bling_category_sync,
    category_mappings,
    internal_categories,
    listing_readiness,
    listing_readiness_is_explained,
    marketplace_categories,
    marketplace_required_attributes,
    product_attributes_normalized,
)

TIMEZONE = "America/Sao_Paulo"


def _job(name: str, description: str, *assets: dg.AssetsDefinition, **kw: object) -> Any:
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*assets),
        description=description,
        **kw,  # type: ignore[arg-type]
    )


category_tree_job = _job(
    "category_tree_job",
    "Load the internal category tree file into `categories`.",
    internal_categories,
)
bling_category_plan_job = _job(
    "bling_category_plan_job",
    "Dry run of the Bling category sync: the plan in the run's metadata, nothing written.",
    bling_category_sync,
    config={"ops": {"bling_category_sync": {"config": {"dry_run": True}}}},
)
bling_category_sync_job = _job(
    "bling_category_sync_job",
    "Create, rename and move Bling categories to follow the internal tree (logged).",
    bling_category_sync,
)
marketplace_trees_job = _job(
    "marketplace_trees_job",
    "Refresh the marketplaces' category trees, the mappings and their attribute rules.",
    marketplace_categories,
    category_mappings,
    marketplace_required_attributes,
)
category_mappings_job = _job(
    "category_mappings_job",
    "Map internal categories to marketplace categories (manual, else a suggestion).",
    category_mappings,
)
attribute_normalization_job = _job(
    "attribute_normalization_job",
    "Normalize the central products' attributes.",
    product_attributes_normalized,
)
listing_readiness_job = _job(
    "listing_readiness_job",
    "Recompute listing readiness per product × marketplace.",
    listing_readiness,
)
normalization_nightly_job = _job(
    "normalization_nightly_job",
    "Nightly: internal tree, mappings, normalized attributes and listing readiness.",
    internal_categories,
    category_mappings,
    product_attributes_normalized,
    listing_readiness,
)

nightly_normalization_schedule = dg.ScheduleDefinition(
    name="nightly_normalization_schedule",
    job=normalization_nightly_job,
    cron_schedule="30 2 * * *",
    execution_timezone=TIMEZONE,
    description="Every night at 02:30 (São Paulo): normalization and readiness.",
)
weekly_marketplace_trees_schedule = dg.ScheduleDefinition(
    name="weekly_marketplace_trees_schedule",
    job=marketplace_trees_job,
    cron_schedule="0 4 * * 0",
    execution_timezone=TIMEZONE,
    description="Sundays at 04:00 (São Paulo): marketplace category trees and attribute rules.",
)

defs = dg.Definitions(
    assets=[
        internal_categories,
        bling_category_sync,
        marketplace_categories,
        category_mappings,
        marketplace_required_attributes,
        product_attributes_normalized,
        listing_readiness,
    ],
    asset_checks=[listing_readiness_is_explained],
    jobs=[
        category_tree_job,
        bling_category_plan_job,
        bling_category_sync_job,
        marketplace_trees_job,
        category_mappings_job,
        attribute_normalization_job,
        listing_readiness_job,
        normalization_nightly_job,
    ],
    schedules=[nightly_normalization_schedule, weekly_marketplace_trees_schedule],
)
