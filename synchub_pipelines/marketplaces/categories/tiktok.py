"""TikTok Shop categories: the tree, each leaf's attributes and rules, recommendation.

Calls are signed and shop-scoped like every TikTok call, so they are built here from the
client's public parts (its app's signer, its HTTP session and its token manager).
Cost: one call for the tree, two per mapped leaf (attributes and rules), one per
recommendation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from synchub_pipelines.marketplaces.categories.models import (
    AllowedValue,
    AttributeRule,
    CategorySuggestion,
    MarketplaceCategory,
    Requirement,
    ValueCondition,
    canonical_of,
    paths_of,
)
from synchub_pipelines.marketplaces.errors import MarketplaceError
from synchub_pipelines.marketplaces.tiktok import TikTokClient
from synchub_pipelines.marketplaces.tokens import NotConnectedError

MARKETPLACE = "tiktok"
SITE = "BR"
CATEGORIES_PATH = "/product/202309/categories"
ATTRIBUTES_PATH = "/product/202309/categories/{category_id}/attributes"
RULES_PATH = "/product/202309/categories/{category_id}/rules"
RECOMMEND_PATH = "/product/202309/categories/recommend"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class TTCategory(_Model):
    id: str
    parent_id: str = "0"
    local_name: str
    is_leaf: bool = False


class TTValue(_Model):
    id: str
    name: str


class TTCondition(_Model):
    condition_type: str = ""
    attribute_id: str = ""
    attribute_value_id: str = ""


class TTAttribute(_Model):
    id: str
    name: str
    type: str = "PRODUCT_PROPERTY"
    # The API spells it "is_requried"; the correct spelling is accepted too.
    is_requried: bool = False
    is_required: bool = False
    values: list[TTValue] = Field(default_factory=list)
    is_customizable: bool = False
    value_data_format: str | None = None
    requirement_conditions: list[TTCondition] = Field(default_factory=list)

    @field_validator("values", "requirement_conditions", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return value or []


class TTCertification(_Model):
    id: str
    name: str
    is_required: bool = False


class TTRequired(_Model):
    is_required: bool = False


class TTRules(_Model):
    product_certifications: list[TTCertification] = Field(default_factory=list)
    size_chart: TTRequired = Field(default_factory=TTRequired)
    package_dimension: TTRequired = Field(default_factory=TTRequired)


class TTRecommendation(_Model):
    leaf_category_id: str = ""
    categories: list[dict[str, Any]] = Field(default_factory=list)


def _call(
    client: TikTokClient,
    operation: str,
    method: str,
    path: str,
    query: Mapping[str, str] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
    sent: dict[str, str] = {}

    def build() -> Any:
        tokens = client.tokens.tokens
        cipher = tokens.extra.get("shop_cipher")
        if not cipher:
            raise NotConnectedError(
                f"store {client.store.store_id} has no shop_cipher: connect it again"
            )
        sent["token"] = tokens.access_token.get_secret_value()
        return client.app.signed_request(
            client.http, method, path, sent["token"], shop_cipher=cipher, query=query, body=raw
        )

    response = client.http.send(
        operation, build, reauthenticate=lambda: client.tokens.invalidate(sent.get("token", ""))
    )
    data = response.json().get("data")
    if data is not None and not isinstance(data, dict):
        raise MarketplaceError(MARKETPLACE, operation, "unexpected answer: data is not an object")
    return data or {}


def fetch_tree(client: TikTokClient) -> list[MarketplaceCategory]:
    data = _call(client, "categories.list", "GET", CATEGORIES_PATH)
    nodes = [TTCategory.model_validate(c) for c in data.get("categories") or []]
    ids = {n.id for n in nodes}
    parents = {n.id: (n.parent_id if n.parent_id in ids else None) for n in nodes}
    paths = paths_of((n.id, n.local_name, parents[n.id]) for n in nodes)
    return [
        MarketplaceCategory(
            MARKETPLACE, SITE, n.id, n.local_name, parents[n.id], paths[n.id], n.is_leaf
        )
        for n in nodes
    ]


def parse_attributes(
    attributes: list[Any], rules: Mapping[str, Any], category_id: str
) -> list[AttributeRule]:
    """Attributes, plus the category rules a listing must satisfy, as rules."""
    parsed_attributes = [TTAttribute.model_validate(raw) for raw in attributes]
    names = {a.id: (a.name, {v.id: v.name for v in a.values}) for a in parsed_attributes}

    def described(c: ValueCondition) -> str:
        name, values = names.get(c.attribute_id, (f"attribute {c.attribute_id}", {}))
        return f"{name} = {values.get(c.value_id, f'value {c.value_id}')}"

    out = []
    for attr in parsed_attributes:
        conditions = tuple(
            ValueCondition(c.attribute_id, c.attribute_value_id)
            for c in attr.requirement_conditions
            if c.condition_type == "VALUE_ID_MATCH"
        )
        required = attr.is_requried or attr.is_required
        requirement: Requirement = (
            "required" if required else "conditional" if conditions else "optional"
        )
        condition = (
            "required when " + " or ".join(described(c) for c in conditions) if conditions else None
        )
        out.append(
            AttributeRule(
                marketplace=MARKETPLACE,
                category_id=category_id,
                attribute_id=attr.id,
                name=attr.name,
                requirement=requirement,
                value_type="number"
                if attr.value_data_format
                else "list"
                if attr.values
                else "string",
                closed_list=bool(attr.values) and not attr.is_customizable,
                allowed_values=tuple(AllowedValue(v.id, v.name) for v in attr.values),
                canonical=canonical_of(attr.name),
                condition=condition,
                when_any=conditions,
            )
        )
    parsed = TTRules.model_validate(rules)
    if parsed.package_dimension.is_required:
        for dimension, name in (
            ("weight", "Peso do pacote"),
            ("length", "Comprimento do pacote"),
            ("width", "Largura do pacote"),
            ("height", "Altura do pacote"),
        ):
            out.append(
                AttributeRule(
                    marketplace=MARKETPLACE,
                    category_id=category_id,
                    attribute_id=f"package_dimension.{dimension}",
                    name=name,
                    requirement="required",
                    value_type="number_unit",
                    closed_list=False,
                    allowed_units=("g", "kg") if dimension == "weight" else ("cm",),
                    canonical=dimension,
                    condition="category rule package_dimension.is_required",
                )
            )
    for cert in parsed.product_certifications:
        if cert.is_required:
            out.append(
                AttributeRule(
                    marketplace=MARKETPLACE,
                    category_id=category_id,
                    attribute_id=f"certification.{cert.id}",
                    name=cert.name,
                    requirement="required",
                    value_type="certificate",
                    closed_list=False,
                    condition="category rule product_certifications.is_required",
                )
            )
    if parsed.size_chart.is_required:
        out.append(
            AttributeRule(
                marketplace=MARKETPLACE,
                category_id=category_id,
                attribute_id="size_chart",
                name="Tabela de medidas",
                requirement="required",
                value_type="image",
                closed_list=False,
                condition="category rule size_chart.is_required",
            )
        )
    return out


def fetch_attributes(client: TikTokClient, category_id: str) -> list[AttributeRule]:
    attributes = _call(
        client, "categories.attributes", "GET", ATTRIBUTES_PATH.format(category_id=category_id)
    )
    rules = _call(client, "categories.rules", "GET", RULES_PATH.format(category_id=category_id))
    return parse_attributes(attributes.get("attributes") or [], rules, category_id)


def suggest(client: TikTokClient, title: str) -> CategorySuggestion | None:
    data = _call(
        client, "categories.recommend", "POST", RECOMMEND_PATH, body={"product_title": title}
    )
    answer = TTRecommendation.model_validate(data)
    if not answer.leaf_category_id:
        return None
    names = [str(c.get("name", "")) for c in answer.categories]
    path = " > ".join(n for n in names if n) or answer.leaf_category_id
    return CategorySuggestion(
        answer.leaf_category_id,
        path,
        f"TikTok category recommendation for product title {title!r}: {path}",
    )
