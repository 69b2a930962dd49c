"""Schedules that launch one run per connected store of a store-partitioned job.

A store whose marketplace is not configured in this deployment (its credentials unset) is
left out with the reason, rather than failing a run every tick; when no store is left,
the tick is skipped with the reason.
"""

from collections.abc import Collection
from datetime import UTC, datetime

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.stores import load_stores


def per_store_schedule(
    name: str,
    job: UnresolvedAssetJobDefinition,
    cron_schedule: str,
    description: str,
    only: Collection[str] | None = None,
    execution_timezone: str | None = None,
) -> dg.ScheduleDefinition:
    """Every tick, one run of `job` per connected store (of the marketplaces `only` names,
    if given)."""

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron_schedule,
        execution_timezone=execution_timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    def _schedule(
        context: dg.ScheduleEvaluationContext,
        warehouse: WarehouseResource,
        marketplaces: MarketplacesResource,
    ) -> list[dg.RunRequest] | dg.SkipReason:
        stores = [
            s
            for s in load_stores(warehouse.engine())
            if only is None or s.marketplace.value in only
        ]
        unconfigured = sorted(
            {s.marketplace.value for s in stores if not marketplaces.is_configured(s.marketplace)}
        )
        ready = [s for s in stores if marketplaces.is_configured(s.marketplace)]
        if unconfigured:
            context.log.info(f"skipping stores of {', '.join(unconfigured)}: not configured here")
        if not ready:
            wanted = ", ".join(sorted(only)) if only else "any marketplace"
            why = f" ({', '.join(unconfigured)} not configured)" if unconfigured else ""
            return dg.SkipReason(f"no connected store of {wanted} to run{why}")
        tick = context.scheduled_execution_time or datetime.now(UTC)
        return [
            dg.RunRequest(
                run_key=f"{name}:{store.store_id}:{tick.isoformat()}",
                partition_key=store.store_id,
                tags={
                    "synchub/store": store.store_id,
                    "synchub/marketplace": store.marketplace.value,
                },
            )
            for store in ready
        ]

    return _schedule
