"""The orders domain's Dagster definitions: orders and lines (partitioned by business date
× store), their settled money and shipments, buyers' questions, and their checks."""

import dagster as dg

from synchub_pipelines.defs.orders.assets import orders
from synchub_pipelines.defs.orders.checks import order_fact_checks
from synchub_pipelines.defs.orders.facts import order_facts
from synchub_pipelines.defs.orders.questions import questions
from synchub_pipelines.defs.store_schedules import per_store_schedule

orders_job = dg.define_asset_job(
    "orders_job",
    selection=dg.AssetSelection.assets("orders", "order_items"),
    description="Orders and lines of a range of business dates × stores (a backfill).",
)
order_facts_job = dg.define_asset_job(
    "order_facts_job",
    selection=dg.AssetSelection.assets("shipments", "order_fees"),
    description="Re-reads one store's unsettled orders: fees, payouts, refunds, shipments.",
)
questions_job = dg.define_asset_job(
    "questions_job",
    selection=dg.AssetSelection.assets("questions"),
    description="Reads one store's new buyer questions and re-reads the open ones.",
)

order_facts_schedule = per_store_schedule(
    "order_facts_refresh",
    order_facts_job,
    "25 * * * *",
    "Hourly, per store: re-read the orders not yet settled (within each marketplace's "
    "settlement period and budget per run), so fees, payouts and shipments arrive on their own.",
)
questions_schedule = per_store_schedule(
    "questions_refresh",
    questions_job,
    "*/30 * * * *",
    "Every 30 minutes, per Mercado Livre store: new questions and answers to open ones "
    "(notifications update single questions in between).",
    only={"mercadolivre"},
)

defs = dg.Definitions(
    assets=[orders, order_facts, questions],
    asset_checks=[
        *order_fact_checks,
    ],
    jobs=[orders_job, order_facts_job, questions_job],
    schedules=[order_facts_schedule, questions_schedule],
)
