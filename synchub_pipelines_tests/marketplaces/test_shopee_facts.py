"""Shopee sales facts: the escrow, its release, packages and tracking.

First Shopee's own samples (official doc JSON mirrored in congminh1254/shopee-sdk, see
/work/notes/shopee-fixtures.md), checked to the cent against the escrow formula the doc
states. Then the client against the sandbox over HTTP on loopback: the facts of every order
as the World implies them, settlement some days after delivery, returns before and after
the release, the escrow changing until completion, 429s, and answers that do not parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from synchub_pipelines.marketplaces.errors import InvalidRequestError
from synchub_pipelines.marketplaces.shopee import (
    ShopeeClient,
    SPEscrowDetail,
    SPEscrowRelease,
    SPItem,
    SPMassTracking,
    SPOrderLogistics,
    SPTrackingInfo,
    SPTrackingNumber,
    SPViolationList,
    classify,
    escrow_money,
    listing_of_item,
    package_times,
    parse_escrows,
    settlement_of,
    violation_reason,
)
from synchub_pipelines.models import (
    FeeLine,
    ListingStatus,
    Order,
    OrderFacts,
    OrderRef,
    OrderStatus,
    ShipmentStatus,
)
from synchub_pipelines.sandbox.infra import Faults
from synchub_pipelines.sandbox.shopee_render import (
    has_tracking,
    logistics_status,
    order_sn,
    packages_of,
    release_time,
    tracking_number,
)
from synchub_pipelines.sandbox.world import Order as WorldOrder
from synchub_pipelines_tests.conftest import PAYLOADS as ALL_PAYLOADS
from synchub_pipelines_tests.marketplaces.test_shopee_client import (
    ANCHOR,
    STORE,
    Connected,
    Recorder,
    _connect,
    _drain_orders,
    _start,
    expected_money,
)

PAYLOADS = ALL_PAYLOADS / "shopee"

# v2.payment.get_escrow_detail, `escrow_amount`, verbatim: "For non cb sip affiliate shop
# (new formula)". Written out here, not taken from the client, so both must agree.
ESCROW_FORMULA = (
    "original_cost_of_goods_sold-original_shopee_discount+seller_return_refund+ shopee_discount"
    "- voucher_from_seller- seller_coin_cash_back+ buyer_paid_shipping_fee- actual_shipping_fee"
    "+ shopee_shipping_rebate+ shipping_fee_discount_from_3pl- reverse_shipping_fee"
    "+ rsf_seller_protection_fee_claim_amount- final_return_to_seller_shipping_fee"
    "- seller_transaction_fee- service_fee- commission_fee- campaign_fee"
    "- shipping_seller_protection_fee_amount- delivery_seller_protection_fee_premium_amount"
    "-final_escrow_product_gst- order_ams_commission_fee- escrow_tax-sales_tax_on_lvg"
    "-reverse_shipping_fee_sst-shipping_fee_sst-withholding_tax-overseas_return_service_fee"
    "-vat_on_imported_goods - withholding_vat_tax - withholding_pit_tax - withholding_cit_tax"
    " - seller_order_processing_fee + buyer_paid_packaging_fee - trade_in_bonus_by_seller"
    " - fbs_fee - ads_escrow_top_up_fee_or_technical_support_fee - th_import_duty"
)


def escrow_formula(income: dict[str, Any]) -> Decimal:
    """Shopee's formula over an order_income as sent (absent terms are 0)."""
    total = Decimal(0)
    for sign, name in re.findall(r"([+-]?)\s*([a-z0-9_]+)", ESCROW_FORMULA):
        value = Decimal(str(income.get(name) or 0))
        total += -value if sign == "-" else value
    return total


def _payload(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return body


def _fees(lines: tuple[FeeLine, ...]) -> dict[tuple[str, str | None], Decimal]:
    return {(f.fee_type, f.line_ref): f.amount for f in lines}


# --- Shopee's own samples ------------------------------------------------------------------


def test_escrow_detail_sample_puts_every_formula_term_in_one_column() -> None:
    """The doc's sample fills every field, so every fee type the client reads is here."""
    body = _payload("payment_get_escrow_detail_response.json")
    assert classify(httpx.Response(200, json=body), "payment.get_escrow_detail") is None
    detail = SPEscrowDetail.model_validate(body["response"])
    money = escrow_money(detail)
    assert _fees(money.fees) == {
        # Brazil's net fees: gross and net are equal here, so no rebate line beside them.
        ("net_commission_fee", None): Decimal("0.1"),
        ("net_service_fee", None): Decimal("0.1"),
        # The affiliate commission belongs to the line that states it.
        ("ams_commission_fee", "800062998:0"): Decimal("0.1"),
        ("seller_transaction_fee", None): Decimal("0.1"),
        ("campaign_fee", None): Decimal("0.1"),
        ("shipping_seller_protection_fee_amount", None): Decimal("0.1"),
        ("delivery_seller_protection_fee_premium_amount", None): Decimal("0.1"),
        ("seller_order_processing_fee", None): Decimal("3"),
        ("fbs_fee", None): Decimal("0.1"),
        ("ads_escrow_top_up_fee_or_technical_support_fee", None): Decimal("0.1"),
        ("overseas_return_service_fee", None): Decimal("0.1"),
        ("final_escrow_product_gst", None): Decimal("4.35"),
        ("escrow_tax", None): Decimal("0.1"),
        ("sales_tax_on_lvg", None): Decimal("0.99"),
        ("withholding_tax", None): Decimal("0.1"),
        ("vat_on_imported_goods", None): Decimal("0.1"),
        ("withholding_vat_tax", None): Decimal("1"),
        ("withholding_pit_tax", None): Decimal("2"),
        ("th_import_duty", None): Decimal("0.1"),
        # Credits: the packaging fee the buyer paid the seller, and the +10.1 adjustment.
        ("buyer_paid_packaging_fee", None): Decimal("-0.1"),
        ("order_adjustment", None): Decimal("-10.1"),
    }
    assert money.fee_amount == Decimal("2.54")
    # actual 10 + reverse 0.1 + failed-delivery 0.1 + two SSTs 0.2, less buyer 0.1,
    # rebate 0.1, 3PL discount 0.1 and the reverse-shipping claim 0.1.
    assert money.seller_shipping_cost == Decimal("10.00")
    assert money.refund_amount == Decimal("0.1")  # the adjustable refund (DRC) stands
    assert money.payout_amount == Decimal("110.1")  # after the adjustment
    assert (money.seller_discount_amount, money.marketplace_discount_amount) == (
        Decimal("20.2"),  # seller_discount 10 + voucher 10 + coin cash back 0.1 + trade-in 0.1
        Decimal("20.1"),  # shopee_discount 10 + voucher 10 + coins 0.1
    )
    assert money.tax_amount == Decimal("0.4")  # buyer_tax + ICMS + IOF + import tax
    # The columns split the formula exactly: item money, refund, fees, shipping.
    income = body["response"]["order_income"]
    items = (
        Decimal(str(income["original_cost_of_goods_sold"]))
        - Decimal(str(income["original_shopee_discount"]))
        + Decimal(str(income["shopee_discount"]))
        - Decimal(str(income["voucher_from_seller"]))
        - Decimal(str(income["seller_coin_cash_back"]))
        - Decimal(str(income["trade_in_bonus_by_seller"]))
        + Decimal(str(income["seller_return_refund"]))
    )
    adjustment = Decimal(str(income["total_adjustment_amount"]))
    assert escrow_formula(income) == (
        items - (money.fee_amount + adjustment) - money.seller_shipping_cost
    )


def test_escrow_batch_sample_reconciles_to_the_cent() -> None:
    """A real Vietnamese order with a partial return: the formula gives its escrow."""
    body = _payload("payment_get_escrow_detail_batch_response.json")
    page = parse_escrows(body["response"], STORE.store_id)
    assert page.rejects == []
    [detail] = page.records
    assert (detail.order_sn, detail.return_order_sn_list) == ("2405017HD347PQ", ["2405060KVC6EQB3"])
    income = body["response"][0]["escrow_detail"]["order_income"]
    assert escrow_formula(income) == Decimal("37719") == Decimal(str(income["escrow_amount"]))
    money = escrow_money(detail)
    assert _fees(money.fees) == {
        ("service_fee", None): Decimal("2133"),
        ("seller_transaction_fee", None): Decimal("848"),
    }
    assert money.fee_amount == Decimal("2981")
    # No carrier charge yet, Shopee's 15 000 rebate and the buyer's 2 000: shipping paid.
    assert money.seller_shipping_cost == Decimal("-17000")
    assert money.refund_amount == Decimal("25510")  # drc_adjustable_refund
    assert money.payout_amount == Decimal("37719")
    assert money.shipping_paid_by_buyer == Decimal("2000")
    assert (money.seller_discount_amount, money.marketplace_discount_amount) == (
        Decimal("9300"),
        Decimal("2770"),
    )
    goods = Decimal(income["original_cost_of_goods_sold"])
    seller_return = Decimal(income["seller_return_refund"])
    assert money.payout_amount == (
        goods + seller_return - money.fee_amount - money.seller_shipping_cost
    )


def test_escrow_batch_failure_entry_is_no_escrow_and_no_reject() -> None:
    body = _payload("payment_get_escrow_detail_batch_error_example.json")
    page = parse_escrows(body["escrow_detail_list"], STORE.store_id)
    assert (page.records, page.rejects) == ([], [])
    broken = [{"escrow_detail": {"order_sn": "X1", "order_income": {"commission_fee": "abc"}}}]
    page = parse_escrows(broken, STORE.store_id)
    assert page.records == [] and [r.record_key for r in page.rejects] == ["X1"]
    assert page.rejects[0].source == "shopee.escrow"


def _logistics(**fields: Any) -> SPOrderLogistics:
    base = {
        "order_sn": "220415N6SB140P",
        "order_status": "COMPLETED",
        "currency": "BRL",
        "create_time": 1651000000,
        "update_time": 1651500000,
        "pay_time": 1651000100,
    }
    return SPOrderLogistics.model_validate(base | fields)


def test_escrow_list_sample_settles_the_order_at_its_release() -> None:
    body = _payload("payment_get_escrow_list_response.json")
    assert body["response"]["more"] is True
    releases = [SPEscrowRelease.model_validate(e) for e in body["response"]["escrow_list"]]
    assert [(r.order_sn, r.payout_amount) for r in releases[:2]] == [
        ("220415N6SB140P", Decimal("57334")),
        ("220415M9J6GHBP", Decimal("5930")),
    ]
    escrow = SPEscrowDetail.model_validate(
        {"order_sn": "220415N6SB140P", "order_income": {"escrow_amount": 57334}}
    )
    settled = settlement_of(_logistics(), STORE.store_id, escrow, releases[0])
    assert settled is not None and settled.fees_final
    assert settled.settled_at == datetime.fromtimestamp(1651849648, UTC)
    assert settled.payout_amount == Decimal("57334")
    # Not released yet: the same escrow is still open.
    open_ = settlement_of(_logistics(), STORE.store_id, escrow, None)
    assert open_ is not None and (open_.fees_final, open_.settled_at) == (False, None)
    # A cancelled order is final at once; one never paid settles with nothing.
    never_paid = _logistics(order_status="CANCELLED", pay_time=0)
    nothing = settlement_of(never_paid, STORE.store_id, None, None)
    assert nothing is not None and nothing.fees_final
    assert (nothing.fee_amount, nothing.payout_amount) == (Decimal(0), Decimal(0))
    assert nothing.settled_at == datetime.fromtimestamp(1651500000, UTC)


def test_tracking_samples() -> None:
    number = _payload("logistics_get_tracking_number_response.json")
    assert SPTrackingNumber.model_validate(number["response"]).tracking_number == (
        "MY200448706479IT"
    )
    error = _payload("logistics_get_tracking_number_error_example.json")
    refused = classify(httpx.Response(200, json=error), "logistics.get_tracking_number")
    assert isinstance(refused, InvalidRequestError)
    assert (refused.code, refused.detail) == ("logistics.invalid_error", "The order is not exist.")

    mass = _payload("logistics_get_mass_tracking_number_response.json")
    tracked = SPMassTracking.model_validate(mass["response"])
    assert [(p.package_number, p.tracking_number) for p in tracked.success_list] == [
        ("OFG121578896133442", "811000835390")
    ]

    info = _payload("logistics_get_tracking_info_response.json")
    # The sample's placeholder `error: "-"` is a success, not an error code.
    assert classify(httpx.Response(200, json=info), "logistics.get_tracking_info") is None
    parsed = SPTrackingInfo.model_validate(info["response"])
    assert (parsed.package_number, parsed.logistics_status) == (None, "LOGISTICS_DELIVERY_FAILED")
    # FAILED_DELIVERED is not a delivery: no delivery (nor pickup) instant comes from it.
    assert package_times(parsed).delivered is None
    delivered = parsed.model_copy(
        update={
            "tracking_info": [
                *parsed.tracking_info,
                parsed.tracking_info[0].model_copy(
                    update={"logistics_status": "DELIVERED", "update_time": 1726600000}
                ),
            ]
        }
    )
    assert package_times(delivered).delivered == datetime.fromtimestamp(1726600000, UTC)


def test_item_violation_sample_is_the_listing_reason() -> None:
    # The doc keeps this sample as text with a trailing comma (not valid JSON): the file
    # is verbatim, the comma is dropped here.
    text = (PAYLOADS / "product_get_item_violation_info_response.txt").read_text()
    body = json.loads(re.sub(r",(\s*[}\]])", r"\1", text))
    [item] = SPViolationList.model_validate(body["response"]).item_list
    assert (item.item_id, item.item_status) == (800903588, "BANNED")
    reason = violation_reason(item)
    assert reason == "Prohibited Listing: License Reason"
    banned = SPItem.model_validate(
        {"item_id": 800903588, "item_name": "testing product", "item_status": "BANNED"}
    )
    listing = listing_of_item(banned, STORE.store_id, reason)
    assert (listing.status, listing.raw_status, listing.status_reason) == (
        ListingStatus.SUPPRESSED,
        "BANNED",
        reason,
    )
    # An active item carries no reason, whatever was asked.
    active = listing_of_item(banned.model_copy(update={"item_status": "NORMAL"}), "s", reason)
    assert (active.status, active.status_reason) == (ListingStatus.ACTIVE, None)


# --- against the sandbox ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def connected() -> Iterator[Connected]:
    running = _start(Faults(seed=3))
    yield _connect(running)
    running.stop()


@pytest.fixture
def own() -> Iterator[Connected]:
    """A sandbox of its own, for tests that move orders or the clock."""
    running = _start()
    yield _connect(running)
    running.stop()


def _refs(orders: list[Order]) -> list[OrderRef]:
    return [
        OrderRef(
            order_id=o.order_id, created_at=o.created_at, status=o.status, raw_status=o.raw_status
        )
        for o in orders
    ]


def _world(connected: Connected) -> dict[str, WorldOrder]:
    seller = connected.sandbox.world.sellers_of("shopee")[0]
    return {order_sn(o): o for o in connected.sandbox.world.orders_of(seller)}


def _now(connected: Connected) -> int:
    return int(connected.sandbox.clock.time())


def _step(source: WorldOrder, now: int) -> int:
    return max(i for i, (_, at) in enumerate(source.timeline) if int(at.timestamp()) <= now)


def _facts(connected: Connected, orders: list[Order], **kw: Any) -> dict[str, OrderFacts]:
    client = connected.client(kw.get("recorder"))
    try:
        page = client.get_order_facts(_refs(orders))
    finally:
        client.close()
    assert page.rejects == []
    return {f.order_id: f for f in page.records}


def _assert_facts_match_the_world(connected: Connected, facts: dict[str, OrderFacts]) -> None:
    world = _world(connected)
    now = _now(connected)
    for sn, fact in facts.items():
        source = world[sn]
        step = _step(source, now)
        status = source.timeline[step][0]
        reached = {s: int(at.timestamp()) for s, at in source.timeline[: step + 1]}
        money = expected_money(connected, source)
        settlement = fact.settlement
        if money["fee_amount"] is None:  # unpaid: nothing to settle yet
            assert settlement is None
        else:
            assert settlement is not None
            for column in ("fee_amount", "payout_amount", "refund_amount", "seller_shipping_cost"):
                if column in money:
                    assert getattr(settlement, column) == money[column], (sn, column)
            assert sum((f.amount for f in settlement.fees), Decimal(0)) == settlement.fee_amount
            released = release_time(source)
            if status == "cancelled":
                assert settlement.fees_final and settlement.settled_at == datetime.fromtimestamp(
                    reached["cancelled"], UTC
                )
            elif released is not None and released <= now:
                assert settlement.fees_final, sn
                assert settlement.settled_at == datetime.fromtimestamp(released, UTC)
            else:
                assert (settlement.fees_final, settlement.settled_at) == (False, None), sn
        packages = packages_of(source)
        assert [s.shipment_id for s in fact.shipments] == [p.number for p in packages]
        for shipment, package in zip(fact.shipments, packages, strict=True):
            assert shipment.raw_status == logistics_status(source, step)
            if has_tracking(source, step):
                assert shipment.tracking_number == tracking_number(source, package)
                assert shipment.shipped_at == datetime.fromtimestamp(reached["shipped"], UTC)
            else:
                assert shipment.tracking_number is None
            delivered = reached.get("delivered")
            assert shipment.delivered_at == (
                datetime.fromtimestamp(delivered, UTC) if delivered else None
            )
            assert (shipment.buyer_city, shipment.buyer_state) == (
                source.buyer.city,
                source.buyer.state,
            )
        events = {e.status: int(e.at.timestamp()) for e in fact.status_events}
        for normalized, raw in (
            (OrderStatus.PENDING, "pending"),
            (OrderStatus.PAID, "paid"),
            (OrderStatus.SHIPPED, "shipped"),
            (OrderStatus.DELIVERED, "delivered"),
        ):
            assert events.get(normalized) == reached.get(raw), (sn, normalized)


def test_facts_of_every_order_are_the_cents_the_world_implies(connected: Connected) -> None:
    client = connected.client()
    try:
        orders = _drain_orders(client)
    finally:
        client.close()
    recorder = Recorder()
    facts = _facts(connected, orders, recorder=recorder)
    assert sorted(facts) == sorted(o.order_id for o in orders)
    _assert_facts_match_the_world(connected, facts)
    # The order read and the facts agree on the money.
    for order in orders:
        settlement = facts[order.order_id].settlement
        if settlement is not None and order.fee_amount is not None:
            assert (settlement.fee_amount, settlement.payout_amount, settlement.fees) == (
                order.fee_amount,
                order.payout_amount,
                order.fees,
            )
    finals = [f.settlement.fees_final for f in facts.values() if f.settlement]
    assert any(finals) and not all(finals)
    # Cheap and batched: 50 orders per detail and escrow call, 50 packages per tracking
    # call, one tracking-info call per delivered package, the escrow list scanned once.
    calls = [e[1] for e in recorder.events if e[0] == "request"]
    chunks = -(-len(orders) // 50)
    delivered = sum(
        1 for f in facts.values() for s in f.shipments if s.status == ShipmentStatus.DELIVERED
    )
    assert calls.count("/api/v2/order/get_order_detail") == chunks
    assert calls.count("/api/v2/payment/get_escrow_detail_batch") == chunks
    labelled = [
        sum(1 for o in orders[i : i + 50] for s in facts[o.order_id].shipments if s.tracking_number)
        for i in range(0, len(orders), 50)
    ]
    assert calls.count("/api/v2/logistics/get_mass_tracking_number") == sum(
        -(-n // 50) for n in labelled
    )
    assert calls.count("/api/v2/logistics/get_tracking_info") == delivered > 0
    assert calls.count("/api/v2/logistics/get_tracking_number") == 0
    # The escrow list: each release window scanned once, whatever the number of batches.
    windows = [
        (q["release_time_from"], q["release_time_to"], q["page_no"])
        for q in recorder.queries("/api/v2/payment/get_escrow_list")
    ]
    assert 1 <= len(windows) == len(set(windows)) <= chunks + 2
    lists = [b for p, b in recorder.bodies if p.endswith("get_mass_tracking_number")]
    assert all(1 <= len(b["package_list"]) <= 50 for b in lists)
    assert ShopeeClient.settlement_days >= 23  # the sandbox's latest release: see below
    assert ShopeeClient.facts_per_run > 0


def test_settlement_comes_within_settlement_days_of_the_sale(connected: Connected) -> None:
    """Every order the World can settle, settles before the client stops re-reading it."""
    horizon = timedelta(days=ShopeeClient.settlement_days)
    for source in _world(connected).values():
        released = release_time(source)
        if released is not None:
            assert datetime.fromtimestamp(released, UTC) - source.created_at < horizon


def test_recent_orders_are_open_and_old_ones_settled(connected: Connected) -> None:
    client = connected.client()
    try:
        orders = _drain_orders(client)
    finally:
        client.close()
    now = connected.sandbox.clock.now()
    world = _world(connected)
    delivered = [o for o in orders if o.raw_status == "COMPLETED"]
    recent = [o for o in delivered if now - o.updated_at < timedelta(days=3)]
    old = [o for o in delivered if now - o.updated_at > timedelta(days=10)]
    assert recent and old
    facts = _facts(connected, recent + old)
    assert all(facts[o.order_id].settlement.fees_final is False for o in recent)  # type: ignore[union-attr]
    assert all(facts[o.order_id].settlement.fees_final for o in old)  # type: ignore[union-attr]
    for order in old:
        released = release_time(world[order.order_id])
        assert released is not None
        assert facts[order.order_id].settlement.settled_at == datetime.fromtimestamp(  # type: ignore[union-attr]
            released, UTC
        )


def test_unknown_orders_are_absent(connected: Connected) -> None:
    client = connected.client()
    try:
        ref = OrderRef(
            order_id="260101ZZZZZZZZ",
            created_at=ANCHOR,
            status=OrderStatus.PAID,
            raw_status="READY_TO_SHIP",
        )
        page = client.get_order_facts([ref])
    finally:
        client.close()
    assert (page.records, page.rejects) == ([], [])


def _one(own: Connected, sn: str) -> tuple[Order, OrderFacts]:
    client = own.client()
    try:
        [order] = client.get_orders([sn]).records
        [fact] = client.get_order_facts(_refs([order])).records
    finally:
        client.close()
    return order, fact


def test_the_escrow_changes_until_completion_and_settles_days_after_delivery(
    own: Connected,
) -> None:
    world = own.sandbox.world
    now = own.sandbox.clock.now()
    source = next(
        o
        for o in world.orders_of(world.sellers_of("shopee")[0])
        if o.status_at(now)[0] == "paid" and len(packages_of(o)) == 1
    )
    sn = order_sn(source)
    money = own.simulator.orders_render.money(source)
    _, fact = _one(own, sn)
    assert fact.settlement is not None and not fact.settlement.fees_final
    # Before pickup the carrier has charged nothing: only the buyer's shipping is known.
    assert fact.settlement.seller_shipping_cost == -money.buyer_shipping
    assert fact.shipments[0].tracking_number is None
    before = fact.settlement.payout_amount
    world.advance_order(source, "ship", now)
    _, fact = _one(own, sn)
    assert fact.settlement is not None
    carrier = money.carrier_cost - money.shipping_rebate - money.buyer_shipping
    assert fact.settlement.seller_shipping_cost == carrier
    assert fact.settlement.payout_amount == before - money.carrier_cost + money.shipping_rebate  # type: ignore[operator]
    assert fact.shipments[0].tracking_number == tracking_number(source, packages_of(source)[0])
    assert fact.shipments[0].status == ShipmentStatus.SHIPPED
    delivered_at = now + timedelta(hours=30)
    own.sandbox.clock.advance_delta(timedelta(hours=30))
    world.advance_order(source, "deliver", delivered_at)
    order, fact = _one(own, sn)
    assert order.raw_status == "COMPLETED"
    assert fact.settlement is not None and not fact.settlement.fees_final
    assert fact.shipments[0].delivered_at == delivered_at.replace(microsecond=0)
    released = release_time(source)
    assert released is not None
    own.sandbox.clock.advance(released - own.sandbox.clock.time() + 60)
    _, fact = _one(own, sn)
    assert fact.settlement is not None and fact.settlement.fees_final
    assert fact.settlement.settled_at == datetime.fromtimestamp(released, UTC)
    assert fact.settlement.payout_amount == before - money.carrier_cost + money.shipping_rebate  # type: ignore[operator]


def _delivered_unreleased(own: Connected) -> WorldOrder:
    """A delivered order whose escrow Shopee has not released yet."""
    world = own.sandbox.world
    now = own.sandbox.clock.now()
    return next(
        o
        for o in world.orders_of(world.sellers_of("shopee")[0])
        if o.status_at(now)[0] == "delivered" and (release_time(o) or 0) > now.timestamp()
    )


def test_a_return_before_the_release_refunds_the_goods_and_waives_the_fees(
    own: Connected,
) -> None:
    source = _delivered_unreleased(own)
    sn = order_sn(source)
    money = own.simulator.orders_render.money(source)
    own.sandbox.world.advance_order(source, "return", own.sandbox.clock.now())
    _, fact = _one(own, sn)
    settlement = fact.settlement
    assert settlement is not None and not settlement.fees_final
    assert (settlement.fee_amount, settlement.fees) == (Decimal(0), ())
    assert settlement.refund_amount == money.item_refund
    reverse = money.carrier_cost
    assert settlement.seller_shipping_cost == (
        money.carrier_cost - money.shipping_rebate - money.buyer_shipping + reverse
    )
    # The seller keeps the shipping the buyer paid and Shopee's rebate, pays both ways.
    assert settlement.payout_amount == -settlement.seller_shipping_cost
    released = release_time(source)
    assert released is not None
    own.sandbox.clock.advance(released - own.sandbox.clock.time() + 60)
    _, fact = _one(own, sn)
    assert fact.settlement is not None and fact.settlement.fees_final
    assert fact.settlement.settled_at == datetime.fromtimestamp(released, UTC)


def test_a_return_after_the_release_is_an_order_adjustment(own: Connected) -> None:
    world = own.sandbox.world
    now = int(own.sandbox.clock.time())
    source = next(
        o
        for o in world.orders_of(world.sellers_of("shopee")[0])
        if o.status_at(own.sandbox.clock.now())[0] == "delivered"
        and (release_time(o) or now + 1) <= now
    )
    sn = order_sn(source)
    money = own.simulator.orders_render.money(source)
    before, settled = _one(own, sn)
    assert settled.settlement is not None and settled.settlement.fees_final
    world.advance_order(source, "return", own.sandbox.clock.now())
    order, fact = _one(own, sn)
    settlement = fact.settlement
    assert order.raw_status == "TO_RETURN"
    assert settlement is not None and settlement.fees_final  # released before the return
    assert _fees(settlement.fees)[("order_adjustment", None)] == money.item_refund
    assert settlement.payout_amount == settled.settlement.payout_amount - money.item_refund  # type: ignore[operator]
    assert settlement.refund_amount == Decimal(0)
    assert before.payout_amount == settled.settlement.payout_amount


def test_split_orders_have_a_package_and_a_tracking_number_each(connected: Connected) -> None:
    world = _world(connected)
    now = _now(connected)
    split = [
        sn
        for sn, o in world.items()
        if len(packages_of(o)) > 1
        and o.created_at.timestamp() <= now
        and has_tracking(o, _step(o, now))
    ]
    assert split
    client = connected.client()
    try:
        orders = client.get_orders(split).records
    finally:
        client.close()
    facts = _facts(connected, orders)
    for sn in split:
        numbers = [s.tracking_number for s in facts[sn].shipments]
        assert len(numbers) == len(set(numbers)) == 2 and all(numbers)


def test_facts_survive_429s_and_5xx(connected: Connected) -> None:
    client = connected.client()
    try:
        orders = _drain_orders(client)
    finally:
        client.close()
    clean = _facts(connected, orders)
    faults = connected.sandbox.faults
    client = connected.client()
    try:
        faults.update(rate_429=0.2, rate_5xx=0.05)
        page = client.get_order_facts(_refs(orders))
    finally:
        faults.update(rate_429=0.0, rate_5xx=0.0)
        client.close()
    assert page.rejects == []
    assert {f.order_id: f for f in page.records} == clean
    assert client.http.stats["errors.RateLimitedError"] >= 1
    assert client.http.stats["retries"] >= 1


def test_a_tracking_answer_that_does_not_parse_is_a_reject(connected: Connected) -> None:
    client = connected.client()
    try:
        orders = [o for o in _drain_orders(client) if o.raw_status == "COMPLETED"][:3]
    finally:
        client.close()

    def garble(path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path.endswith("get_tracking_info"):
            body["response"]["tracking_info"] = [{"update_time": "yesterday"}]
        return body

    client = connected.client(Recorder(rewrite=garble))
    try:
        page = client.get_order_facts(_refs(orders))
    finally:
        client.close()
    assert len(page.records) == len(orders)
    assert {r.source for r in page.rejects} == {"shopee.tracking"}
    assert all("update_time" in r.reason and "yesterday" not in r.reason for r in page.rejects)
    assert all(s.delivered_at is None for f in page.records for s in f.shipments)
    # The money is untouched by a tracking problem.
    assert all(f.settlement is not None for f in page.records)


def test_clock_moves_an_order_from_open_to_settled_in_one_client(own: Connected) -> None:
    """A client scans the escrow list once per window and extends it as time passes."""
    source = _delivered_unreleased(own)
    sn = order_sn(source)
    recorder = Recorder()
    client = own.client(recorder)
    try:
        [order] = client.get_orders([sn]).records
        first = client.get_order_facts(_refs([order])).records[0]
        assert first.settlement is not None and not first.settlement.fees_final
        released = release_time(source)
        assert released is not None
        own.sandbox.clock.advance(released - own.sandbox.clock.time() + 5)
        second = client.get_order_facts(_refs([order])).records[0]
        # Moments later nothing new is scanned: the window is fresh enough.
        calls = client.http.stats["calls.payment.get_escrow_list"]
        client.get_order_facts(_refs([order]))
        assert client.http.stats["calls.payment.get_escrow_list"] == calls
    finally:
        client.close()
    assert second.settlement is not None and second.settlement.fees_final
    windows = [
        (int(q["release_time_from"]), int(q["release_time_to"]))
        for q in recorder.queries("/api/v2/payment/get_escrow_list")
    ]
    # The second read only scanned what the first had not: no window seen twice.
    assert len(windows) == len(set(windows)) >= 2
    assert windows[-1][0] > windows[0][0]
