"""Amazon SP-API writes for publishing and fulfilment: the `PublishingClient` and
`FulfilmentClient` methods of `AmazonClient` (a mixin, so the read client stays readable).

Protocol facts (API-NOTES-WRITES §4, developer-docs.amazon.com/sp-api, the models in
amzn/selling-partner-api-models):

- A listing is the seller's SKU. putListingsItem (`PUT /listings/2021-08-01/items/{sellerId}/
  {sku}`, 5 req/s, burst 10) creates or fully replaces it with `{productType, requirements:
  LISTING, attributes}`; patchListingsItem (PATCH, 5/5) changes top-level attributes with
  JSON-patch operations. Both answer `{sku, status: ACCEPTED|INVALID|VALID, submissionId,
  issues[]}`; INVALID becomes `WriteRefused` naming every issue. `mode=VALIDATION_PREVIEW`
  checks without writing (`validate_listing`). ACCEPTED means queued: Amazon applies it within
  minutes (the sandbox at once).
- Attribute values are lists of objects carrying `marketplace_id` (and `language_tag` for
  text). Images are `*_image_locator: [{media_location}]`; the price is
  `purchasable_offer[{currency, our_price[{schedule[{value_with_tax}]}]}]` (the our_price shape
  is UNCONFIRMED against the official tutorial, see API-NOTES-WRITES); merchant stock is
  `fulfillment_availability[{fulfillment_channel_code: DEFAULT, quantity}]`. Prices go out as
  exact JSON numbers written from the Decimal, never through a float.
- Variations are parent/child SKUs: the parent carries `parentage_level: parent` and a
  `variation_theme` (e.g. COLOR/SIZE) and no offer; each child `parentage_level: child`,
  `child_parent_sku_relationship [{child_relationship_type: variation, parent_sku}]`, its
  axis attributes, GTIN, offer and stock.
- Amazon has no pause or close, and listings are never deleted here: "paused" and "closed"
  both set the merchant quantity to 0 (every child of a parent); "active" writes nothing, the
  stock push restores the quantity. Callers keep paused/closed listings out of the stock push.
- Product types (Amazon's categories) and their required attributes come from Product Type
  Definitions 2020-09-01 (`GET /definitions/2020-09-01/productTypes/{productType}`, 5/10): a
  JSON Schema whose link (a pre-signed URL) is fetched without the SP-API token.
- Seller-fulfilled (MFN) shipments are confirmed with Orders v0 confirmShipment (`POST
  /orders/v0/orders/{orderId}/shipmentConfirmation`, 2 req/s, burst 10; 204). The same
  packageReferenceId again edits that package, so re-sending a tracking is harmless.
- Brazil's NF-e goes through the Delivery by Amazon API v2022-07-01 submitInvoice (`POST
  /delivery/2022-07-01/invoice?orderId=`, 1.133 req/s, burst 25; BR only, programType
  SelfShip for sellers who ship themselves; role Tax Invoicing (Restricted)). Amazon takes the
  SEFAZ-authorized XML itself (base64 + MD5), not the key alone, so `Invoice.xml` is required.
  Validation is asynchronous: getInvoiceStatus (same quota) tells Accepted or Rejected. The
  UPLOAD_VAT_INVOICE feed is EU-only (docs: "only available in the EU marketplace"), so it is
  not used. Whether contentMD5Value is Base64 or hex is UNCONFIRMED (the linked Content-MD5
  page says Base64; the model's examples show hex): Base64 is sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synchub_pipelines.marketplaces.errors import (
    InvalidRequestError,
    MarketplaceError,
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
    from collections.abc import Callable

    from synchub_pipelines.marketplaces.amazon import AmazonApp
    from synchub_pipelines.models import Store

MARKETPLACE = "amazon"
LANGUAGE_TAG = "pt_BR"
MERCHANT_CHANNEL = "DEFAULT"
DEFINITIONS_PATH = "/definitions/2020-09-01/productTypes"
INVOICE_PATH = "/delivery/2022-07-01/invoice"
ORDERS_PATH = "/orders/v0/orders"
ITEM_LOOKUP = "summaries,issues,offers"
IMAGE_SLOTS = 8  # other_product_image_locator_1..8 besides the main image
# Default usage plans (rate, burst) of the operations this module adds to the client's.
WRITE_QUOTAS: dict[str, tuple[float, int]] = {
    "putListingsItem": (5.0, 10),
    "getDefinitionsProductType": (5.0, 10),
    "searchDefinitionsProductTypes": (5.0, 10),
    "confirmShipment": (2.0, 10),
    "submitInvoice": (1.133, 25),
    "getInvoiceStatus": (1.133, 25),
}
# Variation axis names as catalogs spell them → Amazon attribute names.
AXIS_NAMES = {
    "cor": "color",
    "color": "color",
    "colour": "color",
    "tamanho": "size",
    "size": "size",
    "voltagem": "voltage",
    "voltage": "voltage",
    "material": "material",
}
CONDITIONS = {"new": "new_new", "used": "used_good"}
_MARK = "\x02"
_MARKED = re.compile(r'"\\u0002(-?\d+(?:\.\d+)?)\\u0002"')


# --- the API's shapes (what these methods read) ------------------------------------------


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WriteIssue(_Shape):
    code: str | None = None
    message: str
    severity: str | None = None
    attributeNames: list[str] = Field(default_factory=list)


class WriteSubmission(_Shape):
    sku: str
    status: Literal["ACCEPTED", "INVALID", "VALID"]
    submissionId: str
    issues: list[WriteIssue] = Field(default_factory=list)


class _ItemSummary(_Shape):
    marketplaceId: str
    asin: str | None = None
    productType: str | None = None
    status: list[str] = Field(default_factory=list)


class _Item(_Shape):
    sku: str
    summaries: list[_ItemSummary] = Field(default_factory=list)
    offers: list[dict[str, Any]] = Field(default_factory=list)


class InvoiceStatusEntry(_Shape):
    id: str
    status: str


class InvoiceStatus(_Shape):
    """getInvoiceStatus's answer: the order's NF-e submissions and Amazon's verdicts."""

    amazonOrderId: str | None = None
    invoiceStatus: str | None = None
    orderInvoicingStatus: str | None = None
    invoices: list[InvoiceStatusEntry] = Field(default_factory=list)


class ProductTypeRequirements(BaseModel):
    """What a product type asks of a listing, read from its definition's JSON Schema."""

    model_config = ConfigDict(frozen=True)

    product_type: str
    display_name: str
    required: tuple[str, ...]
    attributes: tuple[str, ...]
    variation_themes: tuple[str, ...]
    item_name_max_length: int | None = None


def _parse(model: type[Any], body: Any, operation: str) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise MarketplaceError(
            MARKETPLACE, operation, f"unexpected response shape: {exc.errors()[0]['msg']}"
        ) from None


def encode_body(body: Any) -> bytes:
    """JSON with every Decimal written as an exact number (json.dumps would refuse it, and a
    float could change the cents)."""

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"{_MARK}{value:f}{_MARK}"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body), ensure_ascii=False, separators=(",", ":"))
    return _MARKED.sub(r"\1", text).encode()


def axis_name(option: str) -> str:
    key = option.strip().casefold()
    return AXIS_NAMES.get(key, re.sub(r"\W+", "_", key).strip("_"))


def variation_theme(variations: Sequence[VariationDraft]) -> str:
    """The theme of a family: its axes in the order of the first variation's options."""
    return "/".join(axis_name(option).upper() for option in variations[0].options)


def _issues_text(issues: Sequence[WriteIssue]) -> str:
    parts = []
    for issue in issues:
        names = f" [{', '.join(issue.attributeNames)}]" if issue.attributeNames else ""
        parts.append(f"{issue.code or 'issue'}{names}: {issue.message}")
    return "; ".join(parts) or "no issues given"


class AmazonWritesMixin:
    """PublishingClient and FulfilmentClient on AmazonClient (see the module docstring)."""

    if TYPE_CHECKING:
        app: AmazonApp
        store: Store
        _product_types: dict[str, str]
        _clock: Callable[[], datetime]

        def _call(
            self,
            operation: str,
            method: str,
            path: str,
            params: Mapping[str, Any] | None = None,
            json: Any = None,
            content: bytes | None = None,
        ) -> httpx.Response: ...

        def _get(
            self, operation: str, path: str, params: Mapping[str, Any] | None = None
        ) -> Any: ...

        def _listings_path(self, sku: str | None = None) -> str: ...

        def _product_type(self, sku: str) -> str: ...

    # --- attribute building ------------------------------------------------------------

    def _text(self, value: str) -> list[dict[str, Any]]:
        return [
            {
                "value": value,
                "language_tag": LANGUAGE_TAG,
                "marketplace_id": self.app.marketplace_id,
            }
        ]

    def _value(self, value: Any) -> list[dict[str, Any]]:
        return [{"value": value, "marketplace_id": self.app.marketplace_id}]

    def _images(self, pictures: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        marketplace = self.app.marketplace_id
        found: dict[str, list[dict[str, Any]]] = {}
        for index, url in enumerate(pictures[: IMAGE_SLOTS + 1]):
            name = (
                "main_product_image_locator"
                if index == 0
                else f"other_product_image_locator_{index}"
            )
            found[name] = [{"media_location": url, "marketplace_id": marketplace}]
        return found

    def _identifier(self, gtin: str | None) -> dict[str, list[dict[str, Any]]]:
        if not gtin:
            # Amazon's way to list a product without a barcode (brand exemption).
            return {"supplier_declared_has_product_identifier_exemption": self._value(True)}
        kind = {12: "upc", 13: "ean"}.get(len(gtin), "gtin")
        return {
            "externally_assigned_product_identifier": [
                {"type": kind, "value": gtin, "marketplace_id": self.app.marketplace_id}
            ]
        }

    def _offer(self, price: Decimal, currency: str, quantity: int) -> dict[str, Any]:
        marketplace = self.app.marketplace_id
        return {
            "purchasable_offer": [
                {
                    "currency": currency,
                    "audience": "ALL",
                    "our_price": [{"schedule": [{"value_with_tax": price}]}],
                    "marketplace_id": marketplace,
                }
            ],
            "fulfillment_availability": [
                {"fulfillment_channel_code": MERCHANT_CHANNEL, "quantity": quantity}
            ],
        }

    def _content(self, draft: ListingDraft, title: str, pictures: Sequence[str]) -> dict[str, Any]:
        """Title, description, brand, the draft's attributes and pictures: what an update
        rewrites (never the offer, stock or barcode)."""
        attributes: dict[str, Any] = {"item_name": self._text(title)}
        if draft.brand:
            attributes["brand"] = self._text(draft.brand)
        if draft.description:
            attributes["product_description"] = self._text(draft.description)
        for name, value in draft.attributes.items():
            attributes[name] = self._text(value)
        attributes |= self._images(pictures)
        return attributes

    def _items(self, draft: ListingDraft) -> list[tuple[str, dict[str, Any]]]:
        """(SKU, attributes) of every listings item the draft makes, the parent first."""
        condition = {"condition_type": self._value(CONDITIONS[draft.condition])}
        if not draft.variations:
            attributes = self._content(draft, draft.title, draft.pictures)
            attributes |= condition | self._identifier(draft.gtin)
            attributes |= self._offer(draft.price, draft.currency, draft.quantity)
            return [(draft.seller_sku, attributes)]
        theme = [
            {"name": variation_theme(draft.variations), "marketplace_id": self.app.marketplace_id}
        ]
        parent = self._content(draft, draft.title, draft.pictures)
        parent |= {"parentage_level": self._value("parent"), "variation_theme": theme}
        items = [(draft.seller_sku, parent)]
        for variation in draft.variations:
            title = " ".join([draft.title, *variation.options.values()])
            child = self._content(draft, title, variation.pictures or draft.pictures)
            child |= condition | self._identifier(variation.gtin)
            child |= {
                "parentage_level": self._value("child"),
                "child_parent_sku_relationship": [
                    {
                        "child_relationship_type": "variation",
                        "parent_sku": draft.seller_sku,
                        "marketplace_id": self.app.marketplace_id,
                    }
                ],
                "variation_theme": theme,
            }
            for option, value in variation.options.items():
                child[axis_name(option)] = self._text(value)
            child |= self._offer(variation.price, draft.currency, variation.quantity)
            items.append((variation.seller_sku, child))
        return items

    # --- submissions -------------------------------------------------------------------

    def _submit(
        self,
        operation: str,
        method: str,
        sku: str,
        body: dict[str, Any],
        preview: bool = False,
    ) -> WriteSubmission:
        params: dict[str, Any] = {"marketplaceIds": self.app.marketplace_id, "issueLocale": "pt_BR"}
        if preview:
            params["mode"] = "VALIDATION_PREVIEW"
        try:
            response = self._call(
                operation,
                method,
                self._listings_path(sku),
                params=params,
                content=encode_body(body),
            )
        except InvalidRequestError as exc:
            raise WriteRefused(
                MARKETPLACE, operation, f"SKU {sku}: {exc.detail}", status=exc.status, code=exc.code
            ) from None
        submission: WriteSubmission = _parse(WriteSubmission, response.json(), operation)
        if submission.status == "INVALID":
            errors = [
                i for i in submission.issues if i.severity in (None, "ERROR")
            ] or submission.issues
            raise WriteRefused(
                MARKETPLACE,
                operation,
                f"SKU {sku} refused: {_issues_text(errors)}",
                code=errors[0].code if errors and errors[0].code else "INVALID",
            )
        return submission

    def _put_all(self, draft: ListingDraft, preview: bool) -> PublishedListing:
        submissions = [
            self._submit(
                "putListingsItem",
                "PUT",
                sku,
                {
                    "productType": draft.category_id,
                    "requirements": "LISTING",
                    "attributes": attributes,
                },
                preview,
            )
            for sku, attributes in self._items(draft)
        ]
        if not preview:
            for sku, _ in self._items(draft):
                self._product_types[sku] = draft.category_id
        return PublishedListing(
            listing_id=draft.seller_sku,
            status=submissions[0].status,
            variation_ids={v.seller_sku: v.seller_sku for v in draft.variations},
        )

    def create_listing(self, draft: ListingDraft) -> PublishedListing:
        """putListingsItem for the SKU (or the parent, then each child). PUT creates or
        replaces, so a create re-run after a crash rewrites the same items: no duplicate."""
        return self._put_all(draft, preview=False)

    def validate_listing(self, draft: ListingDraft) -> PublishedListing:
        """The same puts with mode=VALIDATION_PREVIEW: Amazon's verdict, nothing written.
        A child's preview cannot see a parent that is not created yet, so families are
        previewed parent only."""
        if draft.variations:
            parent = draft.model_copy(update={"variations": draft.variations[:1]})
            _, attributes = self._items(parent)[0]
            self._submit(
                "putListingsItem",
                "PUT",
                draft.seller_sku,
                {
                    "productType": draft.category_id,
                    "requirements": "LISTING",
                    "attributes": attributes,
                },
                preview=True,
            )
            return PublishedListing(listing_id=draft.seller_sku, status="VALID")
        return self._put_all(draft, preview=True)

    def _patch(self, sku: str, product_type: str, patches: list[dict[str, Any]]) -> WriteSubmission:
        body = {"productType": product_type, "patches": patches}
        return self._submit("patchListingsItem", "PATCH", sku, body)

    def update_listing(self, listing_id: str, draft: ListingDraft) -> PublishedListing:
        """Title, description, brand, attributes and pictures of the item (and each child),
        one patchListingsItem each; image slots the draft no longer fills are deleted."""
        targets: list[tuple[str, str, Sequence[str], Mapping[str, str]]] = [
            (listing_id, draft.title, draft.pictures, {})
        ]
        for variation in draft.variations:
            title = " ".join([draft.title, *variation.options.values()])
            targets.append(
                (
                    variation.seller_sku,
                    title,
                    variation.pictures or draft.pictures,
                    variation.options,
                )
            )
        last: WriteSubmission | None = None
        for sku, title, pictures, options in targets:
            attributes = self._content(draft, title, pictures)
            for option, value in options.items():
                attributes[axis_name(option)] = self._text(value)
            patches = [
                {"op": "replace", "path": f"/attributes/{name}", "value": values}
                for name, values in attributes.items()
            ]
            for slot in range(max(1, len(pictures)), IMAGE_SLOTS + 1):
                patches.append(
                    {
                        "op": "delete",
                        "path": f"/attributes/other_product_image_locator_{slot}",
                        "value": [{"marketplace_id": self.app.marketplace_id}],
                    }
                )
            last = self._patch(sku, draft.category_id, patches)
        return PublishedListing(
            listing_id=listing_id,
            status=last.status if last else "ACCEPTED",
            variation_ids={v.seller_sku: v.seller_sku for v in draft.variations},
        )

    def set_listing_state(self, listing_id: str, state: ListingState) -> PublishedListing:
        """paused / closed: merchant quantity 0 on the SKU (or every child of a parent);
        active: nothing written (the stock push sets the quantity), the listing as it is."""
        found = self.find_listing_by_seller_sku(listing_id)
        if found is None:
            raise NotFoundError(
                MARKETPLACE, "getListingsItem", f"SKU {listing_id} is not a listing of this seller"
            )
        if state == "active":
            return found
        skus = list(found.variation_ids) or [listing_id]
        for sku in skus:
            self._patch(
                sku,
                self._product_type(sku),
                [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": MERCHANT_CHANNEL, "quantity": 0}],
                    }
                ],
            )
        # Out of stock, an offer is shown but not buyable: Amazon's DISCOVERABLE.
        return found.model_copy(update={"status": "DISCOVERABLE"})

    def set_price(self, listing_id: str, variation_id: str, price: Decimal) -> None:
        """purchasable_offer of the SKU (`variation_id`, a child SKU, when given)."""
        if price <= 0:
            raise WriteRefused(
                MARKETPLACE, "patchListingsItem", f"price must be positive, got {price}"
            )
        sku = variation_id or listing_id
        offer = self._offer(price, "BRL", 0)["purchasable_offer"]
        self._patch(
            sku,
            self._product_type(sku),
            [{"op": "replace", "path": "/attributes/purchasable_offer", "value": offer}],
        )

    # --- lookups -----------------------------------------------------------------------

    def find_listing_by_seller_sku(self, seller_sku: str) -> PublishedListing | None:
        """getListingsItem (404: none). A parent (an item without an offer) also lists its
        children through searchListingsItems(variationParentSku)."""
        from synchub_pipelines.marketplaces.amazon import RETAIL_HOSTS

        marketplace = self.app.marketplace_id
        try:
            body = self._get(
                "getListingsItem",
                self._listings_path(seller_sku),
                {"marketplaceIds": marketplace, "includedData": ITEM_LOOKUP},
            )
        except NotFoundError:
            return None
        item: _Item = _parse(_Item, body, "getListingsItem")
        summary = next((s for s in item.summaries if s.marketplaceId == marketplace), None)
        if summary is not None and summary.productType:
            self._product_types[item.sku] = summary.productType
        children: dict[str, str] = {}
        if not [o for o in item.offers if o.get("marketplaceId") == marketplace]:
            children = self._children(seller_sku)
        host = RETAIL_HOSTS.get(marketplace)
        asin = summary.asin if summary else None
        return PublishedListing(
            listing_id=item.sku,
            status=",".join(summary.status) if summary and summary.status else "NONE",
            variation_ids=children,
            permalink=f"https://{host}/dp/{asin}" if host and asin else None,
        )

    def _children(self, parent_sku: str) -> dict[str, str]:
        body = self._get(
            "searchListingsItems",
            self._listings_path(),
            {
                "marketplaceIds": self.app.marketplace_id,
                "variationParentSku": parent_sku,
                "includedData": "summaries",
                "pageSize": 20,
            },
        )
        found: dict[str, str] = {}
        for raw in body.get("items", []) if isinstance(body, dict) else []:
            sku = raw.get("sku") if isinstance(raw, dict) else None
            if isinstance(sku, str) and sku != parent_sku:
                found[sku] = sku
                for summary in raw.get("summaries") or []:
                    if isinstance(summary, dict) and summary.get("productType"):
                        self._product_types[sku] = str(summary["productType"])
        return found

    def product_type_definition(self, product_type: str) -> ProductTypeRequirements:
        """getDefinitionsProductType, then its JSON Schema (fetched from the link Amazon
        gives, without the SP-API token): required attributes, themes, title limit."""
        operation = "getDefinitionsProductType"
        body = self._get(
            operation,
            f"{DEFINITIONS_PATH}/{quote(product_type, safe='')}",
            {
                "marketplaceIds": self.app.marketplace_id,
                "requirements": "LISTING",
                "requirementsEnforced": "ENFORCED",
                "locale": "pt_BR",
            },
        )
        try:
            link = body["schema"]["link"]["resource"]
            display = str(body.get("displayName") or product_type)
        except (KeyError, TypeError):
            raise MarketplaceError(
                MARKETPLACE, operation, "definition without a schema link"
            ) from None
        response = httpx.get(link, timeout=self.app.http.timeout_seconds)
        if response.status_code != 200:
            raise MarketplaceError(
                MARKETPLACE, operation, f"schema document answered HTTP {response.status_code}"
            )
        schema = response.json()
        properties = schema.get("properties") or {}
        themes = (
            properties.get("variation_theme", {})
            .get("items", {})
            .get("properties", {})
            .get("name", {})
            .get("enum", [])
        )
        title = properties.get("item_name", {}).get("items", {}).get("properties", {})
        limit = title.get("value", {}).get("maxLength")
        return ProductTypeRequirements(
            product_type=product_type,
            display_name=display,
            required=tuple(schema.get("required") or ()),
            attributes=tuple(sorted(properties)),
            variation_themes=tuple(themes),
            item_name_max_length=limit if isinstance(limit, int) else None,
        )

    def search_product_types(self, keywords: Sequence[str]) -> list[tuple[str, str]]:
        """searchDefinitionsProductTypes by keywords: (product type, display name) pairs."""
        body = self._get(
            "searchDefinitionsProductTypes",
            DEFINITIONS_PATH,
            {"marketplaceIds": self.app.marketplace_id, "keywords": ",".join(keywords)},
        )
        found = body.get("productTypes", []) if isinstance(body, dict) else []
        return [
            (str(t["name"]), str(t.get("displayName") or t["name"]))
            for t in found
            if isinstance(t, dict) and t.get("name")
        ]

    # --- fulfilment --------------------------------------------------------------------

    def _order_lines(self, order_id: str) -> list[tuple[str, int]]:
        path = f"{ORDERS_PATH}/{quote(order_id, safe='')}/orderItems"
        lines: list[tuple[str, int]] = []
        params: dict[str, Any] | None = None
        while True:
            body = self._get("getOrderItems", path, params)
            payload = body.get("payload", {}) if isinstance(body, dict) else {}
            for item in payload.get("OrderItems", []):
                lines.append((str(item["OrderItemId"]), int(item["QuantityOrdered"])))
            if not payload.get("NextToken"):
                return lines
            params = {"NextToken": payload["NextToken"]}

    def send_tracking(self, order_id: str, tracking: Tracking) -> None:
        """confirmShipment of every line under one package. `tracking.shipment_id` is the
        packageReferenceId when numeric (else "1"): re-sending edits that package."""
        operation = "confirmShipment"
        reference = tracking.shipment_id or "1"
        if not reference.isdigit() or int(reference) <= 0:
            reference = "1"
        lines = self._order_lines(order_id)
        detail: dict[str, Any] = {
            "packageReferenceId": reference,
            # "Other" + carrierName is valid for any carrier; Amazon's carrier code list
            # for Brazil is not in our sources.
            "carrierCode": "Other",
            "carrierName": tracking.carrier,
            "trackingNumber": tracking.tracking_number,
            "shipDate": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "orderItems": [{"orderItemId": i, "quantity": q} for i, q in lines if q > 0],
        }
        body = {"marketplaceId": self.app.marketplace_id, "packageDetail": detail}
        try:
            self._call(
                operation,
                "POST",
                f"{ORDERS_PATH}/{quote(order_id, safe='')}/shipmentConfirmation",
                json=body,
            )
        except InvalidRequestError as exc:
            raise WriteRefused(
                MARKETPLACE,
                operation,
                f"order {order_id}: {exc.detail}",
                status=exc.status,
                code=exc.code,
            ) from None

    def get_invoice_status(self, order_id: str) -> InvoiceStatus:
        body = self._get(
            "getInvoiceStatus",
            f"{INVOICE_PATH}/status",
            {
                "orderId": order_id,
                "marketplaceId": self.app.marketplace_id,
                "invoiceType": "Outbound",
                "programType": "SelfShip",
            },
        )
        status: InvoiceStatus = _parse(InvoiceStatus, body, "getInvoiceStatus")
        return status

    def send_invoice(self, order_id: str, invoice: Invoice) -> None:
        """submitInvoice of the NF-e XML (SelfShip), then getInvoiceStatus for Amazon's
        verdict. An invoice Amazon already accepted is not sent again (one status call)."""
        operation = "submitInvoice"
        if not invoice.xml:
            raise WriteRefused(
                MARKETPLACE,
                operation,
                f"order {order_id}: Amazon Brazil takes the SEFAZ-authorized NF-e XML itself "
                f"(Delivery by Amazon submitInvoice); invoice {invoice.access_key} has no XML",
                code="NFE_XML_REQUIRED",
            )
        if invoice.access_key not in invoice.xml:
            raise WriteRefused(
                MARKETPLACE,
                operation,
                f"order {order_id}: the XML is not the NF-e {invoice.access_key}",
                code="NFE_KEY_MISMATCH",
            )
        before = self.get_invoice_status(order_id)
        if any(i.id == invoice.access_key and i.status == "Accepted" for i in before.invoices):
            return
        document = invoice.xml.encode("utf-8")
        body = {
            "invoiceContent": base64.b64encode(document).decode(),
            "contentMD5Value": base64.b64encode(hashlib.md5(document).digest()).decode(),  # noqa: S324
            "invoiceType": "Outbound",
            "programType": "SelfShip",
            "marketplaceId": self.app.marketplace_id,
        }
        try:
            self._call(operation, "POST", INVOICE_PATH, params={"orderId": order_id}, json=body)
        except InvalidRequestError as exc:
            raise WriteRefused(
                MARKETPLACE,
                operation,
                f"order {order_id}: {exc.detail}",
                status=exc.status,
                code=exc.code,
            ) from None
        after = self.get_invoice_status(order_id)
        verdicts = [i.status for i in after.invoices if i.id == invoice.access_key]
        if verdicts and verdicts[-1] in ("Rejected", "Errored"):
            raise WriteRefused(
                MARKETPLACE,
                operation,
                f"order {order_id}: Amazon rejected NF-e {invoice.access_key} "
                "(getInvoiceStatus gives no reason; check the XML against SEFAZ's authorization)",
                code=verdicts[-1],
            )
