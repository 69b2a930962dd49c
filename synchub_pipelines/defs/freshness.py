"""How fresh each asset should be, so that nothing goes stale silently.

Every materializable asset gets a default (36 hours, a warning after 26: a daily job that
missed one day shows), except the ones below: assets refreshed more often say so with a
tighter window, and the write assets — a push to the marketplaces, a sync to Bling — are
actions an operator turns on, not data that ages, so they carry none.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

DEFAULT = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=36), warn_window=timedelta(hours=26)
)
HOURLY = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=3), warn_window=timedelta(hours=2)
)
# Asset key → its own policy, or None for an action that is not data.
OWN: dict[str, dg.FreshnessPolicy | None] = {
    "central_products": HOURLY,
    "central_stock": HOURLY,
    "listings": HOURLY,
    "stock_snapshots": HOURLY,
    "shipments": HOURLY,
    "order_fees": HOURLY,
    "questions": HOURLY,
    "marketplace_categories": dg.FreshnessPolicy.time_window(
        fail_window=timedelta(days=8), warn_window=timedelta(days=7, hours=12)
    ),
    "marketplace_required_attributes": dg.FreshnessPolicy.time_window(
        fail_window=timedelta(days=8), warn_window=timedelta(days=7, hours=12)
    ),
    "stock_pushes": None,
    "allocatable_stock": None,
    "stock_push_plan": None,
    "bling_category_sync": None,
}


def with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    key = spec.key.to_user_string()
    if key in OWN:
        policy = OWN[key]
    elif spec.freshness_policy is not None:
        return spec
    else:
        policy = DEFAULT
    return spec.replace_attributes(freshness_policy=policy)


def apply_freshness(defs: dg.Definitions) -> dg.Definitions:
    return defs.permissive_map_resolved_asset_specs(
        func=with_freshness, selection=dg.AssetSelection.all().materializable()
    )
