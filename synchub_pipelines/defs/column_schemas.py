"""Column schemas on the assets, from the data dictionary, so the Dagster UI explains data.

An operator who opens `orders` in the UI should see what `payout_amount` means and in what
unit without leaving it. Every asset that writes a warehouse table gets that table's
`dagster/column_schema` (and `dagster/table_name`): each column's PostgreSQL type, whether
it may be NULL, whether it is part of the key, and the dictionary's description with its
unit — the same words as `COMMENT ON` in PostgreSQL and docs/dictionary.md.

Which table an asset writes is `checks.TABLE_ASSET` (the table → asset map the unique-key
checks use). An asset that writes several tables shows its main one: the table named like
the asset, else the one in `MAIN_TABLE`. The dbt marts already carry theirs (dagster-dbt
reads the columns of their schema.yml) and are left as they are.
"""

from __future__ import annotations

import dagster as dg

from synchub_pipelines.defs.checks import TABLE_ASSET
from synchub_pipelines.warehouse import dictionary, schema

# Assets that write several tables, none named like the asset: the table the UI shows.
MAIN_TABLE: dict[str, str] = {
    "bling_category_sync": "bling_category_links",
    "order_reconciliation": "reconciliation_runs",
}


def asset_tables() -> dict[str, str]:
    """Asset key → the table whose schema it shows."""
    written: dict[str, set[str]] = {}
    for table, asset in TABLE_ASSET.items():
        written.setdefault(asset, set()).add(table)
    shown = {}
    for asset, tables in written.items():
        if asset in MAIN_TABLE:
            shown[asset] = MAIN_TABLE[asset]
        elif asset in tables:
            shown[asset] = asset
        elif len(tables) == 1:
            shown[asset] = next(iter(tables))
        else:
            raise ValueError(
                f"asset {asset} writes {sorted(tables)}: name its main table in MAIN_TABLE"
            )
    return shown


def table_schema(table_name: str) -> dg.TableSchema:
    table = schema.metadata.tables[table_name]
    key = dictionary.key_of(table)
    doc = dictionary.DOCS.get(table_name)
    table_facts = [f"key ({', '.join(key)})"]
    if doc is not None:
        table_facts.append(f"grain: {doc.grain}")
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=column.type,
                description=column.comment,
                constraints=dg.TableColumnConstraints(
                    nullable=column.nullable,
                    unique=key == (column.name,),
                    other=["key"] if column.in_key else [],
                ),
            )
            for column in dictionary.columns_of(table)
        ],
        constraints=dg.TableConstraints(other=table_facts),
    )


def with_column_schema(spec: dg.AssetSpec, shown: dict[str, str] | None = None) -> dg.AssetSpec:
    table = (shown if shown is not None else asset_tables()).get(spec.key.to_user_string())
    if table is None:
        return spec
    metadata = {
        **(spec.metadata or {}),
        "dagster/column_schema": dg.MetadataValue.table_schema(table_schema(table)),
    }
    metadata.setdefault("dagster/table_name", table)
    return spec.replace_attributes(metadata=metadata)


def with_column_schemas(defs: dg.Definitions) -> dg.Definitions:
    """Every asset that writes a warehouse table shows that table's columns (idempotent)."""
    shown = asset_tables()
    return defs.permissive_map_resolved_asset_specs(
        func=lambda spec: with_column_schema(spec, shown),
        selection=dg.AssetSelection.all().materializable(),
    )
