"""Mercado Livre publishing, fulfilment and answers: the client against the sandbox over HTTP.

Each write is read back through the client's ordinary reads (iter_listings, get_shipments,
get_questions) or plain HTTP; refusals must surface as WriteRefused naming ML's cause code,
and leave nothing behind. Expectations come from the World and from ML's documented rules,
not from the simulator's helpers.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from synchub_pipelines.marketplaces.publishing import (
    AnswersClient,
    FulfilmentClient,
    Invoice,
    ListingDraft,
    PublishingClient,
    Tracking,
    VariationDraft,
    WriteRefused,
)
from synchub_pipelines.models import Listing, ListingStatus, Shipment, ShipmentStatus
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.sandbox.world import Listing as WorldListing
from synchub_pipelines_tests.conftest import ANCHOR
from synchub_pipelines_tests.marketplaces.test_mercadolivre_client import (
    Connected,
    connect,
    set_clock,
)
from synchub_pipelines_tests.sandbox.test_mercadolivre_contract import bearer

# The sandbox's leaves (documented in /work/notes/publishing-mercadolivre.md): T-shirts need
# BRAND and SIZE, thermal bottles only BRAND; MLB1430 is a parent category.
TSHIRTS, BOTTLES, PARENT = "MLB31447", "MLB264811", "MLB1430"
LOGISTIC_TYPES = (
    "fulfillment", "fulfillment", "drop_off", "drop_off", "drop_off",
    "xd_drop_off", "xd_drop_off", "cross_docking", "cross_docking", "self_service",
)  # fmt: skip


def gtin13(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def nfe_key(number: int, series: int = 1) -> str:
    """An NF-e access key (SP, 2026-03, model 55) with its mod-11 check digit."""
    body = f"35{2603}{12345678000199:014d}55{series:03d}{number:09d}1{87654321:08d}"
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(body)))
    rest = total % 11
    return body + str(0 if rest < 2 else 11 - rest)


def logistic_type(listing_number: int) -> str:
    return LOGISTIC_TYPES[zlib.crc32(f"logistic:{listing_number}".encode()) % 10]


@pytest.fixture
def ml(sandbox: RunningSandbox) -> Iterator[Connected]:
    set_clock(sandbox, ANCHOR)
    connected = connect(sandbox)
    yield connected
    connected.client.close()


def api(ml: Connected) -> httpx.Client:
    token = ml.tokens.load(ml.store.store_id)
    assert token is not None
    client = httpx.Client(base_url=ml.running.base_url("mercadolivre"), timeout=10)
    client.headers.update(bearer({"access_token": token.access_token.get_secret_value()}))
    return client


def writes(ml: Connected) -> int:
    return sum(ml.running.sandbox.simulators["mercadolivre"].write_calls.values())


def listings(ml: Connected) -> list[Listing]:
    out: list[Listing] = []
    for page in ml.client.iter_listings():
        assert page.rejects == []
        out += page.records
    return out


def bottle(sku: str = "GAR-NEW-01", **kw: Any) -> ListingDraft:
    fields: dict[str, Any] = {
        "seller_sku": sku,
        "title": "Garrafa Térmica Inox 750ml",
        "description": "Mantém a bebida quente por 12 horas.\nTampa rosqueável.",
        "category_id": BOTTLES,
        "attributes": {"MATERIAL": "Aço inox"},
        "pictures": ("https://cdn.example.com/garrafa-1.jpg",),
        "price": Decimal("89.90"),
        "quantity": 12,
        "brand": "Stanley",
        "gtin": gtin13("789100000001"),
        **kw,
    }
    return ListingDraft(**fields)


def tshirt() -> ListingDraft:
    variations = tuple(
        VariationDraft(
            seller_sku=f"CAM-NEW-{color[:3].upper()}-{size}",
            options={"Cor": color, "Tamanho": size},
            price=Decimal("49.90"),
            quantity=5,
            gtin=gtin13(f"78910000{index:04d}"),
            pictures=(f"https://cdn.example.com/camiseta-{color.lower()}.png",),
        )
        for index, (color, size) in enumerate(
            [("Preto", "P"), ("Preto", "M"), ("Branco", "M")], start=10
        )
    )
    return ListingDraft(
        seller_sku="CAM-NEW",
        title="Camiseta Algodão Premium",
        description="100% algodão.",
        category_id=TSHIRTS,
        pictures=("https://cdn.example.com/camiseta.jpg",),
        price=Decimal("49.90"),
        quantity=15,
        brand="Malwee",
        variations=variations,
    )


# --- listings ----------------------------------------------------------------------------


def test_the_client_speaks_the_publishing_protocols(ml: Connected) -> None:
    assert isinstance(ml.client, PublishingClient)
    assert isinstance(ml.client, FulfilmentClient)
    assert isinstance(ml.client, AnswersClient)


def test_create_a_listing_then_read_it_everywhere(ml: Connected) -> None:
    draft = bottle()
    assert ml.client.find_listing_by_seller_sku(draft.seller_sku) is None
    before = writes(ml)

    created = ml.client.create_listing(draft)

    assert writes(ml) == before + 2  # the item, then its description
    assert created.status == "active" and created.listing_id.startswith("MLB")
    assert ml.client.find_listing_by_seller_sku(draft.seller_sku) == created
    (listing,) = [x for x in listings(ml) if x.listing_id == created.listing_id]
    assert (listing.seller_sku, listing.gtin, listing.price) == (
        draft.seller_sku,
        draft.gtin,
        Decimal("89.90"),
    )
    assert (listing.available_quantity, listing.category_id) == (12, BOTTLES)
    assert listing.status == ListingStatus.ACTIVE
    with api(ml) as http:
        item = http.get(f"/items/{created.listing_id}").json()
        description = http.get(f"/items/{created.listing_id}/description").json()
    assert [p["source"] for p in item["pictures"]] == list(draft.pictures)
    attrs = {a["id"]: a["value_name"] for a in item["attributes"]}
    assert attrs["BRAND"] == "Stanley" and attrs["MATERIAL"] == "Aço inox"
    assert (item["listing_type_id"], item["condition"]) == ("gold_special", "new")
    assert description["plain_text"] == draft.description


def test_create_with_variations_maps_every_sku(ml: Connected) -> None:
    draft = tshirt()
    created = ml.client.create_listing(draft)

    assert set(created.variation_ids) == {v.seller_sku for v in draft.variations}
    rows = {x.seller_sku: x for x in listings(ml) if x.listing_id == created.listing_id}
    assert set(rows) == set(created.variation_ids)
    for variation in draft.variations:
        row = rows[variation.seller_sku]
        assert row.variation_id == created.variation_ids[variation.seller_sku]
        assert (row.price, row.available_quantity, row.gtin) == (
            Decimal("49.90"),
            5,
            variation.gtin,
        )
    # The parent SKU finds the item too, so a rerun never creates it twice.
    assert ml.client.find_listing_by_seller_sku("CAM-NEW") == created
    with api(ml) as http:
        item = http.get(f"/items/{created.listing_id}").json()
    combos = {
        tuple(sorted((c["id"], c["value_name"]) for c in v["attribute_combinations"]))
        for v in item["variations"]
    }
    assert (("COLOR", "Preto"), ("SIZE", "M")) in combos
    assert all(v["picture_ids"] for v in item["variations"])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"category_id": PARENT}, "item.category_id.invalid"),
        ({"brand": None}, "item.attributes.missing_required"),
        ({"title": "Garrafa Térmica " + "x" * 50}, "item.title.length.invalid"),
        ({"title": "Garrafa Térmica Réplica Stanley"}, "item.title.forbidden_words"),
        ({"pictures": ("ftp://cdn.example.com/a.jpg",)}, "item.pictures.invalid"),
        ({"pictures": ("https://example.com/page.html",)}, "item.pictures.invalid"),
        ({"gtin": "7891000000012"}, "item.attribute.gtin.invalid"),
        ({"price": Decimal("7.99")}, "item.price.invalid"),
    ],
)
def test_refusals_name_the_cause_and_create_nothing(
    ml: Connected, change: dict[str, Any], code: str
) -> None:
    draft = bottle(**change)
    with pytest.raises(WriteRefused) as caught:
        ml.client.create_listing(draft)
    assert caught.value.code == code
    assert caught.value.status == 400
    assert ml.client.find_listing_by_seller_sku(draft.seller_sku) is None


def test_missing_size_on_a_sized_category_is_refused(ml: Connected) -> None:
    draft = tshirt()
    no_size = tuple(
        v.model_copy(update={"options": {"Cor": v.options["Cor"]}}) for v in draft.variations[:1]
    )
    with pytest.raises(WriteRefused) as caught:
        ml.client.create_listing(draft.model_copy(update={"variations": no_size}))
    assert caught.value.code == "item.attributes.missing_required"
    assert "[SIZE]" in caught.value.detail


def test_update_changes_content_but_not_the_title_of_a_sold_item(ml: Connected) -> None:
    created = ml.client.create_listing(bottle())
    changed = bottle(
        title="Garrafa Térmica Inox 750ml Preta",
        description="Nova descrição.",
        pictures=("https://cdn.example.com/garrafa-2.jpg", "https://cdn.example.com/g3.webp"),
        attributes={"MATERIAL": "Aço inox 304"},
    )
    ml.client.update_listing(created.listing_id, changed)
    with api(ml) as http:
        item = http.get(f"/items/{created.listing_id}").json()
        text = http.get(f"/items/{created.listing_id}/description").json()["plain_text"]
        assert item["title"] == changed.title
        assert [p["source"] for p in item["pictures"]] == list(changed.pictures)
        assert {a["id"]: a["value_name"] for a in item["attributes"]}["MATERIAL"] == "Aço inox 304"
        assert text == "Nova descrição."
        assert item["price"] == 89.9 and item["available_quantity"] == 12  # never touched
        sale = http.post("/_sandbox/sales", json={"item_id": created.listing_id, "quantity": 1})
        assert sale.status_code == 201, sale.text

    ml.client.update_listing(created.listing_id, bottle(title="Outro título qualquer"))
    with api(ml) as http:
        item = http.get(f"/items/{created.listing_id}").json()
    assert item["title"] == changed.title  # ML keeps the title of an item that sold
    assert [p["source"] for p in item["pictures"]] == list(bottle().pictures)


def test_update_keeps_every_variation(ml: Connected) -> None:
    draft = tshirt()
    created = ml.client.create_listing(draft)
    first = draft.variations[0]
    new_gtin = gtin13("789100009999")
    updated = draft.model_copy(
        update={"variations": (first.model_copy(update={"gtin": new_gtin}),)}
    )
    result = ml.client.update_listing(created.listing_id, updated)
    assert result.variation_ids == created.variation_ids
    rows = {x.seller_sku: x for x in listings(ml) if x.listing_id == created.listing_id}
    assert len(rows) == 3 and rows[first.seller_sku].gtin == new_gtin


def test_states_pause_close_and_closed_is_final(ml: Connected) -> None:
    created = ml.client.create_listing(bottle())
    assert ml.client.set_listing_state(created.listing_id, "paused").status == "paused"
    row = next(x for x in listings(ml) if x.listing_id == created.listing_id)
    assert row.status == ListingStatus.PAUSED
    before = writes(ml)
    assert ml.client.set_listing_state(created.listing_id, "paused").status == "paused"
    assert writes(ml) == before  # already paused: nothing written
    assert ml.client.set_listing_state(created.listing_id, "closed").status == "closed"
    with pytest.raises(WriteRefused) as caught:
        ml.client.set_listing_state(created.listing_id, "active")
    assert caught.value.code == "item.closed.not_modifiable"
    row = next(x for x in listings(ml) if x.listing_id == created.listing_id)
    assert row.status == ListingStatus.CLOSED
    # A closed listing is history: a new one for the SKU is what the lookup returns.
    again = ml.client.create_listing(bottle())
    assert ml.client.find_listing_by_seller_sku(bottle().seller_sku) == again


def test_prices_move_the_item_and_respect_the_floor(ml: Connected) -> None:
    single = ml.client.create_listing(bottle())
    ml.client.set_price(single.listing_id, "", Decimal("99.50"))
    multi = ml.client.create_listing(tshirt())
    some_variation = next(iter(multi.variation_ids.values()))
    ml.client.set_price(multi.listing_id, some_variation, Decimal("59.00"))

    prices = {(x.listing_id, x.variation_id): x.price for x in listings(ml)}
    assert prices[(single.listing_id, "")] == Decimal("99.50")
    assert {prices[(multi.listing_id, v)] for v in multi.variation_ids.values()} == {
        Decimal("59.00")
    }
    with pytest.raises(WriteRefused) as caught:
        ml.client.set_price(single.listing_id, "", Decimal("5"))
    assert caught.value.code == "item.price.invalid"
    with pytest.raises(WriteRefused):
        ml.client.set_price(multi.listing_id, "1", Decimal("60"))
    assert {x.price for x in listings(ml) if x.listing_id == single.listing_id} == {
        Decimal("99.50")
    }


# --- fulfilment ----------------------------------------------------------------------------


def own_listings(ml: Connected) -> list[WorldListing]:
    return ml.running.sandbox.world.listings_of(ml.seller)


def sell(ml: Connected, listing: WorldListing) -> str:
    variation = next(v for v in listing.variations if v.available_quantity > 0)
    body = {
        "item_id": f"MLB{listing.listing_number}",
        "variation_id": variation.variation_number,
        "quantity": 1,
    }
    with api(ml) as http:
        sale = http.post("/_sandbox/sales", json=body)
    assert sale.status_code == 201, sale.text
    return str(sale.json()["id"])


def shipment_of(ml: Connected, order_id: str) -> Shipment:
    with api(ml) as http:
        shipment_id = http.get(f"/orders/{order_id}").json()["shipping"]["id"]
    page = ml.client.get_shipments([str(shipment_id)])
    assert page.rejects == []
    (shipment,) = page.records
    return shipment


def me1_sale(ml: Connected) -> str:
    created = ml.client.create_listing(bottle(quantity=5))
    with api(ml) as http:
        put = http.put(f"/items/{created.listing_id}", json={"shipping": {"mode": "me1"}})
        assert put.status_code == 200, put.text
    listing = ml.running.sandbox.world.listings_by_number[int(created.listing_id[3:])]
    return sell(ml, listing)


def test_tracking_of_an_me1_sale_shows_in_the_shipment(ml: Connected) -> None:
    order_id = me1_sale(ml)
    waiting = shipment_of(ml, order_id)
    assert (waiting.status, waiting.tracking_number) == (ShipmentStatus.READY_TO_SHIP, None)
    tracking = Tracking(carrier="Sedex", tracking_number="OP123456789BR")
    before = writes(ml)

    ml.client.send_tracking(order_id, tracking)

    shipment = shipment_of(ml, order_id)
    assert (shipment.status, shipment.tracking_number, shipment.carrier) == (
        ShipmentStatus.SHIPPED,
        "OP123456789BR",
        "Sedex",
    )
    assert shipment.shipped_at is not None
    assert writes(ml) == before + 1
    ml.client.send_tracking(order_id, tracking)  # a rerun
    assert writes(ml) == before + 1


def test_tracking_refusals(ml: Connected) -> None:
    order_id = me1_sale(ml)
    with pytest.raises(WriteRefused) as caught:
        ml.client.send_tracking(order_id, Tracking(carrier="Pombo-correio", tracking_number="X1"))
    assert caught.value.code == "shipment.service_id.unknown"
    ml.running.sandbox.world.advance_order(
        ml.running.sandbox.world.orders_by_number[int(order_id)],
        "cancelled",
        ml.running.sandbox.clock.now(),
    )
    with pytest.raises(WriteRefused) as caught:
        ml.client.send_tracking(order_id, Tracking(carrier="PAC", tracking_number="X1"))
    assert caught.value.code == "shipment.status.cancelled"
    me2 = next(lst for lst in own_listings(ml) if logistic_type(lst.listing_number) == "drop_off")
    me2_order = sell(ml, me2)
    with pytest.raises(WriteRefused) as caught:
        ml.client.send_tracking(me2_order, Tracking(carrier="PAC", tracking_number="X2"))
    assert caught.value.code == "shipment.mode.invalid"
    assert shipment_of(ml, me2_order).tracking_number != "X2"


def invoice(number: int) -> Invoice:
    return Invoice(
        access_key=nfe_key(number),
        number=str(number),
        series="1",
        issued_at=datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        total_amount=Decimal("89.90"),
    )


def test_invoice_unlocks_the_label_once(ml: Connected) -> None:
    listing = next(
        lst
        for lst in own_listings(ml)
        if logistic_type(lst.listing_number) in {"drop_off", "cross_docking"}
        and any(v.available_quantity for v in lst.variations)
    )
    order_id = sell(ml, listing)
    assert shipment_of(ml, order_id).raw_status == "ready_to_ship/invoice_pending"
    before = writes(ml)

    ml.client.send_invoice(order_id, invoice(1234))

    assert shipment_of(ml, order_id).raw_status == "ready_to_ship/ready_to_print"
    assert writes(ml) == before + 1
    ml.client.send_invoice(order_id, invoice(1234))  # a rerun writes nothing
    assert writes(ml) == before + 1
    with pytest.raises(WriteRefused) as caught:
        ml.client.send_invoice(order_id, invoice(999))
    assert caught.value.code == "invoice.already_exists"


def test_invoice_refusals(ml: Connected) -> None:
    now = ml.running.sandbox.clock.now()
    full = next(
        order
        for order in ml.running.sandbox.world.orders_of(ml.seller)
        if logistic_type(order.lines[0].listing_number) == "fulfillment"
        and order.visible_at(now)
        and order.status_at(now)[0] in {"paid", "shipped", "delivered"}
    )
    with pytest.raises(WriteRefused) as caught:
        ml.client.send_invoice(str(full.order_number), invoice(1))
    assert caught.value.code == "invoice.logistic_type.invalid"
    order_id = me1_sale(ml)
    bad = invoice(2).model_copy(update={"access_key": nfe_key(2)[:-1] + "0"})
    if bad.access_key == nfe_key(2):
        bad = invoice(2).model_copy(update={"access_key": nfe_key(2)[:-1] + "1"})
    with pytest.raises(WriteRefused) as caught:
        ml.client.send_invoice(order_id, bad)
    assert caught.value.code == "invoice.fiscal_key.invalid"
    world = ml.running.sandbox.world
    world.advance_order(
        world.orders_by_number[int(order_id)], "cancelled", ml.running.sandbox.clock.now()
    )
    with pytest.raises(WriteRefused) as caught:
        ml.client.send_invoice(order_id, invoice(2))
    assert caught.value.code == "shipment.status.cancelled"


# --- answers -------------------------------------------------------------------------------


def ask(ml: Connected, item_id: str) -> str:
    with api(ml) as http:
        asked = http.post("/_sandbox/questions", json={"item_id": item_id, "text": "Tem azul?"})
    assert asked.status_code == 201, asked.text
    return str(asked.json()["id"])


def test_answer_moves_the_question_to_answered(ml: Connected) -> None:
    item = f"MLB{own_listings(ml)[0].listing_number}"
    question_id = ask(ml, item)
    ml.running.sandbox.clock.advance(1800)
    before = writes(ml)

    ml.client.answer_question(question_id, "Olá! Temos sim.")

    (question,) = ml.client.get_questions([question_id]).records
    assert question.status == "ANSWERED" and question.answer_length == len("Olá! Temos sim.")
    assert question.answered_at is not None
    assert question.answered_at - question.asked_at >= timedelta(minutes=30)
    ml.client.answer_question(question_id, "Olá! Temos sim.")  # a rerun
    assert writes(ml) == before + 1
    with pytest.raises(WriteRefused) as caught:
        ml.client.answer_question(question_id, "Outra resposta")
    assert caught.value.code == "question.status.answered"


def test_answer_refusals(ml: Connected) -> None:
    question_id = ask(ml, f"MLB{own_listings(ml)[0].listing_number}")
    with pytest.raises(WriteRefused) as caught:
        ml.client.answer_question(question_id, "x" * 2001)
    assert caught.value.code == "answer.text.max_length"
    book = ml.running.sandbox.simulators["mercadolivre"].questions
    deleted = next(
        q
        for q in book.by_id.values()
        if q.plan == "deleted" and q.asked_at <= ml.running.sandbox.clock.now()
    )
    deleted_seller = ml.running.sandbox.world.listings_by_number[deleted.listing.listing_number]
    if deleted_seller.seller != ml.seller:
        pytest.skip("no deleted question of this seller in the tiny world")
    with pytest.raises(WriteRefused) as caught:
        ml.client.answer_question(str(deleted.question_id), "Olá")
    assert caught.value.code == "question.status.invalid"


def test_reads_make_no_write_calls(ml: Connected) -> None:
    before = writes(ml)
    ml.client.find_listing_by_seller_sku(own_listings(ml)[0].variations[0].sku or "X")
    listings(ml)
    assert writes(ml) == before
