"""What every marketplace's category module returns, in one shape."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Requirement = Literal["required", "conditional", "catalog_required", "optional"]

# Our attribute vocabulary: what `product_attributes_normalized` holds.
CANONICAL = ("brand", "color", "size", "material", "gtin", "weight", "length", "width", "height")

# Marketplace attribute names (folded) → our attribute. Ids are tried before names.
_CANONICAL_NAMES: Mapping[str, str] = {
    "brand": "brand",
    "marca": "brand",
    "color": "color",
    "colour": "color",
    "cor": "color",
    "main color": "color",
    "cor principal": "color",
    "size": "size",
    "tamanho": "size",
    "material": "material",
    "material principal": "material",
    "main material": "material",
    "gtin": "gtin",
    "ean": "gtin",
    "codigo universal de produto": "gtin",
    "weight": "weight",
    "peso": "weight",
    "package weight": "weight",
    "net weight": "weight",
    "peso liquido": "weight",
    "peso da embalagem": "weight",
    "height": "height",
    "altura": "height",
    "width": "width",
    "largura": "width",
    "length": "length",
    "depth": "length",
    "comprimento": "length",
    "profundidade": "length",
}


def fold(text: str) -> str:
    """Case, accents and spacing ignored: how names and values are compared."""
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def canonical_of(*names: str | None) -> str | None:
    for name in names:
        if name and fold(name).replace("_", " ") in _CANONICAL_NAMES:
            return _CANONICAL_NAMES[fold(name).replace("_", " ")]
    return None


@dataclass(frozen=True)
class MarketplaceCategory:
    marketplace: str
    site: str
    category_id: str
    name: str
    parent_id: str | None
    path: str
    is_leaf: bool


@dataclass(frozen=True)
class AllowedValue:
    value_id: str
    name: str


@dataclass(frozen=True)
class ValueCondition:
    """Required only when another attribute has this value (TikTok's conditions)."""

    attribute_id: str
    value_id: str


@dataclass(frozen=True)
class AttributeRule:
    marketplace: str
    category_id: str
    attribute_id: str
    name: str
    requirement: Requirement
    value_type: str
    closed_list: bool
    allowed_values: tuple[AllowedValue, ...] = ()
    allowed_units: tuple[str, ...] = ()
    default_unit: str | None = None
    canonical: str | None = None
    condition: str | None = None  # the requirement's condition, as the API states it
    when_any: tuple[ValueCondition, ...] = field(default=())


@dataclass(frozen=True)
class CategorySuggestion:
    category_id: str
    name: str
    based_on: str


def paths_of(nodes: Iterable[tuple[str, str, str | None]]) -> dict[str, str]:
    """(id, name, parent id) → each id's "Root > … > Name" (a loop stops where it closes)."""
    by_id = {i: (n, p) for i, n, p in nodes}
    out: dict[str, str] = {}
    for node_id in by_id:
        names: list[str] = []
        seen: set[str] = set()
        current: str | None = node_id
        while current is not None and current in by_id and current not in seen:
            seen.add(current)
            name, parent = by_id[current]
            names.append(name)
            current = parent
        out[node_id] = " > ".join(reversed(names))
    return out
