"""The dictionary is wired where it shows: the migrate step comments PostgreSQL, the code
location shows column schemas, and `synchub dictionary` is a command.

Each is one line in a file the dictionary does not own (warehouse/migrate.py,
definitions.py, cli.py); these tests fail until that line is there.
"""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from synchub_pipelines.defs.column_schemas import asset_tables
from synchub_pipelines.warehouse import dictionary, schema
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate


@pytest.mark.postgres
def test_migrate_comments_the_warehouse(pg_url: str) -> None:
    engine = engine_for(pg_url)
    migrate(engine)
    with engine.connect() as conn:
        comment = conn.execute(
            sa.text(
                "SELECT col_description(attrelid, attnum) FROM pg_attribute "
                "WHERE attrelid = 'orders'::regclass AND attname = 'payout_amount'"
            )
        ).scalar()
    assert comment == dictionary.column_comment(schema.orders, schema.orders.c.payout_amount)
    assert dictionary.comment_warehouse(engine) == 0


def test_the_code_location_shows_column_schemas() -> None:
    from synchub_pipelines.definitions import defs

    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    tables = asset_tables()
    for asset in tables:
        assert (specs[asset].metadata or {}).get("dagster/table_name") == tables[asset], (
            f"{asset}: definitions.py does not apply with_column_schemas"
        )
        assert isinstance(
            (specs[asset].metadata or {}).get("dagster/column_schema"),
            dg.TableSchemaMetadataValue,
        ), asset


def test_synchub_dictionary_is_a_command() -> None:
    from synchub_pipelines.cli import build_parser

    args = build_parser().parse_args(["dictionary", "--check"])
    assert args.check is True
