"""The SQL analysts are shown, run on the demo-shaped warehouse of each backend.

The warehouses are built once per backend for the session (conftest.py): this is one module
so that, under `pytest -n 2 --dist loadfile`, one worker builds them once.

docs/analytics.md: each question's query gives the numbers an independent computation in
Python finds in the same rows. The reference side reads the tables plainly (a `SELECT` of
columns, no SQL logic) and applies the guide's definitions in Python; each query runs for
several windows, so that a filter or a join that only happens to work on one day does not
pass.

Every ```sql block of the README and docs/*.md (the guide's included):

- is SQL (and every SQL example is sql-fenced), uses only constructs PostgreSQL and SQLite
  read alike, and explains the parameters it binds;
- runs, statement by statement, on the warehouse of each backend with the parameters'
  documented values, inside a transaction rolled back; a failure names its file and line;
- gives the same answer on both backends from the same rows: the PostgreSQL warehouse is
  copied into a fresh SQLite one and every block's results are compared (this is what
  catches a query that runs on SQLite but silently means something else there). Blocks on
  the dbt marts are left out of the copy: dbt writes each warehouse's marts itself, and the
  marts' own tests check them against the facts on both.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import statistics
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.schema import metadata
from synchub_pipelines_tests.analytics.conftest import Warehouses
from synchub_pipelines_tests.analytics.sqlblocks import (
    FENCE,
    ROOT,
    SQL_START,
    Block,
    blocks,
    documents,
    parameters,
    portability_problems,
    sql_blocks,
    statements,
    strip_comments,
    tables_read,
)
from synchub_pipelines_tests.analytics.warehouse import Built, connect

GUIDE = ROOT / "docs" / "analytics.md"
SOLD = {"paid", "shipped", "delivered", "returned"}


def guide_queries() -> dict[str, str]:
    found: dict[str, str] = {}
    for block in sql_blocks([GUIDE]):
        first = block.text.lstrip().splitlines()[0]
        assert first.startswith("-- ("), f"{block.where}: a guide query starts with -- (letter)"
        found[first[4]] = block.text
    return found


QUERIES = guide_queries()


def test_the_guide_has_one_query_per_question() -> None:
    assert sorted(QUERIES) == list("abcdef")


def run(conn: sa.Connection, letter: str, **params: Any) -> list[dict[str, Any]]:
    sql = QUERIES[letter]
    assert parameters(sql) <= set(params), (letter, parameters(sql))
    bound = {name: value.isoformat() for name, value in params.items() if name in parameters(sql)}
    return [dict(row) for row in conn.execute(sa.text(sql), bound).mappings()]


# --- the rows, read plainly -------------------------------------------------------------


def utc(value: datetime | None) -> datetime | None:
    """Instants as aware UTC datetimes, to the second (SQLite hands them back naive)."""
    if value is None:
        return None
    value = value.replace(microsecond=0)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass
class Data:
    stores: dict[str, dict[str, Any]]
    orders: list[dict[str, Any]]
    items: dict[tuple[str, str], list[dict[str, Any]]]
    links: dict[tuple[str, str, str], dict[str, Any]]
    products: dict[tuple[str, str], dict[str, Any]]
    components: list[dict[str, Any]]
    allocatable: list[dict[str, Any]]
    history: dict[tuple[str, str], set[str]]
    listings: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    shipments: list[dict[str, Any]]


def rows(conn: sa.Connection, table: str, *columns: str) -> list[dict[str, Any]]:
    t = metadata.tables[table]
    return [dict(r) for r in conn.execute(sa.select(*(t.c[c] for c in columns))).mappings()]


def load(conn: sa.Connection) -> Data:
    items: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for item in rows(
        conn,
        "order_items",
        "store_id",
        "order_id",
        "listing_id",
        "variation_id",
        "seller_sku",
        "quantity",
        "line_amount",
    ):
        items[(item["store_id"], item["order_id"])].append(item)
    history: dict[tuple[str, str], set[str]] = defaultdict(set)
    for h in rows(conn, "order_status_history", "store_id", "order_id", "status"):
        history[(h["store_id"], h["order_id"])].add(h["status"])
    questions = rows(
        conn, "questions", "store_id", "question_id", "status", "asked_at", "answered_at"
    )
    for q in questions:
        q["asked_at"], q["answered_at"] = utc(q["asked_at"]), utc(q["answered_at"])
    shipments = rows(conn, "shipments", "store_id", "status", "ship_by", "shipped_at")
    for s in shipments:
        s["ship_by"], s["shipped_at"] = utc(s["ship_by"]), utc(s["shipped_at"])
    return Data(
        stores={
            s["store_id"]: s
            for s in rows(conn, "stores", "store_id", "marketplace", "tenant", "status")
        },
        orders=rows(
            conn,
            "orders",
            "store_id",
            "order_id",
            "status",
            "business_date",
            "currency",
            "total_amount",
            "fee_amount",
        ),
        items=items,
        links={
            (k["store_id"], k["listing_id"], k["variation_id"]): k
            for k in rows(
                conn, "listing_links", "store_id", "listing_id", "variation_id", "tenant", "sku"
            )
        },
        products={
            (p["tenant"], p["sku"]): p
            for p in rows(conn, "central_products", "tenant", "sku", "name")
        },
        components=rows(
            conn, "product_components", "tenant", "kit_sku", "component_sku", "quantity"
        ),
        allocatable=rows(
            conn,
            "allocatable_stock",
            "tenant",
            "sku",
            "is_kit",
            "on_hand",
            "reserved",
            "allocatable",
        ),
        history=history,
        listings=rows(
            conn,
            "listings",
            "store_id",
            "listing_id",
            "variation_id",
            "seller_sku",
            "status",
            "title",
        ),
        questions=questions,
        shipments=shipments,
    )


def in_window(order: dict[str, Any], since: date, as_of: date) -> bool:
    return since <= order["business_date"] < as_of


def line_sku(data: Data, item: dict[str, Any], tenant: str) -> str | None:
    """The guide's rule: the listing's link (in the store's tenant), else a catalog seller SKU."""
    link = data.links.get((item["store_id"], item["listing_id"], item["variation_id"]))
    if link is not None and link["tenant"] == tenant:
        return str(link["sku"])
    if (tenant, item["seller_sku"]) in data.products:
        return str(item["seller_sku"])
    return None


def sold_units_by_sku(data: Data, since: date, as_of: date) -> dict[tuple[str, str], int]:
    units: dict[tuple[str, str], int] = defaultdict(int)
    for order in data.orders:
        if order["status"] in SOLD and in_window(order, since, as_of):
            tenant = data.stores[order["store_id"]]["tenant"]
            for item in data.items[(order["store_id"], order["order_id"])]:
                sku = line_sku(data, item, tenant)
                if sku is not None:
                    units[(tenant, sku)] += item["quantity"]
    return units


def close(found: Any, expected: float | Decimal | None, places: int) -> bool:
    """`found` is `expected` rounded to `places` (either way at a half, as databases do)."""
    if found is None or expected is None:
        return found is None and expected is None
    return abs(float(found) - float(expected)) <= 0.5 * 10**-places + 1e-9


def windows(built: Built, days: int = 30) -> list[tuple[date, date]]:
    """The last `days` days before today, the same a week and two weeks earlier, and all."""
    as_of = built.as_of
    ends = [as_of, as_of - timedelta(days=7), as_of - timedelta(days=14)]
    return [(end - timedelta(days=days), end) for end in ends] + [(date(2000, 1, 1), as_of)]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# --- (a) ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_sales_of_a_day_per_marketplace_gross_and_net_of_fees(built: Built) -> None:
    with connect(built.url) as conn:
        data = load(conn)
        days = [built.as_of - timedelta(days=n) for n in range(1, 31)]
        busy_days = 0
        for day in days:
            expected: dict[tuple[str, str], dict[str, Any]] = {}
            for order in data.orders:
                if order["business_date"] != day or order["status"] not in SOLD:
                    continue
                key = (data.stores[order["store_id"]]["marketplace"], order["currency"])
                row = expected.setdefault(
                    key,
                    {
                        "orders": 0,
                        "units": 0,
                        "gross": Decimal(0),
                        "fees": Decimal(0),
                        "unknown": 0,
                    },
                )
                row["orders"] += 1
                row["units"] += sum(
                    i["quantity"] for i in data.items[(order["store_id"], order["order_id"])]
                )
                row["gross"] += order["total_amount"]
                row["fees"] += order["fee_amount"] or 0
                row["unknown"] += order["fee_amount"] is None
            found = run(conn, "a", day=day)
            assert [(r["marketplace"], r["currency"]) for r in found] == sorted(expected), day
            for r in found:
                want = expected[(r["marketplace"], r["currency"])]
                assert r["orders"] == want["orders"], (day, r)
                assert r["units"] == want["units"], (day, r)
                assert dec(r["gross"]) == want["gross"], (day, r)
                assert dec(r["fees"]) == want["fees"], (day, r)
                assert dec(r["net_of_fees"]) == want["gross"] - want["fees"], (day, r)
                assert r["orders_without_fees_yet"] == want["unknown"], (day, r)
            busy_days += len(found) >= 2
    # Not a vacuous answer: most days have sales on several marketplaces.
    assert busy_days >= 10


# --- (b) ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_b_top_ten_skus_by_units_across_channels(built: Built) -> None:
    with connect(built.url) as conn:
        data = load(conn)
        for since, as_of in windows(built):
            units: dict[tuple[str, str], int] = defaultdict(int)
            orders: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
            marketplaces: dict[tuple[str, str], set[str]] = defaultdict(set)
            amount: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
            for order in data.orders:
                if order["status"] not in SOLD or not in_window(order, since, as_of):
                    continue
                store = data.stores[order["store_id"]]
                for item in data.items[(order["store_id"], order["order_id"])]:
                    sku = line_sku(data, item, store["tenant"])
                    if sku is None:
                        continue
                    key = (store["tenant"], sku)
                    units[key] += item["quantity"]
                    orders[key].add((order["store_id"], order["order_id"]))
                    marketplaces[key].add(store["marketplace"])
                    amount[key] += item["line_amount"]
            found = run(conn, "b", since=since, as_of=as_of)
            assert len(found) == min(10, len(units)), (since, as_of)
            if as_of == built.as_of and since > date(2000, 1, 1):
                assert len(found) == 10, "fewer than ten SKUs sold in the last 30 days"
            ranked = [r["units"] for r in found]
            assert ranked == sorted(ranked, reverse=True)
            chosen = {(r["tenant"], r["sku"]) for r in found}
            # The top ten: nothing left out sold more than anything shown.
            left_out = [n for key, n in units.items() if key not in chosen]
            assert not left_out or max(left_out) <= min(ranked), (since, as_of)
            for r in found:
                key = (r["tenant"], r["sku"])
                assert r["units"] == units[key], (since, as_of, r)
                assert r["orders"] == len(orders[key]), (since, as_of, r)
                assert r["marketplaces"] == len(marketplaces[key]), (since, as_of, r)
                assert dec(r["items_amount"]) == amount[key], (since, as_of, r)
                assert r["name"] == data.products[key]["name"]


# --- (c) ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_c_skus_that_run_out_within_seven_days(built: Built) -> None:
    seen = 0
    with connect(built.url) as conn:
        data = load(conn)
        for since, as_of in windows(built)[:3]:
            direct = sold_units_by_sku(data, since, as_of)
            consumed: dict[tuple[str, str], int] = defaultdict(int, direct)
            for c in data.components:
                sold_as_kit = direct.get((c["tenant"], c["kit_sku"]), 0)
                consumed[(c["tenant"], c["component_sku"])] += sold_as_kit * c["quantity"]
            expected = {}
            for a in data.allocatable:
                units = consumed.get((a["tenant"], a["sku"]), 0)
                if units and a["allocatable"] * 30 < 7 * units:
                    expected[(a["tenant"], a["sku"])] = (a, units)
            found = run(conn, "c", since=since, as_of=as_of)
            assert {(r["tenant"], r["sku"]) for r in found} == set(expected), (since, as_of)
            covers = [r["allocatable"] * 30 / r["units_30d"] for r in found]
            assert covers == sorted(covers)
            for r in found:
                a, units = expected[(r["tenant"], r["sku"])]
                assert r["units_30d"] == units
                assert (r["allocatable"], r["on_hand"], r["reserved"]) == (
                    a["allocatable"],
                    a["on_hand"],
                    a["reserved"],
                )
                assert bool(r["is_kit"]) == a["is_kit"]
                assert close(r["units_per_day"], units / 30, 2), r
                assert close(r["days_of_cover"], a["allocatable"] * 30 / units, 1), r
                assert float(r["days_of_cover"]) < 7
            seen += len(found)
    assert seen > 0, "no SKU runs out in any window: the test proves nothing"


# --- (d) ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_d_status_funnel_and_cancellation_rate_per_marketplace(built: Built) -> None:
    cancelled_seen = 0
    with connect(built.url) as conn:
        data = load(conn)
        for since, as_of in windows(built):
            expected: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for order in data.orders:
                if not in_window(order, since, as_of):
                    continue
                status = order["status"]
                reached = data.history[(order["store_id"], order["order_id"])]
                row = expected[data.stores[order["store_id"]]["marketplace"]]
                row["orders"] += 1
                row["reached_paid"] += status in SOLD or "paid" in reached
                row["reached_shipped"] += status in {"shipped", "delivered"} or "shipped" in reached
                row["reached_delivered"] += status == "delivered" or "delivered" in reached
                row["returned"] += status == "returned"
                row["cancelled"] += status == "cancelled"
                row["cancelled_after_payment"] += status == "cancelled" and "paid" in reached
                row["still_pending"] += status == "pending"
            found = run(conn, "d", since=since, as_of=as_of)
            assert [r["marketplace"] for r in found] == sorted(expected)
            for r in found:
                want = expected[r["marketplace"]]
                for column, value in want.items():
                    assert r[column] == value, (since, as_of, r["marketplace"], column)
                assert close(r["cancellation_rate"], want["cancelled"] / want["orders"], 4)
                assert want["orders"] >= want["reached_paid"] >= want["reached_shipped"]
                cancelled_seen += want["cancelled"]
    assert cancelled_seen > 0


# --- (e) ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_e_unlinked_listings_and_skus_missing_from_a_marketplace(built: Built) -> None:
    with connect(built.url) as conn:
        data = load(conn)
        found = run(conn, "e")
    active = {s: store for s, store in data.stores.items() if store["status"] == "active"}
    listing_status = {
        (x["store_id"], x["listing_id"], x["variation_id"]): x["status"] for x in data.listings
    }
    expected: set[tuple[Any, ...]] = set()
    for x in data.listings:
        store = active.get(x["store_id"])
        if store is None or x["status"] == "closed":
            continue
        link = data.links.get((x["store_id"], x["listing_id"], x["variation_id"]))
        if link is None or link["tenant"] != store["tenant"]:
            expected.add(
                (
                    "unlinked listing",
                    store["marketplace"],
                    x["store_id"],
                    x["listing_id"],
                    x["variation_id"],
                    x["seller_sku"],
                    x["status"],
                    x["title"],
                )
            )
    listed = {
        (k["tenant"], k["sku"], active[k["store_id"]]["marketplace"])
        for key, k in data.links.items()
        if k["store_id"] in active
        and active[k["store_id"]]["tenant"] == k["tenant"]
        and listing_status.get(key, "closed") != "closed"
    }
    marketplaces = {(s["tenant"], s["marketplace"]) for s in active.values()}
    for a in data.allocatable:
        product = data.products.get((a["tenant"], a["sku"]))
        if a["allocatable"] <= 0 or product is None:
            continue
        for tenant, marketplace in marketplaces:
            if tenant == a["tenant"] and (tenant, a["sku"], marketplace) not in listed:
                expected.add(
                    ("not listed", marketplace, None, None, None, a["sku"], None, product["name"])
                )
    columns = ("problem", "marketplace", "store_id", "listing_id", "variation_id", "sku")
    got = [tuple(r[c] for c in (*columns, "status", "detail")) for r in found]
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert {g[0] for g in got} == {"unlinked listing", "not listed"}


# --- (f) ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_f_questions_response_time_and_late_shipments(built: Built) -> None:
    answered_seen = late_seen = 0
    with connect(built.url) as conn:
        data = load(conn)
        for since, as_of in windows(built):
            start, end = midnight(since), midnight(as_of)
            found = {r["store_id"]: r for r in run(conn, "f", since=since, as_of=as_of)}
            active = sorted(
                (s["marketplace"], s["store_id"])
                for s in data.stores.values()
                if s["status"] == "active"
            )
            assert list(found) == [store_id for _, store_id in active]
            for store_id, r in found.items():
                asked = [
                    q
                    for q in data.questions
                    if q["store_id"] == store_id and start <= q["asked_at"] < end
                ]
                check_questions(r, asked)
                due = [
                    s
                    for s in data.shipments
                    if s["store_id"] == store_id
                    and s["ship_by"] is not None
                    and start <= s["ship_by"] < end
                    and s["status"] != "cancelled"
                ]
                check_shipments(r, due)
                answered_seen += r["answered"] or 0
                late_seen += r["shipped_late"] or 0
    assert answered_seen > 0 and late_seen > 0


# Response times whose hours the day-number arithmetic of (f) must get right: month ends,
# leap days (2000 and 2024 have one, 2025 and 2100 do not), a year end, a whole year.
BOUNDARIES = [
    ("1999-12-31 23:00:00", "2000-01-01 01:30:00"),
    ("2000-02-28 12:00:00", "2000-03-01 12:00:00"),
    ("2024-02-28 23:00:00", "2024-03-01 01:00:00"),
    ("2025-02-28 22:30:15", "2025-03-01 00:10:45"),
    ("2025-06-15 08:00:00", "2026-06-15 08:00:00"),
    ("2025-12-31 23:59:59", "2026-01-01 00:00:01"),
    ("2026-01-31 10:00:00", "2026-02-02 09:00:00"),
    ("2100-02-28 12:00:00", "2100-03-01 12:00:00"),
]


@pytest.mark.slow
def test_f_response_hours_are_exact_across_month_year_and_leap_day_ends(built: Built) -> None:
    instant = {
        text: datetime.fromisoformat(text).replace(tzinfo=UTC)
        for pair in BOUNDARIES
        for text in pair
    }
    stores = [f"mercadolivre-boundary{n}" for n in range(len(BOUNDARIES))]
    with connect(built.url) as conn:
        transaction = conn.begin()
        try:
            conn.execute(
                sa.insert(metadata.tables["stores"]),
                [
                    {
                        "store_id": store_id,
                        "marketplace": "mercadolivre",
                        "seller_id": store_id.partition("-")[2],
                        "name": store_id,
                        "connected_at": built.now,
                        "synced_at": built.now,
                    }
                    for store_id in stores
                ],
            )
            conn.execute(
                sa.insert(metadata.tables["questions"]),
                [
                    {
                        "store_id": store_id,
                        "question_id": "1",
                        "listing_id": "MLB1",
                        "status": "ANSWERED",
                        "asked_at": instant[asked],
                        "answered_at": instant[answered],
                        "answer_length": 10,
                        "deleted_from_listing": False,
                        "hold": False,
                        "synced_at": built.now,
                    }
                    for store_id, (asked, answered) in zip(stores, BOUNDARIES, strict=True)
                ],
            )
            found = {
                r["store_id"]: r
                for r in run(conn, "f", since=date(1999, 1, 1), as_of=date(2101, 1, 1))
            }
        finally:
            transaction.rollback()
    for store_id, (asked, answered) in zip(stores, BOUNDARIES, strict=True):
        hours = (instant[answered] - instant[asked]).total_seconds() / 3600
        r = found[store_id]
        assert r["answered"] == 1, r
        assert close(r["avg_response_hours"], hours, 2), (asked, answered, r)
        assert close(r["median_response_hours"], hours, 2), (asked, answered, r)
        assert r["answered_within_24h"] == (hours <= 24), (asked, answered, r)


def check_questions(r: dict[str, Any], asked: list[dict[str, Any]]) -> None:
    if not asked:
        assert r["questions"] is None and r["median_response_hours"] is None, r
        return
    hours = [
        (q["answered_at"] - q["asked_at"]).total_seconds() / 3600
        for q in asked
        if q["answered_at"] is not None
    ]
    answerable = [
        q
        for q in asked
        if q["answered_at"] is not None or q["status"] in {"UNANSWERED", "CLOSED_UNANSWERED"}
    ]
    still_open = [q for q in asked if q["answered_at"] is None and q["status"] == "UNANSWERED"]
    assert r["questions"] == len(asked), r
    assert r["answered"] == len(hours), r
    assert r["still_open"] == len(still_open), r
    assert r["answered_within_24h"] == sum(h <= 24 for h in hours), r
    share = len(hours) / len(answerable) if answerable else None
    assert close(r["answered_share"], share, 4), r
    assert close(r["avg_response_hours"], statistics.mean(hours) if hours else None, 2), r
    assert close(r["median_response_hours"], statistics.median(hours) if hours else None, 2), r


def check_shipments(r: dict[str, Any], due: list[dict[str, Any]]) -> None:
    if not due:
        assert r["packages_due"] is None, r
        return
    on_time = sum(1 for s in due if s["shipped_at"] is not None and s["shipped_at"] <= s["ship_by"])
    late = sum(1 for s in due if s["shipped_at"] is not None and s["shipped_at"] > s["ship_by"])
    waiting = sum(
        1 for s in due if s["shipped_at"] is None and s["status"] in {"pending", "ready_to_ship"}
    )
    assert (r["packages_due"], r["shipped_on_time"], r["shipped_late"]) == (len(due), on_time, late)
    assert r["not_shipped_past_deadline"] == waiting, r
    judged = on_time + late + waiting
    assert close(r["late_share"], (late + waiting) / judged if judged else None, 4), r


# --- the guide's command lines ------------------------------------------------------------


def csv_rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


def expected_top(built: Built) -> tuple[dict[str, date], list[tuple[str, str]]]:
    params = {"as_of": built.as_of, "since": built.as_of - timedelta(days=30)}
    with connect(built.url) as conn:
        found = run(conn, "b", **params)
    return params, [(r["sku"], str(r["units"])) for r in found]


@pytest.mark.slow
def test_the_query_runs_as_the_guide_says_in_the_sqlite3_shell(
    analytics_warehouses: Warehouses, tmp_path: Path
) -> None:
    if shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 shell on this machine")
    built = analytics_warehouses.get("sqlite")
    params, expected = expected_top(built)
    query = tmp_path / "top_skus.sql"
    query.write_text(QUERIES["b"], encoding="utf-8")
    script = "".join(
        f".parameter set :{name} \"'{value.isoformat()}'\"\n" for name, value in params.items()
    )
    script += f".read {query}\n"
    database = make_url(built.url).database
    assert database is not None
    done = subprocess.run(
        ["sqlite3", "-header", "-csv", database],
        input=script,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert [(r["sku"], r["units"]) for r in csv_rows(done.stdout)] == expected


@pytest.mark.slow
@pytest.mark.postgres
def test_the_query_runs_as_the_guide_says_in_psql(
    analytics_warehouses: Warehouses, tmp_path: Path
) -> None:
    if shutil.which("psql") is None:
        pytest.skip("no psql on this machine")
    built = analytics_warehouses.get("postgres")
    params, expected = expected_top(built)
    query = tmp_path / "top_skus.sql"
    query.write_text(QUERIES["b"], encoding="utf-8")
    url = make_url(built.url).set(drivername="postgresql")
    variables: Iterable[str] = (f"{name}='{value.isoformat()}'" for name, value in params.items())
    done = subprocess.run(
        [
            "psql",
            url.render_as_string(hide_password=False),
            "-X",
            "--csv",
            "-v",
            "ON_ERROR_STOP=1",
            *(arg for v in variables for arg in ("-v", v)),
            "-f",
            str(query),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "PGTZ": "UTC"},
    )
    assert [(r["sku"], r["units"]) for r in csv_rows(done.stdout)] == expected


# === every SQL block of the README and docs ===========================================


BLOCKS = sql_blocks()
# The dbt marts (docs/marts.md): built on each warehouse from its facts by the project's dbt.
MART = re.compile(r"\bmart_\w+")


def parameter_values(as_of: date) -> dict[str, date]:
    """Each parameter a block may bind, with the value its documentation gives it."""
    return {
        "as_of": as_of,  # today
        "since": as_of - timedelta(days=30),  # first day of the window
        "day": as_of - timedelta(days=1),  # the day (a) reports: yesterday
        "yesterday": as_of - timedelta(days=1),
    }


def test_there_are_sql_blocks_in_the_readme_and_docs() -> None:
    where = {b.path.name for b in BLOCKS}
    assert {
        "README.md",
        "analytics.md",
        "events.md",
        "normalization.md",
        "orders.md",
        "stock.md",
    } <= where


def test_sql_examples_are_sql_fenced_and_sql_fences_hold_sql() -> None:
    problems = []
    for path in documents():
        for block in blocks(path):
            body = strip_comments(block.text).strip()
            if block.lang == "sql" and not SQL_START.match(body):
                problems.append(f"{block.where}: an sql fence around something else")
            if block.lang != "sql" and SQL_START.match(body):
                problems.append(f"{block.where}: SQL fenced as {block.lang or 'plain text'!r}")
    assert not problems, "\n".join(problems)


def test_sql_blocks_use_only_what_both_warehouses_read_alike() -> None:
    problems = [p for block in BLOCKS for p in portability_problems(block)]
    assert not problems, "\n".join(problems)


def test_every_bound_parameter_is_documented_and_known() -> None:
    known = set(parameter_values(date.today()))
    problems = []
    for block in BLOCKS:
        prose = outside_code(block.path)
        for name in sorted(parameters(block.text)):
            if name not in known:
                problems.append(
                    f"{block.where}: binds :{name}, which this test has no value for "
                    "(add it to parameter_values with the value its text documents)"
                )
            if f"`:{name}`" not in prose:
                problems.append(f"{block.where}: binds :{name}, not explained in its page")
    assert not problems, "\n".join(problems)


def outside_code(path: Path) -> str:
    """The page's text without its fenced blocks."""
    kept: list[str] = []
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not inside and FENCE.match(line):
            inside = True
        elif inside and line.strip() == "```":
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def execute(conn: sa.Connection, block: Block, params: dict[str, date]) -> list[list[Any]]:
    """Every statement of the block, in one transaction rolled back; the result rows."""
    results: list[list[Any]] = []
    if conn.in_transaction():
        conn.rollback()
    transaction = conn.begin()
    try:
        for n, sql in enumerate(statements(block.text), start=1):
            bound = {k: v.isoformat() for k, v in params.items() if k in parameters(sql)}
            try:
                result = conn.execute(sa.text(sql), bound)
                results.append([tuple(r) for r in result] if result.returns_rows else [])
            except sa.exc.SQLAlchemyError as exc:
                first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
                pytest.fail(
                    f"{block.where}: statement {n} fails on {conn.dialect.name}: {first}\n{sql}"
                )
    finally:
        transaction.rollback()
    return results


@pytest.mark.slow
def test_every_table_the_blocks_read_has_rows(built: Built) -> None:
    """The blocks run against data, not empty tables (a filter that drops every row of an
    empty table proves nothing)."""
    read = {t for block in BLOCKS for t in tables_read(block.text)}
    with connect(built.url) as conn:
        present = set(sa.inspect(conn).get_table_names())
        assert read <= present, f"the blocks read tables this warehouse lacks: {read - present}"
        empty = sorted(
            t for t in read if conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() == 0
        )
    assert not empty, f"tables the docs query but the test warehouse leaves empty: {empty}"


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_sql_block_runs_on_the_warehouse(block: Block, built: Built) -> None:
    if MART.search(strip_comments(block.text)) and built.marts_problem:
        pytest.fail(f"{block.where} reads the dbt marts, not built here: {built.marts_problem}")
    with connect(built.url) as conn:
        execute(conn, block, parameter_values(built.as_of))


# --- the same rows, the same answers --------------------------------------------------


def copy_into_sqlite(source: sa.Connection, path: Path) -> str:
    """A fresh, migrated SQLite warehouse holding exactly the source's rows."""
    url = f"sqlite:///{path}"
    target = engine_for(url)
    migrate(target)
    present = set(sa.inspect(target).get_table_names())
    tables = [t for t in metadata.sorted_tables if t.name in present]
    with target.begin() as conn:
        for table in reversed(tables):
            conn.execute(table.delete())
        for table in tables:
            rows = [dict(r) for r in source.execute(sa.select(table)).mappings()]
            if rows:
                conn.execute(sa.insert(table), rows)
    return url


TIMESTAMP_TEXT = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d(:?\d\d)?|Z)?$")


def comparable(value: Any) -> Any:
    """One spelling per value, whichever driver returned it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | Decimal):
        return round(float(value), 6)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and TIMESTAMP_TEXT.match(value):
        return comparable(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return value


def normalized(rows: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(comparable(v) for v in row) for row in rows),
        key=lambda row: tuple((v is None, str(v)) for v in row),
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_sql_blocks_give_the_same_answer_on_both_backends(
    analytics_warehouses: Warehouses, tmp_path: Path
) -> None:
    built = analytics_warehouses.get("postgres")
    params = parameter_values(built.as_of)
    with connect(built.url) as source:
        copy = copy_into_sqlite(source, tmp_path / "copy.sqlite")
        differences = []
        with connect(copy) as other:
            for block in BLOCKS:
                if MART.search(strip_comments(block.text)):
                    continue  # dbt builds them per warehouse: the marts' tests compare them
                on_postgres = execute(source, block, params)
                on_sqlite = execute(other, block, params)
                for n, (a, b) in enumerate(zip(on_postgres, on_sqlite, strict=True), start=1):
                    if normalized(a) != normalized(b):
                        differences.append(
                            f"{block.where}: statement {n}: PostgreSQL {normalized(a)[:5]} "
                            f"≠ SQLite {normalized(b)[:5]}"
                        )
    assert not differences, "\n".join(differences)
