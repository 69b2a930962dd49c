"""What the dashboard shows, computed from the marts: the periods a merchant picks from, the
KPIs of a period, and each chart as a plotly figure (no HTML here, see page.py).

Periods are whole ISO weeks (Monday to Sunday) ending with the week of the last data day,
because two marts are weekly (the order funnel and shipping SLA): every figure of a period
then covers the same days. "This week" runs from Monday to the last data day; the previous
period, for the trends, covers the same weekdays earlier.

Money figures add the amounts of one currency, the one most units were sold in
(`main_currency`); rows in another currency are left out and counted in a note, never
added to reais.

A sale counts in `mart_sales_daily` once per SKU it contains, so orders are counted from
`mart_order_funnel` (orders paid, or placed in the week), never by adding SKU rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from synchub_pipelines.dashboard.marts import Marts

# Marketplace → (name shown, colour): the brands' own hues, told apart also by position.
MARKETPLACES: dict[str, tuple[str, str]] = {
    "mercadolivre": ("Mercado Livre", "#E3B505"),
    "shopee": ("Shopee", "#EE4D2D"),
    "tiktok": ("TikTok Shop", "#0F9D9A"),
    "amazon": ("Amazon", "#232F3E"),
}
OTHER_COLOUR = "#6B7280"
FONT = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif'
)
TOP_SKUS = 10
COVER_SKUS = 15
COVER_ALERT_DAYS = 7.0
RED, AMBER, GREEN, GREY = "#DC2626", "#D97706", "#059669", "#9CA3AF"


def marketplace_name(marketplace: str) -> str:
    return MARKETPLACES.get(marketplace, (marketplace.title(), OTHER_COLOUR))[0]


def marketplace_colour(marketplace: str) -> str:
    return MARKETPLACES.get(marketplace, ("", OTHER_COLOUR))[1]


def _order(marketplaces: Any) -> list[str]:
    known = list(MARKETPLACES)
    return sorted(set(marketplaces), key=lambda m: (known.index(m) if m in known else 99, m))


# --- periods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    start: date
    end: date
    weeks: int | None  # None: the whole history

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period | None:
        """The same weekdays, `weeks` weeks earlier (None for the whole history)."""
        if self.weeks is None:
            return None
        shift = timedelta(days=7 * self.weeks)
        return Period(
            f"{self.key}-previous", "previous", self.start - shift, self.end - shift, self.weeks
        )

    def first_week(self) -> date:
        return monday(self.start)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


WEEK_PERIODS = (("week", "This week", 1), ("4w", "Last 4 weeks", 4), ("13w", "Last 13 weeks", 13))
DEFAULT_PERIOD = "4w"


def data_span(marts: Marts, today: date) -> tuple[date, date]:
    """(first day, last day) the marts hold sales or questions; a week per weekly row."""
    days: list[pd.Timestamp] = [
        *marts.sales_daily["business_date"].dropna(),
        *marts.questions_sla["question_date"].dropna(),
    ]
    weeks = [*marts.order_funnel["week_start"].dropna(), *marts.shipping_sla["week_start"].dropna()]
    if days:
        last = max(days).date()
    elif weeks:
        last = min(max(weeks).date() + timedelta(days=6), today)
    else:
        last = today
    first = min([d.date() for d in days] + [w.date() for w in weeks], default=last)
    return min(first, last), last


def periods(first: date, last: date) -> list[Period]:
    """The periods worth offering: each N-week window shorter than the history, then all."""
    found = []
    for key, label, weeks in WEEK_PERIODS:
        start = monday(last) - timedelta(days=7 * (weeks - 1))
        if start > first:
            found.append(Period(key, label, start, last, weeks))
    found.append(Period("all", "All history", first, last, None))
    return found


def default_period(choices: list[Period]) -> Period:
    by_key = {p.key: p for p in choices}
    return by_key.get(DEFAULT_PERIOD, choices[-1])


def _days(frame: pd.DataFrame, column: str, period: Period) -> pd.DataFrame:
    values = frame[column]
    return frame[(values >= pd.Timestamp(period.start)) & (values <= pd.Timestamp(period.end))]


def _weeks(frame: pd.DataFrame, period: Period) -> pd.DataFrame:
    values = frame["week_start"]
    return frame[
        (values >= pd.Timestamp(period.first_week())) & (values <= pd.Timestamp(period.end))
    ]


# --- KPIs ----------------------------------------------------------------------------------


def main_currency(sales: pd.DataFrame) -> str:
    """The currency of most units sold (amounts in two currencies do not compare); BRL when
    nothing was sold."""
    if sales.empty:
        return "BRL"
    units = sales.groupby("currency")["units"].sum()
    return str(max(units.index, key=lambda c: (units[c], c == "BRL")))


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Kpis:
    """The period's figures, raw (formatting is the page's)."""

    currency: str
    gross: float
    net: float
    fees: float
    units: float
    orders_placed: float
    orders_paid: float
    orders_cancelled: float
    orders_returned: float
    questions: float
    answerable: float
    answered: float
    mean_response_minutes: float | None
    shipped_on_time: float
    shipped_late: float
    other_currency_rows: int

    @property
    def fee_share(self) -> float | None:
        return _ratio(self.fees, self.gross)

    @property
    def net_share(self) -> float | None:
        return _ratio(self.net, self.gross)

    @property
    def cancellation_rate(self) -> float | None:
        return _ratio(self.orders_cancelled, self.orders_placed)

    @property
    def return_rate(self) -> float | None:
        return _ratio(self.orders_returned, self.orders_paid)

    @property
    def answered_share(self) -> float | None:
        return _ratio(self.answered, self.answerable)

    @property
    def late_share(self) -> float | None:
        return _ratio(self.shipped_late, self.shipped_on_time + self.shipped_late)

    @property
    def average_ticket(self) -> float | None:
        return _ratio(self.gross, self.orders_paid)


def kpis(marts: Marts, period: Period, currency: str) -> Kpis:
    every_sale = _days(marts.sales_daily, "business_date", period)
    sales = every_sale[every_sale["currency"] == currency]
    funnel = _weeks(marts.order_funnel, period)
    questions = _days(marts.questions_sla, "question_date", period)
    answered = questions["answered"].sum()
    response = (questions["avg_response_minutes"] * questions["answered"]).sum()
    shipping = _weeks(marts.shipping_sla, period)
    return Kpis(
        currency=currency,
        gross=float(sales["gross_amount"].sum()),
        net=float(sales["net_revenue"].sum()),
        fees=float(sales["fee_amount"].sum()),
        units=float(sales["units"].sum()),
        orders_placed=float(funnel["orders"].sum()),
        orders_paid=float(funnel["orders_paid"].sum()),
        orders_cancelled=float(funnel["orders_cancelled"].sum()),
        orders_returned=float(funnel["orders_returned"].sum()),
        questions=float(questions["questions"].sum()),
        answerable=float(questions["answerable_questions"].sum()),
        answered=float(answered),
        mean_response_minutes=float(response / answered) if answered else None,
        shipped_on_time=float(shipping["shipped_on_time"].sum()),
        shipped_late=float(shipping["shipped_late"].sum()),
        other_currency_rows=len(every_sale) - len(sales),
    )


def has_history(marts: Marts, period: Period) -> bool:
    """Whether the marts hold every day of `period` (so a trend against it means something)."""
    first, _ = data_span(marts, period.end)
    return period.start >= first


def fees_final_through(marts: Marts, period: Period) -> date | None:
    """The last day of the period up to which every sale is settled (fees, payout, net final);
    None when the first day already has an unsettled sale."""
    sales = _days(marts.sales_daily, "business_date", period)
    open_days = sales.loc[~sales["fees_final"], "business_date"]
    if open_days.empty:
        return period.end
    last_final = open_days.min().date() - timedelta(days=1)
    return last_final if last_final >= period.start else None


# --- tables --------------------------------------------------------------------------------


def channels(marts: Marts, period: Period, currency: str) -> pd.DataFrame:
    """Per marketplace over the period: gross, net, units, orders, fee share, cancellation
    rate, late share. Marketplaces in the brand order."""
    sales = _days(marts.sales_daily, "business_date", period)
    sales = sales[sales["currency"] == currency]
    money = sales.groupby("marketplace")[
        ["gross_amount", "net_revenue", "fee_amount", "units"]
    ].sum()
    funnel = (
        _weeks(marts.order_funnel, period)
        .groupby("marketplace")[["orders", "orders_paid", "orders_cancelled"]]
        .sum()
    )
    shipping = (
        _weeks(marts.shipping_sla, period)
        .groupby("marketplace")[["shipped_on_time", "shipped_late"]]
        .sum()
    )
    table = money.join(funnel, how="outer").join(shipping, how="outer").fillna(0.0)
    table = table.reindex(_order(table.index))
    table["fee_share"] = table["fee_amount"] / table["gross_amount"].where(
        table["gross_amount"] != 0
    )
    table["cancellation_rate"] = table["orders_cancelled"] / table["orders"].where(
        table["orders"] != 0
    )
    shipped = table["shipped_on_time"] + table["shipped_late"]
    table["late_share"] = table["shipped_late"] / shipped.where(shipped != 0)
    return table


def carriers(marts: Marts, period: Period) -> pd.DataFrame:
    """Per marketplace × carrier over the period: packages, late ones, mean hours to ship,
    and packages overdue now; the most late packages first."""
    shipping = _weeks(marts.shipping_sla, period).copy()
    if shipping.empty:
        return pd.DataFrame()
    shipping["carrier"] = shipping["carrier"].fillna("(none named)")
    shipping["ship_hours"] = shipping["avg_hours_to_ship"].fillna(0) * shipping["packages_shipped"]
    table = shipping.groupby(["marketplace", "carrier"])[
        [
            "packages",
            "packages_shipped",
            "shipped_on_time",
            "shipped_late",
            "overdue_unshipped",
            "ship_hours",
        ]
    ].sum()
    with_deadline = table["shipped_on_time"] + table["shipped_late"]
    table["late_share"] = table["shipped_late"] / with_deadline.where(with_deadline != 0)
    table["avg_hours_to_ship"] = table["ship_hours"] / table["packages_shipped"].where(
        table["packages_shipped"] != 0
    )
    return table.sort_values(["shipped_late", "packages"], ascending=False).reset_index()


def out_of_stock(marts: Marts) -> pd.DataFrame:
    """SKUs no channel offers now, those that sold most in 30 days first."""
    coverage = marts.stock_coverage
    return coverage[coverage["is_out_of_stock"]].sort_values(
        ["units_sold_30d", "sku"], ascending=[False, True]
    )


def running_low(marts: Marts) -> pd.DataFrame:
    """SKUs in stock that last at most a week at the last 30 days' rate, shortest first."""
    coverage = marts.stock_coverage
    low = coverage[
        (coverage["allocatable"] > 0) & (coverage["days_of_cover_30d"] <= COVER_ALERT_DAYS)
    ]
    return low.sort_values(["days_of_cover_30d", "sku"])


def stockouts(marts: Marts, period: Period) -> pd.DataFrame:
    """Stock-out periods that touched the period, the latest first, with product names."""
    found = marts.stockout_periods
    if found.empty:
        return found
    end = pd.Timestamp(period.end + timedelta(days=1))
    touching = found[
        (found["started_at"] < end)
        & (found["ended_at"].isna() | (found["ended_at"] >= pd.Timestamp(period.start)))
    ]
    names = marts.stock_coverage[["tenant", "sku", "product_name"]]
    return touching.merge(names, on=["tenant", "sku"], how="left").sort_values(
        ["started_at", "sku"], ascending=[False, True]
    )


def listings(marts: Marts) -> pd.DataFrame:
    """Per marketplace, now: listings, and how many are unlinked, suppressed, paused, not
    ready, or priced 10 % or more apart from the same SKU elsewhere."""
    health = marts.listing_health.copy()
    if health.empty:
        return pd.DataFrame()
    health["listings"] = 1
    health["priced_apart"] = health["price_spread_share"].fillna(0) >= 0.10
    table = health.groupby("marketplace")[
        [
            "listings",
            "is_unlinked",
            "is_suppressed",
            "is_paused",
            "is_not_ready",
            "priced_apart",
            "needs_attention",
        ]
    ].sum()
    return table.reindex(_order(table.index))


# --- figures -------------------------------------------------------------------------------


def _layout(**extra: Any) -> dict[str, Any]:
    axis = {
        "gridcolor": "#E5E7EB",
        "linecolor": "#D1D5DB",
        "zerolinecolor": "#D1D5DB",
        "automargin": True,
    }
    layout: dict[str, Any] = {
        "template": "none",
        "separators": ",.",
        "font": {"family": FONT, "size": 13, "color": "#1F2937"},
        "paper_bgcolor": "#FFFFFF",
        "plot_bgcolor": "#FFFFFF",
        "height": 360,
        "margin": {"l": 64, "r": 24, "t": 48, "b": 48},
        "legend": {
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.02,
            "x": 0,
            "traceorder": "normal",
        },
        "hoverlabel": {"font": {"family": FONT, "size": 12}},
        "xaxis": dict(axis),
        "yaxis": dict(axis),
    }
    for key, value in extra.items():
        if key in {"xaxis", "yaxis"}:
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _money_format(currency: str) -> tuple[str, str]:
    """(tick prefix, hover prefix) of a currency: `R$ `."""
    from synchub_pipelines.dashboard.formatting import SYMBOLS

    symbol = SYMBOLS.get(currency, currency)
    return f"{symbol} ", f"{symbol} "


def sales_figure(marts: Marts, period: Period, currency: str) -> go.Figure | None:
    """Gross (or, by the buttons, net) sales per day, one stacked bar per channel."""
    sales = _days(marts.sales_daily, "business_date", period)
    sales = sales[sales["currency"] == currency]
    if sales.empty:
        return None
    daily = sales.groupby(["business_date", "marketplace"])[["gross_amount", "net_revenue"]].sum()
    daily = daily.reset_index()
    prefix, _ = _money_format(currency)
    figure = go.Figure()
    order = _order(daily["marketplace"])
    for measure, label, visible in (("gross_amount", "gross", True), ("net_revenue", "net", False)):
        for marketplace in order:
            rows = daily[daily["marketplace"] == marketplace]
            figure.add_trace(
                go.Bar(
                    x=rows["business_date"],
                    y=rows[measure],
                    name=marketplace_name(marketplace),
                    marker={"color": marketplace_colour(marketplace)},
                    visible=visible,
                    hovertemplate=(
                        f"{marketplace_name(marketplace)} ({label}): "
                        f"{prefix}%{{y:,.2f}}<extra></extra>"
                    ),
                )
            )
    count = len(order)
    buttons = [
        {
            "label": "Gross",
            "method": "update",
            "args": [
                {"visible": [True] * count + [False] * count},
                {"yaxis.title.text": f"Gross sales ({currency})"},
            ],
        },
        {
            "label": "Net of fees",
            "method": "update",
            "args": [
                {"visible": [False] * count + [True] * count},
                {"yaxis.title.text": f"Net revenue ({currency})"},
            ],
        },
    ]
    figure.update_layout(
        **_layout(
            barmode="relative",
            hovermode="x unified",
            xaxis={"type": "date", "tickformat": "%d/%m", "hoverformat": "%a %d/%m/%Y"},
            yaxis={"title": {"text": f"Gross sales ({currency})"}, "tickprefix": prefix},
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "buttons": buttons,
                    "showactive": True,
                    "active": 0,
                    "x": 1,
                    "xanchor": "right",
                    "y": 1.02,
                    "yanchor": "bottom",
                    "pad": {"t": 0, "b": 0, "r": 0},
                    "bgcolor": "#F3F4F6",
                    "bordercolor": "#D1D5DB",
                    "font": {"size": 12},
                }
            ],
            # Room above the plot: legend (left) and buttons (right), the tool bar above.
            margin={"l": 72, "r": 24, "t": 84, "b": 48},
        )
    )
    return figure


def sku_label(sku: str, name: str | None, width: int = 26) -> str:
    """`CAR02 · Carregador Turbo USB-C…`: the SKU, and as much of its name as fits."""
    if not name:
        return sku
    short = name if len(name) <= width else name[: width - 1].rstrip() + "…"
    return f"{sku} · {short}"


def top_skus_figure(marts: Marts, period: Period, currency: str) -> go.Figure | None:
    """The period's ten SKUs with the most units, across channels, stacked by channel."""
    sales = _days(marts.sales_daily, "business_date", period)
    sales = sales[(sales["currency"] == currency) & sales["sku"].notna()]
    if sales.empty:
        return None
    totals = sales.groupby("sku")[["units", "gross_amount"]].sum()
    top = totals.sort_values(["units", "gross_amount"], ascending=False).head(TOP_SKUS)
    chosen = sales[sales["sku"].isin(top.index)]
    by_channel = chosen.groupby(["sku", "marketplace"])[["units", "gross_amount", "net_revenue"]]
    rows = by_channel.sum().reset_index()
    names = dict(
        zip(marts.stock_coverage["sku"], marts.stock_coverage["product_name"], strict=False)
    )
    labels = {sku: sku_label(sku, names.get(sku)) for sku in top.index}
    ranked = [labels[sku] for sku in top.index][::-1]  # the most sold on top
    _, money = _money_format(currency)
    figure = go.Figure()
    for marketplace in _order(rows["marketplace"]):
        part = rows[rows["marketplace"] == marketplace]
        figure.add_trace(
            go.Bar(
                y=[labels[sku] for sku in part["sku"]],
                x=part["units"],
                orientation="h",
                name=marketplace_name(marketplace),
                marker={"color": marketplace_colour(marketplace)},
                customdata=list(
                    zip(
                        [names.get(s) or "" for s in part["sku"]],
                        part["gross_amount"],
                        part["net_revenue"],
                        part["sku"],
                        strict=True,
                    )
                ),
                hovertemplate=(
                    "<b>%{customdata[3]}</b> %{customdata[0]}<br>"
                    f"{marketplace_name(marketplace)}: %{{x:,.0f}} units · "
                    f"gross {money}%{{customdata[1]:,.2f}} · net {money}%{{customdata[2]:,.2f}}"
                    "<extra></extra>"
                ),
            )
        )
    figure.update_layout(
        **_layout(
            barmode="stack",
            height=max(300, 44 + 30 * len(ranked) + 80),
            xaxis={"title": {"text": "Units sold"}, "tickformat": ",d"},
            yaxis={"categoryorder": "array", "categoryarray": ranked, "type": "category"},
            margin={"l": 140, "r": 24, "t": 48, "b": 48},
        )
    )
    return figure


def cover_figure(marts: Marts) -> go.Figure | None:
    """Days of cover at the last 30 days' rate, the shortest first: what runs out next.
    Out of stock (0 allocatable) shows as a red mark at 0."""
    coverage = marts.stock_coverage
    selling = coverage[(coverage["units_sold_30d"] > 0) & coverage["allocatable"].notna()].copy()
    if selling.empty:
        return None
    selling["cover"] = selling["days_of_cover_30d"].where(selling["allocatable"] > 0, 0.0)
    shortest = selling.sort_values(["cover", "sku"]).head(COVER_SKUS)
    colours = [
        RED if cover <= 0 else AMBER if cover <= COVER_ALERT_DAYS else GREEN
        for cover in shortest["cover"]
    ]
    labels = [
        sku_label(sku, name)
        for sku, name in zip(shortest["sku"], shortest["product_name"], strict=True)
    ]
    ranked = labels[::-1]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=shortest["cover"].clip(lower=0.15),  # a stock-out stays visible as a sliver
            orientation="h",
            marker={"color": colours},
            customdata=list(
                zip(
                    shortest["product_name"].fillna(""),
                    shortest["allocatable"],
                    shortest["units_per_day_30d"],
                    shortest["cover"],
                    shortest["sku"],
                    strict=True,
                )
            ),
            hovertemplate=(
                "<b>%{customdata[4]}</b> %{customdata[0]}<br>%{customdata[3]:,.1f} days of cover: "
                "%{customdata[1]:,.0f} allocatable at %{customdata[2]:,.2f} units/day"
                "<extra></extra>"
            ),
            showlegend=False,
        )
    )
    figure.add_vline(
        x=COVER_ALERT_DAYS,
        line={"color": AMBER, "dash": "dot", "width": 2},
        annotation={"text": "1 week", "font": {"color": AMBER, "size": 12}},
        annotation_position="top",
    )
    figure.update_layout(
        **_layout(
            height=max(300, 44 + 26 * len(ranked) + 80),
            xaxis={"title": {"text": "Days of cover (last 30 days' rate)"}, "rangemode": "tozero"},
            yaxis={"categoryorder": "array", "categoryarray": ranked, "type": "category"},
            margin={"l": 140, "r": 24, "t": 48, "b": 48},
        )
    )
    return figure


def questions_figure(marts: Marts, period: Period) -> go.Figure | None:
    """Mercado Livre questions per day, answered or not, and the slowest answers (p90)."""
    questions = _days(marts.questions_sla, "question_date", period)
    if questions.empty:
        return None
    daily = questions.groupby("question_date")[["answerable_questions", "answered"]].sum()
    daily["unanswered"] = (daily["answerable_questions"] - daily["answered"]).clip(lower=0)
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=daily.index,
            y=daily["answered"],
            name="Answered",
            marker={"color": GREEN},
            hovertemplate="Answered: %{y:,.0f}<extra></extra>",
        )
    )
    figure.add_trace(
        go.Bar(
            x=daily.index,
            y=daily["unanswered"],
            name="Not answered",
            marker={"color": RED},
            hovertemplate="Not answered: %{y:,.0f}<extra></extra>",
        )
    )
    stores = sorted(questions["store_id"].unique())
    for number, store in enumerate(stores, start=1):
        rows = questions[
            (questions["store_id"] == store) & questions["p90_response_minutes"].notna()
        ].sort_values("question_date")
        label = "p90 response (h)" if len(stores) == 1 else f"p90 response (h), {store}"
        figure.add_trace(
            go.Scatter(
                x=rows["question_date"],
                y=rows["p90_response_minutes"] / 60,
                name=label,
                yaxis="y2",
                mode="lines+markers",
                line={"color": "#4338CA", "width": 2, "dash": "solid" if number == 1 else "dot"},
                marker={"size": 5},
                hovertemplate=f"{label}: %{{y:,.1f}} h<extra></extra>",
            )
        )
    figure.update_layout(
        **_layout(
            barmode="stack",
            hovermode="x unified",
            xaxis={"type": "date", "tickformat": "%d/%m", "hoverformat": "%a %d/%m/%Y"},
            yaxis={
                "title": {"text": "Questions"},
                "tickformat": ",d",
                "rangemode": "tozero",
                # Counts: whole ticks (plotly would step by 0.5 on a small day).
                **({"dtick": 1} if daily["answerable_questions"].max() <= 10 else {}),
            },
            yaxis2={
                "title": {"text": "Hours to answer (p90)"},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "tickmode": "auto",
                "showgrid": False,
                "automargin": True,
            },
            margin={"l": 64, "r": 64, "t": 48, "b": 48},
        )
    )
    return figure


def shipping_figure(marts: Marts, period: Period) -> go.Figure | None:
    """Share of packages shipped after the handling deadline, per week and channel."""
    shipping = _weeks(marts.shipping_sla, period)
    if shipping.empty:
        return None
    weekly = shipping.groupby(["week_start", "marketplace"])[
        ["shipped_on_time", "shipped_late"]
    ].sum()
    weekly = weekly.reset_index()
    weekly["with_deadline"] = weekly["shipped_on_time"] + weekly["shipped_late"]
    weekly = weekly[weekly["with_deadline"] > 0]
    if weekly.empty:
        return None
    weekly["late_share"] = weekly["shipped_late"] / weekly["with_deadline"]
    figure = go.Figure()
    for marketplace in _order(weekly["marketplace"]):
        rows = weekly[weekly["marketplace"] == marketplace]
        name = marketplace_name(marketplace)
        figure.add_trace(
            go.Bar(
                x=rows["week_start"],
                y=rows["late_share"],
                name=name,
                marker={"color": marketplace_colour(marketplace)},
                customdata=list(zip(rows["shipped_late"], rows["with_deadline"], strict=True)),
                hovertemplate=(
                    f"{name}: %{{y:.1%}} late (%{{customdata[0]:,.0f}} of "
                    "%{customdata[1]:,.0f})<extra></extra>"
                ),
            )
        )
    figure.update_layout(
        **_layout(
            barmode="group",
            hovermode="x unified",
            xaxis={
                "type": "date",
                "tickformat": "%d/%m",
                "hoverformat": "week of %d/%m/%Y",
                "dtick": 7 * 24 * 3600 * 1000,
                "tick0": "2024-01-01",  # a Monday: ticks on week starts
            },
            yaxis={"title": {"text": "Shipped late"}, "tickformat": ".0%", "rangemode": "tozero"},
        )
    )
    return figure
