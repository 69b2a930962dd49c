"""TikTok Shop writes: publishing (PublishingClient) and fulfilment (FulfilmentClient).

Mixed into `TikTokClient`, whose signed calls, tokens and reads it uses. Facts relied on
(API-NOTES-WRITES §3 and the Partner Center reference; UNCONFIRMED ones marked [U]):

- Lookup by seller SKU: `POST /product/202309/products/search` with `seller_skus` (≤ 10).
- Pictures: "All images used in TikTok Shop products must be uploaded through" `POST
  /product/202309/images/upload` (multipart `data` + `use_case`, no `shop_cipher`, signed
  without the body); it answers the `uri` products reference. So each picture URL is
  downloaded (≤ 10 MB) and uploaded once per client and use case.
- `POST /product/202309/products` creates (and submits for review); `PUT
  /product/202309/products/{id}` edits with full-replace semantics: a SKU id left out is
  deleted, so every existing SKU is sent back with its id, price and stock [U: the 202309
  path; the saved reference documents 202509]. `POST /product/202309/products/activate` and
  `/deactivate` (≤ 20 ids) answer per-product failures in `data.errors`. Closing a listing
  deactivates it: this client never deletes (TikTok's delete cannot be undone).
- `POST /product/202309/products/{id}/prices/update` sets a SKU's price (BRL, 0.50–10,000
  for local Brazilian sellers).
- `POST /fulfillment/202309/packages/{id}/ship` with `self_shipment` {tracking_number,
  shipping_provider_id} ships a seller-shipped (SEND_BY_SELLER) package; the provider id
  comes from `GET /logistics/202309/delivery_options/{id}/shipping_providers`.
- `POST /fulfillment/202502/invoice/upload` takes the NF-e XML (base64, ≤ 1 MB) per
  package — Brazilian local sellers only; failures come in `data.errors`, 10007014 meaning
  the package already has its invoice.
"""

from __future__ import annotations

import base64
import html
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from pydantic import BeforeValidator, Field

from synchub_pipelines.marketplaces import tiktok as _tt
from synchub_pipelines.marketplaces.base import ApiShape, blank_to_none
from synchub_pipelines.marketplaces.errors import AuthError, InvalidRequestError, NotFoundError
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
    from synchub_pipelines.marketplaces.tiktok import TikTokClient

CREATE_PATH = "/product/202309/products"
EDIT_PATH = "/product/202309/products/{product_id}"
ACTIVATE_PATH = "/product/202309/products/activate"
DEACTIVATE_PATH = "/product/202309/products/deactivate"
PRICE_PATH = "/product/202309/products/{product_id}/prices/update"
IMAGE_UPLOAD_PATH = "/product/202309/images/upload"
ATTRIBUTES_PATH = "/product/202309/categories/{category_id}/attributes"
WAREHOUSES_PATH = "/logistics/202309/warehouses"
PROVIDERS_PATH = "/logistics/202309/delivery_options/{delivery_option_id}/shipping_providers"
SHIP_PATH = "/fulfillment/202309/packages/{package_id}/ship"
INVOICE_PATH = "/fulfillment/202502/invoice/upload"

CURRENCY = "BRL"  # a Brazilian local shop prices in reais
MAX_MAIN_IMAGES = 9
MAX_PICTURE_BYTES = 10 * 1024 * 1024
INVOICE_EXISTS_CODE = 10007014
SALES_PROPERTY = "SALES_PROPERTY"
PACKAGE_PREFIX = "package_dimension."  # normalization's pseudo-attributes (category rules)
DEACTIVATED = frozenset({"SELLER_DEACTIVATED", "PLATFORM_DEACTIVATED"})
CENT = Decimal("0.01")
GRAM = Decimal("0.001")
# Identifier type by digit count (TikTok: GTIN 14; EAN 8, 13 or 14; UPC 12).
IDENTIFIER_TYPES = {8: "EAN", 12: "UPC", 13: "EAN", 14: "GTIN"}

_TAG = re.compile(r"<[a-zA-Z][^>]*>")
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([a-zA-Z]*)\s*$")


class _Settled(Exception):
    """A retry found that the first attempt of a write already went through."""

    def __init__(self, value: dict[str, Any]) -> None:
        super().__init__("settled")
        self.value = value


# --- the API's own shapes (what these writes read) ----------------------------------------
# (tiktok.py imports this module before it defines its own shapes: none are reused here.)


def _id_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


Id = Annotated[str, BeforeValidator(_id_text), Field(min_length=1)]
OptionalId = Annotated[str | None, BeforeValidator(lambda v: blank_to_none(_id_text(v)))]


class TTAttributeValue(ApiShape):
    id: Id
    name: str = ""


class TTAttribute(ApiShape):
    id: Id
    name: str = ""
    type: str = ""
    values: list[TTAttributeValue] = Field(default_factory=list)


class TTAttributes(ApiShape):
    attributes: list[TTAttribute] = Field(default_factory=list)


class TTWarehouse(ApiShape):
    id: Id
    effect_status: str | None = None
    type: str | None = None
    is_default: bool = False


class TTWarehouses(ApiShape):
    warehouses: list[TTWarehouse] = Field(default_factory=list)


class TTUpload(ApiShape):
    uri: str = Field(min_length=1)


class TTSkuRef(ApiShape):
    id: Id
    seller_sku: str | None = None


class TTSaved(ApiShape):
    product_id: Id
    skus: list[TTSkuRef] = Field(default_factory=list)


class TTDetailPrice(ApiShape):
    currency: str = CURRENCY
    sale_price: Decimal | None = None
    amount: Decimal | None = None


class TTSlot(ApiShape):
    warehouse_id: Id
    quantity: int


class TTPackage(ApiShape):
    id: Id


class TTDetailSku(ApiShape):
    id: Id
    seller_sku: str | None = None
    price: TTDetailPrice | None = None
    inventory: list[TTSlot] = Field(default_factory=list)
    sales_attributes: list[dict[str, Any]] = Field(default_factory=list)
    identifier_code: dict[str, Any] | None = None


class TTDetail(ApiShape):
    id: Id
    status: str
    skus: list[TTDetailSku] = Field(default_factory=list)


class TTItemError(ApiShape):
    code: int | None = None
    message: str | None = None
    detail: dict[str, Any] | None = None


class TTItemErrors(ApiShape):
    errors: list[TTItemError] = Field(default_factory=list)


class TTProvider(ApiShape):
    id: Id
    name: str = ""


class TTProviders(ApiShape):
    shipping_providers: list[TTProvider] = Field(default_factory=list)


class TTShipLine(ApiShape):
    package_id: OptionalId = None
    tracking_number: OptionalId = None


class TTShipOrder(ApiShape):
    id: Id
    status: str
    delivery_option_id: OptionalId = None
    tracking_number: OptionalId = None
    packages: list[TTPackage] = Field(default_factory=list)
    line_items: list[TTShipLine] = Field(default_factory=list)


class TTOrders(ApiShape):
    orders: list[TTShipOrder] = Field(default_factory=list)


# --- helpers ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().split())


def _amount(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def description_html(text: str) -> str:
    """TikTok wants HTML: text with tags is sent as is, plain text becomes paragraphs."""
    text = text.strip()
    if not text or _TAG.search(text):
        return text
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line.strip()) for line in p.splitlines()) + "</p>"
        for p in paragraphs
    )


def identifier_code(gtin: str | None) -> dict[str, str] | None:
    """The SKU's `identifier_code`; the API checks the digits (the client sends them as is)."""
    if not gtin or not gtin.strip():
        return None
    code = gtin.strip()
    return {"code": code, "type": IDENTIFIER_TYPES.get(len(code), "GTIN")}


def _quantity_of(raw: str, units: Mapping[str, Decimal], default: str) -> Decimal | None:
    """ "350 g" → 0.35 with units {"g": 0.001, "kg": 1}; None when unreadable."""
    match = _NUMBER_UNIT.match(raw)
    if match is None:
        return None
    number, unit = match.group(1).replace(",", "."), (match.group(2) or default).lower()
    if unit not in units:
        return None
    try:
        return Decimal(number) * units[unit]
    except InvalidOperation:
        return None


def package_weight(draft: ListingDraft) -> dict[str, str] | None:
    """`package_weight` in kilograms (≤ 3 decimals): the draft's field, else normalization's
    `package_dimension.weight` value ("350 g", "0.35 kg")."""
    kilos = draft.package_weight_kg
    if kilos is None and f"{PACKAGE_PREFIX}weight" in draft.attributes:
        kilos = _quantity_of(
            draft.attributes[f"{PACKAGE_PREFIX}weight"],
            {"g": GRAM, "kg": Decimal(1)},
            "g",
        )
    if kilos is None:
        return None
    value = kilos.quantize(GRAM, rounding=ROUND_HALF_UP)
    return {"value": format(value.normalize(), "f"), "unit": "KILOGRAM"}


def package_dimensions(draft: ListingDraft) -> dict[str, str] | None:
    """`package_dimensions` in whole centimetres, from the draft or normalization's values."""
    if draft.package_dimensions_cm is not None:
        sides: list[Decimal | None] = [Decimal(v) for v in draft.package_dimensions_cm]
    else:
        units = {"cm": Decimal(1), "mm": Decimal("0.1"), "m": Decimal(100)}
        sides = [
            _quantity_of(draft.attributes[key], units, "cm")
            if (key := f"{PACKAGE_PREFIX}{side}") in draft.attributes
            else None
            for side in ("length", "width", "height")
        ]
    if any(side is None for side in sides):
        return None
    length, width, height = (
        str(int(side.to_integral_value(ROUND_HALF_UP))) for side in sides if side is not None
    )
    return {"length": length, "width": width, "height": height, "unit": "CENTIMETER"}


def attribute_value(attribute: TTAttribute | None, raw: str) -> dict[str, str]:
    """A value as the category's attribute takes it: its value id when the raw text is one
    (or names one), else a custom value name."""
    raw = raw.strip()
    if attribute is not None:
        for value in attribute.values:
            if value.id == raw:
                return {"id": value.id}
        folded = _fold(raw)
        for value in attribute.values:
            if _fold(value.name) == folded:
                return {"id": value.id}
    return {"name": raw}


def _first_error(errors: Sequence[TTItemError]) -> tuple[str | None, str]:
    """The most specific (nested) code and message of a `data.errors` list."""
    error = errors[0]
    extra = (error.detail or {}).get("extra_errors") if error.detail else None
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        inner = extra[0]
        code = inner.get("code")
        return (str(code) if code is not None else None, str(inner.get("message") or ""))
    return (str(error.code) if error.code is not None else None, error.message or "error")


class TikTokWrites:
    """PublishingClient and FulfilmentClient for `TikTokClient` (see the module docstring)."""

    if TYPE_CHECKING:

        def _call(
            self,
            operation: str,
            method: str,
            path: str,
            query: Mapping[str, str] | None = None,
            body: Any = None,
        ) -> dict[str, Any]: ...

    # --- plumbing ----------------------------------------------------------------------

    def _caches(self) -> dict[str, dict[Any, Any]]:
        caches: dict[str, dict[Any, Any]] | None = getattr(self, "_write_caches", None)
        if caches is None:
            caches = {"images": {}, "attributes": {}, "providers": {}, "warehouse": {}}
            self._write_caches = caches
        return caches

    def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        form: Mapping[str, str] | None = None,
        settled: Callable[[], dict[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """A signed write whose refusal is a WriteRefused. Multipart uploads are signed
        without their body and without `shop_cipher`, as the image upload requires.
        `settled` is asked before every retry: when the first attempt's effect is there,
        that is the answer (a timeout after the API acted never writes twice)."""
        client: TikTokClient = self  # type: ignore[assignment]
        raw = _tt._dumps(body) if body is not None else None
        sent: dict[str, str] = {}
        refused: list[AuthError] = []
        attempts = 0

        def build() -> httpx.Request:
            nonlocal attempts
            attempts += 1
            if attempts > 1 and settled is not None:
                found = settled()
                if found is not None:
                    raise _Settled(found)
            sent.clear()
            try:
                tokens = client.tokens.tokens
            except AuthError as exc:
                refused.append(exc)
                raise
            token = sent["token"] = tokens.access_token.get_secret_value()
            if files is None:
                return client.app.signed_request(
                    client.http,
                    method,
                    path,
                    token,
                    shop_cipher=client._shop_cipher(tokens),
                    body=raw if raw is not None else b"{}",
                )
            signed = client.app.signed_request(client.http, "GET", path, token)
            return client.http.build(
                method,
                path,
                params=signed.url.params,
                data=dict(form or {}),
                files=dict(files),
                headers={"x-tts-access-token": token},
            )

        def reauthenticate() -> None:
            if "token" not in sent:
                raise refused[-1]
            client.tokens.invalidate(sent["token"])

        try:
            response = client.http.send(operation, build, reauthenticate=reauthenticate)
        except _Settled as done:
            return done.value
        except NotFoundError:
            raise
        except WriteRefused:
            raise
        except InvalidRequestError as exc:
            raise _refused(exc) from None
        return _tt._data(_tt.TTEnvelope, response.json(), operation).data or {}

    def _read(
        self, operation: str, method: str, path: str, query: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """A read a write depends on: its refusal (an unknown order, a TikTok-shipped
        delivery option…) is the write's refusal."""
        try:
            return self._call(operation, method, path, query, {} if method != "GET" else None)
        except NotFoundError:
            raise
        except InvalidRequestError as exc:
            raise _refused(exc) from None

    def fetch_picture(self, url: str) -> tuple[bytes, str]:
        """A picture's bytes and content type. Overridable (tests, a CDN with credentials);
        a URL that cannot be read is a refusal on the product, before any write."""
        try:
            with httpx.Client(timeout=30.0, follow_redirects=True) as http:
                response = http.get(url)
        except httpx.HTTPError as exc:
            raise WriteRefused(
                _tt.MARKETPLACE,
                "images.upload",
                f"picture {url} could not be downloaded ({type(exc).__name__})",
                code="client.picture_unreadable",
            ) from None
        if response.status_code != 200:
            raise WriteRefused(
                _tt.MARKETPLACE,
                "images.upload",
                f"picture {url} answered HTTP {response.status_code}",
                code="client.picture_unreadable",
            )
        if len(response.content) > MAX_PICTURE_BYTES:
            raise WriteRefused(
                _tt.MARKETPLACE,
                "images.upload",
                f"picture {url} is larger than 10 MB",
                code="client.picture_too_large",
            )
        return response.content, response.headers.get("content-type", "application/octet-stream")

    def _image_uri(self, url: str, use_case: str = "MAIN_IMAGE") -> str:
        images = self._caches()["images"]
        key = (url, use_case)
        if key not in images:
            content, content_type = self.fetch_picture(url)
            name = url.rstrip("/").rsplit("/", 1)[-1] or "picture"
            data = self._send(
                "images.upload",
                "POST",
                IMAGE_UPLOAD_PATH,
                files={"data": (name, content, content_type)},
                form={"use_case": use_case},
            )
            images[key] = _tt._data(TTUpload, data, "images.upload").uri
        uri: str = images[key]
        return uri

    def _attributes(self, category_id: str) -> dict[str, TTAttribute]:
        cache = self._caches()["attributes"]
        if category_id not in cache:
            path = ATTRIBUTES_PATH.format(category_id=category_id)
            data = self._read("categories.attributes", "GET", path)
            parsed = _tt._data(TTAttributes, data, "categories.attributes")
            cache[category_id] = {a.id: a for a in parsed.attributes}
        found: dict[str, TTAttribute] = cache[category_id]
        return found

    def _warehouse_id(self) -> str:
        cache = self._caches()["warehouse"]
        if "id" not in cache:
            data = self._read("logistics.warehouses", "GET", WAREHOUSES_PATH)
            warehouses = [
                w
                for w in _tt._data(TTWarehouses, data, "logistics.warehouses").warehouses
                if w.effect_status in (None, "ENABLED") and w.type in (None, "SALES_WAREHOUSE")
            ]
            chosen = [w for w in warehouses if w.is_default] or warehouses
            if not chosen:
                raise WriteRefused(
                    _tt.MARKETPLACE,
                    "logistics.warehouses",
                    "the shop has no enabled sales warehouse to stock a product in",
                    code="12052115",
                )
            cache["id"] = chosen[0].id
        warehouse: str = cache["id"]
        return warehouse

    def _detail(self, listing_id: str) -> TTDetail:
        path = _tt.PRODUCT_PATH.format(product_id=listing_id)
        return _tt._data(TTDetail, self._read("products.get", "GET", path), "products.get")

    # --- lookups -----------------------------------------------------------------------

    def _search_sku(self, seller_sku: str) -> dict[str, Any] | None:
        data = self._call(
            "products.search",
            "POST",
            _tt.PRODUCTS_SEARCH_PATH,
            {"page_size": "20"},
            {"seller_skus": [seller_sku]},
        )
        products = _tt._data(_tt.TTProductPage, data, "products.search").products
        found = [
            p
            for p in products
            if isinstance(p, dict)
            and p.get("status") != "DELETED"
            and any(
                isinstance(s, dict) and (s.get("seller_sku") or "").strip() == seller_sku
                for s in p.get("skus") or ()
            )
        ]
        # Two products with one seller SKU is the merchant's mess; the oldest is the one.
        found.sort(key=lambda p: (p.get("create_time") or 0, str(p.get("id"))))
        return found[0] if found else None

    def find_listing_by_seller_sku(self, seller_sku: str) -> PublishedListing | None:
        product = self._search_sku(seller_sku.strip())
        if product is None:
            return None
        parsed = _tt.TTProduct.model_validate(product)
        return PublishedListing(
            listing_id=parsed.id,
            status=parsed.status,
            variation_ids={s.seller_sku.strip(): s.id for s in parsed.skus if s.seller_sku},
        )

    # --- translation -------------------------------------------------------------------

    def _sales_attributes(
        self,
        options: Mapping[str, str],
        attributes: Mapping[str, TTAttribute],
        sku_picture: str | None,
    ) -> list[dict[str, Any]]:
        sales = {_fold(a.name): a for a in attributes.values() if a.type == SALES_PROPERTY}
        out: list[dict[str, Any]] = []
        for axis, value in options.items():
            attribute = sales.get(_fold(axis))
            entry: dict[str, Any] = (
                {"id": attribute.id} if attribute is not None else {"name": axis}
            )
            entry["value_name"] = value
            if attribute is not None:
                chosen = attribute_value(attribute, value)
                if "id" in chosen:
                    entry["value_id"] = chosen["id"]
            out.append(entry)
        # TikTok shows SKU pictures on the first (primary) sales attribute only.
        if out and sku_picture is not None:
            out[0]["sku_img"] = {"uri": sku_picture}
        return out

    def _product_attributes(
        self, draft: ListingDraft, attributes: Mapping[str, TTAttribute]
    ) -> list[dict[str, Any]]:
        out = []
        for attribute_id, raw in draft.attributes.items():
            if attribute_id.startswith(PACKAGE_PREFIX) or not raw.strip():
                continue
            attribute = attributes.get(attribute_id)
            if attribute is not None and attribute.type == SALES_PROPERTY:
                continue  # a variation axis: it goes on the SKUs
            out.append({"id": attribute_id, "values": [attribute_value(attribute, raw)]})
        return out

    def _main_images(self, draft: ListingDraft) -> list[dict[str, str]]:
        urls = list(
            dict.fromkeys([*draft.pictures, *(p for v in draft.variations for p in v.pictures)])
        )
        return [{"uri": self._image_uri(url)} for url in urls[:MAX_MAIN_IMAGES]]

    def _new_sku(
        self,
        seller_sku: str,
        price: Decimal,
        quantity: int,
        gtin: str | None,
        sales_attributes: list[dict[str, Any]],
        warehouse: str,
        currency: str,
    ) -> dict[str, Any]:
        sku: dict[str, Any] = {
            "seller_sku": seller_sku,
            "price": {"amount": _amount(price), "currency": currency},
            "inventory": [{"warehouse_id": warehouse, "quantity": quantity}],
        }
        if sales_attributes:
            sku["sales_attributes"] = sales_attributes
        code = identifier_code(gtin)
        if code is not None:
            sku["identifier_code"] = code
        return sku

    def _variation_sku(
        self,
        variation: VariationDraft,
        attributes: Mapping[str, TTAttribute],
        warehouse: str,
        currency: str,
    ) -> dict[str, Any]:
        picture = (
            self._image_uri(variation.pictures[0], "ATTRIBUTE_IMAGE")
            if variation.pictures
            else None
        )
        return self._new_sku(
            variation.seller_sku,
            variation.price,
            variation.quantity,
            variation.gtin,
            self._sales_attributes(variation.options, attributes, picture),
            warehouse,
            currency,
        )

    def _content(
        self, draft: ListingDraft, attributes: Mapping[str, TTAttribute]
    ) -> dict[str, Any]:
        """What a create and an edit both send: everything but the SKUs."""
        body: dict[str, Any] = {
            "title": draft.title,
            "description": description_html(draft.description),
            "category_id": draft.category_id,
            "main_images": self._main_images(draft),
            "product_attributes": self._product_attributes(draft, attributes),
        }
        if draft.brand and draft.brand.strip().isdigit():
            body["brand_id"] = draft.brand.strip()
        weight = package_weight(draft)
        if weight is not None:
            body["package_weight"] = weight
        dimensions = package_dimensions(draft)
        if dimensions is not None:
            body["package_dimensions"] = dimensions
        return body

    @staticmethod
    def _published(saved: TTSaved, status: str) -> PublishedListing:
        return PublishedListing(
            listing_id=saved.product_id,
            status=status,
            variation_ids={s.seller_sku: s.id for s in saved.skus if s.seller_sku},
        )

    # --- publishing ----------------------------------------------------------------------

    def create_listing(self, draft: ListingDraft) -> PublishedListing:
        """Create and submit for review: TikTok answers before its review, so the listing
        is PENDING until the listing reads say otherwise."""
        attributes = self._attributes(draft.category_id)
        warehouse = self._warehouse_id()
        body = self._content(draft, attributes)
        if draft.variations:
            body["skus"] = [
                self._variation_sku(v, attributes, warehouse, draft.currency)
                for v in draft.variations
            ]
        else:
            body["skus"] = [
                self._new_sku(
                    draft.seller_sku,
                    draft.price,
                    draft.quantity,
                    draft.gtin,
                    [],
                    warehouse,
                    draft.currency,
                )
            ]
        first_sku = body["skus"][0]["seller_sku"]

        def already_created() -> dict[str, Any] | None:
            product = self._search_sku(first_sku)
            if product is None:
                return None
            return {"product_id": product["id"], "skus": product.get("skus") or []}

        data = self._send(
            "products.create", "POST", CREATE_PATH, body=body, settled=already_created
        )
        return self._published(_tt._data(TTSaved, data, "products.create"), "PENDING")

    def update_listing(self, listing_id: str, draft: ListingDraft) -> PublishedListing:
        """Title, description, category, attributes and pictures. The edit replaces the
        whole product, so every SKU it has goes back with its id, price and stock (a SKU
        left out would be deleted); a draft variation it lacks is added."""
        current = self._detail(listing_id)
        attributes = self._attributes(draft.category_id)
        body = self._content(draft, attributes)
        variations = {v.seller_sku: v for v in draft.variations}
        skus: list[dict[str, Any]] = []
        warehouse: str | None = None
        currency = draft.currency
        for sku in current.skus:
            kept: dict[str, Any] = {"id": sku.id}
            if sku.seller_sku:
                kept["seller_sku"] = sku.seller_sku
            if sku.price is not None:
                amount = sku.price.amount if sku.price.amount is not None else sku.price.sale_price
                if amount is not None:
                    kept["price"] = {"amount": _amount(amount), "currency": sku.price.currency}
                    currency = sku.price.currency
            kept["inventory"] = [
                {"warehouse_id": slot.warehouse_id, "quantity": slot.quantity}
                for slot in sku.inventory
            ]
            if sku.inventory:
                warehouse = warehouse or sku.inventory[0].warehouse_id
            variation = variations.pop((sku.seller_sku or "").strip(), None)
            if variation is not None:
                kept["sales_attributes"] = self._sales_attributes(
                    variation.options,
                    attributes,
                    self._image_uri(variation.pictures[0], "ATTRIBUTE_IMAGE")
                    if variation.pictures
                    else None,
                )
            elif sku.sales_attributes:
                kept["sales_attributes"] = [
                    {k: v for k, v in a.items() if k in ("id", "name", "value_id", "value_name")}
                    for a in sku.sales_attributes
                ]
            # Editable only while a draft: sent back unchanged so the edit never touches it.
            if sku.identifier_code:
                kept["identifier_code"] = sku.identifier_code
            skus.append(kept)
        if variations:
            warehouse = warehouse or self._warehouse_id()
            skus += [
                self._variation_sku(v, attributes, warehouse, currency) for v in variations.values()
            ]
        body["skus"] = skus
        path = EDIT_PATH.format(product_id=listing_id)
        data = self._send("products.edit", "PUT", path, body=body)
        saved = _tt._data(TTSaved, data, "products.edit")
        # The live version stays on sale while TikTok reviews the edit.
        return self._published(saved, current.status)

    def set_listing_state(self, listing_id: str, state: ListingState) -> PublishedListing:
        """`active` activates; `paused` and `closed` both deactivate (never a delete). A
        listing already in the state is not written to."""
        current = self._detail(listing_id)
        ids = {s.seller_sku.strip(): s.id for s in current.skus if s.seller_sku}
        if state == "active":
            if current.status in ("ACTIVATE", "PENDING"):
                return PublishedListing(
                    listing_id=current.id, status=current.status, variation_ids=ids
                )
            path, operation, after = ACTIVATE_PATH, "products.activate", "PENDING"
        else:
            if current.status == "SELLER_DEACTIVATED":
                return PublishedListing(
                    listing_id=current.id, status=current.status, variation_ids=ids
                )
            path, operation, after = DEACTIVATE_PATH, "products.deactivate", "SELLER_DEACTIVATED"
        data = self._send(operation, "POST", path, body={"product_ids": [listing_id]})
        errors = _tt._data(TTItemErrors, data, operation).errors
        if errors:
            code, message = _first_error(errors)
            raise WriteRefused(_tt.MARKETPLACE, operation, message, code=code)
        return PublishedListing(listing_id=current.id, status=after, variation_ids=ids)

    def set_price(self, listing_id: str, variation_id: str, price: Decimal) -> None:
        """The SKU's price in reais; `variation_id` '' names a product's only SKU."""
        if not variation_id:
            skus = self._detail(listing_id).skus
            if len(skus) != 1:
                raise WriteRefused(
                    _tt.MARKETPLACE,
                    "products.price_update",
                    f"product {listing_id} has {len(skus)} SKUs: name the SKU to price",
                    code="client.sku_required",
                )
            variation_id = skus[0].id
        body = {
            "skus": [
                {"id": variation_id, "price": {"amount": _amount(price), "currency": CURRENCY}}
            ]
        }
        path = PRICE_PATH.format(product_id=listing_id)
        self._send("products.price_update", "POST", path, body=body)

    # --- fulfilment ----------------------------------------------------------------------

    def _ship_order(self, order_id: str, operation: str) -> TTShipOrder:
        data = self._read("orders.get", "GET", _tt.ORDERS_GET_PATH, {"ids": order_id})
        orders = [o for o in _tt._data(TTOrders, data, "orders.get").orders if o.id == order_id]
        if not orders:
            raise WriteRefused(
                _tt.MARKETPLACE,
                operation,
                f"order {order_id} is not an order of this shop",
                code="client.order_unknown",
            )
        return orders[0]

    @staticmethod
    def _package_of(order: TTShipOrder, wanted: str | None, operation: str) -> str:
        packages = list(dict.fromkeys(p.id for p in order.packages))
        if wanted:
            if wanted not in packages:
                raise WriteRefused(
                    _tt.MARKETPLACE,
                    operation,
                    f"package {wanted} is not a package of order {order.id}",
                    code="client.package_unknown",
                )
            return wanted
        if len(packages) != 1:
            detail = (
                f"order {order.id} has no package yet (status {order.status})"
                if not packages
                else f"order {order.id} has {len(packages)} packages: name the package"
            )
            raise WriteRefused(_tt.MARKETPLACE, operation, detail, code="client.package_required")
        return packages[0]

    def _provider_id(self, delivery_option_id: str, carrier: str) -> str:
        cache = self._caches()["providers"]
        if delivery_option_id not in cache:
            path = PROVIDERS_PATH.format(delivery_option_id=delivery_option_id)
            data = self._read("logistics.shipping_providers", "GET", path)
            cache[delivery_option_id] = _tt._data(
                TTProviders, data, "logistics.shipping_providers"
            ).shipping_providers
        providers: list[TTProvider] = cache[delivery_option_id]
        wanted = _fold(carrier)
        for provider in providers:
            if provider.id == carrier.strip() or _fold(provider.name) == wanted:
                return provider.id
        known = ", ".join(p.name for p in providers) or "none"
        raise WriteRefused(
            _tt.MARKETPLACE,
            "packages.ship",
            f"carrier {carrier!r} is not a shipping provider of this delivery option "
            f"(TikTok knows: {known})",
            code="client.unknown_carrier",
        )

    def send_tracking(self, order_id: str, tracking: Tracking) -> None:
        """Ship a seller-shipped package with the carrier's tracking number (once: a package
        already carrying this number is not written to)."""
        order = self._ship_order(order_id, "packages.ship")
        package_id = self._package_of(order, tracking.shipment_id, "packages.ship")
        numbers = {
            line.tracking_number for line in order.line_items if line.package_id == package_id
        }
        if len(order.packages) == 1 and order.tracking_number:
            numbers.add(order.tracking_number)
        if tracking.tracking_number.strip() in numbers:
            return
        if not order.delivery_option_id:
            raise WriteRefused(
                _tt.MARKETPLACE,
                "packages.ship",
                f"order {order_id} names no delivery option to find its carrier in",
                code="client.delivery_option_unknown",
            )
        provider = self._provider_id(order.delivery_option_id, tracking.carrier)
        body = {
            "self_shipment": {
                "tracking_number": tracking.tracking_number.strip(),
                "shipping_provider_id": provider,
            }
        }
        self._send("packages.ship", "POST", SHIP_PATH.format(package_id=package_id), body=body)

    def send_invoice(self, order_id: str, invoice: Invoice) -> None:
        """Upload the NF-e XML for the order's package (TikTok takes the file, not the key).
        A package that already has an invoice (10007014) counts as done."""
        if not invoice.xml or not invoice.xml.strip():
            raise WriteRefused(
                _tt.MARKETPLACE,
                "invoices.upload",
                f"TikTok Shop takes the NF-e as its XML file: invoice {invoice.access_key} "
                "has no XML",
                code="client.invoice_xml_required",
            )
        order = self._ship_order(order_id, "invoices.upload")
        package_id = self._package_of(order, None, "invoices.upload")
        encoded = base64.b64encode(invoice.xml.encode("utf-8")).decode()
        body = {
            "invoices": [
                {
                    "package_id": package_id,
                    "order_ids": [order_id],
                    "file_type": "XML",
                    "file": encoded,
                }
            ]
        }
        data = self._send("invoices.upload", "POST", INVOICE_PATH, body=body)
        errors = [
            e
            for e in _tt._data(TTItemErrors, data, "invoices.upload").errors
            if e.code != INVOICE_EXISTS_CODE
        ]
        if errors:
            code, message = _first_error(errors)
            raise WriteRefused(_tt.MARKETPLACE, "invoices.upload", message, code=code)


def _refused(exc: InvalidRequestError) -> WriteRefused:
    return WriteRefused(
        exc.marketplace,
        exc.operation,
        exc.detail,
        status=exc.status,
        code=exc.code,
        request_id=exc.request_id,
    )
