"""Brazilian states: the warehouse keeps the two-letter UF whatever a marketplace sends."""

from __future__ import annotations

import unicodedata

_UF_BY_NAME = {
    "acre": "AC",
    "alagoas": "AL",
    "amapa": "AP",
    "amazonas": "AM",
    "bahia": "BA",
    "ceara": "CE",
    "distrito federal": "DF",
    "espirito santo": "ES",
    "goias": "GO",
    "maranhao": "MA",
    "mato grosso": "MT",
    "mato grosso do sul": "MS",
    "minas gerais": "MG",
    "para": "PA",
    "paraiba": "PB",
    "parana": "PR",
    "pernambuco": "PE",
    "piaui": "PI",
    "rio de janeiro": "RJ",
    "rio grande do norte": "RN",
    "rio grande do sul": "RS",
    "rondonia": "RO",
    "roraima": "RR",
    "santa catarina": "SC",
    "sao paulo": "SP",
    "sergipe": "SE",
    "tocantins": "TO",
}


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().split())


def state_code(name: str | None) -> str | None:
    """The UF of a Brazilian state given by UF or by name (any case or accents); other
    names are kept as given, blank is None."""
    name = (name or "").strip()
    if not name:
        return None
    if len(name) == 2 and name.isalpha():
        return name.upper()
    return _UF_BY_NAME.get(_fold(name), name)
