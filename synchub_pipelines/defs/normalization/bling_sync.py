"""Make Bling's product categories follow the internal tree: create, rename, move.

Each internal category is tied to one Bling category in `bling_category_links`, so a
rename or a move in the tree file is a rename or a move in Bling, never a new category.
The first time, an existing Bling category with the same name under the same parent is
adopted instead of created (Bling refuses duplicates, and the merchant's products already
point at it). Bling categories the tree does not name are left alone: products in the
ERP may still use them, and deleting is the merchant's call.

`plan()` is pure: it compares the tree, the links and Bling's current tree and returns
the changes in parents-first order, which is both the dry run and the recipe.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.normalization.tree_file import CategoryTree
from synchub_pipelines.marketplaces.bling import BlingCategory
from synchub_pipelines.warehouse import schema_normalization as tables
from synchub_pipelines.warehouse import upsert

Action = Literal["create", "rename", "move", "rename+move", "adopt"]


class BlingCategories(Protocol):
    """The part of the Bling client the sync uses."""

    def categories(self) -> list[BlingCategory]: ...

    def create_category(self, descricao: str, parent_id: int | None = None) -> int: ...

    def update_category(
        self, category_id: int, descricao: str, parent_id: int | None = None
    ) -> None: ...


@dataclass(frozen=True)
class Change:
    category_id: str  # internal id
    path: str
    action: Action
    bling_id: int | None  # None: created by this change
    before_name: str | None
    before_parent: int | None
    after_name: str
    # The parent's Bling id; a negative number stands for a parent this plan creates.
    after_parent: int | None
    parent_category_id: str | None


@dataclass
class SyncResult:
    changes: list[Change]
    unmanaged: list[BlingCategory]  # in Bling, not in the tree
    links: dict[str, int]  # internal id → Bling id, after the sync


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def plan(
    tree: CategoryTree, bling: Sequence[BlingCategory], links: Mapping[str, int]
) -> SyncResult:
    by_id = {c.id: c for c in bling}
    resolved: dict[str, int] = {}  # internal id → Bling id (negative: to be created)
    claimed = {bid for bid in links.values() if bid in by_id}
    changes: list[Change] = []
    placeholder = 0
    for node in tree.nodes:  # parents first
        parent = resolved[node.parent_id] if node.parent_id else None
        linked = links.get(node.category_id)
        current = by_id.get(linked) if linked is not None else None
        if current is None:
            twin = next(
                (
                    c
                    for c in bling
                    if c.id not in claimed
                    and (c.parent_id or None) == parent
                    and _fold(c.descricao) == _fold(node.name)
                ),
                None,
            )
            if twin is not None:
                claimed.add(twin.id)
                resolved[node.category_id] = twin.id
                changes.append(
                    Change(
                        node.category_id,
                        node.path,
                        "adopt",
                        twin.id,
                        twin.descricao,
                        twin.parent_id,
                        twin.descricao,
                        twin.parent_id,
                        node.parent_id,
                    )
                )
                continue
            placeholder -= 1
            resolved[node.category_id] = placeholder
            changes.append(
                Change(
                    node.category_id,
                    node.path,
                    "create",
                    None,
                    None,
                    None,
                    node.name,
                    parent,
                    node.parent_id,
                )
            )
            continue
        resolved[node.category_id] = current.id
        renamed = current.descricao != node.name
        moved = (current.parent_id or None) != parent
        if renamed or moved:
            action: Action = "rename+move" if renamed and moved else "rename" if renamed else "move"
            changes.append(
                Change(
                    node.category_id,
                    node.path,
                    action,
                    current.id,
                    current.descricao,
                    current.parent_id,
                    node.name,
                    parent,
                    node.parent_id,
                )
            )
    unmanaged = [c for c in bling if c.id not in set(resolved.values())]
    return SyncResult(changes, unmanaged, resolved)


def load_links(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                tables.bling_category_links.c.category_id, tables.bling_category_links.c.bling_id
            )
        ).all()
    return {r.category_id: int(r.bling_id) for r in rows}


def apply(
    client: BlingCategories,
    engine: Engine,
    tree: CategoryTree,
    run_id: str,
    now: datetime | None = None,
) -> SyncResult:
    """Read Bling, plan, carry the plan out, and record links and the change log.

    Links are saved after every change, so a run cut short resumes where it stopped
    instead of creating the same category twice.
    """
    result = plan(tree, client.categories(), load_links(engine))
    made: dict[int, int] = {}  # placeholder → the id Bling gave
    links = dict(result.links)
    done: list[Change] = []
    for change in result.changes:
        parent = change.after_parent
        if parent is not None and parent < 0:
            parent = made[parent]
        if change.action == "create":
            new_id = client.create_category(change.after_name, parent)
            made[links[change.category_id]] = new_id
            bling_id = new_id
        elif change.action == "adopt":
            assert change.bling_id is not None
            bling_id = change.bling_id
        else:
            assert change.bling_id is not None
            client.update_category(change.bling_id, change.after_name, parent)
            bling_id = change.bling_id
        links[change.category_id] = bling_id
        done.append(
            Change(
                change.category_id,
                change.path,
                change.action,
                bling_id,
                change.before_name,
                change.before_parent,
                change.after_name,
                parent,
                change.parent_category_id,
            )
        )
        _record(engine, run_id, done[-1], now or datetime.now(UTC))
    final = {k: (made[v] if v < 0 else v) for k, v in links.items()}
    return SyncResult(done, result.unmanaged, final)


def _record(engine: Engine, run_id: str, change: Change, at: datetime) -> None:
    link = upsert.Batch.for_table(tables.bling_category_links)
    link.rows.append((change.category_id, change.bling_id))
    log = upsert.Batch.for_table(tables.category_sync_log)
    log.rows.append(
        (
            run_id,
            change.category_id,
            change.action,
            change.bling_id,
            change.before_name,
            change.before_parent,
            change.after_name,
            change.after_parent,
            at,
        )
    )
    upsert.write(engine, [link, log], now=at)


def plan_table(changes: Sequence[Change]) -> str:
    """The plan as a Markdown table for the run's metadata."""
    if not changes:
        return "Bling already follows the internal tree: nothing to change."
    lines = [
        "| category | action | Bling id | before | after | parent (Bling id) |",
        "|---|---|---|---|---|---|",
    ]
    for c in changes:
        parent = (
            f"new ({c.parent_category_id})"
            if c.after_parent is not None and c.after_parent < 0
            else str(c.after_parent or "root")
        )
        before = c.before_name or "—"
        if c.before_parent is not None and c.action in ("move", "rename+move"):
            before += f" (under {c.before_parent})"
        lines.append(
            f"| {c.path} | {c.action} | {c.bling_id or 'new'} | {before} | {c.after_name} "
            f"| {parent} |"
        )
    return "\n".join(lines)
