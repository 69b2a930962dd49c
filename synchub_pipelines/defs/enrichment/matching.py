"""Which central SKU a competitor's offer sells: GTIN first, then brand and title.

Rules, in order (docs/enrichment.md):

1. A person's decision wins. An offer a person accepted for a SKU keeps that match and the
   matcher proposes nothing else for it; a SKU a person rejected for an offer is never
   proposed for that offer again.
2. Same GTIN (both normalized to GTIN-14, so an EAN-13 equals its GTIN-14 with a leading 0):
   `auto`, score 100. A GTIN shared by several SKUs of one tenant is ambiguous: `pending`.
3. Otherwise brand and title: only SKUs of the offer's brand (when both state one) are
   compared, by rapidfuzz's token-set ratio (averaged with the token-sort ratio, see
   `title_score`) on accent-folded, lower-cased, unit-normalized titles, abbreviations
   spelled out and the brand left out, less 10 points per size, model or quantity word
   only one title has ("G" against "GG", "500ml" against "710ml"). The best candidate is
   `auto` when it scores at least `high` and no other comes within `margin` of it (a
   title without the size matches every size equally: a person picks); candidates from
   `low` up are `pending`; below `low`, nothing. An offer without a brand never matches
   automatically by title.

Pure logic: no Dagster, no database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

HIGH = 90.0
LOW = 70.0
MARGIN = 2.0
MAX_PENDING = 3

_UNITS = {
    "ml": "ml",
    "mililitro": "ml",
    "mililitros": "ml",
    "l": "l",
    "lt": "l",
    "lts": "l",
    "litro": "l",
    "litros": "l",
    "g": "g",
    "gr": "g",
    "grs": "g",
    "grama": "g",
    "gramas": "g",
    "kg": "kg",
    "kgs": "kg",
    "quilo": "kg",
    "quilos": "kg",
    "cm": "cm",
    "mm": "mm",
    "m": "m",
    "metro": "m",
    "metros": "m",
    "w": "w",
    "watts": "w",
    "v": "v",
    "volts": "v",
    "pol": "pol",
    "polegadas": "pol",
    "un": "un",
    "und": "un",
    "unid": "un",
    "unidades": "un",
}
_ABBREVIATIONS = {"c/": "com ", "s/": "sem ", "p/": "para "}
_NUMBER_UNIT = re.compile(r"(\d+(?:[.,]\d+)?)\s*([a-z]+)\b")
_NOT_WORD = re.compile(r"[^a-z0-9.]+")


@dataclass(frozen=True)
class Product:
    """A central SKU as the matcher sees it."""

    tenant: str
    sku: str
    name: str
    brand: str | None
    gtin: str | None


@dataclass(frozen=True)
class OfferRef:
    """A competitor offer as the matcher sees it."""

    site: str
    url: str
    title: str
    brand: str | None
    gtin: str | None


@dataclass(frozen=True)
class Decision:
    """A person's word on an offer × SKU (`accepted` or `rejected`)."""

    tenant: str
    site: str
    url: str
    sku: str
    status: str


@dataclass(frozen=True)
class Candidate:
    tenant: str
    site: str
    url: str
    sku: str
    method: str  # gtin | title
    score: float
    status: str  # auto | pending


@dataclass(frozen=True)
class Thresholds:
    high: float = HIGH
    low: float = LOW
    margin: float = MARGIN

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high <= 100:
            raise ValueError(
                f"match thresholds must satisfy 0 <= low <= high <= 100 "
                f"(got low={self.low}, high={self.high})"
            )


def normalize_gtin(value: str | None) -> str | None:
    """GTIN-8/12/13/14 as 14 digits (left-padded with zeros), or None when not a GTIN."""
    if value is None:
        return None
    digits = "".join(ch for ch in str(value) if ch not in " -\u00a0")
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14) or set(digits) == {"0"}:
        return None
    return digits.zfill(14)


def fold(text: str) -> str:
    """Lower case without accents ("Elétrica" → "eletrica")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def normalize_title(title: str) -> str:
    """Accent-folded, lower-cased, units joined to their numbers in one spelling
    ("1,5 Litros" → "1.5l"), abbreviations spelled out, punctuation dropped."""
    text = fold(title)
    for short, long in _ABBREVIATIONS.items():
        text = text.replace(short, long)

    def unit(match: re.Match[str]) -> str:
        number, word = match.group(1).replace(",", "."), match.group(2)
        canonical = _UNITS.get(word)
        return f" {number}{canonical} " if canonical else match.group(0)

    text = _NUMBER_UNIT.sub(unit, text)
    text = text.replace(",", ".")
    return " ".join(w.strip(".") for w in _NOT_WORD.split(text) if w.strip("."))


def normalize_brand(brand: str | None) -> str | None:
    if brand is None:
        return None
    folded = " ".join(_NOT_WORD.split(fold(brand))).strip()
    return folded or None


_ABBREVIATED = re.compile(r"\b([a-z]{2,})\.(?!\d)")


def _expanded(offer_title: str, product_words: Sequence[str]) -> str:
    """The offer's title with its abbreviations ("Alg.", "Elétr.") spelled as the product's
    word they abbreviate, when one does ("alg." → "algodao"); others are left alone."""

    def spell(match: re.Match[str]) -> str:
        short = match.group(1)
        return next((w for w in product_words if w.startswith(short)), short)

    return _ABBREVIATED.sub(spell, fold(offer_title))


def _without(words: str, brand: str | None) -> str:
    # Shops put the brand first in the title; the catalog does not: compare without it.
    if not brand:
        return words
    drop = set(brand.split())
    return " ".join(w for w in words.split() if w not in drop)


def title_score(
    offer_title: str,
    product_name: str,
    offer_brand: str | None = None,
    product_brand: str | None = None,
) -> float:
    """Similarity (0–100) of the two titles, normalized, brands left out: the token-set
    ratio (word order and repeated words do not count) averaged with the token-sort ratio,
    so that words only one title has ("Linha 2") still lower the score: a title contained
    in two catalog names then prefers the name that adds nothing."""
    theirs = normalize_title(product_name)
    ours = normalize_title(_expanded(offer_title, theirs.split()))
    brand = normalize_brand(offer_brand) or normalize_brand(product_brand)
    a, b = _without(ours, brand), _without(theirs, brand)
    score = (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2
    return max(0.0, score - DISCRIMINATOR_PENALTY * len(_discriminators_apart(a, b)))


DISCRIMINATOR_PENALTY = 10.0
_STOPWORDS = frozenset({"de", "da", "do", "das", "dos", "e", "a", "o", "em", "com", "sem", "para"})


def _discriminating(word: str) -> bool:
    # Sizes (P, M, G, GG), models and quantities (2, 41, 500ml): one of them differing
    # makes another product, however alike the rest of the title.
    return any(ch.isdigit() for ch in word) or (len(word) <= 2 and word not in _STOPWORDS)


def _discriminators_apart(offer_words: str, product_words: str) -> set[str]:
    """Discriminating words only one of the titles has: the product's size or quantity the
    offer does not state, and the offer's numbers the product does not have."""
    ours, theirs = set(offer_words.split()), set(product_words.split())
    missing = {w for w in theirs - ours if _discriminating(w)}
    extra = {w for w in ours - theirs if any(ch.isdigit() for ch in w)}
    return missing | extra


class Matcher:
    """Candidates for offers against one catalog (all tenants), decisions honoured."""

    def __init__(
        self,
        products: Iterable[Product],
        decisions: Iterable[Decision] = (),
        thresholds: Thresholds | None = None,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self._by_tenant: dict[str, list[Product]] = {}
        self._by_gtin: dict[tuple[str, str], list[Product]] = {}
        for product in products:
            self._by_tenant.setdefault(product.tenant, []).append(product)
            gtin = normalize_gtin(product.gtin)
            if gtin:
                self._by_gtin.setdefault((product.tenant, gtin), []).append(product)
        self._accepted: set[tuple[str, str, str]] = set()
        self._rejected: set[tuple[str, str, str, str]] = set()
        for d in decisions:
            if d.status == "accepted":
                self._accepted.add((d.tenant, d.site, d.url))
            elif d.status == "rejected":
                self._rejected.add((d.tenant, d.site, d.url, d.sku))

    @property
    def tenants(self) -> Sequence[str]:
        return sorted(self._by_tenant)

    def candidates(self, offer: OfferRef) -> list[Candidate]:
        found: list[Candidate] = []
        for tenant in self.tenants:
            if (tenant, offer.site, offer.url) in self._accepted:
                continue  # a person decided: nothing automatic beside it
            found.extend(self._for_tenant(tenant, offer))
        return found

    def _allowed(self, tenant: str, offer: OfferRef, sku: str) -> bool:
        return (tenant, offer.site, offer.url, sku) not in self._rejected

    def _for_tenant(self, tenant: str, offer: OfferRef) -> list[Candidate]:
        def make(sku: str, method: str, score: float, status: str) -> Candidate:
            return Candidate(tenant, offer.site, offer.url, sku, method, round(score, 1), status)

        gtin = normalize_gtin(offer.gtin)
        if gtin:
            same = [
                p
                for p in self._by_gtin.get((tenant, gtin), [])
                if self._allowed(tenant, offer, p.sku)
            ]
            if len(same) == 1:
                return [make(same[0].sku, "gtin", 100.0, "auto")]
            if same:
                return [make(p.sku, "gtin", 100.0, "pending") for p in same[:MAX_PENDING]]
        brand = normalize_brand(offer.brand)
        scored: list[tuple[float, Product]] = []
        for product in self._by_tenant.get(tenant, []):
            if not self._allowed(tenant, offer, product.sku):
                continue
            theirs = normalize_brand(product.brand)
            if brand and theirs and brand != theirs:
                continue
            score = title_score(offer.title, product.name, offer.brand, product.brand)
            if score >= self.thresholds.low:
                scored.append((score, product))
        if not scored:
            return []
        scored.sort(key=lambda sp: (-sp[0], sp[1].sku))
        best, runner_up = scored[0][0], (scored[1][0] if len(scored) > 1 else None)
        clear = runner_up is None or best - runner_up >= self.thresholds.margin
        if brand and best >= self.thresholds.high and clear:
            return [make(scored[0][1].sku, "title", best, "auto")]
        return [make(p.sku, "title", s, "pending") for s, p in scored[:MAX_PENDING]]


def match_all(
    offers: Iterable[OfferRef],
    products: Iterable[Product],
    decisions: Iterable[Decision] = (),
    thresholds: Thresholds | None = None,
) -> list[Candidate]:
    matcher = Matcher(products, decisions, thresholds)
    return [c for offer in offers for c in matcher.candidates(offer)]


def by_status(candidates: Iterable[Candidate]) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    for c in candidates:
        key = f"{c.method}_{c.status}"
        counts[key] = counts.get(key, 0) + 1
    return counts
