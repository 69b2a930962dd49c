"""Publishing on Shopee, TikTok Shop and Amazon end to end: the real clients against the
loopback sandbox, a throwaway PostgreSQL warehouse, the publishing domain's own runs.

Per marketplace: a dry run makes no write call (the sandbox's write counters), a real run
creates the listing (with variations) and links it, the listing reads back through
`iter_listings`, a rerun writes nothing, a price push lands and reads back, a refusal is
recorded on its product, and the invoice and the tracking of a seller-shipped order are
accepted and read back.

The merchant's catalog keeps https picture URLs (a CDN the tests cannot reach);
SYNCHUB_PICTURE_MIRROR points the picture downloads of Shopee and TikTok at the sandbox's
picture host. Shopee and TikTok readiness is written as normalization would (their leaf
categories and required attributes); Amazon's is the drafts' own (product type learned
from the store's Amazon listings of the same category). Package sizes, colour and material
come from a real attributes file through the real `product_attributes_normalized` asset.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from synchub_pipelines.defs.normalization.assets import product_attributes_normalized
from synchub_pipelines.defs.publishing import fulfilment, prices
from synchub_pipelines.defs.publishing import listings as publishing
from synchub_pipelines.defs.publishing.common import RunScope
from synchub_pipelines.defs.publishing.drafts import (
    PICTURE_MIRROR_ENV,
    Catalog,
    Product,
    describe,
    picture_mirror,
)
from synchub_pipelines.defs.publishing.rules import PriceRule, RuleBook
from synchub_pipelines.defs.stock.planning import allocatable_stock_asset
from synchub_pipelines.models import OrderRef
from synchub_pipelines.sandbox.amazon_render import fulfilled_by_amazon
from synchub_pipelines.sandbox.shopee_render import SELLER_CHANNEL, channel_of
from synchub_pipelines.sandbox.tiktok_render import order_money
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import order_batches
from synchub_pipelines_tests.publishing.merchant import Merchant, sandbox_environment

pytestmark = pytest.mark.postgres

MARKETPLACES = ("shopee", "tiktok", "amazon")
SHIRTS = ("PUB-CAM01-AZL-M", "PUB-CAM01-AZL-P")
ATTRIBUTES = [
    ("PUB-GAR01", "cor", "Preto"),
    ("PUB-GAR01", "material", "aço inox"),
    ("PUB-GAR01", "país de origem", "Brasil"),
    ("PUB-GAR01", "comprimento", "8 cm"),
    ("PUB-GAR01", "largura", "8 cm"),
    ("PUB-GAR01", "altura", "26,5 cm"),
    ("PUB-CAM01", "material", "algodão"),
    ("PUB-CAM01", "gênero", "Unissex"),
    ("PUB-CAM01", "comprimento", "30 cm"),
    ("PUB-CAM01", "largura", "25 cm"),
    ("PUB-CAM01", "altura", "3 cm"),
]
# A word each marketplace refuses in a title, with the code its sandbox answers.
REFUSED_TITLE = {
    "shopee": ("Garrafa Térmica Inox réplica 500ml", "error_title_character_forbidden"),
    "tiktok": ("Garrafa Térmica Inox réplica 500ml", "12052151"),
    "amazon": ("Garrafa Térmica Inox 500ml Frete Grátis", "4000001"),
}


def nfe_key(number: int, series: int = 1) -> str:
    """A valid NF-e access key (model 55, mod-11 check digit) for this number and series."""
    body = f"35{2603}12345678000195" + "55" + f"{series:03d}{number:09d}" + "1" + f"{number:08d}"
    weights = [2, 3, 4, 5, 6, 7, 8, 9]
    total = sum(int(d) * weights[i % 8] for i, d in enumerate(reversed(body)))
    check = 11 - total % 11
    return body + str(0 if check >= 10 else check)


def nfe_xml(key: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<nfeProc xmlns="http://www.portalfiscal.inf.br/nfe" versao="4.00"><NFe>'
        f'<infNFe Id="NFe{key}" versao="4.00"><ide><mod>55</mod></ide></infNFe></NFe>'
        f"<protNFe><infProt><chNFe>{key}</chNFe><cStat>100</cStat></infProt></protNFe>"
        "</nfeProc>"
    )


class Publisher:
    """The core's merchant on one marketplace, with normalization's verdict for it."""

    def __init__(self, shop: Merchant, marketplace: str) -> None:
        self.shop = shop
        self.marketplace = marketplace
        self.store = shop.store(marketplace)
        self.simulator: Any = shop.running.sandbox.simulators[marketplace]

    def writes(self) -> int:
        """Every write call that reached the sandbox, accepted or refused (see the notes of
        each marketplace: Shopee counts on its writes module)."""
        counter = (
            self.simulator.writes.write_calls
            if self.marketplace == "shopee"
            else self.simulator.write_calls
        )
        return sum(counter.values())

    def declare_ready(self) -> None:
        if self.marketplace == "shopee":
            leaves = {c.category_id: c for c in self.simulator.catalog.categories.categories}
            bottle, shirt = leaves[192522], leaves[139553]

            def required(category: Any) -> dict[str, str]:
                values = {"100011": "Brasil", "100040": "Algodão", "100041": "Unissex"}
                wanted = {str(s.attribute_id) for s, mandatory in category.attributes if mandatory}
                return {k: v for k, v in values.items() if k in wanted}

            ready = {"PUB-GAR01": (str(bottle.category_id), required(bottle))}
            ready |= {sku: (str(shirt.category_id), required(shirt)) for sku in SHIRTS}
        elif self.marketplace == "tiktok":
            catalog = self.simulator.catalog
            bottle = catalog.leaf_by_path["Casa > Garrafas"].id
            shirt = catalog.leaf_by_path["Moda > Camisetas"].id
            ready = {"PUB-GAR01": (str(bottle), {"100157": "Aço inoxidável"})}
            ready |= {sku: (str(shirt), {"100157": "Algodão"}) for sku in SHIRTS}
        else:
            return  # Amazon: the drafts judge it themselves
        self.shop.declare_ready(self.marketplace, ready)

    def listings(self, run_id: str, **options: Any) -> publishing.ListingReport:
        opts = publishing.ListingOptions(
            scope=RunScope(stores=frozenset({self.store})), **{"dry_run": False, **options}
        )
        return publishing.run_listings(
            self.shop.engine, self.shop.client, RuleBook(), opts, run_id, 0, datetime.now(UTC)
        )

    def audit(self, run_id: str) -> dict[tuple[str, str], Any]:
        return {
            (r.seller_sku, r.action): r
            for r in self.shop.query(
                "SELECT * FROM listing_publications WHERE run_id = :r", r=run_id
            )
        }

    def live(self) -> dict[str, Any]:
        """The store's listings as its API reads them, by seller SKU."""
        return {x.seller_sku: x for x in self.shop.live_listings(self.store).values()}

    # --- orders --------------------------------------------------------------------------

    def seller_shipped(self, order: Any) -> bool:
        if self.marketplace == "shopee":
            return channel_of(order) == SELLER_CHANNEL
        if self.marketplace == "tiktok":
            money = order_money(order)
            return money.by_seller and not money.by_tiktok
        return not fulfilled_by_amazon(order.order_number)

    def sell_seller_shipped(self, tries: int = 60) -> str:
        """Buyers pay for the store's listings until one order is the seller's to ship;
        that order lands in the warehouse as the event sync lands it."""
        base = self.shop.running.base_url(self.marketplace)
        seller_id = self.store.partition("-")[2]
        candidates = [
            x
            for x in self.shop.live_listings(self.store).values()
            if x.status.value == "active" and (x.available_quantity or 0) > 0 and x.price
        ]
        assert candidates, "the store should have a listing on sale"
        for attempt in range(tries):
            listing = candidates[attempt % len(candidates)]
            if self.marketplace == "shopee":
                body: dict[str, Any] = {
                    "item_id": int(listing.listing_id),
                    "model_id": int(listing.variation_id or 0),
                    "quantity": 1,
                }
            elif self.marketplace == "tiktok":
                body = {
                    "product_id": listing.listing_id,
                    "sku_id": listing.variation_id,
                    "quantity": 1,
                }
            else:
                body = {"sku": listing.listing_id, "quantity": 1, "seller_id": seller_id}
            answer = httpx.post(f"{base}/_sandbox/sales", json=body, timeout=30)
            if answer.status_code not in (200, 201):
                continue
            payload = answer.json()
            order_id = next(
                str(payload[f])
                for f in ("id", "order_id", "order_sn", "AmazonOrderId")
                if payload.get(f)
            )
            order = self.shop.running.sandbox.find_order(self.marketplace, order_id)
            assert order is not None
            if self.seller_shipped(order):
                client = self.shop.client(self.store)
                try:
                    page = client.get_orders([order_id])
                finally:
                    client.close()
                batches, prunes = order_batches(page.records)
                upsert.write(self.shop.engine, batches, prunes)
                return order_id
        raise AssertionError(f"no seller-shipped {self.marketplace} sale in {tries} tries")


@pytest.fixture(params=MARKETPLACES)
def publisher(
    request: pytest.FixtureRequest, sandbox_factory: Any, pg_url: str, tmp_path: Path
) -> Any:
    marketplace = str(request.param)
    running = sandbox_factory()
    attributes = tmp_path / "product_attributes.csv"
    with attributes.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "attribute", "value"])
        writer.writerows(ATTRIBUTES)
    with sandbox_environment(running), dg.instance_for_test() as instance:
        os.environ["SYNCHUB_PRODUCT_ATTRIBUTES_FILE"] = str(attributes)
        os.environ[PICTURE_MIRROR_ENV] = (
            f"https://http2.mlstatic.com/={running.url}/_sandbox/pictures/"
        )
        shop = Merchant(running, pg_url, tmp_path, (marketplace,))
        shop.start(instance)
        shop.materialize([product_attributes_normalized])
        shop.materialize([allocatable_stock_asset])
        it = Publisher(shop, marketplace)
        it.declare_ready()
        yield it


def test_publish_dry_run_then_real_then_nothing_then_a_price(publisher: Publisher) -> None:
    shop, marketplace = publisher.shop, publisher.marketplace
    before = publisher.writes()

    dry = publisher.listings("dry", dry_run=True)

    assert publisher.writes() == before
    planned = publisher.audit("dry")
    assert {k for k in planned if k[0].startswith("PUB-")} == {
        ("PUB-GAR01", "create"),
        ("PUB-CAM01", "create"),
    }, dry.plan.unpublishable
    shirt_request = json.loads(planned[("PUB-CAM01", "create")].request)
    assert sorted(v["sku"] for v in shirt_request["variations"]) == sorted(SHIRTS)
    assert {v["options"]["Tamanho"] for v in shirt_request["variations"]} == {"P", "M"}
    bottle_draft = next(w.draft for w in dry.plan.writes if w.seller_sku == "PUB-GAR01")
    assert bottle_draft is not None
    # The package from the catalog's weight and the attributes file's sizes (26,5 → 27 cm).
    assert bottle_draft.package_weight_kg == Decimal("0.420")
    assert bottle_draft.package_dimensions_cm == (8, 8, 27)
    if marketplace == "amazon":
        assert bottle_draft.category_id == "BOTTLE"
        assert bottle_draft.attributes == {"color": "Preto"}
        assert all(p.startswith("https://http2.mlstatic.com/") for p in bottle_draft.pictures)
    else:
        assert all(p.startswith(shop.running.url) for p in bottle_draft.pictures)

    report = publisher.listings("real")

    done = publisher.audit("real")
    bottle, shirt = done[("PUB-GAR01", "create")], done[("PUB-CAM01", "create")]
    assert (bottle.status, shirt.status) == ("written", "written"), (bottle.message, shirt.message)
    assert report.problems == []
    live = publisher.live()
    assert live["PUB-GAR01"].title == "Garrafa Térmica Inox 500ml"
    for sku in SHIRTS:
        assert sku in live, sorted(live)
    links = {
        r.sku: (r.listing_id, r.variation_id, r.method)
        for r in shop.query(
            "SELECT * FROM listing_links WHERE store_id = :s AND sku LIKE 'PUB-%'",
            s=publisher.store,
        )
    }
    assert links["PUB-GAR01"] == (bottle.result_listing_id, "", "published")
    for sku in SHIRTS:
        listing_id, variation_id, method = links[sku]
        assert (listing_id, method) == (shirt.result_listing_id, "published")
        assert variation_id, sku
    if marketplace == "amazon":
        # Amazon lists each child under its own SKU; the family is the parent's.
        assert live["PUB-CAM01"].listing_id == shirt.result_listing_id == "PUB-CAM01"
        assert {live[sku].listing_id for sku in SHIRTS} == set(SHIRTS)
    else:
        assert live["PUB-GAR01"].listing_id == bottle.result_listing_id
        assert {live[sku].listing_id for sku in SHIRTS} == {shirt.result_listing_id}
        assert {live[sku].variation_id for sku in SHIRTS} == {links[s][1] for s in SHIRTS}

    after = publisher.writes()
    again = publisher.listings("again")
    assert publisher.writes() == after
    assert [w for w in again.plan.writes if w.seller_sku.startswith("PUB-")] == []
    assert publisher.audit("again") == {}

    # A price rule: the plan, then the push, read back from the marketplace.
    rules = RuleBook(
        stores={
            publisher.store: PriceRule(
                markup=Decimal("1.5"), rounding="0.90", max_change=Decimal("5")
            )
        }
    )
    scope = RunScope(stores=frozenset({publisher.store}))
    before = publisher.writes()
    planned_prices = prices.run_prices(
        shop.engine, shop.client, rules, prices.PriceOptions(scope=scope), "p-dry", 0, now()
    )
    assert publisher.writes() == before
    ours = [p for p in planned_prices.plan if p.sku.startswith("PUB-") and p.needs_write]
    assert {p.sku for p in ours} == {"PUB-GAR01", *SHIRTS}

    pushed = prices.run_prices(
        shop.engine,
        shop.client,
        rules,
        prices.PriceOptions(dry_run=False, scope=scope),
        "p-real",
        0,
        now(),
    )

    verdicts = {p.sku: o for p, o in pushed.outcomes if p.sku.startswith("PUB-")}
    assert {sku: o.status for sku, o in verdicts.items()} == dict.fromkeys(
        ("PUB-GAR01", *SHIRTS), "written"
    ), {sku: o.message for sku, o in verdicts.items()}
    live = publisher.live()
    for p in ours:
        assert live[p.sku].price == p.target, (p.sku, live[p.sku].price, p.target)
    after = publisher.writes()
    rerun = prices.run_prices(
        shop.engine,
        shop.client,
        rules,
        prices.PriceOptions(dry_run=False, scope=scope),
        "p-again",
        0,
        now(),
    )
    assert [p for p, _ in rerun.outcomes if p.sku.startswith("PUB-")] == []
    # Only the prices the marketplace refused the first time (the world's own listings it
    # does not let us reprice) are tried again: nothing accepted is written twice.
    refused = {p.key for p, o in pushed.outcomes if o.status == "refused"}
    assert {p.key for p, _ in rerun.outcomes} <= refused
    assert publisher.writes() - after == len(rerun.outcomes)


def now() -> datetime:
    return datetime.now(UTC)


def test_a_refusal_is_recorded_on_its_product(publisher: Publisher) -> None:
    title, code = REFUSED_TITLE[publisher.marketplace]
    publisher.shop.edit("PUB-GAR01", name=title)

    report = publisher.listings("refused")

    row = publisher.audit("refused")[("PUB-GAR01", "create")]
    assert (row.status, row.code) == ("refused", code), row.message
    assert row.message
    assert [w.seller_sku for w, _ in report.problems] == ["PUB-GAR01"]
    assert publisher.audit("refused")[("PUB-CAM01", "create")].status == "written"
    assert "PUB-GAR01" not in publisher.live()
    assert not publisher.shop.query(
        "SELECT * FROM listing_links WHERE sku = 'PUB-GAR01' AND store_id = :s",
        s=publisher.store,
    )


def test_invoice_then_tracking_on_a_seller_shipped_order(
    publisher: Publisher, tmp_path: Path
) -> None:
    shop = publisher.shop
    order_id = publisher.sell_seller_shipped()
    created = shop.query(
        "SELECT created_at FROM orders WHERE store_id = :s AND order_id = :o",
        s=publisher.store,
        o=order_id,
    )[0].created_at
    key = nfe_key(4242)
    xml = tmp_path / "nfe-4242.xml"
    xml.write_text(nfe_xml(key), encoding="utf-8")
    path = tmp_path / "fulfilment.csv"
    header = [
        "store_id",
        "order_id",
        "invoice_key",
        "invoice_number",
        "invoice_series",
        "invoice_issued_at",
        "invoice_xml_path",
        "carrier",
        "tracking_number",
    ]
    # Issued when the order was paid (the sandbox's clock: never in its future).
    issued = created.replace(tzinfo=created.tzinfo or UTC).isoformat()
    row = [publisher.store, order_id, key, "4242", "1", issued, str(xml), "Correios"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow([*row, "QB123456789BR"])
    scope = RunScope(stores=frozenset({publisher.store}))
    before = publisher.writes()

    def run(run_id: str, dry_run: bool) -> fulfilment.FulfilmentReport:
        return fulfilment.run_fulfilment(
            shop.engine, shop.client, dry_run, scope, run_id, 0, now(), str(path)
        )

    dry = run("dry", True)

    assert publisher.writes() == before
    assert [(p.order_id, p.kind) for p in dry.plan] == [
        (order_id, "invoice"),
        (order_id, "tracking"),
    ]
    assert dry.plan[0].invoice is not None and dry.plan[0].invoice.xml == nfe_xml(key)

    real = run("real", False)

    verdicts = {p.kind: o for p, o in real.outcomes}
    assert {k: o.status for k, o in verdicts.items()} == {
        "invoice": "written",
        "tracking": "written",
    }, {k: (o.code, o.message) for k, o in verdicts.items()}
    audit = shop.query(
        "SELECT kind, status FROM fulfilment_pushes WHERE run_id = 'real' AND order_id = :o",
        o=order_id,
    )
    assert sorted(tuple(r) for r in audit) == [("invoice", "written"), ("tracking", "written")]
    read_back(publisher, order_id, key, "QB123456789BR")

    after = publisher.writes()
    again = run("again", False)
    assert publisher.writes() == after
    assert again.plan == []


def read_back(publisher: Publisher, order_id: str, key: str, tracking: str) -> None:
    """The invoice and the tracking as the marketplace's reads show them."""
    row = publisher.shop.query(
        "SELECT order_id, created_at, status, raw_status FROM orders "
        "WHERE store_id = :s AND order_id = :o",
        s=publisher.store,
        o=order_id,
    )[0]
    ref = OrderRef(
        order_id=row.order_id,
        created_at=row.created_at,
        status=row.status,
        raw_status=row.raw_status,
    )
    client = publisher.shop.client(publisher.store)
    try:
        facts = client.get_order_facts([ref])
        if publisher.marketplace == "shopee":
            detail = client._order_detail(order_id, "order.get_order_detail")
            assert detail["invoice_data"]["access_key"] == key
        elif publisher.marketplace == "amazon":
            status = client.get_invoice_status(order_id)
            assert [(i.id, i.status) for i in status.invoices] == [(key, "Accepted")]
        else:
            # TikTok's order reads carry no invoice: the sandbox's store of uploads does.
            assert key in publisher.simulator.invoices.values(), publisher.simulator.invoices
    finally:
        client.close()
    numbers = {s.tracking_number for record in facts.records for s in record.shipments}
    assert tracking in numbers, numbers


def test_the_sandbox_serves_pictures_and_the_mirror_is_https_or_loopback(
    sandbox_factory: Any,
) -> None:
    running = sandbox_factory()
    answer = httpx.get(f"{running.url}/_sandbox/pictures/D_NQ_NP_cam01-640x480.jpg", timeout=10)
    assert answer.status_code == 200
    assert answer.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(answer.content[16:20]) == 640
    assert int.from_bytes(answer.content[20:24]) == 480
    assert httpx.get(f"{running.url}/_sandbox/pictures/missing-a.png", timeout=10).is_client_error

    mirror = picture_mirror(f"https://cdn.example/={running.url}/_sandbox/pictures/")
    assert mirror == ((("https://cdn.example/", f"{running.url}/_sandbox/pictures/")),)
    with pytest.raises(ValueError, match="https"):
        picture_mirror("https://cdn.example/=http://pictures.example/")
    with pytest.raises(ValueError, match="prefix"):
        picture_mirror("https://cdn.example/")


def test_a_short_description_becomes_a_factual_one() -> None:
    shirt = Product(
        sku="X-P",
        parent_sku="X",
        name="Camiseta Dry Fit Azul P",
        brand="Malwee",
        color="Azul",
        size="P",
        gtin=None,
        price=Decimal("79.90"),
        cost=None,
        currency="BRL",
        description="Leve.",
        images=(),
        status="active",
        is_kit=False,
        weight_g=180,
    )
    catalog = Catalog(
        normalized={
            "X-P": {
                "material": ("Algodão", None),
                "length": ("30", "cm"),
                "width": ("25", "cm"),
                "height": ("2.5", "cm"),
            }
        }
    )

    text = describe(catalog, [shirt], "Camiseta Dry Fit")

    assert text == (
        "Leve. Camiseta Dry Fit. Marca: Malwee. Cor: Azul. Tamanho: P. Material: Algodão. "
        "Embalagem: 30 x 25 x 3 cm. Peso com embalagem: 0,180 kg. Produto novo."
    )
    long_enough = Product(**{**shirt.__dict__, "description": "Camiseta leve para treino."})
    assert describe(catalog, [long_enough], "x") == "Camiseta leve para treino."
