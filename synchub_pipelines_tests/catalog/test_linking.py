"""Listing → SKU linking: manual first, then exact seller SKU, then GTIN; never a guess."""

from __future__ import annotations

from synchub_pipelines.defs.listings.linking import ListingRef, link_listings
from synchub_pipelines.models import LinkMethod

SKUS = ["CAM01-PRT-M", "CAM01-PRT-G", "GAR01-AZL"]
GTINS = {"7891234567895": "CAM01-PRT-M", "7890000000017": "GAR01-AZL"}
STORE = "mercadolivre-1"


def ref(
    listing_id: str, seller_sku: str | None = None, gtin: str | None = None, variation: str = ""
) -> ListingRef:
    return ListingRef(STORE, listing_id, variation, seller_sku, gtin, f"Anúncio {listing_id}")


def single(listing: ListingRef, manual: dict[tuple[str, str, str], str] | None = None):  # type: ignore[no-untyped-def]
    result = link_listings([listing], SKUS, GTINS, manual or {})
    assert len(result.links) + len(result.unmatched) == 1
    return result


def test_manual_link_wins_over_sku_and_gtin() -> None:
    listing = ref("MLB1", seller_sku="CAM01-PRT-M", gtin="7890000000017", variation="11")
    result = single(listing, manual={listing.key: "CAM01-PRT-G"})
    (link,) = result.links
    assert (link.sku, link.method) == ("CAM01-PRT-G", LinkMethod.MANUAL)
    assert (link.store_id, link.listing_id, link.variation_id) == (STORE, "MLB1", "11")


def test_manual_link_binds_a_listing_with_nothing_to_match() -> None:
    listing = ref("MLB1")
    (link,) = single(listing, manual={listing.key: "GAR01-AZL"}).links
    assert link.method is LinkMethod.MANUAL


def test_manual_link_is_per_variation() -> None:
    a, b = ref("MLB1", variation="11"), ref("MLB1", "CAM01-PRT-M", variation="12")
    result = link_listings([a, b], SKUS, GTINS, {a.key: "GAR01-AZL"})
    assert {(x.variation_id, x.sku, x.method) for x in result.links} == {
        ("11", "GAR01-AZL", LinkMethod.MANUAL),
        ("12", "CAM01-PRT-M", LinkMethod.SELLER_SKU),
    }


def test_seller_sku_matches_exactly_after_trim_and_casefold() -> None:
    (link,) = single(ref("MLB1", seller_sku="  cam01-prt-m \t")).links
    # The link names the catalog's own spelling of the SKU.
    assert (link.sku, link.method) == ("CAM01-PRT-M", LinkMethod.SELLER_SKU)


def test_seller_sku_never_matches_partially() -> None:
    for almost in ("CAM01-PRT", "CAM01-PRT-M1", "CAM01 PRT M", "OLD-CAM01-PRT-M"):
        result = single(ref("MLB1", seller_sku=almost))
        assert result.links == []
        ((_, reason),) = result.unmatched
        assert almost in reason and "not in the catalog" in reason


def test_gtin_is_the_fallback_when_the_sku_is_missing_or_unknown() -> None:
    (link,) = single(ref("MLB1", gtin=" 7890000000017 ")).links
    assert (link.sku, link.method) == ("GAR01-AZL", LinkMethod.GTIN)
    (link,) = single(ref("MLB2", seller_sku="UNKNOWN", gtin="7890000000017")).links
    assert (link.sku, link.method) == ("GAR01-AZL", LinkMethod.GTIN)


def test_sku_and_gtin_agreeing_link_by_sku() -> None:
    (link,) = single(ref("MLB1", seller_sku="CAM01-PRT-M", gtin="7891234567895")).links
    assert link.method is LinkMethod.SELLER_SKU


def test_sku_and_gtin_disagreeing_stay_unmatched_with_the_reason() -> None:
    result = single(ref("MLB1", seller_sku="CAM01-PRT-M", gtin="7890000000017"))
    assert result.links == []
    ((listing, reason),) = result.unmatched
    assert listing.listing_id == "MLB1"
    assert "CAM01-PRT-M" in reason and "GAR01-AZL" in reason and "7890000000017" in reason


def test_unknown_sku_and_blank_listings_are_unmatched_never_guessed() -> None:
    listings = [
        ref("MLB1", seller_sku="NAO-EXISTE"),
        ref("MLB2"),
        ref("MLB3", seller_sku="   ", gtin=""),
        ref("MLB4", gtin="0000000000000"),
    ]
    result = link_listings(listings, SKUS, GTINS, {})
    assert result.links == []
    reasons = {listing.listing_id: reason for listing, reason in result.unmatched}
    assert set(reasons) == {"MLB1", "MLB2", "MLB3", "MLB4"}
    assert "NAO-EXISTE" in reasons["MLB1"]
    assert reasons["MLB2"] == "no seller SKU or GTIN on the listing"


def test_every_listing_gets_exactly_one_outcome() -> None:
    listings = [ref(f"MLB{i}", seller_sku=sku) for i, sku in enumerate([*SKUS, "X", None])]
    result = link_listings(listings, SKUS, GTINS, {})
    keys = [x.listing_id for x in result.links] + [x.listing_id for x, _ in result.unmatched]
    assert sorted(keys) == sorted(x.listing_id for x in listings)
    assert len(result.links) == 3
