"""Shopee writes: publishing (PublishingClient) and fulfilment (FulfilmentClient).

Mixed into `ShopeeClient`, whose signed `_call`, token handling and reads it uses. The
calls and their facts (API-NOTES-WRITES §2; UNCONFIRMED ones marked):

- Lookup by seller SKU: `product/search_item?item_sku=` (exact item SKU), then
  get_item_base_info and get_model_list for the status and the model ids.
- Pictures: Shopee takes no URL, only ids `media_space/upload_image` returns for a file, so
  each picture URL is downloaded (JPG/PNG, ≤ 10 MB) and uploaded once per client.
- `product/add_item` (item_sku = the draft's SKU, weight in kg, brand_id 0 = own brand
  name), then `product/init_tier_variation` for variations (≤ 2 axes; tier-0 options carry
  images); `product/update_item` (never price or stock); `product/unlist_item` (paused and
  closed both unlist: this client never calls delete_item); `product/update_price`.
- Attribute values arrive as normalization resolved them (a value_id, a value name, a
  "<number> <unit>" or free text) and are written the way the category's attribute tree
  (get_attribute_tree, read once per category) says the attribute takes them.
- `order/add_invoice_data` (NF-e; the request schema is UNCONFIRMED, the body mirrors
  get_order_detail's invoice_data) and `logistics/ship_order` with `non_integrated`
  {tracking_number} for seller-shipped channels (get_shipping_parameter says which).
- A refusal is `WriteRefused` with Shopee's `error` and `message`. A retried add_item or
  ship_order first checks whether the previous attempt went through, so a timeout after
  the API acted never makes a second item or a second arrangement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from synchub_pipelines.marketplaces import shopee as _sp
from synchub_pipelines.marketplaces.base import ApiShape
from synchub_pipelines.marketplaces.errors import (
    AuthError,
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
    from synchub_pipelines.marketplaces.shopee import ShopeeAttribute, ShopeeClient

SEARCH_ITEM_PATH = "/api/v2/product/search_item"
UPLOAD_IMAGE_PATH = "/api/v2/media_space/upload_image"
ADD_ITEM_PATH = "/api/v2/product/add_item"
INIT_TIER_PATH = "/api/v2/product/init_tier_variation"
UPDATE_ITEM_PATH = "/api/v2/product/update_item"
UPDATE_PRICE_PATH = "/api/v2/product/update_price"
UNLIST_ITEM_PATH = "/api/v2/product/unlist_item"
CHANNEL_LIST_PATH = "/api/v2/logistics/get_channel_list"
SHIPPING_PARAMETER_PATH = "/api/v2/logistics/get_shipping_parameter"
SHIP_ORDER_PATH = "/api/v2/logistics/ship_order"
ADD_INVOICE_PATH = "/api/v2/order/add_invoice_data"

SEARCHED_STATUSES = ("NORMAL", "UNLIST", "REVIEWING", "BANNED")
MAX_PICTURE_BYTES = 10 * 1024 * 1024
MAX_TIERS = 2
NO_BRAND = "No Brand"
PERMALINK = "https://shopee.com.br/product/{shop_id}/{item_id}"
# CFOP of a sale of goods bought for resale inside the state; `invoice_cfop` overrides it.
DEFAULT_CFOP = "5102"
# get_attribute_tree input types whose values must come from the list (sandbox semantics:
# 1 single and 4 multiple drop-down).
_UNIT_SPLIT = " "

_T = TypeVar("_T")


class _Settled(Exception):
    """A retried write found the previous attempt's effect already in place."""

    def __init__(self, value: object) -> None:
        super().__init__("already done")
        self.value = value


class SPSearch(ApiShape):
    item_id_list: list[int] = []
    total_count: int = 0
    next_offset: str | int | None = None


class SPUpload(ApiShape):
    image_info: dict[str, Any]


class SPChannel(ApiShape):
    logistics_channel_id: int
    enabled: bool = False


class SPChannels(ApiShape):
    logistics_channel_list: list[SPChannel] = []


class SPShippingParameter(ApiShape):
    info_needed: dict[str, list[str]] = {}


class SPBatchOutcome(ApiShape):
    success_list: list[dict[str, Any]] = []
    failure_list: list[dict[str, Any]] = []


def _money(value: Decimal) -> float:
    """Shopee BR takes prices with two decimals as JSON numbers."""
    return float(value.quantize(Decimal("0.01")))


def _refused(exc: InvalidRequestError) -> WriteRefused:
    return WriteRefused(
        exc.marketplace,
        exc.operation,
        exc.detail,
        status=exc.status,
        code=exc.code,
        request_id=exc.request_id,
    )


class ShopeeWritesMixin:
    """PublishingClient and FulfilmentClient for `ShopeeClient` (one shop)."""

    invoice_cfop: str = DEFAULT_CFOP

    if TYPE_CHECKING:
        shop_id: int
        http: Any
        app: Any
        tokens: Any

        def _call(
            self,
            operation: str,
            method: str,
            path: str,
            query: Mapping[str, Any] | None = None,
            body: Mapping[str, Any] | None = None,
        ) -> dict[str, Any]: ...

        def get_items(self, item_ids: Sequence[int]) -> tuple[list[Any], list[Any]]: ...

        def get_attributes(
            self, category_id: int, language: str = "pt-br"
        ) -> list[ShopeeAttribute]: ...

        def tracking_number(
            self, order_sn: str, package_number: str | None = None
        ) -> str | None: ...

    # --- plumbing ----------------------------------------------------------------------

    def _caches(self) -> dict[str, dict[Any, Any]]:
        caches: dict[str, dict[Any, Any]] | None = getattr(self, "_write_caches", None)
        if caches is None:
            caches = {"images": {}, "attributes": {}, "channels": {}}
            self._write_caches = caches
        return caches

    def fetch_picture(self, url: str) -> tuple[bytes, str]:
        """A picture's bytes and content type, for upload_image. Overridable (tests, a CDN
        with credentials); a URL that cannot be read is a refusal on the product."""
        try:
            with httpx.Client(timeout=30.0, follow_redirects=True) as client:
                response = client.get(url)
        except httpx.HTTPError as exc:
            raise WriteRefused(
                _sp.MARKETPLACE,
                "media_space.upload_image",
                f"picture {url} could not be downloaded ({type(exc).__name__})",
                code="client.picture_unreadable",
            ) from None
        if response.status_code != 200:
            raise WriteRefused(
                _sp.MARKETPLACE,
                "media_space.upload_image",
                f"picture {url} answered HTTP {response.status_code}",
                code="client.picture_unreadable",
            )
        content = response.content
        if len(content) > MAX_PICTURE_BYTES:
            raise WriteRefused(
                _sp.MARKETPLACE,
                "media_space.upload_image",
                f"picture {url} is larger than 10 MB",
                code="client.picture_too_large",
            )
        return content, response.headers.get("content-type", "application/octet-stream")

    def _write(
        self,
        operation: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        form: Mapping[str, str] | None = None,
        settled: Callable[[], object | None] | None = None,
    ) -> dict[str, Any]:
        """A signed POST whose refusal is a WriteRefused. `settled` is asked before every
        retry: when it finds the first attempt's effect, that is the answer."""
        client: ShopeeClient = self  # type: ignore[assignment]
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
                token = client.tokens.access_token()
            except AuthError as exc:
                refused.append(exc)
                raise
            sent["token"] = token
            if files is None:
                return client.app.shop_request(
                    client.http, "POST", path, token, client.shop_id, body=body
                )
            request = client.app.shop_request(
                client.http, "GET", path, token, client.shop_id
            )  # signed query only; the form goes in the body
            return client.http.build(
                "POST", path, params=request.url.params, data=dict(form or {}), files=files
            )

        def reauthenticate() -> None:
            if "token" not in sent:
                raise refused[-1]
            client.tokens.invalidate(sent["token"])

        try:
            response = client.http.send(operation, build, reauthenticate=reauthenticate)
        except _Settled as done:
            return {"_settled": done.value}
        except NotFoundError:
            raise
        except WriteRefused:
            raise
        except InvalidRequestError as exc:
            raise _refused(exc) from None
        answer = response.json()
        inner = answer.get("response") if isinstance(answer, dict) else None
        return inner if isinstance(inner, dict) else {}

    # --- lookups -----------------------------------------------------------------------

    def find_listing_by_seller_sku(self, seller_sku: str) -> PublishedListing | None:
        query = {
            "page_size": 100,
            "offset": "0",
            "item_sku": seller_sku,
            "item_status": list(SEARCHED_STATUSES),
        }
        answer = self._call("product.search_item", "GET", SEARCH_ITEM_PATH, query)
        ids = _sp._data(SPSearch, answer, "product.search_item").item_id_list
        if not ids:
            return None
        items, _ = self.get_items(ids)
        mine = sorted(
            (i for i in items if i.item_sku == seller_sku and i.item_status in SEARCHED_STATUSES),
            key=lambda i: i.item_id,
        )
        return self._published(mine[0]) if mine else None

    def _published(self, item: Any) -> PublishedListing:
        variation_ids: dict[str, str] = {}
        if item.has_model:
            for model in self._models(item.item_id):
                if model.get("model_sku"):
                    variation_ids[str(model["model_sku"])] = str(model["model_id"])
        elif item.item_sku:
            variation_ids[item.item_sku] = ""
        return PublishedListing(
            listing_id=str(item.item_id),
            status=item.item_status,
            variation_ids=variation_ids,
            permalink=PERMALINK.format(shop_id=self.shop_id, item_id=item.item_id),
        )

    def _models(self, item_id: int) -> list[dict[str, Any]]:
        answer = self._call(
            "product.get_model_list", "GET", _sp.MODEL_LIST_PATH, {"item_id": item_id}
        )
        return [m for m in answer.get("model") or [] if isinstance(m, dict)]

    def _item(self, listing_id: str, operation: str) -> Any:
        items, _ = self.get_items([int(listing_id)])
        if not items:
            raise NotFoundError(_sp.MARKETPLACE, operation, f"item {listing_id} is not found")
        return items[0]

    # --- translation: pictures, attributes, channels -------------------------------------

    def _image_id(self, url: str) -> str:
        images = self._caches()["images"]
        if url not in images:
            content, content_type = self.fetch_picture(url)
            name = url.rsplit("/", 1)[-1] or "picture"
            answer = self._write(
                "media_space.upload_image",
                UPLOAD_IMAGE_PATH,
                files={"image": (name, content, content_type)},
                form={"scene": "normal"},
            )
            info = _sp._data(SPUpload, answer, "media_space.upload_image").image_info
            if not info.get("image_id"):
                raise MarketplaceError(
                    _sp.MARKETPLACE, "media_space.upload_image", "answer has no image_id"
                )
            images[url] = str(info["image_id"])
        return str(images[url])

    def _attribute_list(self, category_id: int, values: Mapping[str, str]) -> list[dict[str, Any]]:
        trees = self._caches()["attributes"]
        if category_id not in trees:
            flat: dict[int, ShopeeAttribute] = {}
            try:
                pending = list(self.get_attributes(category_id))
            except NotFoundError:
                raise
            except InvalidRequestError as exc:  # not a leaf, or no such category
                raise _refused(exc) from None
            while pending:
                node = pending.pop()
                flat[node.attribute_id] = node
                for value in node.attribute_value_list:
                    pending += value.child_attribute_list
            trees[category_id] = flat
        tree: dict[int, ShopeeAttribute] = trees[category_id]
        rendered = []
        for raw_id, raw_value in values.items():
            if not str(raw_id).strip().isdigit():
                raise WriteRefused(
                    _sp.MARKETPLACE,
                    "product.add_item",
                    f"attribute id {raw_id!r} is not a Shopee attribute id",
                    code="client.attribute_id",
                )
            attribute_id = int(raw_id)
            attribute = tree.get(attribute_id)
            parts = [p.strip() for p in raw_value.split(";")] if attribute else [raw_value]
            if attribute is not None and attribute.attribute_info.max_value_count <= 1:
                parts = [raw_value.strip()]
            rendered.append(
                {
                    "attribute_id": attribute_id,
                    "attribute_value_list": [_attribute_value(attribute, p) for p in parts if p],
                }
            )
        return rendered

    def _logistic_info(self) -> list[dict[str, Any]]:
        channels = self._caches()["channels"]
        if "list" not in channels:
            answer = self._call("logistics.get_channel_list", "GET", CHANNEL_LIST_PATH)
            listed = _sp._data(SPChannels, answer, "logistics.get_channel_list")
            channels["list"] = [
                c.logistics_channel_id for c in listed.logistics_channel_list if c.enabled
            ]
        return [{"logistic_id": cid, "enabled": True} for cid in channels["list"]]

    def _content(self, draft: ListingDraft) -> dict[str, Any]:
        """The fields update_item also takes: name, description, category, attributes,
        pictures, brand, package."""
        if not draft.category_id.strip().isdigit():
            raise WriteRefused(
                _sp.MARKETPLACE,
                "product.add_item",
                f"category {draft.category_id!r} is not a Shopee category id",
                code="client.category_id",
            )
        category_id = int(draft.category_id)
        body: dict[str, Any] = {
            "item_name": draft.title,
            "description": draft.description,
            "category_id": category_id,
            "attribute_list": self._attribute_list(category_id, draft.attributes),
            "image": {"image_id_list": [self._image_id(url) for url in draft.pictures]},
            "brand": {"brand_id": 0, "original_brand_name": draft.brand or NO_BRAND},
        }
        if draft.package_weight_kg is not None:
            body["weight"] = float(draft.package_weight_kg)
        if draft.package_dimensions_cm is not None:
            length, width, height = draft.package_dimensions_cm
            body["dimension"] = {
                "package_length": length,
                "package_width": width,
                "package_height": height,
            }
        return body

    # --- publishing --------------------------------------------------------------------

    def create_listing(self, draft: ListingDraft) -> PublishedListing:
        body = self._content(draft)
        body |= {
            "original_price": _money(draft.price),
            "seller_stock": [{"stock": draft.quantity}],
            "logistic_info": self._logistic_info(),
            "item_sku": draft.seller_sku,
            "condition": draft.condition.upper(),
            "item_status": "NORMAL",
        }
        if draft.gtin:
            body["gtin_code"] = draft.gtin
        answer = self._write(
            "product.add_item",
            ADD_ITEM_PATH,
            body,
            settled=lambda: self.find_listing_by_seller_sku(draft.seller_sku),
        )
        if "_settled" in answer:
            listing: PublishedListing = answer["_settled"]
            item_id = int(listing.listing_id)
        else:
            item_id = int(answer.get("item_id") or 0)
            if item_id <= 0:
                raise MarketplaceError(_sp.MARKETPLACE, "product.add_item", "answer has no item_id")
        if draft.variations:
            self._init_tiers(item_id, draft.variations)
        return self._published(self._item(str(item_id), "product.add_item"))

    def _init_tiers(self, item_id: int, variations: Sequence[VariationDraft]) -> None:
        axes: list[str] = []
        options: dict[str, list[str]] = {}
        for variation in variations:
            for axis, value in variation.options.items():
                if axis not in options:
                    axes.append(axis)
                    options[axis] = []
                if value not in options[axis]:
                    options[axis].append(value)
        incomplete = [v.seller_sku for v in variations if set(v.options) != set(axes)]
        if not axes or incomplete:
            raise WriteRefused(
                _sp.MARKETPLACE,
                "product.init_tier_variation",
                "every variation must have a value for each of "
                f"{', '.join(axes) or 'at least one option'} (missing on {', '.join(incomplete)})",
                code="client.variation_options",
            )
        tiers = []
        for position, axis in enumerate(axes):
            option_list = []
            for value in options[axis]:
                entry: dict[str, Any] = {"option": value}
                picture = next(
                    (v.pictures[0] for v in variations if v.options[axis] == value and v.pictures),
                    None,
                )
                if position == 0 and picture is not None:  # only tier 0 carries images
                    entry["image"] = {"image_id": self._image_id(picture)}
                option_list.append(entry)
            tiers.append({"name": axis, "option_list": option_list})
        models = []
        for variation in variations:
            model: dict[str, Any] = {
                "tier_index": [options[axis].index(variation.options[axis]) for axis in axes],
                "model_sku": variation.seller_sku,
                "original_price": _money(variation.price),
                "seller_stock": [{"stock": variation.quantity}],
            }
            if variation.gtin:
                model["gtin_code"] = variation.gtin
            models.append(model)
        self._write(
            "product.init_tier_variation",
            INIT_TIER_PATH,
            {"item_id": item_id, "tier_variation": tiers, "model": models},
            settled=lambda: self._models(item_id) or None,
        )

    def update_listing(self, listing_id: str, draft: ListingDraft) -> PublishedListing:
        body = {"item_id": int(listing_id), **self._content(draft)}
        self._write("product.update_item", UPDATE_ITEM_PATH, body)
        item = self._item(listing_id, "product.update_item")
        if draft.variations and not item.has_model:
            # add_item went through but init_tier_variation never did (a crash between).
            self._init_tiers(item.item_id, draft.variations)
            item = self._item(listing_id, "product.update_item")
        return self._published(item)

    def set_listing_state(self, listing_id: str, state: ListingState) -> PublishedListing:
        body = {"item_list": [{"item_id": int(listing_id), "unlist": state != "active"}]}
        answer = self._write("product.unlist_item", UNLIST_ITEM_PATH, body)
        outcome = _sp._data(SPBatchOutcome, answer, "product.unlist_item")
        for failure in outcome.failure_list:
            raise WriteRefused(
                _sp.MARKETPLACE,
                "product.unlist_item",
                str(failure.get("fail_message") or "refused"),
                code=str(failure.get("fail_error") or "error_unlist_item_failed"),
            )
        return self._published(self._item(listing_id, "product.unlist_item"))

    def set_price(self, listing_id: str, variation_id: str, price: Decimal) -> None:
        model_id = _sp._model_id(variation_id)
        body = {
            "item_id": int(listing_id),
            "price_list": [{"model_id": model_id, "original_price": _money(price)}],
        }
        answer = self._write("product.update_price", UPDATE_PRICE_PATH, body)
        outcome = _sp._data(SPBatchOutcome, answer, "product.update_price")
        for failure in outcome.failure_list:
            raise WriteRefused(
                _sp.MARKETPLACE,
                "product.update_price",
                f"model {failure.get('model_id')}: {failure.get('failed_reason') or 'refused'}",
                code="update_price.failure_list",
            )

    # --- fulfilment ----------------------------------------------------------------------

    def _order_detail(self, order_sn: str, operation: str) -> dict[str, Any]:
        query = {
            "order_sn_list": order_sn,
            "response_optional_fields": "invoice_data,total_amount,package_list",
        }
        answer = self._call(operation, "GET", _sp.ORDER_DETAIL_PATH, query)
        for order in answer.get("order_list") or []:
            if isinstance(order, dict) and order.get("order_sn") == order_sn:
                return order
        raise NotFoundError(_sp.MARKETPLACE, operation, f"order {order_sn} is not found")

    def send_invoice(self, order_id: str, invoice: Invoice) -> None:
        order = self._order_detail(order_id, "order.get_order_detail")
        current = order.get("invoice_data")
        if isinstance(current, dict) and current.get("access_key") == invoice.access_key:
            return  # already there: a rerun, or a retry after the API took it
        total = invoice.total_amount
        if total is None and order.get("total_amount") is not None:
            total = Decimal(str(order["total_amount"]))
        if total is None:
            raise WriteRefused(
                _sp.MARKETPLACE,
                "order.add_invoice_data",
                f"order {order_id} states no total and the invoice gives none",
                code="client.invoice_total",
            )
        body = {
            "order_sn": order_id,
            "invoice_data": {
                "number": invoice.number,
                "series_number": invoice.series,
                "access_key": invoice.access_key,
                "issue_date": int(invoice.issued_at.timestamp()),
                "total_value": _money(total),
                "products_total_value": _money(total),
                "tax_code": self.invoice_cfop,
            },
        }

        def took_it() -> bool | None:
            again = self._order_detail(order_id, "order.get_order_detail").get("invoice_data")
            return (
                True
                if isinstance(again, dict) and again.get("access_key") == invoice.access_key
                else None
            )

        self._write("order.add_invoice_data", ADD_INVOICE_PATH, body, settled=took_it)

    def send_tracking(self, order_id: str, tracking: Tracking) -> None:
        package = tracking.shipment_id
        current = self.tracking_number(order_id, package)
        if current == tracking.tracking_number:
            return  # already arranged with this number
        query: dict[str, Any] = {"order_sn": order_id}
        if package:
            query["package_number"] = package
        try:
            answer = self._call(
                "logistics.get_shipping_parameter", "GET", SHIPPING_PARAMETER_PATH, query
            )
        except NotFoundError:
            raise
        except InvalidRequestError as exc:
            raise _refused(exc) from None
        needed = _sp._data(SPShippingParameter, answer, "logistics.get_shipping_parameter")
        if "non_integrated" not in needed.info_needed:
            raise WriteRefused(
                _sp.MARKETPLACE,
                "logistics.ship_order",
                f"order {order_id} ships on an integrated channel "
                f"({', '.join(sorted(needed.info_needed)) or 'no option'}): Shopee issues its "
                "tracking number, the seller cannot give one",
                code="client.integrated_channel",
            )
        body: dict[str, Any] = {
            "order_sn": order_id,
            "non_integrated": {"tracking_number": tracking.tracking_number},
        }
        if package:
            body["package_number"] = package

        def took_it() -> bool | None:
            return (
                True
                if self.tracking_number(order_id, package) == tracking.tracking_number
                else None
            )

        self._write("logistics.ship_order", SHIP_ORDER_PATH, body, settled=took_it)


def _attribute_value(attribute: ShopeeAttribute | None, raw: str) -> dict[str, Any]:
    """One value as the attribute takes it: a listed value's id (given as the id or its
    name), or the seller's own text (value_id 0) with its unit split off."""
    text = raw.strip()
    if attribute is None:  # not in the tree: the API will say so
        return {"value_id": 0, "original_value_name": text}
    folded = _sp_fold(text)
    for value in attribute.attribute_value_list:
        names = {_sp_fold(value.name), *(_sp_fold(m.get("value", "")) for m in value.multi_lang)}
        if text == str(value.value_id) or folded in names:
            return {"value_id": value.value_id}
    units = attribute.attribute_info.attribute_unit_list
    number, _, unit = text.partition(_UNIT_SPLIT)
    if units and unit.strip() in units:
        return {"value_id": 0, "original_value_name": number, "value_unit": unit.strip()}
    return {"value_id": 0, "original_value_name": text}


def _sp_fold(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in plain if not unicodedata.combining(ch)).strip()
