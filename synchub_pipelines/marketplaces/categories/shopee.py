"""Shopee categories: the region's tree, each leaf's attribute tree, category_recommend.

Uses the Shopee client's public category methods. The attribute tree nests attributes
under values ("Voltage = Bivolt" opens "Power"): such a child is flattened into a rule
that is `conditional` on its parent attribute holding that value.
Cost: one call for the tree, one per 20 mapped leaves, one per recommendation.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from synchub_pipelines.marketplaces.shopee import ShopeeAttribute, ShopeeClient

MARKETPLACE = "shopee"
SITE = "BR"
LANGUAGE = "pt-br"
# attribute_info.input_type: 1 drop-down and 2 multiple select take listed values only;
# 3 text, 4 combo box and 5 multiple-select combo box also take the seller's own.
_CLOSED_INPUTS = (1, 2)
_NUMERIC_VALIDATIONS = (1, 3)  # INT_TYPE, FLOAT_TYPE


def fetch_tree(client: ShopeeClient) -> list[MarketplaceCategory]:
    nodes = client.get_category(LANGUAGE)
    ids = {n.category_id for n in nodes}
    parents = {
        n.category_id: str(n.parent_category_id) if n.parent_category_id in ids else None
        for n in nodes
    }
    paths = paths_of(
        (str(n.category_id), n.display_category_name, parents[n.category_id]) for n in nodes
    )
    return [
        MarketplaceCategory(
            MARKETPLACE,
            SITE,
            str(n.category_id),
            n.display_category_name,
            parents[n.category_id],
            paths[str(n.category_id)],
            not n.has_children,
        )
        for n in nodes
    ]


def _value_type(attribute: ShopeeAttribute) -> str:
    info = attribute.attribute_info
    if info.attribute_unit_list:
        return "number_unit"
    if info.input_type in _CLOSED_INPUTS:
        return "list"
    if info.input_validation_type in _NUMERIC_VALIDATIONS:
        return "number"
    return "string"


def parse_attributes(
    attributes: Sequence[ShopeeAttribute],
    category_id: str,
    opened_by: ValueCondition | None = None,
    opened_by_text: str = "",
) -> list[AttributeRule]:
    rules: list[AttributeRule] = []
    for attribute in attributes:
        name = attribute.display_name(LANGUAGE)
        requirement: Requirement = "optional"
        condition = None
        if attribute.mandatory:
            requirement = "conditional" if opened_by else "required"
        if opened_by is not None:
            condition = f"required when {opened_by_text}"
        info = attribute.attribute_info
        rules.append(
            AttributeRule(
                marketplace=MARKETPLACE,
                category_id=category_id,
                attribute_id=str(attribute.attribute_id),
                name=name,
                requirement=requirement,
                value_type=_value_type(attribute),
                closed_list=info.input_type in _CLOSED_INPUTS
                and bool(attribute.attribute_value_list),
                allowed_values=tuple(
                    AllowedValue(str(v.value_id), v.display_name(LANGUAGE))
                    for v in attribute.attribute_value_list
                ),
                allowed_units=tuple(info.attribute_unit_list),
                canonical=canonical_of(attribute.name, name),
                condition=condition,
                when_any=(opened_by,) if opened_by and attribute.mandatory else (),
            )
        )
        for value in attribute.attribute_value_list:
            if value.child_attribute_list:
                opens = ValueCondition(str(attribute.attribute_id), str(value.value_id))
                text = f"{name} = {value.display_name(LANGUAGE)}"
                rules += parse_attributes(value.child_attribute_list, category_id, opens, text)
    return rules


def fetch_attributes(client: ShopeeClient, category_id: str) -> list[AttributeRule]:
    return parse_attributes(client.get_attributes(int(category_id), LANGUAGE), category_id)


def suggest(client: ShopeeClient, title: str) -> CategorySuggestion | None:
    ids = client.category_recommend(title)
    if not ids:
        return None
    return CategorySuggestion(
        str(ids[0]),
        str(ids[0]),
        f"Shopee category_recommend for item name {title!r}: {ids[0]} (best of {len(ids)})",
    )
