"""Can a product be listed on a marketplace, and if not, exactly what is missing or wrong.

A product is ready when its category maps (manually, or by an accepted suggestion) to an
existing marketplace category and every attribute that category requires has a valid
value. Conditional requirements count when their condition holds for this product
(TikTok's "required when attribute X has value Y"); conditions the marketplace checks
only when publishing (Mercado Livre's conditional_required) and catalog-only requirements
are notes, unless a value was given and is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from synchub_pipelines.defs.normalization.marketplace_values import Fitted


@dataclass(frozen=True)
class MappingState:
    marketplace_category_id: str | None
    status: str  # manual | suggested | invalid | none
    path: str | None
    reason: str | None


@dataclass
class Verdict:
    sku: str
    marketplace: str
    marketplace_category_id: str | None
    missing: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.missing and not self.invalid


def _condition_holds(item: Fitted, fitted: Sequence[Fitted]) -> bool:
    by_id = {f.rule.attribute_id: f for f in fitted}
    return any(
        (other := by_id.get(c.attribute_id)) is not None and other.value_id == c.value_id
        for c in item.rule.when_any
    )


def judge(
    sku: str,
    marketplace: str,
    category_label: str | None,
    mapping: MappingState | None,
    fitted: Sequence[Fitted],
) -> Verdict:
    if category_label is None:
        verdict = Verdict(sku, marketplace, None)
        verdict.missing.append("category (the product has none in the internal tree)")
        return verdict
    if mapping is None or mapping.status == "none" or mapping.marketplace_category_id is None:
        verdict = Verdict(sku, marketplace, None)
        verdict.missing.append(f"category mapping for {category_label}")
        return verdict
    verdict = Verdict(sku, marketplace, mapping.marketplace_category_id)
    target = f"{mapping.marketplace_category_id} ({mapping.path or '?'})"
    if mapping.status == "invalid":
        verdict.invalid.append(f"category mapping for {category_label}: {mapping.reason}")
        return verdict
    if mapping.status == "suggested":
        verdict.invalid.append(
            f"category mapping for {category_label}: {target} is only a suggestion; "
            "accept it by adding it to the category tree file"
        )
    for item in fitted:
        requirement = item.rule.requirement
        binding = requirement == "required" or (
            requirement == "conditional" and item.rule.when_any and _condition_holds(item, fitted)
        )
        if item.status == "ok":
            continue
        if requirement == "conditional" and item.rule.when_any and not binding:
            continue  # its condition does not hold for this product: not asked for
        if item.status == "invalid" and requirement != "optional":
            verdict.invalid.append(f"{item.label}: {item.reason}")
        elif binding:
            verdict.missing.append(item.label)
        elif requirement in ("conditional", "catalog_required"):
            verdict.notes.append(f"{item.label}: {item.rule.condition}")
        elif item.status == "invalid":
            verdict.notes.append(f"{item.label} (optional) not sent: {item.reason}")
    return verdict
