"""The data dictionary: one description per table and column, shown wherever people look.

Analysts read the warehouse from BI tools, the Dagster UI and the docs; each of those used to
have its own words, or none. The text now lives in one place — `dictionary_tables.py` for
the warehouse tables, the dbt project's `schema.yml` for the marts — and this module carries
it everywhere else:

- **SQLAlchemy.** Importing this module sets every documented table's and column's
  `comment` on `schema.metadata` (`apply_to_metadata`), so whatever reads the table
  definitions sees the dictionary's words, not the shorter `comment=` notes in schema*.py.
  A column the dictionary lacks keeps its old comment: a new column never breaks an import;
  the dictionary's test fails instead (`problems()`).
- **PostgreSQL.** `comment_warehouse(engine)` runs `COMMENT ON TABLE/COLUMN` for every
  table and column whose comment differs from the dictionary — nothing when none does (one
  catalog query), so the migrate step can call it every time. SQLite has no comments.
  The marts are dbt's: `persist_docs` comments them on every build.
- **Dagster.** `defs/column_schemas.py` turns `columns_of()` into each asset's column schema.
- **Docs.** `render()` writes docs/dictionary.md (`synchub dictionary`; `--check` in CI).

A comment is the description, then the unit: a column's `Unit: …` when it has one (money,
instants and dates get theirs from their type), a table's grain and key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from synchub_pipelines.warehouse import schema
from synchub_pipelines.warehouse.dictionary_tables import (
    DOMAINS,
    TABLES,
    ColumnDoc,
    TableDoc,
)

DOCS: dict[str, TableDoc] = {t.name: t for t in TABLES}
PACKAGE = Path(__file__).resolve().parent.parent
MARTS_PROJECT = PACKAGE / "defs" / "marts" / "dbt_project"
DICTIONARY_MD = PACKAGE.parent / "docs" / "dictionary.md"
# Serializes concurrent processes commenting a fresh warehouse ("tuple concurrently updated").
_LOCK_KEY = 0x53444F43  # "SDOC"
_PG = postgresql.dialect()
_MONEY_SCALE = 2


# --- the warehouse tables ------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One documented column, as every consumer shows it."""

    table: str
    name: str
    type: str  # the PostgreSQL type, lower case
    nullable: bool
    in_key: bool
    description: str
    unit: str | None

    @property
    def comment(self) -> str:
        return f"{self.description} Unit: {self.unit}." if self.unit else self.description


def key_of(table: sa.Table) -> tuple[str, ...]:
    """The columns that identify a row: the upserts' conflict target, else the primary key."""
    return schema.KEYS.get(table.name) or tuple(c.name for c in table.primary_key.columns)


def pg_type(column: sa.Column[Any]) -> str:
    return str(column.type.compile(dialect=_PG)).lower().replace(", ", ",")


def derived_unit(table: sa.Table, column: sa.Column[Any]) -> str | None:
    """The unit a column's type says: money, instants and dates. Numbers of any other kind
    must state theirs in the dictionary."""
    kind = column.type
    if isinstance(kind, sa.DateTime) and kind.timezone:
        return "UTC instant"
    if isinstance(kind, sa.Date):
        return "local date (the store's time zone)"
    is_money = (
        isinstance(kind, sa.Numeric)
        and not isinstance(kind, sa.Float)
        and kind.scale == _MONEY_SCALE
    )
    if is_money and "currency" in table.c:
        return "BRL (the row's `currency`)"
    return None


def _needs_unit(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.Integer | sa.Numeric | sa.Float)


def column_doc(table: str, column: str) -> ColumnDoc | None:
    doc = DOCS.get(table)
    return doc.columns.get(column) if doc else None


def columns_of(table: sa.Table) -> list[Column]:
    """Every column of the table in its order, with the dictionary's description (an
    undocumented one says so, for the docs and the UI; the tests forbid it)."""
    key = key_of(table)
    found = []
    for column in table.columns:
        doc = column_doc(table.name, column.name)
        found.append(
            Column(
                table=table.name,
                name=column.name,
                type=pg_type(column),
                nullable=bool(column.nullable),
                in_key=column.name in key,
                description=doc.description if doc else "(undocumented)",
                unit=(doc.unit if doc and doc.unit else derived_unit(table, column)),
            )
        )
    return found


def table_comment(table: sa.Table) -> str | None:
    doc = DOCS.get(table.name)
    if doc is None:
        return None
    return f"{doc.description} Grain: {doc.grain}. Key: {', '.join(key_of(table))}."


def column_comment(table: sa.Table, column: sa.Column[Any]) -> str | None:
    if column_doc(table.name, column.name) is None:
        return None
    return next(c.comment for c in columns_of(table) if c.name == column.name)


def apply_to_metadata(metadata: sa.MetaData = schema.metadata) -> None:
    """Set the dictionary's words as the tables' and columns' comments (idempotent)."""
    for table in metadata.tables.values():
        comment = table_comment(table)
        if comment is not None:
            table.comment = comment
        for column in columns_of(table):
            if column_doc(table.name, column.name) is not None:
                table.c[column.name].comment = column.comment


def problems(metadata: sa.MetaData = schema.metadata) -> list[str]:
    """What keeps the dictionary from being complete: every table and column of the
    warehouse documented, with a unit where a number needs one, and nothing documented
    that does not exist."""
    found = []
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        doc = DOCS.get(table.name)
        if doc is None:
            found.append(f"table {table.name} has no entry in dictionary_tables.py")
            continue
        if not doc.grain.strip() or not doc.description.strip():
            found.append(f"table {table.name} lacks a grain or a description")
        if doc.domain not in DOMAINS:
            found.append(f"table {table.name}: unknown domain {doc.domain!r}")
        for column in table.columns:
            entry = doc.columns.get(column.name)
            where = f"{table.name}.{column.name}"
            if entry is None:
                found.append(f"column {where} has no description")
                continue
            text = entry.description.strip()
            if not text:
                found.append(f"column {where} has an empty description")
            elif not text.endswith((".", "…")):
                found.append(f"column {where}: end the description with a full stop")
            if _needs_unit(column) and not (entry.unit or derived_unit(table, column)):
                found.append(f"column {where} is a number: say its unit (c(unit, text))")
        for name in doc.columns.keys() - set(table.c.keys()):
            found.append(f"column {table.name}.{name} is documented but does not exist")
    for name in DOCS.keys() - set(metadata.tables):
        found.append(f"table {name} is documented but does not exist")
    return found


# --- PostgreSQL ----------------------------------------------------------------------------

_CURRENT_COMMENTS = """
SELECT c.relname, NULL AS attname, obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
UNION ALL
SELECT c.relname, a.attname, col_description(c.oid, a.attnum)
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
"""


def _stale(
    conn: Connection, metadata: sa.MetaData
) -> list[sa.schema.SetTableComment | sa.schema.SetColumnComment]:
    current = {
        (table, column): comment
        for table, column, comment in conn.execute(sa.text(_CURRENT_COMMENTS))
    }
    statements: list[sa.schema.SetTableComment | sa.schema.SetColumnComment] = []
    for table in metadata.sorted_tables:
        if (table.name, None) not in current:
            continue  # not created (yet): nothing to comment
        wanted = table_comment(table)
        if wanted is not None and current[(table.name, None)] != wanted:
            statements.append(sa.schema.SetTableComment(table))
        for column in table.columns:
            wanted = column_comment(table, column)
            key = (table.name, column.name)
            if wanted is not None and key in current and current[key] != wanted:
                statements.append(sa.schema.SetColumnComment(column))
    return statements


def comment_warehouse(engine: Engine, metadata: sa.MetaData = schema.metadata) -> int:
    """`COMMENT ON` every warehouse table and column whose comment in PostgreSQL is not the
    dictionary's; returns how many were set. Idempotent and cheap when nothing changed, so
    the migrate step calls it every time; a no-op on SQLite. Call it after the migrations:
    a table that does not exist yet is left for the next call."""
    if engine.dialect.name != "postgresql":
        return 0
    apply_to_metadata(metadata)  # the statements below carry the tables' comments
    with engine.connect() as conn:
        if not _stale(conn, metadata):
            return 0
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        statements = _stale(conn, metadata)  # another process may have done it meanwhile
        for statement in statements:
            conn.execute(statement)
    return len(statements)


# --- the marts (dbt) -----------------------------------------------------------------------


@dataclass(frozen=True)
class MartColumn:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Mart:
    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[MartColumn, ...]
    source: str  # the schema.yml it is documented in, relative to the dbt project


def _grain(tests: Iterable[Any]) -> tuple[str, ...]:
    """The grain a model's uniqueness test states (`unique_grain`, or dbt_utils')."""
    for test in tests or ():
        if not isinstance(test, Mapping):
            continue
        for name, body in test.items():
            if name.split(".")[-1] not in {"unique_grain", "unique_combination_of_columns"}:
                continue
            body = body or {}
            arguments = body.get("arguments") or body
            columns = arguments.get("columns") or arguments.get("combination_of_columns")
            if columns:
                return tuple(columns)
    return ()


def load_marts(project: Path = MARTS_PROJECT) -> list[Mart]:
    """Every dbt model with documented columns (the marts; ephemeral intermediates have
    none), from the project's YAML files. No project yet: no marts."""
    import yaml

    models = project / "models"
    if not models.is_dir():
        return []
    marts = []
    for path in sorted(models.rglob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in content.get("models") or ():
            columns = model.get("columns") or ()
            if not columns:
                continue
            marts.append(
                Mart(
                    name=model["name"],
                    description=" ".join(str(model.get("description") or "").split()),
                    key=_grain(model.get("data_tests") or model.get("tests") or ()),
                    columns=tuple(
                        MartColumn(
                            name=col["name"],
                            type=str(col.get("data_type") or ""),
                            description=" ".join(str(col.get("description") or "").split()),
                        )
                        for col in columns
                    ),
                    source=str(path.relative_to(project)),
                )
            )
    return marts


def mart_problems(marts: Sequence[Mart]) -> list[str]:
    """Marts and mart columns without a description (dbt's own gate, in one place with the
    warehouse's)."""
    found = []
    for mart in marts:
        if not mart.description:
            found.append(f"mart {mart.name} has no description ({mart.source})")
        if not mart.key:
            found.append(f"mart {mart.name} states no grain (a unique_grain test)")
        found += [
            f"column {mart.name}.{c.name} has no description ({mart.source})"
            for c in mart.columns
            if not c.description
        ]
    return found


# --- docs/dictionary.md --------------------------------------------------------------------

HEADER = """\
# Data dictionary

<!-- Generated by `synchub dictionary` from synchub_pipelines/warehouse/dictionary_tables.py
     (warehouse tables) and the dbt project's schema.yml (marts). Edit those, not this file;
     a test fails when it is stale. -->

What every column of every warehouse table and mart means, in what unit, and what
identifies a row. The same words are the tables' and columns' comments in PostgreSQL
(`COMMENT ON`, what BI tools show) and the column schemas of the assets in the Dagster UI.

**Conventions.** Money is NUMERIC(14,2) in the row's `currency` (BRL for Brazilian stores),
a non-negative magnitude unless said otherwise ([orders.md](orders.md) defines each amount).
`*_at` columns are UTC instants; `business_date`, `*_date` and `week_start` are local dates in
the store's time zone (`stores.timezone`). *Units (items)* counts physical items. `store_id`
is `<marketplace>-<seller id>`; central data is keyed by `tenant` (the merchant) and `sku`.
`synced_at` is when a row's content last changed, not when it was last seen.

**Audience.** *analysts*: query freely. *operators*: the pipeline's own state (plans,
audits, queues, failures). *internal*: bookkeeping, not for reports.
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _codes(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) or "—"


def render(
    writers: Mapping[str, str] | None = None,
    marts: Sequence[Mart] = (),
    metadata: sa.MetaData = schema.metadata,
) -> str:
    """docs/dictionary.md: the marts, then the warehouse tables by domain. `writers` maps a
    table to the Dagster asset that writes it."""
    writers = writers or {}
    by_domain: dict[str, list[sa.Table]] = {d: [] for d in DOMAINS}
    for entry in TABLES:  # in the dictionary's order: a domain's main table first
        if entry.name in metadata.tables and entry.domain in by_domain:
            by_domain[entry.domain].append(metadata.tables[entry.name])
    listed = {t.name for members in by_domain.values() for t in members}
    undocumented = sorted(
        (t for t in metadata.tables.values() if t.name not in listed), key=lambda t: t.name
    )

    out = [HEADER, "## Contents\n"]
    if marts:
        out.append(f"- **Marts (dbt)**: {', '.join(f'[{m.name}](#{m.name})' for m in marts)}")
    for domain, members in by_domain.items():
        if members:
            links = ", ".join(f"[{t.name}](#{t.name})" for t in members)
            out.append(f"- **{domain}**: {links}")
    if undocumented:
        out.append(f"- **Undocumented**: {', '.join(t.name for t in undocumented)}")
    out.append("")

    if marts:
        out.append("## Marts (dbt)\n")
        out.append(
            "Built by dbt from the warehouse tables (group `marts` in the Dagster UI, one asset "
            "per model); their descriptions live in the dbt project's schema.yml. Rebuilt "
            "whole on every run.\n"
        )
        for mart in marts:
            out += [
                f"### `{mart.name}`\n",
                _cell(mart.description) + "\n",
                f"**Key:** {_codes(mart.key)} · **Built by:** dbt model, asset `{mart.name}`\n",
                "| column | type | description |",
                "|---|---|---|",
            ]
            out += [
                f"| `{c.name}` | {c.type or '—'} | {_cell(c.description) or '(undocumented)'} |"
                for c in mart.columns
            ]
            out.append("")

    for domain, members in [*by_domain.items(), ("Undocumented", undocumented)]:
        if not members:
            continue
        out.append(f"## {domain}\n")
        for table in members:
            doc = DOCS.get(table.name)
            facts = [f"**Key:** {_codes(key_of(table))}"]
            if doc is not None:
                facts.insert(0, f"**Grain:** {doc.grain}")
                facts.append(f"**Audience:** {doc.audience}")
            if table.name in writers:
                facts.append(f"**Written by:** asset `{writers[table.name]}`")
            out += [
                f"### `{table.name}`\n",
                _cell(doc.description if doc else "(undocumented)") + "\n",
                " · ".join(facts) + "\n",
                "| column | type | unit | description |",
                "|---|---|---|---|",
            ]
            out += [
                f"| `{c.name}` | {c.type} | {c.unit or ''} | {_cell(c.description)} |"
                for c in columns_of(table)
            ]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


apply_to_metadata()
