"""The canonical offer one product page yields, and the reason when it yields none.

An `Offer` is what the warehouse stores as an observation of a competitor's price. It is
validated here, once, whatever the page's make: a price must be positive, a currency is an
ISO 4217 code, a GTIN whose check digit is wrong is dropped (a wrong GTIN would match the
wrong SKU of the catalog, which is worse than none), a list price not above the price is
no discount and is dropped, and the fetch time is a UTC instant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Availability = Literal["in_stock", "out_of_stock", "preorder", "unknown"]
ExtractedBy = Literal["json-ld", "microdata", "rdfa", "meta", "recipe"]
NoOfferOutcome = Literal["no_offer", "blocked", "not_found"]

GTIN_LENGTHS = (8, 12, 13, 14)


def valid_gtin(value: str | None) -> str | None:
    """The GTIN's digits when its length and GS1 check digit are right, else None.

    Spaces and hyphens are tolerated (pages print "789 1234 56789 0"); a 12-digit UPC-A
    stays 12 digits, so that it compares equal to the catalog's own text.
    """
    if value is None:
        return None
    digits = "".join(ch for ch in str(value) if ch not in " -\u00a0")
    if not digits.isdigit() or len(digits) not in GTIN_LENGTHS or set(digits) == {"0"}:
        return None
    body, check = digits[:-1], int(digits[-1])
    # GS1: weights 3,1,3,1… from the rightmost digit of the body.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return digits if (10 - total % 10) % 10 == check else None


class Installments(BaseModel):
    """ "10x de R$ 129,99 sem juros": how a shop offers to split the price."""

    model_config = ConfigDict(frozen=True)

    count: int = Field(ge=2, le=72)
    amount: Decimal = Field(gt=0)
    interest_free: bool


class Offer(BaseModel):
    """One product page's canonical offer (for pages with variations: see `extract.py`)."""

    url: str
    site: str
    title: str = Field(min_length=1)
    brand: str | None = None
    gtin: str | None = None
    sku: str | None = None
    price: Decimal = Field(gt=0)
    currency: str = "BRL"
    list_price: Decimal | None = None
    availability: Availability = "unknown"
    seller: str | None = None
    installments: Installments | None = None
    images: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    fetched_at: datetime
    extracted_by: ExtractedBy
    # Which source gave each field that is not the price source's ("gtin": "recipe"…),
    # so a wrong value can be traced to a selector or to the shop's structured data.
    sources: dict[str, ExtractedBy] = Field(default_factory=dict)

    @field_validator("gtin", mode="before")
    @classmethod
    def _gtin_check_digit(cls, value: object) -> str | None:
        return valid_gtin(None if value is None else str(value))

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError(f"currency {value!r} is not an ISO 4217 code")
        return code

    @field_validator("fetched_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("fetched_at must be timezone-aware")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _list_price_above_price(self) -> Offer:
        if self.list_price is not None and self.list_price <= self.price:
            self.list_price = None
        return self


class NoOffer(BaseModel):
    """A page that yields no valid offer, and why (the page is quarantined with the reason).

    `outcome` tells a page that merely has no offer from one that blocks robots (login
    wall, CAPTCHA, bot wall: skipped, never worked around) and from a soft 404.
    """

    model_config = ConfigDict(frozen=True)

    reason: str
    outcome: NoOfferOutcome = "no_offer"
