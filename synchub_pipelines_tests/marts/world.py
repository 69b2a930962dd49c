"""A tiny warehouse written by hand, small enough to know every mart's answer in advance.

Two stores of one tenant (Mercado Livre in São Paulo, Shopee), three SKUs, orders chosen
for awkward cents (three equal lines share a 1.00 discount as 0.33 + 0.33 + 0.34), an order
created at 23:30 local time, statuses across the funnel, a late and an overdue package,
questions around local midnight, and stock snapshots in hourly rounds with two stock-outs.
The marts are measured as of AS_OF.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.schema import metadata

AS_OF = "2026-03-14 15:00:00"
ML = "mercadolivre-1"
SHOPEE = "shopee-2"
NOW = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def money(text: str) -> Decimal:
    return Decimal(text)


def _filled(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """The row with every required column the test does not care about filled."""
    full = dict(row)
    for column in table.columns:
        if column.name in full or column.nullable or column.server_default is not None:
            continue
        kind = column.type
        if isinstance(kind, sa.DateTime):
            full[column.name] = NOW
        elif isinstance(kind, sa.Date):
            full[column.name] = date(2026, 3, 14)
        elif isinstance(kind, sa.Boolean):
            full[column.name] = False
        elif isinstance(kind, sa.Integer | sa.Numeric):
            full[column.name] = 0
        else:
            full[column.name] = ""
    return full


def insert(engine: Engine, table: str, rows: list[dict[str, Any]]) -> None:
    target = metadata.tables[table]
    with engine.begin() as conn:
        for row in rows:  # one by one: rows name different columns
            conn.execute(target.insert(), _filled(target, row))


def order(
    order_id: str,
    store: str,
    status: str,
    created: str,
    business_date: str,
    **money_columns: str | bool | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "store_id": store,
        "order_id": order_id,
        "status": status,
        "raw_status": status,
        "created_at": at(created),
        "updated_at": at(created),
        "business_date": date.fromisoformat(business_date),
        "currency": "BRL",
    }
    for name, value in money_columns.items():
        row[name] = money(value) if isinstance(value, str) else value
    return row


def line(
    order_id: str, store: str, line_no: int, listing: str, quantity: int, amount: str, **kw: Any
) -> dict[str, Any]:
    return {
        "store_id": store,
        "order_id": order_id,
        "line_no": line_no,
        "listing_id": listing,
        "variation_id": kw.pop("variation_id", ""),
        "seller_sku": kw.pop("seller_sku", None),
        "quantity": quantity,
        "unit_price": money(amount) / quantity,
        "line_amount": money(amount),
    }


def build(engine: Engine) -> None:
    migrate(engine)
    insert(
        engine,
        "stores",
        [
            {
                "store_id": ML,
                "marketplace": "mercadolivre",
                "seller_id": "1",
                "name": "ML",
                "timezone": "America/Sao_Paulo",
                "connected_at": NOW,
            },
            {
                "store_id": SHOPEE,
                "marketplace": "shopee",
                "seller_id": "2",
                "name": "Shopee",
                "timezone": "America/Sao_Paulo",
                "connected_at": NOW,
            },
        ],
    )
    insert(
        engine,
        "central_products",
        [
            {
                "sku": sku,
                "name": f"Product {sku}",
                "currency": "BRL",
                "is_kit": False,
                "source": "file",
            }
            for sku in ("A", "B", "C")
        ],
    )
    insert(
        engine,
        "listings",
        [
            {
                "store_id": ML,
                "listing_id": "L1",
                "variation_id": "",
                "title": "A on ML",
                "seller_sku": "A",
                "status": "active",
                "price": money("100.00"),
                "currency": "BRL",
                "available_quantity": 5,
            },
            {
                "store_id": ML,
                "listing_id": "L2",
                "variation_id": "",
                "title": "B on ML",
                "seller_sku": "B",
                "status": "paused",
                "raw_status": "paused",
                "status_reason": "out_of_stock",
                "price": money("40.00"),
                "currency": "BRL",
            },
            {
                "store_id": ML,
                "listing_id": "L3",
                "variation_id": "",
                "title": "Unknown",
                "seller_sku": "ZZZ",
                "status": "suppressed",
                "raw_status": "inactive",
                "status_reason": "held",
                "price": money("10.00"),
                "currency": "BRL",
            },
            {
                "store_id": SHOPEE,
                "listing_id": "S1",
                "variation_id": "v1",
                "title": "A on Shopee",
                "seller_sku": "A",
                "status": "active",
                "price": money("120.00"),
                "currency": "BRL",
                "available_quantity": 3,
            },
        ],
    )
    # L2 is not linked: its sales find SKU B through the seller SKU; L3 finds nothing.
    insert(
        engine,
        "listing_links",
        [
            {
                "store_id": ML,
                "listing_id": "L1",
                "variation_id": "",
                "sku": "A",
                "method": "seller_sku",
            },
            {
                "store_id": SHOPEE,
                "listing_id": "S1",
                "variation_id": "v1",
                "sku": "A",
                "method": "manual",
            },
        ],
    )
    insert(
        engine,
        "orders",
        [
            # Three equal lines share every order-level amount to the cent.
            order(
                "O1",
                ML,
                "paid",
                "2026-03-13T15:00:00",
                "2026-03-13",
                items_amount="30.00",
                discount_amount="1.00",
                shipping_paid_by_buyer="6.00",
                tax_amount="0.00",
                total_amount="35.00",
                fee_amount="3.01",
                seller_shipping_cost="2.00",
                refund_amount="0.00",
                payout_amount="29.99",
                fees_final=True,
            ),
            order(
                "O2",
                ML,
                "cancelled",
                "2026-03-13T16:00:00",
                "2026-03-13",
                items_amount="10.00",
                total_amount="10.00",
            ),
            # 23:30 in São Paulo on the 10th is 02:30 UTC on the 11th.
            order(
                "O3",
                ML,
                "delivered",
                "2026-03-11T02:30:00",
                "2026-03-10",
                items_amount="20.00",
                total_amount="25.00",
                shipping_paid_by_buyer="5.00",
                seller_shipping_cost="1.50",
                fees_final=False,
            ),
            order(
                "O4",
                SHOPEE,
                "returned",
                "2026-03-12T12:00:00",
                "2026-03-12",
                items_amount="50.00",
                total_amount="50.00",
                fee_amount="5.00",
                refund_amount="50.00",
                payout_amount="0.00",
                fees_final=True,
            ),
            order(
                "O5",
                ML,
                "pending",
                "2026-03-13T18:00:00",
                "2026-03-13",
                items_amount="10.00",
                total_amount="10.00",
            ),
        ],
    )
    insert(
        engine,
        "order_items",
        [
            line("O1", ML, 1, "L1", 1, "10.00"),
            line("O1", ML, 2, "L2", 1, "10.00", seller_sku="B"),
            line("O1", ML, 3, "L3", 1, "10.00", seller_sku="ZZZ"),
            line("O2", ML, 1, "L1", 1, "10.00"),
            line("O3", ML, 1, "L1", 2, "20.00"),
            line("O4", SHOPEE, 1, "S1", 1, "50.00", variation_id="v1"),
            line("O5", ML, 1, "L1", 1, "10.00"),
        ],
    )

    def reached(order_id: str, store: str, status: str, when: str, source: str = "api") -> dict:
        return {
            "store_id": store,
            "order_id": order_id,
            "status": status,
            "changed_at": at(when),
            "source": source,
        }

    insert(
        engine,
        "order_status_history",
        [
            reached("O1", ML, "pending", "2026-03-13T15:00:00"),
            reached("O1", ML, "paid", "2026-03-13T15:01:00"),
            reached("O2", ML, "pending", "2026-03-13T16:00:00"),
            reached("O2", ML, "cancelled", "2026-03-13T17:00:00"),
            reached("O3", ML, "pending", "2026-03-11T02:30:00"),
            reached("O3", ML, "paid", "2026-03-11T02:35:00"),
            reached("O3", ML, "shipped", "2026-03-12T02:35:00"),  # 24 h after paid
            reached("O3", ML, "delivered", "2026-03-13T14:35:00"),  # 60 h after paid
            reached("O4", SHOPEE, "pending", "2026-03-12T12:00:00"),
            reached("O4", SHOPEE, "paid", "2026-03-12T12:05:00"),
            reached("O4", SHOPEE, "returned", "2026-03-13T12:00:00", "observed"),
            reached("O5", ML, "pending", "2026-03-13T18:00:00"),
        ],
    )
    insert(
        engine,
        "shipments",
        [
            # Late: left 2 h 35 min after its deadline, arrived 36 h later.
            {
                "store_id": ML,
                "shipment_id": "P3",
                "order_id": "O3",
                "status": "delivered",
                "raw_status": "delivered",
                "carrier": "Correios",
                "ship_by": at("2026-03-12T00:00:00"),
                "shipped_at": at("2026-03-12T02:35:00"),
                "delivered_at": at("2026-03-13T14:35:00"),
            },
            # Overdue at AS_OF: still waiting after its deadline.
            {
                "store_id": ML,
                "shipment_id": "P1",
                "order_id": "O1",
                "status": "ready_to_ship",
                "raw_status": "ready_to_ship",
                "carrier": "Correios",
                "ship_by": at("2026-03-14T00:00:00"),
            },
            {
                "store_id": ML,
                "shipment_id": "P2",
                "order_id": "O2",
                "status": "cancelled",
                "raw_status": "cancelled",
                "carrier": "Correios",
            },
        ],
    )

    def question(qid: str, asked: str, answered: str | None, status: str) -> dict[str, Any]:
        return {
            "store_id": ML,
            "question_id": qid,
            "listing_id": "L1",
            "status": status,
            "asked_at": at(asked),
            "answered_at": at(answered) if answered else None,
            "deleted_from_listing": False,
            "hold": False,
        }

    insert(
        engine,
        "questions",
        [
            # The local evening of the 12th (UTC early on the 13th).
            question("Q1", "2026-03-13T01:00:00", "2026-03-13T01:30:00", "ANSWERED"),
            question("Q2", "2026-03-13T02:00:00", "2026-03-13T03:30:00", "ANSWERED"),
            question("Q3", "2026-03-13T02:30:00", None, "UNANSWERED"),
            # 00:30 local on the 13th; removed by Mercado Livre.
            question("Q4", "2026-03-13T03:30:00", None, "BANNED"),
        ],
    )

    def snap(store: str, listing: str, variation: str, when: str, quantity: int) -> dict:
        return {
            "store_id": store,
            "listing_id": listing,
            "variation_id": variation,
            "snapshot_at": at(when),
            "seller_sku": "A",
            "available_quantity": quantity,
        }

    insert(
        engine,
        "stock_snapshots",
        [
            # Round 10h: Shopee still offers units, so A is in stock (L1's later 0 counts).
            snap(ML, "L1", "", "2026-03-13T10:05:00", 5),
            snap(ML, "L1", "", "2026-03-13T10:40:00", 0),
            snap(SHOPEE, "S1", "v1", "2026-03-13T10:06:00", 3),
            # 11h: nothing anywhere — out.  12h: L1 alone, still 0 (S1 keeps its 0) — out.
            snap(ML, "L1", "", "2026-03-13T11:05:00", 0),
            snap(SHOPEE, "S1", "v1", "2026-03-13T11:06:00", 0),
            snap(ML, "L1", "", "2026-03-13T12:05:00", 0),
            # 13h: Shopee has stock again — the stock-out ended.
            snap(SHOPEE, "S1", "v1", "2026-03-13T13:06:00", 2),
            # 14h: out again, still at AS_OF.
            snap(ML, "L1", "", "2026-03-13T14:05:00", 0),
            snap(SHOPEE, "S1", "v1", "2026-03-13T14:06:00", 0),
        ],
    )
    insert(
        engine,
        "allocatable_stock",
        [
            {
                "sku": "A",
                "on_hand": 10,
                "reserved": 2,
                "allocatable": 8,
                "is_kit": False,
                "computed_at": NOW,
            },
        ],
    )
    insert(
        engine,
        "listing_readiness",
        [
            {
                "sku": "A",
                "marketplace": "mercadolivre",
                "ready": False,
                "missing": '["Marca", "Cor"]',
                "invalid": "[]",
                "notes": "[]",
            },
            {
                "sku": "A",
                "marketplace": "shopee",
                "ready": True,
                "missing": "[]",
                "invalid": "[]",
                "notes": "[]",
            },
        ],
    )
