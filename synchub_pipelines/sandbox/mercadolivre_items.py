"""Mercado Livre item writes: POST /items, PUT /items/{id}, and the item's description.

Package-private to the Mercado Livre simulator. Refuses what ML refuses, in ML's validation
envelope (`{"message": "Validation error", "error": "validation_error", "status": 400,
"cause": [{department, cause_id, type, code, references, message}]}`), every cause at once,
and changes nothing when it refuses. Sources (API-NOTES-WRITES §1): the create body and the
description's separate POST (a second POST answers "Item already has a description, use PUT
instead"); `item.attributes.missing_required` and its message (a real answer quoted in a
public issue); no title change once the item has sold; closed is final; the category's own
`settings` (listing_allowed, max_title_length, minimum_price, max_pictures_per_item). Codes
not found in ML's docs are the sandbox's own, named in /work/notes/publishing-mercadolivre.md:
the forbidden title words, the picture-host rule, the GTIN check digit, one price per item
(price per variation is for `user_product_seller` accounts, which these sellers are not).

Created items become World listings of the seller, so every read (search, multiget, orders,
questions, user-products stock) shows them; what the World does not hold (pictures, the
attributes as sent, listing type, condition, shipping mode, description) is kept here and
laid over the rendered item.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from synchub_pipelines.sandbox.mercadolivre_render import (
    CURRENCY,
    SITE_ID,
    MLCategory,
    iso_utc,
    item_id,
)
from synchub_pipelines.sandbox.world import Listing, ListingVariation

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.mercadolivre import Caller, Simulator

LISTING_TYPES = frozenset({"gold_special", "gold_pro"})
CONDITIONS = frozenset({"new", "used"})
STATUSES = frozenset({"active", "paused", "closed"})
SHIPPING_MODES = frozenset({"me1", "me2"})
# Words ML's moderation takes down in titles (counterfeits, shipping promises that belong
# in the listing's settings). A short sandbox list: ML publishes none.
FORBIDDEN_TITLE_WORDS = ("replica", "falsificado", "pirata", "primeira linha", "frete gratis")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
# Hosts that serve images without an extension in the path (ML's own picture CDN).
IMAGE_HOSTS = ("mlstatic.com",)
DESCRIPTION_MAX = 50_000
_PUT_FIELDS = frozenset(
    {
        "available_quantity",
        "variations",
        "title",
        "price",
        "status",
        "attributes",
        "pictures",
        "shipping",
    }
)
_VARIATION_FIELDS = frozenset(
    {"id", "available_quantity", "price", "attributes", "picture_ids", "attribute_combinations"}
)
_CAUSE_IDS = {
    "item.attributes.missing_required": 147,
    "item.category_id.invalid": 101,
    "item.title.length.invalid": 110,
    "item.title.forbidden_words": 111,
    "item.title.not_modifiable": 112,
    "item.pictures.invalid": 120,
    "item.pictures.max": 121,
    "item.attribute.gtin.invalid": 130,
    "item.price.invalid": 140,
    "item.variations.price.invalid": 141,
    "item.status.invalid": 150,
    "item.closed.not_modifiable": 151,
}


class Refusal(Exception):
    """One or more validation causes; the handler answers them in ML's envelope."""

    def __init__(self, causes: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(c["message"] for c in causes))
        self.causes = causes


def cause(code: str, reference: str, message: str) -> dict[str, Any]:
    return {
        "department": "items",
        "cause_id": _CAUSE_IDS.get(code, 100),
        "type": "error",
        "code": code,
        "references": [reference],
        "message": message,
    }


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def gtin_ok(value: str) -> bool:
    """GS1 mod-10: weights 3 and 1 alternate from the digit left of the check digit."""
    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        return False
    body, check = value[:-1], int(value[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def picture_ok(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    if any(host == h or host.endswith("." + h) for h in IMAGE_HOSTS):
        return True
    return parts.path.lower().endswith(IMAGE_EXTENSIONS)


def picture_id(url: str) -> str:
    return (
        f"{zlib.crc32(url.encode()) % 10**9}-{SITE_ID}{zlib.crc32(url[::-1].encode()) % 10**10}_F"
    )


def _money(raw: object, reference: str, causes: list[dict[str, Any]]) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        causes.append(cause("item.price.invalid", reference, f"{reference} must be a number"))
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        causes.append(cause("item.price.invalid", reference, f"{reference} must be a number"))
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        causes.append(
            cause(
                "item.price.invalid",
                reference,
                f"{reference} must be positive with at most two decimals",
            )
        )
        return None
    return value


def _quantity(raw: object, reference: str, causes: list[dict[str, Any]]) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int):
        causes.append(
            cause("item.available_quantity.invalid", reference, f"{reference} must be an integer")
        )
        return None
    if raw < 0:
        causes.append(
            cause("item.available_quantity.invalid", reference, f"{reference} must not be negative")
        )
        return None
    return raw


@dataclass
class Description:
    plain_text: str
    created: datetime
    updated: datetime


@dataclass
class ItemExtras:
    """What the World's listing does not hold about an item, as the seller last sent it."""

    listing_type_id: str
    condition: str
    attributes: dict[str, dict[str, Any]]  # attribute id → rendered attribute
    pictures: list[str]
    variation_attributes: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    variation_pictures: dict[int, list[str]] = field(default_factory=dict)
    shipping_mode: str = "me2"
    description: Description | None = None

    def sku(self) -> str | None:
        found = self.attributes.get("SELLER_SKU")
        return found["value_name"] if found else None


class ItemDesk:
    """The item write endpoints of one Mercado Livre simulator."""

    def __init__(self, simulator: Simulator) -> None:
        self.sim = simulator
        self.extras: dict[int, ItemExtras] = {}
        self._internal_of_leaf = {v: k for k, v in simulator.tree.leaf_of_internal.items()}

    # --- shared helpers ------------------------------------------------------------------

    def _category(self, raw: object, causes: list[dict[str, Any]]) -> MLCategory | None:
        category = self.sim.tree.by_id.get(raw) if isinstance(raw, str) else None
        if category is None:
            causes.append(
                cause("item.category_id.invalid", "item.category_id", f"Category {raw} not found")
            )
            return None
        if category.children:
            causes.append(
                cause(
                    "item.category_id.invalid",
                    "item.category_id",
                    f"Category {category.id} is not a leaf: listing is not allowed there; "
                    "choose one of its children_categories",
                )
            )
            return None
        return category

    def _settings(self, category: MLCategory) -> dict[str, Any]:
        settings: dict[str, Any] = self.sim.tree.render(category)["settings"]
        return settings

    def _specs(self, category: MLCategory) -> dict[str, dict[str, Any]]:
        return {a["id"]: a for a in self.sim.tree.attributes(category)}

    def _title(
        self, raw: object, category: MLCategory | None, causes: list[dict[str, Any]]
    ) -> str | None:
        if not isinstance(raw, str) or not raw.strip():
            causes.append(cause("item.title.required", "item.title", "title is required"))
            return None
        title = raw.strip()
        limit = self._settings(category)["max_title_length"] if category else 60
        if len(title) > limit:
            causes.append(
                cause(
                    "item.title.length.invalid",
                    "item.title",
                    f"The title has {len(title)} characters; the maximum for this category "
                    f"is {limit}",
                )
            )
        folded = _fold(title)
        found = [w for w in FORBIDDEN_TITLE_WORDS if re.search(rf"\b{w}\b", folded)]
        if found:
            causes.append(
                cause(
                    "item.title.forbidden_words",
                    "item.title",
                    f"The title contains words that are not allowed: {found}",
                )
            )
        return title

    def _attributes(
        self,
        raw: object,
        reference: str,
        specs: dict[str, dict[str, Any]],
        causes: list[dict[str, Any]],
    ) -> dict[str, dict[str, Any]]:
        if raw is None:
            return {}
        if not isinstance(raw, list):
            causes.append(
                cause("item.attributes.invalid", reference, f"{reference} must be a list")
            )
            return {}
        found: dict[str, dict[str, Any]] = {}
        for index, entry in enumerate(raw):
            ref = f"{reference}[{index}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                causes.append(cause("item.attributes.invalid", ref, f"{ref}.id is required"))
                continue
            value = entry.get("value_name")
            if not isinstance(value, str) or not value.strip():
                causes.append(
                    cause("item.attributes.invalid", ref, f"{ref}.value_name is required")
                )
                continue
            attr_id, value = entry["id"], value.strip()
            if attr_id == "GTIN" and not gtin_ok(value):
                causes.append(
                    cause(
                        "item.attribute.gtin.invalid",
                        ref,
                        f"Attribute [GTIN] value {value!r} is not a valid GTIN: "
                        "wrong length or check digit",
                    )
                )
                continue
            spec = specs.get(attr_id, {})
            found[attr_id] = {
                "id": attr_id,
                "name": spec.get("name", attr_id),
                "value_id": entry.get("value_id"),
                "value_name": value,
                "value_struct": None,
                "values": [{"id": entry.get("value_id"), "name": value, "struct": None}],
                "attribute_group_id": "OTHERS",
                "attribute_group_name": "Outros",
            }
        return found

    def _pictures(
        self, raw: object, reference: str, limit: int, causes: list[dict[str, Any]]
    ) -> list[str]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            causes.append(cause("item.pictures.invalid", reference, f"{reference} must be a list"))
            return []
        urls: list[str] = []
        for index, entry in enumerate(raw):
            ref = f"{reference}[{index}]"
            source = entry.get("source") if isinstance(entry, dict) else entry
            if not picture_ok(source):
                causes.append(
                    cause(
                        "item.pictures.invalid",
                        ref,
                        f"Picture {source!r} cannot be downloaded as an image: use an http(s) "
                        f"URL of a .jpg/.jpeg/.png/.webp/.gif file or an {IMAGE_HOSTS[0]} one",
                    )
                )
                continue
            assert isinstance(source, str)
            if source.strip() not in urls:
                urls.append(source.strip())
        if len(urls) > limit:
            causes.append(
                cause("item.pictures.max", reference, f"At most {limit} pictures per item")
            )
        return urls

    def _missing_required(
        self,
        category: MLCategory,
        specs: dict[str, dict[str, Any]],
        item_attrs: dict[str, dict[str, Any]],
        per_variation: list[set[str]],
        causes: list[dict[str, Any]],
    ) -> None:
        required = [a for a, spec in specs.items() if spec["tags"].get("required")]
        missing = [
            a
            for a in required
            if a not in item_attrs
            and (not per_variation or not all(a in ids for ids in per_variation))
        ]
        if missing:
            names = ", ".join(missing)
            causes.append(
                {
                    **cause(
                        "item.attributes.missing_required",
                        "item.attributes",
                        f"The attributes [{names}] are required for category {category.id}. "
                        "Check the attribute is present in the attributes list or in all "
                        "variation's attributes_combination or attributes.",
                    ),
                    "references": ["item.attributes", "item.variations.attribute_combinations"],
                }
            )

    def _refuse_price_floor(
        self, price: Decimal | None, category: MLCategory, ref: str, causes: list[dict[str, Any]]
    ) -> None:
        floor = Decimal(str(self._settings(category)["minimum_price"]))
        if price is not None and price < floor:
            causes.append(
                cause(
                    "item.price.invalid",
                    ref,
                    f"The price {price} is below the minimum of {floor} {CURRENCY} "
                    f"for category {category.id}",
                )
            )

    # --- POST /items ---------------------------------------------------------------------

    async def create(self, request: Request, caller: Caller | None) -> Response:
        owner = self.sim._owner(caller)
        self.sim.count_write("items.create")
        body = await self.sim.json_body(request)
        causes: list[dict[str, Any]] = []
        for name in ("title", "category_id", "currency_id", "buying_mode", "listing_type_id"):
            if body.get(name) in (None, ""):
                causes.append(cause(f"item.{name}.required", f"item.{name}", f"{name} is required"))
        if body.get("site_id", SITE_ID) != SITE_ID:
            causes.append(cause("item.site_id.invalid", "item.site_id", "site_id must be MLB"))
        if body.get("currency_id") not in (None, "", CURRENCY):
            causes.append(
                cause(
                    "item.currency_id.invalid",
                    "item.currency_id",
                    f"currency_id must be {CURRENCY}",
                )
            )
        if body.get("buying_mode") not in (None, "", "buy_it_now"):
            causes.append(
                cause(
                    "item.buying_mode.invalid", "item.buying_mode", "buying_mode must be buy_it_now"
                )
            )
        listing_type = body.get("listing_type_id")
        if listing_type not in (None, "") and listing_type not in LISTING_TYPES:
            causes.append(
                cause(
                    "item.listing_type_id.invalid",
                    "item.listing_type_id",
                    f"listing_type_id must be one of {sorted(LISTING_TYPES)}",
                )
            )
        condition = body.get("condition", "new")
        if condition not in CONDITIONS:
            causes.append(
                cause("item.condition.invalid", "item.condition", "condition must be new or used")
            )
        mode = (body.get("shipping") or {}).get("mode", "me2")
        if mode not in SHIPPING_MODES:
            causes.append(
                cause("item.shipping.mode.invalid", "item.shipping.mode", "mode must be me1 or me2")
            )
        category = self._category(body.get("category_id"), causes)
        title = self._title(body.get("title"), category, causes)
        specs = self._specs(category) if category else {}
        limit = self._settings(category)["max_pictures_per_item"] if category else 12
        pictures = self._pictures(body.get("pictures"), "item.pictures", limit, causes)
        attrs = self._attributes(body.get("attributes"), "item.attributes", specs, causes)
        raw_variations = body.get("variations") or []
        variations = self._new_variations(raw_variations, specs, causes)
        price = None
        if body.get("price") is not None:
            price = _money(body["price"], "item.price", causes)
        elif not variations:
            causes.append(cause("item.price.required", "item.price", "price is required"))
        quantity = 0
        if not variations:
            got = _quantity(body.get("available_quantity"), "item.available_quantity", causes)
            quantity = got or 0
        prices = {v["price"] for v in variations if v["price"] is not None}
        if len(prices) > 1 or (prices and price is not None and prices != {price}):
            causes.append(
                cause(
                    "item.variations.price.invalid",
                    "item.variations.price",
                    "All variations of an item must have the same price (price per variation "
                    "needs a user_product_seller account)",
                )
            )
        if category is not None:
            floor_price = price if price is not None else next(iter(prices), None)
            self._refuse_price_floor(floor_price, category, "item.price", causes)
            per_variation = [set(v["combination"]) | set(v["attributes"]) for v in variations]
            self._missing_required(category, specs, attrs, per_variation, causes)
        if causes:
            raise Refusal(causes)
        assert category is not None and title is not None
        unit_price = price if price is not None else prices.pop()
        listing = self._add_listing(
            owner.user_id,
            title,
            category,
            str(listing_type),
            unit_price,
            quantity,
            attrs,
            variations,
        )
        extras = ItemExtras(
            listing_type_id=str(listing_type),
            condition=str(condition),
            attributes=attrs,
            pictures=pictures,
            shipping_mode=str(mode),
        )
        for variation, parsed in zip(listing.variations, variations, strict=False):
            extras.variation_attributes[variation.variation_number] = parsed["attributes"]
            extras.variation_pictures[variation.variation_number] = parsed["pictures"]
            for url in parsed["pictures"]:
                if url not in extras.pictures:
                    extras.pictures.append(url)
        with self.sim.lock:
            self.extras[listing.listing_number] = extras
        return self.sim.item_response(listing, 201)

    def _new_variations(
        self, raw: object, specs: dict[str, dict[str, Any]], causes: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if not raw:
            return []
        if not isinstance(raw, list):
            causes.append(cause("item.variations.invalid", "item.variations", "must be a list"))
            return []
        axes = {a for a, spec in specs.items() if spec["tags"].get("allow_variations")}
        parsed: list[dict[str, Any]] = []
        seen: set[tuple[tuple[str, str], ...]] = set()
        for index, entry in enumerate(raw):
            ref = f"item.variations[{index}]"
            if not isinstance(entry, dict):
                causes.append(cause("item.variations.invalid", ref, f"{ref} must be an object"))
                continue
            combination: dict[str, str] = {}
            for combo in entry.get("attribute_combinations") or []:
                combo_id = combo.get("id") if isinstance(combo, dict) else None
                value = combo.get("value_name") if isinstance(combo, dict) else None
                if combo_id not in axes or not isinstance(value, str) or not value.strip():
                    causes.append(
                        cause(
                            "item.variations.attribute_combinations.invalid",
                            f"{ref}.attribute_combinations",
                            f"Attribute {combo_id!r} cannot define variations in this category; "
                            f"use {sorted(axes)} with a value_name",
                        )
                    )
                    continue
                combination[str(combo_id)] = value.strip()
            if not combination:
                causes.append(
                    cause(
                        "item.variations.attribute_combinations.invalid",
                        f"{ref}.attribute_combinations",
                        "A variation needs at least one attribute combination",
                    )
                )
            key = tuple(sorted(combination.items()))
            if key in seen:
                causes.append(
                    cause(
                        "item.variations.attribute_combinations.duplicated",
                        f"{ref}.attribute_combinations",
                        f"Two variations have the same combination {dict(key)}",
                    )
                )
            seen.add(key)
            price = _money(entry.get("price"), f"{ref}.price", causes)
            quantity = _quantity(
                entry.get("available_quantity"), f"{ref}.available_quantity", causes
            )
            attributes = self._attributes(
                entry.get("attributes"), f"{ref}.attributes", specs, causes
            )
            pictures = self._pictures(entry.get("picture_ids"), f"{ref}.picture_ids", 10, causes)
            parsed.append(
                {
                    "combination": combination,
                    "price": price,
                    "quantity": quantity or 0,
                    "attributes": attributes,
                    "pictures": pictures,
                }
            )
        return parsed

    def _add_listing(
        self,
        user_id: int,
        title: str,
        category: MLCategory,
        listing_type: str,
        price: Decimal,
        quantity: int,
        attrs: dict[str, dict[str, Any]],
        variations: list[dict[str, Any]],
    ) -> Listing:
        sim = self.sim
        seller = sim.sellers[user_id]
        now = sim.clock.now()
        parent = (attrs.get("SELLER_SKU") or {}).get("value_name")
        with sim.lock:
            own = sim.listings_of_seller(user_id)
            number = max((lst.listing_number for lst in own), default=user_id % 1000 * 10_000) + 1
            # The fee rule reads the listing type off the number (gold_pro when divisible by
            # three): pick the next number that says the type the seller asked for.
            while (number % 3 == 0) != (listing_type == "gold_pro"):
                number += 1
            next_variation = 1 + max(
                (v.variation_number for lst in own for v in lst.variations),
                default=number * 100,
            )
            world_variations = []
            if variations:
                for offset, parsed in enumerate(variations):
                    sku = (parsed["attributes"].get("SELLER_SKU") or {}).get("value_name")
                    world_variations.append(
                        ListingVariation(
                            variation_number=next_variation + offset,
                            sku=sku,
                            attributes=tuple(parsed["combination"].items()),
                            price=price,
                            available_quantity=parsed["quantity"],
                        )
                    )
                parent = parent or world_variations[0].sku
            else:
                axes = tuple((k, attrs[k]["value_name"]) for k in ("COLOR", "SIZE") if k in attrs)
                world_variations.append(
                    ListingVariation(next_variation, parent, axes, price, quantity)
                )
            listing = Listing(
                listing_number=number,
                seller=seller,
                title=title,
                category=self._internal_of_leaf[category.id],
                parent_sku=parent or item_id(number),
                variations=world_variations,
                status="active",
                created_at=now,
                has_variations=bool(variations),
            )
            sim.add_listing(listing)
            category.total_items += 1
        return listing

    # --- PUT /items/{id} -----------------------------------------------------------------

    def extras_of(self, listing: Listing, rendered: dict[str, Any]) -> ItemExtras:
        """The item's extras, first taken from what it shows when the seller never sent any."""
        found = self.extras.get(listing.listing_number)
        if found is not None:
            return found
        extras = ItemExtras(
            listing_type_id=rendered["listing_type_id"],
            condition=rendered["condition"],
            attributes={a["id"]: a for a in rendered["attributes"]},
            pictures=[p["source"] for p in rendered["pictures"] if p.get("source")],
            variation_attributes={
                v["id"]: {a["id"]: a for a in v["attributes"]} for v in rendered["variations"]
            },
            variation_pictures={v["id"]: [] for v in rendered["variations"]},
        )
        self.extras[listing.listing_number] = extras
        return extras

    async def update(self, request: Request, caller: Caller | None) -> Response:
        sim = self.sim
        raw_id = request.path_params["item_id"]
        listing = sim.own_listing(raw_id, caller)
        sim.count_write("items.update")
        body = await sim.json_body(request)
        if not body:
            raise sim.bad_request("body must be a non-empty JSON object")
        unknown = sorted(set(body) - _PUT_FIELDS)
        if unknown:
            raise Refusal(
                [cause("item.fields.invalid", f"item.{unknown[0]}", f"Unknown fields: {unknown}")]
            )
        with sim.lock:
            apply = self._plan_update(listing, body)
            apply()
            sim.render.item_updated[listing.listing_number] = sim.clock.now()
        return sim.item_response(listing)

    def _plan_update(self, listing: Listing, body: dict[str, Any]) -> Callable[[], None]:
        """Validate the whole body; return what applies it, so a refused PUT changes nothing."""
        sim = self.sim
        causes: list[dict[str, Any]] = []
        status, sub_status = sim.render.item_status(listing)
        category = sim.tree.by_id[sim.tree.leaf_of_internal[listing.category]]
        specs = self._specs(category)
        steps: list[Callable[[], None]] = []
        if status == "closed":
            raise Refusal(
                [
                    cause(
                        "item.closed.not_modifiable",
                        "item.status",
                        f"Item {item_id(listing.listing_number)} is closed: a closed item "
                        "cannot be modified or reactivated (relist it instead)",
                    )
                ]
            )
        if "title" in body:
            title = self._title(body["title"], category, causes)
            sold = sum(sim.render.sold.get(v.variation_number, 0) for v in listing.variations)
            if title is not None and title != listing.title and sold:
                causes.append(
                    cause(
                        "item.title.not_modifiable",
                        "item.title",
                        f"The title cannot be changed: the item has {sold} sales",
                    )
                )
            if title is not None:
                steps.append(lambda: setattr(listing, "title", title))
        rendered = sim.render.item(listing)
        if "attributes" in body:
            attrs = self._attributes(body["attributes"], "item.attributes", specs, causes)
            steps.append(lambda: self.extras_of(listing, rendered).attributes.update(attrs))
        if "pictures" in body:
            limit = self._settings(category)["max_pictures_per_item"]
            pictures = self._pictures(body["pictures"], "item.pictures", limit, causes)
            steps.append(lambda: setattr(self.extras_of(listing, rendered), "pictures", pictures))
        if "shipping" in body:
            mode = (
                (body["shipping"] or {}).get("mode") if isinstance(body["shipping"], dict) else None
            )
            if mode not in SHIPPING_MODES:
                causes.append(
                    cause(
                        "item.shipping.mode.invalid",
                        "item.shipping.mode",
                        "mode must be me1 or me2",
                    )
                )
            else:
                steps.append(
                    lambda: setattr(self.extras_of(listing, rendered), "shipping_mode", mode)
                )
        new_prices = {v.variation_number: v.price for v in listing.variations}
        if "price" in body:
            price = _money(body["price"], "item.price", causes)
            if price is not None:
                self._refuse_price_floor(price, category, "item.price", causes)
                new_prices = dict.fromkeys(new_prices, price)
        stock: list[tuple[int | None, int]] = []
        if "available_quantity" in body:
            if listing.has_variations:
                causes.append(
                    cause(
                        "item.available_quantity.invalid",
                        "item.available_quantity",
                        "The item has variations: update available_quantity per variation",
                    )
                )
            elif "variations" in body:
                raise sim.bad_request("Send either available_quantity or variations, not both")
            else:
                got = _quantity(body["available_quantity"], "item.available_quantity", causes)
                if got is not None:
                    stock.append((None, got))
        if "variations" in body:
            steps += self._plan_variations(
                listing, body["variations"], specs, new_prices, stock, rendered, causes
            )
        if len(set(new_prices.values())) > 1:
            causes.append(
                cause(
                    "item.variations.price.invalid",
                    "item.variations.price",
                    "All variations of an item must have the same price (price per variation "
                    "needs a user_product_seller account)",
                )
            )
        if "status" in body:
            target = body["status"]
            self._check_transition(listing, status, sub_status, target, causes)
            if target in STATUSES:
                steps.append(lambda: setattr(listing, "status", target))
        if causes:
            raise Refusal(causes)

        def apply() -> None:
            for variation in listing.variations:
                variation.price = new_prices[variation.variation_number]
            for step in steps:
                step()
            sim.apply_stock(listing, stock)

        return apply

    def _plan_variations(
        self,
        listing: Listing,
        raw: object,
        specs: dict[str, dict[str, Any]],
        new_prices: dict[int, Decimal],
        stock: list[tuple[int | None, int]],
        rendered: dict[str, Any],
        causes: list[dict[str, Any]],
    ) -> list[Callable[[], None]]:
        if not listing.has_variations:
            causes.append(
                cause("item.variations.invalid", "item.variations", "The item has no variations")
            )
            return []
        if not isinstance(raw, list) or not raw:
            causes.append(
                cause(
                    "item.variations.invalid",
                    "item.variations",
                    "variations must be a non-empty list",
                )
            )
            return []
        known = {v.variation_number for v in listing.variations}
        category = self.sim.tree.by_id[self.sim.tree.leaf_of_internal[listing.category]]
        steps: list[Callable[[], None]] = []
        for index, entry in enumerate(raw):
            ref = f"item.variations[{index}]"
            if not isinstance(entry, dict) or "id" not in entry:
                causes.append(
                    cause("item.variations.id.missing", f"{ref}.id", "variation id missing")
                )
                continue
            number = entry["id"]
            if isinstance(number, bool) or not isinstance(number, int):
                causes.append(
                    cause("item.variations.id.invalid", f"{ref}.id", "id must be a number")
                )
                continue
            if number not in known:
                causes.append(
                    cause(
                        "item.variations.id.invalid",
                        f"{ref}.id",
                        f"Variation {number} is not part of {item_id(listing.listing_number)}",
                    )
                )
                continue
            extra = sorted(set(entry) - _VARIATION_FIELDS)
            if extra:
                causes.append(
                    cause(
                        "item.variations.fields.invalid", ref, f"Unknown variation fields: {extra}"
                    )
                )
            if "available_quantity" in entry:
                got = _quantity(entry["available_quantity"], f"{ref}.available_quantity", causes)
                if got is not None:
                    stock.append((number, got))
            if "price" in entry:
                price = _money(entry["price"], f"{ref}.price", causes)
                if price is not None:
                    self._refuse_price_floor(price, category, f"{ref}.price", causes)
                    new_prices[number] = price
            if "attributes" in entry:
                attrs = self._attributes(entry["attributes"], f"{ref}.attributes", specs, causes)
                steps.append(
                    partial(self._set_variation_attributes, listing, rendered, number, attrs)
                )
            if "picture_ids" in entry:
                pictures = self._pictures(entry["picture_ids"], f"{ref}.picture_ids", 10, causes)
                steps.append(
                    partial(self._set_variation_pictures, listing, rendered, number, pictures)
                )
        return steps

    def _set_variation_attributes(
        self,
        listing: Listing,
        rendered: dict[str, Any],
        number: int,
        attrs: dict[str, dict[str, Any]],
    ) -> None:
        self.extras_of(listing, rendered).variation_attributes.setdefault(number, {}).update(attrs)

    def _set_variation_pictures(
        self, listing: Listing, rendered: dict[str, Any], number: int, pictures: list[str]
    ) -> None:
        extras = self.extras_of(listing, rendered)
        extras.variation_pictures[number] = pictures
        for url in pictures:
            if url not in extras.pictures:
                extras.pictures.append(url)

    def _check_transition(
        self,
        listing: Listing,
        status: str,
        sub_status: list[str],
        target: object,
        causes: list[dict[str, Any]],
    ) -> None:
        if target not in STATUSES:
            causes.append(
                cause(
                    "item.status.invalid",
                    "item.status",
                    f"status must be one of {sorted(STATUSES)}",
                )
            )
            return
        if target == status or target == "closed":
            return
        if status in ("under_review", "inactive"):
            causes.append(
                cause(
                    "item.status.invalid",
                    "item.status",
                    f"The item is {status} ({','.join(sub_status)}): Mercado Livre decides "
                    "when it can be sold again",
                )
            )
        elif target == "active" and "out_of_stock" in sub_status:
            causes.append(
                cause(
                    "item.status.invalid",
                    "item.status",
                    "The item has no available quantity: add stock before activating it",
                )
            )

    # --- rendering -----------------------------------------------------------------------

    def overlay(self, listing: Listing, body: dict[str, Any]) -> dict[str, Any]:
        extras = self.extras.get(listing.listing_number)
        if extras is None:
            return body
        body["listing_type_id"] = extras.listing_type_id
        body["condition"] = extras.condition
        body["attributes"] = list(extras.attributes.values())
        body["pictures"] = [
            {
                "id": picture_id(url),
                "url": url,
                "secure_url": url.replace("http://", "https://", 1),
                "size": "500x500",
                "max_size": "1200x1200",
                "quality": "",
                "source": url,
            }
            for url in extras.pictures
        ]
        if extras.pictures:
            body["thumbnail_id"] = picture_id(extras.pictures[0])
            body["thumbnail"] = extras.pictures[0]
        for variation in body["variations"]:
            number = variation["id"]
            if number in extras.variation_attributes:
                variation["attributes"] = list(extras.variation_attributes[number].values())
            variation["picture_ids"] = [
                picture_id(url) for url in extras.variation_pictures.get(number, [])
            ]
        body["shipping"] = {**body["shipping"], "mode": extras.shipping_mode}
        if extras.shipping_mode == "me1":
            body["shipping"]["logistic_type"] = "default"
        if extras.description is not None:
            body["descriptions"] = [{"id": f"{body['id']}-9876543210"}]
        return body

    # --- description ---------------------------------------------------------------------

    async def description(self, request: Request, caller: Caller | None) -> Response:
        sim = self.sim
        raw_id = request.path_params["item_id"]
        listing = sim.visible_listing(raw_id)
        extras = self.extras.get(listing.listing_number)
        found = extras.description if extras else None
        if found is None:
            return sim.json_response(
                {
                    "text": "",
                    "plain_text": "",
                    "last_updated": None,
                    "date_created": None,
                    "snapshot": None,
                }
            )
        return sim.json_response(self._description_json(found))

    @staticmethod
    def _description_json(found: Description) -> dict[str, Any]:
        return {
            "text": "",
            "plain_text": found.plain_text,
            "last_updated": iso_utc(found.updated),
            "date_created": iso_utc(found.created),
            "snapshot": None,
        }

    async def write_description(self, request: Request, caller: Caller | None) -> Response:
        sim = self.sim
        listing = sim.own_listing(request.path_params["item_id"], caller)
        creating = request.method == "POST"
        sim.count_write("items.description.create" if creating else "items.description.update")
        body = await sim.json_body(request)
        text = body.get("plain_text")
        if not isinstance(text, str):
            raise Refusal(
                [
                    cause(
                        "item.description.invalid",
                        "description.plain_text",
                        "plain_text is required",
                    )
                ]
            )
        if len(text) > DESCRIPTION_MAX:
            raise Refusal(
                [
                    cause(
                        "item.description.max_length",
                        "description.plain_text",
                        f"The description has more than {DESCRIPTION_MAX} characters",
                    )
                ]
            )
        now = sim.clock.now()
        with sim.lock:
            if sim.render.item_status(listing)[0] == "closed":
                raise Refusal(
                    [cause("item.closed.not_modifiable", "item.status", "The item is closed")]
                )
            extras = self.extras_of(listing, sim.render.item(listing))
            if creating and extras.description is not None:
                # ML's own words for a second POST (API-NOTES-WRITES §1.4).
                raise sim.error(
                    400,
                    "item.description.invalid",
                    "Item already has a description, use PUT instead",
                )
            created = extras.description.created if extras.description else now
            extras.description = Description(text, created, now)
            sim.render.item_updated[listing.listing_number] = now
        return sim.json_response(
            self._description_json(extras.description), 201 if creating else 200
        )
