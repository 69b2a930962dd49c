"""The canonical model: what every marketplace client returns and the warehouse stores.

Money is Decimal with an explicit currency; instants are timezone-aware UTC; business dates
are the store's local date. Buyer personal data stops here: only a salted hash of the
marketplace's buyer id and the city/state survive (LGPD: keep what a purpose needs).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DEFAULT_TIMEZONE = "America/Sao_Paulo"


class Marketplace(StrEnum):
    MERCADOLIVRE = "mercadolivre"
    SHOPEE = "shopee"
    TIKTOK = "tiktok"
    AMAZON = "amazon"


class OrderStatus(StrEnum):
    """Normalized order status, the same for every marketplace (the raw one is kept beside)."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class LinkMethod(StrEnum):
    SELLER_SKU = "seller_sku"
    GTIN = "gtin"
    MANUAL = "manual"


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def store_id_for(marketplace: Marketplace | str, seller_id: str) -> str:
    return f"{Marketplace(marketplace).value}-{seller_id}"


def parse_store_id(store_id: str) -> tuple[Marketplace, str]:
    marketplace, sep, seller_id = store_id.partition("-")
    if not sep or not seller_id:
        raise ValueError(f"store id {store_id!r} is not of the form <marketplace>-<seller id>")
    try:
        return Marketplace(marketplace), seller_id
    except ValueError:
        known = ", ".join(m.value for m in Marketplace)
        raise ValueError(
            f"store id {store_id!r} names an unknown marketplace (known: {known})"
        ) from None


class Store(_Model):
    """One connected marketplace account."""

    store_id: str
    marketplace: Marketplace
    seller_id: str
    name: str
    tenant: str = "default"
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def of(cls, marketplace: Marketplace | str, seller_id: str, name: str, **kw: Any) -> Store:
        return cls(
            store_id=store_id_for(marketplace, seller_id),
            marketplace=Marketplace(marketplace),
            seller_id=seller_id,
            name=name,
            **kw,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def business_date(self, instant: datetime) -> date:
        """The store's local calendar date of an instant (an order at 23:30 stays that day)."""
        return instant.astimezone(self.zone).date()


class CentralProduct(_Model):
    sku: str = Field(min_length=1)
    parent_sku: str | None = None
    name: str = Field(min_length=1)
    brand: str | None = None
    category: str | None = None
    color: str | None = None
    size: str | None = None
    gtin: str | None = None
    price: Decimal | None = None
    cost: Decimal | None = None
    currency: str = "BRL"
    weight_g: int | None = None
    is_kit: bool = False
    source: str = "catalog_file"


class ProductComponent(_Model):
    kit_sku: str
    component_sku: str
    quantity: int = Field(gt=0)


class CentralStock(_Model):
    sku: str
    warehouse: str
    on_hand: int
    updated_at: UtcDatetime


class Listing(_Model):
    """One sellable unit on a marketplace: store × listing × variation ('' when none)."""

    store_id: str
    listing_id: str
    variation_id: str = ""
    title: str
    seller_sku: str | None = None
    gtin: str | None = None
    status: str
    price: Decimal | None = None
    currency: str = "BRL"
    available_quantity: int | None = None
    category_id: str | None = None
    permalink: str | None = None
    updated_at: UtcDatetime | None = None


class ListingLink(_Model):
    store_id: str
    listing_id: str
    variation_id: str
    sku: str
    method: LinkMethod


class OrderItem(_Model):
    line_no: int
    listing_id: str | None
    variation_id: str = ""
    seller_sku: str | None = None
    title: str | None = None
    quantity: int
    unit_price: Decimal
    fee: Decimal | None = None


class Order(_Model):
    store_id: str
    order_id: str
    status: OrderStatus
    raw_status: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    business_date: date
    currency: str = "BRL"
    items_amount: Decimal
    shipping_cost: Decimal | None = None
    fee_amount: Decimal | None = None
    total_amount: Decimal
    buyer_hash: str | None = None
    buyer_city: str | None = None
    buyer_state: str | None = None
    items: tuple[OrderItem, ...] = ()


class StockSnapshot(_Model):
    store_id: str
    listing_id: str
    variation_id: str
    seller_sku: str | None
    available_quantity: int
    snapshot_at: UtcDatetime


class Rejected(_Model):
    """A record that failed validation: kept with the reason, never silently dropped."""

    source: str  # e.g. "mercadolivre.orders"
    store_id: str | None
    record_key: str
    reason: str
    payload: str  # the raw record, as received (JSON text)


def hash_buyer(marketplace: str, buyer_id: object, salt: str) -> str | None:
    """A stable pseudonymous buyer key: repeat buyers stay countable, identities do not leak."""
    if buyer_id in (None, ""):
        return None
    digest = hashlib.sha256(f"{salt}:{marketplace}:{buyer_id}".encode()).hexdigest()
    return digest[:32]
