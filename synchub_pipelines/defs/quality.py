"""Data-quality checks written as "this query finds no offending row"."""

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.resources import WarehouseResource


def no_rows_check(
    asset: str,
    name: str,
    offending_sql: str,
    description: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    blocking: bool = False,
) -> dg.AssetChecksDefinition:
    """A check that passes when `offending_sql` returns no row; shows a sample when it fails."""

    @dg.asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.engine().connect() as conn:
            count = conn.execute(
                sa.text(f"SELECT COUNT(*) FROM ({offending_sql}) offending")
            ).scalar_one()
            sample = (
                conn.execute(sa.text(f"{offending_sql} LIMIT 10")).mappings().all() if count else []
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
