"""Mercado Livre money, shipments and settlement: the documented example payloads, then the
client against the sandbox over HTTP.

Expected values are read off the saved payloads by hand, or computed from the sandbox World
(its orders, timelines and the rules the simulator documents), never through the parsers
or the simulator's rendering helpers.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from synchub_pipelines.marketplaces.mercadolivre import (
    ML_ORDER,
    MercadoLivreClient,
    MLShipment,
    MLShipmentCosts,
    MPPayment,
    order_from_ml,
    parse_orders,
    release,
    seller_shipping,
    settlement_from_ml,
    shipment_events,
    shipment_from_ml,
)
from synchub_pipelines.models import (
    FeeLine,
    LogisticMode,
    Order,
    OrderFacts,
    OrderRef,
    OrderStatus,
    ShipmentStatus,
    StatusEvent,
    Store,
)
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.sandbox.world import Order as WorldOrder
from synchub_pipelines_tests.conftest import ANCHOR, PAYLOADS
from synchub_pipelines_tests.marketplaces.test_mercadolivre_client import (
    Connected,
    connect,
    set_clock,
)
from synchub_pipelines_tests.sandbox.test_mercadolivre_contract import (
    expected_coupon,
    expected_line_fee,
)

ML = PAYLOADS / "mercadolivre"
SALT = "test-salt"
STORE = Store.of("mercadolivre", "478055419", "Loja teste", timezone="America/Sao_Paulo")
SELLER = 478055419


def load(name: str) -> Any:
    return json.loads((ML / name).read_text(encoding="utf-8"))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def order_doc() -> dict[str, Any]:
    return dict(load("order_GET_orders_id_doc_example.json"))


# --- the order's own money -------------------------------------------------------------------


def test_doc_order_money_to_the_cent(order_doc: dict[str, Any]) -> None:
    order = order_from_ml(ML_ORDER.validate_python(order_doc), STORE, SALT)

    (line,) = order.items
    assert line.line_ref == "MLB2608564035:174390848694"  # item_id:variation_id
    assert (line.unit_price, line.quantity, line.line_amount) == (Decimal(50), 1, Decimal(50))
    assert line.fee == Decimal(12)
    assert order.items_amount == Decimal(50)
    assert order.discount_amount == Decimal(0)  # coupon.amount
    assert order.shipping_paid_by_buyer == Decimal(0)  # approved payment's shipping_cost
    assert order.total_amount == Decimal(50)  # total_paid_amount
    assert order.fee_amount == Decimal(12)
    assert order.fees == (
        FeeLine(fee_type="sale_fee", amount=Decimal(12), line_ref="MLB2608564035:174390848694"),
    )
    assert order.refund_amount == Decimal(0)
    # Settlement is not on the order: nothing says so on a plain order read.
    assert (order.payout_amount, order.fees_final, order.seller_shipping_cost) == (None,) * 3
    assert order.status_events == (
        StatusEvent(status=OrderStatus.PENDING, at=utc("2022-04-08T17:01:30.000-04:00")),
        StatusEvent(
            status=OrderStatus.PAID, at=utc("2022-04-08T17:01:32.000-04:00"), raw_status="paid"
        ),
    )


def test_sale_fee_is_per_unit_and_matches_the_payments_marketplace_fee(
    order_doc: dict[str, Any],
) -> None:
    # The figures of a documented-format order quoted by an integrator (2 × 59.90, sale_fee
    # 7.19, payments[].marketplace_fee 14.38) and of a 2025 MLB order (6 × 39.52, sale_fee
    # 14.01 = 19 % of 39.52 + the R$6.50 fixed fee per unit): per line they would be 6 % of
    # the sale, below any ML commission.
    for quantity, unit, fee, marketplace_fee in (
        (2, "59.9", "7.19", "14.38"),
        (6, "39.52", "14.01", "84.06"),
    ):
        raw = copy.deepcopy(order_doc)
        raw["order_items"][0].update(quantity=quantity, unit_price=unit, sale_fee=fee)
        line_total = Decimal(unit) * quantity
        raw["total_amount"] = raw["paid_amount"] = str(line_total)
        raw["payments"][0].update(
            transaction_amount=str(line_total),
            total_paid_amount=str(line_total),
            marketplace_fee=marketplace_fee,
        )
        order = order_from_ml(ML_ORDER.validate_python(raw), STORE, SALT)
        assert order.fee_amount == Decimal(marketplace_fee)
        assert order.items[0].line_amount == line_total
        assert order.total_amount == line_total


def test_coupon_is_a_discount_and_the_buyer_pays_the_rest_plus_shipping(
    order_doc: dict[str, Any],
) -> None:
    # Shaped like a live order quoted in public code: items 219, coupon 25, the payment's
    # total_paid_amount 194 while the order's paid_amount stays 219 (ML funds the coupon).
    raw = copy.deepcopy(order_doc)
    raw["order_items"][0].update(unit_price=219, sale_fee="21.9")
    raw.update(total_amount=219, paid_amount=219, coupon={"id": None, "amount": 25})
    raw["payments"][0].update(
        transaction_amount=219, coupon_amount=25, shipping_cost="19.9", total_paid_amount="213.9"
    )
    order = order_from_ml(ML_ORDER.validate_python(raw), STORE, SALT)

    assert order.items_amount == Decimal(219)
    assert order.discount_amount == Decimal(25)
    assert order.shipping_paid_by_buyer == Decimal("19.9")
    assert order.total_amount == Decimal("213.9") == Decimal(219) - 25 + Decimal("19.9")
    # Who funds it is not in the order: the split stays unknown.
    assert order.seller_discount_amount is None and order.marketplace_discount_amount is None
    assert order.fee_amount == Decimal("21.9")


def test_unpaid_order_totals_the_items_less_the_coupon(order_doc: dict[str, Any]) -> None:
    raw = copy.deepcopy(order_doc)
    raw.update(status="payment_required", payments=[], coupon={"id": None, "amount": 5})
    order = order_from_ml(ML_ORDER.validate_python(raw), STORE, SALT)
    assert order.total_amount == Decimal(45)
    assert order.shipping_paid_by_buyer is None and order.refund_amount is None
    assert [e.status for e in order.status_events] == [OrderStatus.PENDING]


def test_cancelled_order_keeps_no_fee_and_states_when(order_doc: dict[str, Any]) -> None:
    raw = copy.deepcopy(order_doc)
    raw.update(
        status="cancelled",
        cancel_detail={
            "group": "respondent",
            "code": "cancel_purchase_by_buyer",
            "description": "Comprador se arrependeu",
            "requested_by": "buyer",
            "date": "2022-04-09T10:00:00.000-04:00",
            "application_id": None,
        },
    )
    raw["payments"][0].update(status="refunded", transaction_amount_refunded=50)
    order = order_from_ml(ML_ORDER.validate_python(raw), STORE, SALT)

    assert order.status is OrderStatus.CANCELLED
    assert (order.fee_amount, order.fees) == (Decimal(0), ())
    assert order.items[0].fee == Decimal(0)
    assert order.refund_amount == Decimal(50)
    assert order.total_amount == Decimal(50)  # what the buyer paid (and got back)
    assert order.status_events[-1] == StatusEvent(
        status=OrderStatus.CANCELLED,
        at=utc("2022-04-09T10:00:00.000-04:00"),
        raw_status="cancelled",
    )


def test_a_bad_payment_date_rejects_the_order(order_doc: dict[str, Any]) -> None:
    raw = copy.deepcopy(order_doc)
    raw["payments"][0]["date_approved"] = "08/04/2022"
    page = parse_orders([raw], STORE, SALT)
    assert page.records == []
    assert "date_approved" in page.rejects[0].reason


# --- shipments, costs, payments (documented examples) ----------------------------------------


def test_legacy_shipment_example_maps_to_a_shipment() -> None:
    raw = load("shipment_GET_shipments_id_legacy_doc_example.json")
    shipment = MLShipment.model_validate(raw)
    mapped = shipment_from_ml(shipment, STORE.store_id, "2000000000001")

    assert mapped.shipment_id == "123456789"
    assert (mapped.status, mapped.raw_status) == (
        ShipmentStatus.READY_TO_SHIP,
        "ready_to_ship/printed",
    )
    assert (mapped.logistic_type, mapped.logistic_mode) == ("drop_off", LogisticMode.SELLER)
    assert (mapped.carrier, mapped.tracking_number) == ("Sedex", "1010101231564564")
    assert mapped.ship_by == utc("2019-09-03T00:00:00.000-03:00")  # estimated_handling_limit
    assert (mapped.buyer_city, mapped.buyer_state) == ("Guarulhos", "SP")
    assert mapped.shipped_at is None and mapped.delivered_at is None
    assert shipment.order_id == 123456789  # the legacy shape still names its order
    assert shipment_events(shipment) == []  # handling only: nothing shipped yet


def test_new_format_example_maps_to_a_shipment() -> None:
    raw = load("shipment_GET_shipments_id_new_format_doc_example.json")
    mapped = shipment_from_ml(MLShipment.model_validate(raw), STORE.store_id, "1")
    assert (mapped.shipment_id, mapped.status) == ("40531399184", ShipmentStatus.READY_TO_SHIP)
    assert (mapped.carrier, mapped.tracking_number) == ("CBT MA", "MMXQP014735497E")
    assert mapped.updated_at == utc("2021-04-26T18:24:06.000-04:00")
    # The excerpt has no logistic{} nor destination{}: unknown, not guessed.
    assert (mapped.logistic_mode, mapped.buyer_state) == (None, None)


def test_fulfillment_is_marketplace_logistics_and_history_gives_the_instants() -> None:
    raw = load("shipment_GET_shipments_id_new_format_doc_example.json")
    raw.update(
        status="delivered",
        substatus=None,
        logistic={"direction": "forward", "mode": "me2", "type": "fulfillment"},
        destination={
            "shipping_address": {"city": {"name": "Recife"}, "state": {"name": "Pernambuco"}}
        },
        status_history={
            "date_shipped": "2021-04-27T10:00:00.000-04:00",
            "date_delivered": "2021-04-29T15:30:00.000-04:00",
        },
    )
    shipment = MLShipment.model_validate(raw)
    mapped = shipment_from_ml(shipment, STORE.store_id, "1")
    assert (mapped.logistic_mode, mapped.status) == (
        LogisticMode.MARKETPLACE,
        ShipmentStatus.DELIVERED,
    )
    assert (mapped.buyer_city, mapped.buyer_state) == ("Recife", "PE")
    assert mapped.delivered_at == utc("2021-04-29T15:30:00.000-04:00")
    assert [(e["status"], e["at"]) for e in shipment_events(shipment)] == [
        (OrderStatus.SHIPPED, utc("2021-04-27T10:00:00.000-04:00")),
        (OrderStatus.DELIVERED, utc("2021-04-29T15:30:00.000-04:00")),
    ]


def test_costs_example_gives_the_seller_cost_and_the_compensation_as_a_fee() -> None:
    costs = MLShipmentCosts.model_validate(load("shipment_costs_compensations_doc_example.json"))
    cost, charges = seller_shipping(costs, 456789)
    assert cost == Decimal("177.85")  # after ML's 30 % discount (save 76.22)
    assert charges == [
        {
            "fee_type": "compensation:incorrect_dimensions",
            "amount": Decimal("173.27"),
            "line_ref": None,
        }
    ]
    assert seller_shipping(costs, 1) == (Decimal(0), [])  # another user's cost is not ours


def test_settlement_of_the_doc_order_with_the_doc_costs(order_doc: dict[str, Any]) -> None:
    order = ML_ORDER.validate_python(order_doc)
    costs = MLShipmentCosts.model_validate(load("shipment_costs_compensations_doc_example.json"))
    costs.senders[0].user_id = SELLER
    settlement = settlement_from_ml(order, STORE.store_id, SELLER, costs, None)

    assert settlement.fees == (
        FeeLine(fee_type="sale_fee", amount=Decimal(12), line_ref="MLB2608564035:174390848694"),
        FeeLine(fee_type="compensation:incorrect_dimensions", amount=Decimal("173.27")),
    )
    assert settlement.fee_amount == Decimal("185.27")
    assert settlement.seller_shipping_cost == Decimal("177.85")
    assert settlement.refund_amount == Decimal(0)
    # payout = items paid 50 − fees 185.27 − shipping 177.85: a loss, to the cent.
    assert settlement.payout_amount == Decimal("-313.12")
    assert (settlement.fees_final, settlement.settled_at) == (False, None)  # no MP verdict


def test_mercado_pago_example_release_rule(order_doc: dict[str, Any]) -> None:
    raw = load("mercadopago_payment_GET_v1_payments_id_doc_example.json")
    payment = MPPayment.model_validate(raw)
    assert payment.money_release_date == utc("2017-09-14T07:26:38.000-04:00")
    assert payment.transaction_amount == Decimal(250)
    order = ML_ORDER.validate_python(order_doc)
    taken = order["payments"]
    key = str(taken[0]["id"])
    # The reference example predates money_release_status: without it, not settled.
    assert release(order, taken, {key: payment}) == (False, None)
    released = MPPayment.model_validate({**raw, "money_release_status": "released"})
    assert release(order, taken, {key: released}) == (True, payment.money_release_date)
    pending = MPPayment.model_validate({**raw, "money_release_status": "pending"})
    assert release(order, taken, {key: pending}) == (False, None)
    refunded = MPPayment.model_validate({**raw, "status": "refunded"})
    assert release(order, taken, {key: refunded})[0] is True
    assert release(order, taken, {})[0] is False  # a payment not read is not settled


# --- the client against the sandbox ---------------------------------------------------------


@pytest.fixture
def ml(sandbox: RunningSandbox) -> Iterator[Connected]:
    set_clock(sandbox, ANCHOR)
    connected = connect(sandbox)
    yield connected
    connected.client.close()


def refs_of(orders: list[Order]) -> list[OrderRef]:
    return [
        OrderRef(
            order_id=o.order_id, created_at=o.created_at, status=o.status, raw_status=o.raw_status
        )
        for o in orders
    ]


def read_orders(ml: Connected, start: datetime, end: datetime) -> list[Order]:
    out: list[Order] = []
    for page in ml.client.iter_orders(start, end):
        assert page.rejects == []
        out += page.records
    return out


def world_of(ml: Connected) -> dict[str, WorldOrder]:
    return {str(o.order_number): o for o in ml.running.sandbox.world.orders_of(ml.seller)}


def steps_at(order: WorldOrder, now: datetime) -> dict[str, datetime]:
    return {status: when for status, when in order.timeline if when <= now}


def items_of(order: WorldOrder) -> Decimal:
    return sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))


def fees_of(order: WorldOrder) -> Decimal:
    return sum(
        (expected_line_fee(x.listing_number, x.unit_price, x.quantity) for x in order.lines),
        Decimal(0),
    )


def test_order_pages_carry_the_money_the_world_implies(ml: Connected) -> None:
    world = world_of(ml)
    orders = read_orders(ml, ANCHOR - timedelta(days=25), ANCHOR + timedelta(hours=1))
    assert any(o.discount_amount for o in orders), "the sandbox gives some orders a coupon"
    now = ml.running.sandbox.clock.now()
    for order in orders:
        source = world[order.order_id]
        steps = steps_at(source, now)
        coupon = expected_coupon(source)
        items = items_of(source)
        assert order.items_amount == items
        assert order.discount_amount == coupon
        if "paid" in steps:
            assert order.shipping_paid_by_buyer == source.shipping_cost
            assert order.total_amount == items - coupon + source.shipping_cost
        else:
            assert order.total_amount == items - coupon
        undone = "cancelled" in steps or "returned" in steps
        assert order.fee_amount == (Decimal(0) if undone else fees_of(source))
        events = {e.status.value: e.at for e in order.status_events}
        assert events["pending"] == source.created_at
        assert events.get("paid") == steps.get("paid")
        assert events.get("cancelled") == steps.get("cancelled")


def test_facts_give_settlement_shipments_and_instants(ml: Connected) -> None:
    world = world_of(ml)
    orders = read_orders(ml, ANCHOR - timedelta(days=25), ANCHOR + timedelta(hours=1))
    page = ml.client.get_order_facts(refs_of(orders))

    assert page.rejects == []
    assert {f.order_id for f in page.records} == {o.order_id for o in orders}
    now = ml.running.sandbox.clock.now()
    finals: Counter[bool] = Counter()
    for facts in page.records:
        source = world[facts.order_id]
        steps = steps_at(source, now)
        settlement = facts.settlement
        assert settlement is not None
        items = items_of(source)
        undone = "cancelled" in steps or "returned" in steps
        paid = "paid" in steps
        (shipment,) = facts.shipments
        events = {e.status.value: e.at for e in facts.status_events}
        for status in ("paid", "shipped", "delivered", "returned", "cancelled"):
            assert events.get(status) == steps.get(status), (facts.order_id, status)
        assert (shipment.buyer_city, shipment.buyer_state) == (
            source.buyer.city,
            source.buyer.state,
        )
        assert shipment.shipped_at == steps.get("shipped")
        assert shipment.delivered_at == steps.get("delivered")
        sale_fees = Decimal(0) if undone else fees_of(source)
        compensation = sum(
            (f.amount for f in settlement.fees if f.fee_type.startswith("compensation")),
            Decimal(0),
        )
        assert settlement.fee_amount == sale_fees + compensation
        assert settlement.refund_amount == (items if paid and undone else Decimal(0))
        assert settlement.seller_shipping_cost is not None
        if source.shipping_cost:  # the buyer paid shipping: nothing left for the seller
            assert settlement.seller_shipping_cost == 0
        # payout = items − refund − fees − seller shipping, to the cent; an order still
        # waiting for its payment has none yet.
        gross = items if paid else Decimal(0)
        if not paid and not undone:
            assert settlement.payout_amount is None
            continue
        assert settlement.payout_amount == (
            gross
            - settlement.refund_amount
            - settlement.fee_amount
            - settlement.seller_shipping_cost
        )
        finals[settlement.fees_final] += 1
    assert finals[True] and finals[False], finals


def test_settlement_comes_days_after_delivery_and_within_settlement_days(
    ml: Connected,
) -> None:
    world = world_of(ml)
    orders = read_orders(ml, ANCHOR - timedelta(days=25), ANCHOR + timedelta(hours=1))
    now = ml.running.sandbox.clock.now()
    delivered_long_ago = [
        o
        for o in orders
        if "delivered" in steps_at(world[o.order_id], now)
        and steps_at(world[o.order_id], now)["delivered"] < now - timedelta(days=7)
        and "returned" not in steps_at(world[o.order_id], now)
    ]
    in_transit = [
        o for o in orders if set(steps_at(world[o.order_id], now)) == {"pending", "paid", "shipped"}
    ]
    assert delivered_long_ago and in_transit
    facts = {
        f.order_id: f
        for f in ml.client.get_order_facts(refs_of(delivered_long_ago + in_transit)).records
    }
    for order in delivered_long_ago:
        settlement = facts[order.order_id].settlement
        assert settlement is not None and settlement.fees_final
        delivered = steps_at(world[order.order_id], now)["delivered"]
        # Mercado Pago releases the money 2 or 6 days after delivery.
        assert settlement.settled_at in {
            delivered + timedelta(days=2),
            delivered + timedelta(days=6),
        }
    for order in in_transit:
        settlement = facts[order.order_id].settlement
        assert settlement is not None and not settlement.fees_final
    assert ml.wire.seen.total() > 0
    # Money is not read for packages still on their way.
    payments_read = sum(n for k, n in ml.wire.seen.items() if "/mercadopago/v1/payments/" in k)
    assert payments_read == len(delivered_long_ago)

    # Settlement days after the sale every order of the window is settled.
    set_clock(ml.running, ANCHOR + timedelta(days=MercadoLivreClient.settlement_days))
    later = ml.client.get_order_facts(refs_of(orders)).records
    assert later and all(f.settlement is not None and f.settlement.fees_final for f in later)


def test_get_shipments_finds_the_order_through_the_shipment_items(ml: Connected) -> None:
    orders = read_orders(ml, ANCHOR - timedelta(days=5), ANCHOR + timedelta(hours=1))[:4]
    facts = ml.client.get_order_facts(refs_of(orders)).records
    by_id = {f.shipments[0].shipment_id: f.shipments[0] for f in facts}
    ml.wire.seen.clear()

    page = ml.client.get_shipments([*by_id, "40999999999"])

    assert page.rejects == []
    assert {s.shipment_id: s for s in page.records} == by_id  # the unknown one is absent
    for shipment_id in by_id:
        assert ml.wire.seen[f"GET /shipments/{shipment_id}/items"] == 1


def test_an_unknown_order_is_absent_and_a_malformed_answer_is_a_reject(
    ml: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = read_orders(ml, ANCHOR - timedelta(days=3), ANCHOR + timedelta(hours=1))[:2]
    refs = refs_of(orders)
    (broken,) = ml.client.get_order_facts(refs[1:]).records
    costs_path = f"/shipments/{broken.shipments[0].shipment_id}/costs"
    ghost = refs[0].model_copy(update={"order_id": "2000099999999"})
    original = ml.client._call

    def corrupt(operation: str, method: str, path: str, **kw: Any) -> httpx.Response:
        response = original(operation, method, path, **kw)
        if path == costs_path:
            garbage = {"senders": [{"user_id": 1, "cost": "lots"}]}
            return httpx.Response(200, json=garbage, request=response.request)
        return response

    monkeypatch.setattr(ml.client, "_call", corrupt)
    page = ml.client.get_order_facts([*refs, ghost])

    assert [f.order_id for f in page.records] == [orders[0].order_id]
    (rejected,) = page.rejects
    assert rejected.record_key == orders[1].order_id
    assert rejected.source == "mercadolivre.order_facts"
    assert "shipments.costs" in rejected.reason and "senders.0.cost" in rejected.reason
    assert json.loads(rejected.payload) == {"senders": [{"user_id": 1, "cost": "lots"}]}


def test_facts_recover_from_429s(sandbox_factory: Any) -> None:
    running = sandbox_factory()
    set_clock(running, ANCHOR)
    ml = connect(running)
    try:
        orders = read_orders(ml, ANCHOR - timedelta(days=4), ANCHOR + timedelta(hours=1))
        # Often enough to be met many times, rarely enough that six in a row (every attempt
        # of one call) does not happen by chance in a test run.
        running.sandbox.faults.update(rate_429=0.15)
        page = ml.client.get_order_facts(refs_of(orders))
        running.sandbox.faults.update(rate_429=0.0)
    finally:
        ml.client.close()
    assert page.rejects == []
    assert {f.order_id for f in page.records} == {o.order_id for o in orders}
    assert all(isinstance(f, OrderFacts) and f.settlement for f in page.records)
    assert ml.client.http.stats["errors.RateLimitedError"] > 0
    assert ml.client.http.stats["retries"] >= ml.client.http.stats["errors.RateLimitedError"]


def test_a_payment_mercado_pago_refuses_stays_unsettled_and_keeps_the_token(
    sandbox_factory: Any,
) -> None:
    running, elsewhere = sandbox_factory(), sandbox_factory()
    set_clock(running, ANCHOR + timedelta(days=40))  # everything delivered and released
    ml = connect(running)
    try:
        orders = read_orders(ml, ANCHOR - timedelta(days=20), ANCHOR - timedelta(days=15))
        settled = ml.client.get_order_facts(refs_of(orders)).records
        assert all(f.settlement and f.settlement.fees_final for f in settled)
        # A Mercado Pago that does not know our token answers 401 to every payment.
        ml.client.app = dataclasses.replace(
            ml.app, payments_url=f"{elsewhere.base_url('mercadolivre')}/mercadopago"
        )
        refused = ml.client.get_order_facts(refs_of(orders))
    finally:
        ml.client.close()
    assert refused.rejects == [] and len(refused.records) == len(orders)
    delivered = {o.order_id for o in orders if o.status is OrderStatus.DELIVERED}
    paid = [f for f in refused.records if f.order_id in delivered]
    assert paid and not any(f.settlement and f.settlement.fees_final for f in paid)
    assert ml.wire.seen["POST /oauth/token"] == 1  # no refresh burnt on Mercado Pago's refusal
