"""How the Amazon simulator sees the World: ids, payloads, per-seller indices, patch checks.

Shapes follow `amzn/selling-partner-api-models` (ordersV0.json, listingsItems_2021-08-01.json):
Orders v0 speaks PascalCase with Money as `{CurrencyCode, Amount}` (Amount a string), Listings
2021-08-01 speaks camelCase with `{currencyCode, amount}` and snake_case attribute names.
Ids and payloads are pure functions of the World, so a seed always renders the same bytes.
The HTTP side (auth, quotas, envelopes) lives in `amazon.py`.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from synchub_pipelines.sandbox.world import Listing, ListingVariation, Order, Product, Seller, World

MARKETPLACE_ID = "A2Q3Y263D00KWC"  # Amazon.com.br
SALES_CHANNEL = "Amazon.com.br"
CURRENCY = "BRL"
LANGUAGE_TAG = "pt_BR"

# Orders API has no Delivered or Returned status for merchant-fulfilled orders: delivery and
# returns live in other APIs (Reports, Returns), so the order simply stays Shipped.
ORDER_STATUS = {
    "pending": "Pending",
    "paid": "Unshipped",
    "shipped": "Shipped",
    "delivered": "Shipped",
    "cancelled": "Canceled",
    "returned": "Shipped",
}
ORDER_STATUSES = frozenset(
    {
        "PendingAvailability",
        "Pending",
        "Unshipped",
        "PartiallyShipped",
        "Shipped",
        "Canceled",
        "Unfulfillable",
        "InvoiceUnconfirmed",
    }
)

_PRODUCT_TYPES = {
    "Moda > Camisetas": "SHIRT",
    "Moda > Moletons": "SWEATSHIRT",
    "Calçados > Tênis": "SHOES",
    "Moda > Meias": "SOCKS",
    "Casa > Garrafas": "BOTTLE",
    "Casa > Cozinha": "COOKWARE",
    "Eletrônicos > Fones": "HEADPHONES",
    "Eletrônicos > Carregadores": "CHARGING_ADAPTER",
    "Acessórios > Mochilas": "BACKPACK",
    "Casa > Iluminação": "LAMP",
    "Esporte > Yoga": "EXERCISE_MAT",
    "Casa > Eletroportáteis": "COFFEE_MAKER",
}

_POSTAL_PREFIX = {
    "São Paulo": "01310",
    "Campinas": "13010",
    "Rio de Janeiro": "20040",
    "Belo Horizonte": "30130",
    "Curitiba": "80010",
    "Porto Alegre": "90010",
    "Salvador": "40020",
    "Recife": "50010",
    "Fortaleza": "60060",
    "Goiânia": "74003",
}

# Odd multipliers not divisible by 5 are invertible modulo 10**14, so these ids are bijective
# in the order number while still looking scattered like Amazon's.
_ORDER_ID_MULTIPLIER = 73_687_877
_ITEM_ID_MULTIPLIER = 91_733_613
_ID_MODULUS = 10**14
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_UNPARSABLE = "Request has missing or invalid parameters and cannot be parsed."
_ATTRIBUTE_PATH = re.compile(r"^/attributes/([A-Za-z0-9_]+)$")
_FULFILLMENT = "fulfillment_availability"
_PATCH_OPS = frozenset({"add", "replace", "merge", "delete"})


def dumps(body: object) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


class MalformedPatch(ValueError):
    """A patch request Amazon cannot even parse: answered 400, not as a submission."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message, self.details = message, details


_ISO = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z"


def iso(ts: float) -> str:
    # gmtime + str.format: several times faster than datetime.strftime on the drain path.
    return _ISO.format(*time.gmtime(ts))


def money(amount: Decimal) -> dict[str, str]:
    return {"CurrencyCode": CURRENCY, "Amount": f"{amount:.2f}"}


def amazon_order_id(order_number: int) -> str:
    digits = f"{order_number * _ORDER_ID_MULTIPLIER % _ID_MODULUS:014d}"
    return f"701-{digits[:7]}-{digits[7:]}"


def order_item_id(order_number: int, line_index: int) -> str:
    return f"{(order_number * 8 + line_index) * _ITEM_ID_MULTIPLIER % _ID_MODULUS:014d}"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(map(str, parts)).encode()).digest()


def asin_for(parent_sku: str, attributes: tuple[tuple[str, str], ...]) -> str:
    """The catalog item's ASIN: shared by every seller offering the same product."""
    number = int.from_bytes(_digest("asin", parent_sku, attributes)[:8], "big")
    chars = []
    for _ in range(8):
        number, rest = divmod(number, 36)
        chars.append(_BASE36[rest])
    return "B0" + "".join(chars)


def product_type_for(category: str) -> str:
    return _PRODUCT_TYPES.get(category, "PRODUCT")


@dataclass(frozen=True, slots=True)
class AmazonOrder:
    """An order as Amazon tracks it: status steps collapsed to the statuses Amazon shows."""

    order: Order
    amazon_order_id: str
    created_ts: float
    steps: tuple[tuple[str, float], ...]  # (OrderStatus, since), strictly increasing in time
    paid: bool  # payment was authorized at some point (Canceled orders may never have been)

    @classmethod
    def of(cls, order: Order) -> AmazonOrder:
        steps: list[tuple[str, float]] = []
        for status, when in order.timeline:
            shown, ts = ORDER_STATUS[status], when.timestamp()
            if steps and steps[-1][0] == shown:
                continue
            if steps and steps[-1][1] == ts:
                # Two steps at the same instant: only the later one is ever observable.
                steps[-1] = (shown, ts)
            else:
                steps.append((shown, ts))
        return cls(
            order=order,
            amazon_order_id=amazon_order_id(order.order_number),
            created_ts=order.created_at.timestamp(),
            steps=tuple(steps),
            paid=any(status == "paid" for status, _ in order.timeline),
        )

    def step_at(self, now_ts: float) -> int:
        """Index of the step visible at `now_ts` (-1 when the order does not exist yet)."""
        index = -1
        for i, (_, since) in enumerate(self.steps):
            if since > now_ts:
                break
            index = i
        return index


def render_order(view: AmazonOrder, step: int) -> dict[str, Any]:
    order = view.order
    status, since = view.steps[step]
    units = sum(line.quantity for line in order.lines)
    shipped = status == "Shipped"
    created = view.created_ts
    prime = order.order_number % 7 == 0
    payment_known = status in ("Unshipped", "Shipped") or (status == "Canceled" and view.paid)
    body: dict[str, Any] = {
        "AmazonOrderId": view.amazon_order_id,
        "PurchaseDate": iso(created),
        "LastUpdateDate": iso(since),
        "OrderStatus": status,
        "FulfillmentChannel": "MFN",
        "SalesChannel": SALES_CHANNEL,
        "ShipServiceLevel": "Exp BR D2D Dom" if prime else "Std BR D2D Dom",
    }
    if payment_known:
        # Amazon omits the total until payment is authorized (see the Pending doc example).
        body["OrderTotal"] = money(order.total + order.shipping_cost)
    body |= {
        "NumberOfItemsShipped": units if shipped else 0,
        "NumberOfItemsUnshipped": units if status == "Unshipped" else 0,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["CreditCard"] if order.order_number % 5 else ["Standard"],
        "IsReplacementOrder": False,
        "MarketplaceId": MARKETPLACE_ID,
        "ShipmentServiceLevelCategory": "Expedited" if prime else "Standard",
        "OrderType": "StandardOrder",
        "EarliestShipDate": iso(created + 86_400),
        "LatestShipDate": iso(created + 2 * 86_400),
        "EarliestDeliveryDate": iso(created + 4 * 86_400),
        "LatestDeliveryDate": iso(created + 10 * 86_400),
        "IsBusinessOrder": False,
        "IsPrime": prime,
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsSoldByAB": False,
        "IsIBA": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "AutomatedShippingSettings": {"HasAutomatedShippingSettings": False},
        "ElectronicInvoiceStatus": "NotRequired",
    }
    if payment_known:
        buyer = order.buyer
        # Without a Restricted Data Token only the non-PII part of the address is returned.
        body["ShippingAddress"] = {
            "City": buyer.city,
            "StateOrRegion": buyer.state,
            "PostalCode": f"{_POSTAL_PREFIX.get(buyer.city, '01000')}-{buyer.buyer_id % 1000:03d}",
            "CountryCode": "BR",
        }
    return body


def render_order_items(view: AmazonOrder, step: int, asins: dict[int, str]) -> list[dict[str, Any]]:
    """One OrderItem per order line; the order's shipping is charged on the first item."""
    order = view.order
    status = view.steps[step][0]
    zero = money(Decimal(0))
    items = []
    for index, line in enumerate(order.lines):
        item: dict[str, Any] = {"ASIN": asins[line.variation_number]}
        if line.sku is not None:
            item["SellerSKU"] = line.sku
        item |= {
            "OrderItemId": order_item_id(order.order_number, index),
            "Title": line.title,
            "QuantityOrdered": line.quantity,
            "QuantityShipped": line.quantity if status == "Shipped" else 0,
            "ProductInfo": {"NumberOfItems": "1"},
            "ItemPrice": money(line.unit_price * line.quantity),
            "ShippingPrice": money(order.shipping_cost if index == 0 else Decimal(0)),
            "ItemTax": zero,
            "ShippingTax": zero,
            "ShippingDiscount": zero,
            "ShippingDiscountTax": zero,
            "PromotionDiscount": zero,
            "PromotionDiscountTax": zero,
            "PromotionIds": [],
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": False,
            "SerialNumberRequired": False,
        }
        items.append(item)
    return items


@dataclass(slots=True)
class AmazonListing:
    """One Amazon listings item: a World variation offered under the seller's SKU."""

    sku: str
    listing: Listing
    variation: ListingVariation
    product: Product | None
    asin: str
    product_type: str
    created_ts: float
    updated_ts: float

    @classmethod
    def of(
        cls,
        sku: str,
        listing: Listing,
        variation: ListingVariation,
        product: Product | None,
        anchor: datetime,
    ) -> AmazonListing:
        created = listing.created_at
        # Last edited somewhere between creation and the World's anchor, never in the future.
        fraction = _digest("updated", sku, listing.listing_number)[0] / 256
        updated = created + timedelta(seconds=int((anchor - created).total_seconds() * fraction))
        return cls(
            sku=sku,
            listing=listing,
            variation=variation,
            product=product,
            asin=asin_for(listing.parent_sku, variation.attributes),
            product_type=product_type_for(listing.category),
            created_ts=created.timestamp(),
            updated_ts=updated.timestamp(),
        )

    @property
    def item_name(self) -> str:
        if self.product is not None:
            return self.product.name
        return " ".join([self.listing.title, *(value for _, value in self.variation.attributes)])

    @property
    def statuses(self) -> list[str]:
        if self.listing.status != "active":
            return []
        if self.variation.available_quantity > 0:
            return ["BUYABLE", "DISCOVERABLE"]
        return ["DISCOVERABLE"]


INCLUDED_DATA = frozenset(
    {
        "summaries",
        "attributes",
        "issues",
        "offers",
        "fulfillmentAvailability",
        "procurement",
        "relationships",
        "productTypes",
    }
)


def render_listing_item(item: AmazonListing, included: frozenset[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"sku": item.sku}
    quantity = item.variation.available_quantity
    if "summaries" in included:
        image = _digest("image", item.asin).hex()[:11]
        body["summaries"] = [
            {
                "marketplaceId": MARKETPLACE_ID,
                "asin": item.asin,
                "productType": item.product_type,
                "conditionType": "new_new",
                "status": item.statuses,
                "itemName": item.item_name,
                "createdDate": iso(item.created_ts),
                "lastUpdatedDate": iso(item.updated_ts),
                "mainImage": {
                    "link": f"https://m.media-amazon.com/images/I/{image}.jpg",
                    "height": 1000,
                    "width": 1000,
                },
            }
        ]
    if "attributes" in included:
        body["attributes"] = _attributes(item, quantity)
    if "issues" in included:
        body["issues"] = []
    if "offers" in included:
        body["offers"] = [
            {
                "marketplaceId": MARKETPLACE_ID,
                "offerType": "B2C",
                "price": {"currencyCode": CURRENCY, "amount": f"{item.variation.price:.2f}"},
            }
        ]
    if "fulfillmentAvailability" in included:
        body["fulfillmentAvailability"] = [
            {"fulfillmentChannelCode": "DEFAULT", "quantity": quantity}
        ]
    if "procurement" in included:
        body["procurement"] = []
    if "relationships" in included:
        body["relationships"] = [{"marketplaceId": MARKETPLACE_ID, "relationships": []}]
    if "productTypes" in included:
        body["productTypes"] = [{"marketplaceId": MARKETPLACE_ID, "productType": item.product_type}]
    return body


def _attributes(item: AmazonListing, quantity: int) -> dict[str, Any]:
    def text(value: str) -> list[dict[str, str]]:
        return [{"value": value, "language_tag": LANGUAGE_TAG, "marketplace_id": MARKETPLACE_ID}]

    attributes: dict[str, Any] = {
        "item_name": text(item.item_name),
        "condition_type": [{"value": "new_new", "marketplace_id": MARKETPLACE_ID}],
    }
    if item.product is not None:
        attributes["brand"] = text(item.product.brand)
        attributes["externally_assigned_product_identifier"] = [
            {"type": "ean", "value": item.product.gtin, "marketplace_id": MARKETPLACE_ID}
        ]
    for name, value in item.variation.attributes:
        attributes[name.lower()] = text(value)
    attributes["purchasable_offer"] = [
        {
            "currency": CURRENCY,
            "audience": "ALL",
            "our_price": [{"schedule": [{"value_with_tax": float(item.variation.price)}]}],
            "marketplace_id": MARKETPLACE_ID,
        }
    ]
    attributes["fulfillment_availability"] = [
        {"fulfillment_channel_code": "DEFAULT", "quantity": quantity}
    ]
    return attributes


# --- per-seller indices ---------------------------------------------------------------


def valid_orders_query(query: dict[str, Any]) -> bool:
    """Whether a decoded NextToken holds a query `OrderBook.page` understands."""

    def number(value: object) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    resume = query.get("k")
    return (
        query.get("m") in ("c", "u")
        and number(query.get("a"))
        and number(query.get("b"))
        and isinstance(query.get("s"), list)
        and isinstance(query.get("f"), list)
        and isinstance(query.get("n"), int)
        and 1 <= query["n"] <= 100
        and (
            resume is None
            or (
                isinstance(resume, list)
                and len(resume) == (2 if query["m"] == "c" else 3)
                and all(number(v) for v in resume)
            )
        )
    )


class OrderBook:
    """One selling partner's orders, indexed the two ways getOrders windows them."""

    def __init__(self, orders: Iterable[Order]) -> None:
        self.views: dict[int, AmazonOrder] = {}
        self.by_amazon_id: dict[str, AmazonOrder] = {}
        self.created: list[tuple[float, int]] = []  # (PurchaseDate, order number)
        self.updates: list[tuple[float, int, int]] = []  # (status since, order number, step)
        self._rendered: dict[int, tuple[int, str]] = {}  # order number -> (step, JSON)
        for order in orders:
            view = self._register(order)
            self.created.append((view.created_ts, order.order_number))
            self.updates.extend((ts, order.order_number, i) for i, (_, ts) in enumerate(view.steps))
        self.created.sort()
        self.updates.sort()

    def _register(self, order: Order) -> AmazonOrder:
        view = AmazonOrder.of(order)
        self.views[order.order_number] = view
        self.by_amazon_id[view.amazon_order_id] = view
        return view

    def add(self, order: Order) -> AmazonOrder:
        view = self._register(order)
        bisect.insort(self.created, (view.created_ts, order.order_number))
        for i, (_, ts) in enumerate(view.steps):
            bisect.insort(self.updates, (ts, order.order_number, i))
        return view

    def restep(self, order: Order) -> None:
        """Re-index an order whose timeline changed after it was indexed."""
        number = order.order_number
        for i, (_, ts) in enumerate(self.views[number].steps):
            del self.updates[bisect.bisect_left(self.updates, (ts, number, i))]
        self._rendered.pop(number, None)
        for i, (_, ts) in enumerate(self._register(order).steps):
            bisect.insort(self.updates, (ts, number, i))

    def next_order_number(self) -> int:
        # Far above the World's own numbering when the seller has no order yet.
        return max(self.views, default=2_900_000_000_000) + 1

    def order_json(self, view: AmazonOrder, step: int) -> str:
        number = view.order.order_number
        cached = self._rendered.get(number)
        if cached is not None and cached[0] == step:
            return cached[1]
        text = dumps(render_order(view, step))
        self._rendered[number] = (step, text)
        return text

    def page(self, query: dict[str, Any], now_ts: float) -> tuple[list[str], list[float] | None]:
        """Up to `n` orders of the window after keyset `k`, and the keyset to resume from."""
        statuses = set(query["s"])
        channels = query["f"]
        if channels and "MFN" not in channels:  # every sandbox order is merchant-fulfilled
            return [], None
        size, before = query["n"], query["b"]
        by_creation = query["m"] == "c"
        index: list[Any] = self.created if by_creation else self.updates
        resume = query.get("k")
        if resume is not None:
            position = bisect.bisect_right(index, tuple(resume))
        else:
            position = bisect.bisect_left(index, (query["a"],))
        found: list[str] = []
        last: list[float] | None = None
        for i in range(position, len(index)):
            entry = index[i]
            if entry[0] > before:
                break
            view = self.views[entry[1]]
            step = view.step_at(now_ts)
            if step < 0 or (not by_creation and step != entry[2]):
                continue  # not created yet, or not the order's latest status change
            if statuses and view.steps[step][0] not in statuses:
                continue
            if len(found) == size:
                return found, last
            found.append(self.order_json(view, step))
            last = list(entry)
        return found, None


class Catalog:
    """One selling partner's Amazon listings: every World variation that carries a seller SKU."""

    def __init__(self, world: World, seller: Seller) -> None:
        products = {(p.parent_sku, p.color, p.size): p for p in world.products}
        self.items: list[AmazonListing] = []
        self.by_sku: dict[str, AmazonListing] = {}
        self.asins: dict[int, str] = {}  # variation number -> ASIN, listed or not
        for listing in world.listings_of(seller):
            for variation in listing.variations:
                attrs = dict(variation.attributes)
                product = products.get((listing.parent_sku, attrs.get("COLOR"), attrs.get("SIZE")))
                item = AmazonListing.of(
                    variation.sku or "", listing, variation, product, world.anchor
                )
                self.asins[variation.variation_number] = item.asin
                if variation.sku is not None and variation.sku not in self.by_sku:
                    self.items.append(item)
                    self.by_sku[variation.sku] = item


# --- listings patches -------------------------------------------------------------------


def identifier(item: AmazonListing, kind: str) -> str | None:
    if kind == "SKU":
        return item.sku
    if kind == "ASIN":
        return item.asin
    if kind in ("EAN", "GTIN") and item.product is not None:
        return item.product.gtin
    return None


def listing_issue(code: str, message: str, attributes: list[str], category: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": attributes,
        "categories": [category],
    }


def read_patch(body: object) -> tuple[str, int | None, list[dict[str, Any]]]:
    """Check a ListingsItemPatchRequest: malformed requests raise (HTTP 400), while values
    Amazon would reject come back as issues (HTTP 200, status INVALID)."""
    if not isinstance(body, dict):
        raise MalformedPatch(_UNPARSABLE)
    product_type, patches = body.get("productType"), body.get("patches")
    if not isinstance(product_type, str) or not product_type:
        raise MalformedPatch(_UNPARSABLE, "productType is required.")
    if not isinstance(patches, list) or not patches:
        raise MalformedPatch(_UNPARSABLE, "patches must have at least one item.")
    quantity: int | None = None
    issues: list[dict[str, Any]] = []
    for index, patch in enumerate(patches):
        if not isinstance(patch, dict) or patch.get("op") not in _PATCH_OPS:
            raise MalformedPatch(f"Invalid op provided in patch at index of {index}.")
        matched = _ATTRIBUTE_PATH.match(str(patch.get("path", "")))
        if matched is None:
            raise MalformedPatch(f"Invalid path provided in patch at index of {index}.")
        value = patch.get("value")
        if patch["op"] != "delete" and value is None:
            raise MalformedPatch(f"Value is missing for patch at index of {index}.")
        if value is not None and not isinstance(value, list):
            raise MalformedPatch(_UNPARSABLE)
        attribute = matched.group(1)
        if attribute != _FULFILLMENT:
            # The sandbox models stock only; claiming success for other attributes would lie.
            issues.append(
                listing_issue(
                    "90000900", "The attributes are invalid.", [attribute], "INVALID_ATTRIBUTE"
                )
            )
            continue
        if patch["op"] == "delete":
            issues.append(
                listing_issue(
                    "90220",
                    f"'{_FULFILLMENT}' is required but not supplied.",
                    [_FULFILLMENT],
                    "MISSING_ATTRIBUTE",
                )
            )
            continue
        quantity, problems = _read_fulfillment(value or [], quantity)
        issues.extend(problems)
    return product_type, quantity, issues


def _read_fulfillment(
    entries: list[Any], quantity: int | None
) -> tuple[int | None, list[dict[str, Any]]]:
    def too_few(field: str) -> dict[str, Any]:
        return listing_issue(
            "99022",
            f"The field '{field}' for the attribute '{_FULFILLMENT}' does not have enough "
            "values. The required minimum is '1' value(s).",
            [_FULFILLMENT],
            "MISSING_ATTRIBUTE",
        )

    if not entries:
        return quantity, [too_few("fulfillment_channel_code")]
    problems = []
    for entry in entries:
        if not isinstance(entry, dict) or "fulfillment_channel_code" not in entry:
            problems.append(too_few("fulfillment_channel_code"))
            continue
        if entry["fulfillment_channel_code"] != "DEFAULT":
            problems.append(
                listing_issue(
                    "4000001",
                    "The provided value for 'Fulfillment Channel Code' is invalid.",
                    [_FULFILLMENT],
                    "INVALID_ATTRIBUTE",
                )
            )
            continue
        if "quantity" not in entry:
            problems.append(too_few("quantity"))
            continue
        value = entry["quantity"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(
                listing_issue(
                    "4000001",
                    "The provided value for 'Quantity' is invalid. The minimum is '0'.",
                    [_FULFILLMENT],
                    "INVALID_ATTRIBUTE",
                )
            )
            continue
        quantity = value
    return quantity, problems
