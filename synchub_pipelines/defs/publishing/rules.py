"""Price rules per store, and the price they give a product.

The rules live in a file (YAML, or TOML by its suffix) at $SYNCHUB_PRICE_RULES_FILE, by
default `price_rules.yaml` in the data directory; no file means no rules, and a store
without rules has its prices left alone. Example:

    default:                       # stores not named below; omit it to price only those
      markup: 0.8                  # price = cost × (1 + markup)
      rounding: "0.90"             # up to the next price ending in ,90
      min_margin: 0.05             # floor: cost + fees + 5% of the price
      max_change: 0.20             # damage limit: ±20% per run unless forced
    stores:
      mercadolivre-241551001:
        target_margin: 0.25        # price = cost / (1 − fee rate − 0.25)
        fee_rate: 0.14             # else the store's settled orders say (see fee_rates)
        min_price: 29.90
        max_price: 2000
        promotion: {start: 2026-11-27T00:00:00-03:00, end: 2026-11-30T23:59:59-03:00,
                    discount: 0.10}          # or fixed_price: 99.90

Exactly one of `markup` and `target_margin`. The floor — no price below what covers the
cost, the marketplace's fees and the minimum margin — is checked on every planned price,
a promotion's included: `cost / (1 − fee rate − min_margin)`.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.engine import Connection

from synchub_pipelines import settings

RULES_FILE_ENV = "SYNCHUB_PRICE_RULES_FILE"
CENT = Decimal("0.01")
# When a store has too few settled orders to say its own fee rate: the marketplace's
# across the deployment's stores, else these (typical Brazilian rates, 2025: Mercado Livre
# classic listings, Shopee commission + transaction fee, TikTok Shop referral, Amazon BR).
DEFAULT_FEE_RATES = {
    "mercadolivre": Decimal("0.16"),
    "shopee": Decimal("0.20"),
    "tiktok": Decimal("0.12"),
    "amazon": Decimal("0.15"),
}
MIN_SETTLED_ORDERS = 5


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Promotion(_Strict):
    start: datetime
    end: datetime
    discount: Decimal | None = Field(default=None, gt=0, lt=1)
    fixed_price: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_way(self) -> Promotion:
        if (self.discount is None) == (self.fixed_price is None):
            raise ValueError("a promotion has either discount or fixed_price")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a promotion's start and end need a time zone (e.g. -03:00)")
        if self.end <= self.start:
            raise ValueError("a promotion ends after it starts")
        return self

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end


class PriceRule(_Strict):
    markup: Decimal | None = Field(default=None, ge=0)
    target_margin: Decimal | None = Field(default=None, ge=0, lt=1)
    rounding: str | None = Field(default=None, pattern=r"^0?\.\d{2}$")
    min_price: Decimal | None = Field(default=None, gt=0)
    max_price: Decimal | None = Field(default=None, gt=0)
    min_margin: Decimal = Field(default=Decimal("0.05"), ge=0, lt=1)
    max_change: Decimal = Field(default=Decimal("0.20"), gt=0)
    fee_rate: Decimal | None = Field(default=None, ge=0, lt=1)
    promotion: Promotion | None = None

    @model_validator(mode="after")
    def _one_base(self) -> PriceRule:
        if (self.markup is None) == (self.target_margin is None):
            raise ValueError("a price rule has exactly one of markup and target_margin")
        if self.min_price and self.max_price and self.min_price > self.max_price:
            raise ValueError("min_price is above max_price")
        return self

    def describe(self, now: datetime) -> str:
        base = (
            f"markup {self.markup}" if self.markup is not None else f"margin {self.target_margin}"
        )
        if self.promotion and self.promotion.active(now):
            promo = self.promotion
            base += (
                f", promotion −{promo.discount}"
                if promo.discount is not None
                else f", promotion {promo.fixed_price}"
            )
        if self.rounding:
            base += f", ends {self.rounding}"
        return base


class RuleBook(_Strict):
    default: PriceRule | None = None
    stores: dict[str, PriceRule] = Field(default_factory=dict)

    def for_store(self, store_id: str) -> PriceRule | None:
        return self.stores.get(store_id, self.default)


def rules_path(path: str | None = None) -> Path | None:
    chosen = path or os.environ.get(RULES_FILE_ENV, "").strip()
    if chosen:
        return Path(chosen)
    default = settings.data_dir() / "price_rules.yaml"
    return default if default.exists() else None


def load_rules(path: str | None = None) -> RuleBook:
    """The rules in force; a file named but unreadable or invalid is an error naming it."""
    source = rules_path(path)
    if source is None:
        return RuleBook()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the price rules file {source}: {exc}") from None
    try:
        raw = tomllib.loads(text) if source.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"the price rules file {source} is not valid: {exc}") from None
    try:
        return RuleBook.model_validate(raw or {})
    except ValidationError as exc:
        raise ValueError(f"the price rules file {source} is not valid: {exc}") from None


def _round_to_ending(value: Decimal, ending: str) -> Decimal:
    """Up to the next price ending in `ending` (e.g. .90: 87.12 → 87.90, 87.95 → 88.90)."""
    cents = Decimal(ending)
    candidate = Decimal(math.floor(value)) + cents
    if candidate < value:
        candidate += 1
    return candidate.quantize(CENT)


@dataclass(frozen=True)
class Priced:
    price: Decimal
    floor: Decimal
    rule: str


def price_for(rule: PriceRule, cost: Decimal, fee_rate: Decimal, now: datetime) -> Priced:
    """The price `rule` gives a product of this cost where fees take `fee_rate` of it."""
    fee = rule.fee_rate if rule.fee_rate is not None else fee_rate
    floor_share = Decimal(1) - fee - rule.min_margin
    if floor_share <= 0:
        raise ValueError(
            f"fees ({fee}) and the minimum margin ({rule.min_margin}) take the whole price"
        )
    floor = (cost / floor_share).quantize(CENT, rounding=ROUND_CEILING)
    if rule.markup is not None:
        price = cost * (1 + rule.markup)
    else:
        share = Decimal(1) - fee - (rule.target_margin or Decimal(0))
        if share <= 0:
            raise ValueError(
                f"fees ({fee}) and the target margin ({rule.target_margin}) take the whole price"
            )
        price = cost / share
    promo = rule.promotion
    if promo is not None and promo.active(now):
        price = promo.fixed_price if promo.fixed_price is not None else price * (1 - promo.discount)  # type: ignore[operator]
    price = price.quantize(CENT, rounding=ROUND_HALF_UP)
    if rule.rounding:
        price = _round_to_ending(price, rule.rounding)
    if rule.min_price is not None and price < rule.min_price:
        price = rule.min_price
    if rule.max_price is not None and price > rule.max_price:
        price = rule.max_price
    return Priced(price, floor, rule.describe(now))


@dataclass(frozen=True)
class FeeRate:
    rate: Decimal
    source: str  # store (n orders) | marketplace (n orders) | default


def fee_rates(conn: Connection) -> tuple[dict[str, FeeRate], dict[str, FeeRate]]:
    """Average fee rate per store and per marketplace: Σ fee_amount / Σ items_amount over
    settled orders (fees final), where at least MIN_SETTLED_ORDERS say so."""
    import sqlalchemy as sa

    by_store: dict[str, FeeRate] = {}
    rows = conn.execute(
        sa.text(
            "SELECT o.store_id, s.marketplace, COUNT(*) AS n, SUM(o.fee_amount) AS fees, "
            "SUM(o.items_amount) AS items FROM orders o JOIN stores s ON s.store_id = o.store_id "
            "WHERE o.fees_final AND o.fee_amount IS NOT NULL AND o.items_amount > 0 "
            "GROUP BY o.store_id, s.marketplace"
        )
    ).all()
    totals: dict[str, list[Decimal]] = {}
    for r in rows:
        fees, items, n = Decimal(r.fees or 0), Decimal(r.items or 0), int(r.n)
        t = totals.setdefault(r.marketplace, [Decimal(0), Decimal(0), Decimal(0)])
        t[0] += fees
        t[1] += items
        t[2] += n
        if n >= MIN_SETTLED_ORDERS and items > 0:
            by_store[r.store_id] = FeeRate(
                (fees / items).quantize(Decimal("0.0001")), f"store ({n} settled orders)"
            )
    by_marketplace = {
        m: FeeRate((f / i).quantize(Decimal("0.0001")), f"marketplace ({int(n)} settled orders)")
        for m, (f, i, n) in totals.items()
        if n >= MIN_SETTLED_ORDERS and i > 0
    }
    return by_store, by_marketplace


def fee_rate_for(
    store_id: str,
    marketplace: str,
    by_store: dict[str, FeeRate],
    by_marketplace: dict[str, FeeRate],
) -> FeeRate:
    found = by_store.get(store_id) or by_marketplace.get(marketplace)
    if found is not None and Decimal(0) <= found.rate < 1:
        return found
    return FeeRate(DEFAULT_FEE_RATES.get(marketplace, Decimal("0.20")), "default")
