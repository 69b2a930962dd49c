"""Amazon sales facts: order money from getOrderItems, fees and payout from Finances v0,
packages from Orders 2026-01-01, listing verdicts from issues.

The documented examples of `amzn/selling-partner-api-models` (fixtures/payloads/amazon, see
the fixtures README) are parsed to the cent; then the client reads the sandbox over real
HTTP and must find the cents the World implies (`order_money` is the sandbox's own
derivation of what the World does not hold: promotions, taxes, fees).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import httpx
import pytest
from pydantic import SecretStr

from synchub_pipelines.marketplaces import amazon
from synchub_pipelines.marketplaces.amazon import (
    AmazonApp,
    AmazonClient,
    EventTally,
    FinancesResponse,
    O26Order,
    O26OrderResponse,
    OrderItemsResponse,
    events_windows,
    order_facts_events,
    order_facts_shipments,
    parse_listing,
    parse_order,
    settlement_from_tally,
    tally_events,
)
from synchub_pipelines.marketplaces.errors import InvalidRequestError
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore
from synchub_pipelines.models import (
    FeeLine,
    ListingStatus,
    LogisticMode,
    Order,
    OrderFacts,
    OrderRef,
    OrderStatus,
    ShipmentStatus,
    StatusEvent,
    Store,
)
from synchub_pipelines.sandbox import server
from synchub_pipelines.sandbox.amazon import (
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    MARKETPLACE_ID,
    initial_refresh_token,
)
from synchub_pipelines.sandbox.amazon_render import (
    REFUND,
    SALE,
    AmazonOrder,
    order_money,
    order_total,
)
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.world import Order as WorldOrder
from synchub_pipelines.sandbox.world import Seller
from synchub_pipelines_tests.conftest import PAYLOADS as ALL_PAYLOADS

PAYLOADS = ALL_PAYLOADS / "amazon"
ANCHOR = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
FAST = HttpSettings(backoff_base_seconds=0.01, backoff_max_seconds=0.2, max_attempts=8)
OPERATIONS = (
    "getOrders",
    "getOrder",
    "getOrderItems",
    "getOrder2026",
    "listFinancialEventsByOrderId",
    "listFinancialEvents",
    "listings",
)
UNTHROTTLED = {f"amazon.{name}": 1000.0 for name in OPERATIONS}
STORE = Store.of("amazon", "A1SYNCHUBDEMO01", "Casa e Moda BR")


def _payload(name: str, *, decimals: bool = False) -> Any:
    text = (PAYLOADS / name).read_text()
    return json.loads(text, parse_float=Decimal) if decimals else json.loads(text)


def _ref(order_id: str, status: OrderStatus = OrderStatus.SHIPPED, **kw: Any) -> OrderRef:
    created = kw.pop("created_at", datetime(2020, 1, 1, tzinfo=UTC))
    return OrderRef(
        order_id=order_id, created_at=created, status=status, raw_status="Shipped", **kw
    )


# --- order money from the documented getOrderItems examples --------------------------------


def test_doc_order_items_keep_the_stated_line_total() -> None:
    header = _payload("getOrders_doc_example_response.json")["payload"]["Orders"][0]
    items = OrderItemsResponse.model_validate(_payload("getOrderItems_doc_example_response.json"))
    order = parse_order(header, items.payload.OrderItems, STORE)
    first, second = order.items
    # 17.95 for two units: the line is 17.95 as Amazon states it, the unit 8.975 → 8.98.
    assert (second.quantity, second.line_amount, second.unit_price) == (
        2,
        Decimal("17.95"),
        Decimal("8.98"),
    )
    assert (first.line_ref, second.line_ref) == ("68828574383266", "79039765272157")
    assert order.items_amount == Decimal("43.94") == first.line_amount + second.line_amount
    # ShippingPrice is stated on the first line only; nothing states a discount or a tax.
    assert order.shipping_paid_by_buyer == Decimal("1.26")
    assert (order.discount_amount, order.tax_amount) == (None, None)
    assert order.total_amount == Decimal("45.20")  # Pending: no OrderTotal yet


def test_sandbox_order_items_tax_goes_to_tax_amount_not_the_line() -> None:
    header = _payload("getOrders_sandbox_response.json")["payload"]["Orders"][0]
    items = OrderItemsResponse.model_validate(_payload("getOrderItems_sandbox_response.json"))
    order = parse_order(header, items.payload.OrderItems, STORE)
    (line,) = order.items
    assert (line.line_amount, line.tax_amount, line.discount_amount) == (
        Decimal("10.00"),
        Decimal("1.01"),
        Decimal("0.00"),
    )
    assert (order.items_amount, order.tax_amount, order.total_amount) == (
        Decimal("10.00"),
        Decimal("1.01"),
        Decimal("11.01"),
    )
    assert order.total_amount == order.items_amount - order.discount_amount + order.tax_amount


def test_discounts_and_discount_taxes_sit_beside_the_line() -> None:
    header = _payload("getOrders_sandbox_response.json")["payload"]["Orders"][0]
    items = _payload("getOrderItems_sandbox_response.json")["payload"]["OrderItems"]
    line = dict(items[0])

    def brl(amount: str) -> dict[str, str]:
        return {"CurrencyCode": "USD", "Amount": amount}

    line |= {
        "QuantityOrdered": 3,
        "ItemPrice": brl("100.00"),
        "PromotionDiscount": brl("10.00"),
        "PromotionDiscountTax": brl("0.10"),
        "ShippingPrice": brl("15.00"),
        "ShippingDiscount": brl("15.00"),
        "ShippingTax": brl("1.50"),
        "ShippingDiscountTax": brl("1.50"),
    }
    order = parse_order(dict(header, OrderTotal=brl("91.00")), [line], STORE)
    (item,) = order.items
    assert (item.line_amount, item.unit_price) == (Decimal("100.00"), Decimal("33.33"))
    assert item.discount_amount == order.discount_amount == Decimal("10.00")
    # 1.01 + 1.50 − 0.10 − 1.50: every tax on the line, less the tax on its discounts.
    assert item.tax_amount == order.tax_amount == Decimal("0.91")
    # Free shipping is a cheaper shipping, not a discount on the goods.
    assert order.shipping_paid_by_buyer == Decimal("0.00")
    assert order.total_amount == Decimal("91.00")
    assert order.items_amount - order.discount_amount + order.tax_amount == Decimal("90.91")


# --- fees from the documented Finances v0 examples -----------------------------------------


def test_doc_events_by_order_service_fee_counts_as_posted() -> None:
    body = FinancesResponse.model_validate(
        _payload("listFinancialEventsByOrderId_sandbox_response.json", decimals=True)
    )
    assert body.payload.NextToken == "Next token value"
    # The example was asked for 485-734-5434857 but its events name 444-555-3343433.
    order_id = "444-555-3343433"
    tally = EventTally(order_id)
    broken = tally_events({order_id: tally}, body.payload.FinancialEvents, "485-734-5434857")
    assert broken == {}
    settlement = settlement_from_tally(tally, _ref(order_id), STORE.store_id, ANCHOR)
    assert settlement is not None
    # FixedClosingFee is posted as +25.37: Amazon fees are negative, so this one is a
    # credit. Retrocharge, rental and ads events are not order money this client reads.
    assert settlement.fees == (FeeLine(fee_type="FixedClosingFee", amount=Decimal("-25.37")),)
    assert settlement.fee_amount == Decimal("-25.37")
    assert settlement.payout_amount == Decimal("25.37")
    assert (settlement.refund_amount, settlement.seller_shipping_cost) == (Decimal(0), None)
    assert settlement.currency == "USD"
    # No sale posted yet: not final.
    assert (settlement.fees_final, settlement.settled_at) == (False, None)


def test_doc_events_by_date_name_no_order_of_ours() -> None:
    body = FinancesResponse.model_validate(
        _payload("listFinancialEvents_sandbox_response.json", decimals=True)
    )
    assert body.payload.NextToken == "Next token value"
    # Pay with Amazon and provider credits name a SellerOrderId only; rentals are not read.
    tally = EventTally("444-555-3343433")
    assert tally_events({tally.order_id: tally}, body.payload.FinancialEvents, None) == {}
    assert tally.events == 0
    assert settlement_from_tally(tally, _ref(tally.order_id), STORE.store_id, ANCHOR) is None


def test_doc_error_examples_are_clear_invalid_requests() -> None:
    app = AmazonApp(client_id="id", client_secret=SecretStr("secret"))
    for name, message in (
        ("listFinancialEventsByOrderId_sandbox_400_response.json", "Bad order ID provided."),
        ("getOrder_2026-01-01_sandbox_400_response.json", "Invalid Input"),
    ):
        request = httpx.Request("GET", "https://sellingpartnerapi-na.amazon.com/x")
        response = httpx.Response(400, json=_payload(name), request=request)
        error = app.classify(response, "op")
        assert isinstance(error, InvalidRequestError)
        assert (error.code, error.detail) == ("InvalidInput", message)


def _money(amount: str) -> dict[str, Any]:
    return {"CurrencyCode": "BRL", "CurrencyAmount": Decimal(amount)}


def _charge(kind: str, amount: str) -> dict[str, Any]:
    return {"ChargeType": kind, "ChargeAmount": _money(amount)}


def _fee(kind: str, amount: str) -> dict[str, Any]:
    return {"FeeType": kind, "FeeAmount": _money(amount)}


def test_sale_then_refund_adds_up_with_amazons_signs() -> None:
    # The model has no ShipmentEvent example: this one is built from its field names,
    # with Amazon's signs (charges +, fees and promotions −, and the reverse on refunds).
    sale = {
        "AmazonOrderId": "701-0000001-0000001",
        "PostedDate": "2025-01-10T12:00:00Z",
        "ShipmentItemList": [
            {
                "SellerSKU": "CAM01-PRT-M",
                "OrderItemId": "11111111111111",
                "QuantityShipped": 2,
                "ItemChargeList": [
                    _charge("Principal", "59.79"),
                    _charge("Tax", "2.99"),
                    _charge("ShippingCharge", "19.90"),
                    _charge("ShippingTax", "0.00"),
                ],
                "ItemFeeList": [
                    _fee("Commission", "-9.56"),
                    _fee("FixedClosingFee", "-4.00"),
                    _fee("VariableClosingFee", "0.00"),
                ],
                "PromotionList": [
                    {"PromotionId": "P", "PromotionAmount": _money("-5.98")},
                ],
                "ItemTaxWithheldList": [
                    {
                        "TaxCollectionModel": "MarketplaceFacilitator",
                        "TaxesWithheld": [_charge("MarketplaceFacilitatorTax-Principal", "-2.99")],
                    }
                ],
            }
        ],
    }
    refund = {
        "AmazonOrderId": "701-0000001-0000001",
        "PostedDate": "2025-01-20T12:00:00Z",
        "ShipmentItemAdjustmentList": [
            {
                "SellerSKU": "CAM01-PRT-M",
                "OrderAdjustmentItemId": "99999999999999",
                "QuantityShipped": 2,
                "ItemChargeAdjustmentList": [
                    _charge("Principal", "-59.79"),
                    _charge("Tax", "-2.99"),
                    _charge("ShippingCharge", "-19.90"),
                ],
                "ItemFeeAdjustmentList": [
                    _fee("Commission", "9.56"),
                    _fee("RefundCommission", "-1.91"),
                ],
                "PromotionAdjustmentList": [{"PromotionAmount": _money("5.98")}],
                "ItemTaxWithheldList": [
                    {"TaxesWithheld": [_charge("MarketplaceFacilitatorTax-Principal", "2.99")]}
                ],
            }
        ],
    }
    service = {"AmazonOrderId": "701-0000001-0000001", "FeeList": [_fee("Subscription", "-1.00")]}
    events = {
        "ShipmentEventList": [sale],
        "RefundEventList": [refund],
        "ServiceFeeEventList": [service],
        "AdjustmentEventList": [
            {"AdjustmentType": "PostageBilling", "AdjustmentAmount": _money("-12.30")}
        ],
    }
    order_id = "701-0000001-0000001"
    ref = _ref(order_id)
    # Bought by date, the adjustment names no order and is left out...
    by_date = EventTally(order_id)
    assert tally_events({order_id: by_date}, events, None) == {}
    # ...while a call for this order alone makes it the order's postage.
    tally = EventTally(order_id)
    assert tally_events({order_id: tally}, events, order_id) == {}
    at_refund = datetime(2025, 1, 21, tzinfo=UTC)
    settlement = settlement_from_tally(tally, ref, STORE.store_id, at_refund)
    assert settlement is not None
    line = "11111111111111"
    # The refunded commission is a rebate; the refund is matched to the line by its SKU.
    assert sorted(settlement.fees, key=lambda f: f.fee_type) == [
        FeeLine(fee_type="FixedClosingFee", amount=Decimal("4.00"), line_ref=line),
        FeeLine(fee_type="RefundCommission", amount=Decimal("1.91"), line_ref=line),
        FeeLine(fee_type="Subscription", amount=Decimal("1.00")),
    ]
    assert settlement.fee_amount == Decimal("6.91")
    # 59.79 + 2.99 + 19.90 − 5.98 = 76.70 paid, all of it given back.
    assert settlement.refund_amount == Decimal("76.70")
    assert settlement.seller_shipping_cost == Decimal("12.30")
    # Every amount posted: −4.00 − 1.91 − 1.00 in fees and −12.30 of postage.
    assert settlement.payout_amount == Decimal("-19.21")
    assert by_date.payout == Decimal("-6.91")
    assert (settlement.fees_final, settlement.settled_at) == (False, None)
    final = settlement_from_tally(tally, ref, STORE.store_id, datetime(2025, 2, 9, 12, tzinfo=UTC))
    assert final is not None
    assert (final.fees_final, final.settled_at) == (True, datetime(2025, 1, 20, 12, tzinfo=UTC))
    assert amazon.refund_event(tally) == StatusEvent(
        status=OrderStatus.RETURNED, at=datetime(2025, 1, 20, 12, tzinfo=UTC), raw_status="Refund"
    )


def test_an_unparsable_event_rejects_its_order_only() -> None:
    good, bad = EventTally("701-0000001-0000001"), EventTally("701-0000002-0000002")
    events = {
        "ShipmentEventList": [
            {"AmazonOrderId": good.order_id, "ShipmentItemList": []},
            {
                "AmazonOrderId": bad.order_id,
                "ShipmentItemList": [{"ItemFeeList": [{"FeeType": "Commission"}]}],
            },
        ]
    }
    broken = tally_events({good.order_id: good, bad.order_id: bad}, events, None)
    assert list(broken) == [bad.order_id]
    reason, raw = broken[bad.order_id]
    assert "FeeAmount" in reason
    assert raw["AmazonOrderId"] == bad.order_id
    assert good.events == 1


def test_events_windows_stay_within_180_days_and_two_minutes_ago() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    windows = events_windows(datetime(2025, 1, 1, tzinfo=UTC), now)
    assert [(a.isoformat(), b.isoformat()) for a, b in windows] == [
        ("2025-01-01T00:00:00+00:00", "2025-06-30T00:00:00+00:00"),
        ("2025-06-30T00:00:00+00:00", "2025-12-27T00:00:00+00:00"),
        ("2025-12-27T00:00:00+00:00", "2025-12-31T23:57:55+00:00"),
    ]
    assert events_windows(now - timedelta(minutes=1), now) == []


# --- packages from the documented Orders 2026-01-01 examples -------------------------------


def test_doc_get_order_package_in_transit() -> None:
    body = O26OrderResponse.model_validate(
        _payload("getOrder_2026-01-01_doc_example_response.json")
    )
    order = O26Order.model_validate(body.order)
    (shipment,) = order_facts_shipments(order, STORE.store_id)
    assert (shipment.shipment_id, shipment.order_id) == ("202-1234567-8901234",) * 2
    assert (shipment.status, shipment.raw_status) == (
        ShipmentStatus.SHIPPED,
        "IN_TRANSIT/OUT_FOR_DELIVERY",
    )
    assert (shipment.carrier, shipment.tracking_number) == ("Royal Mail", "RR123456789GB")
    assert shipment.logistic_mode is LogisticMode.SELLER
    assert shipment.shipped_at == datetime(2024, 12, 26, 14, 0, tzinfo=UTC)
    assert shipment.ship_by == datetime(2024, 12, 26, 23, 59, 59, tzinfo=UTC)
    assert shipment.delivered_at is None
    assert shipment.updated_at == datetime(2024, 12, 25, 16, 30, tzinfo=UTC)
    # Recipient data were in the answer; none of it is kept.
    assert "Manchester" not in shipment.model_dump_json()
    assert order_facts_events(order) == [
        StatusEvent(status=OrderStatus.PENDING, at=datetime(2024, 12, 25, 9, 15, tzinfo=UTC)),
        StatusEvent(status=OrderStatus.SHIPPED, at=datetime(2024, 12, 26, 14, 0, tzinfo=UTC)),
    ]


def test_doc_search_orders_package_delivered_without_an_instant() -> None:
    raw = _payload("searchOrders_2026-01-01_doc_example_response.json")["orders"][0]
    order = O26Order.model_validate(raw)
    (shipment,) = order_facts_shipments(order, STORE.store_id)
    assert (shipment.status, shipment.raw_status) == (
        ShipmentStatus.DELIVERED,
        "DELIVERED/DELIVERED",
    )
    assert (shipment.carrier, shipment.tracking_number) == ("UPS", "1Z999AA1234567890")
    # Amazon states that the package was delivered, not when.
    assert shipment.delivered_at is None
    assert shipment.shipped_at == datetime(2024, 12, 25, 14, 0, tzinfo=UTC)


def test_doc_sandbox_orders_without_packages_are_their_fulfilment() -> None:
    br = O26Order.model_validate(_payload("getOrder_2026-01-01_sandbox_br_response.json")["order"])
    (shipment,) = order_facts_shipments(br, STORE.store_id)
    assert (shipment.shipment_id, shipment.status, shipment.raw_status) == (
        "171-9876543-2109876",
        ShipmentStatus.PENDING,
        "UNSHIPPED",
    )
    assert shipment.ship_by == datetime(2024, 12, 27, 23, 59, 59, tzinfo=UTC)
    assert (shipment.tracking_number, shipment.shipped_at) == (None, None)
    assert [e.status for e in order_facts_events(br)] == [OrderStatus.PENDING]
    tr = O26Order.model_validate(_payload("getOrder_2026-01-01_sandbox_tr_response.json")["order"])
    (shipped,) = order_facts_shipments(tr, STORE.store_id)
    assert (shipped.status, shipped.raw_status) == (ShipmentStatus.SHIPPED, "SHIPPED")


def test_a_second_package_gets_an_id_of_its_own() -> None:
    raw = _payload("getOrder_2026-01-01_doc_example_response.json")["order"]
    first = raw["packages"][0]
    cancelled = dict(
        first,
        packageReferenceId="UK-PKG-2024-000",
        createdTime="2024-12-25T10:00:00Z",
        packageStatus={"status": "CANCELLED", "detailedStatus": "LABEL_CANCELLED"},
    )
    order = O26Order.model_validate(dict(raw, packages=[cancelled, first]))
    main, other = order_facts_shipments(order, STORE.store_id)
    # The live package keeps the order id even though the cancelled label is older.
    assert (main.shipment_id, main.status) == ("202-1234567-8901234", ShipmentStatus.SHIPPED)
    assert (other.shipment_id, other.status) == (
        "202-1234567-8901234-UK-PKG-2024-000",
        ShipmentStatus.CANCELLED,
    )
    assert other.shipped_at is None


# --- listing verdicts from the documented Listings Items examples --------------------------


def test_doc_listing_issues_become_the_status_and_its_reason() -> None:
    item = _payload("getListingsItem_doc_example_response.json")
    us = parse_listing(item, "amazon-S1", "ATVPDKIKX0DER")
    # BUYABLE, but two issues take it off sale (not exempt): suppressed, with their words.
    assert us.status is ListingStatus.SUPPRESSED
    assert us.raw_status == "BUYABLE,CATALOG_ITEM_REMOVED,LISTING_SUPPRESSED"
    assert us.status_reason == (
        "18155: The 'minimum price' is greater than the selling price (excluding shipping) "
        "for the listing. Review and update your price and/or minimum price.; "
        "18742: Restricted Products Policy Violation"
    )
    ca = parse_listing(item, "amazon-S1", "A2EUQ1WTGCTBG2")
    # Neither buyable nor discoverable, with ERROR issues (exempt from enforcement for
    # now, and 90220 is about another marketplace): an incomplete listing.
    assert (ca.status, ca.raw_status) == (ListingStatus.SUPPRESSED, "NONE")
    assert ca.status_reason is not None
    assert ca.status_reason.startswith("18027: We believe the main image")
    assert "99300" in ca.status_reason and "90220" not in ca.status_reason
    search = _payload("searchListingsItems_doc_example_response.json")
    assert parse_listing(search["items"][0], "amazon-S1", "ATVPDKIKX0DER") == us


def test_warnings_and_exemptions_do_not_suppress() -> None:
    item = _payload("getListingsItem_doc_example_response.json")
    exempt = [i for i in item["issues"] if i["code"] in ("18027", "99300")]
    warning = dict(exempt[0], severity="WARNING", enforcements=None)
    buyable = parse_listing(dict(item, issues=exempt), "amazon-S1", "ATVPDKIKX0DER")
    assert (buyable.status, buyable.raw_status, buyable.status_reason) == (
        ListingStatus.ACTIVE,
        "BUYABLE",
        None,
    )
    paused = parse_listing(dict(item, issues=[warning]), "amazon-S1", "A2EUQ1WTGCTBG2")
    assert (paused.status, paused.status_reason) == (ListingStatus.PAUSED, None)


# --- against the sandbox over HTTP -------------------------------------------------------


class CountingTransport(httpx.BaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.calls: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if "/finances/v0/orders/" in path:
            self.calls["listFinancialEventsByOrderId"] += 1
        elif path.endswith("/finances/v0/financialEvents"):
            self.calls["listFinancialEvents"] += 1
        elif "/orders/2026-01-01/orders/" in path:
            self.calls["getOrder2026"] += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _start(rate_limits: dict[str, float], clock_at: datetime) -> RunningSandbox:
    with mock.patch.object(server, "SIMULATOR_MODULES", ("amazon",)):
        sandbox = Sandbox(
            SandboxConfig(seed=7, size="tiny", anchor=ANCHOR, rate_limits=rate_limits)
        )
    sandbox.clock.advance(clock_at.timestamp() - time.time())
    return RunningSandbox(sandbox).start()


def _connect(
    running: RunningSandbox, rate_scale: float = 1000.0
) -> tuple[AmazonClient, CountingTransport]:
    url = running.base_url("amazon")
    app = AmazonApp(
        client_id=LWA_CLIENT_ID,
        client_secret=SecretStr(LWA_CLIENT_SECRET),
        marketplace_id=MARKETPLACE_ID,
        api_url=url,
        lwa_url=url,
        rate_scale=rate_scale,
        http=FAST,
    )
    (seller,) = running.sandbox.world.sellers_of("amazon")
    store = Store.of("amazon", seller.seller_id, seller.nickname)
    lwa = app.new_lwa_http()
    tokens = app.connect_with_refresh_token(lwa, SecretStr(initial_refresh_token(seller.seller_id)))
    lwa.close()
    token_store = MemoryTokenStore()
    token_store.save(store.store_id, tokens)
    transport = CountingTransport()
    client = AmazonClient(
        app,
        store,
        token_store,
        "salt",
        http=app.new_http(transport),
        clock=running.sandbox.clock.now,
    )
    return client, transport


@pytest.fixture
def running() -> Iterator[RunningSandbox]:
    # Twelve days after the World's newest orders: old sales are final, recent ones are
    # still deferred or unsettled.
    running = _start(UNTHROTTLED, ANCHOR + timedelta(days=12))
    yield running
    running.stop()


def _world(running: RunningSandbox) -> tuple[Seller, dict[str, WorldOrder]]:
    (seller,) = running.sandbox.world.sellers_of("amazon")
    orders = {AmazonOrder.of(o).amazon_order_id: o for o in running.sandbox.world.orders_of(seller)}
    return seller, orders


def _orders(client: AmazonClient) -> list[Order]:
    found: list[Order] = []
    for page in client.iter_orders(ANCHOR - timedelta(days=30), ANCHOR + timedelta(seconds=1)):
        assert page.rejects == []
        found += page.records
    return found


def _refs(orders: list[Order]) -> list[OrderRef]:
    return [
        OrderRef(
            order_id=o.order_id,
            created_at=o.created_at,
            status=o.status,
            raw_status=o.raw_status,
            shipment_ids=tuple(s.shipment_id for s in o.shipments),
        )
        for o in orders
    ]


def _expected_money(
    source: WorldOrder, now: datetime
) -> tuple[Decimal, Decimal, Decimal, dict[str, Decimal]] | None:
    """(fee, payout, refund, fee by type) of what the sandbox has posted and released by
    `now`; None when nothing shows yet."""
    view = AmazonOrder.of(source)
    now_ts = now.timestamp()
    sold = view.shipped_ts is not None and view.visible(SALE, now_ts)
    refunded = view.visible(REFUND, now_ts)
    if not sold and not refunded:
        return None
    fees: dict[str, Decimal] = defaultdict(Decimal)
    payout = refund = Decimal(0)
    for cash in order_money(source):
        if sold:
            fees["Commission"] += cash.commission
            fees["FixedClosingFee"] += cash.closing_fee
            fees["FBAPerUnitFulfillmentFee"] += cash.fba_fee
            payout += cash.paid - cash.fees
        if refunded:
            fees["Commission"] -= cash.commission
            fees["RefundCommission"] += cash.refund_commission
            payout -= cash.paid - cash.commission + cash.refund_commission
            refund += cash.paid
    by_type = {kind: amount for kind, amount in fees.items() if amount}
    return sum(by_type.values(), Decimal(0)), payout, refund, by_type


def _by_type(facts: OrderFacts) -> dict[str, Decimal]:
    assert facts.settlement is not None
    found: dict[str, Decimal] = defaultdict(Decimal)
    for fee in facts.settlement.fees:
        found[fee.fee_type] += fee.amount
    return {kind: amount for kind, amount in found.items() if amount}


def test_facts_match_the_world_to_the_cent(running: RunningSandbox) -> None:
    client, transport = _connect(running)
    _, world = _world(running)
    now = running.sandbox.clock.now()
    orders = _orders(client)
    page = client.get_order_facts(_refs(orders))
    assert page.rejects == []
    facts = {f.order_id: f for f in page.records}
    # Every order is known to getOrder or has events (cancelled ones: a zero settlement).
    assert set(facts) == {o.order_id for o in orders}
    seen: Counter[str] = Counter()
    posted = 0
    for order in orders:
        source, found = world[order.order_id], facts[order.order_id]
        view = AmazonOrder.of(source)
        expected = _expected_money(source, now)
        posted += view.visible(SALE, now.timestamp()) + view.visible(REFUND, now.timestamp())
        settlement = found.settlement
        if order.status is OrderStatus.CANCELLED:
            assert settlement is not None and settlement.fees_final
            assert (settlement.fee_amount, settlement.payout_amount) == (0, 0)
            seen["cancelled"] += 1
            continue
        if expected is None:
            assert settlement is None, order.order_id  # the sale is still deferred
            seen["deferred" if view.shipped_ts else "unshipped"] += 1
        else:
            assert settlement is not None
            fee, payout, refund, by_type = expected
            assert settlement.fee_amount == fee, order.order_id
            assert settlement.payout_amount == payout, order.order_id
            assert settlement.refund_amount == refund, order.order_id
            assert _by_type(found) == by_type, order.order_id
            assert settlement.currency == "BRL"
            final = view.shipped_ts is not None and view.shipped_ts + 30 * 86_400 <= now.timestamp()
            assert settlement.fees_final is final, order.order_id
            seen["final" if final else "unsettled"] += 1
            if refund:
                seen["refunded"] += 1
                assert refund == order_total(source)  # returned in full
                assert (
                    StatusEvent(
                        status=OrderStatus.RETURNED,
                        at=datetime.fromtimestamp(view.returned_ts or 0, UTC),
                        raw_status="Refund",
                    )
                    in found.status_events
                )
            else:
                # A sale's fee lines point at the order lines.
                refs = {f.line_ref for f in settlement.fees}
                assert refs <= {i.line_ref for i in order.items}
                assert settlement.payout_amount == order.total_amount - settlement.fee_amount
        (shipment,) = found.shipments
        assert shipment.shipment_id == order.order_id
        if view.afn:
            assert shipment.logistic_mode is LogisticMode.MARKETPLACE
            assert shipment.tracking_number is None  # Amazon's own logistics: no tracking
            seen["fba"] += 1
        elif view.shipped_ts is not None:
            assert shipment.logistic_mode is LogisticMode.SELLER
            assert shipment.tracking_number and shipment.carrier
            assert shipment.shipped_at == datetime.fromtimestamp(view.shipped_ts, UTC)
            assert StatusEvent(status=OrderStatus.SHIPPED, at=shipment.shipped_at) in (
                found.status_events
            )
            if view.delivered_ts is not None and view.delivered_ts <= now.timestamp():
                assert shipment.status is ShipmentStatus.DELIVERED
                seen["delivered"] += 1
    # Old sales final, recent ones posted but not final, the newest still deferred; some
    # returned and refunded, some fulfilled by Amazon.
    for kind in ("final", "unsettled", "deferred", "refunded", "cancelled", "fba", "delivered"):
        assert seen[kind] > 0, (kind, seen)
    # 120 orders: their events by date at 100 a page, one getOrder per order not cancelled.
    assert posted > 100
    assert transport.calls["listFinancialEvents"] == -(-posted // 100)
    assert transport.calls["listFinancialEventsByOrderId"] == 0
    assert transport.calls["getOrder2026"] == 120 - seen["cancelled"]
    client.close()


def test_every_order_settles_within_settlement_days(running: RunningSandbox) -> None:
    client, _ = _connect(running)
    orders = _orders(client)
    sandbox = running.sandbox
    sandbox.clock.advance_delta(timedelta(days=AmazonClient.settlement_days))
    # Now even the newest order is settlement_days old.
    page = client.get_order_facts(_refs(orders))
    assert page.rejects == []
    assert len(page.records) == len(orders)
    for facts in page.records:
        assert facts.settlement is not None and facts.settlement.fees_final, facts.order_id
    client.close()


def test_small_lists_are_read_per_order_with_the_same_cents(running: RunningSandbox) -> None:
    client, transport = _connect(running)
    refs = _refs(_orders(client))
    bulk = {f.order_id: f for f in client.get_order_facts(refs).records}
    few = [r for r in refs if r.status is OrderStatus.SHIPPED][:8]
    single = client.get_order_facts(few)
    assert transport.calls["listFinancialEventsByOrderId"] == len(few)
    assert [f.order_id for f in single.records] == [r.order_id for r in few]
    for facts in single.records:
        assert facts == bulk[facts.order_id]
    client.close()


def test_paging_events_gives_way_to_per_order_calls_when_it_costs_more(
    running: RunningSandbox,
) -> None:
    client, transport = _connect(running)
    refs = _refs(_orders(client))[-40:]
    with mock.patch.object(amazon, "EVENTS_PAGE", 1):
        # One event a page: the period's events need far more than a page per 10 orders.
        paged = client.get_order_facts(refs)
    assert transport.calls["listFinancialEvents"] == len(refs) // 10
    assert transport.calls["listFinancialEventsByOrderId"] == len(refs)
    direct = client.get_order_facts(refs)
    assert paged.records == direct.records and paged.rejects == []
    client.close()


def test_unknown_orders_are_absent(running: RunningSandbox) -> None:
    client, _ = _connect(running)
    page = client.get_order_facts([_ref("701-0000000-0000001", OrderStatus.PAID)])
    assert (page.records, page.rejects) == ([], [])
    client.close()


def test_quota_errors_are_recovered(running: RunningSandbox) -> None:
    client, _ = _connect(running)
    refs = [r for r in _refs(_orders(client)) if r.status is OrderStatus.SHIPPED][:12]
    clean = client.get_order_facts(refs)
    # Met many times, but six in a row (every attempt of one call) not by chance.
    running.sandbox.faults.update(rate_429=0.15)
    try:
        faulty = client.get_order_facts(refs)
    finally:
        running.sandbox.faults.update(rate_429=0.0)
    assert client.http.stats["errors.RateLimitedError"] > 0
    assert faulty.records == clean.records and faulty.rejects == []
    client.close()


def test_published_finance_quota_is_respected_without_429() -> None:
    # Amazon's own buckets on both sides: 20 orders fit the burst of 30 of each operation.
    running = _start({}, ANCHOR + timedelta(days=12))
    try:
        client, transport = _connect(running, rate_scale=1.0)
        _, world = _world(running)
        refs = [
            _ref(order_id, created_at=order.created_at)
            for order_id, order in sorted(world.items())[:20]
        ]
        page = client.get_order_facts(refs)
        assert page.rejects == []
        assert transport.calls["listFinancialEventsByOrderId"] == 20
        assert client.http.stats["errors.RateLimitedError"] == 0
        assert client.http.throttled_seconds == 0
        client.close()
    finally:
        running.stop()
