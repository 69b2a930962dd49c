"""TikTok Shop sales facts: the order's money, packages and status instants, and Finance's
settlement (fees, shipping cost, refund, payout), from the public sample payloads and from
the sandbox over real HTTP on loopback.

The samples are SKIT's documented 202309 examples (fixtures/payloads/tiktok). Their numbers
are placeholders that do not add up (a `fee_amount` of -30 over itemized fees of -14.99):
the client keeps TikTok's total and names the unexplained part after it.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from synchub_pipelines.marketplaces import tiktok
from synchub_pipelines.marketplaces.errors import TransientError
from synchub_pipelines.marketplaces.http import HttpSettings
from synchub_pipelines.marketplaces.tiktok import (
    ORDER_STATEMENT_PATH,
    TikTokApp,
    TikTokClient,
    TTOrder,
    TTProduct,
    TTStatementPage,
    TTStatementRowPage,
    listing_status,
    order_from_tiktok,
    parse_order_statement,
    parse_webhook,
    status_reason,
)
from synchub_pipelines.marketplaces.tokens import MemoryTokenStore
from synchub_pipelines.models import (
    FeeLine,
    ListingStatus,
    LogisticMode,
    OrderFacts,
    OrderRef,
    OrderSettlement,
    OrderStatus,
    Rejected,
    ShipmentStatus,
    StatusEvent,
    Store,
)
from synchub_pipelines.sandbox.infra import Faults
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.tiktok import APP_KEY, APP_SECRET
from synchub_pipelines.sandbox.tiktok_render import order_id
from synchub_pipelines_tests.conftest import PAYLOADS as ALL_PAYLOADS

PAYLOADS = ALL_PAYLOADS / "tiktok"
SALT = "test-salt"
STORE = Store.of("tiktok", "7494049642642441621", "Sample shop")
SKU = "1729383353063867953"
D = Decimal


def _payload(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return body


def _statement_sample() -> dict[str, Any]:
    data: dict[str, Any] = _payload("finance_202309_order_statement_transactions_response.json")[
        "data"
    ]
    return data


def _detail_sample() -> dict[str, Any]:
    order: dict[str, Any] = _payload("order_202309_orders_get_response.json")["data"]["orders"][0]
    return order


def _settle(raw: dict[str, Any]) -> OrderSettlement:
    result = parse_order_statement(raw, str(raw.get("order_id")), STORE.store_id)
    assert isinstance(result, OrderSettlement), result
    return result


# --- Finance: the statement transactions sample --------------------------------------------


def test_statement_sample_settles_to_the_cent() -> None:
    body = _payload("finance_202309_order_statement_transactions_response.json")
    assert body["code"] == 0
    settlement = _settle(body["data"])
    assert settlement.order_id == "5793990727963214852"
    assert settlement.currency == "USD"
    assert settlement.fees_final is True
    assert settlement.settled_at == datetime(2023, 5, 31, 16, 0, tzinfo=UTC)  # 1685548800
    assert settlement.payout_amount == D("130")  # settlement_amount
    assert settlement.seller_shipping_cost == D("70")  # shipping_cost_amount -70
    assert settlement.refund_amount == D("0")  # customer_refund_amount
    # Every non-zero fee of the sample, charged (positive): the SKU row's share on its SKU,
    # the rest on the order; what the itemized fees leave of fee_amount (-30), on its own.
    assert sorted(settlement.fees, key=lambda f: (f.fee_type, f.line_ref or "")) == [
        FeeLine(fee_type="affiliate_ads_commission_amount", amount=D("3"), line_ref=SKU),
        FeeLine(fee_type="affiliate_commission_amount", amount=D("3"), line_ref=None),
        FeeLine(fee_type="affiliate_commission_amount", amount=D("3"), line_ref=SKU),
        FeeLine(fee_type="fbt_fulfillment_fee_amount", amount=D("1.99"), line_ref=SKU),
        FeeLine(fee_type="fee_amount", amount=D("15.01"), line_ref=None),
        FeeLine(fee_type="referral_fee_amount", amount=D("1"), line_ref=None),
        FeeLine(fee_type="referral_fee_amount", amount=D("1"), line_ref=SKU),
        FeeLine(fee_type="transaction_fee_amount", amount=D("1"), line_ref=None),
        FeeLine(fee_type="transaction_fee_amount", amount=D("1"), line_ref=SKU),
    ]
    assert settlement.fee_amount == D("30")
    itemized = sum((f.amount for f in settlement.fees if f.fee_type != "fee_amount"), D(0))
    assert itemized == D("14.99")  # 2 + 2 + 6 + 3 + 1.99 (commission, partner, refund admin: 0)


def test_a_transaction_not_settled_yet_is_not_final() -> None:
    raw = _statement_sample()
    raw["statement_transactions"][0]["status"] = "PROCESSING"
    settlement = _settle(raw)
    assert settlement.fees_final is False and settlement.settled_at is None
    assert settlement.payout_amount == D("130")


def test_no_transaction_yet_means_not_settled_and_nothing_known() -> None:
    raw = {**_statement_sample(), "statement_transactions": []}
    settlement = _settle(raw)
    assert settlement.fees_final is False
    assert (settlement.fee_amount, settlement.payout_amount, settlement.fees) == (None, None, ())


def test_fees_that_add_up_need_no_unitemized_line_and_transactions_add() -> None:
    raw = _statement_sample()
    tx = raw["statement_transactions"][0]
    tx["fee_amount"] = "-14.99"
    adjustment = {
        "id": "2",
        "status": "SETTLED",
        "statement_id": "7238804564097517340",
        "statement_time": 1685635200,
        "currency": "USD",
        "settlement_amount": "-1.5",
        "fee_amount": "-1.5",
        "refund_administration_fee_amount": "-1.5",
        "shipping_cost_amount": "0",
    }
    raw["statement_transactions"].append(adjustment)
    settlement = _settle(raw)
    assert "fee_amount" not in {f.fee_type for f in settlement.fees}
    assert settlement.fee_amount == D("16.49")
    assert settlement.payout_amount == D("128.5")
    assert settlement.settled_at == datetime.fromtimestamp(1685635200, tz=UTC)


def test_a_malformed_statement_is_a_reject_with_its_reason() -> None:
    raw = copy.deepcopy(_statement_sample())
    del raw["statement_transactions"][0]["settlement_amount"]
    result = parse_order_statement(raw, "5793990727963214852", STORE.store_id)
    assert isinstance(result, Rejected)
    assert result.source == "tiktok.statement_transactions"
    assert result.record_key == "5793990727963214852"
    assert "settlement_amount" in result.reason
    assert json.loads(result.payload)["order_id"] == "5793990727963214852"


def test_statement_list_samples_name_their_orders() -> None:
    statements = TTStatementPage.model_validate(
        _payload("finance_202309_statements_response.json")["data"]
    )
    assert [s.id for s in statements.statements or ()] == ["7238804564097517339"]
    rows = TTStatementRowPage.model_validate(
        _payload("finance_202309_statement_transactions_response.json")["data"]
    )
    assert [(r.order_id, r.adjustment_order_id) for r in rows.statement_transactions or ()] == [
        ("576463220456522968", "576463220456522968")
    ]
    assert rows.next_page_token


# --- orders: money, packages and status instants ------------------------------------------


def test_order_detail_sample_money_packages_and_instants() -> None:
    body = _payload("order_202309_orders_get_response.json")
    order = order_from_tiktok(TTOrder.model_validate(_detail_sample()), STORE, SALT)
    assert body["code"] == 0
    assert (order.status, order.currency) == (OrderStatus.PENDING, "IDR")
    assert order.items_amount == D("0.01")  # original_price of the one unit
    # payment: seller 5000 + shipping seller 5000; platform 5000 + shipping platform 5000.
    assert (order.seller_discount_amount, order.marketplace_discount_amount) == (
        D("10000"),
        D("10000"),
    )
    assert order.discount_amount == D("20000")
    assert (order.shipping_paid_by_buyer, order.tax_amount, order.total_amount) == (
        D("5000"),
        D("5000"),
        D("5000"),
    )
    [item] = order.items
    assert (item.line_ref, item.line_amount, item.discount_amount, item.tax_amount) == (
        "2729382476852921560",
        D("0.01"),
        D("0"),
        D("21.2"),
    )
    # The status is UNPAID: only its own instant counts, whatever later times the sample has.
    assert order.status_events == (
        StatusEvent(
            status=OrderStatus.PENDING,
            at=datetime(2021, 4, 28, 12, 6, 1, tzinfo=UTC),
            raw_status="UNPAID",
        ),
    )
    [shipment] = order.shipments
    assert (shipment.shipment_id, shipment.order_id) == ("1152321127278713123", order.order_id)
    assert (shipment.status, shipment.raw_status) == (ShipmentStatus.PENDING, "TO_FULFILL")
    assert (shipment.logistic_mode, shipment.logistic_type) == (LogisticMode.SELLER, "TIKTOK")
    assert (shipment.carrier, shipment.tracking_number) == ("TT Virtual express", "JX12345")
    assert shipment.ship_by == datetime.fromtimestamp(1619611688, tz=UTC)  # rts_sla_time
    assert (shipment.shipped_at, shipment.delivered_at) == (None, None)
    dumped = order.model_dump_json()
    for personal in ("David", "Kong", "3213-31231412", "v2b2V5", "bristol", "95110"):
        assert personal not in dumped


def test_delivered_order_states_each_instant_and_a_delivered_package() -> None:
    raw = _detail_sample()
    raw["status"] = "DELIVERED"
    raw["line_items"][0]["package_status"] = "FULFILLING"  # lagging behind the order
    order = order_from_tiktok(TTOrder.model_validate(raw), STORE, SALT)
    assert [(e.status, int(e.at.timestamp()), e.raw_status) for e in order.status_events] == [
        (OrderStatus.PENDING, 1619611561, "UNPAID"),
        (OrderStatus.PAID, 1619611563, "AWAITING_SHIPMENT"),
        (OrderStatus.SHIPPED, 1678389618, "IN_TRANSIT"),  # collection_time
        (OrderStatus.DELIVERED, 1678389618, "DELIVERED"),
    ]
    [shipment] = order.shipments
    assert (shipment.status, shipment.raw_status) == (ShipmentStatus.DELIVERED, "FULFILLING")
    assert (
        shipment.shipped_at == shipment.delivered_at == datetime.fromtimestamp(1678389618, tz=UTC)
    )


def test_cancelled_order_states_its_cancellation_not_a_delivery() -> None:
    raw = _detail_sample()
    raw["status"] = "CANCELLED"
    raw["line_items"][0]["package_status"] = "CANCELLED"
    order = order_from_tiktok(TTOrder.model_validate(raw), STORE, SALT)
    statuses = [e.status for e in order.status_events]
    assert statuses == [
        OrderStatus.PENDING,
        OrderStatus.PAID,
        OrderStatus.SHIPPED,
        OrderStatus.CANCELLED,
    ]
    assert order.status_events[-1].at == datetime.fromtimestamp(1678389618, tz=UTC)
    assert order.shipments[0].status is ShipmentStatus.CANCELLED


def test_two_packages_and_fulfilment_by_tiktok() -> None:
    raw = _detail_sample()
    raw["fulfillment_type"] = "FULFILLMENT_BY_TIKTOK"
    first = raw["line_items"][0]
    second = {
        **first,
        "id": "2",
        "sku_id": "2729382476852921999",
        "package_id": "1152321127278713999",
        "tracking_number": "JX999",
        "package_status": "PROCESSING",
    }
    raw["line_items"] = [{**first, "package_id": "1152321127278713123"}, second]
    raw["packages"] = [{"id": "1152321127278713123"}, {"id": "1152321127278713999"}]
    order = order_from_tiktok(TTOrder.model_validate(raw), STORE, SALT)
    got = [(s.shipment_id, s.status, s.tracking_number) for s in order.shipments]
    assert got == [
        ("1152321127278713123", ShipmentStatus.PENDING, "JX12345"),
        ("1152321127278713999", ShipmentStatus.READY_TO_SHIP, "JX999"),
    ]
    assert {(s.logistic_mode, s.logistic_type) for s in order.shipments} == {
        (LogisticMode.MARKETPLACE, "FULFILLMENT_BY_TIKTOK")
    }


def test_package_update_webhook_names_the_orders_to_read_again() -> None:
    event = parse_webhook(_payload("webhook_package_update_type4.json"))
    assert (event.type, event.shop_id) == (4, "7494049642642441621")
    assert event.order_status_change() is None
    update = event.package_update()
    assert update is not None
    assert (update.sc_type, update.update_time) == ("COMBINE", 1644412885)
    assert update.order_ids() == ["152523", "532123"]


# --- listings: TikTok's verdict and its reason -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ACTIVATE", ListingStatus.ACTIVE),
        ("SELLER_DEACTIVATED", ListingStatus.PAUSED),
        ("PLATFORM_DEACTIVATED", ListingStatus.SUPPRESSED),
        ("FREEZE", ListingStatus.SUPPRESSED),
        ("PENDING", ListingStatus.UNDER_REVIEW),
        ("FAILED", ListingStatus.SUPPRESSED),
        ("DRAFT", ListingStatus.DRAFT),
        ("DELETED", ListingStatus.CLOSED),
        ("SOMETHING_NEW", ListingStatus.SUPPRESSED),
    ],
)
def test_listing_status_mapping(raw: str, expected: ListingStatus) -> None:
    assert listing_status(raw) is expected


def test_product_detail_sample_gives_the_audit_reason() -> None:
    raw = _payload("product_202309_product_detail_response.json")["data"]
    product = TTProduct.model_validate(raw)
    assert product.status == "SELLER_DEACTIVATED"
    assert status_reason(product) == "violate listing rules"
    active = TTProduct.model_validate({**raw, "status": "ACTIVATE"})
    assert status_reason(active) is None


# --- against the sandbox ------------------------------------------------------------------

ANCHOR = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
CLOCK_AT = ANCHOR - timedelta(days=3)
FAST = HttpSettings(backoff_base_seconds=0.01, backoff_max_seconds=0.2, max_attempts=8)


@dataclass
class Shop:
    running: RunningSandbox
    app: TikTokApp
    store: Store
    token_store: MemoryTokenStore

    @property
    def sandbox(self) -> Sandbox:
        return self.running.sandbox

    def client(self) -> TikTokClient:
        return TikTokClient(self.app, self.store, self.token_store, SALT)


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    # No quota 429s here (the call counts below are exact): faults inject them on purpose.
    config = SandboxConfig(
        seed=7,
        size="tiny",
        anchor=ANCHOR,
        faults=Faults(seed=3),
        rate_limits={"tiktok": 10_000},
    )
    sandbox = Sandbox(config)
    sandbox.clock.advance(CLOCK_AT.timestamp() - time.time())
    with RunningSandbox(sandbox) as running:
        base = running.base_url("tiktok")
        app = TikTokApp(
            app_key=APP_KEY,
            app_secret=SecretStr(APP_SECRET),
            api_url=base,
            auth_url=base,
            services_url=base,
            requests_per_second=500,
            http=FAST,
        )
        url, _ = app.authorization_url()
        code = httpx.URL(httpx.get(url).headers["location"]).params["code"]
        http = app.new_http()
        try:
            shop_id, tokens = app.exchange_code(http, code)
        finally:
            http.close()
        store = Store.of("tiktok", shop_id, "Casa e Moda Shop")
        token_store = MemoryTokenStore()
        token_store.save(store.store_id, tokens)
        yield Shop(running, app, store, token_store)


def _refs(shop: Shop) -> list[OrderRef]:
    seller = shop.sandbox.world.sellers_of("tiktok")[0]
    now = shop.sandbox.clock.now()
    return [
        OrderRef(
            order_id=order_id(o.order_number),
            created_at=o.created_at,
            status=OrderStatus.PENDING,
            raw_status="UNPAID",
        )
        for o in shop.sandbox.world.orders_of(seller)
        if o.visible_at(now)
    ]


def _facts(client: TikTokClient, refs: list[OrderRef]) -> dict[str, OrderFacts]:
    page = client.get_order_facts(refs)
    assert page.rejects == []
    return {f.order_id: f for f in page.records}


def _finished_at(shop: Shop, order_number: int) -> tuple[str, datetime] | None:
    """The World order's last step TikTok settles after, and when (None: not finished)."""
    order = shop.sandbox.world.orders_by_number[order_number]
    steps = dict(order.timeline)
    now = shop.sandbox.clock.now()
    for status in ("returned", "delivered", "cancelled"):
        if status in steps and steps[status] <= now:
            return status, steps[status]
    return None


def test_facts_are_finance_and_orders_to_the_cent(shop: Shop) -> None:
    refs = _refs(shop)
    client = shop.client()
    try:
        facts = _facts(client, refs)
        orders = {o.order_id: o for o in client.get_orders([r.order_id for r in refs]).records}
        assert set(facts) == set(orders) == {r.order_id for r in refs}
        settled = 0
        for oid, fact in facts.items():
            order, settlement = orders[oid], fact.settlement
            assert settlement is not None and settlement.currency == "BRL"
            # Packages and instants are the order's own.
            assert fact.shipments == order.shipments
            assert fact.status_events == order.status_events
            if not settlement.fees_final or settlement.fee_amount == 0:
                continue
            settled += 1
            raw = client._call("test", "GET", ORDER_STATEMENT_PATH.format(order_id=oid))
            [tx] = raw["statement_transactions"]
            assert settlement.payout_amount == D(tx["settlement_amount"])
            assert settlement.fee_amount == -D(tx["fee_amount"])
            assert settlement.seller_shipping_cost == -D(tx["shipping_cost_amount"])
            assert settlement.refund_amount == abs(D(tx["customer_refund_amount"]))
            assert settlement.settled_at == datetime.fromtimestamp(tx["statement_time"], tz=UTC)
            # Line fees name the order's lines; each SKU's are its row's fees.
            lines = {i.line_ref for i in order.items}
            by_line: dict[str | None, Decimal] = {}
            for fee in settlement.fees:
                by_line[fee.line_ref] = by_line.get(fee.line_ref, D(0)) + fee.amount
            assert set(by_line) <= lines
            for sku in tx["sku_statement_transactions"]:
                assert by_line.get(sku["sku_id"], D(0)) == -D(sku["fee_amount"])
            # Finance starts from the same item money as the order.
            assert D(tx["gross_sales_amount"]) == order.items_amount
        assert settled > 10
    finally:
        client.close()


def test_old_orders_are_settled_and_recent_ones_not_yet(shop: Shop) -> None:
    client = shop.client()
    try:
        facts = _facts(client, _refs(shop))
    finally:
        client.close()
    now = shop.sandbox.clock.now()
    recent = old = 0
    for oid, fact in facts.items():
        settlement = fact.settlement
        assert settlement is not None
        number = int(oid) - 576_400_000_000_000_000
        order = shop.sandbox.world.orders_by_number[number]
        finished = _finished_at(shop, number)
        if "paid" not in dict(order.timeline) or dict(order.timeline)["paid"] > now:
            if finished is not None:  # never paid, then cancelled: nothing will move
                assert settlement.fees_final and settlement.payout_amount == 0
            else:
                assert not settlement.fees_final
            continue
        if finished is None or now - finished[1] < timedelta(days=3):
            recent += finished is not None
            assert not settlement.fees_final
            assert (settlement.fee_amount, settlement.payout_amount) == (None, None)
        elif now - finished[1] > timedelta(days=9):
            old += 1
            assert settlement.fees_final and settlement.settled_at is not None
            assert settlement.payout_amount is not None
            assert settlement.settled_at - order.created_at <= timedelta(
                days=TikTokClient.settlement_days
            )
        if finished is not None and finished[0] == "returned" and settlement.fees_final:
            assert settlement.refund_amount and settlement.refund_amount > 0
    assert recent > 0 and old > 10, (recent, old)


def _walk_pages(stats: Any) -> int:
    return int(stats["calls.finance.statements"] + stats["calls.finance.statement_transactions"])


def test_statement_walk_and_per_order_reads_agree(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = _refs(shop)
    reads = "calls.finance.order_statement_transactions"

    # Without credit for a walk, every order that may be settled is asked about.
    monkeypatch.setattr(tiktok, "STATEMENT_WALK_SHARE", 10**6)
    client = shop.client()
    try:
        per_order = _facts(client, refs)
        per_order_reads = client.http.stats[reads]
        assert _walk_pages(client.http.stats) == 0
    finally:
        client.close()
    candidates = sum(
        1
        for f in per_order.values()
        if any(e.status in (OrderStatus.DELIVERED, OrderStatus.CANCELLED) for e in f.status_events)
        and any(e.status is OrderStatus.PAID for e in f.status_events)
    )
    assert per_order_reads == candidates

    # In chunks, as the refresh asks: the walk is paid by a quarter of the candidates,
    # goes on from chunk to chunk, then only settled orders are read. Same facts.
    monkeypatch.setattr(tiktok, "STATEMENT_WALK_SHARE", 4)
    client = shop.client()
    try:
        chunked: dict[str, OrderFacts] = {}
        for start in range(0, len(refs), 10):
            chunked |= _facts(client, refs[start : start + 10])
        walked = _walk_pages(client.http.stats)
        assert chunked == per_order
        assert 0 < walked <= candidates // 4
        assert client.http.stats[reads] < per_order_reads
        # A finished walk answers the next call on its own.
        before = client.http.stats[reads]
        assert _facts(client, refs) == per_order
        assert _walk_pages(client.http.stats) == walked
        # Settled and paid for (an order never paid is final without asking Finance).
        settled = sum(
            1
            for f in per_order.values()
            if f.settlement is not None
            and f.settlement.payout_amount is not None
            and any(e.status is OrderStatus.PAID for e in f.status_events)
        )
        assert client.http.stats[reads] - before == settled < per_order_reads
    finally:
        client.close()


def test_unknown_orders_are_absent(shop: Shop) -> None:
    refs = _refs(shop)[:3]
    ghost = OrderRef(
        order_id="576400000000000001",
        created_at=ANCHOR,
        status=OrderStatus.PAID,
        raw_status="AWAITING_SHIPMENT",
    )
    client = shop.client()
    try:
        page = client.get_order_facts([*refs, ghost])
    finally:
        client.close()
    assert [f.order_id for f in page.records] == [r.order_id for r in refs]
    assert page.rejects == []


def test_rate_limits_and_errors_do_not_change_the_facts(shop: Shop) -> None:
    refs = _refs(shop)
    client = shop.client()
    try:
        clean = _facts(client, refs)
        shop.sandbox.faults.update(rate_429=0.08, rate_5xx=0.05)
        try:
            for _ in range(10):
                assert _facts(client, refs) == clean
                stats = client.http.stats
                if stats["errors.RateLimitedError"] and stats["errors.TransientError"]:
                    break
        finally:
            shop.sandbox.faults.update(rate_429=0.0, rate_5xx=0.0)
        assert client.http.stats["errors.RateLimitedError"] >= 1
        assert client.http.stats["errors.TransientError"] >= 1
    finally:
        client.close()


def test_fees_become_final_as_days_pass(shop: Shop) -> None:
    refs = _refs(shop)
    client = shop.client()
    clock = shop.sandbox.clock
    start = clock.time()
    try:
        before = _facts(client, refs)
        waiting = {
            oid
            for oid, f in before.items()
            if f.settlement is not None
            and not f.settlement.fees_final
            and any(e.status is OrderStatus.DELIVERED for e in f.status_events)
        }
        assert waiting
        clock.advance_delta(timedelta(days=10))
        # Days later is another refresh run, with its own client.
        client.close()
        client = shop.client()
        after = _facts(client, refs)
        for oid in waiting:
            settlement = after[oid].settlement
            assert settlement is not None and settlement.fees_final, oid
            assert settlement.fee_amount is not None and settlement.fee_amount > 0
            delivered = next(
                e.at for e in after[oid].status_events if e.status is OrderStatus.DELIVERED
            )
            assert settlement.settled_at is not None
            assert timedelta(days=3) < settlement.settled_at - delivered < timedelta(days=10)
    finally:
        clock.advance(start - clock.time())
        client.close()


def test_settlement_and_budget_attributes() -> None:
    # TikTok pays 1–31 days after delivery; orders surely settle within the window, and a
    # run's re-reads fit in half of ten minutes at the paced 20 requests a second.
    assert TikTokClient.settlement_days == 45
    worst_calls = TikTokClient.facts_per_run * (1 / 50 + 1 + 1 / tiktok.STATEMENT_WALK_SHARE)
    assert worst_calls <= 600 * tiktok.DEFAULT_REQUESTS_PER_SECOND / 2


def test_a_walk_cut_short_is_forgotten(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    client = shop.client()
    raw = _detail_sample()
    raw.update(status="DELIVERED", delivery_time=1678389618)
    candidates = [TTOrder.model_validate(raw)] * 8

    def failing(since: int, until: int | None) -> Iterator[set[str]]:
        yield {"576461413038785752"}
        raise TransientError("tiktok", "finance.statements", "Internal error", status=500)

    monkeypatch.setattr(client, "_statement_pages", failing)
    try:
        with pytest.raises(TransientError):
            client._settled_by_statements(candidates)
        # Half a walk would call every order it did not reach unsettled: none is kept.
        assert client._walk is None
    finally:
        client.close()
