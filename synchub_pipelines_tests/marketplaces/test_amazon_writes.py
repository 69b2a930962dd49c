"""The Amazon client's publishing and fulfilment writes against the sandbox over real HTTP:
listings created, updated, priced and paused through the Listings Items API, refusals as
WriteRefused naming Amazon's issues, shipments confirmed and NF-e submitted, and every
result read back through the client's own reads (iter_listings, get_orders, get_order_facts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from pydantic import SecretStr

from synchub_pipelines.marketplaces.amazon import AmazonApp, AmazonClient
from synchub_pipelines.marketplaces.amazon_writes import encode_body, variation_theme
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.publishing import (
    FulfilmentClient,
    Invoice,
    ListingDraft,
    PublishingClient,
    Tracking,
    VariationDraft,
    WriteRefused,
)
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore
from synchub_pipelines.models import Listing, OrderRef, OrderStatus, ShipmentStatus, Store
from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.amazon import (
    APPLICATION_ID,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    MARKETPLACE_ID,
    REDIRECT_URI,
    Simulator,
    initial_refresh_token,
)
from synchub_pipelines.sandbox.amazon_render import amazon_order_id, fulfilled_by_amazon
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.world import Order as WorldOrder
from synchub_pipelines.sandbox.world import Seller, gtin13

ANCHOR = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
CLOCK_AT = ANCHOR + timedelta(hours=1)
FAST = HttpSettings(backoff_base_seconds=0.01, backoff_max_seconds=0.2, max_attempts=4)
OPERATIONS = (
    "listings",
    "listings.get",
    "listings.patch",
    "listings.put",
    "definitions",
    "definitions.search",
    "getOrder",
    "getOrders",
    "getOrderItems",
    "getOrder2026",
    "listFinancialEventsByOrderId",
    "listFinancialEvents",
    "confirmShipment",
    "submitInvoice",
    "getInvoiceStatus",
)
UNTHROTTLED = {f"amazon.{name}": 1000.0 for name in OPERATIONS}
PICTURE = "https://images.example.com.br/cam-azul-m.jpg"


def nfe_key(number: int) -> str:
    """A well-formed NF-e access key (SP, March 2025, model 55) with its mod-11 digit."""
    body = f"35250312345678000195550010{number:08d}1{number % 10**8:08d}"[:43]
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(body)))
    check = 11 - total % 11
    return body + str(0 if check >= 10 else check)


def nfe_xml(key: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<nfeProc xmlns="http://www.portalfiscal.inf.br/nfe" versao="4.00">'
        f'<NFe><infNFe Id="NFe{key}" versao="4.00"><ide><nNF>123</nNF></ide></infNFe></NFe>'
        f"<protNFe><infProt><chNFe>{key}</chNFe><cStat>100</cStat></infProt></protNFe>"
        "</nfeProc>"
    )


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with mock.patch.object(server, "SIMULATOR_MODULES", ("amazon",)):
        sandbox = Sandbox(
            SandboxConfig(seed=11, size="tiny", anchor=ANCHOR, rate_limits=UNTHROTTLED)
        )
    sandbox.clock.advance(CLOCK_AT.timestamp() - time.time())
    running = RunningSandbox(sandbox).start()
    yield running
    running.stop()


@pytest.fixture
def sandbox(running: RunningSandbox) -> Sandbox:
    return running.sandbox


@pytest.fixture
def simulator(sandbox: Sandbox) -> Simulator:
    found: Simulator = sandbox.simulators["amazon"]
    return found


@pytest.fixture
def seller(sandbox: Sandbox) -> Seller:
    (seller,) = sandbox.world.sellers_of("amazon")
    return seller


@pytest.fixture
def client(running: RunningSandbox, seller: Seller) -> Iterator[AmazonClient]:
    url = running.base_url("amazon")
    app = AmazonApp(
        client_id=LWA_CLIENT_ID,
        client_secret=SecretStr(LWA_CLIENT_SECRET),
        application_id=APPLICATION_ID,
        redirect_uri=REDIRECT_URI,
        marketplace_id=MARKETPLACE_ID,
        api_url=url,
        lwa_url=url,
        seller_central_url=url,
        rate_scale=1000.0,
        http=FAST,
    )
    store = Store.of("amazon", seller.seller_id, seller.nickname)
    lwa = app.new_lwa_http()
    tokens = app.connect_with_refresh_token(lwa, SecretStr(initial_refresh_token(seller.seller_id)))
    lwa.close()
    token_store = MemoryTokenStore()
    token_store.save(store.store_id, tokens)
    client = AmazonClient(app, store, token_store, "salt", clock=running.sandbox.clock.now)
    yield client
    client.close()


def _listings(client: AmazonClient) -> dict[str, Listing]:
    found: dict[str, Listing] = {}
    for page in client.iter_listings():
        assert page.rejects == []
        found |= {listing.listing_id: listing for listing in page.records}
    return found


def _draft(sku: str, **changes: Any) -> ListingDraft:
    fields: dict[str, Any] = {
        "seller_sku": sku,
        "title": "Garrafa Térmica Inox 500ml Azul",
        "description": "Mantém a bebida gelada por 24 horas.",
        "category_id": "BOTTLE",
        "attributes": {"color": "Azul", "capacity": "500 ml"},
        "pictures": (PICTURE, "https://images.example.com.br/garrafa-2.jpg"),
        "price": Decimal("89.90"),
        "quantity": 12,
        "brand": "Stanley",
        "gtin": gtin13("789100000123"),
    }
    return ListingDraft(**(fields | changes))


def test_the_client_implements_the_publishing_protocols(client: AmazonClient) -> None:
    assert isinstance(client, PublishingClient)
    assert isinstance(client, FulfilmentClient)


def test_prices_are_exact_json_numbers() -> None:
    body = encode_body({"v": [{"value_with_tax": Decimal("1234567.89")}], "q": 3})
    assert body == b'{"v":[{"value_with_tax":1234567.89}],"q":3}'


def test_created_listing_appears_in_the_reads_and_a_rerun_duplicates_nothing(
    client: AmazonClient, simulator: Simulator
) -> None:
    assert client.find_listing_by_seller_sku("GAR-NEW-1") is None
    before = simulator.write_count()
    created = client.create_listing(_draft("GAR-NEW-1"))
    assert (created.listing_id, created.status, created.variation_ids) == (
        "GAR-NEW-1",
        "ACCEPTED",
        {},
    )
    assert simulator.write_calls["putListingsItem"] >= 1
    assert simulator.write_count() == before + 1

    listed = _listings(client)["GAR-NEW-1"]
    assert listed.title == "Garrafa Térmica Inox 500ml Azul"
    assert (listed.price, listed.currency, listed.available_quantity) == (
        Decimal("89.90"),
        "BRL",
        12,
    )
    assert listed.gtin == gtin13("789100000123")
    assert listed.category_id == "BOTTLE"
    found = client.find_listing_by_seller_sku("GAR-NEW-1")
    assert found is not None and "BUYABLE" in found.status
    assert found.permalink is not None and found.permalink.startswith(
        "https://www.amazon.com.br/dp/B0"
    )

    # A crash between "created" and "recorded": the re-run rewrites the same SKU.
    count = len(_listings(client))
    client.create_listing(_draft("GAR-NEW-1"))
    assert len(_listings(client)) == count


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"category_id": "SPACESHIP"}, "4000003", "SPACESHIP"),
        ({"attributes": {"capacity": "500 ml"}}, "90220", "'color' is required"),
        ({"title": "Garrafa " * 30}, "4000001", "maximum length is '200'"),
        ({"title": "Garrafa Térmica FRETE GRÁTIS"}, "4000001", "frete grátis"),
        ({"pictures": ("http://images.example.com.br/x.jpg",)}, "4000001", "https URLs"),
        ({"gtin": "7891000001235"}, "4000001", "check digit"),
        ({"price": Decimal("2.50")}, "4000001", "minimum allowed price"),
        ({"pictures": ()}, "90220", "main_product_image_locator"),
    ],
)
def test_refusals_name_amazons_issue_and_create_nothing(
    client: AmazonClient, changes: dict[str, Any], code: str, words: str
) -> None:
    sku = f"GAR-BAD-{code}-{abs(hash(words)) % 10_000}"
    with pytest.raises(WriteRefused) as refused:
        client.create_listing(_draft(sku, **changes))
    assert refused.value.code == code
    assert words.casefold() in refused.value.detail.casefold()
    assert sku in refused.value.detail
    assert client.find_listing_by_seller_sku(sku) is None


def test_validation_preview_writes_nothing(client: AmazonClient, simulator: Simulator) -> None:
    before = simulator.write_count()
    assert client.validate_listing(_draft("GAR-PREVIEW")).status == "VALID"
    with pytest.raises(WriteRefused, match="90220"):
        client.validate_listing(_draft("GAR-PREVIEW", attributes={}))
    assert simulator.write_count() == before
    assert simulator.write_calls["putListingsItem:VALIDATION_PREVIEW"] >= 2
    assert client.find_listing_by_seller_sku("GAR-PREVIEW") is None


def _family(parent: str) -> ListingDraft:
    variations = tuple(
        VariationDraft(
            seller_sku=f"{parent}-{color[:3].upper()}-{size}",
            options={"Cor": color, "Tamanho": size},
            price=Decimal("59.90") + index,
            quantity=5 + index,
            gtin=gtin13(f"78920000{index:04d}"),
        )
        for index, (color, size) in enumerate([("Azul", "M"), ("Azul", "G"), ("Preto", "M")])
    )
    return ListingDraft(
        seller_sku=parent,
        title="Camiseta Básica Algodão",
        description="Camiseta 100% algodão.",
        category_id="SHIRT",
        pictures=(PICTURE,),
        price=Decimal("59.90"),
        quantity=0,
        brand="Malwee",
        variations=variations,
    )


def test_a_family_is_a_parent_and_children_priced_updated_and_paused(
    client: AmazonClient,
) -> None:
    draft = _family("CAM-FAM")
    assert variation_theme(draft.variations) == "COLOR/SIZE"
    created = client.create_listing(draft)
    children = [v.seller_sku for v in draft.variations]
    assert created.variation_ids == {sku: sku for sku in children}

    listed = _listings(client)
    assert [listed[sku].price for sku in children] == [
        Decimal("59.90"),
        Decimal("60.90"),
        Decimal("61.90"),
    ]
    assert [listed[sku].available_quantity for sku in children] == [5, 6, 7]
    assert listed["CAM-FAM-AZU-M"].title == "Camiseta Básica Algodão Azul M"
    found = client.find_listing_by_seller_sku("CAM-FAM")
    assert found is not None and found.variation_ids == created.variation_ids

    client.set_price("CAM-FAM", "CAM-FAM-AZU-G", Decimal("64.90"))
    client.update_listing("CAM-FAM", draft.model_copy(update={"title": "Camiseta Algodão Premium"}))
    listed = _listings(client)
    assert listed["CAM-FAM-AZU-G"].price == Decimal("64.90")
    assert listed["CAM-FAM-AZU-M"].price == Decimal("59.90")  # an update never touches price
    assert listed["CAM-FAM-AZU-M"].title == "Camiseta Algodão Premium Azul M"
    assert listed["CAM-FAM-AZU-M"].available_quantity == 5  # nor stock

    paused = client.set_listing_state("CAM-FAM", "paused")
    assert paused.status == "DISCOVERABLE"
    listed = _listings(client)
    assert [listed[sku].available_quantity for sku in children] == [0, 0, 0]
    assert all(sku in listed for sku in children)  # never deleted


def test_a_child_of_an_unknown_parent_and_a_bad_theme_are_refused(client: AmazonClient) -> None:
    draft = _family("CAM-THEME")
    odd = tuple(v.model_copy(update={"options": {"Estampa": "Listrada"}}) for v in draft.variations)
    with pytest.raises(WriteRefused, match="ESTAMPA"):
        client.create_listing(draft.model_copy(update={"variations": odd}))


def _order(sandbox: Sandbox, seller: Seller, status: str, afn: bool) -> WorldOrder:
    now = sandbox.clock.now()
    return next(
        o
        for o in sandbox.world.orders_of(seller)
        if o.status_at(now)[0] == status and fulfilled_by_amazon(o.order_number) == afn
    )


def _ref(order: WorldOrder, status: OrderStatus) -> OrderRef:
    return OrderRef(
        order_id=amazon_order_id(order.order_number),
        created_at=order.created_at,
        status=status,
        raw_status="Unshipped",
    )


def test_tracking_confirms_the_shipment_and_shows_in_the_reads(
    client: AmazonClient, sandbox: Sandbox, seller: Seller, simulator: Simulator
) -> None:
    order = _order(sandbox, seller, "paid", afn=False)
    order_id = amazon_order_id(order.order_number)
    tracking = Tracking(carrier="Correios", tracking_number="AD123456789BR")
    client.send_tracking(order_id, tracking)
    client.send_tracking(order_id, tracking)  # the same package again: an edit
    confirmations = [c for c in simulator.shipment_confirmations if c.order_id == order_id]
    assert [c.edit for c in confirmations] == [False, True]

    (read,) = client.get_orders([order_id]).records
    assert read.status is OrderStatus.SHIPPED
    facts = client.get_order_facts([_ref(order, OrderStatus.PAID)]).records
    (shipment,) = facts[0].shipments
    assert (shipment.carrier, shipment.tracking_number) == ("Correios", "AD123456789BR")
    assert shipment.status is ShipmentStatus.SHIPPED


def test_tracking_is_refused_for_cancelled_and_amazon_fulfilled_orders(
    client: AmazonClient, sandbox: Sandbox, seller: Seller
) -> None:
    tracking = Tracking(carrier="Jadlog", tracking_number="10203040506070")
    cancelled = _order(sandbox, seller, "cancelled", afn=False)
    with pytest.raises(WriteRefused, match="canceled") as refused:
        client.send_tracking(amazon_order_id(cancelled.order_number), tracking)
    assert refused.value.code == "InvalidInput"
    fba = _order(sandbox, seller, "paid", afn=True)
    with pytest.raises(WriteRefused, match="fulfilled by Amazon"):
        client.send_tracking(amazon_order_id(fba.order_number), tracking)


def test_invoice_needs_the_xml_and_is_sent_once(
    client: AmazonClient, sandbox: Sandbox, seller: Seller, simulator: Simulator
) -> None:
    order = _order(sandbox, seller, "paid", afn=False)
    order_id = amazon_order_id(order.order_number)
    key = nfe_key(order.order_number % 10**8)
    bare = Invoice(access_key=key, number="123", series="1", issued_at=CLOCK_AT)
    calls = simulator.write_calls["submitInvoice"]
    with pytest.raises(WriteRefused) as refused:
        client.send_invoice(order_id, bare)
    assert refused.value.code == "NFE_XML_REQUIRED"
    assert simulator.write_calls["submitInvoice"] == calls  # refused before any call

    invoice = bare.model_copy(update={"xml": nfe_xml(key)})
    client.send_invoice(order_id, invoice)
    status = client.get_invoice_status(order_id)
    assert [(i.id, i.status) for i in status.invoices] == [(key, "Accepted")]
    (read,) = client.get_orders([order_id]).records
    assert read.order_id == order_id
    client.send_invoice(order_id, invoice)  # already accepted: not sent again
    assert simulator.write_calls["submitInvoice"] == calls + 1


def test_invoice_with_a_broken_key_is_rejected(
    client: AmazonClient, sandbox: Sandbox, seller: Seller
) -> None:
    now = sandbox.clock.now()
    order = [
        o
        for o in sandbox.world.orders_of(seller)
        if o.status_at(now)[0] == "paid" and not fulfilled_by_amazon(o.order_number)
    ][-1]
    good = nfe_key(77)
    broken = good[:43] + str((int(good[43]) + 1) % 10)
    invoice = Invoice(
        access_key=broken, number="77", series="1", issued_at=CLOCK_AT, xml=nfe_xml(broken)
    )
    with pytest.raises(WriteRefused) as refused:
        client.send_invoice(amazon_order_id(order.order_number), invoice)
    assert refused.value.code == "Rejected"
    cancelled = _order(sandbox, seller, "cancelled", afn=False)
    key = nfe_key(78)
    with pytest.raises(WriteRefused, match="canceled"):
        client.send_invoice(
            amazon_order_id(cancelled.order_number),
            Invoice(access_key=key, number="78", series="1", issued_at=CLOCK_AT, xml=nfe_xml(key)),
        )


def test_product_type_requirements_come_from_the_definitions(client: AmazonClient) -> None:
    shirt = client.product_type_definition("SHIRT")
    assert {"item_name", "brand", "color", "size", "purchasable_offer"} <= set(shirt.required)
    assert "COLOR/SIZE" in shirt.variation_themes
    assert shirt.item_name_max_length == 200
    assert ("SHIRT", "Camisa") in client.search_product_types(["camiseta"])
