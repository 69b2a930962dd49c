"""Shopee Open Platform v2 write APIs in the sandbox: publishing, prices, fulfilment.

Owned by the Shopee `Simulator` (`simulator.writes`); the protocol (signature, token, quota,
faults, envelope) stays in `shopee.py`, which routes these paths here. Sources: API-NOTES-WRITES
§2 (the official doc JSON of add_item, init_tier_variation, update_item, update_price,
unlist_item, upload_image, ship_order and the BR NF-e guide) and the error names of the doc's
error lists. What the docs leave open, this sandbox decides and documents here:

- Limits are those `get_item_limit` answers (the real ones are per category and UNCONFIRMED):
  item_name 10–120 characters, description 20–3000, 1–9 images, price 1.00–100000.00 with at
  most two decimals, stock 0–999999, weight 0–30 kg, tier options ≤ 20 characters.
- A small forbidden-word list for item_name (`FORBIDDEN_WORDS`, counterfeit wording) answers
  `error_title_character_forbidden`, as forbidden characters (`<`, `>`) do.
- Images: add_item/update_item take only ids `media_space/upload_image` returned to this shop
  (JPG or PNG bytes, ≤ 10 MB). Brand: brand_id 0 with any original_brand_name (no brand list).
- Attributes are checked against the same category tree `get_attribute_tree` serves:
  drop-downs (input types 1 and 4) take listed value_ids only, free text (3) value_id 0 only,
  combo boxes (2 and 5) either; a value whose option opens child attributes makes the
  mandatory children required too.
- `search_item` matches `item_sku` exactly against the item's own SKU (not model SKUs:
  UNCONFIRMED), `item_name` as a case-insensitive substring.
- update_item on a generated (World) item applies item_name only; created items take every
  field. unlist_item pauses/republishes both; BANNED and REVIEWING items cannot be.
- ship_order: channel 90021 (seller logistics) needs `non_integrated.tracking_number`;
  integrated channels (Shopee Xpress, Turbo) take `dropoff` (empty) or `pickup`
  (address_id, pickup_time_id from get_shipping_parameter) and Shopee issues the tracking
  number; FBS orders cannot be arranged. After it, the order is PROCESSED and the package
  LOGISTICS_REQUEST_CREATED with its tracking number until the World ships it.
- add_invoice_data: body `{order_sn, invoice_data{number, series_number, access_key,
  issue_date, total_value, products_total_value, tax_code}}` (the get_order_detail
  invoice_data shape; the request schema itself is UNCONFIRMED), legal while READY_TO_SHIP or
  PROCESSED; the access key is checked (44 digits, model 55, check digit, series and number
  match), its error codes (`error_param`) are UNCONFIRMED, the messages are the BR guide's.
- Every authenticated write request reaching a handler is counted in `write_calls` by path.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any, TypeGuard

from synchub_pipelines.sandbox.shopee_render import (
    DAYS_TO_SHIP,
    FBS_CHANNEL,
    FLOAT_TYPE,
    FREE_TEXT_FILED,
    INT_TYPE,
    ITEM_ID_BASE,
    LOCATION_ID,
    LOGISTICS_CHANNEL,
    MULTI_DROP_DOWN,
    SELLER_CHANNEL,
    SINGLE_DROP_DOWN,
    TURBO_CHANNEL,
    AttributeSpec,
    Category,
    Package,
    _price_info,
    _stock_info,
    item_id_of,
    money,
    tracking_number,
)
from synchub_pipelines.sandbox.world import Listing, Order

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.shopee import Reply, Simulator, _Call

ITEM_NAME_LIMIT = (10, 120)
DESCRIPTION_LIMIT = (20, 3000)
IMAGE_COUNT_LIMIT = (1, 9)
PRICE_LIMIT = (Decimal("1.00"), Decimal("100000.00"))
STOCK_LIMIT = (0, 999_999)
MAX_WEIGHT_KG = Decimal("30")
TIER_OPTION_MAX = 20
MAX_TIERS = 2
MAX_MODELS = 50
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_UNLIST = 50
MAX_PRICES = 50
FORBIDDEN_WORDS = ("replica", "falsificado", "falsificada", "pirata", "imitacao")
FORBIDDEN_CHARACTERS = ("<", ">")
# Created items sit far above the World's listing numbers; their models above its variations.
CREATED_ITEM_BASE = ITEM_ID_BASE + 500_000_000
CREATED_MODEL_BASE = 900_000_000
SHOP_ADDRESS_ID = 1
PICKUP_TIME_IDS = ("1741708800", "1741795200")
# CFOPs the BR guide lists as accepted for an NF-e of a sale.
ACCEPTED_CFOPS = frozenset(
    {"5101", "5102", "5103", "5104", "5105", "5106", "5401", "5403", "5405"}
    | {"6101", "6102", "6103", "6104", "6105", "6106", "6108", "6401", "6403", "6404"}
)
CHANNELS = (
    (LOGISTICS_CHANNEL, True, False),
    (SELLER_CHANNEL, True, True),
    (TURBO_CHANNEL, False, False),
)  # (channel, enabled, seller ships it itself)

WRITE_PATHS = frozenset(
    {
        "/api/v2/media_space/upload_image",
        "/api/v2/product/add_item",
        "/api/v2/product/init_tier_variation",
        "/api/v2/product/update_item",
        "/api/v2/product/update_price",
        "/api/v2/product/unlist_item",
        "/api/v2/logistics/ship_order",
        "/api/v2/order/add_invoice_data",
    }
)


def _error(error: str, message: str) -> Exception:
    from synchub_pipelines.sandbox.shopee import ShopeeError

    return ShopeeError(error, message)


def _param(detail: str) -> Exception:
    return _error("error_param", f"Wrong parameters, detail: {detail}.")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()


def gtin_ok(code: str) -> bool:
    """GS1 check digit of a GTIN-8/12/13/14 ("00" is Brazil's "no GTIN")."""
    if code == "00":
        return True
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in code]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == digits[-1]


def access_key_ok(key: str) -> bool:
    """The NF-e access key's mod-11 check digit (weights 2..9 from the right)."""
    weights = [2 + i % 8 for i in range(43)]
    total = sum(int(d) * w for d, w in zip(reversed(key[:43]), weights, strict=True))
    digit = 11 - total % 11
    return (0 if digit >= 10 else digit) == int(key[43])


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _price(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _error("error_invalid_price", "Invalid price.")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise _error("error_invalid_price", "Invalid price.") from None
    if price != price.quantize(Decimal("0.01")):
        raise _error("error_invalid_price", "Invalid price.")
    if price < PRICE_LIMIT[0]:
        raise _error(
            "error_price_exceed_min_limitt", "Original_price is less than min price limit."
        )
    if price > PRICE_LIMIT[1]:
        raise _error(
            "error_price_exceed_max_limitt", "Original_price is bigger than max price limit."
        )
    return price


def _stock(raw: Any, legacy: Any = None) -> int:
    """seller_stock [{location_id?, stock}] (or the legacy normal_stock) as one quantity."""
    if raw is None and legacy is not None:
        raw = [{"stock": legacy}]
    if not isinstance(raw, list) or len(raw) != 1 or not isinstance(raw[0], dict):
        raise _param("seller_stock is required, one entry for the shop's location")
    slot = raw[0]
    if slot.get("location_id", LOCATION_ID) not in (LOCATION_ID, ""):
        raise _error(
            "error_param",
            "The location_id input is not matched the shop's location_id(more/wrong). "
            "Please double check.",
        )
    stock = slot.get("stock")
    if not _is_int(stock):
        raise _param("stock should be an integer")
    if stock < STOCK_LIMIT[0]:
        raise _error(
            "error_stock_less_then_min_limit", "Normal_stock/ seller_stock is less than min limit."
        )
    if stock > STOCK_LIMIT[1]:
        raise _error(
            "error_stock_bigger_then_limit", "Normal_stock/ seller_stock is bigger than max limit."
        )
    return int(stock)


def _gtin(raw: Any) -> str:
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str) or not gtin_ok(raw):
        raise _error(
            "error_param_validate", "This is not a valid GTIN. Please, inform a valid number."
        )
    return raw


@dataclass
class CreatedModel:
    model_id: int
    tier_index: list[int]
    model_sku: str
    price: Decimal
    stock: int
    gtin: str


@dataclass
class CreatedItem:
    """An item a seller created through add_item, as the reads show it."""

    item_id: int
    shop_id: int
    item_name: str
    description: str
    category_id: int
    attribute_list: list[dict[str, Any]]
    image_ids: list[str]
    weight: Decimal
    dimension: dict[str, int] | None
    logistic_info: list[dict[str, Any]]
    brand: dict[str, Any]
    item_sku: str
    gtin: str
    condition: str
    price: Decimal
    stock: int
    status: str
    create_time: int
    update_time: int
    tier_variation: list[dict[str, Any]] = field(default_factory=list)
    models: list[CreatedModel] = field(default_factory=list)


@dataclass(frozen=True)
class Shipped:
    """A package the seller arranged with ship_order."""

    tracking_number: str
    method: str  # pickup | dropoff | non_integrated
    at: int


class ShopeeWrites:
    """The write side of one Shopee simulator: items created, images, shipments, invoices."""

    def __init__(self, simulator: Simulator) -> None:
        self.sim = simulator
        self.write_calls: Counter[str] = Counter()
        self.items: dict[int, CreatedItem] = {}
        self.images: dict[str, tuple[int, str]] = {}  # image_id → (shop_id, url)
        self.shipped: dict[tuple[int, str], Shipped] = {}  # (order number, package) →
        self.invoices: dict[int, dict[str, Any]] = {}  # order number → invoice_data
        self._next_item = CREATED_ITEM_BASE
        self._next_model = CREATED_MODEL_BASE

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", "/api/v2/product/search_item", self.search_item),
            ("POST", "/api/v2/product/get_item_limit", self.get_item_limit),
            ("GET", "/api/v2/logistics/get_channel_list", self.get_channel_list),
            ("POST", "/api/v2/media_space/upload_image", self.upload_image),
            ("POST", "/api/v2/product/add_item", self.add_item),
            ("POST", "/api/v2/product/init_tier_variation", self.init_tier_variation),
            ("POST", "/api/v2/product/update_item", self.update_item),
            ("POST", "/api/v2/product/update_price", self.update_price),
            ("POST", "/api/v2/product/unlist_item", self.unlist_item),
            ("GET", "/api/v2/logistics/get_shipping_parameter", self.get_shipping_parameter),
            ("POST", "/api/v2/logistics/ship_order", self.ship_order),
            ("POST", "/api/v2/order/add_invoice_data", self.add_invoice_data),
        ]

    def _reply(self, response: Any, warning: str | None = "") -> Reply:
        from synchub_pipelines.sandbox.shopee import Reply

        return Reply(response, warning=warning)

    def count(self, path: str) -> None:
        self.write_calls[path] += 1

    # --- reads the existing endpoints ask ------------------------------------------------

    def shop_items(self, shop_id: int) -> list[CreatedItem]:
        return [i for i in self.items.values() if i.shop_id == shop_id]

    def item(self, shop_id: int, item_id: int) -> CreatedItem | None:
        item = self.items.get(item_id)
        return item if item is not None and item.shop_id == shop_id else None

    def base_info(self, item: CreatedItem) -> dict[str, Any]:
        urls = [self.images[i][1] for i in item.image_ids]
        rendered: dict[str, Any] = {
            "item_id": item.item_id,
            "category_id": item.category_id,
            "item_name": item.item_name,
            "description": item.description,
            "item_sku": item.item_sku,
            "create_time": item.create_time,
            "update_time": item.update_time,
            "attribute_list": item.attribute_list,
            "image": {"image_url_list": urls, "image_id_list": list(item.image_ids)},
            "weight": f"{item.weight:.2f}",
            "logistic_info": item.logistic_info,
            "pre_order": {"is_pre_order": False, "days_to_ship": DAYS_TO_SHIP},
            "condition": item.condition,
            "size_chart": "",
            "item_status": item.status,
            "deboost": False,
            "has_model": bool(item.models),
            "promotion_id": 0,
            "brand": item.brand,
            "item_dangerous": 0,
            "description_type": "normal",
            "tag": {"kit": False},
        }
        if item.dimension is not None:
            rendered["dimension"] = item.dimension
        if not item.models:
            rendered["price_info"] = _price_info(item.price)
            rendered["stock_info_v2"] = _stock_info(item.stock)
            rendered["gtin_code"] = item.gtin
        return rendered

    def model_list(self, item: CreatedItem) -> dict[str, Any]:
        models = [
            {
                "model_id": m.model_id,
                "tier_index": m.tier_index,
                "promotion_id": 0,
                "has_promotion": False,
                "model_sku": m.model_sku,
                "model_status": "MODEL_NORMAL",
                "price_info": _price_info(m.price),
                "stock_info_v2": _stock_info(m.stock),
                "pre_order": {"is_pre_order": False, "days_to_ship": DAYS_TO_SHIP},
                "gtin_code": m.gtin,
                "weight": f"{item.weight:.2f}",
                "is_fulfillment_by_shopee": False,
            }
            for m in item.models
        ]
        return {
            "tier_variation": item.tier_variation,
            "model": models,
            "standardise_tier_variation": [],
        }

    def set_stock(self, item: CreatedItem, model_id: int, stock: int) -> str:
        """update_stock on a created item: '' when done, else the failed_reason."""
        if not item.models:
            if model_id != 0:
                return "Wrong model_id."
            item.stock = stock
            return ""
        if model_id == 0:
            return "Can't to edit item stock directly while item has models."
        for model in item.models:
            if model.model_id == model_id:
                model.stock = stock
                return ""
        return "Wrong model_id."

    # --- products: search, limits, channels, images -------------------------------------

    def search_item(self, call: _Call) -> Reply:
        shop = call.the_shop
        query = call.query
        raw_size = query.get("page_size", "")
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= 100:
            raise _error("product.error_param", "invalid field PageSize: value must  Not Null")
        name = query.get("item_name", "").strip()
        sku = query.get("item_sku", "").strip()
        if not name and not sku and not query.get("attribute_status"):
            raise _error("error_param", "request must set one of [item_name,attribute_status]")
        raw_offset = query.get("offset") or "0"
        if not raw_offset.isdigit():
            raise _param("offset is invalid")
        statuses = set(query.getlist("item_status")) or {"NORMAL", "BANNED", "UNLIST", "REVIEWING"}
        found: list[int] = []
        for listing in shop.listings:
            item_sku = "" if listing.has_variations else (listing.variations[0].sku or "")
            if self.sim.catalog.item_status(listing) in statuses and _match(
                listing.title, item_sku, name, sku
            ):
                found.append(item_id_of(listing))
        for item in self.shop_items(shop.shop_id):
            if item.status in statuses and _match(item.item_name, item.item_sku, name, sku):
                found.append(item.item_id)
        offset, size = int(raw_offset), int(raw_size)
        page = found[offset : offset + size]
        more = offset + size < len(found)
        return self._reply(
            {
                "item_id_list": page,
                "total_count": len(found),
                "next_offset": str(offset + size) if more else "",
            }
        )

    def get_item_limit(self, call: _Call) -> Reply:
        self._leaf(call.body.get("category_id"))
        return self._reply(
            {
                "price_limit": {
                    "min_limit": float(PRICE_LIMIT[0]),
                    "max_limit": float(PRICE_LIMIT[1]),
                },
                "stock_limit": {"min_limit": STOCK_LIMIT[0], "max_limit": STOCK_LIMIT[1]},
                "item_name_length_limit": {
                    "min_limit": ITEM_NAME_LIMIT[0],
                    "max_limit": ITEM_NAME_LIMIT[1],
                },
                "item_description_length_limit": {
                    "min_limit": DESCRIPTION_LIMIT[0],
                    "max_limit": DESCRIPTION_LIMIT[1],
                },
                "item_image_count_limit": {
                    "min_limit": IMAGE_COUNT_LIMIT[0],
                    "max_limit": IMAGE_COUNT_LIMIT[1],
                },
                "tier_variation_option_length_limit": {
                    "min_limit": 1,
                    "max_limit": TIER_OPTION_MAX,
                },
                "weight_limit": {"weight_mandatory": True},
                "dimension_limit": {"dimension_mandatory": False},
                "gtin_limit": {"gtin_validation_rule": "Flexible"},
            }
        )

    def get_channel_list(self, call: _Call) -> Reply:
        _ = call.the_shop  # a shop call: the token must name a shop
        return self._reply(
            {
                "logistics_channel_list": [
                    {
                        "logistics_channel_id": channel[0],
                        "logistics_channel_name": channel[1],
                        "enabled": enabled,
                        "cod_enabled": False,
                        "fee_type": "SIZE_INPUT",
                        "mask_channel_id": 0,
                        "size_list": [],
                        "weight_limit": {"item_max_weight": 30.0, "item_min_weight": 0.01},
                        "logistics_description": "",
                        "force_enable": False,
                        "preferred": channel == LOGISTICS_CHANNEL,
                    }
                    for channel, enabled, _ in CHANNELS
                ]
            }
        )

    def upload_image(self, call: _Call) -> Reply:
        shop = call.the_shop
        self.count("/api/v2/media_space/upload_image")
        image = call.files.get("image")
        if image is None:
            raise _error("error_param", "No image found in the request")
        if len(image) > MAX_IMAGE_BYTES:
            raise _error("error_param", f"The image size cannot exceed {MAX_IMAGE_BYTES} bytes")
        if not (image.startswith(b"\xff\xd8\xff") or image.startswith(b"\x89PNG\r\n\x1a\n")):
            raise _error("error_param", "Invalid image format, only support jpg/jpeg/png/gif)")
        scene = call.form.get("scene", "normal")
        if scene not in ("normal", "desc"):
            raise _param("scene should be normal or desc")
        image_id = "br-11134207-sbx-" + hashlib.blake2b(image, digest_size=12).hexdigest()
        url = f"https://down-br.img.susercontent.com/file/{image_id}"
        self.images[image_id] = (shop.shop_id, url)
        return self._reply(
            {
                "image_info": {
                    "image_id": image_id,
                    "image_url_list": [{"image_url_region": "BR", "image_url": url}],
                }
            }
        )

    # --- add / update ----------------------------------------------------------------

    def _leaf(self, raw: Any) -> Category:
        tree = self.sim.catalog.categories
        category = tree.by_id.get(raw) if _is_int(raw) else None
        if category is None or category.has_children:
            raise _error("error_param", "Invalid category.")
        return category

    def _item_name(self, raw: Any) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise _error("error_item_name_empty", "Item_name is empty.")
        name = raw.strip()
        if len(name) < ITEM_NAME_LIMIT[0]:
            raise _error("error_item_name_is_too_short", "Item_name length is less than min limit.")
        if len(name) > ITEM_NAME_LIMIT[1]:
            raise _error(
                "error_title_exceeds_max_length",
                "The length of item_name is bigger than max limit.",
            )
        words = set(re.findall(r"[a-z0-9]+", _fold(name)))
        if words & set(FORBIDDEN_WORDS) or any(c in name for c in FORBIDDEN_CHARACTERS):
            raise _error(
                "error_title_character_forbidden", "Item_name contains forbidden characters."
            )
        return name

    def _description(self, raw: Any) -> str:
        text = raw if isinstance(raw, str) else ""
        if len(text.strip()) < DESCRIPTION_LIMIT[0]:
            raise _error(
                "error_desc_length_min_limit", "Description length is less than the min limit."
            )
        if len(text) > DESCRIPTION_LIMIT[1]:
            raise _error(
                "error_desc_length_max_limit", "Description length is bigger than the max limit."
            )
        return text

    def _images(self, raw: Any, shop_id: int) -> list[str]:
        ids = raw.get("image_id_list") if isinstance(raw, dict) else None
        if not isinstance(ids, list) or len(ids) < IMAGE_COUNT_LIMIT[0]:
            raise _error("error_image_num_min", "The number of images is less than the min limit.")
        if len(ids) > IMAGE_COUNT_LIMIT[1]:
            raise _error("error_param", "Wrong parameters, detail: image_id_list exceeds 9 images.")
        for image_id in ids:
            owner = self.images.get(image_id) if isinstance(image_id, str) else None
            if owner is None or owner[0] != shop_id:
                raise _error("error_param", "Image not exist.")
        return list(ids)

    def _weight(self, raw: Any) -> Decimal:
        try:
            weight = Decimal(str(raw)) if _is_int(raw) or isinstance(raw, float | str) else None
        except InvalidOperation:
            weight = None
        if weight is None or weight <= 0 or weight > MAX_WEIGHT_KG:
            raise _error("error_param", "Invalid Weight.")
        return weight

    def _dimension(self, raw: Any) -> dict[str, int] | None:
        if raw is None:
            return None
        keys = ("package_height", "package_length", "package_width")
        if not isinstance(raw, dict) or not all(_is_int(raw.get(k)) and raw[k] > 0 for k in keys):
            raise _error("error_param", "dimension is required")
        return {k: int(raw[k]) for k in keys}

    def _logistics(self, raw: Any) -> list[dict[str, Any]]:
        known = {channel[0]: channel for channel, enabled, _ in CHANNELS if enabled}
        if not isinstance(raw, list) or not raw:
            raise _param("logistic_info is required")
        rendered = []
        for entry in raw:
            channel_id = entry.get("logistic_id") if isinstance(entry, dict) else None
            if channel_id not in known or not isinstance(entry.get("enabled"), bool):
                raise _param(f"logistic_id {channel_id} is not an enabled channel of the shop")
            rendered.append(
                {
                    "logistic_id": channel_id,
                    "logistic_name": known[channel_id][1],
                    "enabled": entry["enabled"],
                    "is_free": bool(entry.get("is_free", False)),
                }
            )
        if not any(e["enabled"] for e in rendered):
            raise _param("at least one logistics channel must be enabled")
        return rendered

    def _brand(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict) or not _is_int(raw.get("brand_id")):
            raise _error("error_invalid_brand", "Brand information required")
        name = raw.get("original_brand_name")
        if raw["brand_id"] != 0 or not isinstance(name, str) or not name.strip():
            raise _error("error_invalid_brand", "Brand ID required")
        return {"brand_id": 0, "original_brand_name": name.strip()}

    def _attributes(self, raw: Any, category: Category) -> list[dict[str, Any]]:
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise _param("attribute_list should be a list")
        specs: dict[int, tuple[AttributeSpec, bool]] = {}
        for spec, mandatory in category.attributes:
            specs[spec.attribute_id] = (spec, mandatory)
        given: dict[int, list[dict[str, Any]]] = {}
        for entry in raw:
            attribute_id = entry.get("attribute_id") if isinstance(entry, dict) else None
            values = entry.get("attribute_value_list") if isinstance(entry, dict) else None
            if not _is_int(attribute_id) or not isinstance(values, list) or not values:
                raise _error("error_param", "Invalid attribute. attribute_value_list is required")
            given[attribute_id] = values
        # Children opened by a chosen value are part of the category for this item.
        for spec, _ in list(specs.values()):
            for index, children in spec.children.items():
                chosen = {v.get("value_id") for v in given.get(spec.attribute_id, [])}
                for child in children:
                    specs.setdefault(child.attribute_id, (child, spec.value_id(index) in chosen))
        rendered = []
        for attribute_id, values in given.items():
            if attribute_id not in specs:
                raise _error(
                    "error_invalid_category_attribute",
                    f"Invalid attribute. attribute_id {attribute_id} is not an attribute of "
                    f"category {category.category_id}.",
                )
            spec, mandatory = specs[attribute_id]
            if len(values) > spec.max_value_count:
                raise _error(
                    "error_param",
                    f"Invalid attribute. attribute_id {attribute_id} takes at most "
                    f"{spec.max_value_count} value(s).",
                )
            rendered.append(
                {
                    "attribute_id": attribute_id,
                    "original_attribute_name": spec.name_en,
                    "is_mandatory": mandatory,
                    "attribute_value_list": [self._value(spec, v) for v in values],
                }
            )
        missing = sorted(a for a, (_, mandatory) in specs.items() if mandatory and a not in given)
        if missing:
            raise _error(
                "error_less_required_attribute",
                "Mandatory attribute information required. attribute_id: "
                + ", ".join(map(str, missing)),
            )
        return rendered

    @staticmethod
    def _value(spec: AttributeSpec, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict) or not _is_int(raw.get("value_id")):
            raise _error("error_param", "Invalid attribute. value_id is required")
        value_id = raw["value_id"]
        name = raw.get("original_value_name")
        unit = raw.get("value_unit") or ""
        listed = {spec.value_id(i): english for i, (english, _) in enumerate(spec.values)}
        if value_id:
            if spec.input_type == FREE_TEXT_FILED:
                raise _error("error_value_id_must_equal_zero", "Value_id must equal 0.")
            if value_id not in listed:
                raise _error(
                    "error_invalid_attribute_value",
                    f"Invalid attribute value. value_id {value_id} is not a value of attribute "
                    f"{spec.attribute_id}.",
                )
            return {"value_id": value_id, "original_value_name": listed[value_id], "value_unit": ""}
        if spec.input_type in (SINGLE_DROP_DOWN, MULTI_DROP_DOWN):
            raise _error(
                "error_invalid_attribute_value",
                f"Invalid attribute value. attribute {spec.attribute_id} takes listed values only.",
            )
        if not isinstance(name, str) or not name.strip():
            raise _error("error_value_name_required", "Value_name is required.")
        if spec.validation in (INT_TYPE, FLOAT_TYPE):
            pattern = r"^\d+$" if spec.validation == INT_TYPE else r"^\d+(\.\d+)?$"
            if not re.match(pattern, name.strip()):
                raise _error(
                    "error_invalid_attribute_value",
                    f"Invalid attribute value. attribute {spec.attribute_id} takes a number.",
                )
        if spec.units and unit not in spec.units:
            raise _error(
                "error_invalid_attribute_value",
                f"Invalid attribute value. value_unit of attribute {spec.attribute_id} should be "
                f"one of {', '.join(spec.units)}.",
            )
        return {"value_id": 0, "original_value_name": name.strip(), "value_unit": unit}

    def add_item(self, call: _Call) -> Reply:
        shop = call.the_shop
        self.count("/api/v2/product/add_item")
        body = call.body
        category = self._leaf(body.get("category_id"))
        name = self._item_name(body.get("item_name"))
        description = self._description(body.get("description"))
        images = self._images(body.get("image"), shop.shop_id)
        price = _price(body.get("original_price"))
        stock = _stock(body.get("seller_stock"), body.get("normal_stock"))
        weight = self._weight(body.get("weight"))
        dimension = self._dimension(body.get("dimension"))
        logistics = self._logistics(body.get("logistic_info"))
        brand = self._brand(body.get("brand"))
        attributes = self._attributes(body.get("attribute_list"), category)
        gtin = _gtin(body.get("gtin_code"))
        status = body.get("item_status", "NORMAL")
        condition = body.get("condition", "NEW")
        if status not in ("NORMAL", "UNLIST") or condition not in ("NEW", "USED"):
            raise _param("item_status should be NORMAL or UNLIST and condition NEW or USED")
        sku = body.get("item_sku") or ""
        if not isinstance(sku, str) or len(sku) > 100:
            raise _param("item_sku should be a string of at most 100 characters")
        now = int(call.now)
        with self.sim._lock:
            self._next_item += 1
            item = CreatedItem(
                item_id=self._next_item,
                shop_id=shop.shop_id,
                item_name=name,
                description=description,
                category_id=category.category_id,
                attribute_list=attributes,
                image_ids=images,
                weight=weight,
                dimension=dimension,
                logistic_info=logistics,
                brand=brand,
                item_sku=sku,
                gtin=gtin,
                condition=condition,
                price=price,
                stock=stock,
                status=status,
                create_time=now,
                update_time=now,
            )
            self.items[item.item_id] = item
        return self._reply(
            {
                "item_id": item.item_id,
                "item_status": item.status,
                "category_id": item.category_id,
                "item_name": item.item_name,
                "description": item.description,
                "item_sku": item.item_sku,
                "price_info": {"original_price": money(price)},
                "seller_stock": [{"location_id": LOCATION_ID, "stock": stock}],
                "images": {
                    "image_id_list": images,
                    "image_url_list": [self.images[i][1] for i in images],
                },
                "weight": float(weight),
                "brand": brand,
                "attribute": attributes,
                "logistic_info": logistics,
                "condition": condition,
                "gtin_code": gtin,
            }
        )

    def _created(self, call: _Call, raw: Any) -> CreatedItem:
        item = self.item(call.the_shop.shop_id, raw) if _is_int(raw) else None
        if item is None:
            raise _error("error_item_not_found", "Item_id is not found.")
        return item

    def init_tier_variation(self, call: _Call) -> Reply:
        self.count("/api/v2/product/init_tier_variation")
        body = call.body
        item = self._created(call, body.get("item_id"))
        if item.models:
            raise _error(
                "error_param", "Wrong parameters, detail: the item already has tier variations."
            )
        tiers = body.get("tier_variation")
        if not isinstance(tiers, list) or not 1 <= len(tiers) <= MAX_TIERS:
            raise _param(f"tier_variation should have 1 to {MAX_TIERS} tiers")
        tier_variation = []
        sizes = []
        for position, tier in enumerate(tiers):
            name = tier.get("name") if isinstance(tier, dict) else None
            options = tier.get("option_list") if isinstance(tier, dict) else None
            if not isinstance(name, str) or not name.strip() or not isinstance(options, list):
                raise _param("tier_variation needs a name and an option_list")
            if len(options) > 20:
                raise _error(
                    "error_tier_opt_too_many", "Count of tier_variation option is larger than 20."
                )
            rendered = []
            for option in options:
                text = option.get("option") if isinstance(option, dict) else None
                if not isinstance(text, str) or not text.strip():
                    raise _param("option is required")
                if len(text) > TIER_OPTION_MAX:
                    raise _error(
                        "error_tier_opt_val_too_long",
                        f"Tier variation option {text!r} is longer than {TIER_OPTION_MAX} "
                        "characters.",
                    )
                entry: dict[str, Any] = {"option": text}
                image = option.get("image")
                if image is not None:
                    image_id = image.get("image_id") if isinstance(image, dict) else None
                    if position != 0 or image_id not in self.images:
                        raise _error("error_param", "Image not exist.")
                    entry["image"] = {"image_id": image_id, "image_url": self.images[image_id][1]}
                rendered.append(entry)
            if len({e["option"] for e in rendered}) != len(rendered):
                raise _param("options of a tier must be unique")
            tier_variation.append({"name": name, "option_list": rendered})
            sizes.append(len(rendered))
        models_raw = body.get("model")
        if not isinstance(models_raw, list) or not 1 <= len(models_raw) <= MAX_MODELS:
            raise _param(f"model should have 1 to {MAX_MODELS} entries")
        models: list[CreatedModel] = []
        seen: set[tuple[int, ...]] = set()
        for raw in models_raw:
            if not isinstance(raw, dict):
                raise _param("model entries must be objects")
            index = raw.get("tier_index")
            if (
                not isinstance(index, list)
                or len(index) != len(sizes)
                or not all(
                    _is_int(i) and 0 <= i < size for i, size in zip(index, sizes, strict=False)
                )
            ):
                raise _error("error_tier_index", "The tier_index is not exist")
            if tuple(index) in seen:
                raise _param("tier_index is repeated")
            seen.add(tuple(index))
            sku = raw.get("model_sku") or ""
            if not isinstance(sku, str) or len(sku) > 100:
                raise _param("model_sku should be at most 100 characters")
            models.append(
                CreatedModel(
                    model_id=0,
                    tier_index=list(index),
                    model_sku=sku,
                    price=_price(raw.get("original_price")),
                    stock=_stock(raw.get("seller_stock")),
                    gtin=_gtin(raw.get("gtin_code")),
                )
            )
        with self.sim._lock:
            for model in models:
                self._next_model += 1
                model.model_id = self._next_model
            item.tier_variation = tier_variation
            item.models = models
            item.update_time = int(call.now)
        return self._reply(
            {
                "item_id": item.item_id,
                "tier_variation": tier_variation,
                "model": [
                    {
                        "model_id": m.model_id,
                        "tier_index": m.tier_index,
                        "model_sku": m.model_sku,
                        "price_info": [{"original_price": money(m.price)}],
                        "seller_stock": [{"location_id": LOCATION_ID, "stock": m.stock}],
                    }
                    for m in models
                ],
            }
        )

    def update_item(self, call: _Call) -> Reply:
        shop = call.the_shop
        self.count("/api/v2/product/update_item")
        body = call.body
        item_id = body.get("item_id")
        if not _is_int(item_id):
            raise _param("item_id is required")
        if any(k in body for k in ("original_price", "seller_stock", "normal_stock")):
            raise _param("use update_price and update_stock to change price and stock")
        listing = shop.items.get(item_id)
        if listing is not None:
            return self._update_world(call, listing)
        item = self._created(call, item_id)
        category = self._leaf(body.get("category_id", item.category_id))
        changes: dict[str, Any] = {}
        if "item_name" in body:
            changes["item_name"] = self._item_name(body["item_name"])
        if "description" in body:
            changes["description"] = self._description(body["description"])
        if "image" in body:
            changes["image_ids"] = self._images(body["image"], shop.shop_id)
        if "weight" in body:
            changes["weight"] = self._weight(body["weight"])
        if "dimension" in body:
            changes["dimension"] = self._dimension(body["dimension"])
        if "brand" in body:
            changes["brand"] = self._brand(body["brand"])
        if "logistic_info" in body:
            changes["logistic_info"] = self._logistics(body["logistic_info"])
        if "attribute_list" in body or category.category_id != item.category_id:
            changes["attribute_list"] = self._attributes(body.get("attribute_list"), category)
        if "gtin_code" in body:
            changes["gtin"] = _gtin(body["gtin_code"])
        if "item_sku" in body:
            changes["item_sku"] = str(body["item_sku"] or "")
        with self.sim._lock:
            for name, value in changes.items():
                setattr(item, name, value)
            item.category_id = category.category_id
            item.update_time = int(call.now)
        return self._reply(self._updated(item))

    def _update_world(self, call: _Call, listing: Listing) -> Reply:
        """A generated item: the fields are checked, the name is what it keeps."""
        body = call.body
        name = self._item_name(body["item_name"]) if "item_name" in body else listing.title
        if "description" in body:
            self._description(body["description"])
        if "image" in body:
            self._images(body["image"], call.the_shop.shop_id)
        if "attribute_list" in body:
            self._attributes(
                body["attribute_list"],
                self._leaf(
                    body.get("category_id", self.sim.catalog.category_of(listing).category_id)
                ),
            )
        with self.sim._lock:
            listing.title = name
            call.the_shop.item_updated[item_id_of(listing)] = int(call.now)
        return self._reply({"item_id": item_id_of(listing), "item_name": name})

    def _updated(self, item: CreatedItem) -> dict[str, Any]:
        return {
            "item_id": item.item_id,
            "category_id": item.category_id,
            "item_name": item.item_name,
            "description": item.description,
            "item_sku": item.item_sku,
            "images": {"image_id_list": item.image_ids},
            "weight": float(item.weight),
            "brand": item.brand,
            "attribute_list": item.attribute_list,
            "item_status": item.status,
        }

    # --- price and status ------------------------------------------------------------

    def update_price(self, call: _Call) -> Reply:
        shop = call.the_shop
        self.count("/api/v2/product/update_price")
        item_id = call.body.get("item_id")
        prices = call.body.get("price_list")
        if not _is_int(item_id):
            raise _param("item_id is required")
        if not isinstance(prices, list) or not 1 <= len(prices) <= MAX_PRICES:
            raise _param("price_list length should be between 1 to 50")
        entries = []
        for entry in prices:
            model_id = entry.get("model_id", 0) if isinstance(entry, dict) else None
            if not _is_int(model_id):
                raise _param("model_id should be an integer")
            entries.append((model_id, _price(entry.get("original_price"))))
        if len({m for m, _ in entries}) != len(entries):
            raise _error("error_param", "Repeat model_id.")
        listing = shop.items.get(item_id)
        item = self.item(shop.shop_id, item_id)
        if listing is None and item is None:
            raise _error("error_item_not_found", "Item_id is not found.")
        has_models = listing.has_variations if listing is not None else bool(item and item.models)
        if has_models and any(m == 0 for m, _ in entries):
            raise _error(
                "error_edit_item_price_for_item_has_model",
                "Can't edit item price directly while item has models.",
            )
        success, failure = [], []
        with self.sim._lock:
            for model_id, price in entries:
                if self._set_price(listing, item, model_id, price):
                    success.append({"model_id": model_id, "original_price": money(price)})
                else:
                    failure.append({"model_id": model_id, "failed_reason": "Wrong model_id."})
            if success:
                if item is not None:
                    item.update_time = int(call.now)
                else:
                    shop.item_updated[item_id] = int(call.now)
        return self._reply({"failure_list": failure, "success_list": success})

    @staticmethod
    def _set_price(
        listing: Listing | None, item: CreatedItem | None, model_id: int, price: Decimal
    ) -> bool:
        if listing is not None:
            if not listing.has_variations:
                if model_id != 0:
                    return False
                listing.variations[0].price = price
                return True
            for variation in listing.variations:
                if variation.variation_number == model_id:
                    variation.price = price
                    return True
            return False
        assert item is not None
        if not item.models:
            if model_id != 0:
                return False
            item.price = price
            return True
        for model in item.models:
            if model.model_id == model_id:
                model.price = price
                return True
        return False

    def unlist_item(self, call: _Call) -> Reply:
        shop = call.the_shop
        self.count("/api/v2/product/unlist_item")
        raw = call.body.get("item_list")
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_UNLIST:
            raise _param("item_list length should be between 1 to 50")
        success, failure = [], []
        with self.sim._lock:
            for entry in raw:
                item_id = entry.get("item_id") if isinstance(entry, dict) else None
                unlist = entry.get("unlist") if isinstance(entry, dict) else None
                if not _is_int(item_id) or not isinstance(unlist, bool):
                    raise _param("item_id and unlist are required")
                reason = self._unlist(shop, item_id, unlist, int(call.now))
                if reason:
                    failure.append(
                        {"item_id": item_id, "fail_error": reason[0], "fail_message": reason[1]}
                    )
                else:
                    success.append({"item_id": item_id, "unlist": unlist})
        if not success:
            first = failure[0]
            raise _error(
                "error_unlist_item_all_failed",
                f"Unlist item all failed. {first['fail_error']}: {first['fail_message']}",
            )
        return self._reply({"failure_list": failure, "success_list": success})

    def _unlist(self, shop: Any, item_id: int, unlist: bool, now: int) -> tuple[str, str] | None:
        listing = shop.items.get(item_id)
        item = self.item(shop.shop_id, item_id)
        if listing is None and item is None:
            return ("error_item_not_found", "Item_id is not found.")
        status = self.sim.catalog.item_status(listing) if listing is not None else item.status  # type: ignore[union-attr]
        if status in ("BANNED", "REVIEWING", "SELLER_DELETE", "SHOPEE_DELETE"):
            return (
                "error_busi_cannot_delist_reviewing_or_banned_item",
                "Cannot unlist or list an item under review or banned.",
            )
        if listing is not None:
            listing.status = "paused" if unlist else "active"
            shop.item_updated[item_id] = now
        else:
            assert item is not None
            item.status = "UNLIST" if unlist else "NORMAL"
            item.update_time = now
        return None

    # --- fulfilment ------------------------------------------------------------------

    def _order(self, call: _Call, sn: Any) -> tuple[Order, int]:
        if not isinstance(sn, str) or not sn.strip():
            raise _param("order_sn is required")
        return self.sim._shop_order(call, sn.strip())

    def _channel(self, package: Package) -> tuple[tuple[int, str], bool]:
        for channel, _, seller in CHANNELS:
            if channel == package.channel:
                return channel, seller
        return package.channel, False

    def get_shipping_parameter(self, call: _Call) -> Reply:
        order, _ = self._order(call, call.query.get("order_sn"))
        package = self.sim._package(order, call.query.get("package_number") or None)
        if package.channel == FBS_CHANNEL:
            raise _error("logistics.error_method", "Operation is not supported.")
        _, seller = self._channel(package)
        if seller:
            return self._reply({"info_needed": {"non_integrated": ["tracking_no"]}})
        return self._reply(
            {
                "info_needed": {"dropoff": [], "pickup": ["address_id", "pickup_time_id"]},
                "dropoff": {"branch_list": [], "slug_list": []},
                "pickup": {
                    "address_list": [
                        {
                            "address_id": SHOP_ADDRESS_ID,
                            "region": "BR",
                            "state": "SP",
                            "city": "São Paulo",
                            "address": "Rua do Vendedor, 100",
                            "zipcode": "01001000",
                            "address_flag": ["default_address", "pickup_address"],
                            "time_slot_list": [
                                {"date": int(t), "time_text": "", "pickup_time_id": t}
                                for t in PICKUP_TIME_IDS
                            ],
                        }
                    ]
                },
            }
        )

    def tracking_of(self, order: Order, package: Package) -> str | None:
        shipped = self.shipped.get((order.order_number, package.number))
        return shipped.tracking_number if shipped is not None else None

    def ship_order(self, call: _Call) -> Reply:
        self.count("/api/v2/logistics/ship_order")
        body = call.body
        order, step = self._order(call, body.get("order_sn"))
        package = self.sim._package(order, body.get("package_number") or None)
        status = order.timeline[step][0]
        if status in ("pending", "cancelled"):
            raise _error(
                "logistics.error_order_state", "Operation is not allow with current order status."
            )
        if status != "paid" or (order.order_number, package.number) in self.shipped:
            raise _error("logistics.error_param", "Order has been shipped.")
        if package.channel == FBS_CHANNEL:
            raise _error("logistics.error_method", "Operation is not supported.")
        _, seller = self._channel(package)
        if seller:
            info = body.get("non_integrated")
            number = info.get("tracking_number") if isinstance(info, dict) else None
            if not isinstance(info, dict):
                raise _error(
                    "logistics.error_param",
                    "Invalid logistics channel. Please check the logictics channel.",
                )
            if not isinstance(number, str) or not number.strip():
                raise _error("logistics.error_traceno_required", "Trace number is required.")
            number = number.strip()
            if any(s.tracking_number == number for s in self.shipped.values()):
                raise _error(
                    "logistics.error_param",
                    "The tracking number has been used by other orders, please fill in a "
                    "valid one.",
                )
            record = Shipped(number, "non_integrated", int(call.now))
        elif isinstance(body.get("pickup"), dict):
            pickup = body["pickup"]
            if pickup.get("address_id") != SHOP_ADDRESS_ID:
                raise _error("logistics.address_not_found", "Address is not found.")
            if pickup.get("pickup_time_id") not in PICKUP_TIME_IDS:
                raise _error(
                    "logistics.error_pickup_time",
                    "Pickup time is invalid. Please check the pick up time.",
                )
            record = Shipped(tracking_number(order, package), "pickup", int(call.now))
        elif isinstance(body.get("dropoff"), dict):
            record = Shipped(tracking_number(order, package), "dropoff", int(call.now))
        else:
            raise _error(
                "logistics.error_param",
                "Channel does not support dropoff. Please select the pickup option and try again."
                if "non_integrated" in body
                else "Invalid logistics channel. Please check the logictics channel.",
            )
        with self.sim._lock:
            self.shipped[(order.order_number, package.number)] = record
        return self._reply({})

    def add_invoice_data(self, call: _Call) -> Reply:
        self.count("/api/v2/order/add_invoice_data")
        body = call.body
        if not body.get("order_sn"):
            raise _error("error_param", "order_sn is a required field.")
        order, step = self._order(call, body.get("order_sn"))
        data = body.get("invoice_data")
        if not isinstance(data, dict):
            raise _param("invoice_data is required")
        status = order.timeline[step][0]
        if status == "cancelled":
            raise _error("error_status", "The order has been cancelled.")
        if status != "paid" or order.order_number in self.invoices:
            raise _error("error_param", "The invoice status is invalid to upload invoice data.")
        key = data.get("access_key")
        if not key:
            raise _error("error_param", "access_key is a required field.")
        if not isinstance(key, str) or len(key) != 44:
            raise _error("error_param", "access_key must be 44 characters in length.")
        if not key.isdigit() or not access_key_ok(key):
            raise _error("error_param", "Invalid access key..")
        if key[20:22] != "55":
            raise _error("error_param", "Invalid NF-e model. Only model 55 is accepted.")
        number, series = str(data.get("number", "")), str(data.get("series_number", ""))
        if not (number.isdigit() and series.isdigit()) or (
            int(number),
            int(series),
        ) != (int(key[25:34]), int(key[22:25])):
            raise _error("error_param", "Invalid NF-e.")
        issued = data.get("issue_date")
        if not _is_int(issued) or issued <= 0:
            raise _param("issue_date is required")
        if issued > call.now:
            raise _error(
                "error_param",
                "Invalid issue date. The NF-e issue date cannot be greater than the current date..",
            )
        if str(data.get("tax_code", "")) not in ACCEPTED_CFOPS:
            raise _error("error_param", "CFOP invalid, please confirm it")
        totals = []
        for name in ("total_value", "products_total_value"):
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise _param(f"{name} is required and must be positive")
            totals.append(value)
        if any(d["access_key"] == key for d in self.invoices.values()):
            raise _error(
                "error_param", "Access Key duplicated, please do not use duplicated Access Key."
            )
        with self.sim._lock:
            self.invoices[order.order_number] = {
                "number": number,
                "series_number": series,
                "access_key": key,
                "issue_date": issued,
                "total_value": totals[0],
                "products_total_value": totals[1],
                "tax_code": str(data["tax_code"]),
            }
        return self._reply({})

    # --- the reads of an order the seller wrote to -----------------------------------

    def touches(self, order: Order) -> bool:
        return order.order_number in self.invoices or any(
            number == order.order_number for number, _ in self.shipped
        )

    def overlay(self, order: Order, step: int, rendered: dict[str, Any]) -> dict[str, Any]:
        """get_order_detail after the seller's writes: the invoice, and an arranged
        shipment (PROCESSED, the package's label created) until the World ships it."""
        if "invoice_data" in rendered and order.order_number in self.invoices:
            rendered["invoice_data"] = self.invoices[order.order_number]
        arranged = {p for n, p in self.shipped if n == order.order_number}
        if arranged and order.timeline[step][0] == "paid":
            rendered["order_status"] = "PROCESSED"
            last = max(self.shipped[(order.order_number, p)].at for p in arranged)
            rendered["update_time"] = max(rendered["update_time"], last)
            for package in rendered.get("package_list", []):
                if package["package_number"] in arranged:
                    package["logistics_status"] = "LOGISTICS_REQUEST_CREATED"
        return rendered


def _match(title: str, item_sku: str, name: str, sku: str) -> bool:
    if sku:
        return item_sku == sku
    return _fold(name) in _fold(title)


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """A multipart/form-data body's fields and files (the stdlib parser: no extra package)."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is not None:
            files[name] = data
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, files
