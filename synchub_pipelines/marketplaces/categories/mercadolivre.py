"""Mercado Livre categories: the site's tree, each category's attributes, domain discovery.

These endpoints are public (no token), so they go through the client's HTTP session
(pacing, retries, error classification) without authentication.

Cost: the tree is one `GET /sites/{site}/categories` plus one `GET /categories/{id}` per
category (ML's tree has a few thousand nodes on MLB, so the weekly refresh is that many
calls at the client's pace); attributes are one call per mapped category.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from synchub_pipelines.marketplaces.categories.models import (
    AllowedValue,
    AttributeRule,
    CategorySuggestion,
    MarketplaceCategory,
    Requirement,
    canonical_of,
)
from synchub_pipelines.marketplaces.mercadolivre import MercadoLivreClient

MARKETPLACE = "mercadolivre"
SITE = "MLB"
CONDITIONAL_NOTE = (
    "conditional_required: Mercado Livre requires it unless the listing declares why it "
    "has none (e.g. EMPTY_GTIN_REASON), checked when publishing"
)
CATALOG_NOTE = "catalog_required: required only to publish in Mercado Livre's catalog"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class MLValue(_Model):
    id: str | None = None
    name: str


class MLUnit(_Model):
    id: str
    name: str | None = None


class MLAttributeSpec(_Model):
    """One entry of `GET /categories/{id}/attributes`."""

    id: str
    name: str
    tags: dict[str, Any] = Field(default_factory=dict)
    value_type: str = "string"
    values: list[MLValue] = Field(default_factory=list)
    allowed_units: list[MLUnit] = Field(default_factory=list)
    default_unit: str | None = None


class MLCategoryRef(_Model):
    id: str
    name: str


class MLCategoryDetail(_Model):
    id: str
    name: str
    children_categories: list[MLCategoryRef] = Field(default_factory=list)


class MLDomainGuess(_Model):
    domain_id: str | None = None
    domain_name: str | None = None
    category_id: str
    category_name: str


def _get(client: MercadoLivreClient, operation: str, path: str, params: Any = None) -> Any:
    http = client.http
    return http.send(operation, lambda: http.build("GET", path, params=params)).json()


def fetch_tree(client: MercadoLivreClient, site: str = SITE) -> list[MarketplaceCategory]:
    tops = [
        MLCategoryRef.model_validate(t)
        for t in _get(client, "categories.site", f"/sites/{site}/categories")
    ]
    queue: deque[tuple[str, str | None, str]] = deque((t.id, None, t.name) for t in tops)
    out: list[MarketplaceCategory] = []
    seen: set[str] = set()
    while queue:
        category_id, parent, path = queue.popleft()
        if category_id in seen:
            continue
        seen.add(category_id)
        detail = MLCategoryDetail.model_validate(
            _get(client, "categories.get", f"/categories/{category_id}")
        )
        out.append(
            MarketplaceCategory(
                MARKETPLACE,
                site,
                detail.id,
                detail.name,
                parent,
                path,
                not detail.children_categories,
            )
        )
        queue.extend((c.id, detail.id, f"{path} > {c.name}") for c in detail.children_categories)
    return out


def _requirement(tags: dict[str, Any]) -> tuple[Requirement, str | None]:
    if tags.get("required"):
        return "required", None
    if tags.get("conditional_required"):
        return "conditional", CONDITIONAL_NOTE
    if tags.get("catalog_required"):
        return "catalog_required", CATALOG_NOTE
    return "optional", None


def parse_attributes(raw: Sequence[Any], category_id: str) -> list[AttributeRule]:
    """ML's attribute list as rules; hidden attributes are dropped unless required."""
    rules = []
    for entry in raw:
        spec = MLAttributeSpec.model_validate(entry)
        requirement, condition = _requirement(spec.tags)
        if spec.tags.get("hidden") and requirement == "optional":
            continue
        rules.append(
            AttributeRule(
                marketplace=MARKETPLACE,
                category_id=category_id,
                attribute_id=spec.id,
                name=spec.name,
                requirement=requirement,
                value_type=spec.value_type,
                # "string" attributes may list suggestions; only list and boolean are closed.
                closed_list=spec.value_type in ("list", "boolean") and bool(spec.values),
                allowed_values=tuple(AllowedValue(v.id or v.name, v.name) for v in spec.values),
                allowed_units=tuple(u.id for u in spec.allowed_units),
                default_unit=spec.default_unit,
                canonical=canonical_of(spec.id, spec.name),
                condition=condition,
            )
        )
    return rules


def fetch_attributes(client: MercadoLivreClient, category_id: str) -> list[AttributeRule]:
    raw = _get(client, "categories.attributes", f"/categories/{category_id}/attributes")
    return parse_attributes(raw, category_id)


def suggest(client: MercadoLivreClient, text: str, site: str = SITE) -> CategorySuggestion | None:
    """Mercado Livre's domain discovery: the likeliest category for a product title."""
    raw = _get(
        client,
        "categories.domain_discovery",
        f"/sites/{site}/domain_discovery/search",
        {"q": text, "limit": 1},
    )
    if not raw:
        return None
    guess = MLDomainGuess.model_validate(raw[0])
    return CategorySuggestion(
        guess.category_id,
        guess.category_name,
        f"Mercado Livre domain_discovery for {text!r}: {guess.domain_id} ({guess.category_name})",
    )
