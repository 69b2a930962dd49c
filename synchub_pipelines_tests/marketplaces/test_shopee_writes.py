"""The Shopee client's publishing and fulfilment writes against the sandbox, over real HTTP
on loopback: created items read back through iter_listings, prices through the models,
invoice and tracking through the order and facts reads; every refusal surfaces as a
WriteRefused naming Shopee's code; retries never duplicate."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

import httpx
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
from synchub_pipelines.marketplaces.shopee import ShopeeClient
from synchub_pipelines.models import Listing, ListingStatus, OrderRef, ShipmentStatus
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.sandbox.shopee_render import (
    FBS_CHANNEL,
    SELLER_CHANNEL,
    Category,
    channel_of,
)
from synchub_pipelines.sandbox.world import Order as WorldOrder
from synchub_pipelines_tests.marketplaces.test_shopee_client import (
    Connected,
    _connect,
    _start,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64
_skus = count(1)


class _Pictures(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = {"/a.png": (PNG, "image/png"), "/b.jpg": (JPEG, "image/jpeg")}.get(self.path)
        if self.path == "/text.png":
            body = (b"not an image", "image/png")
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("content-type", body[1])
        self.send_header("content-length", str(len(body[0])))
        self.end_headers()
        self.wfile.write(body[0])

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pictures() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pictures)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    running = _start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def connected(running: RunningSandbox) -> Connected:
    return _connect(running)


@pytest.fixture
def client(connected: Connected) -> Iterator[ShopeeClient]:
    client = connected.client()
    yield client
    client.close()


def _writes(connected: Connected) -> Any:
    return connected.simulator.writes


def _leaf(connected: Connected, name: str = "Camisetas") -> Category:
    tree = connected.simulator.catalog.categories
    leaves = [c for c in tree.categories if not c.has_children]
    return next((c for c in leaves if c.name_pt == name), leaves[0])


def _required(category: Category) -> dict[str, str]:
    """The mandatory attributes' values as normalization hands them over: a listed value's
    Portuguese name, or a number with its unit."""
    values = {}
    for spec, mandatory in category.attributes:
        if not mandatory:
            continue
        if spec.values:
            values[str(spec.attribute_id)] = spec.values[0][1]
        else:
            unit = f" {spec.units[0]}" if spec.units else ""
            values[str(spec.attribute_id)] = f"{spec.sample}{unit}"
    return values


def _draft(connected: Connected, base: str, **changes: Any) -> ListingDraft:
    category = _leaf(connected)
    fields: dict[str, Any] = {
        "seller_sku": f"PUB-{next(_skus):04d}",
        "title": "Camiseta Básica Algodão Premium",
        "description": "Camiseta de algodão penteado, costura reforçada, caimento regular.",
        "category_id": str(category.category_id),
        "attributes": _required(category),
        "pictures": (f"{base}/a.png", f"{base}/b.jpg"),
        "price": Decimal("59.90"),
        "quantity": 7,
        "brand": "Marca Própria",
        "gtin": "7891234567895",
        "package_weight_kg": Decimal("0.25"),
        "package_dimensions_cm": (30, 20, 3),
    }
    fields.update(changes)
    return ListingDraft(**fields)


def _listings(client: ShopeeClient, item_id: str) -> list[Listing]:
    found = []
    for page in client.iter_listings():
        assert page.rejects == []
        found += [r for r in page.records if r.listing_id == item_id]
    return found


def _written(connected: Connected) -> int:
    return sum(_writes(connected).write_calls.values())


# --- publishing ----------------------------------------------------------------------------


def test_the_client_implements_both_protocols(client: ShopeeClient) -> None:
    assert isinstance(client, PublishingClient)
    assert isinstance(client, FulfilmentClient)


def test_created_item_reads_back_and_is_found_by_seller_sku(
    connected: Connected, client: ShopeeClient, pictures: str
) -> None:
    draft = _draft(connected, pictures)
    assert client.find_listing_by_seller_sku(draft.seller_sku) is None
    published = client.create_listing(draft)
    assert published.status == "NORMAL"
    assert published.variation_ids == {draft.seller_sku: ""}
    assert published.permalink is not None and published.listing_id in published.permalink
    [listing] = _listings(client, published.listing_id)
    assert (listing.seller_sku, listing.title, listing.gtin) == (
        draft.seller_sku,
        draft.title,
        draft.gtin,
    )
    assert (listing.price, listing.available_quantity) == (Decimal("59.90"), 7)
    assert listing.status == ListingStatus.ACTIVE
    assert listing.category_id == draft.category_id
    assert client.find_listing_by_seller_sku(draft.seller_sku) == published
    # What add_item carried: attributes by id (the names translated to value ids), images.
    item = _writes(connected).items[int(published.listing_id)]
    assert {a["attribute_id"] for a in item.attribute_list} == {int(a) for a in draft.attributes}
    assert all(v["value_id"] for a in item.attribute_list for v in a["attribute_value_list"])
    assert len(item.image_ids) == 2 and item.weight == Decimal("0.25")


def test_variations_become_tier_models_with_their_prices(
    connected: Connected, client: ShopeeClient, pictures: str
) -> None:
    parent = f"PUB-{next(_skus):04d}"
    variations = tuple(
        VariationDraft(
            seller_sku=f"{parent}-{color}-{size}",
            options={"Cor": color, "Tamanho": size},
            price=Decimal(price),
            quantity=qty,
            gtin=None,
            pictures=(f"{pictures}/b.jpg",) if color == "Azul" else (),
        )
        for color, size, price, qty in (
            ("Azul", "P", "49.90", 3),
            ("Azul", "M", "49.90", 4),
            ("Preto", "M", "54.90", 5),
        )
    )
    draft = _draft(connected, pictures, seller_sku=parent, variations=variations, gtin=None)
    published = client.create_listing(draft)
    assert set(published.variation_ids) == {v.seller_sku for v in variations}
    listings = {x.seller_sku: x for x in _listings(client, published.listing_id)}
    assert {sku: (x.price, x.available_quantity) for sku, x in listings.items()} == {
        v.seller_sku: (v.price, v.quantity) for v in variations
    }
    black = variations[2].seller_sku
    client.set_price(published.listing_id, published.variation_ids[black], Decimal("44.50"))
    listings = {x.seller_sku: x for x in _listings(client, published.listing_id)}
    assert listings[black].price == Decimal("44.50")
    assert listings[variations[0].seller_sku].price == Decimal("49.90")
    # The stock push keeps created items like any other.
    [result] = client.update_stock(published.listing_id, [(published.variation_ids[black], 9)])
    assert result.ok
    assert {x.seller_sku: x for x in _listings(client, published.listing_id)}[
        black
    ].available_quantity == 9
    with pytest.raises(WriteRefused) as no_model:
        client.set_price(published.listing_id, "123", Decimal("40"))
    assert "Wrong model_id" in no_model.value.detail
    with pytest.raises(WriteRefused) as item_level:
        client.set_price(published.listing_id, "", Decimal("40"))
    assert item_level.value.code == "error_edit_item_price_for_item_has_model"


def test_update_listing_changes_content_never_price(
    connected: Connected, client: ShopeeClient, pictures: str
) -> None:
    draft = _draft(connected, pictures)
    published = client.create_listing(draft)
    changed = draft.model_copy(
        update={"title": "Camiseta Básica Algodão Premium Nova Coleção", "price": Decimal("99")}
    )
    client.update_listing(published.listing_id, changed)
    [listing] = _listings(client, published.listing_id)
    assert listing.title == changed.title
    assert listing.price == Decimal("59.90")


def test_pause_close_and_reactivate_unlist_never_delete(
    connected: Connected, client: ShopeeClient, pictures: str
) -> None:
    published = client.create_listing(_draft(connected, pictures))
    assert client.set_listing_state(published.listing_id, "paused").status == "UNLIST"
    [listing] = _listings(client, published.listing_id)
    assert listing.status == ListingStatus.PAUSED
    assert client.set_listing_state(published.listing_id, "active").status == "NORMAL"
    assert client.set_listing_state(published.listing_id, "closed").status == "UNLIST"
    assert "/api/v2/product/delete_item" not in _writes(connected).write_calls


def test_a_retried_add_item_finds_the_first_attempt_instead_of_duplicating(
    connected: Connected, pictures: str
) -> None:
    """The gateway fails the first add_item after the item was created (a timeout after the
    API acted): the retry looks the SKU up and reports that item."""
    failed: list[str] = []

    class _LoseFirstAnswer(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.url.path.endswith("/add_item") and not failed:
                failed.append(request.url.path)
                response.read()
                return httpx.Response(502, text="Bad Gateway")
            return response

    app = connected.app
    http = app.new_http(_LoseFirstAnswer(), shop_id=connected.store.seller_id)
    client = ShopeeClient(app, connected.store, connected.token_store, "salt", http=http)
    draft = _draft(connected, pictures)
    before = _writes(connected).write_calls["/api/v2/product/add_item"]
    published = client.create_listing(draft)
    assert failed
    assert _writes(connected).write_calls["/api/v2/product/add_item"] == before + 1
    items = [i for i in _writes(connected).items.values() if i.item_sku == draft.seller_sku]
    assert [str(i.item_id) for i in items] == [published.listing_id]
    client.close()


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"category_id": "parent"}, "error_invalid_category", "Invalid category"),
        ({"attributes": {}}, "error_less_required_attribute", "Mandatory attribute"),
        ({"title": "Camiseta " * 20}, "error_title_exceeds_max_length", "max limit"),
        ({"title": "Camiseta réplica de marca"}, "error_title_character_forbidden", "forbidden"),
        ({"gtin": "7891234567890"}, "error_param_validate", "GTIN"),
        ({"price": Decimal("0.50")}, "error_price_exceed_min_limitt", "min price"),
        ({"package_weight_kg": None}, "error_param", "Invalid Weight."),
        ({"description": "curta"}, "error_desc_length_min_limit", "Description"),
    ],
)
def test_refusals_name_shopees_code_and_create_nothing(
    connected: Connected,
    client: ShopeeClient,
    pictures: str,
    change: dict[str, Any],
    code: str,
    words: str,
) -> None:
    if change.get("category_id") == "parent":
        tree = connected.simulator.catalog.categories
        change = {
            "category_id": str(next(c for c in tree.categories if c.has_children).category_id)
        }
    draft = _draft(connected, pictures, **change)
    items_before = len(_writes(connected).items)
    with pytest.raises(WriteRefused) as refused:
        client.create_listing(draft)
    assert refused.value.code == code
    assert words in refused.value.detail
    assert len(_writes(connected).items) == items_before
    assert client.find_listing_by_seller_sku(draft.seller_sku) is None


def test_a_bad_picture_url_is_refused_before_any_item_write(
    connected: Connected, client: ShopeeClient, pictures: str
) -> None:
    before = _writes(connected).write_calls["/api/v2/product/add_item"]
    with pytest.raises(WriteRefused) as missing:
        client.create_listing(_draft(connected, pictures, pictures=(f"{pictures}/gone.png",)))
    assert missing.value.code == "client.picture_unreadable"
    with pytest.raises(WriteRefused) as not_image:
        client.create_listing(_draft(connected, pictures, pictures=(f"{pictures}/text.png",)))
    assert not_image.value.code == "error_param"
    assert "Invalid image format" in not_image.value.detail
    assert _writes(connected).write_calls["/api/v2/product/add_item"] == before


# --- fulfilment ----------------------------------------------------------------------------


def _orders(
    connected: Connected, status: str, channel: tuple[int, str], required: bool = True
) -> list[WorldOrder]:
    sim = connected.simulator
    shop = sim.shops[int(connected.store.seller_id)]
    index = sim._order_index(shop)
    now = int(sim.clock.time())
    found = []
    for number, order in sorted(index.by_number.items()):
        step = index.step_at(number, now)
        # One line, one package: no package_number needed.
        if (
            step >= 0
            and order.timeline[step][0] == status
            and channel_of(order) == channel
            and len(order.lines) == 1
        ):
            found.append(order)
    assert found or not required, f"no {status} order on {channel} in the sandbox"
    return found


def _sn(connected: Connected, order: WorldOrder) -> str:
    sim = connected.simulator
    return str(sim._order_index(sim.shops[int(connected.store.seller_id)]).sn(order))


def access_key(number: int, series: int = 1, cnpj: str = "12345678000195") -> str:
    body = f"35{datetime.now(UTC):%y%m}{cnpj}55{series:03d}{number:09d}1{number * 7 % 10**8:08d}"
    weights = [2 + i % 8 for i in range(43)]
    total = sum(int(d) * w for d, w in zip(reversed(body), weights, strict=True))
    digit = 11 - total % 11
    return body + str(0 if digit >= 10 else digit)


def _invoice(number: int, issued: datetime) -> Invoice:
    return Invoice(
        access_key=access_key(number),
        number=f"{number:09d}",
        series="001",
        issued_at=issued,
        total_amount=None,
    )


def test_invoice_then_tracking_show_in_the_order_and_shipment_reads(
    connected: Connected, client: ShopeeClient
) -> None:
    order = _orders(connected, "paid", SELLER_CHANNEL)[0]
    sn = _sn(connected, order)
    issued = datetime.fromtimestamp(connected.app.clock(), tz=UTC) - timedelta(hours=1)
    invoice = _invoice(1001, issued)
    client.send_invoice(sn, invoice)
    [raw] = client._detail_raws([sn], ("invoice_data", "total_amount"))
    assert raw["invoice_data"]["access_key"] == invoice.access_key
    assert raw["invoice_data"]["total_value"] == raw["total_amount"]
    writes = _written(connected)
    client.send_invoice(sn, invoice)  # a rerun: already there, nothing written
    assert _written(connected) == writes
    with pytest.raises(WriteRefused) as twice:
        client.send_invoice(sn, _invoice(1002, issued))
    assert twice.value.detail == "The invoice status is invalid to upload invoice data."

    client.send_tracking(sn, Tracking(carrier="Jadlog", tracking_number="JD123456789BR"))
    [fresh] = client.get_orders([sn]).records
    assert fresh.raw_status == "PROCESSED"
    ref = OrderRef(
        order_id=sn, created_at=fresh.created_at, status=fresh.status, raw_status="PROCESSED"
    )
    [facts] = client.get_order_facts([ref]).records
    [shipment] = facts.shipments
    assert shipment.tracking_number == "JD123456789BR"
    assert shipment.status == ShipmentStatus.READY_TO_SHIP
    writes = _written(connected)
    client.send_tracking(sn, Tracking(carrier="Jadlog", tracking_number="JD123456789BR"))
    assert _written(connected) == writes


def test_illegal_fulfilment_transitions_are_refused(
    connected: Connected, client: ShopeeClient
) -> None:
    cancelled = _sn(connected, _orders(connected, "cancelled", SELLER_CHANNEL)[0])
    with pytest.raises(WriteRefused) as no_tracking:
        client.send_tracking(cancelled, Tracking(carrier="Jadlog", tracking_number="JD9"))
    assert no_tracking.value.code == "logistics.error_order_state"
    issued = datetime.fromtimestamp(connected.app.clock(), tz=UTC) - timedelta(hours=1)
    with pytest.raises(WriteRefused) as no_invoice:
        client.send_invoice(
            cancelled, _invoice(2001, issued).model_copy(update={"total_amount": Decimal("10")})
        )
    assert (no_invoice.value.code, no_invoice.value.detail) == (
        "error_status",
        "The order has been cancelled.",
    )
    integrated = _orders(connected, "paid", (90024, "Shopee Xpress"))[0]
    with pytest.raises(WriteRefused) as own_label:
        client.send_tracking(
            _sn(connected, integrated), Tracking(carrier="X", tracking_number="X1")
        )
    assert own_label.value.code == "client.integrated_channel"
    fbs = _orders(connected, "paid", FBS_CHANNEL, required=False)
    if fbs:
        with pytest.raises(WriteRefused) as by_shopee:
            client.send_tracking(
                _sn(connected, fbs[0]), Tracking(carrier="X", tracking_number="X2")
            )
        assert by_shopee.value.code == "logistics.error_method"
