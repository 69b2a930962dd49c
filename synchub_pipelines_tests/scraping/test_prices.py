"""Brazilian money and installment text, and the GTIN check digit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from synchub_pipelines.scraping.offer import valid_gtin
from synchub_pipelines.scraping.prices import (
    is_installment_text,
    list_price_from_text,
    parse_installments,
    parse_number,
    parse_structured_price,
    price_from_text,
)


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("R$ 1.299,90", "1299.90"),
        ("R$\u00a01.299,90", "1299.90"),
        ("R$ 12,99 à vista", "12.99"),
        ("por R$ 1.299,90 à vista", "1299.90"),
        ("R$ 1.234.567,89", "1234567.89"),
        ("R$1.299", "1299"),
        ("R$ 99", "99"),
        ("De R$ 1.499,00 por R$ 1.299,90", "1299.90"),
        ("Por: R$ 49,90", "49.90"),
        # The trap: the installment comes first in the box, the price after it.
        ("10x de R$ 129,99 sem juros R$ 1.299,90", "1299.90"),
        ("R$ 1.299,90 ou 10x de R$ 129,99 sem juros", "1299.90"),
        ("em até 12x R$ 99,90 sem juros ou R$ 1.198,80 à vista", "1198.80"),
    ],
)
def test_printed_prices(text: str, price: str) -> None:
    assert price_from_text(text) == Decimal(price)


@pytest.mark.parametrize(
    "text",
    [
        "10x de R$ 129,99 sem juros",
        "em 10x R$ 129,99 sem juros",
        "ou 3 x de R$ 33,33",
        "12x sem juros",
    ],
)
def test_installment_text_is_never_a_price(text: str) -> None:
    assert is_installment_text(text)
    assert price_from_text(text) is None


def test_installments_parsed_with_their_terms() -> None:
    terms = parse_installments("ou 10x de R$ 129,99 sem juros")
    assert terms is not None
    assert (terms.count, terms.amount, terms.interest_free) == (10, Decimal("129.99"), True)
    with_interest = parse_installments("12x de R$ 120,00 com juros")
    assert with_interest is not None and not with_interest.interest_free
    # No amount printed: the price divided; no terms printed: judged against the price.
    split = parse_installments("em até 12x sem juros", Decimal("1200.00"))
    assert split is not None and split.amount == Decimal("100.00")
    implicit = parse_installments("3x de R$ 33,33", Decimal("99.99"))
    assert implicit is not None and implicit.interest_free
    costly = parse_installments("3x de R$ 40,00", Decimal("99.99"))
    assert costly is not None and not costly.interest_free
    assert parse_installments("R$ 1.299,90 à vista") is None


def test_list_price_from_de_por() -> None:
    assert list_price_from_text("De R$ 1.499,00 por R$ 1.299,90") == Decimal("1499.00")
    assert list_price_from_text("de R$ 1.499,90") == Decimal("1499.90")


@pytest.mark.parametrize(
    ("value", "price"),
    [
        ("1299.90", "1299.90"),
        ("1299.9", "1299.9"),
        (1299.9, "1299.9"),
        (Decimal("1299.90"), "1299.90"),
        (1299, "1299"),
        ("1.299,90", "1299.90"),
        ("1,299.90", "1299.90"),
        ("R$ 1.299,90", "1299.90"),
        ("BRL 59.90", "59.90"),
    ],
)
def test_structured_prices(value: object, price: str) -> None:
    assert parse_structured_price(value) == Decimal(price)


def test_numbers_that_are_not_money() -> None:
    assert parse_structured_price(None) is None
    assert parse_structured_price(True) is None
    assert parse_structured_price("sob consulta") is None
    assert parse_number("1.2.3") is None
    assert parse_number("") is None


def test_gtin_check_digit() -> None:
    assert valid_gtin("7891234567895") == "7891234567895"
    assert valid_gtin("789 1234 56789 5") == "7891234567895"
    assert valid_gtin("7891234567896") is None  # wrong check digit
    assert valid_gtin("96385074") == "96385074"  # GTIN-8
    assert valid_gtin("036000291452") == "036000291452"  # UPC-A
    assert valid_gtin("0000000000000") is None
    assert valid_gtin("abc") is None
