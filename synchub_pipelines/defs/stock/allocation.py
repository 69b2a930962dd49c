"""The arithmetic of stock allocation, free of I/O: allocatable units and per-listing targets.

allocatable(SKU) = max(0, on hand − reserved). A kit has no shelf of its own: it is
assembled from its components, so it can offer min over components of
floor(allocatable(component) / quantity per kit), and a reserved kit reserves its
components' units.

The invariant every plan keeps: for each SKU, the targets of all its listings add up to at
most its allocatable units. Each listing first asks what its store's policy allows; when
the asks add up to more than there is, the units are split in proportion to the asks
(largest remainder, ties broken by listing key), so the split is the same on every run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ListingKey = tuple[str, str, str]  # store_id, listing_id, variation_id


@dataclass(frozen=True)
class SkuStock:
    sku: str
    on_hand: int
    reserved: int
    allocatable: int
    is_kit: bool


def allocatable_stock(
    on_hand: Mapping[str, int],
    reserved: Mapping[str, int],
    components: Mapping[str, Sequence[tuple[str, int]]],
) -> dict[str, SkuStock]:
    """Per SKU: on hand, reserved and allocatable, kits derived from their components.

    `on_hand` and `reserved` are per SKU as recorded (a kit's own reservations included);
    `components` maps each kit to (component SKU, units per kit).
    """
    direct_reserved: dict[str, int] = defaultdict(int, reserved)
    # Units reserved through kits weigh on their components.
    for kit, parts in components.items():
        kits_reserved = reserved.get(kit, 0)
        if kits_reserved:
            for component, per_kit in parts:
                direct_reserved[component] += kits_reserved * per_kit
    skus = set(on_hand) | set(reserved) | set(components)
    for parts in components.values():
        skus.update(component for component, _ in parts)
    result: dict[str, SkuStock] = {}
    for sku in sorted(skus):
        if sku in components:
            continue
        held = on_hand.get(sku, 0)
        taken = direct_reserved.get(sku, 0)
        result[sku] = SkuStock(sku, held, taken, max(0, held - taken), is_kit=False)
    for kit, parts in sorted(components.items()):
        if not parts:
            result[kit] = SkuStock(kit, 0, reserved.get(kit, 0), 0, is_kit=True)
            continue
        # Component reservations already count the kit's own; do not subtract them twice.
        can_build = min(
            result[component].allocatable // per_kit if per_kit > 0 else 0
            for component, per_kit in parts
        )
        built_on_hand = min(
            result[component].on_hand // per_kit if per_kit > 0 else 0
            for component, per_kit in parts
        )
        result[kit] = SkuStock(kit, built_on_hand, reserved.get(kit, 0), can_build, is_kit=True)
    return result


def split(allocatable: int, asks: Mapping[ListingKey, int]) -> dict[ListingKey, int]:
    """Targets for a SKU's listings: each gets its ask when they fit, else a proportional
    share (largest remainder). Never more than asked, never more than `allocatable` in all."""
    available = max(0, allocatable)
    wanted = {key: max(0, ask) for key, ask in asks.items()}
    total = sum(wanted.values())
    if total <= available:
        return wanted
    targets = {key: ask * available // total for key, ask in wanted.items()}
    left = available - sum(targets.values())
    order = sorted(
        wanted,
        key=lambda k: (-(wanted[k] * available % total), -wanted[k], k),
    )
    for key in order:
        if left <= 0:
            break
        if targets[key] < wanted[key]:
            targets[key] += 1
            left -= 1
    return targets


def invariant_breaches(
    targets: Iterable[tuple[str, int]], allocatable: Mapping[str, int]
) -> dict[str, tuple[int, int]]:
    """SKUs whose targets add up to more than their allocatable units: sku → (sum, allocatable)."""
    totals: dict[str, int] = defaultdict(int)
    negative: set[str] = set()
    for sku, target in targets:
        totals[sku] += target
        if target < 0:
            negative.add(sku)
    return {
        sku: (total, allocatable.get(sku, 0))
        for sku, total in sorted(totals.items())
        if total > allocatable.get(sku, 0) or sku in negative
    }
