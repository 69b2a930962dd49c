"""Data-quality checks written as "this query finds no offending row"."""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.schema import UtcTimestamp

Params = Callable[[], Mapping[str, Any]]


def _bound(sql: str, params: Mapping[str, Any]) -> sa.TextClause:
    """The query with its instants typed, so SQLite compares them in its stored format."""
    text = sa.text(sql)
    typed = [
        sa.bindparam(k, type_=UtcTimestamp) for k, v in params.items() if isinstance(v, datetime)
    ]
    return text.bindparams(*typed) if typed else text


def no_rows_check(
    asset: str,
    name: str,
    offending_sql: str,
    description: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    blocking: bool = False,
    params: Params | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.AssetChecksDefinition:
    """A check that passes when `offending_sql` returns no row; shows a sample when it fails.
    `params` gives the query's bound values at check time (e.g. a cut-off instant). A check
    partitioned by store checks the partition's store only: the query reads `:store_id`."""

    @dg.asset_check(
        asset=asset,
        name=name,
        description=description,
        blocking=blocking,
        partitions_def=partitions_def,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        values = dict(params()) if params else {}
        if partitions_def is not None:
            values["store_id"] = context.partition_key
        with warehouse.engine().connect() as conn:
            count = conn.execute(
                _bound(f"SELECT COUNT(*) FROM ({offending_sql}) offending", values), values
            ).scalar_one()
            sample = (
                conn.execute(_bound(f"{offending_sql} LIMIT 10", values), values).mappings().all()
                if count
                else []
            )
        return dg.AssetCheckResult(
            passed=count == 0,
            severity=severity,
            metadata={
                "offending_rows": dg.MetadataValue.int(int(count)),
                "sample": dg.MetadataValue.json(
                    [{k: str(v) for k, v in r.items()} for r in sample]
                ),
            },
        )

    return _check


def unique_key_check(asset: str, table: str, keys: tuple[str, ...]) -> dg.AssetChecksDefinition:
    cols = ", ".join(keys)
    return no_rows_check(
        asset,
        f"{table}_unique_key",
        f"SELECT {cols}, COUNT(*) AS copies FROM {table} GROUP BY {cols} HAVING COUNT(*) > 1",
        f"Each ({cols}) appears once in `{table}`.",
    )
