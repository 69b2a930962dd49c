"""Money as Brazilian shops print it, and installment text that must never be read as a price.

Pages print "R$ 1.299,90" (dot for thousands, comma for decimals), "R$ 12,99 à vista",
"De R$ 1.499,00 por R$ 1.299,90", and, right beside the price, "10x de R$ 129,99 sem juros"
— the classic trap: a scraper that takes the first amount of the price box reads R$ 129,99.
Structured data (JSON-LD, microdata, meta tags) should say "1299.90", and mostly does, but
some shops put the printed text there too, so both readings go through one number parser
that decides by the separators and by where the value came from.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from synchub_pipelines.scraping.offer import Installments

CENT = Decimal("0.01")
# A money amount as text: digits with dots and commas inside, never at either end.
_NUMBER = re.compile(r"\d[\d.,]*\d|\d")
_CURRENCY_AMOUNT = re.compile(r"R\$\s*(\d[\d.,]*\d|\d)")
# "10x de R$ 129,99 sem juros", "em até 12x R$ 99,90", "ou 3 x de 33,33 s/ juros",
# "12x sem juros" (no amount: the price divided).
_INSTALLMENT = re.compile(
    r"(?:\bem\s+at[ée]\s+|\bou\s+|\bat[ée]\s+)?"
    r"\b(?P<count>\d{1,2})\s*(?:x|×|vezes)(?![a-z])\s*"
    r"(?:de\s+)?(?:(?:R\$)\s*(?P<amount>\d[\d.,]*\d|\d)|(?P<bare>\d{1,3}(?:\.\d{3})*,\d{2}))?"
    r"(?P<terms>\s*(?:sem|s/|com|c/)\s*juros)?",
    re.IGNORECASE,
)
_DE_POR = re.compile(
    r"\bde\s*:?\s*R\$\s*(?P<list>\d[\d.,]*\d)\D{0,20}?\bpor\s*:?\s*R\$\s*(?P<price>\d[\d.,]*\d)",
    re.IGNORECASE,
)
_POR = re.compile(r"\bpor\s*:?\s*R\$\s*(?P<price>\d[\d.,]*\d)", re.IGNORECASE)


def parse_number(token: str, *, structured: bool = False) -> Decimal | None:
    """A decimal from one number token: "1.299,90", "1299.90", "1,299.90", "12,99".

    With both separators, the last one is the decimal mark. With only commas: one comma is
    the decimal mark (Brazilian), several are thousands. With only dots: structured data
    means a decimal point ("1299.90"); printed text means thousands when every group after a
    dot has three digits ("1.299"), else a decimal point (a sloppy "12.99").
    """
    text = token.strip().replace("\u00a0", "").replace(" ", "")
    if not text or not _NUMBER.fullmatch(text):
        return None
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        decimal_mark = "." if text.rfind(".") > text.rfind(",") else ","
        thousands = "," if decimal_mark == "." else "."
        if text.count(decimal_mark) > 1:
            return None
        text = text.replace(thousands, "").replace(decimal_mark, ".")
    elif commas:
        text = text.replace(",", ".") if commas == 1 else text.replace(",", "")
    elif dots:
        groups = text.split(".")[1:]
        if structured and dots == 1:
            pass
        elif all(len(group) == 3 for group in groups):
            text = text.replace(".", "")
        elif dots > 1:
            return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def parse_structured_price(value: object) -> Decimal | None:
    """A price from structured data: a JSON number, "1299.90", or printed text ("R$ 1.299,90")."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, Decimal):
        return value
    text = str(value).strip()
    if "R$" in text or "," in text:
        return price_from_text(text, structured=True)
    match = _NUMBER.search(text)
    return parse_number(match.group(0), structured=True) if match else None


def is_installment_text(text: str) -> bool:
    """Whether the text offers to split a price ("10x de R$ 129,99", "12x sem juros")."""
    return _INSTALLMENT.search(_clean(text)) is not None and any(
        match.group("amount") or match.group("bare") or match.group("terms")
        for match in _INSTALLMENT.finditer(_clean(text))
    )


def _without_installments(text: str) -> str:
    return _INSTALLMENT.sub(
        lambda m: " " if (m.group("amount") or m.group("bare") or m.group("terms")) else m[0],
        text,
    )


def price_from_text(text: str, *, structured: bool = False) -> Decimal | None:
    """The price a printed text states, never an installment's amount.

    "R$ 1.299,90" → 1299.90; "R$ 12,99 à vista" → 12.99; "De R$ 1.499,00 por R$ 1.299,90"
    → 1299.90; "10x de R$ 129,99 sem juros" → None (the text states no price).
    """
    cleaned = _clean(text)
    de_por = _DE_POR.search(cleaned)
    if de_por:
        return parse_number(de_por.group("price"), structured=structured)
    rest = _without_installments(cleaned)
    por = _POR.search(rest)
    if por:
        return parse_number(por.group("price"), structured=structured)
    with_symbol = _CURRENCY_AMOUNT.search(rest)
    if with_symbol:
        return parse_number(with_symbol.group(1), structured=structured)
    if "R$" in cleaned:
        # Every amount with a currency sign was an installment: no price stated here.
        return None
    bare = _NUMBER.search(rest)
    return parse_number(bare.group(0), structured=structured) if bare else None


def list_price_from_text(text: str) -> Decimal | None:
    """The "De R$ 1.499,00" part of "De R$ 1.499,00 por R$ 1.299,90", else the text's price."""
    de_por = _DE_POR.search(_clean(text))
    if de_por:
        return parse_number(de_por.group("list"))
    return price_from_text(text)


def parse_installments(text: str, price: Decimal | None = None) -> Installments | None:
    """Installment terms from "10x de R$ 129,99 sem juros" (or "em até 12x sem juros").

    Without "sem juros"/"com juros" in the text, the terms are interest-free when the
    installments add up to the price (to the cent per installment), when the price is known.
    """
    cleaned = _clean(text)
    for match in _INSTALLMENT.finditer(cleaned):
        raw_amount = match.group("amount") or match.group("bare")
        terms = (match.group("terms") or "").lower()
        count = int(match.group("count"))
        if count < 2 or not (raw_amount or terms):
            continue
        amount = parse_number(raw_amount) if raw_amount else None
        if amount is None:
            if price is None:
                continue
            amount = (price / count).quantize(CENT, rounding=ROUND_HALF_UP)
        if "sem" in terms or "s/" in terms:
            interest_free = True
        elif "com" in terms or "c/" in terms:
            interest_free = False
        else:
            interest_free = price is not None and amount * count <= price + CENT * count
        if amount <= 0:
            continue
        return Installments(count=count, amount=amount, interest_free=interest_free)
    return None


def _clean(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())
