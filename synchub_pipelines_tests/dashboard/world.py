"""A merchant's marts small enough to know every figure of the dashboard by hand.

The last data day is Saturday 2026-03-14 (its week starts Monday 2026-03-09); one old sale
on 2026-01-05 makes the history longer than four weeks but shorter than thirteen. Figures
of "This week" (2026-03-09 to 2026-03-14), in BRL: gross 150,00, net 120,00, fees 15,00
(10 %), 3 units; 4 orders placed, 3 paid, 1 cancelled (25 %); 3 questions to answer, 2
answered (66,7 %) in 60 and 120 minutes; 4 packages with a deadline, 1 late (25 %). The
week before: gross 30,00. One sale in USD, left out of the money.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from synchub_pipelines.dashboard.marts import COLUMNS, Marts

ML = "mercadolivre-1"
SHOPEE = "shopee-2"
AMAZON = "amazon-3"


def frame(mart: str, rows: list[dict[str, Any]], tenant: str = "default") -> pd.DataFrame:
    filled = [{**dict.fromkeys(COLUMNS[mart]), "tenant": tenant, **row} for row in rows]
    return pd.DataFrame(filled, columns=list(COLUMNS[mart]))


def sale(day: str, store: str, sku: str | None, units: int, gross: float, **kw: Any) -> dict:
    return {
        "business_date": day,
        "store_id": store,
        "marketplace": store.split("-")[0],
        "sku": sku,
        "currency": kw.get("currency", "BRL"),
        "units": units,
        "gross_amount": gross,
        "fee_amount": kw.get("fee", round(gross * 0.1, 2)),
        "net_revenue": kw.get("net", round(gross * 0.8, 2)),
        "fees_final": kw.get("final", True),
    }


def frames(tenant: str = "default") -> dict[str, pd.DataFrame]:
    return {
        "mart_sales_daily": frame(
            "mart_sales_daily",
            [
                sale("2026-03-14", ML, "A", 2, 100.0, final=False),
                sale("2026-03-10", SHOPEE, "B", 1, 50.0),
                sale("2026-03-12", AMAZON, "C", 1, 999.0, currency="USD"),
                sale("2026-03-02", ML, "A", 1, 30.0),
                sale("2026-01-05", ML, "B", 1, 20.0),
            ],
            tenant,
        ),
        "mart_order_funnel": frame(
            "mart_order_funnel",
            [
                {
                    "week_start": "2026-03-09",
                    "store_id": ML,
                    "marketplace": "mercadolivre",
                    "orders": 3,
                    "orders_paid": 2,
                    "orders_cancelled": 1,
                    "orders_returned": 0,
                },
                {
                    "week_start": "2026-03-09",
                    "store_id": SHOPEE,
                    "marketplace": "shopee",
                    "orders": 1,
                    "orders_paid": 1,
                    "orders_cancelled": 0,
                    "orders_returned": 0,
                },
                {
                    "week_start": "2026-03-02",
                    "store_id": ML,
                    "marketplace": "mercadolivre",
                    "orders": 1,
                    "orders_paid": 1,
                    "orders_cancelled": 0,
                    "orders_returned": 0,
                },
            ],
            tenant,
        ),
        "mart_questions_sla": frame(
            "mart_questions_sla",
            [
                {
                    "question_date": "2026-03-13",
                    "store_id": ML,
                    "questions": 2,
                    "answerable_questions": 2,
                    "answered": 1,
                    "avg_response_minutes": 60.0,
                    "p90_response_minutes": 60.0,
                    "unanswered_over_24h": 1,
                },
                {
                    "question_date": "2026-03-14",
                    "store_id": ML,
                    "questions": 1,
                    "answerable_questions": 1,
                    "answered": 1,
                    "avg_response_minutes": 120.0,
                    "p90_response_minutes": 120.0,
                    "unanswered_over_24h": 0,
                },
            ],
            tenant,
        ),
        "mart_shipping_sla": frame(
            "mart_shipping_sla",
            [
                {
                    "week_start": "2026-03-09",
                    "store_id": ML,
                    "marketplace": "mercadolivre",
                    "carrier": "Correios",
                    "packages": 5,
                    "packages_shipped": 4,
                    "shipped_on_time": 3,
                    "shipped_late": 1,
                    "overdue_unshipped": 1,
                    "avg_hours_to_ship": 20.0,
                }
            ],
            tenant,
        ),
        "mart_stock_coverage": frame(
            "mart_stock_coverage",
            [
                {
                    "sku": "A",
                    "product_name": "Product A",
                    "allocatable": 10,
                    "units_sold_30d": 60,
                    "units_per_day_30d": 2.0,
                    "days_of_cover_30d": 5.0,
                    "listings_snapshotted": 2,
                    "listings_in_stock": 2,
                    "is_out_of_stock": False,
                    "as_of": "2026-03-14T15:00:00Z",
                },
                {
                    "sku": "B",
                    "product_name": "Product B",
                    "allocatable": 0,
                    "units_sold_30d": 3,
                    "units_per_day_30d": 0.1,
                    "days_of_cover_30d": 0.0,
                    "listings_snapshotted": 1,
                    "listings_in_stock": 0,
                    "is_out_of_stock": True,
                    "last_stockout_started_at": "2026-03-13T10:00:00Z",
                    "as_of": "2026-03-14T15:00:00Z",
                },
                {
                    "sku": "C",
                    "product_name": "Product C",
                    "allocatable": 100,
                    "units_sold_30d": 60,
                    "units_per_day_30d": 2.0,
                    "days_of_cover_30d": 50.0,
                    "listings_snapshotted": 1,
                    "listings_in_stock": 1,
                    "is_out_of_stock": False,
                    "as_of": "2026-03-14T15:00:00Z",
                },
            ],
            tenant,
        ),
        "mart_stockout_periods": frame(
            "mart_stockout_periods",
            [
                {
                    "sku": "B",
                    "started_at": "2026-03-13T10:00:00Z",
                    "ended_at": None,
                    "is_ongoing": True,
                    "hours_out": 29.0,
                },
                {
                    "sku": "A",
                    "started_at": "2026-01-06T10:00:00Z",
                    "ended_at": "2026-01-07T10:00:00Z",
                    "is_ongoing": False,
                    "hours_out": 24.0,
                },
            ],
            tenant,
        ),
        "mart_listing_health": frame(
            "mart_listing_health",
            [
                {
                    "store_id": ML,
                    "marketplace": "mercadolivre",
                    "is_unlinked": True,
                    "is_suppressed": False,
                    "is_paused": False,
                    "is_not_ready": False,
                    "status": "active",
                    "price_spread_share": None,
                    "needs_attention": True,
                },
                {
                    "store_id": SHOPEE,
                    "marketplace": "shopee",
                    "is_unlinked": False,
                    "is_suppressed": False,
                    "is_paused": True,
                    "is_not_ready": False,
                    "status": "paused",
                    "price_spread_share": 0.25,
                    "needs_attention": True,
                },
            ],
            tenant,
        ),
    }


def marts(tenant: str = "default") -> Marts:
    return Marts.from_frames(frames(tenant))
