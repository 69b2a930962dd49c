"""The Dagster UI shows each asset's table: columns, types, keys and the dictionary's words."""

from __future__ import annotations

import dagster as dg
import pytest

from synchub_pipelines.defs.checks import TABLE_ASSET
from synchub_pipelines.defs.column_schemas import (
    MAIN_TABLE,
    asset_tables,
    table_schema,
    with_column_schemas,
)
from synchub_pipelines.warehouse import dictionary, schema


@pytest.fixture(scope="module")
def specs() -> dict[str, dg.AssetSpec]:
    from synchub_pipelines.definitions import defs

    mapped = with_column_schemas(defs)
    dg.Definitions.validate_loadable(mapped)
    return {s.key.to_user_string(): s for s in mapped.resolve_all_asset_specs()}


def column_schema(spec: dg.AssetSpec) -> dg.TableSchema:
    value = (spec.metadata or {}).get("dagster/column_schema")
    if isinstance(value, dg.TableSchemaMetadataValue):
        return value.schema
    assert isinstance(value, dg.TableSchema), spec.key  # as dagster-dbt leaves it
    return value


def test_every_asset_that_writes_a_table_shows_it(specs: dict[str, dg.AssetSpec]) -> None:
    shown = asset_tables()
    assert set(shown) == set(TABLE_ASSET.values())
    for asset, table_name in shown.items():
        assert asset in specs, f"asset {asset} (writes {table_name}) is not in the location"
        table = schema.metadata.tables[table_name]
        columns = column_schema(specs[asset]).columns
        assert [c.name for c in columns] == [c.name for c in table.columns], asset
        for shown_column, column in zip(columns, dictionary.columns_of(table), strict=True):
            assert shown_column.type == column.type
            assert shown_column.description == column.comment
            assert shown_column.description != "(undocumented)", f"{table_name}.{column.name}"
            assert shown_column.constraints.nullable == column.nullable
        assert specs[asset].metadata["dagster/table_name"] == table_name


def test_an_asset_of_several_tables_shows_its_main_one() -> None:
    shown = asset_tables()
    assert shown["orders"] == "orders"  # not order_status_history
    assert shown["stock_pushes"] == "stock_pushes"  # not stock_listing_state
    for asset, table in MAIN_TABLE.items():
        assert TABLE_ASSET[table] == asset


def test_keys_and_grain_are_shown() -> None:
    orders = table_schema("orders")
    keyed = [c.name for c in orders.columns if "key" in c.constraints.other]
    assert keyed == ["store_id", "order_id"]
    assert orders.constraints is not None
    assert orders.constraints.other == [
        "key (store_id, order_id)",
        "grain: one row per store × order",
    ]
    (payout,) = [c for c in orders.columns if c.name == "payout_amount"]
    assert payout.type == "numeric(14,2)"
    assert payout.description is not None and "Unit: BRL" in payout.description


def test_mapping_twice_changes_nothing_else(specs: dict[str, dg.AssetSpec]) -> None:
    from synchub_pipelines.definitions import defs

    twice = with_column_schemas(with_column_schemas(defs))
    again = {s.key.to_user_string(): s for s in twice.resolve_all_asset_specs()}
    assert again.keys() == specs.keys()
    for key, spec in specs.items():
        assert again[key].metadata == spec.metadata
        assert again[key].freshness_policy == spec.freshness_policy
        assert again[key].description == spec.description


def test_every_column_schema_in_the_location_is_described(
    specs: dict[str, dg.AssetSpec],
) -> None:
    # dbt marts bring their own (from schema.yml): the same rule holds for them.
    marts = {m.name: m for m in dictionary.load_marts()}
    for key, spec in specs.items():
        value = (spec.metadata or {}).get("dagster/column_schema")
        if value is None:
            continue
        columns = column_schema(spec).columns
        for column in columns:
            assert column.description, f"{key}.{column.name}"
        if key in marts:
            assert [c.name for c in columns] == [c.name for c in marts[key].columns], key
