"""Mercado Livre writes for publishing: items, descriptions, prices and states, ME1 tracking,
NF-e import and answers — the `PublishingClient`, `FulfilmentClient` and `AnswersClient`
methods of `MercadoLivreClient`, which inherits this mixin.

Protocol facts (API-NOTES-WRITES §1; what our sources leave open is marked there and in
/work/notes/publishing-mercadolivre.md):

- `POST /items` takes the listing without its description, which goes to
  `POST /items/{id}/description {plain_text}` (a second POST is refused: later ones PUT).
- `PUT /items/{id}` changes title, attributes, pictures, price, status and variations. A PUT
  with `variations` deletes the variations it does not name, so content updates name every
  variation the item has. An item that has sold cannot change its title: the title is then
  left out of the update (and logged) so the rest still lands.
- ML's classic model holds one price per item; price per variation is for
  `user_product_seller` accounts only. A variation price is therefore sent to every
  variation of the item.
- `closed` is final. A state already in force is not written again.
- ME1 dispatch goes to `POST /shipments/{id}/seller_notifications` with a `service_id` from
  `GET /sites/MLB/shipping_services`; the NF-e of drop_off / xd_drop_off / cross_docking
  sales to `POST /shipments/{id}/invoice_data` (body unconfirmed, see the notes).
- Refusals come as `{"message", "error", "status", "cause": [{code, message, type}]}`:
  `classify` puts the first error cause's code and every cause's message on the exception,
  and a refused write raises `WriteRefused` with them.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    NotFoundError,
)
from synchub_pipelines.marketplaces.publishing import (
    Invoice,
    ListingDraft,
    ListingState,
    PublishedListing,
    Tracking,
    VariationDraft,
    WriteRefused,
)

if TYPE_CHECKING:
    from synchub_pipelines.models import Store

log = logging.getLogger(__name__)

MARKETPLACE = "mercadolivre"
SITE_ID = "MLB"
LISTING_TYPE = "gold_special"  # "Clássico"; premium (gold_pro) is a per-store choice later
# Variation axes as a catalog may name them → ML's attribute ids.
AXIS_IDS = {"cor": "COLOR", "color": "COLOR", "tamanho": "SIZE", "size": "SIZE"}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def axis_id(name: str) -> str:
    """`Cor` → COLOR; an id already in ML's form (COLOR, VOLTAGE) passes as it is."""
    return AXIS_IDS.get(_fold(name), name.strip().upper().replace(" ", "_"))


def _price(value: Decimal) -> float | int:
    # ML reads JSON numbers; a price has at most two decimals, so the float is exact enough
    # for the API to round it back to the same cents.
    cents = value.quantize(Decimal("0.01"))
    return int(cents) if cents == cents.to_integral_value() else float(cents)


def _attribute_list(values: Mapping[str, str | None]) -> list[dict[str, str]]:
    return [{"id": key, "value_name": value} for key, value in values.items() if value]


def item_attributes(draft: ListingDraft) -> list[dict[str, str]]:
    values: dict[str, str | None] = dict(draft.attributes)
    if draft.brand:
        values.setdefault("BRAND", draft.brand)
    values["SELLER_SKU"] = draft.seller_sku
    if draft.gtin and not draft.variations:
        values["GTIN"] = draft.gtin
    return _attribute_list(values)


def variation_attributes(variation: VariationDraft) -> list[dict[str, str]]:
    return _attribute_list({"SELLER_SKU": variation.seller_sku, "GTIN": variation.gtin})


def create_body(draft: ListingDraft) -> dict[str, Any]:
    """POST /items for a draft: the description goes separately."""
    body: dict[str, Any] = {
        "site_id": SITE_ID,
        "title": draft.title,
        "category_id": draft.category_id,
        "currency_id": draft.currency,
        "buying_mode": "buy_it_now",
        "listing_type_id": LISTING_TYPE,
        "condition": draft.condition,
        "pictures": [{"source": url} for url in draft.pictures],
        "attributes": item_attributes(draft),
    }
    if not draft.variations:
        body["price"] = _price(draft.price)
        body["available_quantity"] = draft.quantity
        return body
    body["variations"] = [
        {
            "attribute_combinations": [
                {"id": axis_id(name), "value_name": value} for name, value in v.options.items()
            ],
            "price": _price(v.price),
            "available_quantity": v.quantity,
            "picture_ids": list(v.pictures),
            "attributes": variation_attributes(v),
        }
        for v in draft.variations
    ]
    return body


def published(item: Mapping[str, Any]) -> PublishedListing:
    """The listing as an item JSON shows it, its variations by seller SKU."""
    variation_ids: dict[str, str] = {}
    for variation in item.get("variations") or []:
        sku = next(
            (
                a.get("value_name")
                for a in variation.get("attributes") or []
                if a.get("id") == "SELLER_SKU" and a.get("value_name")
            ),
            None,
        ) or variation.get("seller_custom_field")
        if sku:
            variation_ids[str(sku)] = str(variation["id"])
    return PublishedListing(
        listing_id=str(item["id"]),
        status=str(item["status"]),
        variation_ids=variation_ids,
        permalink=item.get("permalink"),
    )


class MercadoLivreWrites:
    """The write half of `MercadoLivreClient` (which provides `_call` and `store`)."""

    store: Store
    if TYPE_CHECKING:

        def _call(
            self,
            operation: str,
            method: str,
            path: str,
            headers: Mapping[str, str] | None = None,
            renew_on_refusal: bool = True,
            **kw: Any,
        ) -> httpx.Response: ...

    # --- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        """A content refusal (4xx but 404 and auth) becomes WriteRefused, code and all."""
        try:
            yield
        except (NotFoundError, AuthError, WriteRefused):
            raise
        except InvalidRequestError as exc:
            raise WriteRefused(
                exc.marketplace,
                exc.operation,
                exc.detail,
                status=exc.status,
                code=exc.code,
                request_id=exc.request_id,
            ) from None

    def _write(self, operation: str, method: str, path: str, **kw: Any) -> Any:
        with self._refusals():
            response = self._call(operation, method, path, **kw)
        return response.json() if response.content else {}

    def _read(self, operation: str, path: str, **kw: Any) -> Any:
        return self._call(operation, "GET", path, **kw).json()

    def _item(self, listing_id: str) -> dict[str, Any]:
        return dict(self._read("items.get", f"/items/{listing_id}"))

    # --- PublishingClient --------------------------------------------------------------

    def find_listing_by_seller_sku(self, seller_sku: str) -> PublishedListing | None:
        path = f"/users/{self.store.seller_id}/items/search"
        found = self._read("items.search_sku", path, params={"seller_sku": seller_sku})
        ids = [str(i) for i in found.get("results") or []]
        if not ids:
            return None
        answers = self._read("items.multiget", "/items", params={"ids": ",".join(ids[:20])})
        items = [a["body"] for a in answers if a.get("code") == 200]
        # A closed item is history: a live one carrying the SKU is the listing.
        items.sort(key=lambda item: (item.get("status") == "closed", str(item.get("id"))))
        return published(items[0]) if items else None

    def create_listing(self, draft: ListingDraft) -> PublishedListing:
        item = self._write("items.create", "POST", "/items", json=create_body(draft))
        listing = published(item)
        if draft.description:
            self._write(
                "items.description",
                "POST",
                f"/items/{listing.listing_id}/description",
                json={"plain_text": draft.description},
            )
        return listing

    def update_listing(self, listing_id: str, draft: ListingDraft) -> PublishedListing:
        item = self._item(listing_id)
        body: dict[str, Any] = {
            "attributes": item_attributes(draft),
            "pictures": [{"source": url} for url in draft.pictures],
        }
        if draft.title != item.get("title"):
            if int(item.get("sold_quantity") or 0) > 0:
                log.warning(
                    "%s: %s has sales, so Mercado Livre keeps its title %r (wanted %r)",
                    self.store.store_id,
                    listing_id,
                    item.get("title"),
                    draft.title,
                )
            else:
                body["title"] = draft.title
        if item.get("variations"):
            wanted = {v.seller_sku: v for v in draft.variations}
            current = published(item).variation_ids
            by_id = {vid: wanted.get(sku) for sku, vid in current.items()}
            entries = []
            for variation in item["variations"]:
                entry: dict[str, Any] = {"id": variation["id"]}
                match = by_id.get(str(variation["id"]))
                if match is not None:
                    entry["attributes"] = variation_attributes(match)
                    entry["picture_ids"] = list(match.pictures)
                entries.append(entry)
            # Naming every variation keeps them all: a PUT deletes the ones it leaves out.
            body["variations"] = entries
        updated = self._write("items.update", "PUT", f"/items/{listing_id}", json=body)
        self._write(
            "items.description",
            "PUT",
            f"/items/{listing_id}/description",
            json={"plain_text": draft.description},
        )
        return published(updated)

    def set_listing_state(self, listing_id: str, state: ListingState) -> PublishedListing:
        item = self._item(listing_id)
        if item.get("status") == state:
            return published(item)
        updated = self._write("items.state", "PUT", f"/items/{listing_id}", json={"status": state})
        return published(updated)

    def set_price(self, listing_id: str, variation_id: str, price: Decimal) -> None:
        if not variation_id:
            self._write("items.price", "PUT", f"/items/{listing_id}", json={"price": _price(price)})
            return
        item = self._item(listing_id)
        ids = [int(v["id"]) for v in item.get("variations") or []]
        if int(variation_id) not in ids:
            raise WriteRefused(
                MARKETPLACE,
                "items.price",
                f"variation {variation_id} is not part of {listing_id}",
                code="item.variations.id.invalid",
            )
        # One price per item (classic model): every variation takes it.
        body = {"variations": [{"id": vid, "price": _price(price)} for vid in ids]}
        self._write("items.price", "PUT", f"/items/{listing_id}", json=body)

    # --- FulfilmentClient --------------------------------------------------------------

    def _shipment_of(self, order_id: str) -> str:
        order = self._read("orders.get", f"/orders/{order_id}")
        shipment = (order.get("shipping") or {}).get("id")
        if not shipment:
            raise WriteRefused(
                MARKETPLACE,
                "orders.shipment",
                f"order {order_id} has no Mercado Envios shipment",
                code="order.shipping.missing",
            )
        return str(shipment)

    def send_invoice(self, order_id: str, invoice: Invoice) -> None:
        shipment = self._shipment_of(order_id)
        path = f"/shipments/{shipment}/invoice_data"
        try:
            current = self._read("shipments.invoice", path, params={"siteId": SITE_ID})
        except NotFoundError:
            current = None
        if current and current.get("fiscal_key") == invoice.access_key:
            return  # already imported: ML refuses a second one
        body: dict[str, Any] = {
            "fiscal_key": invoice.access_key,
            "number": invoice.number,
            "series": invoice.series,
            "issued_date": invoice.issued_at.isoformat(),
        }
        if invoice.total_amount is not None:
            body["amount"] = _price(invoice.total_amount)
        self._write("shipments.invoice_data", "POST", path, params={"siteId": SITE_ID}, json=body)

    def _service_id(self, carrier: str) -> int:
        services = self._read("shipping.services", f"/sites/{SITE_ID}/shipping_services")
        wanted = _fold(carrier)
        for match in (
            lambda s: _fold(str(s.get("name", ""))) == wanted,
            lambda s: _fold(str((s.get("shipping_company") or {}).get("name", ""))) == wanted,
        ):
            found = [s for s in services if match(s)]
            if found:
                return int(found[0]["id"])
        names = sorted({str(s.get("name")) for s in services})
        raise WriteRefused(
            MARKETPLACE,
            "shipping.services",
            f"carrier {carrier!r} is not a Mercado Livre shipping service; use one of {names}",
            code="shipment.service_id.unknown",
        )

    def send_tracking(self, order_id: str, tracking: Tracking) -> None:
        shipment = tracking.shipment_id or self._shipment_of(order_id)
        current = self._read(
            "shipments.get", f"/shipments/{shipment}", headers={"x-format-new": "true"}
        )
        if current.get("tracking_number") == tracking.tracking_number:
            return  # already notified
        body = {
            "payload": {"service_id": self._service_id(tracking.carrier), "comment": "despachado"},
            "tracking_number": tracking.tracking_number,
            "tracking_url": tracking.tracking_url,
            "status": "shipped",
            "substatus": None,
        }
        self._write(
            "shipments.seller_notifications",
            "POST",
            f"/shipments/{shipment}/seller_notifications",
            json=body,
        )

    # --- AnswersClient -----------------------------------------------------------------

    def question_text(self, question_id: str) -> str | None:
        """The buyer's question (`GET /questions/{id}` → `text`), for choosing an answer
        template; None when ML shows no text (a banned question reads ""). Never logged."""
        question = self._read(
            "questions.get", f"/questions/{question_id}", params={"api_version": 4}
        )
        text = question.get("text") if isinstance(question, dict) else None
        return text.strip() or None if isinstance(text, str) else None

    def answer_question(self, question_id: str, text: str) -> None:
        question = self._read(
            "questions.get", f"/questions/{question_id}", params={"api_version": 4}
        )
        answer = question.get("answer") or {}
        if question.get("status") == "ANSWERED" and answer.get("text") == text:
            return  # this very answer is already there
        self._write(
            "answers.create",
            "POST",
            "/answers",
            json={"question_id": int(question_id), "text": text},
        )
