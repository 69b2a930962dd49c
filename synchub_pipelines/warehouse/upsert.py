"""Idempotent bulk writes: stage the rows, then merge them in one statement.

On PostgreSQL the stage is filled with COPY (the fastest way in) and merged with one
`INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE … IS DISTINCT FROM …`, so rows whose
content did not change are not rewritten and keep their `synced_at`. SQLite takes the
same path with an executemany into a temporary stage. Several tables written together
(an order and its lines) commit in one transaction: a killed run leaves no half state.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from synchub_pipelines.warehouse.schema import KEYS

_stage_names = itertools.count()


@dataclass
class Batch:
    """Rows for one table, as tuples in `columns` order (every column but `synced_at`)."""

    table: sa.Table
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    # Columns written on insert but kept as they are when the row already exists.
    preserve: tuple[str, ...] = ()
    # How an existing row's column takes the incoming value, when not simply replaced: an
    # SQL expression over `{old}` (the stored row) and `{new}` (the incoming one), e.g.
    # "COALESCE({new}.fee_amount, {old}.fee_amount)" so that an unknown never erases.
    merge: dict[str, str] = field(default_factory=dict)
    # SQL for a column's value on insert when the incoming one is NULL (e.g. "false").
    insert_defaults: dict[str, str] = field(default_factory=dict)
    # A condition on each incoming row (`{row}` names it) for it to be written at all, and
    # for a prune to touch its parent's children, e.g. "the order is not settled yet".
    only_if: str | None = None

    @classmethod
    def for_table(cls, table: sa.Table) -> Batch:
        columns = tuple(c.name for c in table.columns if c.name != "synced_at")
        return cls(table, columns)

    @property
    def keys(self) -> tuple[str, ...]:
        return KEYS[self.table.name]

    def deduplicated(self) -> list[tuple[Any, ...]]:
        """One row per key, the last one given winning (a page may repeat a record)."""
        key = operator.itemgetter(*(self.columns.index(k) for k in self.keys))
        latest = {key(row): row for row in self.rows}
        return self.rows if len(latest) == len(self.rows) else list(latest.values())


@dataclass(frozen=True)
class Prune:
    """Delete `child` rows of the staged parents that the staged children no longer have."""

    child: Batch
    parent: Batch
    parent_keys: tuple[str, ...]  # the child's columns that point at the parent…
    parent_columns: tuple[str, ...] | None = None  # …and the parent's, when named otherwise


def write(
    target: Engine | Connection,
    batches: Sequence[Batch],
    prunes: Sequence[Prune] = (),
    *,
    now: datetime | None = None,
) -> dict[str, int]:
    """Upsert every batch (and prune children) in one transaction; rows changed per table."""
    synced_at = now or datetime.now(UTC)
    if isinstance(target, Engine):
        with target.begin() as conn:
            return _write(conn, batches, prunes, synced_at)
    return _write(target, batches, prunes, synced_at)


def _write(
    conn: Connection, batches: Sequence[Batch], prunes: Sequence[Prune], synced_at: datetime
) -> dict[str, int]:
    postgres = conn.dialect.name == "postgresql"
    stages: dict[int, str] = {}
    changed: dict[str, int] = {}
    for batch in batches:
        stage = f"_stage_{batch.table.name}_{next(_stage_names)}"
        stages[id(batch)] = stage
        rows = batch.deduplicated()
        if postgres:
            _stage_postgres(conn, batch, stage, rows)
        else:
            _stage_sqlite(conn, batch, stage, rows)
        result = conn.execute(sa.text(_merge_sql(batch, stage, postgres)), {"synced_at": synced_at})
        changed[batch.table.name] = changed.get(batch.table.name, 0) + max(result.rowcount, 0)
    for prune in prunes:
        sql = _prune_sql(prune, stages[id(prune.child)], stages[id(prune.parent)])
        result = conn.execute(sa.text(sql))
        name = prune.child.table.name
        changed[name] = changed.get(name, 0) + max(result.rowcount, 0)
    for stage in stages.values():
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {stage}"))
    return changed


def _stage_postgres(
    conn: Connection, batch: Batch, stage: str, rows: Iterable[tuple[Any, ...]]
) -> None:
    cols = ", ".join(batch.columns)
    conn.execute(
        sa.text(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {cols} FROM {batch.table.name} WITH NO DATA"
        )
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def _stage_sqlite(conn: Connection, batch: Batch, stage: str, rows: list[tuple[Any, ...]]) -> None:
    cols = ", ".join(batch.columns)
    conn.execute(
        sa.text(f"CREATE TEMP TABLE {stage} AS SELECT {cols} FROM main.{batch.table.name} WHERE 0")
    )
    # A typed twin of the stage, so SQLAlchemy converts Decimal and datetime like the target.
    typed = sa.Table(
        stage,
        sa.MetaData(),
        *(sa.Column(c, batch.table.c[c].type) for c in batch.columns),
        schema="temp",
    )
    if rows:
        conn.execute(typed.insert(), [dict(zip(batch.columns, row, strict=True)) for row in rows])
    # Prunes probe the stage by key; without an index SQLite scans it once per row.
    conn.execute(sa.text(f"CREATE INDEX temp.{stage}_keys ON {stage} ({', '.join(batch.keys)})"))


def _merge_sql(batch: Batch, stage: str, postgres: bool) -> str:
    table = batch.table.name
    cols = ", ".join(batch.columns)
    keys = ", ".join(batch.keys)
    values = [c for c in batch.columns if c not in batch.keys and c not in batch.preserve]
    picked = ", ".join(
        f"COALESCE({c}, {batch.insert_defaults[c]})" if c in batch.insert_defaults else c
        for c in batch.columns
    )
    source = f"SELECT {picked}, :synced_at FROM {stage}"
    if batch.only_if:
        source += " WHERE " + batch.only_if.format(row=stage)
    elif not postgres:
        source += " WHERE true"  # SQLite needs it to parse SELECT … ON CONFLICT
    if not values:
        return f"INSERT INTO {table} ({cols}, synced_at) {source} ON CONFLICT ({keys}) DO NOTHING"

    def incoming(column: str) -> str:
        rule = batch.merge.get(column)
        return rule.format(old=table, new="excluded") if rule else f"excluded.{column}"

    assignments = ", ".join(f"{c} = {incoming(c)}" for c in values)
    if postgres:
        current = ", ".join(f"{table}.{c}" for c in values)
        after = ", ".join(incoming(c) for c in values)
        changed = f"ROW({current}) IS DISTINCT FROM ROW({after})"
    else:
        changed = " OR ".join(f"{table}.{c} IS NOT ({incoming(c)})" for c in values)
    return (
        f"INSERT INTO {table} ({cols}, synced_at) {source} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {assignments}, synced_at = excluded.synced_at "
        f"WHERE {changed}"
    )


def _prune_sql(prune: Prune, child_stage: str, parent_stage: str) -> str:
    child = prune.child.table.name
    parent_columns = prune.parent_columns or prune.parent_keys
    parent_match = " AND ".join(
        f"p.{p} = {child}.{c}" for c, p in zip(prune.parent_keys, parent_columns, strict=True)
    )
    if prune.parent.only_if:
        parent_match += " AND " + prune.parent.only_if.format(row="p")
    child_match = " AND ".join(f"c.{k} = {child}.{k}" for k in prune.child.keys)
    return (
        f"DELETE FROM {child} WHERE EXISTS (SELECT 1 FROM {parent_stage} p WHERE {parent_match}) "
        f"AND NOT EXISTS (SELECT 1 FROM {child_stage} c WHERE {child_match})"
    )
