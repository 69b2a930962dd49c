"""A product's normalized attributes, fitted to one marketplace category's attribute rules.

Closed lists take only their own values (matched ignoring case and accents, after our
synonyms); measures are written in a unit the marketplace accepts; a value the rule
cannot take is `invalid` with the reason, an absent one `missing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from synchub_pipelines.defs.normalization.attributes import (
    LENGTH_UNITS,
    WEIGHT_UNITS,
    Normalized,
    normalize,
)
from synchub_pipelines.marketplaces.categories.models import AllowedValue, AttributeRule, fold

Status = Literal["ok", "missing", "invalid"]
_SHOWN_VALUES = 8


@dataclass(frozen=True)
class Fitted:
    rule: AttributeRule
    value_id: str | None
    value_name: str | None
    status: Status
    reason: str | None = None

    @property
    def label(self) -> str:
        return f"{self.rule.name} ({self.rule.attribute_id})"


def _our_value(
    rule: AttributeRule, values: Mapping[str, Normalized], sku: str
) -> Normalized | None:
    if rule.attribute_id in ("SELLER_SKU", "seller_sku"):
        return Normalized("sku", sku, None, sku, "catalog")
    for key in (rule.canonical, fold(rule.name), fold(rule.attribute_id)):
        if key and key in values:
            return values[key]
    return None


def _convert(value: str, unit: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    """ "<value> <unit>" in a unit the rule allows (its default first), or None."""
    table = WEIGHT_UNITS if unit == "g" else LENGTH_UNITS
    choices = [u for u in (default, *allowed) if u]
    if not choices or unit in choices:
        return f"{value} {unit}"
    for target in choices:
        if target in table:
            converted = (Decimal(value) * table[unit] / table[target]).quantize(Decimal("0.001"))
            return f"{converted.normalize():f} {target}"
    return None


def _allowed(rule: AttributeRule, ours: Normalized) -> AllowedValue | None:
    """The listed value that is ours: same name, or the same once normalized ("Aço Inox")."""
    assert ours.value is not None
    wanted = fold(ours.value)
    for value in rule.allowed_values:
        if fold(value.name) == wanted:
            return value
    for value in rule.allowed_values:
        theirs = normalize(ours.attribute, value.name, "marketplace").value
        if theirs is not None and fold(theirs) == wanted:
            return value
    return None


def fit(rule: AttributeRule, values: Mapping[str, Normalized], sku: str) -> Fitted:
    ours = _our_value(rule, values, sku)
    if ours is None:
        return Fitted(rule, None, None, "missing", "no value in the catalog or attributes file")
    if not ours.ok:
        return Fitted(rule, None, None, "invalid", ours.reason)
    assert ours.value is not None
    if rule.closed_list:
        match = _allowed(rule, ours)
        if match is None:
            shown = ", ".join(v.name for v in rule.allowed_values[:_SHOWN_VALUES])
            more = "…" if len(rule.allowed_values) > _SHOWN_VALUES else ""
            reason = f"{ours.value!r} is not one of the allowed values ({shown}{more})"
            return Fitted(rule, None, None, "invalid", reason)
        return Fitted(rule, match.value_id, match.name, "ok")
    if ours.unit and (rule.allowed_units or rule.value_type == "number_unit"):
        written = _convert(ours.value, ours.unit, rule.allowed_units, rule.default_unit)
        if written is None:
            units = ", ".join(rule.allowed_units)
            reason = f"{ours.value} {ours.unit} cannot be written in an allowed unit ({units})"
            return Fitted(rule, None, None, "invalid", reason)
        return Fitted(rule, None, written, "ok")
    match = _allowed(rule, ours)
    if match is not None:  # an open list's suggested value: send its id too
        return Fitted(rule, match.value_id, match.name, "ok")
    return Fitted(rule, None, ours.value, "ok")
