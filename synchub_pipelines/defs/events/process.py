"""The job the webhook sensor launches: one store's batch of events, in one cheap run."""

# No `from __future__ import annotations`: Dagster reads the op's config type at runtime.

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from synchub_pipelines.defs.events.event_log import (
    Failure,
    RetryPolicy,
    claim,
    mark_failed,
    mark_processed,
    quarantine,
)
from synchub_pipelines.defs.events.fetch import BatchResult, describe, process_events
from synchub_pipelines.defs.events.reporting import report_order_partitions
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stock import fast_push
from synchub_pipelines.defs.stock.push import PushRefused
from synchub_pipelines.warehouse.stores import load_store


class StoreEventsConfig(dg.Config):
    store_id: str = Field(description="The store whose events this run processes")
    seqs: list[int] = Field(description="webhook_events.seq of the events handed to this run")
    max_attempts: int = Field(default=5, description="Tries before an event ends `failed`")
    retry_base_seconds: float = Field(
        default=30.0, description="Backoff after the first failure; doubles each time"
    )
    retry_max_seconds: float = Field(default=3600.0, description="Longest backoff")
    lease_seconds: float = Field(
        default=600.0, description="How long a claim holds before another run may take it"
    )


@dg.op(
    description=(
        "Claims the store's events, fetches the orders and listings they name by id, "
        "upserts them, and marks each event processed — or retried with backoff, or "
        "failed with the reason after the last attempt."
    ),
    tags={"domain": "events"},
)
def process_store_events(
    context: dg.OpExecutionContext,
    config: StoreEventsConfig,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.Output[None]:
    engine = warehouse.engine()
    policy = RetryPolicy(config.max_attempts, config.retry_base_seconds, config.retry_max_seconds)
    now = datetime.now(UTC)
    claimed = claim(
        engine, config.store_id, config.seqs, now, timedelta(seconds=config.lease_seconds)
    )
    if not claimed:
        context.log.info("no event left to claim (another run took them, or none is due)")
        return dg.Output(None, metadata={"events_claimed": 0})
    try:
        store = load_store(engine, config.store_id, missing_ok=True)
    except ValueError as exc:
        store, unknown = None, str(exc)
    else:
        unknown = f"store {config.store_id} is not connected"
    if store is None:
        quarantine(engine, [e.seq for e in claimed], unknown)
        context.log.warning(f"{len(claimed)} event(s) quarantined: {unknown}")
        return dg.Output(None, metadata={"events_quarantined": len(claimed)})

    try:
        client = marketplaces.client_for(store, warehouse)
        try:
            result = process_events(client, engine, claimed)
        finally:
            client.close()
    except Exception as exc:
        # No client, or the warehouse refused the write: every claimed event counts an
        # attempt (so a persistent fault ends in `failed`, not in an endless loop).
        outcome = mark_failed(
            engine, [Failure(e, describe(exc)) for e in claimed], datetime.now(UTC), policy
        )
        context.log.error(
            f"{len(claimed)} event(s) not processed ({len(outcome.retrying)} to retry, "
            f"{len(outcome.failed)} failed for good): {describe(exc)}"
        )
        raise

    finished = datetime.now(UTC)
    mark_processed(engine, result.processed, finished)
    outcome = mark_failed(engine, result.failures, finished, policy)
    seqs = [e.seq for e in claimed]
    partitions = report_order_partitions(
        context,
        store.store_id,
        result.orders,
        source="webhook events",
        extra={"event_seqs": dg.MetadataValue.text(f"{min(seqs)}-{max(seqs)}")},
    )
    summary = {
        "events_claimed": dg.MetadataValue.int(len(claimed)),
        "events_processed": dg.MetadataValue.int(len(result.processed)),
        "events_retrying": dg.MetadataValue.int(len(outcome.retrying)),
        "events_failed": dg.MetadataValue.int(len(outcome.failed)),
        "ignored_topics": dg.MetadataValue.int(result.ignored_topics),
        "orders_fetched": dg.MetadataValue.int(len(result.orders)),
        "listings_fetched": dg.MetadataValue.int(len(result.listings)),
        "shipments_fetched": dg.MetadataValue.int(len(result.shipments)),
        "questions_fetched": dg.MetadataValue.int(len(result.questions)),
        "order_facts_read": dg.MetadataValue.int(result.facts_read),
        "rejected_records": dg.MetadataValue.int(result.rejected),
        "rows_changed": dg.MetadataValue.json(result.changed),
        "order_partitions": dg.MetadataValue.json(partitions),
    }
    stock_problem = None
    if fast_push.enabled() and result.orders:
        stock_problem = _push_sold_stock(
            context, warehouse, marketplaces, store.store_id, result, summary
        )
    if result.facts_error:
        context.log.warning(
            f"orders written; their fees and shipments wait for the scheduled refresh: "
            f"{result.facts_error}"
        )
    context.log.info(
        f"{config.store_id}: {len(result.processed)}/{len(claimed)} events processed, "
        f"{len(result.orders)} orders and {len(result.listings)} listings written"
    )
    if result.failures:
        reasons = sorted({f.reason for f in result.failures})
        raise dg.Failure(
            description=(
                f"{len(result.failures)} of {len(claimed)} event(s) not processed "
                f"({len(outcome.retrying)} will be retried, {len(outcome.failed)} failed): "
                + "; ".join(reasons[:5])
                + (f"; and the stock push: {stock_problem}" if stock_problem else "")
            ),
            metadata=summary,
        )
    if stock_problem:
        # The events are processed (not retried); the sweep or the next sale repairs stock.
        raise dg.Failure(
            description=f"stock push after the sale: {stock_problem}", metadata=summary
        )
    return dg.Output(None, metadata=summary)


def _push_sold_stock(
    context: dg.OpExecutionContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
    store_id: str,
    result: BatchResult,
    summary: dict[str, Any],
) -> str | None:
    """The sold SKUs' listings everywhere, from this run (SYNCHUB_PUSH_STOCK_ON_SALE); what
    went wrong, if anything, for the run's failure."""
    try:
        pushed = fast_push.push_after_sale(
            context, warehouse, marketplaces, store_id, [o.order_id for o in result.orders]
        )
    except PushRefused as exc:
        return str(exc)
    report = pushed.report
    summary["stock_skus_pushed"] = dg.MetadataValue.int(sum(len(s) for s in pushed.skus.values()))
    if report is None:
        return None
    summary["stock_writes_planned"] = dg.MetadataValue.int(len(report.planned))
    summary["stock_writes_done"] = dg.MetadataValue.int(report.written)
    summary["stock_writes_failed"] = dg.MetadataValue.int(len(report.failed))
    context.log.info(
        f"stock: {report.written} of {len(report.planned)} listing(s) written for "
        f"{sum(len(s) for s in pushed.skus.values())} sold SKU(s)"
    )
    if report.failed:
        problems = [f"{w.key[0]} {w.key[1]}: {o.answer[:120]}" for w, o in report.failed[:5]]
        return f"{len(report.failed)} stock write(s) failed ({'; '.join(problems)})"
    return None


@dg.job(
    description="Processes one store's batch of webhook events (launched by the sensor).",
    executor_def=dg.in_process_executor,
    # Events carry their own retries (attempts, backoff); a crashed run's claims expire and
    # the sensor hands the events out again.
    tags={"dagster/max_retries": "0", "domain": "events"},
)
def store_events_job() -> None:
    process_store_events()
