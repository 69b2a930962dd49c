"""Product attributes in one vocabulary and one unit: the rules, as pure functions.

brand, color, size and material are trimmed and mapped to canonical Portuguese names
(synonyms and English names included); weights become grams and dimensions centimetres;
GTIN/EAN codes are checked for length and GS1 check digit. A value that cannot be read is
kept with the reason, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from synchub_pipelines.marketplaces.categories.models import canonical_of, fold

WEIGHT_UNITS: dict[str, Decimal] = {
    "mg": Decimal("0.001"),
    "g": Decimal(1),
    "gr": Decimal(1),
    "grama": Decimal(1),
    "gramas": Decimal(1),
    "kg": Decimal(1000),
    "quilo": Decimal(1000),
    "quilos": Decimal(1000),
    "lb": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
}
LENGTH_UNITS: dict[str, Decimal] = {
    "mm": Decimal("0.1"),
    "cm": Decimal(1),
    "m": Decimal(100),
    "in": Decimal("2.54"),
    "pol": Decimal("2.54"),
    '"': Decimal("2.54"),
}
DIMENSIONS = ("length", "width", "height")

COLORS = {
    "preto": "Preto",
    "black": "Preto",
    "negro": "Preto",
    "branco": "Branco",
    "white": "Branco",
    "azul": "Azul",
    "blue": "Azul",
    "vermelho": "Vermelho",
    "red": "Vermelho",
    "cinza": "Cinza",
    "gray": "Cinza",
    "grey": "Cinza",
    "cinzento": "Cinza",
    "verde": "Verde",
    "green": "Verde",
    "amarelo": "Amarelo",
    "yellow": "Amarelo",
    "rosa": "Rosa",
    "pink": "Rosa",
    "roxo": "Roxo",
    "purple": "Roxo",
    "marrom": "Marrom",
    "brown": "Marrom",
    "bege": "Bege",
    "beige": "Bege",
    "laranja": "Laranja",
    "orange": "Laranja",
}
SIZES = {
    "pp": "PP",
    "extra pequeno": "PP",
    "xs": "PP",
    "p": "P",
    "pequeno": "P",
    "s": "P",
    "m": "M",
    "medio": "M",
    "g": "G",
    "grande": "G",
    "l": "G",
    "gg": "GG",
    "xl": "GG",
    "extra grande": "GG",
    "xg": "XG",
    "xxl": "XG",
}
MATERIALS = {
    "algodao": "Algodão",
    "cotton": "Algodão",
    "poliester": "Poliéster",
    "polyester": "Poliéster",
    "couro sintetico": "Couro sintético",
    "couro ecologico": "Couro sintético",
    "aco inox": "Aço inoxidável",
    "aco inoxidavel": "Aço inoxidável",
    "stainless steel": "Aço inoxidável",
    "plastico abs": "Plástico ABS",
    "abs": "Plástico ABS",
}


@dataclass(frozen=True)
class Normalized:
    attribute: str
    value: str | None  # None when rejected
    unit: str | None
    raw_value: str
    source: str
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def attribute_key(name: str) -> str:
    """The file's attribute name as our key: a canonical one, or the folded name."""
    return canonical_of(name) or fold(name)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def gtin_problem(code: str) -> str | None:
    """Why a GTIN (8, 12, 13 or 14 digits) is not valid, or None."""
    if not code.isdigit():
        return f"GTIN {code!r} must be digits only"
    if len(code) not in (8, 12, 13, 14):
        return f"GTIN {code} has {len(code)} digits; GTIN-8, -12, -13 or -14 expected"
    body, given = code[:-1], int(code[-1])
    # GS1: weights 3 and 1 alternate from the rightmost digit of the body.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    expected = (10 - total % 10) % 10
    if given != expected:
        return f"GTIN {code} has check digit {given}, expected {expected}"
    return None


_QUANTITY = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*([^\s0-9.,]*(?:\s*[^\s0-9.,]+)*)\s*$")


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def _format(value: Decimal) -> str:
    rounded = value.quantize(Decimal("0.01")).normalize()
    return f"{rounded:f}"


def measure(attribute: str, raw: str, source: str) -> Normalized:
    """A weight (→ g) or a dimension (→ cm) given as "<number> <unit>"."""
    units, target = (WEIGHT_UNITS, "g") if attribute == "weight" else (LENGTH_UNITS, "cm")
    known = ", ".join(u for u in units if u not in ("gr", "grama", "gramas", "quilo", "quilos"))
    match = _QUANTITY.match(raw)
    if not match:
        return Normalized(attribute, None, target, raw, source, f"{raw!r} is not a number")
    number, unit = match.group(1), fold(match.group(2))
    if not unit:
        reason = f"{attribute} {raw!r} has no unit (give one of {known})"
        return Normalized(attribute, None, target, raw, source, reason)
    if unit not in units:
        reason = f"unknown unit {match.group(2)!r} for {attribute} (known: {known})"
        return Normalized(attribute, None, target, raw, source, reason)
    try:
        value = _number(number) * units[unit]
    except InvalidOperation:
        return Normalized(attribute, None, target, raw, source, f"{raw!r} is not a number")
    if value <= 0:
        return Normalized(attribute, None, target, raw, source, f"{attribute} must be positive")
    return Normalized(attribute, _format(value), target, raw, source)


def normalize(attribute: str, raw: str, source: str) -> Normalized:
    """One attribute value, by our key (see `attribute_key`)."""
    text = _clean(raw)
    if not text:
        return Normalized(attribute, None, None, raw, source, "empty value")
    if attribute == "brand":
        value = text.title() if text.islower() else text
        return Normalized(attribute, value, None, raw, source)
    if attribute == "color":
        return Normalized(attribute, COLORS.get(fold(text), _capitalized(text)), None, raw, source)
    if attribute == "size":
        folded = fold(text)
        if re.fullmatch(r"[0-9]+([.,]0+)?", folded):
            return Normalized(attribute, str(int(_number(folded))), None, raw, source)
        return Normalized(attribute, SIZES.get(folded, text.upper()), None, raw, source)
    if attribute == "material":
        value = MATERIALS.get(fold(text), _capitalized(text))
        return Normalized(attribute, value, None, raw, source)
    if attribute == "gtin":
        code = re.sub(r"[\s-]", "", text)
        problem = gtin_problem(code)
        if problem:
            return Normalized(attribute, None, None, raw, source, problem)
        return Normalized(attribute, code, None, raw, source)
    if attribute == "weight" or attribute in DIMENSIONS:
        return measure(attribute, text, source)
    return Normalized(attribute, text, None, raw, source)
