"""TikTok Shop simulator: the write endpoints of publishing and fulfilment.

Mixed into the simulator (`tiktok.Simulator`), whose routing, signing, tokens and 429s
these handlers sit behind. What each refuses, with TikTok's codes (HTTP 400 and the usual
`{code, message, request_id}` envelope) — from the Partner Center reference unless marked
[U] (no documented code: the nearest documented one is used):

- Image upload (multipart `data` + `use_case`, no `shop_cipher`): 12038002 no file,
  12038005 over 10 MB, 12038015 not JPG/JPEG/PNG/WEBP/HEIC/BMP, 12038014 outside 100–20000
  px (300–4000 px for MAIN_IMAGE), 11050001 unknown use_case.
- Create / edit: 12052023 unknown category, 12052024 not a leaf; 12052261 empty title,
  12052051 title over 300 characters (BR: [1, 300]), 12052931 title formatting (emoji,
  control characters, HTML escapes, more than 9 repeated characters, only symbols),
  12052151 [U] a restricted word (FORBIDDEN_WORDS) in the title; 12052015 / 12052013
  description missing / over 10,000 characters; 12052028 no main image, 12052306 more
  than 9, 12052300 an uri this shop never uploaded; 12019011 / 12052181 package weight
  missing or invalid / zero; 12019012 [U] package dimensions missing (the category rules
  say they are required); 12052104 a required attribute missing, 12052182 a conditional
  one (Potência when Voltagem is Bivolt), 12052529 an unknown value id, 12052240 a custom
  value for a closed attribute, 12052256 a non-numeric value for a numeric one, 12052151
  restricted words in a value; SKUs: 12052054 seller SKU over 50 characters or with
  spaces, 12052012 bad price format, 12052073 price outside 0.50–10,000 BRL (local BR
  sellers), 12052084 currency not BRL, 12052097 foreign warehouse, 12052055 quantity
  outside [1, 99,999] (create), 12052550 SKUs without the same sales attributes (required
  with more than one SKU), 12052560 two SKUs with the same values, 12052153 restricted
  words in a sales value, 12052520 an unknown SKU image uri, 12052600 identifier type,
  12052591 identifier digit count or GS1 check digit [U: TikTok documents the digit counts;
  a check-digit refusal is this sandbox's], 12052592 one identifier on two SKUs. An unknown
  `brand_id` is cleared with a warning, as documented. Edit only: 12052260 unknown product,
  12052901 a FREEZE or DELETED product, 12052557 a SKU id of another product; SKUs left out
  are deleted (full replace, as documented).
- Activate / deactivate (≤ 20 ids, else 12019120): per-product failures come back with
  code 0 in `data.errors` (12052990 "Check failed" with extra_errors 12052048 not the
  shop's, 12052901 status does not allow it).
- Price update: 12052260, 12019113 product not ACTIVATE, 12052902 no SKUs, 12052557,
  12052553 duplicate SKU id, 12052012, 12052073, 12052084.
- Shipping providers: 21008117 for TikTok's own delivery option (no providers), 21008116
  an unknown option.
- Ship package: 21011028 not the shop's package (or no package yet), 21008025 FBT,
  21011041 cancelled order, 21011040 already shipped, 21004006 no invoice uploaded yet
  (Brazil), 21001001 missing self_shipment fields, 21011022 unknown provider, 11028006
  tracking number unlike any carrier's (8–40 letters, digits or dashes [U]), 21011025 a
  tracking number already used, 21011030 self_shipment on a TikTok-shipped package.
- Invoice upload: per-invoice `data.errors`: 10007014 the package already has one; 21011028,
  21011041, 21008025 as above; 21001001 [U] for a file that is not base64, over 1 MB, not
  an NF-e XML, whose access key fails its check digit or is not model 55.

Created products join the World as listings of the shop (so the product search, stock,
sales and orders see them) and are approved at once (the real review takes a while: the
client treats a new product as PENDING). `write_calls` counts every authenticated call to
a write endpoint, accepted or refused, by operation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response

from synchub_pipelines.sandbox import tiktok_render as render
from synchub_pipelines.sandbox.world import Listing, ListingVariation

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.tiktok import Call, Shop

# A small, documented list: words TikTok's listing rules refuse (counterfeits, prohibited
# goods); the real list is larger and unpublished.
FORBIDDEN_WORDS = ("replica", "réplica", "falsificado", "pirata", "arma de fogo", "cigarro")
MAX_TITLE = 300  # BR: [1, 300]
MAX_DESCRIPTION = 10_000
MAX_MAIN_IMAGES = 9
MAX_SELLER_SKU = 50
MIN_PRICE, MAX_PRICE = Decimal("0.50"), Decimal("10000")
MAX_QUANTITY = 99_999
MAX_UPLOAD = 10 * 1024 * 1024
MAX_INVOICE = 1024 * 1024
MAX_STATE_IDS = 20
USE_CASES = (
    "MAIN_IMAGE",
    "ATTRIBUTE_IMAGE",
    "DESCRIPTION_IMAGE",
    "CERTIFICATION_IMAGE",
    "SIZE_CHART_IMAGE",
)
IDENTIFIER_DIGITS = {"GTIN": (14,), "EAN": (8, 13, 14), "UPC": (12,), "JAN": (8, 13)}
# Where the shop's created products and SKUs are numbered: past anything the World made.
_PUBLISHED_OFFSET = 5_000_000
_TRACKING = re.compile(r"^[A-Za-z0-9-]{8,40}$")
_HTML_ESCAPE = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_REPEATED = re.compile(r"(.)\1{9,}")
_NFE_NS = "{http://www.portalfiscal.inf.br/nfe}"
_DEACTIVATABLE = frozenset({"ACTIVATE", "PENDING", "FAILED", "PLATFORM_DEACTIVATED"})
_ACTIVATABLE = frozenset({"SELLER_DEACTIVATED", "PLATFORM_DEACTIVATED"})
_UNEDITABLE = frozenset({"FREEZE", "DELETED"})


@dataclass(frozen=True)
class Upload:
    shop_id: str
    uri: str
    width: int
    height: int
    use_case: str


@dataclass
class Published:
    """What the API was told about a product the World's listing does not hold."""

    shop_id: str
    description: str
    category_id: str
    brand: dict[str, str] | None
    main_images: list[str]
    product_attributes: list[dict[str, Any]]
    package_weight: dict[str, str]
    package_dimensions: dict[str, str] | None
    sku_extras: dict[int, dict[str, Any]] = field(default_factory=dict)  # by variation number


def _error(code: int, message: str) -> Exception:
    from synchub_pipelines.sandbox.tiktok import ApiError

    return ApiError(400, code, message)


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().split())


def _restricted(text: str) -> str | None:
    folded = _fold(text)
    for word in FORBIDDEN_WORDS:
        if re.search(rf"\b{re.escape(_fold(word))}\b", folded):
            return word
    return None


def gs1_valid(code: str) -> bool:
    """GS1 mod-10 check digit (GTIN-8/12/13/14): weights 3 and 1 from the right."""
    body, check = code[:-1], int(code[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def nfe_key_valid(key: str) -> bool:
    """An NF-e access key's mod-11 check digit (weights 2..9 from the right)."""
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(key[:43])))
    rest = total % 11
    return int(key[43]) == (0 if rest < 2 else 11 - rest)


def image_size(data: bytes) -> tuple[str, int | None, int | None] | None:
    """(format, width, height) of an image file; None when it is no supported format.
    WEBP and HEIC dimensions are not read (None)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "PNG", width, height
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return "JPEG", width, height
            i += 2 + length
        return None
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return "BMP", abs(width), abs(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP", None, None
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "HEIC", None, None
    return None


def png(width: int, height: int) -> bytes:
    """A real grey PNG of that size (the sandbox's picture host)."""
    raw = zlib.compressobj(9)
    row = b"\x00" + b"\xc8" * width
    parts = [raw.compress(row) for _ in range(height)]
    parts.append(raw.flush())
    body = b"".join(parts)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[bytes, str | None]]:
    """The parts of a multipart/form-data body by field name (no python-multipart here)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    parts: dict[str, tuple[bytes, str | None]] = {}
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = (payload if isinstance(payload, bytes) else b"", part.get_filename())
    return parts


def _money(value: Any, *, format_code: int = 12052012) -> Decimal:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _error(format_code, "Incorrect price format")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _error(format_code, "Incorrect price format") from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise _error(format_code, "Incorrect price format")
    return amount


def _price(raw: Any) -> Decimal:
    if not isinstance(raw, dict):
        raise _error(12052424, "Missing 'sale price' value")
    if raw.get("currency") != render.CURRENCY:
        raise _error(12052084, "The provided currency is not available for this shop/region.")
    amount = _money(raw.get("amount"))
    if not MIN_PRICE <= amount <= MAX_PRICE:
        raise _error(
            12052073,
            f"The product price is invalid: {amount} BRL is outside the allowed range "
            f"{MIN_PRICE}–{MAX_PRICE} BRL",
        )
    return amount


class ProductWrites:
    """The write endpoints (see the module docstring); state lives on the simulator."""

    if TYPE_CHECKING:
        catalog: render.Catalog
        renderer: render.OrderRenderer
        data: dict[str, Any]
        world: Any
        clock: Any
        _lock: Any
        _product_updated: dict[int, int]
        shops: list[Shop]

        def _listing(self, call: Call) -> Listing: ...
        def _order_steps(self, order: Any) -> render.OrderSteps: ...

    def _init_writes(self) -> None:
        self.write_calls: Counter[str] = Counter()
        self.uploads: dict[str, Upload] = {}
        self.published: dict[int, Published] = {}
        self.invoices: dict[int, str] = {}  # order number → NF-e access key
        self._next_listing: dict[str, int] = {}
        self._next_variation: dict[str, int] = {}

    def _count(self, operation: str) -> None:
        with self._lock:
            self.write_calls[operation] += 1

    def status_of(self, listing: Listing) -> str:
        return self.catalog.status_of(listing)

    # --- pictures ------------------------------------------------------------------------

    async def _picture(self, request: Request) -> Response:
        """Sandbox-only picture host: `<name>-<W>x<H>.png` is a real PNG of that size."""
        name = str(request.path_params["name"])
        match = re.search(r"-(\d{1,4})x(\d{1,4})\.png$", name)
        if match is None or name.startswith("missing"):
            return Response("not found", status_code=404, media_type="text/plain")
        width, height = int(match.group(1)), int(match.group(2))
        if not (1 <= width <= 5000 and 1 <= height <= 5000):
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(png(width, height), media_type="image/png")

    async def _image_upload(self, call: Call) -> Any:
        self._count("images.upload")
        assert call.shop is not None
        parts = _multipart(call.content_type, call.raw)
        data = parts.get("data")
        if data is None or not data[0]:
            raise _error(
                12038002,
                "Invalid upload file. Please ensure you are passing the correct file data.",
            )
        use_case = (parts.get("use_case") or (b"MAIN_IMAGE", None))[0].decode(errors="replace")
        if use_case not in USE_CASES:
            raise _error(11050001, f"invalid param: use_case {use_case!r}")
        content = data[0]
        if len(content) > MAX_UPLOAD:
            raise _error(12038005, "The file size exceeds the maximum allowed size.")
        found = image_size(content)
        if found is None:
            raise _error(
                12038015,
                "Failed to process the image. The format or content is not supported. "
                "Supported formats: JPG, JPEG, PNG, WEBP, HEIC, BMP",
            )
        _, width, height = found
        low, high = (300, 4000) if use_case == "MAIN_IMAGE" else (100, 20000)
        if (
            width is not None
            and height is not None
            and not (low <= width <= high and low <= height <= high)
        ):
            raise _error(
                12038014,
                "The image dimensions exceed the allowed limits. Allowed dimensions (width x "
                f"height in pixels): {low} x {low} to {high} x {high}",
            )
        digest = hashlib.sha256(content).hexdigest()[:24]
        uri = f"tos-maliva-i-sandbox-br/{digest}-{use_case.lower()}"
        upload = Upload(call.shop.id, uri, width or 800, height or 800, use_case)
        with self._lock:
            self.uploads[uri] = upload
        return {
            "uri": uri,
            "url": f"https://p16-oec-va.ibyteimg.com/{uri}",
            "width": upload.width,
            "height": upload.height,
            "use_case": use_case,
        }

    def _uploaded(self, shop: Shop, raw: Any, code: int, message: str) -> str:
        uri = raw.get("uri") if isinstance(raw, dict) else None
        upload = self.uploads.get(uri) if isinstance(uri, str) else None
        if upload is None or upload.shop_id != shop.id:
            raise _error(code, f"{message}: {uri!r}")
        return upload.uri

    # --- validation of a product body ------------------------------------------------------

    def _check_title(self, title: Any) -> str:
        if not isinstance(title, str) or not title.strip():
            raise _error(12052261, "product name is empty")
        if len(title) > MAX_TITLE:
            raise _error(
                12052051,
                f"The product name exceed max limit characters ({len(title)} > {MAX_TITLE})",
            )
        emoji = any(unicodedata.category(c) in ("So", "Cs", "Cc", "Co") for c in title)
        symbols_only = not any(c.isalnum() for c in title)
        if emoji or symbols_only or _HTML_ESCAPE.search(title) or _REPEATED.search(title):
            raise _error(
                12052931,
                "The title must follow these formatting rules: it cannot contain HTML escape "
                "characters, emojis, or ASCII control characters. It also cannot consist "
                "solely of symbols, nor can it have more than 9 consecutive repeated characters.",
            )
        word = _restricted(title)
        if word is not None:
            raise _error(12052151, f"The product name contains restricted words: {word!r}")
        return title

    def _check_attributes(self, category: render.Category, raw: Any) -> list[dict[str, Any]]:
        attributes = {a["id"]: a for a in self.catalog.attributes(category)}
        given: dict[str, list[dict[str, Any]]] = {}
        if raw is not None and not isinstance(raw, list):
            raise _error(12052910, "Invalid input parameters: product_attributes must be a list")
        for entry in raw or ():
            if not isinstance(entry, dict) or not str(entry.get("id") or "").strip():
                raise _error(12052241, "attribute name or attribute id is empty.")
            attribute_id = str(entry["id"])
            attribute = attributes.get(attribute_id)
            if attribute is None or attribute["type"] != "PRODUCT_PROPERTY":
                raise _error(
                    12052910,
                    f"Invalid input parameters: attribute {attribute_id} is not a product "
                    f"attribute of category {category.id}",
                )
            if attribute_id in given:
                raise _error(12052254, "Duplicate attribute id")
            values = entry.get("values")
            if not isinstance(values, list) or not values:
                raise _error(
                    12052248, "The product property value name or attribute value id is empty."
                )
            checked = []
            for value in values:
                checked.append(self._check_value(attribute, value))
            given[attribute_id] = checked
        for attribute in attributes.values():
            if attribute["type"] != "PRODUCT_PROPERTY" or attribute["id"] in given:
                continue
            if attribute["is_requried"]:
                raise _error(
                    12052104, f"property is required: {attribute['name']} ({attribute['id']})"
                )
            for condition in attribute["requirement_conditions"]:
                parent = attributes[condition["attribute_id"]]
                chosen = {v.get("id") for v in given.get(parent["id"], ())}
                if condition["attribute_value_id"] in chosen:
                    parent_value = next(
                        v["name"]
                        for v in parent["values"]
                        if v["id"] == condition["attribute_value_id"]
                    )
                    raise _error(
                        12052182,
                        f"The '{attribute['name']}' field is required as you've selected "
                        f"'{parent_value}' for '{parent['name']}'.",
                    )
        return [
            {"id": aid, "name": attributes[aid]["name"], "values": values}
            for aid, values in given.items()
        ]

    def _check_value(self, attribute: dict[str, Any], value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _error(
                12052248, "The product property value name or attribute value id is empty."
            )
        value_id, name = value.get("id"), value.get("name")
        if value_id:
            known = {v["id"]: v["name"] for v in attribute["values"]}
            if str(value_id) not in known:
                raise _error(
                    12052529, f"The property value id not exist: {value_id} ({attribute['name']})"
                )
            return {"id": str(value_id), "name": known[str(value_id)]}
        if not isinstance(name, str) or not name.strip():
            raise _error(
                12052248, "The product property value name or attribute value id is empty."
            )
        if not attribute["is_customizable"]:
            raise _error(
                12052240,
                f"Do not support custom property: {attribute['name']} takes only its listed values",
            )
        if attribute.get("value_data_format") == "POSITIVE_INT_OR_DECIMAL":
            try:
                number = Decimal(name.strip().replace(",", "."))
            except InvalidOperation:
                number = Decimal(-1)
            if not number.is_finite() or number <= 0:
                raise _error(
                    12052256,
                    f"The {attribute['name']} value need to be positive "
                    "integers or positive decimals .",
                )
        if len(name) > 2000:
            raise _error(
                12052249,
                "The product property value name characters cannot exceed "
                f"2000, attribute value name is :{name[:40]}",
            )
        word = _restricted(name)
        if word is not None:
            raise _error(12052151, f"product property value contain restricted words: {word!r}")
        return {"id": render._value_id(attribute["id"], name), "name": name}

    def _check_package(
        self, body: dict[str, Any], category: render.Category
    ) -> tuple[dict[str, str], dict[str, str] | None]:
        weight = body.get("package_weight")
        if not isinstance(weight, dict) or weight.get("unit") not in ("KILOGRAM", "GRAM"):
            raise _error(
                12019011,
                "product package weight is invalid: package_weight "
                "{value, unit KILOGRAM|GRAM} is required",
            )
        try:
            value = Decimal(str(weight.get("value")))
        except InvalidOperation:
            raise _error(12052006, "Incorrect parcel weight format") from None
        if not value.is_finite() or value < 0:
            raise _error(12052006, "Incorrect parcel weight format")
        if value == 0:
            raise _error(12052181, "The package weight of the product can not be zero.")
        dimensions = body.get("package_dimensions")
        if dimensions is None:
            if self.catalog.rules(category)["package_dimension"]["is_required"]:
                raise _error(
                    12019012,
                    "product package size is invalid: "
                    "package_dimensions are required for this category",
                )
            return {"value": str(weight["value"]), "unit": str(weight["unit"])}, None
        if not isinstance(dimensions, dict) or dimensions.get("unit") != "CENTIMETER":
            raise _error(12019012, "product package size is invalid")
        for side, code in (("length", 12052005), ("width", 12052004), ("height", 12052003)):
            try:
                number = Decimal(str(dimensions.get(side)).replace(",", "."))
            except InvalidOperation:
                raise _error(code, f"Incorrect parcel {side} format") from None
            if not number.is_finite() or number <= 0:
                raise _error(code, f"Incorrect parcel {side} format")
        return (
            {"value": str(weight["value"]), "unit": str(weight["unit"])},
            {k: str(dimensions[k]) for k in ("length", "width", "height", "unit")},
        )

    def _check_identifier(self, raw: Any) -> dict[str, str] | None:
        if raw is None:
            return None
        if not isinstance(raw, dict) or raw.get("type") not in (*IDENTIFIER_DIGITS, "ISBN"):
            raise _error(12052600, "The identifier code type must be selected")
        code, kind = str(raw.get("code") or ""), str(raw["type"])
        if kind == "ISBN":
            if not re.fullmatch(r"\d{13}|\d{9}X", code):
                raise _error(12052591, "Invalid number of digits of identifier code")
            return {"code": code, "type": kind}
        if not code.isdigit() or len(code) not in IDENTIFIER_DIGITS[kind]:
            raise _error(
                12052591,
                f"Invalid number of digits of identifier code: {kind} takes "
                f"{' or '.join(map(str, IDENTIFIER_DIGITS[kind]))} digits, got {len(code)}",
            )
        if not gs1_valid(code):
            raise _error(
                12052591, f"Invalid identifier code {code}: the check digit does not match"
            )
        return {"code": code, "type": kind}

    def _check_skus(
        self,
        shop: Shop,
        category: render.Category,
        raw: Any,
        existing: dict[str, ListingVariation] | None,
    ) -> list[dict[str, Any]]:
        """Each SKU checked; `existing` (edit) maps the product's SKU ids to variations."""
        if not isinstance(raw, list) or not raw:
            raise _error(12052910, "Invalid input parameters: skus is required")
        if len(raw) > 300:
            raise _error(12052050, "A single product cannot have more than 300 different SKUs")
        sales = {
            a["id"]: a for a in self.catalog.attributes(category) if a["type"] == "SALES_PROPERTY"
        }
        checked: list[dict[str, Any]] = []
        axes_seen: set[tuple[str, ...]] = set()
        combos: set[tuple[str, ...]] = set()
        codes: set[str] = set()
        for sku in raw:
            if not isinstance(sku, dict):
                raise _error(
                    12052910, "Invalid input parameters: each skus entry must be an object"
                )
            variation = None
            if sku.get("id") is not None:
                variation = (existing or {}).get(str(sku["id"]))
                if variation is None:
                    raise _error(
                        12052557, f"The SKU ID does not belong to the product: {sku['id']}"
                    )
            seller_sku = sku.get("seller_sku")
            if seller_sku is not None and (
                not isinstance(seller_sku, str)
                or not seller_sku
                or len(seller_sku) > MAX_SELLER_SKU
                or any(c.isspace() for c in seller_sku)
            ):
                raise _error(
                    12052054,
                    "The seller SKU text length cannot exceed max "
                    "limit characters (1–50, no spaces)",
                )
            price = _price(sku.get("price"))
            inventory = sku.get("inventory")
            if not isinstance(inventory, list) or not inventory:
                raise _error(12019022, "SKU must contain a valid warehouse.")
            quantity = 0
            for slot in inventory:
                if not isinstance(slot, dict) or str(slot.get("warehouse_id")) != shop.warehouse_id:
                    raise _error(12052097, "The warehouse does not exist")
                value = slot.get("quantity")
                low = 0 if variation is not None else 1
                if (
                    not isinstance(value, int)
                    or isinstance(value, bool)
                    or not low <= value <= MAX_QUANTITY
                ):
                    raise _error(
                        12052055,
                        "The SKU inventory quantity for the warehouse must be "
                        f"within allowed limits [{low}, {MAX_QUANTITY}].",
                    )
                quantity += value
            attributes = []
            for entry in sku.get("sales_attributes") or ():
                attributes.append(self._check_sales_attribute(shop, sales, entry))
            axes = tuple(a["name"].lower() for a in attributes)
            combo = tuple(a["value_name"].lower() for a in attributes)
            if len(raw) > 1 and not attributes:
                raise _error(
                    12052550,
                    "SKU property must contain all properties: "
                    "sales_attributes are required with more than one SKU",
                )
            if len(attributes) > 3:
                raise _error(12052910, "Invalid input parameters: at most 3 sales attributes")
            axes_seen.add(axes)
            if len(axes_seen) > 1:
                raise _error(
                    12052550,
                    "SKU property must contain all properties: every "
                    "SKU needs the same sales attributes",
                )
            if combo in combos:
                raise _error(
                    12052560, f"The SKU contains duplicate sales attribute: {', '.join(combo)}"
                )
            combos.add(combo)
            identifier = self._check_identifier(sku.get("identifier_code"))
            if identifier is not None:
                if identifier["code"] in codes:
                    raise _error(
                        12052592,
                        "Identifier code already entered, cannot enter the same code twice",
                    )
                codes.add(identifier["code"])
            checked.append(
                {
                    "variation": variation,
                    "seller_sku": seller_sku,
                    "price": price,
                    "quantity": quantity,
                    "sales_attributes": attributes,
                    "identifier_code": identifier,
                }
            )
        return checked

    def _check_sales_attribute(
        self, shop: Shop, sales: dict[str, dict[str, Any]], entry: Any
    ) -> dict[str, Any]:
        if not isinstance(entry, dict):
            raise _error(
                12052910, "Invalid input parameters: sales_attributes entries must be objects"
            )
        attribute = sales.get(str(entry.get("id"))) if entry.get("id") is not None else None
        if entry.get("id") is not None and attribute is None:
            raise _error(
                12052529, f"The property value id not exist: sales attribute {entry.get('id')}"
            )
        name = attribute["name"] if attribute is not None else entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _error(12052241, "attribute name or attribute id is empty.")
        if len(name) > 20:
            raise _error(12052242, "The attribute name characters cannot exceed max_limit (20)")
        if _restricted(name):
            raise _error(12052152, "sale property name contains restricted words")
        value_name = entry.get("value_name")
        value_id = entry.get("value_id")
        if attribute is not None and value_id is not None:
            known = {v["id"]: v["name"] for v in attribute["values"]}
            if str(value_id) not in known:
                raise _error(12052529, f"The property value id not exist: {value_id}")
            value_name = value_name or known[str(value_id)]
        if not isinstance(value_name, str) or not value_name.strip():
            raise _error(12052248, "The sales property value name or attribute value id is empty.")
        if len(value_name) > 50:
            raise _error(
                12052249,
                "The sales property value name characters cannot exceed 50, "
                f"attribute value name is :{value_name[:40]}",
            )
        if _restricted(value_name):
            raise _error(12052153, "sale property value contains restricted words")
        checked: dict[str, Any] = {
            "id": attribute["id"]
            if attribute is not None
            else "7" + render._value_id(name, "custom")[1:],
            "name": name,
            "value_id": str(value_id)
            if value_id is not None
            else render._value_id(attribute["id"] if attribute is not None else name, value_name),
            "value_name": value_name,
        }
        if entry.get("sku_img") is not None:
            checked["sku_img"] = self._uploaded(
                shop, entry["sku_img"], 12052520, "product sale property image uri illegal"
            )
        return checked

    def _check_product(self, call: Call) -> dict[str, Any]:
        """Everything but the SKUs, in the order TikTok reports the first problem."""
        assert call.shop is not None
        body = call.body
        raw_category = body.get("category_id")
        if not isinstance(raw_category, str | int) or not str(raw_category).isdigit():
            raise _error(12052002, "Incorrect category format")
        category = self.catalog.by_id.get(str(raw_category))
        if category is None:
            raise _error(12052023, "Category does not exist")
        if not category.is_leaf:
            raise _error(12052024, "Category is not final category")
        title = self._check_title(body.get("title"))
        description = body.get("description")
        if not isinstance(description, str) or not description.strip():
            raise _error(12052015, "The product description is required")
        if len(description) > MAX_DESCRIPTION:
            raise _error(
                12052013, "The product description cannot exceed maximum characters (10000)"
            )
        images = body.get("main_images")
        if not isinstance(images, list) or not images:
            raise _error(12052028, "Main product image is required")
        if len(images) > MAX_MAIN_IMAGES:
            raise _error(12052306, "main product images count exceed limit (9)")
        uris = [
            self._uploaded(call.shop, i, 12052300, "product main image uri illegal") for i in images
        ]
        weight, dimensions = self._check_package(body, category)
        attributes = self._check_attributes(category, body.get("product_attributes"))
        warnings = []
        brand = None
        brand_id = body.get("brand_id")
        if brand_id:
            names = {v: k for k, v in self.catalog.brand_ids.items()}
            if str(brand_id) in names:
                brand = {"id": str(brand_id), "name": names[str(brand_id)]}
            else:
                warnings.append(
                    {
                        "message": f"The [brand_id]:{brand_id} field is incorrect and has been "
                        "automatically cleared by the system. Reason: [Brand does not exist]. "
                        "You can edit it later."
                    }
                )
        return {
            "category": category,
            "title": title,
            "description": description,
            "main_images": uris,
            "package_weight": weight,
            "package_dimensions": dimensions,
            "product_attributes": attributes,
            "brand": brand,
            "warnings": warnings,
        }

    # --- products ----------------------------------------------------------------------------

    def _new_numbers(self, shop: Shop, variations: int) -> tuple[int, list[int]]:
        base = 10_000_000 * (1 + self.world.sellers.index(shop.seller)) + _PUBLISHED_OFFSET
        listing = self._next_listing.get(shop.id, base) + 1
        self._next_listing[shop.id] = listing
        first = self._next_variation.get(shop.id, base)
        self._next_variation[shop.id] = first + variations
        return listing, list(range(first + 1, first + variations + 1))

    def _extras(self, sku: dict[str, Any]) -> dict[str, Any]:
        return {
            "sales_attributes": sku["sales_attributes"],
            "identifier_code": sku["identifier_code"],
        }

    @staticmethod
    def _grams(weight: dict[str, str]) -> int:
        value = Decimal(weight["value"])
        return int(value * 1000 if weight["unit"] == "KILOGRAM" else value)

    def _saved(
        self, number: int, listing: Listing, warnings: list[dict[str, str]]
    ) -> dict[str, Any]:
        extras = self.published[number].sku_extras
        return {
            "product_id": render.product_id(number),
            "skus": [
                {
                    "id": render.sku_id(v.variation_number),
                    "seller_sku": v.sku or "",
                    "sales_attributes": [
                        {"id": a["id"], "value_id": a["value_id"]}
                        for a in extras.get(v.variation_number, {}).get("sales_attributes", ())
                    ],
                }
                for v in listing.variations
            ],
            "warnings": warnings,
        }

    async def _product_create(self, call: Call) -> Any:
        self._count("products.create")
        assert call.shop is not None
        shop = call.shop
        product = self._check_product(call)
        skus = self._check_skus(shop, product["category"], call.body.get("skus"), None)
        with self._lock:
            number, variation_numbers = self._new_numbers(shop, len(skus))
            now = self.clock.now().replace(microsecond=0)
            variations = [
                ListingVariation(
                    variation_number=vn,
                    sku=sku["seller_sku"],
                    attributes=tuple((a["name"], a["value_name"]) for a in sku["sales_attributes"]),
                    price=sku["price"],
                    available_quantity=sku["quantity"],
                )
                for vn, sku in zip(variation_numbers, skus, strict=True)
            ]
            listing = Listing(
                listing_number=number,
                seller=shop.seller,
                title=product["title"],
                category=product["category"].path,
                parent_sku=skus[0]["seller_sku"] or render.product_id(number),
                variations=variations,
                status="active",
                created_at=now,
                has_variations=len(skus) > 1,
            )
            self.published[number] = Published(
                shop_id=shop.id,
                description=product["description"],
                category_id=product["category"].id,
                brand=product["brand"],
                main_images=product["main_images"],
                product_attributes=product["product_attributes"],
                package_weight=product["package_weight"],
                package_dimensions=product["package_dimensions"],
                sku_extras={
                    v.variation_number: self._extras(sku)
                    for v, sku in zip(variations, skus, strict=True)
                },
            )
            grams = self._grams(product["package_weight"])
            for v in variations:
                self.renderer.variations[v.variation_number] = (listing, v)
                self.renderer.weights[v.variation_number] = grams
            self.world.listings.append(listing)
            self.world.listings_by_number[number] = listing
            self.data[shop.id].listings[number] = listing
            self._product_updated[number] = call.now
        return self._saved(number, listing, product["warnings"])

    async def _product_edit(self, call: Call) -> Any:
        self._count("products.edit")
        assert call.shop is not None
        shop = call.shop
        listing = self._listing(call)
        if self.status_of(listing) in _UNEDITABLE:
            raise _error(
                12052901,
                "The product in its current status is not available for this "
                "operation. Change the product status and try again.",
            )
        product = self._check_product(call)
        existing = {render.sku_id(v.variation_number): v for v in listing.variations}
        skus = self._check_skus(shop, product["category"], call.body.get("skus"), existing)
        number = listing.listing_number
        with self._lock:
            old = self.published.get(number)
            extras = dict(old.sku_extras) if old is not None else {}
            for v in listing.variations:  # what the Catalog knew, before the variations change
                if v.variation_number not in self.renderer.weights:
                    self.renderer.weights[v.variation_number] = self.catalog.product_of(
                        listing, v
                    ).weight_g
                if v.variation_number not in extras:
                    world_product = self.catalog.product_of(listing, v)
                    extras[v.variation_number] = {
                        "sales_attributes": [],
                        "identifier_code": {"code": world_product.gtin, "type": "GTIN"},
                    }
            fresh = [s for s in skus if s["variation"] is None]
            _, numbers = self._new_numbers(shop, len(fresh)) if fresh else (0, [])
            new_numbers = iter(numbers)
            kept: list[ListingVariation] = []
            for sku in skus:
                variation = sku["variation"]
                if variation is None:
                    variation = ListingVariation(
                        variation_number=next(new_numbers),
                        sku=sku["seller_sku"],
                        attributes=(),
                        price=sku["price"],
                        available_quantity=sku["quantity"],
                    )
                    self.renderer.variations[variation.variation_number] = (listing, variation)
                else:
                    stored = extras[variation.variation_number].get("identifier_code")
                    if (
                        sku["identifier_code"] is not None
                        and stored is not None
                        and sku["identifier_code"]["code"] != stored["code"]
                    ):
                        raise _error(
                            12052910,
                            "Invalid input parameters: identifier_code can only be "
                            "modified when the product is in DRAFT status",
                        )
                    variation.price = sku["price"]
                    variation.available_quantity = sku["quantity"]
                    if sku["seller_sku"] is not None:
                        variation.sku = sku["seller_sku"]
                if sku["sales_attributes"]:
                    variation.attributes = tuple(
                        (a["name"], a["value_name"]) for a in sku["sales_attributes"]
                    )
                extras[variation.variation_number] = {
                    "sales_attributes": sku["sales_attributes"],
                    "identifier_code": sku["identifier_code"]
                    or extras.get(variation.variation_number, {}).get("identifier_code"),
                }
                self.renderer.weights[variation.variation_number] = self._grams(
                    product["package_weight"]
                )
                kept.append(variation)
            # Full replace: SKUs left out are deleted.
            listing.variations[:] = kept
            listing.title = product["title"]
            listing.category = product["category"].path
            listing.has_variations = len(kept) > 1
            self.published[number] = Published(
                shop_id=shop.id,
                description=product["description"],
                category_id=product["category"].id,
                brand=product["brand"],
                main_images=product["main_images"],
                product_attributes=product["product_attributes"],
                package_weight=product["package_weight"],
                package_dimensions=product["package_dimensions"],
                sku_extras={v.variation_number: extras[v.variation_number] for v in kept},
            )
            self._product_updated[number] = call.now
        return self._saved(number, listing, product["warnings"])

    def published_detail(
        self, listing: Listing, shop_index: int, update_time: int
    ) -> dict[str, Any]:
        """A created (or API-edited) product's detail: what it was sent, plus its state."""
        published = self.published[listing.listing_number]
        category = self.catalog.by_id[published.category_id]
        skus = []
        for v in listing.variations:
            extras = published.sku_extras.get(v.variation_number, {})
            sku: dict[str, Any] = {
                "id": render.sku_id(v.variation_number),
                "seller_sku": v.sku or "",
                "price": {
                    "currency": render.CURRENCY,
                    "sale_price": render.money(v.price),
                    "tax_exclusive_price": render.money(v.price),
                },
                "inventory": [
                    {
                        "warehouse_id": render.warehouse_id(shop_index),
                        "quantity": v.available_quantity,
                    }
                ],
                "sales_attributes": [
                    {k: a[k] for k in ("id", "name", "value_id", "value_name")}
                    | ({"sku_img": {"uri": a["sku_img"]}} if "sku_img" in a else {})
                    for a in extras.get("sales_attributes", ())
                ],
            }
            if extras.get("identifier_code"):
                sku["identifier_code"] = extras["identifier_code"]
            skus.append(sku)
        body: dict[str, Any] = {
            "id": render.product_id(listing.listing_number),
            "title": listing.title,
            "description": published.description,
            "status": self.status_of(listing),
            "category_chains": [
                {
                    "id": c.id,
                    "parent_id": c.parent_id,
                    "local_name": c.local_name,
                    "is_leaf": c.is_leaf,
                }
                for c in self.catalog.chain(category.path)
            ],
            "main_images": [
                {
                    "uri": uri,
                    "urls": [f"https://p16-oec-va.ibyteimg.com/{uri}"],
                    "width": self.uploads[uri].width,
                    "height": self.uploads[uri].height,
                }
                for uri in published.main_images
            ],
            "skus": skus,
            "product_attributes": published.product_attributes,
            "package_weight": published.package_weight,
            "is_cod_allowed": False,
            "is_not_for_sale": False,
            "sales_regions": ["BR"],
            "create_time": render.epoch(listing.created_at),
            "update_time": update_time,
        }
        if published.brand is not None:
            body["brand"] = published.brand
        if published.package_dimensions is not None:
            body["package_dimensions"] = published.package_dimensions
        return body

    async def _products_state(self, call: Call, activate: bool) -> Any:
        self._count("products.activate" if activate else "products.deactivate")
        assert call.shop is not None
        ids = call.body.get("product_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise _error(12052910, "Invalid input parameters: product_ids is required")
        if len(ids) > MAX_STATE_IDS:
            raise _error(12019120, "The number of provided product IDs exceeds the limit.")
        errors = []
        data = self.data[call.shop.id]
        with self._lock:
            for raw_id in ids:
                number = render.listing_number_of(raw_id)
                listing = data.listings.get(number) if number is not None else None
                if listing is None:
                    errors.append(
                        _item_error(raw_id, 12052048, "You can't edit other sellers' products")
                    )
                    continue
                status = self.status_of(listing)
                allowed = _ACTIVATABLE if activate else _DEACTIVATABLE
                if status not in allowed:
                    errors.append(
                        _item_error(
                            raw_id,
                            12052901,
                            f"The product in its current status ({status}) is not available "
                            "for this operation.",
                        )
                    )
                    continue
                # The sandbox's review is instant: an activated product is on sale at once.
                self.catalog.reviews.pop(listing.listing_number, None)
                listing.status = "active" if activate else "paused"
                self._product_updated[listing.listing_number] = call.now
        return {"errors": errors} if errors else {}

    async def _products_activate(self, call: Call) -> Any:
        return await self._products_state(call, activate=True)

    async def _products_deactivate(self, call: Call) -> Any:
        return await self._products_state(call, activate=False)

    async def _price_update(self, call: Call) -> Any:
        self._count("products.price_update")
        listing = self._listing(call)
        if self.status_of(listing) != "ACTIVATE":
            raise _error(12019113, f"product status is invalid: {self.status_of(listing)}")
        skus = call.body.get("skus")
        if not isinstance(skus, list) or not skus:
            raise _error(
                12052902,
                "The SKU list is empty. Either omit the list "
                "entirely, or provide all required details.",
            )
        by_id = {render.sku_id(v.variation_number): v for v in listing.variations}
        plan: list[tuple[ListingVariation, Decimal]] = []
        seen: set[str] = set()
        for entry in skus:
            if not isinstance(entry, dict):
                raise _error(
                    12052910, "Invalid input parameters: each skus entry must be an object"
                )
            sku = str(entry.get("id", ""))
            if sku in seen:
                raise _error(12052553, "Sku id duplicate")
            seen.add(sku)
            variation = by_id.get(sku)
            if variation is None:
                raise _error(12052557, f"The SKU ID does not belong to the product: {sku}")
            plan.append((variation, _price(entry.get("price"))))
        with self._lock:
            for variation, price in plan:
                variation.price = price
            self._product_updated[listing.listing_number] = call.now
        return {}

    # --- logistics and fulfilment --------------------------------------------------------------

    async def _warehouses(self, call: Call) -> Any:
        assert call.shop is not None
        return {
            "warehouses": [
                {
                    "id": call.shop.warehouse_id,
                    "name": "Centro de distribuição",
                    "effect_status": "ENABLED",
                    "type": "SALES_WAREHOUSE",
                    "sub_type": "DOMESTIC_WAREHOUSE",
                    "is_default": True,
                    "address": {
                        "region": "Brasil",
                        "state": "São Paulo",
                        "city": "Barueri",
                        "postal_code": "06460-000",
                        "region_code": "BR",
                    },
                }
            ]
        }

    async def _shipping_providers(self, call: Call) -> Any:
        option = str(call.path_params["delivery_option_id"])
        if option == render.TIKTOK_DELIVERY_OPTION[0]:
            raise _error(
                21008117,
                "The delivery of the specified delivery_option_id is fulfilled by TikTok. "
                "No shipping provider will be returned.",
            )
        if option != render.SELLER_DELIVERY_OPTION[0]:
            raise _error(21008116, "No Subscription without specified delivery option.")
        return {"shipping_providers": [{"id": i, "name": n} for i, n in render.SHIPPING_PROVIDERS]}

    def _package(self, call: Call, raw_id: str) -> tuple[Any, render.OrderSteps, str]:
        """The shop's order of a package, its steps and its TikTok status now."""
        assert call.shop is not None
        number = render.package_order_number(raw_id)
        order = self.data[call.shop.id].by_number.get(number) if number is not None else None
        steps = self._order_steps(order) if order is not None else None
        paid = steps.first_at("AWAITING_SHIPMENT") if steps is not None else None
        if order is None or steps is None or paid is None or paid > call.now:
            raise _error(21011028, "The package does not belong to the current shop.")
        return order, steps, steps.steps[steps.index_at(call.now)].status

    async def _package_ship(self, call: Call) -> Any:
        self._count("packages.ship")
        raw_id = str(call.path_params["package_id"])
        order, _, status = self._package(call, raw_id)
        money = render.order_money(order)
        if money.by_tiktok:
            raise _error(21008025, "Seller cannot operate orders which are fulfilled by platform")
        if status == "CANCELLED":
            raise _error(21011041, "Cannot complete the operation when order is cancelled.")
        if status != "AWAITING_SHIPMENT":
            raise _error(21011040, "Package has already been shipped.")
        if order.order_number not in self.invoices:
            raise _error(
                21004006, "Failed to ship. Please ensure an invoice is uploaded before shipping."
            )
        shipment = call.body.get("self_shipment")
        sent: tuple[str, str, str] | None = None
        if money.by_seller:
            if (
                not isinstance(shipment, dict)
                or not shipment.get("tracking_number")
                or not shipment.get("shipping_provider_id")
            ):
                raise _error(
                    21001001,
                    "Invalid parameters: self_shipment {tracking_number, "
                    "shipping_provider_id} is required for a SEND_BY_SELLER package",
                )
            providers = dict(render.SHIPPING_PROVIDERS)
            provider = str(shipment["shipping_provider_id"])
            tracking = str(shipment["tracking_number"])
            if provider not in providers:
                raise _error(
                    21011022,
                    "Invalid tracking number or provider ID. Please double check and try again.",
                )
            if not _TRACKING.match(tracking):
                raise _error(
                    11028006,
                    "This tracking number cannot be matched to any carrier, please "
                    "check the tracking number and upload again.",
                )
            if any(t == tracking for t, _, _ in self.renderer.seller_shipments.values()):
                raise _error(21011025, "Duplicate tracking number.")
            sent = (tracking, provider, providers[provider])
        elif shipment is not None:
            raise _error(21011030, "fulfillment not allow update tracking no.")
        elif call.body.get("handover_method") not in ("PICKUP", "DROP_OFF"):
            raise _error(
                21001001, "Invalid parameters: handover_method PICKUP or DROP_OFF is required"
            )
        with self._lock:
            if sent is not None:
                self.renderer.seller_shipments[order.order_number] = sent
        # The carrier has it from now on (a TikTok-shipped package: the label's carrier).
        self.world.advance_order(order, "shipped", self.clock.now())
        return {}

    async def _invoice_upload(self, call: Call) -> Any:
        self._count("invoices.upload")
        from synchub_pipelines.sandbox.tiktok import ApiError

        invoices = call.body.get("invoices")
        if not isinstance(invoices, list) or not invoices:
            raise _error(21001001, "Invalid parameters: invoices is required")
        errors = []
        for entry in invoices:
            if not isinstance(entry, dict):
                raise _error(21001001, "Invalid parameters: each invoice must be an object")
            package_id = str(entry.get("package_id") or "")
            order_ids = entry.get("order_ids")
            order_ids = order_ids if isinstance(order_ids, list) else [order_ids]
            try:
                order, _, status = self._package(call, package_id)
            except ApiError as exc:  # reported per invoice, like the other failures
                errors.append(_invoice_error(package_id, order_ids, exc.code, exc.message))
                continue
            checked = self._invoice_problem(order, status, entry, order_ids)
            if isinstance(checked, tuple):
                errors.append(_invoice_error(package_id, order_ids, *checked))
                continue
            with self._lock:
                self.invoices[order.order_number] = checked
        return {"errors": errors} if errors else {}

    def _invoice_problem(
        self, order: Any, status: str, entry: dict[str, Any], order_ids: list[Any]
    ) -> tuple[int, str] | str:
        """The NF-e access key of an acceptable invoice, else TikTok's (code, message)."""
        if render.order_id(order.order_number) not in [str(i) for i in order_ids]:
            return 21001001, "Invalid parameters: order_ids must name the package's order"
        if render.order_money(order).by_tiktok:
            return 21008025, "Seller cannot operate orders which are fulfilled by platform"
        if status == "CANCELLED":
            return 21011041, "Cannot complete the operation when order is cancelled."
        if order.order_number in self.invoices:
            return 10007014, "The invoice already exists in the upload. Please try again later"
        if entry.get("file_type") != "XML":
            return 21001001, "Invalid parameters: file_type must be XML"
        try:
            content = base64.b64decode(str(entry.get("file") or ""), validate=True)
        except (binascii.Error, ValueError):
            return 21001001, "Invalid parameters: file is not base64"
        if not content:
            return 21001001, "Invalid parameters: file is empty"
        if len(content) > MAX_INVOICE:
            return 21001001, "Invalid parameters: the invoice file is larger than 1 MB"
        key = _access_key(content)
        if key is None:
            return (
                21001001,
                "Invalid parameters: the file is not an NF-e XML (no infNFe Id / chNFe)",
            )
        if not nfe_key_valid(key):
            return 21001001, f"Invalid parameters: NF-e access key {key} fails its check digit"
        if key[20:22] != "55":
            return 21001001, "Invalid parameters: only NF-e model 55 is accepted"
        return key


def _access_key(content: bytes) -> str | None:
    # A seller's file: no entities, no network (XXE).
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError:
        return None
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.replace(_NFE_NS, "")
        if tag == "infNFe":
            ident = element.get("Id", "")
            if re.fullmatch(r"NFe\d{44}", ident):
                return ident[3:]
        if tag == "chNFe" and element.text and re.fullmatch(r"\d{44}", element.text.strip()):
            return element.text.strip()
    return None


def _item_error(product_id: str, code: int, message: str) -> dict[str, Any]:
    return {
        "code": 12052990,
        "message": "Check failed",
        "detail": {"product_id": product_id, "extra_errors": [{"code": code, "message": message}]},
    }


def _invoice_error(
    package_id: str, order_ids: list[Any], code: int, message: str
) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "detail": {"package_id": package_id, "order_ids": [str(i) for i in order_ids]},
    }
