"""The TikTok client's publishing and fulfilment writes against the sandbox over real HTTP:
each write, what the reads show afterwards, refusals as WriteRefused with TikTok's code,
and writes that are not made (idempotence, refusals found before any write)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from synchub_pipelines.marketplaces.publishing import (
    FulfilmentClient,
    Invoice,
    ListingDraft,
    PublishingClient,
    Tracking,
    VariationDraft,
    WriteRefused,
)
from synchub_pipelines.marketplaces.tiktok import TikTokClient
from synchub_pipelines.marketplaces.tiktok_writes import description_html, package_weight
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore
from synchub_pipelines.models import ListingStatus, Store
from synchub_pipelines.sandbox.infra import Faults
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.tiktok_render import order_id, order_money, product_id, sku_id
from synchub_pipelines_tests.marketplaces.test_tiktok_client import (
    ANCHOR,
    CLOCK_AT,
    Connected,
    _authorize,
    _drain_listings,
    _sandbox_app,
)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    sandbox = Sandbox(SandboxConfig(seed=7, size="tiny", anchor=ANCHOR, faults=Faults(seed=5)))
    sandbox.clock.advance(CLOCK_AT.timestamp() - time.time())
    with RunningSandbox(sandbox) as running:
        yield running


@pytest.fixture(scope="module")
def connected(running: RunningSandbox) -> Connected:
    app = _sandbox_app(running)
    http = app.new_http()
    try:
        shop_id, tokens = app.exchange_code(http, _authorize(app))
    finally:
        http.close()
    seller = running.sandbox.world.sellers_of("tiktok")[0]
    store = Store.of("tiktok", shop_id, seller.nickname)
    token_store = MemoryTokenStore()
    token_store.save(store.store_id, tokens)
    return Connected(running, app, store, token_store)


@pytest.fixture
def client(connected: Connected) -> Iterator[TikTokClient]:
    c = connected.client()
    yield c
    c.close()


def _writes(connected: Connected) -> int:
    return sum(connected.simulator.write_calls.values())


def _picture(connected: Connected, name: str) -> str:
    return f"{connected.running.base_url('tiktok')}/_sandbox/pictures/{name}"


def _gtin13(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _draft(connected: Connected, sku: str, **changes: Any) -> ListingDraft:
    leaf = connected.simulator.catalog.leaf_by_path["Moda > Camisetas"]
    fields: dict[str, Any] = {
        "seller_sku": sku,
        "title": "Camiseta Publicada Algodão",
        "description": "Camiseta macia.\n\nLavar à mão.",
        "category_id": leaf.id,
        "attributes": {"100157": "algodão"},  # a value name: the client finds its id
        "pictures": (_picture(connected, "front-800x800.png"),),
        "price": Decimal("59.90"),
        "quantity": 5,
        "package_weight_kg": Decimal("0.3"),
        "package_dimensions_cm": (30, 20, 5),
        "variations": (
            VariationDraft(
                seller_sku=f"{sku}-P",
                options={"Tamanho": "P"},
                price=Decimal("59.90"),
                quantity=5,
                gtin=_gtin13("789200000001"),
                pictures=(_picture(connected, "p-600x600.png"),),
            ),
            VariationDraft(
                seller_sku=f"{sku}-M",
                options={"Tamanho": "M"},
                price=Decimal("62.90"),
                quantity=3,
                gtin=_gtin13("789200000002"),
            ),
        ),
    }
    fields.update(changes)
    return ListingDraft(**fields)


def _listings(client: TikTokClient, listing_id: str) -> dict[str | None, Any]:
    return {lst.seller_sku: lst for lst in _drain_listings(client) if lst.listing_id == listing_id}


def test_the_client_implements_the_publishing_protocols(client: TikTokClient) -> None:
    assert isinstance(client, PublishingClient) and isinstance(client, FulfilmentClient)


def test_translations() -> None:
    assert description_html("Linha um\nlinha 2 < 3 & 4\n\nOutro") == (
        "<p>Linha um<br>linha 2 &lt; 3 &amp; 4</p><p>Outro</p>"
    )
    assert description_html("<p>já HTML</p>") == "<p>já HTML</p>"
    draft = ListingDraft(
        seller_sku="X",
        title="T",
        category_id="1",
        price=Decimal(1),
        quantity=1,
        attributes={"package_dimension.weight": "350 g"},
    )
    assert package_weight(draft) == {"value": "0.35", "unit": "KILOGRAM"}


def test_create_then_read_back_update_price_and_state(
    connected: Connected, client: TikTokClient
) -> None:
    sim = connected.simulator
    assert client.find_listing_by_seller_sku("TTW-CAM-P") is None
    before = dict(sim.write_calls)
    published = client.create_listing(_draft(connected, "TTW-CAM"))
    assert published.status == "PENDING"  # TikTok answers before its review
    assert set(published.variation_ids) == {"TTW-CAM-P", "TTW-CAM-M"}
    # The gallery takes both pictures (MAIN_IMAGE); the P variation's is also its SKU image
    # (ATTRIBUTE_IMAGE): three uploads, then one create.
    assert sim.write_calls["images.upload"] - before.get("images.upload", 0) == 3
    assert sim.write_calls["products.create"] - before.get("products.create", 0) == 1

    found = client.find_listing_by_seller_sku("TTW-CAM-M")
    assert found is not None and found.listing_id == published.listing_id
    assert found.variation_ids == published.variation_ids
    listings = _listings(client, published.listing_id)
    assert listings["TTW-CAM-P"].status is ListingStatus.ACTIVE
    assert (listings["TTW-CAM-P"].price, listings["TTW-CAM-P"].available_quantity) == (
        Decimal("59.9"),
        5,
    )
    assert listings["TTW-CAM-M"].price == Decimal("62.9")
    detail = client.get_product(published.listing_id)
    assert {s.seller_sku for s in detail.skus} == {"TTW-CAM-P", "TTW-CAM-M"}
    raw = sim.published[int(published.listing_id) - int(product_id(0))]
    material = next(a for a in raw.product_attributes if a["id"] == "100157")
    assert material["values"][0]["name"] == "Algodão"  # matched to the listed value
    assert raw.description == "<p>Camiseta macia.</p><p>Lavar à mão.</p>"

    # Update: new title; prices and stock stay what the shop has, SKU ids are kept.
    client.update_listing(
        published.listing_id,
        _draft(connected, "TTW-CAM", title="Camiseta Publicada Algodão Nova", price=Decimal("1")),
    )
    listings = _listings(client, published.listing_id)
    assert {k: v.variation_id for k, v in listings.items()} == published.variation_ids
    assert listings["TTW-CAM-P"].title == "Camiseta Publicada Algodão Nova"
    assert listings["TTW-CAM-P"].price == Decimal("59.9")

    client.set_price(published.listing_id, published.variation_ids["TTW-CAM-M"], Decimal("64.5"))
    assert _listings(client, published.listing_id)["TTW-CAM-M"].price == Decimal("64.5")
    with pytest.raises(WriteRefused) as refused:
        client.set_price(published.listing_id, published.variation_ids["TTW-CAM-M"], Decimal("0.3"))
    assert refused.value.code == "12052073" and "0.30" in refused.value.detail

    paused = client.set_listing_state(published.listing_id, "paused")
    assert paused.status == "SELLER_DEACTIVATED"
    writes = _writes(connected)
    assert client.set_listing_state(published.listing_id, "closed").status == "SELLER_DEACTIVATED"
    assert _writes(connected) == writes  # already deactivated: nothing written
    assert _listings(client, published.listing_id)["TTW-CAM-P"].status is ListingStatus.PAUSED
    client.set_listing_state(published.listing_id, "active")
    assert _listings(client, published.listing_id)["TTW-CAM-P"].status is ListingStatus.ACTIVE


def test_single_sku_listing_and_its_price_by_product(
    connected: Connected, client: TikTokClient
) -> None:
    draft = _draft(connected, "TTW-GAR", variations=(), gtin=_gtin13("789300000001"))
    published = client.create_listing(draft)
    assert set(published.variation_ids) == {"TTW-GAR"}
    client.set_price(published.listing_id, "", Decimal("99.90"))
    assert _listings(client, published.listing_id)["TTW-GAR"].price == Decimal("99.9")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"category_id": "PARENT"}, "12052024"),
        ({"attributes": {}}, "12052104"),
        ({"title": "Camiseta Réplica Oficial"}, "12052151"),
        ({"title": "C" * 301}, "12052051"),
        ({"variations": (), "gtin": "7892000000019"}, "12052591"),
        ({"variations": (), "price": Decimal("0.2")}, "12052073"),
        ({"package_weight_kg": None}, "12019011"),
    ],
)
def test_refusals_name_tiktoks_code(
    connected: Connected, client: TikTokClient, changes: dict[str, Any], code: str
) -> None:
    if changes.get("category_id") == "PARENT":
        changes["category_id"] = connected.simulator.catalog.leaf_by_path[
            "Moda > Camisetas"
        ].parent_id
    before = connected.simulator.write_calls["products.create"]
    with pytest.raises(WriteRefused) as refused:
        client.create_listing(_draft(connected, "TTW-BAD", **changes))
    assert refused.value.code == code and refused.value.detail
    # A non-leaf category is already refused by the attribute read the create needs.
    made = 0 if code == "12052024" else 1
    assert connected.simulator.write_calls["products.create"] == before + made
    assert client.find_listing_by_seller_sku("TTW-BAD") is None


def test_a_picture_that_cannot_be_read_refuses_before_any_write(
    connected: Connected, client: TikTokClient
) -> None:
    writes = _writes(connected)
    bad = _picture(connected, "missing-800x800.png")
    with pytest.raises(WriteRefused) as refused:
        client.create_listing(_draft(connected, "TTW-PIC", pictures=(bad,), variations=()))
    assert refused.value.code == "client.picture_unreadable" and bad in refused.value.detail
    assert _writes(connected) == writes
    with pytest.raises(WriteRefused) as small:  # TikTok refuses main images under 300 px
        client.create_listing(
            _draft(connected, "TTW-PIC", pictures=(_picture(connected, "s-120x120.png"),))
        )
    assert small.value.code == "12038014"


# --- fulfilment ----------------------------------------------------------------------------


def _sale(connected: Connected, seller_shipped: bool) -> str:
    sim = connected.simulator
    seller = connected.sandbox.world.sellers_of("tiktok")[0]
    listing = next(
        lst
        for lst in connected.sandbox.world.listings_of(seller)
        if lst.listing_number not in sim.published and lst.variations[0].available_quantity > 3
    )
    variation = listing.variations[0]
    for _ in range(60):
        order = sim.record_sale(
            product_id(listing.listing_number), sku_id(variation.variation_number)
        )
        money = order_money(order)
        variation.available_quantity += 1
        if not money.by_tiktok and money.by_seller == seller_shipped:
            return order_id(order.order_number)
    raise AssertionError("no such sale in 60 tries")


def _key(body43: str) -> str:
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(body43)))
    rest = total % 11
    return body43 + str(0 if rest < 2 else 11 - rest)


def _invoice(key: str, xml: bool = True) -> Invoice:
    document = (
        f'<nfeProc xmlns="http://www.portalfiscal.inf.br/nfe"><NFe><infNFe Id="NFe{key}">'
        "</infNFe></NFe></nfeProc>"
    )
    return Invoice(
        access_key=key,
        number="1234",
        series="1",
        issued_at=datetime(2030, 1, 5, tzinfo=UTC),
        xml=document if xml else None,
    )


def test_invoice_and_tracking_reach_the_order_reads(
    connected: Connected, client: TikTokClient
) -> None:
    sim = connected.simulator
    order = _sale(connected, seller_shipped=True)
    key = _key("3530010000000000000155001000004321" + "100000009")
    with pytest.raises(WriteRefused) as no_xml:
        client.send_invoice(order, _invoice(key, xml=False))
    assert no_xml.value.code == "client.invoice_xml_required"
    with pytest.raises(WriteRefused) as early:  # Brazil: the invoice comes before shipping
        client.send_tracking(order, Tracking(carrier="Correios", tracking_number="BR998877665XX"))
    assert early.value.code == "21004006"

    client.send_invoice(order, _invoice(key))
    client.send_invoice(order, _invoice(key))  # already there: TikTok's 10007014 is success
    assert sim.invoices[int(order) - int(order_id(0))] == key

    with pytest.raises(WriteRefused) as unknown:
        client.send_tracking(order, Tracking(carrier="Jadlog", tracking_number="BR998877665XX"))
    assert unknown.value.code == "client.unknown_carrier" and "Correios" in unknown.value.detail
    ships = sim.write_calls["packages.ship"]
    client.send_tracking(order, Tracking(carrier="correios", tracking_number="BR998877665XX"))
    assert sim.write_calls["packages.ship"] == ships + 1
    client.send_tracking(order, Tracking(carrier="Correios", tracking_number="BR998877665XX"))
    assert sim.write_calls["packages.ship"] == ships + 1  # the package has it: no write

    [read] = client.get_orders([order]).records
    [shipment] = read.shipments
    assert (shipment.carrier, shipment.tracking_number) == ("Correios", "BR998877665XX")
    assert shipment.logistic_type == "SELLER" and shipment.shipped_at is not None


def test_tracking_for_a_tiktok_shipped_order_is_refused(
    connected: Connected, client: TikTokClient
) -> None:
    order = _sale(connected, seller_shipped=False)
    with pytest.raises(WriteRefused) as refused:
        client.send_tracking(order, Tracking(carrier="Correios", tracking_number="BR112233445XX"))
    assert refused.value.code == "21008117"
    with pytest.raises(WriteRefused) as unknown:
        client.send_tracking(
            "576400000000000001", Tracking(carrier="Correios", tracking_number="X")
        )
    assert unknown.value.code is not None


def test_the_sandbox_clock_is_untouched(connected: Connected) -> None:
    # These tests never advance the clock: what they read is what their writes did.
    assert abs(connected.sandbox.clock.now() - CLOCK_AT) < timedelta(hours=1)
