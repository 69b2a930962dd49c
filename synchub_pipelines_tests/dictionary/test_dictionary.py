"""The data dictionary is complete, one source, and the docs are rendered from it.

The gate STYLE.md asks for (dagster-open-platform's `field_descriptions` check): a column of
a warehouse table or a mart without a description fails here, naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from synchub_pipelines.warehouse import dictionary, schema
from synchub_pipelines.warehouse.dictionary_cli import markdown


def test_every_warehouse_table_and_column_is_described() -> None:
    # Tables and columns added by any domain (the tenant columns too) land here first.
    assert dictionary.problems() == []
    for table in schema.metadata.tables.values():
        for column in dictionary.columns_of(table):
            assert column.description != "(undocumented)", f"{table.name}.{column.name}"


def test_every_mart_column_is_described() -> None:
    marts = dictionary.load_marts()
    if not marts:
        pytest.skip("no dbt project with documented models yet")
    assert dictionary.mart_problems(marts) == []
    assert {m.name for m in marts} >= {"mart_sales_daily", "mart_order_funnel"}


def test_numbers_say_their_unit() -> None:
    for table in schema.metadata.tables.values():
        for column, col in zip(dictionary.columns_of(table), table.columns, strict=True):
            if isinstance(col.type, sa.Integer | sa.Numeric | sa.Float | sa.DateTime | sa.Date):
                assert column.unit, f"{table.name}.{column.name} has no unit"
    orders = {c.name: c for c in dictionary.columns_of(schema.orders)}
    assert orders["total_amount"].unit == "BRL (the row's `currency`)"
    assert orders["created_at"].unit == "UTC instant"
    assert orders["business_date"].unit == "local date (the store's time zone)"
    items = {c.name: c for c in dictionary.columns_of(schema.order_items)}
    assert items["quantity"].unit == "units (items)"
    assert items["line_amount"].unit == "BRL (the order's `currency`)"


def test_the_table_definitions_carry_the_dictionary() -> None:
    # Set at import: whatever reads schema.metadata reads the dictionary's words.
    for table in schema.metadata.tables.values():
        assert table.comment == dictionary.table_comment(table), table.name
        for column in table.columns:
            assert column.comment == dictionary.column_comment(table, column), (
                f"{table.name}.{column.name}"
            )
    assert schema.orders.comment is not None
    assert schema.orders.comment.endswith(
        "Grain: one row per store × order. Key: store_id, order_id."
    )
    assert schema.orders.c.payout_amount.comment is not None
    assert schema.orders.c.payout_amount.comment.endswith("Unit: BRL (the row's `currency`).")


def test_a_missing_description_is_named() -> None:
    metadata = sa.MetaData()
    sa.Table(
        "orders",
        metadata,
        *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in schema.orders.columns),
        sa.Column("mystery_count", sa.Integer),
    )
    sa.Table("brand_new", metadata, sa.Column("id", sa.Text, primary_key=True))
    found = dictionary.problems(metadata)
    assert "column orders.mystery_count has no description" in found
    assert "table brand_new has no entry in dictionary_tables.py" in found
    # Tables of the real schema that this metadata lacks are reported as documented but gone.
    assert "table stores is documented but does not exist" in found


def test_marts_are_read_from_the_dbt_project(tmp_path: Path) -> None:
    assert dictionary.load_marts(tmp_path / "nowhere") == []
    models = tmp_path / "models" / "marts"
    models.mkdir(parents=True)
    (models / "schema.yml").write_text(
        """
version: 2
models:
  - name: int_helper
    description: ephemeral, no columns
  - name: mart_demo
    description: >-
      One row per day ×
      store.
    data_tests:
      - unique_grain:
          arguments:
            columns: [day, store_id]
    columns:
      - name: day
        description: The day (grain).
        data_type: date
      - name: units
        data_type: bigint
""",
        encoding="utf-8",
    )
    (mart,) = dictionary.load_marts(tmp_path)
    assert mart.name == "mart_demo"
    assert mart.description == "One row per day × store."
    assert mart.key == ("day", "store_id")
    assert [(c.name, c.type) for c in mart.columns] == [("day", "date"), ("units", "bigint")]
    assert dictionary.mart_problems([mart]) == [
        "column mart_demo.units has no description (models/marts/schema.yml)"
    ]


def test_docs_dictionary_is_up_to_date() -> None:
    committed = dictionary.DICTIONARY_MD.read_text(encoding="utf-8")
    assert committed == markdown(), "docs/dictionary.md is stale: run `synchub dictionary`"


def test_the_docs_show_every_table_and_mart() -> None:
    rendered = markdown()
    for table in schema.metadata.tables.values():
        assert f"### `{table.name}`" in rendered
        for column in table.columns:
            assert f"| `{column.name}` |" in rendered
    for mart in dictionary.load_marts():
        assert f"### `{mart.name}`" in rendered
    assert "(undocumented)" not in rendered
