"""The sandbox's deterministic world: one merchant's catalog, sellers, listings and orders.

Every marketplace simulator renders this same world in its own API's shapes, so the
pipeline sees one business across channels: the same SKUs listed everywhere (a few listings
unmatched on purpose), orders moving through their statuses over time, and an ERP catalog
and stock that agree with them. Nothing here is imported by production code.

An order's whole life (created → paid → shipped → delivered, or cancelled / returned) is
generated up front as a timeline; what an API shows "now" is the last step at or before the
simulator's clock. That keeps the world deterministic for a seed while orders still move.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

LIFECYCLE = ("pending", "paid", "shipped", "delivered", "cancelled", "returned")

# The moves an operator (or the live generator) may make on an order at runtime, as a
# marketplace allows them: nothing leaves cancelled, and a return follows a delivery.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"delivered", "returned"}),
    "delivered": frozenset({"returned"}),
    "cancelled": frozenset(),
    "returned": frozenset(),
}
# Verbs accepted for a transition, beside the status names themselves.
STATUS_VERBS = {
    "pay": "paid",
    "ship": "shipped",
    "deliver": "delivered",
    "cancel": "cancelled",
    "return": "returned",
}


@dataclass(frozen=True)
class WorldSize:
    """How big a world to generate."""

    families: int
    orders_per_seller: int
    days: int

    @classmethod
    def named(cls, name: str) -> WorldSize:
        sizes = {
            "tiny": cls(families=6, orders_per_seller=120, days=20),
            "demo": cls(families=24, orders_per_seller=1500, days=90),
            "large": cls(families=60, orders_per_seller=100_000, days=180),
        }
        try:
            return sizes[name]
        except KeyError:
            raise ValueError(
                f"unknown sandbox size {name!r}; choose one of {sorted(sizes)}"
            ) from None


@dataclass(frozen=True)
class Product:
    """A central SKU (variation level) as the merchant's ERP or catalog file knows it."""

    sku: str
    parent_sku: str
    name: str
    brand: str
    category: str  # internal category path, e.g. "Moda > Camisetas"
    color: str | None
    size: str | None
    gtin: str
    price: Decimal
    cost: Decimal
    weight_g: int
    on_hand: int
    components: tuple[tuple[str, int], ...] = ()  # kits: (component sku, quantity)

    @property
    def is_kit(self) -> bool:
        return bool(self.components)


@dataclass(frozen=True)
class Seller:
    """One marketplace account of the merchant."""

    marketplace: str  # mercadolivre | shopee | tiktok | amazon
    seller_id: str
    nickname: str
    timezone: str = "America/Sao_Paulo"

    @property
    def store_id(self) -> str:
        return f"{self.marketplace}-{self.seller_id}"


@dataclass
class ListingVariation:
    variation_number: int  # unique within the world; simulators format their own ids
    sku: str | None  # the seller SKU typed on the marketplace (None or unknown when unmatched)
    attributes: tuple[tuple[str, str], ...]
    price: Decimal
    available_quantity: int


@dataclass
class Listing:
    listing_number: int
    seller: Seller
    title: str
    category: str
    parent_sku: str
    variations: list[ListingVariation]
    status: str  # active | paused
    created_at: datetime
    has_variations: bool


@dataclass(frozen=True)
class OrderLine:
    listing_number: int
    variation_number: int
    sku: str | None
    title: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Buyer:
    buyer_id: int
    nickname: str
    first_name: str
    last_name: str
    city: str
    state: str


@dataclass
class Order:
    order_number: int
    seller: Seller
    lines: tuple[OrderLine, ...]
    buyer: Buyer
    shipping_cost: Decimal
    # (status, when) in time order; the first step is always ("pending", created_at)
    timeline: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def created_at(self) -> datetime:
        return self.timeline[0][1]

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))

    def status_at(self, now: datetime) -> tuple[str, datetime]:
        """The status the order shows at `now`, and when it got it."""
        current = self.timeline[0]
        for step in self.timeline:
            if step[1] > now:
                break
            current = step
        return current

    def visible_at(self, now: datetime) -> bool:
        return self.created_at <= now


@dataclass(frozen=True)
class OrderChange:
    """An order that just appeared or moved to a new status, as the World announces it.

    `step` is the index in `order.timeline` of the status in force after the change.
    """

    order: Order
    kind: str  # "created" | "status"
    step: int

    @property
    def status(self) -> str:
        return self.order.timeline[self.step][0]

    @property
    def at(self) -> datetime:
        return self.order.timeline[self.step][1]


class InvalidTransition(ValueError):
    """The order cannot move to that status from the one it is in."""


OrderListener = Callable[[OrderChange], None]


_FAMILIES = [
    ("CAM", "Camiseta Básica Algodão", "Moda > Camisetas", "Malwee", True, True),
    ("MOL", "Moletom Canguru", "Moda > Moletons", "Hering", True, True),
    ("TEN", "Tênis Corrida Leve", "Calçados > Tênis", "Olympikus", True, True),
    ("MEI", "Meia Esportiva Kit 3", "Moda > Meias", "Lupo", True, False),
    ("GAR", "Garrafa Térmica 500ml", "Casa > Garrafas", "Stanley", True, False),
    ("PAN", "Panela Antiaderente 24cm", "Casa > Cozinha", "Tramontina", True, False),
    ("FON", "Fone Bluetooth TWS", "Eletrônicos > Fones", "JBL", True, False),
    ("CAR", "Carregador Turbo USB-C 20W", "Eletrônicos > Carregadores", "Samsung", False, False),
    ("MOC", "Mochila Notebook 15.6", "Acessórios > Mochilas", "Samsonite", True, False),
    ("LUM", "Luminária LED Mesa", "Casa > Iluminação", "Elgin", True, False),
    ("YOG", "Tapete Yoga 6mm", "Esporte > Yoga", "Kallango", True, False),
    ("CAF", "Cafeteira Elétrica 30 Xícaras", "Casa > Eletroportáteis", "Mondial", False, False),
]
_COLORS = [
    ("PRT", "Preto"),
    ("BRC", "Branco"),
    ("AZL", "Azul"),
    ("VRM", "Vermelho"),
    ("CNZ", "Cinza"),
]
_SIZES = ["P", "M", "G", "GG"]
_SHOE_SIZES = ["38", "39", "40", "41", "42"]
_CITIES = [
    ("São Paulo", "SP"),
    ("Campinas", "SP"),
    ("Rio de Janeiro", "RJ"),
    ("Belo Horizonte", "MG"),
    ("Curitiba", "PR"),
    ("Porto Alegre", "RS"),
    ("Salvador", "BA"),
    ("Recife", "PE"),
    ("Fortaleza", "CE"),
    ("Goiânia", "GO"),
]
_FIRST = ["Ana", "Bruno", "Carla", "Diego", "Eduarda", "Felipe", "Gabriela", "Heitor", "Isabela"]
_LAST = ["Silva", "Souza", "Oliveira", "Santos", "Lima", "Pereira", "Costa", "Almeida"]


def gtin13(body12: str) -> str:
    """A GTIN-13 with its check digit (GS1 mod-10, weights 1 and 3 from the left)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _local_minute_weights() -> list[float]:
    # Brazilian e-commerce peaks in the evening; a tail past 23:00 exercises day boundaries.
    weights = []
    for hour in range(24):
        base = 0.3 if hour < 7 else 1.0 if hour < 18 else 2.2
        weights.extend([base] * 60)
    return weights


_MINUTE_WEIGHTS = _local_minute_weights()


class World:
    """A deterministic merchant: catalog, sellers, listings and orders, from a seed."""

    def __init__(
        self,
        seed: int = 7,
        size: WorldSize | str = "demo",
        sellers: list[Seller] | None = None,
        anchor: datetime | None = None,
    ) -> None:
        self.seed = seed
        self.size = WorldSize.named(size) if isinstance(size, str) else size
        # The anchor is "now" for the generated history; orders are created before it.
        self.anchor = (anchor or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self.sellers = sellers if sellers is not None else default_sellers()
        rng = random.Random(seed)
        self.products: list[Product] = self._make_products(rng)
        self.products_by_sku = {p.sku: p for p in self.products}
        self.listings: list[Listing] = []
        self.orders: list[Order] = []
        for seller in self.sellers:
            seller_rng = random.Random(f"{seed}:{seller.store_id}")
            listings = self._make_listings(seller_rng, seller)
            self.listings.extend(listings)
            self.orders.extend(self._make_orders(seller_rng, seller, listings))
        self.listings_by_number = {lst.listing_number: lst for lst in self.listings}
        self.orders_by_number = {o.order_number: o for o in self.orders}
        # Orders sold while the sandbox runs: their units left a listing, so a cancellation
        # gives them back (generated history never took stock from the listings).
        self._runtime_sales: set[int] = set()
        self._listeners: list[OrderListener] = []
        self._changes = threading.RLock()

    # --- catalog -------------------------------------------------------------------------

    def _make_products(self, rng: random.Random) -> list[Product]:
        products: list[Product] = []
        for index in range(self.size.families):
            code, name, category, brand, has_color, has_size = _FAMILIES[index % len(_FAMILIES)]
            generation = index // len(_FAMILIES)
            parent = f"{code}{generation + 1:02d}"
            title = name if generation == 0 else f"{name} Linha {generation + 1}"
            price = Decimal(rng.randrange(2990, 39990, 100)) / 100
            colors = rng.sample(_COLORS, k=rng.randint(2, 4)) if has_color else [(None, None)]
            sizes = (
                (_SHOE_SIZES if code == "TEN" else _SIZES) if has_size else [None]  # type: ignore[list-item]
            )
            for color_code, color_name in colors:
                for size in sizes:
                    parts = [parent, color_code, size]
                    sku = "-".join(p for p in parts if p)
                    body = f"789{rng.randrange(10**9):09d}"
                    products.append(
                        Product(
                            sku=sku,
                            parent_sku=parent,
                            name=" ".join(p for p in (title, color_name, size) if p),
                            brand=brand,
                            category=category,
                            color=color_name,
                            size=size,
                            gtin=gtin13(body),
                            price=price,
                            cost=(price * Decimal("0.45")).quantize(Decimal("0.01")),
                            weight_g=rng.randrange(80, 2500, 10),
                            on_hand=rng.randint(0, 120),
                        )
                    )
        # Kits: pairs of existing single products sold together (Bling "composição").
        singles = [p for p in products if p.color is None and p.size is None] or products
        for k in range(min(3, len(singles) // 2)):
            a, b = singles[2 * k], singles[2 * k + 1]
            products.append(
                Product(
                    sku=f"KIT{k + 1:02d}",
                    parent_sku=f"KIT{k + 1:02d}",
                    name=f"Kit {a.name} + {b.name}",
                    brand=a.brand,
                    category=a.category,
                    color=None,
                    size=None,
                    gtin=gtin13(f"789{rng.randrange(10**9):09d}"),
                    price=(a.price + b.price) * Decimal("0.9"),
                    cost=a.cost + b.cost,
                    weight_g=a.weight_g + b.weight_g,
                    on_hand=0,
                    components=((a.sku, 1), (b.sku, 1)),
                )
            )
        return products

    # --- listings ------------------------------------------------------------------------

    def _make_listings(self, rng: random.Random, seller: Seller) -> list[Listing]:
        by_parent: dict[str, list[Product]] = {}
        for product in self.products:
            by_parent.setdefault(product.parent_sku, []).append(product)
        base = 10_000_000 * (1 + self.sellers.index(seller))
        listings: list[Listing] = []
        variation_counter = base
        for number, (parent, variants) in enumerate(sorted(by_parent.items()), start=1):
            if rng.random() < 0.15:  # not every product is on every channel
                continue
            variations = []
            for product in variants:
                variation_counter += 1
                roll = rng.random()
                # Unmatched on purpose: a blank or a stale seller SKU that no catalog knows.
                seller_sku: str | None = product.sku
                if roll < 0.03:
                    seller_sku = None
                elif roll < 0.06:
                    seller_sku = f"OLD-{product.sku}"
                attrs = tuple(
                    (k, v) for k, v in (("COLOR", product.color), ("SIZE", product.size)) if v
                )
                variations.append(
                    ListingVariation(
                        variation_number=variation_counter,
                        sku=seller_sku,
                        attributes=attrs,
                        price=product.price,
                        available_quantity=max(0, product.on_hand - rng.randint(0, 10)),
                    )
                )
            first = variants[0]
            listings.append(
                Listing(
                    listing_number=base + number,
                    seller=seller,
                    title=first.name.split(" Preto")[0] if len(variants) > 1 else first.name,
                    category=first.category,
                    parent_sku=parent,
                    variations=variations,
                    status="active" if rng.random() > 0.05 else "paused",
                    created_at=self.anchor - timedelta(days=self.size.days + rng.randint(1, 60)),
                    has_variations=len(variants) > 1,
                )
            )
        return listings

    # --- orders --------------------------------------------------------------------------

    def _make_orders(
        self, rng: random.Random, seller: Seller, listings: list[Listing]
    ) -> list[Order]:
        if not listings:
            return []
        tz = ZoneInfo(seller.timezone)
        start_local_day = (self.anchor.astimezone(tz) - timedelta(days=self.size.days)).date()
        orders: list[Order] = []
        base = 2_000_000_000_000 + 10_000_000 * (1 + self.sellers.index(seller))
        minutes = range(24 * 60)
        count = self.size.orders_per_seller
        days = rng.choices(range(self.size.days + 1), k=count)
        day_minutes = rng.choices(minutes, weights=_MINUTE_WEIGHTS, k=count)
        created: list[datetime] = []
        for day, minute in zip(days, day_minutes, strict=True):
            local = datetime.combine(start_local_day + timedelta(days=day), datetime.min.time())
            moment = (local + timedelta(minutes=minute, seconds=rng.randrange(60))).replace(
                tzinfo=tz
            )
            created_utc = moment.astimezone(UTC)
            if created_utc > self.anchor:
                created_utc = self.anchor - timedelta(seconds=rng.randrange(1, 3600))
            created.append(created_utc)
        created.sort()
        for index, created_at in enumerate(created):
            lines = []
            for listing in rng.sample(listings, k=min(len(listings), rng.choice((1, 1, 1, 2, 3)))):
                variation = rng.choice(listing.variations)
                lines.append(
                    OrderLine(
                        listing_number=listing.listing_number,
                        variation_number=variation.variation_number,
                        sku=variation.sku,
                        title=listing.title,
                        quantity=rng.choice((1, 1, 1, 2)),
                        unit_price=variation.price,
                    )
                )
            city, state = rng.choice(_CITIES)
            buyer_id = rng.randrange(100_000_000, 999_999_999)
            buyer = Buyer(
                buyer_id=buyer_id,
                nickname=f"COMPRADOR{buyer_id % 100000}",
                first_name=rng.choice(_FIRST),
                last_name=rng.choice(_LAST),
                city=city,
                state=state,
            )
            orders.append(
                Order(
                    order_number=base + index + 1,
                    seller=seller,
                    lines=tuple(lines),
                    buyer=buyer,
                    shipping_cost=Decimal(rng.choice((0, 0, 1990, 2490, 3290))) / 100,
                    timeline=_timeline(rng, created_at),
                )
            )
        return orders

    # --- changes at runtime ------------------------------------------------------------

    def subscribe(self, listener: OrderListener) -> None:
        """Call `listener` on every runtime order change, in subscription order.

        Simulators subscribe first (so their indexes show the change), the webhook emitter
        last (so a receiver that fetches the order at once sees the new state).
        """
        self._listeners.append(listener)

    def _announce(self, change: OrderChange) -> None:
        for listener in list(self._listeners):
            listener(change)

    def order_created(self, order: Order) -> OrderChange:
        """A simulator recorded a sale (already in `orders`, its units already taken)."""
        with self._changes:
            self.orders_by_number[order.order_number] = order
            self._runtime_sales.add(order.order_number)
            change = OrderChange(order, "created", len(order.timeline) - 1)
            self._announce(change)
        return change

    def advance_order(self, order: Order, status: str, at: datetime) -> OrderChange:
        """Move `order` to `status` at `at` (a verb like "ship" is accepted too).

        Steps the generated timeline had planned after `at` are dropped: the order's
        future is now whatever the operator does next. A cancelled runtime sale that never
        shipped gives its units back to the listing, as the marketplaces do.
        """
        wanted = STATUS_VERBS.get(status, status)
        if wanted not in TRANSITIONS:
            raise ValueError(
                f"unknown status {status!r}; use one of {sorted(TRANSITIONS)} "
                f"or {sorted(STATUS_VERBS)}"
            )
        with self._changes:
            current, since = order.status_at(at)
            if order.created_at > at:
                raise InvalidTransition(f"order {order.order_number} does not exist yet")
            if wanted not in TRANSITIONS[current]:
                raise InvalidTransition(
                    f"order {order.order_number} is {current}; it cannot become {wanted}"
                )
            # A step never goes back in time, so the timelines stay sorted for bisect.
            moment = max(at, since)
            order.timeline[:] = [step for step in order.timeline if step[1] <= at]
            order.timeline.append((wanted, moment))
            if wanted == "cancelled" and order.order_number in self._runtime_sales:
                self._runtime_sales.discard(order.order_number)
                self._restock(order)
            change = OrderChange(order, "status", len(order.timeline) - 1)
            self._announce(change)
        return change

    def _restock(self, order: Order) -> None:
        for line in order.lines:
            listing = self.listings_by_number.get(line.listing_number)
            if listing is None:
                continue
            for variation in listing.variations:
                if variation.variation_number == line.variation_number:
                    variation.available_quantity += line.quantity

    # --- queries the simulators share ----------------------------------------------------

    def sellers_of(self, marketplace: str) -> list[Seller]:
        return [s for s in self.sellers if s.marketplace == marketplace]

    def listings_of(self, seller: Seller) -> list[Listing]:
        return [lst for lst in self.listings if lst.seller == seller]

    def orders_of(self, seller: Seller) -> Iterator[Order]:
        return (o for o in self.orders if o.seller == seller)

    def catalog_rows(self) -> list[dict[str, str]]:
        """The catalog file a merchant without ERP would keep (one row per SKU)."""
        rows = []
        for p in self.products:
            rows.append(
                {
                    "sku": p.sku,
                    "parent_sku": p.parent_sku,
                    "name": p.name,
                    "brand": p.brand,
                    "category": p.category,
                    "color": p.color or "",
                    "size": p.size or "",
                    "gtin": p.gtin,
                    "price": f"{p.price:.2f}",
                    "cost": f"{p.cost:.2f}",
                    "currency": "BRL",
                    "weight_g": str(p.weight_g),
                    "on_hand": str(p.on_hand),
                    "components": ";".join(f"{sku}x{qty}" for sku, qty in p.components),
                }
            )
        return rows


def _timeline(rng: random.Random, created_at: datetime) -> list[tuple[str, datetime]]:
    steps: list[tuple[str, datetime]] = [("pending", created_at)]
    roll = rng.random()
    if roll < 0.06:  # never paid
        steps.append(("cancelled", created_at + timedelta(hours=rng.randint(2, 48))))
        return steps
    paid = created_at + timedelta(minutes=rng.randint(0, 45), seconds=rng.randrange(1, 60))
    steps.append(("paid", paid))
    if roll < 0.09:  # cancelled after payment
        steps.append(("cancelled", paid + timedelta(hours=rng.randint(1, 30))))
        return steps
    shipped = paid + timedelta(hours=rng.randint(6, 60))
    steps.append(("shipped", shipped))
    delivered = shipped + timedelta(hours=rng.randint(24, 200))
    steps.append(("delivered", delivered))
    if roll > 0.97:
        steps.append(("returned", delivered + timedelta(days=rng.randint(2, 10))))
    return steps


def default_sellers() -> list[Seller]:
    """The demo merchant: two Mercado Livre accounts and one on each other marketplace."""
    return [
        Seller("mercadolivre", "241551001", "LOJA_CASA_E_MODA"),
        Seller("mercadolivre", "241551002", "OUTLET_CASA_E_MODA"),
        Seller("shopee", "880012345", "casaemoda.oficial"),
        Seller("tiktok", "7494012345678901234", "Casa e Moda Shop"),
        Seller("amazon", "A1SYNCHUBDEMO01", "Casa e Moda BR"),
    ]
