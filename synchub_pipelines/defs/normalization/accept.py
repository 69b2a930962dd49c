"""Accepting suggested marketplace categories: each becomes a manual mapping in the tree file.

The tree file stays the one source of truth for mappings, so an accepted suggestion is
written there (the merchant's file, under version control if they keep it so), not only
into the warehouse. The file is rewritten whole, validated before it replaces the old one,
and replaced atomically: a refused or interrupted accept leaves the previous file as it was.
"""

from __future__ import annotations

import codecs
import csv
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.normalization.tree_file import (
    MAPPING_COLUMNS,
    CategoryTreeError,
    build_tree,
)
from synchub_pipelines.warehouse.schema_normalization import category_mappings


@dataclass(frozen=True)
class Suggestion:
    category_id: str
    marketplace: str
    marketplace_category_id: str
    marketplace_category_path: str | None
    based_on: str


def pending_suggestions(engine: Engine, marketplace: str | None = None) -> list[Suggestion]:
    """Suggested mappings no manual mapping has replaced yet, as the last mapping run left them."""
    t = category_mappings
    query = (
        sa.select(
            t.c.category_id,
            t.c.marketplace,
            t.c.marketplace_category_id,
            t.c.marketplace_category_path,
            t.c.based_on,
        )
        .where(t.c.status == "suggested", t.c.marketplace_category_id.is_not(None))
        .order_by(t.c.marketplace, t.c.category_id)
    )
    if marketplace is not None:
        query = query.where(t.c.marketplace == marketplace)
    with engine.connect() as conn:
        return [Suggestion(*row) for row in conn.execute(query)]


def write_mappings(tree_path: Path, mappings: Mapping[tuple[str, str], str]) -> dict[str, str]:
    """Set (internal category id, marketplace) → marketplace category id in the tree file.

    Returns what each changed cell held before ("" for none), keyed "category/marketplace".
    Raises CategoryTreeError, naming every problem, and leaves the file untouched when a
    category or marketplace is unknown or the result would not be a valid tree.
    """
    if not tree_path.is_file():
        raise CategoryTreeError(f"category tree file {tree_path} does not exist")
    with tree_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        rows = [{(k or "").strip(): (v or "").strip() for k, v in raw.items()} for raw in reader]
    by_id = {row.get("id", ""): row for row in rows}
    problems = [
        f"unknown marketplace {marketplace!r} (one of {', '.join(MAPPING_COLUMNS)})"
        for marketplace in sorted({m for _, m in mappings})
        if marketplace not in MAPPING_COLUMNS
    ]
    problems += [
        f"no category {category_id!r} in the tree"
        for category_id in sorted({c for c, _ in mappings})
        if category_id not in by_id
    ]
    problems += [
        f"{category_id}/{marketplace}: a blank marketplace category id"
        for (category_id, marketplace), value in mappings.items()
        if not value.strip()
    ]
    if problems:
        raise CategoryTreeError(f"{tree_path}: " + "; ".join(problems))

    before: dict[str, str] = {}
    for (category_id, marketplace), value in sorted(mappings.items()):
        row = by_id[category_id]
        if row.get(marketplace, "") != value.strip():
            before[f"{category_id}/{marketplace}"] = row.get(marketplace, "")
            row[marketplace] = value.strip()
    if not before:
        return before
    # The merchant's column order is kept; a marketplace column the file lacked goes last.
    columns = list(dict.fromkeys([*header, *sorted({m for _, m in mappings})]))
    build_tree(rows, str(tree_path))  # the file about to be written is a valid tree
    _replace(tree_path, columns, rows)
    return before


def _replace(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Write beside the file, then swap: readers see the old tree or the new, never half.
    Line endings and a byte-order mark (spreadsheets write one) stay the file's own, so a
    diff of it shows only the mappings."""
    with path.open("rb") as original:
        first = original.readline()
    ending = "\r\n" if first.endswith(b"\r\n") else "\n"
    encoding = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", newline="", encoding=encoding) as out:
            writer = csv.DictWriter(out, fieldnames=columns, lineterminator=ending)
            writer.writeheader()
            writer.writerows({c: row.get(c, "") for c in columns} for row in rows)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
