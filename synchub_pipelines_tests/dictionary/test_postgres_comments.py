"""The dictionary in PostgreSQL: `COMMENT ON` every table and column, what BI tools read.

Applied after the migrations, idempotently: a second call changes nothing, a comment someone
edited by hand is put back, and the comments match the table definitions exactly (so
Alembic's comparison finds nothing to change). SQLite has no comments: nothing happens.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from synchub_pipelines.warehouse import dictionary, schema
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate


@pytest.fixture
def pg(pg_url: str) -> Engine:
    engine = engine_for(pg_url)
    migrate(engine)
    return engine


def descriptions(engine: Engine) -> dict[tuple[str, str | None], str | None]:
    with engine.connect() as conn:
        tables = conn.execute(
            sa.text(
                "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
            )
        ).all()
        columns = conn.execute(
            sa.text(
                "SELECT c.relname, a.attname, col_description(c.oid, a.attnum) "
                "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
                "AND a.attnum > 0 AND NOT a.attisdropped"
            )
        ).all()
    return {(t, None): d for t, d in tables} | {(t, c): d for t, c, d in columns}


@pytest.mark.postgres
def test_every_table_and_column_is_commented_after_migrate(pg: Engine) -> None:
    dictionary.comment_warehouse(pg)
    found = descriptions(pg)
    for table in schema.metadata.tables.values():
        assert found[(table.name, None)] == dictionary.table_comment(table), table.name
        for column in table.columns:
            described = found[(table.name, column.name)]
            assert described == dictionary.column_comment(table, column)
            assert described, f"{table.name}.{column.name}"
    assert found[("orders", "payout_amount")] is not None
    assert "Unit: BRL" in str(found[("orders", "payout_amount")])
    assert "Key: tenant, sku." in str(found[("central_products", None)])


@pytest.mark.postgres
def test_commenting_is_idempotent_and_repairs_edits(pg: Engine) -> None:
    dictionary.comment_warehouse(pg)  # (the migrate step may have done it already)
    assert dictionary.comment_warehouse(pg) == 0
    with pg.begin() as conn:
        conn.execute(sa.text("COMMENT ON COLUMN orders.total_amount IS 'edited by hand'"))
        conn.execute(sa.text("COMMENT ON TABLE stores IS NULL"))
    assert dictionary.comment_warehouse(pg) == 2
    found = descriptions(pg)
    assert found[("orders", "total_amount")] == dictionary.column_comment(
        schema.orders, schema.orders.c.total_amount
    )
    assert found[("stores", None)] == dictionary.table_comment(schema.stores)


@pytest.mark.postgres
def test_the_comments_match_the_table_definitions(pg: Engine) -> None:
    dictionary.comment_warehouse(pg)
    with pg.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, schema.metadata)
    flat = [d for group in differences for d in (group if isinstance(group, list) else [group])]
    comments = [d for d in flat if "comment" in d[0]]
    assert comments == []


def test_sqlite_has_no_comments(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    migrate(engine)
    assert dictionary.comment_warehouse(engine) == 0
