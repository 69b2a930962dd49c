"""Matching rules: GTIN first, then brand + title; ambiguity waits for a person."""

from __future__ import annotations

from synchub_pipelines.defs.enrichment.matching import (
    Decision,
    OfferRef,
    Product,
    match_all,
    normalize_gtin,
    title_score,
)

CATALOG = [
    Product("default", "CAM-P", "Camiseta Básica Algodão Vermelho P", "Malwee", "7891010713645"),
    Product("default", "CAM-G", "Camiseta Básica Algodão Vermelho G", "Malwee", None),
    Product("default", "CAM-GG", "Camiseta Básica Algodão Vermelho GG", "Malwee", None),
    Product("default", "GAR-500", "Garrafa Térmica 500ml Preto", "Stanley", None),
]


def offer(title: str, brand: str | None = None, gtin: str | None = None) -> OfferRef:
    return OfferRef("shop", f"http://shop/{title}", title, brand, gtin)


def test_gtin_is_normalized_to_gtin14() -> None:
    assert normalize_gtin("789-1010-713645") == "07891010713645"
    assert normalize_gtin("07891010713645") == normalize_gtin("7891010713645")
    assert normalize_gtin("123") is None
    assert normalize_gtin("00000000") is None


def test_gtin_wins_over_any_title() -> None:
    [match] = match_all([offer("Something else entirely", "Other", "07891010713645")], CATALOG)
    assert (match.sku, match.method, match.status, match.score) == ("CAM-P", "gtin", "auto", 100.0)


def test_abbreviated_reordered_title_with_brand_matches_the_right_size() -> None:
    [match] = match_all([offer("MALWEE CAMISETA BÁS. ALG. VERMELHO G", "Malwee")], CATALOG)
    assert (match.sku, match.method, match.status) == ("CAM-G", "title", "auto")
    assert title_score("Garrafa 1,5 Litros", "Garrafa 1.5 l") == 100.0


def test_a_title_without_size_waits_for_a_person() -> None:
    found = match_all([offer("Camiseta Básica Algodão Vermelho", "Malwee")], CATALOG)
    assert {m.status for m in found} == {"pending"}
    assert len(found) == 3


def test_other_brand_other_quantity_or_no_brand_is_never_auto() -> None:
    assert match_all([offer("Camiseta Básica Algodão Vermelho G", "Hering")], CATALOG) == []
    other_size = match_all([offer("Garrafa Térmica 710ml Preto", "Stanley")], CATALOG)
    assert {m.status for m in other_size} <= {"pending"}
    no_brand = match_all([offer("Camiseta Básica Algodão Vermelho G")], CATALOG)
    assert no_brand and {m.status for m in no_brand} == {"pending"}


def test_decisions_win() -> None:
    o = offer("MALWEE CAMISETA BÁS. ALG. VERMELHO G", "Malwee")
    rejected = [Decision("default", o.site, o.url, "CAM-G", "rejected")]
    assert all(m.sku != "CAM-G" for m in match_all([o], CATALOG, rejected))
    accepted = [Decision("default", o.site, o.url, "CAM-GG", "accepted")]
    assert match_all([o], CATALOG, accepted) == []
