"""The internal category tree: a CSV file the merchant edits, the source of truth.

Columns: `id`, `name`, `parent` (blank at the root) and one optional column per
marketplace (`mercadolivre`, `shopee`, `tiktok`, `amazon`) holding a manual mapping to
that marketplace's category id. Products point at a category by its path
("Moda > Camisetas") or its id.

A tree with any error — duplicate id, unknown parent, cycle, blank name — is refused as
a whole, listing every problem with its line: half a tree would make the Bling sync move
categories to wrong places.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_COLUMNS = ("id", "name", "parent")
MAPPING_COLUMNS = ("mercadolivre", "shopee", "tiktok", "amazon")
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
PATH_SEPARATOR = " > "


class CategoryTreeError(ValueError):
    """The tree file cannot be used; the message lists every problem found."""


@dataclass(frozen=True)
class InternalCategory:
    category_id: str
    name: str
    parent_id: str | None
    path: str
    depth: int
    mappings: Mapping[str, str] = field(default_factory=dict)  # marketplace → category id


@dataclass(frozen=True)
class CategoryTree:
    nodes: tuple[InternalCategory, ...]  # parents before children

    @property
    def by_id(self) -> dict[str, InternalCategory]:
        return {n.category_id: n for n in self.nodes}

    def resolve(self, reference: str | None) -> InternalCategory | None:
        """The category a product names, by path (case-insensitive) or id."""
        if not reference:
            return None
        wanted = " > ".join(part.strip().casefold() for part in reference.split(">"))
        for node in self.nodes:
            if node.path.casefold() == wanted or node.category_id == reference.strip():
                return node
        return None


@dataclass(frozen=True)
class _Row:
    line: int
    category_id: str
    name: str
    parent_id: str | None
    mappings: dict[str, str]


def load_tree(path: Path) -> CategoryTree:
    if not path.is_file():
        raise CategoryTreeError(f"category tree file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise CategoryTreeError(f"{path}: missing column(s) {', '.join(missing)}")
        unknown = [c for c in header if c not in REQUIRED_COLUMNS + MAPPING_COLUMNS]
        if unknown:
            raise CategoryTreeError(
                f"{path}: unknown column(s) {', '.join(unknown)} "
                f"(mapping columns are {', '.join(MAPPING_COLUMNS)})"
            )
        rows = [{(k or "").strip(): (v or "").strip() for k, v in raw.items()} for raw in reader]
    return build_tree(rows, str(path))


def build_tree(rows: Iterable[Mapping[str, str]], origin: str = "tree") -> CategoryTree:
    """Validate the rows (line numbers count the header as line 1) and order the tree."""
    problems: list[str] = []
    parsed: dict[str, _Row] = {}
    for line, raw in enumerate(rows, start=2):
        category_id = raw.get("id", "")
        name = " ".join(raw.get("name", "").split())
        if not _ID.match(category_id):
            problems.append(
                f"line {line}: id {category_id!r} must be letters, digits, '.', '_' or '-'"
            )
            continue
        if not name:
            problems.append(f"line {line}: category {category_id} has no name")
        if category_id in parsed:
            first = parsed[category_id].line
            problems.append(f"line {line}: duplicate id {category_id} (first on line {first})")
            continue
        mappings = {m: raw[m] for m in MAPPING_COLUMNS if raw.get(m)}
        parsed[category_id] = _Row(line, category_id, name, raw.get("parent") or None, mappings)
    for row in parsed.values():
        if row.parent_id is not None and row.parent_id not in parsed:
            problems.append(
                f"line {row.line}: category {row.category_id} has unknown parent {row.parent_id}"
            )
    problems += _cycles(parsed)
    siblings: dict[tuple[str | None, str], _Row] = {}
    for row in parsed.values():
        key = (row.parent_id, row.name.casefold())
        if key in siblings and row.name:
            problems.append(
                f"line {row.line}: {row.name!r} twice under the same parent "
                f"(also {siblings[key].category_id}, line {siblings[key].line})"
            )
        siblings.setdefault(key, row)
    if problems:
        raise CategoryTreeError(f"{origin}: " + "; ".join(problems))
    if not parsed:
        raise CategoryTreeError(f"{origin}: the tree has no category")
    return CategoryTree(tuple(_ordered(parsed)))


def _cycles(rows: Mapping[str, _Row]) -> list[str]:
    problems: list[str] = []
    reported: set[str] = set()
    for start in rows:
        chain: list[str] = []
        node: str | None = start
        while node is not None and node in rows and node not in chain:
            chain.append(node)
            node = rows[node].parent_id
        if node is not None and node in chain:
            loop = chain[chain.index(node) :]
            if not reported & set(loop):
                reported |= set(loop)
                shown = " → ".join([*loop, node])
                problems.append(f"line {rows[node].line}: cycle in parents {shown}")
    return problems


def _ordered(rows: Mapping[str, _Row]) -> list[InternalCategory]:
    children: dict[str | None, list[_Row]] = {}
    for row in rows.values():
        children.setdefault(row.parent_id, []).append(row)
    out: list[InternalCategory] = []
    stack: list[tuple[_Row, tuple[str, ...]]] = [
        (row, (row.name,)) for row in reversed(children.get(None, []))
    ]
    while stack:
        row, names = stack.pop()
        out.append(
            InternalCategory(
                row.category_id,
                row.name,
                row.parent_id,
                PATH_SEPARATOR.join(names),
                len(names) - 1,
                row.mappings,
            )
        )
        stack += [(c, (*names, c.name)) for c in reversed(children.get(row.category_id, []))]
    return out
