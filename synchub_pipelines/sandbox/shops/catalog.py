"""What the sandbox shops sell: subsets of the demo catalog, reworded, priced by the date.

The enrichment side matches scraped offers back to the merchant's SKUs, so the shops sell
the demo catalog's products (read from `demo/catalog.csv`), each shop its own subset and in
its own words: some pages carry the GTIN, others only the brand and a title reworded the way
competitors do (brand first, abbreviations, upper case). A few products per shop are not in
the catalog at all, one of them a near miss that a careless matcher would accept.

Prices are a pure function of (shop, product, day): a competitive position around the
catalog price (some below, some above) and a daily wiggle that moves every 1, 2, 3 or 7
days depending on the product. Consecutive price periods always differ, so a test that moves
the date one period can count on a new price, and the same day always renders the same
bytes (hence the same ETag).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
CATALOG_CSV = DEMO_DIR / "catalog.csv"
ATTRIBUTES_CSV = DEMO_DIR / "product_attributes.csv"

CENT = Decimal("0.01")
CHANGE_PERIODS = (1, 1, 2, 3, 7)
# Categories whose products plug in, so their pages state a voltage.
ELECTRIC_CATEGORIES = ("Eletroportáteis", "Iluminação", "Carregadores")

ABBREVIATIONS = {
    "Algodão": "Alg.",
    "Elétrica": "Elétr.",
    "Notebook": "Note",
    "Antiaderente": "Antiad.",
    "Bluetooth": "BT",
    "Esportiva": "Esport.",
    "Básica": "Bás.",
    "Térmica": "Térm.",
    "Carregador": "Carreg.",
    "Luminária": "Lumin.",
    "Xícaras": "Xíc.",
    "Canguru": "Cang.",
    "+": "c/",
}


def stable_int(*parts: object) -> int:
    """A hash that is the same in every process (unlike hash() of a str)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def ean13(body12: str) -> str:
    """A 12-digit body completed with its EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def slugify(text: str) -> str:
    table = str.maketrans("áàâãäéèêëíìîïóòôõöúùûüçñ", "aaaaaeeeeiiiiooooouuuucn")
    cleaned = "".join(c if c.isalnum() else "-" for c in text.lower().translate(table))
    return "-".join(part for part in cleaned.split("-") if part)


@dataclass(frozen=True)
class CatalogRow:
    sku: str
    parent_sku: str
    name: str
    brand: str
    category: str
    color: str
    size: str
    gtin: str
    price: Decimal


def load_catalog(path: Path = CATALOG_CSV) -> list[CatalogRow]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            CatalogRow(
                sku=row["sku"],
                parent_sku=row["parent_sku"],
                name=row["name"],
                brand=row["brand"],
                category=row["category"],
                color=row["color"],
                size=row["size"],
                gtin=row["gtin"],
                price=Decimal(row["price"]),
            )
            for row in csv.DictReader(handle)
        ]


def load_attributes(path: Path = ATTRIBUTES_CSV) -> dict[str, list[tuple[str, str]]]:
    """Attributes per parent SKU (material, dimensions, origin…), as the catalog knows them."""
    found: dict[str, list[tuple[str, str]]] = {}
    if not path.exists():
        return found
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            found.setdefault(row["sku"], []).append((row["attribute"], row["value"]))
    return found


@dataclass(frozen=True)
class Extra:
    """A product no catalog row describes (the matcher must leave it unmatched)."""

    name: str
    brand: str
    category: str
    price: Decimal
    attributes: tuple[tuple[str, str], ...] = ()


EXTRAS: tuple[Extra, ...] = (
    Extra(
        "Cadeira Gamer Ergonômica Reclinável",
        "ThunderX3",
        "Casa > Móveis",
        Decimal("899.90"),
        (("material", "couro sintético"), ("peso suportado", "120 kg")),
    ),
    Extra(
        "Liquidificador Turbo 1200W 3L",
        "Britânia",
        "Casa > Eletroportáteis",
        Decimal("189.90"),
        (("voltagem", "127V"), ("potência", "1200 W")),
    ),
    Extra(
        "Smartwatch Fitness Tela AMOLED",
        "Xiaomi",
        "Eletrônicos > Relógios",
        Decimal("349.90"),
        (("resistência à água", "5 ATM"),),
    ),
    Extra(
        "Jogo de Toalhas 4 Peças Algodão",
        "Santista",
        "Casa > Banho",
        Decimal("129.90"),
        (("material", "algodão"),),
    ),
    # Same brand and family as catalog bottles, but another product: a near miss.
    Extra(
        "Garrafa Térmica Quick Flip 710ml Preto",
        "Stanley",
        "Casa > Garrafas",
        Decimal("289.90"),
        (("material", "aço inox"), ("capacidade", "710 ml")),
    ),
    Extra(
        "Mouse Sem Fio Silencioso",
        "Logitech",
        "Eletrônicos > Periféricos",
        Decimal("79.90"),
        (("conexão", "USB 2.4 GHz"),),
    ),
)


@dataclass(frozen=True)
class ShopProduct:
    """One product page of one shop (a marketplace variation is a page of its own)."""

    site: str
    product_id: str
    slug: str
    title: str
    brand: str
    # The GTIN the page shows (None: this shop does not publish it).
    gtin: str | None
    # The catalog row it is, for tests and the demo's ground truth (None: not in the catalog).
    catalog_sku: str | None
    shop_sku: str
    category_slug: str
    category_name: str
    base_price: Decimal
    position: Decimal
    change_every: int
    salt: int
    list_price_pct: int | None
    in_stock: bool
    description: str
    attributes: tuple[tuple[str, str], ...]
    image_names: tuple[str, ...]
    seller: str | None = None
    parent_id: str | None = None
    variation_id: int | None = None
    variation_attributes: tuple[tuple[str, str], ...] = field(default=())

    def period(self, day: date) -> int:
        return day.toordinal() // self.change_every

    def period_start(self, day: date) -> date:
        return date.fromordinal(self.period(day) * self.change_every)

    def price_on(self, day: date) -> Decimal:
        # 7919 % 9 == 8, so two consecutive periods never draw the same wiggle.
        wiggle = Decimal((self.period(day) * 7919 + self.salt) % 9 - 4) / 100
        return (self.base_price * self.position * (1 + wiggle)).quantize(CENT, ROUND_HALF_UP)

    def list_price_on(self, day: date) -> Decimal | None:
        if self.list_price_pct is None:
            return None
        factor = 1 + Decimal(self.list_price_pct) / 100
        return (self.price_on(day) * factor).quantize(Decimal("1")) - Decimal("0.10")

    def installments_on(self, day: date) -> tuple[int, Decimal]:
        """Interest-free instalments as Brazilian shops offer them: more for dearer items."""
        price = self.price_on(day)
        count = 10 if price >= 100 else 3 if price >= 30 else 1
        return count, (price / count).quantize(CENT, ROUND_UP)


@dataclass(frozen=True)
class ShopMix:
    """How one shop picks and words its products."""

    site: str
    id_start: int
    catalog_count: int
    gtin_share: int  # percent of catalog products whose page shows the GTIN
    reword_share: int  # percent of GTIN-carrying pages whose title is reworded anyway
    extras: int = 3
    families: int = 0  # marketplace: whole families (variations) instead of single rows
    max_variations: int = 6


def reword(name: str, brand: str, how: int) -> str:
    """A competitor's wording of a catalog title (brand first, abbreviated, upper case…)."""
    words = name.split()
    if how == 0:
        return f"{brand} {name}"
    if how == 1:
        return " ".join(ABBREVIATIONS.get(w, w) for w in words) + f" - {brand}"
    if how == 2:
        return f"{name} {brand}".upper()
    # Colour/size first, then the rest: "Preto M - Moletom Canguru Hering".
    tail = [w for w in words if w[0].isupper() and len(w) <= 8 and w.isalpha()][-1:]
    head = [w for w in words if w not in tail]
    return " ".join(tail) + " - " + " ".join(head) + f" {brand}" if tail else f"{brand} {name}"


def _category(category: str) -> tuple[str, str]:
    # Department level ("Moda", "Casa"…): shops list by department, so lists run to pages.
    department = category.split(">")[0].strip()
    return slugify(department), department


def _attributes(
    row_category: str, catalog_attrs: list[tuple[str, str]], salt: int
) -> tuple[tuple[str, str], ...]:
    picked = [(k, v) for k, v in catalog_attrs if k in {"material", "país de origem", "altura"}]
    if any(c in row_category for c in ELECTRIC_CATEGORIES) and not any(
        k == "voltagem" for k, _ in picked
    ):
        picked.append(("voltagem", ("Bivolt", "127V", "220V")[salt % 3]))
    return tuple(picked)


def build_products(
    mix: ShopMix,
    rows: list[CatalogRow],
    attributes: dict[str, list[tuple[str, str]]],
    seed: int,
) -> list[ShopProduct]:
    """The shop's products: a deterministic subset of the catalog plus a few extras."""
    products: list[ShopProduct] = []
    next_id = mix.id_start

    def make(
        title: str,
        brand: str,
        gtin: str | None,
        catalog_sku: str | None,
        category: str,
        base: Decimal,
        attrs: tuple[tuple[str, str], ...],
        key: str,
        **extra: object,
    ) -> ShopProduct:
        nonlocal next_id
        h = stable_int(seed, mix.site, key)
        product_id = str(next_id)
        next_id += 1
        cat_slug, cat_name = _category(category)
        description = (
            f"{title}: produto original {brand}, com nota fiscal e garantia do fabricante. "
            "Envio para todo o Brasil."
        )
        fields: dict[str, object] = {
            "site": mix.site,
            "product_id": product_id,
            "slug": slugify(title),
            "title": title,
            "brand": brand,
            "gtin": gtin,
            "catalog_sku": catalog_sku,
            "shop_sku": f"{mix.site[:2].upper()}-{product_id}",
            "category_slug": cat_slug,
            "category_name": cat_name,
            "base_price": base,
            # Competitive position 0.85 … 1.15 of the catalog price.
            "position": Decimal(85 + h % 31) / 100,
            "change_every": CHANGE_PERIODS[(h >> 8) % len(CHANGE_PERIODS)],
            "salt": (h >> 16) % 9973,
            "list_price_pct": (10, 15, 20, 25)[(h >> 24) % 4] if (h >> 28) % 5 < 2 else None,
            "in_stock": (h >> 32) % 7 != 0,
            "description": description,
            "attributes": attrs,
            "image_names": tuple(f"{mix.site}-{product_id}-{n}" for n in (1, 2)[: 1 + h % 2]),
        }
        fields.update(extra)
        return ShopProduct(**fields)  # type: ignore[arg-type]

    ordered = sorted(rows, key=lambda r: stable_int(seed, mix.site, "pick", r.sku))
    if mix.families:
        families: dict[str, list[CatalogRow]] = {}
        for row in sorted(rows, key=lambda r: stable_int(seed, mix.site, "family", r.parent_sku)):
            families.setdefault(row.parent_sku, []).append(row)
        sellers = ("MegaOfertas", "Casa & Cia Store", "TopVendas BR", "Império Shop")
        for family_no, (parent, members) in enumerate(list(families.items())[: mix.families]):
            parent_id = f"MT{mix.id_start + family_no}"
            first = members[0]
            family_name = first.name
            for variant_word in (first.color, first.size):
                if variant_word:
                    family_name = family_name.replace(f" {variant_word}", "")
            seller = f"Loja Oficial {first.brand}" if family_no % 2 == 0 else sellers[family_no % 4]
            members = [m for m in rows if m.parent_sku == parent][: mix.max_variations]
            for vid, row in enumerate(members, start=1):
                h = stable_int(seed, mix.site, "gtin", row.sku)
                shows_gtin = h % 100 < mix.gtin_share
                variation = tuple(
                    (k, v) for k, v in (("Cor", row.color), ("Tamanho", row.size)) if v
                )
                product = make(
                    family_name if shows_gtin else reword(family_name, row.brand, h % 4),
                    row.brand,
                    row.gtin if shows_gtin else None,
                    row.sku,
                    row.category,
                    row.price,
                    _attributes(row.category, attributes.get(parent, []), h),
                    row.sku,
                    seller=seller,
                    parent_id=parent_id,
                    variation_id=vid,
                    variation_attributes=variation,
                )
                products.append(product)
    else:
        for row in ordered[: mix.catalog_count]:
            h = stable_int(seed, mix.site, "gtin", row.sku)
            shows_gtin = h % 100 < mix.gtin_share
            reworded = not shows_gtin or (h >> 8) % 100 < mix.reword_share
            title = reword(row.name, row.brand, (h >> 16) % 4) if reworded else row.name
            products.append(
                make(
                    title,
                    row.brand,
                    row.gtin if shows_gtin else None,
                    row.sku,
                    row.category,
                    row.price,
                    _attributes(row.category, attributes.get(row.parent_sku, []), h),
                    row.sku,
                )
            )
    extras = sorted(EXTRAS, key=lambda e: stable_int(seed, mix.site, "extra", e.name))
    for n, item in enumerate(extras[: mix.extras]):
        gtin = ean13(f"78999{stable_int(seed, mix.site, item.name) % 10**7:07d}") if n % 2 else None
        if mix.families:
            products.append(
                make(
                    item.name,
                    item.brand,
                    gtin,
                    None,
                    item.category,
                    item.price,
                    item.attributes,
                    item.name,
                    seller="TopVendas BR",
                    parent_id=f"MT{mix.id_start + 100 + n}",
                    variation_id=1,
                )
            )
        else:
            products.append(
                make(
                    item.name,
                    item.brand,
                    gtin,
                    None,
                    item.category,
                    item.price,
                    item.attributes,
                    item.name,
                )
            )
    return products


def money_br(amount: Decimal) -> str:
    """'1.299,90' — Brazilian grouping and decimal comma (the sandbox's own renderer)."""
    whole, _, cents = f"{amount.quantize(CENT):.2f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return ".".join(groups) + "," + cents


def reais(amount: Decimal) -> str:
    return f"R$ {money_br(amount)}"
