"""What the dashboard reads of each mart: its columns and their kinds.

Apart from the frames (`dashboard.marts`) so that the code location can name the marts the
page depends on without importing pandas: every run process loads the location.
"""

from __future__ import annotations

DEFAULT_TENANT = "default"

# Column → kind ("date", "instant", "number", "bool", "text") of what the page reads.
COLUMNS: dict[str, dict[str, str]] = {
    "mart_sales_daily": {
        "business_date": "date",
        "store_id": "text",
        "marketplace": "text",
        "tenant": "text",
        "sku": "text",
        "currency": "text",
        "units": "number",
        "gross_amount": "number",
        "fee_amount": "number",
        "net_revenue": "number",
        "fees_final": "bool",
    },
    "mart_order_funnel": {
        "week_start": "date",
        "store_id": "text",
        "marketplace": "text",
        "tenant": "text",
        "orders": "number",
        "orders_paid": "number",
        "orders_cancelled": "number",
        "orders_returned": "number",
    },
    "mart_stock_coverage": {
        "tenant": "text",
        "sku": "text",
        "product_name": "text",
        "allocatable": "number",
        "units_sold_30d": "number",
        "units_per_day_30d": "number",
        "days_of_cover_30d": "number",
        "listings_snapshotted": "number",
        "listings_in_stock": "number",
        "is_out_of_stock": "bool",
        "last_stockout_started_at": "instant",
        "as_of": "instant",
    },
    "mart_stockout_periods": {
        "tenant": "text",
        "sku": "text",
        "started_at": "instant",
        "ended_at": "instant",
        "is_ongoing": "bool",
        "hours_out": "number",
    },
    "mart_listing_health": {
        "store_id": "text",
        "marketplace": "text",
        "tenant": "text",
        "is_unlinked": "bool",
        "is_suppressed": "bool",
        "is_paused": "bool",
        "is_not_ready": "bool",
        "status": "text",
        "price_spread_share": "number",
        "needs_attention": "bool",
    },
    "mart_questions_sla": {
        "question_date": "date",
        "store_id": "text",
        "tenant": "text",
        "questions": "number",
        "answerable_questions": "number",
        "answered": "number",
        "avg_response_minutes": "number",
        "p90_response_minutes": "number",
        "unanswered_over_24h": "number",
    },
    "mart_shipping_sla": {
        "week_start": "date",
        "store_id": "text",
        "marketplace": "text",
        "tenant": "text",
        "carrier": "text",
        "packages": "number",
        "packages_shipped": "number",
        "shipped_on_time": "number",
        "shipped_late": "number",
        "overdue_unshipped": "number",
        "avg_hours_to_ship": "number",
    },
}
MART_NAMES = tuple(COLUMNS)
