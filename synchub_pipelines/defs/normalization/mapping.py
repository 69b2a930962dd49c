"""Internal category → marketplace category: manual mappings win, else a suggestion.

A manual mapping (from the tree file) is checked against the marketplace's fetched tree:
one that points at a category that no longer exists, or at a category that is not a leaf,
is `invalid` with the reason. Without one, the marketplace's predictor is asked with a
product title of that category; its answer is `suggested`, with what it was based on,
until an operator accepts it (by writing it into the tree file). A stored suggestion is
reused while its category still exists, so predictors are not asked every night.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from synchub_pipelines.defs.normalization.tree_file import InternalCategory
from synchub_pipelines.marketplaces.categories.models import (
    CategorySuggestion,
    MarketplaceCategory,
)

Suggester = Callable[[str], CategorySuggestion | None]


@dataclass(frozen=True)
class CategoryMapping:
    category_id: str
    marketplace: str
    marketplace_category_id: str | None
    marketplace_category_path: str | None
    status: str  # manual | suggested | invalid | none
    based_on: str
    reason: str | None = None

    def row(self) -> tuple[object, ...]:
        return (
            self.category_id,
            self.marketplace,
            self.marketplace_category_id,
            self.marketplace_category_path,
            self.status,
            self.based_on,
            self.reason,
        )


def _problem(target: str, tree: Mapping[str, MarketplaceCategory], marketplace: str) -> str | None:
    if not tree:
        return None  # not fetched yet: nothing to check against
    category = tree.get(target)
    if category is None:
        return f"{marketplace} category {target} no longer exists in its category tree"
    if not category.is_leaf:
        return (
            f"{marketplace} category {target} ({category.path}) is not a leaf; "
            "products can only be listed in leaf categories"
        )
    return None


def map_category(
    node: InternalCategory,
    marketplace: str,
    tree: Mapping[str, MarketplaceCategory],
    sample_title: str,
    stored: CategoryMapping | None,
    suggest: Suggester | None,
) -> CategoryMapping:
    manual = node.mappings.get(marketplace)
    if manual:
        based_on = "manual mapping in the category tree file"
        path = tree[manual].path if manual in tree else None
        problem = _problem(manual, tree, marketplace)
        if problem:
            return CategoryMapping(
                node.category_id, marketplace, manual, path, "invalid", based_on, problem
            )
        reason = None if tree else f"not checked: {marketplace}'s tree has not been fetched yet"
        return CategoryMapping(
            node.category_id, marketplace, manual, path, "manual", based_on, reason
        )
    if (
        stored is not None
        and stored.status == "suggested"
        and stored.marketplace_category_id
        and (not tree or stored.marketplace_category_id in tree)
    ):
        return stored
    if suggest is None:
        return CategoryMapping(
            node.category_id,
            marketplace,
            None,
            None,
            "none",
            "no manual mapping; no connected store to ask the marketplace's predictor",
        )
    guess = suggest(sample_title)
    if guess is None:
        return CategoryMapping(
            node.category_id,
            marketplace,
            None,
            None,
            "none",
            f"no manual mapping; the predictor had no answer for {sample_title!r}",
        )
    path = tree[guess.category_id].path if guess.category_id in tree else guess.name
    problem = _problem(guess.category_id, tree, marketplace)
    status = "invalid" if problem else "suggested"
    return CategoryMapping(
        node.category_id, marketplace, guess.category_id, path, status, guess.based_on, problem
    )
