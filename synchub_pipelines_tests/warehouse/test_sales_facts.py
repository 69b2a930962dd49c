"""The sales facts' writes, on SQLite and PostgreSQL: settled money that order reads cannot
undo, fee breakdowns, shipments that move orders on, status history, and which orders the
facts refresh re-reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.orders.refresh import orders_to_refresh
from synchub_pipelines.defs.orders.sync import upsert_orders
from synchub_pipelines.models import (
    FeeLine,
    LogisticMode,
    Order,
    OrderFacts,
    OrderItem,
    OrderSettlement,
    OrderStatus,
    Shipment,
    ShipmentStatus,
    StatusEvent,
)
from synchub_pipelines.warehouse import schema, schema_orders
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.order_facts import write_order_facts, write_shipments

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STORE = "shopee-1"


@pytest.fixture
def engine(warehouse_url: str) -> Engine:
    engine = engine_for(warehouse_url)
    migrate(engine)
    return engine


def utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def select(engine: Engine, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(sa.select(table).where(*where)).mappings().all()
    return [{k: utc(v) for k, v in row.items()} for row in result]


def one(engine: Engine, table: sa.Table, **key: str) -> dict[str, Any]:
    found = select(engine, table, *(table.c[k] == v for k, v in key.items()))
    assert len(found) == 1, found
    return found[0]


def order(order_id: str, **kw: Any) -> Order:
    items = (
        OrderItem(
            line_no=1,
            line_ref="10:1",
            listing_id="10",
            variation_id="1",
            quantity=2,
            unit_price=Decimal("8.98"),
            line_amount=Decimal("17.95"),
        ),
        OrderItem(
            line_no=2,
            line_ref="11:0",
            listing_id="11",
            quantity=1,
            unit_price=Decimal("0.10"),
            line_amount=Decimal("0.10"),
        ),
    )
    values: dict[str, Any] = {
        "store_id": STORE,
        "order_id": order_id,
        "status": OrderStatus.PAID,
        "raw_status": "READY_TO_SHIP",
        "created_at": T0,
        "updated_at": T0 + timedelta(hours=1),
        "business_date": date(2026, 3, 1),
        "items_amount": Decimal("18.05"),
        "total_amount": Decimal("18.05"),
        "items": items,
    }
    return Order(**{**values, **kw})


def settlement(order_id: str, final: bool, commission: str = "2.00") -> OrderSettlement:
    fees = (
        FeeLine(fee_type="commission_fee", amount=Decimal(commission)),
        FeeLine(fee_type="service_fee", amount=Decimal("0.55")),
        FeeLine(fee_type="ams_commission_fee", amount=Decimal("0.20"), line_ref="10:1"),
    )
    return OrderSettlement(
        store_id=STORE,
        order_id=order_id,
        fee_amount=sum((f.amount for f in fees), Decimal(0)),
        seller_shipping_cost=Decimal("5.10"),
        payout_amount=Decimal("18.05") - sum((f.amount for f in fees), Decimal(0)),
        refund_amount=Decimal(0),
        fees_final=final,
        settled_at=T0 + timedelta(days=9) if final else None,
        fees=fees,
    )


def shipment(order_id: str, status: ShipmentStatus, **kw: Any) -> Shipment:
    values: dict[str, Any] = {
        "store_id": STORE,
        "shipment_id": f"PKG-{order_id}",
        "order_id": order_id,
        "status": status,
        "raw_status": status.value.upper(),
        "logistic_mode": LogisticMode.SELLER,
        "carrier": "Correios",
    }
    return Shipment(**{**values, **kw})


def test_line_amounts_are_stored_as_the_api_states_them(engine: Engine) -> None:
    upsert_orders(engine, [order("A")])
    lines = select(engine, schema.order_items)
    assert sorted((r["line_no"], r["line_amount"], r["unit_price"]) for r in lines) == [
        (1, Decimal("17.95"), Decimal("8.98")),
        (2, Decimal("0.10"), Decimal("0.10")),
    ]
    assert one(engine, schema.orders, order_id="A")["items_amount"] == Decimal("18.05")


def test_an_order_whose_lines_do_not_add_up_is_refused() -> None:
    with pytest.raises(ValueError, match="not the sum of the lines"):
        order("A", items_amount=Decimal("17.96"))


def test_settlement_fills_money_fees_and_line_fees_and_rereading_changes_nothing(
    engine: Engine,
) -> None:
    upsert_orders(engine, [order("A")])
    facts = [OrderFacts(store_id=STORE, order_id="A", settlement=settlement("A", final=True))]
    write_order_facts(engine, facts, T0 + timedelta(days=10))

    row = one(engine, schema.orders, order_id="A")
    assert row["fee_amount"] == Decimal("2.75")
    assert row["payout_amount"] == Decimal("15.30")
    assert row["seller_shipping_cost"] == Decimal("5.10")
    assert row["fees_final"] in (True, 1)
    fees = {
        (f["fee_type"], f["line_ref"]): f["amount"]
        for f in select(engine, schema_orders.order_fees)
    }
    assert fees == {
        ("commission_fee", ""): Decimal("2.00"),
        ("service_fee", ""): Decimal("0.55"),
        ("ams_commission_fee", "10:1"): Decimal("0.20"),
    }
    line = one(engine, schema.order_items, order_id="A", line_ref="10:1")
    assert line["fee"] == Decimal("0.20")

    before = select(engine, schema.orders) + select(engine, schema_orders.order_fees)
    changed = write_order_facts(engine, facts, T0 + timedelta(days=11))
    assert changed["orders"] == 0 and changed["order_fees"] == 0 and changed["order_items"] == 0
    assert select(engine, schema.orders) + select(engine, schema_orders.order_fees) == before


def test_a_settled_order_keeps_its_money_when_an_order_page_says_otherwise(engine: Engine) -> None:
    upsert_orders(engine, [order("A")])
    write_order_facts(
        engine,
        [OrderFacts(store_id=STORE, order_id="A", settlement=settlement("A", final=True))],
        T0 + timedelta(days=10),
    )
    # A later order page carries a provisional fee and no verdict on finality.
    provisional = order(
        "A",
        fee_amount=Decimal("9.99"),
        fees=(FeeLine(fee_type="commission_fee", amount=Decimal("9.99")),),
        fees_final=False,
    )
    upsert_orders(engine, [provisional])
    row = one(engine, schema.orders, order_id="A")
    assert row["fee_amount"] == Decimal("2.75") and row["fees_final"] in (True, 1)
    assert len(select(engine, schema_orders.order_fees)) == 3


def test_unknown_money_never_erases_a_known_amount(engine: Engine) -> None:
    upsert_orders(engine, [order("A", fee_amount=Decimal("1.00"), tax_amount=Decimal("0.50"))])
    upsert_orders(engine, [order("A")])  # this read knows neither
    row = one(engine, schema.orders, order_id="A")
    assert (row["fee_amount"], row["tax_amount"]) == (Decimal("1.00"), Decimal("0.50"))
    assert row["fees_final"] in (False, 0)


def test_a_later_fee_breakdown_replaces_the_earlier_one(engine: Engine) -> None:
    upsert_orders(engine, [order("A")])
    write_order_facts(
        engine,
        [OrderFacts(store_id=STORE, order_id="A", settlement=settlement("A", final=False))],
        T0 + timedelta(days=1),
    )
    smaller = OrderSettlement(
        store_id=STORE,
        order_id="A",
        fee_amount=Decimal("1.50"),
        fees_final=True,
        fees=(FeeLine(fee_type="commission_fee", amount=Decimal("1.50")),),
    )
    changed = write_order_facts(
        engine,
        [OrderFacts(store_id=STORE, order_id="A", settlement=smaller)],
        T0 + timedelta(days=9),
    )
    assert changed["order_fees"] >= 2  # one updated, two dropped
    fees = {
        (f["fee_type"], f["line_ref"]): f["amount"]
        for f in select(engine, schema_orders.order_fees)
    }
    assert fees == {("commission_fee", ""): Decimal("1.50")}


def test_an_order_never_moves_back_in_its_life(engine: Engine) -> None:
    upsert_orders(engine, [order("A", status=OrderStatus.DELIVERED, raw_status="COMPLETED")])
    upsert_orders(engine, [order("A", status=OrderStatus.PAID, raw_status="READY_TO_SHIP")])
    row = one(engine, schema.orders, order_id="A")
    assert (row["status"], row["raw_status"]) == ("delivered", "READY_TO_SHIP")
    upsert_orders(engine, [order("A", status=OrderStatus.RETURNED, raw_status="TO_RETURN")])
    assert one(engine, schema.orders, order_id="A")["status"] == "returned"


def test_shipments_move_orders_on_and_record_when(engine: Engine) -> None:
    upsert_orders(engine, [order("A"), order("B")])
    shipped_at = T0 + timedelta(days=1)
    delivered_at = T0 + timedelta(days=4)
    with engine.begin() as conn:
        write_shipments(
            conn,
            [
                shipment("A", ShipmentStatus.SHIPPED, shipped_at=shipped_at, buyer_state="SP"),
                shipment(
                    "B",
                    ShipmentStatus.DELIVERED,
                    shipped_at=shipped_at,
                    delivered_at=delivered_at,
                    buyer_city="Recife",
                    buyer_state="PE",
                ),
            ],
            T0 + timedelta(days=5),
        )
    assert one(engine, schema.orders, order_id="A")["status"] == "shipped"
    b = one(engine, schema.orders, order_id="B")
    assert (b["status"], b["buyer_city"], b["buyer_state"]) == ("delivered", "Recife", "PE")
    history = {
        (h["order_id"], h["status"]): (h["changed_at"], h["source"])
        for h in select(engine, schema_orders.order_status_history)
    }
    assert history[("A", "shipped")] == (shipped_at, "shipment")
    assert history[("B", "delivered")] == (delivered_at, "shipment")
    assert history[("A", "paid")] == (T0 + timedelta(hours=1), "observed")


def test_a_partial_shipment_read_never_erases_what_another_read_stored(engine: Engine) -> None:
    upsert_orders(engine, [order("A")])
    with engine.begin() as conn:
        write_shipments(
            conn,
            [shipment("A", ShipmentStatus.SHIPPED, tracking_number="BR123", carrier="Correios")],
            T0,
        )
        write_shipments(conn, [shipment("A", ShipmentStatus.DELIVERED, carrier=None)], T0)
    row = one(engine, schema_orders.shipments, order_id="A")
    assert (row["status"], row["tracking_number"], row["carrier"]) == (
        "delivered",
        "BR123",
        "Correios",
    )


def test_the_apis_instant_replaces_an_observed_one(engine: Engine) -> None:
    upsert_orders(engine, [order("A")])  # paid, observed at updated_at
    paid_at = T0 + timedelta(minutes=3)
    upsert_orders(
        engine,
        [order("A", status_events=(StatusEvent(status=OrderStatus.PAID, at=paid_at),))],
    )
    row = one(engine, schema_orders.order_status_history, order_id="A", status="paid")
    assert (row["changed_at"], row["source"]) == (paid_at, "api")


def test_refresh_reads_unread_first_then_unsettled_and_never_settled(engine: Engine) -> None:
    now = T0 + timedelta(days=40)
    recent = now - timedelta(days=3)
    upsert_orders(
        engine,
        [
            order("old-unread", created_at=T0, updated_at=T0),
            order("old-unsettled", created_at=T0, updated_at=T0),
            order("recent-unsettled", created_at=recent, updated_at=recent),
            order("recent-settled", created_at=recent, updated_at=recent),
            order("unpaid", created_at=recent, updated_at=recent, status=OrderStatus.PENDING),
        ],
    )
    read_at = now - timedelta(hours=12)
    write_order_facts(
        engine,
        [
            OrderFacts(store_id=STORE, order_id=o, settlement=settlement(o, final=False))
            for o in ("old-unsettled", "recent-unsettled")
        ]
        + [
            OrderFacts(
                store_id=STORE,
                order_id="recent-settled",
                settlement=settlement("recent-settled", final=True),
                shipments=(shipment("recent-settled", ShipmentStatus.DELIVERED),),
            )
        ],
        read_at,
    )
    due = orders_to_refresh(engine, STORE, now, 30, timedelta(hours=6), limit=10)
    assert [r.order_id for r in due] == ["old-unread", "recent-unsettled"]
    # Read again an hour ago: not due yet; a budget of one takes the unread one.
    assert [
        r.order_id for r in orders_to_refresh(engine, STORE, now, 30, timedelta(hours=13), 10)
    ] == ["old-unread"]
    assert len(orders_to_refresh(engine, STORE, now, 30, timedelta(hours=6), limit=1)) == 1
