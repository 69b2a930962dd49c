"""Binds each listing variation to exactly one central SKU, and never guesses.

Order of evidence: a manual link (an operator's decision) wins; then the seller SKU typed
on the marketplace, matched exactly after trimming and case-folding; then the GTIN. A
listing that matches nothing, or whose SKU and GTIN point at different products, stays
unlinked and is reported for an operator to resolve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from synchub_pipelines.models import LinkMethod, ListingLink

ListingKey = tuple[str, str, str]


@dataclass(frozen=True)
class ListingRef:
    store_id: str
    listing_id: str
    variation_id: str
    seller_sku: str | None
    gtin: str | None
    title: str

    @property
    def key(self) -> ListingKey:
        return (self.store_id, self.listing_id, self.variation_id)


@dataclass
class LinkResult:
    links: list[ListingLink] = field(default_factory=list)
    unmatched: list[tuple[ListingRef, str]] = field(default_factory=list)


def _fold(value: str | None) -> str | None:
    return value.strip().casefold() if value and value.strip() else None


def link_listings(
    listings: Iterable[ListingRef],
    skus: Iterable[str],
    gtins: Mapping[str, str],
    manual: Mapping[ListingKey, str],
) -> LinkResult:
    """`gtins` maps GTIN → SKU; `manual` maps a listing key → SKU chosen by an operator."""
    by_sku = {}
    for sku in skus:
        folded = _fold(sku)
        if folded:
            by_sku[folded] = sku
    result = LinkResult()
    for listing in listings:
        if listing.key in manual:
            result.links.append(_link(listing, manual[listing.key], LinkMethod.MANUAL))
            continue
        sku_match = by_sku.get(_fold(listing.seller_sku) or "")
        gtin_match = gtins.get((listing.gtin or "").strip())
        if sku_match and gtin_match and sku_match != gtin_match:
            reason = f"seller SKU says {sku_match} but GTIN {listing.gtin} says {gtin_match}"
            result.unmatched.append((listing, reason))
        elif sku_match:
            result.links.append(_link(listing, sku_match, LinkMethod.SELLER_SKU))
        elif gtin_match:
            result.links.append(_link(listing, gtin_match, LinkMethod.GTIN))
        elif listing.seller_sku:
            result.unmatched.append(
                (listing, f"seller SKU {listing.seller_sku!r} is not in the catalog")
            )
        else:
            result.unmatched.append((listing, "no seller SKU or GTIN on the listing"))
    return result


def _link(listing: ListingRef, sku: str, method: LinkMethod) -> ListingLink:
    return ListingLink(
        store_id=listing.store_id,
        listing_id=listing.listing_id,
        variation_id=listing.variation_id,
        sku=sku,
        method=method,
    )
