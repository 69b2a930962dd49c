"""Numbers, money, shares and dates the way a Brazilian merchant reads them.

pt-BR writes `1.234,56` (`.` groups thousands, `,` marks decimals), money as `R$ 1.234,56`
and dates as `14/03/2026`. Missing values show as an em dash, never as `nan`.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

MISSING = "—"
# Symbols of the currencies the marketplaces settle in; others show their ISO code.
SYMBOLS = {"BRL": "R$", "USD": "US$", "EUR": "€"}


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(math.isnan(float(value)))
    except (TypeError, ValueError):
        return False


def _pt_br(text: str) -> str:
    """`1,234.56` (Python's grouping) → `1.234,56`."""
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def number(value: Any, decimals: int = 0) -> str:
    """12345 → `12.345`; 1234.5 with one decimal → `1.234,5`."""
    if _missing(value):
        return MISSING
    rounded = round(float(value), decimals)
    if rounded == 0:
        rounded = 0.0  # no "-0"
    return _pt_br(f"{rounded:,.{decimals}f}")


def money(value: Any, currency: str = "BRL") -> str:
    """1234.5 → `R$ 1.234,50`; −10 → `-R$ 10,00`; another currency keeps its code."""
    if _missing(value):
        return MISSING
    symbol = SYMBOLS.get(currency, currency)
    amount = round(float(value), 2)
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}\u00a0{number(abs(amount), 2)}"


def share(value: Any, decimals: int = 1) -> str:
    """0.1234 → `12,3%`."""
    if _missing(value):
        return MISSING
    return f"{number(float(value) * 100, decimals)}%"


def change(current: Any, previous: Any) -> str:
    """How much `current` moved against `previous`: `+12,3%`, `-4,0%`; a dash without a base."""
    if _missing(current) or _missing(previous) or float(previous) == 0:
        return MISSING
    moved = (float(current) - float(previous)) / abs(float(previous))
    text = share(moved)
    return text if moved < 0 or text == MISSING else f"+{text}"


def hours(value: Any, decimals: int = 1) -> str:
    """Hours: `32,9 h`."""
    if _missing(value):
        return MISSING
    return f"{number(value, decimals)} h"


def duration_minutes(value: Any) -> str:
    """Minutes as a person says them: `45 min`, `3,5 h`, `2,1 dias`."""
    if _missing(value):
        return MISSING
    minutes = float(value)
    if minutes < 90:
        return f"{number(minutes)} min"
    if minutes < 48 * 60:
        return f"{number(minutes / 60, 1)} h"
    return f"{number(minutes / 1440, 1)} days"


def day(value: date | datetime | None) -> str:
    """A date as `14/03/2026`."""
    if value is None or _missing_date(value):
        return MISSING
    return value.strftime("%d/%m/%Y")


def instant(value: datetime | None) -> str:
    """A UTC instant as `14/03/2026 15:00 UTC`."""
    if value is None or _missing_date(value):
        return MISSING
    return value.strftime("%d/%m/%Y %H:%M UTC")


def _missing_date(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
