"""The dashboard's figures from a merchant's marts known by hand (world.py): periods of
whole weeks, the KPIs of a period, and every chart built from its mart."""

from __future__ import annotations

from datetime import date

import pytest

from synchub_pipelines.dashboard import views
from synchub_pipelines.dashboard.marts import Marts
from synchub_pipelines_tests.dashboard import world

TODAY = date(2026, 3, 14)


@pytest.fixture
def marts() -> Marts:
    return world.marts()


def period(marts: Marts, key: str) -> views.Period:
    first, last = views.data_span(marts, TODAY)
    return {p.key: p for p in views.periods(first, last)}[key]


def test_periods_are_whole_weeks_up_to_the_last_data_day(marts: Marts) -> None:
    first, last = views.data_span(marts, TODAY)
    assert (first, last) == (date(2026, 1, 5), date(2026, 3, 14))
    choices = views.periods(first, last)
    # 13 weeks would reach before the first sale: it would be "all history" again.
    assert [(p.key, p.start, p.end) for p in choices] == [
        ("week", date(2026, 3, 9), date(2026, 3, 14)),
        ("4w", date(2026, 2, 16), date(2026, 3, 14)),
        ("all", date(2026, 1, 5), date(2026, 3, 14)),
    ]
    assert views.default_period(choices).key == "4w"
    previous = choices[0].previous()
    assert previous is not None
    assert (previous.start, previous.end) == (date(2026, 3, 2), date(2026, 3, 7))
    assert choices[-1].previous() is None


def test_a_short_history_offers_what_it_has() -> None:
    assert [p.key for p in views.periods(date(2026, 3, 10), date(2026, 3, 14))] == ["all"]
    empty = Marts.from_frames({})
    first, last = views.data_span(empty, TODAY)
    assert first == last == TODAY
    assert views.default_period(views.periods(first, last)).key == "all"


def test_kpis_of_the_week(marts: Marts) -> None:
    week = period(marts, "week")
    assert views.main_currency(marts.sales_daily) == "BRL"
    kpis = views.kpis(marts, week, "BRL")
    assert (kpis.gross, kpis.net, kpis.fees, kpis.units) == (150.0, 120.0, 15.0, 3.0)
    assert kpis.fee_share == pytest.approx(0.1)
    assert kpis.net_share == pytest.approx(0.8)
    # Orders from the funnel (a sale of two SKUs counts twice in the sales mart).
    assert (kpis.orders_placed, kpis.orders_paid, kpis.orders_cancelled) == (4, 3, 1)
    assert kpis.cancellation_rate == pytest.approx(0.25)
    assert kpis.average_ticket == pytest.approx(50.0)
    assert kpis.answered_share == pytest.approx(2 / 3)
    assert kpis.mean_response_minutes == pytest.approx(90.0)  # weighted by answers
    assert kpis.late_share == pytest.approx(0.25)
    assert kpis.other_currency_rows == 1  # the USD sale, not added to reais
    assert views.fees_final_through(marts, week) == date(2026, 3, 13)
    previous = week.previous()
    assert previous is not None and views.has_history(marts, previous)
    assert views.kpis(marts, previous, "BRL").gross == 30.0


def test_tables(marts: Marts) -> None:
    week = period(marts, "week")
    channels = views.channels(marts, week, "BRL")
    assert list(channels.index) == ["mercadolivre", "shopee"]  # brand order, USD left out
    assert channels.loc["mercadolivre", "gross_amount"] == 100.0
    assert channels.loc["mercadolivre", "cancellation_rate"] == pytest.approx(1 / 3)
    assert channels.loc["mercadolivre", "late_share"] == pytest.approx(0.25)
    assert channels["late_share"].isna().tolist() == [False, True]  # Shopee: no deadline
    carriers = views.carriers(marts, week)
    assert carriers[["carrier", "shipped_late", "avg_hours_to_ship"]].values.tolist() == [
        ["Correios", 1.0, 20.0]
    ]
    assert list(views.out_of_stock(marts)["sku"]) == ["B"]
    assert list(views.running_low(marts)["sku"]) == ["A"]
    # The January stock-out is not in this week; the ongoing one is, with its name.
    found = views.stockouts(marts, week)
    assert found[["sku", "product_name"]].values.tolist() == [["B", "Product B"]]
    assert len(views.stockouts(marts, period(marts, "all"))) == 2
    listings = views.listings(marts)
    assert listings.loc["mercadolivre", "is_unlinked"] == 1
    assert listings.loc["shopee", "priced_apart"] == 1


def test_every_chart_is_built_from_its_mart(marts: Marts) -> None:
    week = period(marts, "week")
    sales = views.sales_figure(marts, week, "BRL")
    assert sales is not None
    # Gross then net, one bar trace per channel; net hidden until its button.
    assert [(t.name, t.visible) for t in sales.data] == [
        ("Mercado Livre", True),
        ("Shopee", True),
        ("Mercado Livre", False),
        ("Shopee", False),
    ]
    assert sales.layout.separators == ",."  # pt-BR: 1.234,56
    top = views.top_skus_figure(marts, week, "BRL")
    assert top is not None
    assert list(top.layout.yaxis.categoryarray) == ["B · Product B", "A · Product A"]
    cover = views.cover_figure(marts)
    assert cover is not None
    assert list(cover.data[0].y) == ["B · Product B", "A · Product A", "C · Product C"]
    assert list(cover.data[0].marker.color) == [views.RED, views.AMBER, views.GREEN]
    questions = views.questions_figure(marts, week)
    assert questions is not None
    assert [list(t.y) for t in questions.data[:2]] == [[1, 1], [1, 0]]
    shipping = views.shipping_figure(marts, week)
    assert shipping is not None and list(shipping.data[0].y) == [0.25]


def test_charts_without_rows_are_none() -> None:
    empty = Marts.from_frames({})
    first, last = views.data_span(empty, TODAY)
    everything = views.periods(first, last)[-1]
    assert views.sales_figure(empty, everything, "BRL") is None
    assert views.top_skus_figure(empty, everything, "BRL") is None
    assert views.cover_figure(empty) is None
    assert views.questions_figure(empty, everything) is None
    assert views.shipping_figure(empty, everything) is None


def test_long_names_are_cut_in_labels() -> None:
    assert views.sku_label("CAR02", "Carregador Turbo USB-C 20W Linha 2") == (
        "CAR02 · Carregador Turbo USB-C 20…"
    )
    assert views.sku_label("X", None) == "X"
