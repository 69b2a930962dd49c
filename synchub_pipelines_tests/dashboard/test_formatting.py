"""Numbers as a Brazilian merchant reads them: `R$ 1.234,56`, `12,3%`, `14/03/2026`."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from synchub_pipelines.dashboard import formatting as fmt

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (1234.5, "BRL", f"R${NBSP}1.234,50"),
        (1234567.891, "BRL", f"R${NBSP}1.234.567,89"),
        (0, "BRL", f"R${NBSP}0,00"),
        (-10, "BRL", f"-R${NBSP}10,00"),
        (-0.001, "BRL", f"R${NBSP}0,00"),
        (99.9, "USD", f"US${NBSP}99,90"),
        (5, "ARS", f"ARS{NBSP}5,00"),
        (None, "BRL", "—"),
        (float("nan"), "BRL", "—"),
    ],
)
def test_money(value: float | None, currency: str, expected: str) -> None:
    assert fmt.money(value, currency) == expected


def test_numbers_shares_and_changes() -> None:
    assert fmt.number(12345) == "12.345"
    assert fmt.number(1234.56, 1) == "1.234,6"
    assert fmt.number(-0.04, 1) == "0,0"
    assert fmt.share(0.1234) == "12,3%"
    assert fmt.share(1) == "100,0%"
    assert fmt.share(None) == "—"
    assert fmt.change(150, 30) == "+400,0%"
    assert fmt.change(27, 30) == "-10,0%"
    assert fmt.change(5, 0) == "—"
    assert fmt.hours(32.94) == "32,9 h"
    assert fmt.hours(None) == "—"


def test_durations_and_dates() -> None:
    assert fmt.duration_minutes(45) == "45 min"
    assert fmt.duration_minutes(90) == "1,5 h"
    assert fmt.duration_minutes(3 * 1440) == "3,0 days"
    assert fmt.duration_minutes(None) == "—"
    assert fmt.day(date(2026, 3, 4)) == "04/03/2026"
    assert fmt.instant(datetime(2026, 3, 14, 15, 0)) == "14/03/2026 15:00 UTC"
    assert fmt.day(None) == "—"
