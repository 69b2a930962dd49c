"""Small helpers the domain assets share: owners, write metadata, store resolution."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.models import Rejected, Store
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import reject_batch
from synchub_pipelines.warehouse.stores import load_store

OWNERS = ["team:data-platform"]


def quarantine(
    warehouse: WarehouseResource, rejects: Iterable[Rejected], context: dg.AssetExecutionContext
) -> int:
    """Keep malformed records in `ingest_errors` with their reason; the run goes on."""
    rejects = list(rejects)
    if rejects:
        from datetime import UTC, datetime

        upsert.write(warehouse.engine(), [reject_batch(rejects, datetime.now(UTC))])
        for rejected in rejects[:5]:
            context.log.warning(
                f"quarantined {rejected.source} {rejected.record_key}: {rejected.reason}"
            )
    return len(rejects)


def write_metadata(
    warehouse: WarehouseResource,
    table: str,
    rows: int,
    changed: Mapping[str, int],
    rejected: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "dagster/table_name": dg.MetadataValue.text(table),
        "rows_changed": dg.MetadataValue.json(dict(changed)),
        "rejected_records": dg.MetadataValue.int(rejected),
        "warehouse": dg.MetadataValue.text(warehouse.display_url),
        **extra,
    }


def resolve_store(warehouse: WarehouseResource, store_id: str) -> Store:
    try:
        store = load_store(warehouse.engine(), store_id)
    except (LookupError, ValueError) as exc:
        raise dg.Failure(str(exc)) from None
    assert store is not None
    return store
