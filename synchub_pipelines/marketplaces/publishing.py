"""What the publishing domain asks of a marketplace client, whatever the API.

A client that can publish implements `PublishingClient`; one that can take an order's
invoice and tracking implements `FulfilmentClient`; Mercado Livre also `AnswersClient`.
Drafts carry marketplace ids already resolved by normalization (leaf category, attribute
ids and values): the client translates, it never decides. A write the API refuses raises
`WriteRefused` naming the API's code and message, so the plan's row for that product says
what to fix; transport failures keep their own exceptions (`marketplaces.errors`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from synchub_pipelines.marketplaces.errors import InvalidRequestError

ListingState = Literal["active", "paused", "closed"]


class _Draft(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VariationDraft(_Draft):
    """One sellable variation of a listing; `options` are the axis values (Cor → Azul)."""

    seller_sku: str = Field(min_length=1)
    options: dict[str, str]
    price: Decimal
    quantity: int = Field(ge=0)
    gtin: str | None = None
    pictures: tuple[str, ...] = ()


class ListingDraft(_Draft):
    """A listing as the catalog wants it on one store.

    Without variations the listing sells `seller_sku` itself at `price` × `quantity`; with
    variations those move to each variation (`seller_sku` is then the parent's SKU).
    `category_id` is the marketplace's leaf category (an Amazon product type on Amazon);
    `attributes` maps the marketplace's attribute id to its value.
    """

    seller_sku: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = ""
    category_id: str = Field(min_length=1)
    attributes: dict[str, str] = Field(default_factory=dict)
    pictures: tuple[str, ...] = ()
    price: Decimal
    currency: str = "BRL"
    quantity: int = Field(ge=0)
    brand: str | None = None
    gtin: str | None = None
    condition: Literal["new", "used"] = "new"
    variations: tuple[VariationDraft, ...] = ()
    # The shipping package (Shopee add_item requires the weight; TikTok, Amazon use both).
    package_weight_kg: Decimal | None = Field(default=None, gt=0)
    package_dimensions_cm: tuple[int, int, int] | None = None  # length, width, height


class PublishedListing(_Draft):
    """A listing as the marketplace holds it after a write or a lookup."""

    listing_id: str
    status: str  # the marketplace's own word
    variation_ids: dict[str, str] = Field(default_factory=dict)  # seller SKU → variation id
    permalink: str | None = None


class Invoice(_Draft):
    """The NF-e the merchant issued for an order (44-digit access key)."""

    access_key: str = Field(pattern=r"^\d{44}$")
    number: str
    series: str
    issued_at: datetime
    total_amount: Decimal | None = None
    # The SEFAZ-authorized NF-e XML, for APIs that take the document itself (Amazon's
    # Delivery by Amazon submitInvoice); APIs that take the key alone ignore it.
    xml: str | None = Field(default=None, repr=False)


class Tracking(_Draft):
    carrier: str = Field(min_length=1)
    tracking_number: str = Field(min_length=1)
    shipment_id: str | None = None  # package / shipment the tracking is for, when the API has one
    tracking_url: str | None = None


class WriteRefused(InvalidRequestError):
    """The marketplace refused the content of a write (category, attribute, title, price,
    status transition…): not retried; the audit row keeps `code` and `detail`."""


@runtime_checkable
class PublishingClient(Protocol):
    def find_listing_by_seller_sku(self, seller_sku: str) -> PublishedListing | None:
        """The listing already carrying this seller SKU, so a crash between 'created' and
        'recorded' never makes a duplicate."""
        ...

    def create_listing(self, draft: ListingDraft) -> PublishedListing: ...

    def update_listing(self, listing_id: str, draft: ListingDraft) -> PublishedListing:
        """Title, description, attributes and pictures; never price or stock."""
        ...

    def set_listing_state(self, listing_id: str, state: ListingState) -> PublishedListing: ...

    def set_price(self, listing_id: str, variation_id: str, price: Decimal) -> None:
        """`variation_id` is '' for a listing without variations."""
        ...


@runtime_checkable
class FulfilmentClient(Protocol):
    def send_invoice(self, order_id: str, invoice: Invoice) -> None: ...

    def send_tracking(self, order_id: str, tracking: Tracking) -> None: ...


@runtime_checkable
class AnswersClient(Protocol):
    def answer_question(self, question_id: str, text: str) -> None: ...


@runtime_checkable
class QuestionTextClient(Protocol):
    """Optional: the text of a buyer's question, read when an answer template is chosen by
    its keywords. Never stored (the warehouse keeps no buyer text)."""

    def question_text(self, question_id: str) -> str | None: ...
