"""The merchant dashboard page: HTML and CSS written here, charts drawn by plotly.js.

`build_dashboard(marts, folder)` writes, into `folder`:

- `index.html`: the dashboard of the first merchant (`default` when it has data), and
  `tenant-<name>.html` for each other merchant, linked from a bar at the top;
- `plotly.min.js`: the plotly.js bundle of the installed plotly, beside the pages, so they
  open offline from disk (no CDN, no network);
- `build.json`: when it was built and which pages, for `synchub dashboard`.

Each page holds its figures as JSON, one set per period (see views.py), and a small script
that draws the chosen period's charts and shows its KPIs and tables; the chosen period is
kept in the address (`#period=13w`). Money is written the pt-BR way (`R$ 1.234,56`), dates
as `14/03/2026`. Files are written to a temporary name and renamed: a reader never sees half
a page.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import plotly
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from synchub_pipelines.dashboard import formatting as fmt
from synchub_pipelines.dashboard import views
from synchub_pipelines.dashboard.marts import Marts

INDEX = "index.html"
PLOTLY_JS = "plotly.min.js"
BUILD_FILE = "build.json"

# Chart id → (title, what it shows when there is nothing to draw). Ids are the page's
# contract with its tests: every one is drawn when its mart has rows.
PERIOD_CHARTS = {
    "sales": "No sale in this period.",
    "top_skus": "No sale of a linked SKU in this period.",
    "questions": "No Mercado Livre question in this period.",
    "shipping": "No package with a handling deadline in this period.",
}
FIXED_CHARTS = {"cover": "No SKU sold in the last 30 days, or stock was never computed."}
CHARTS = (*PERIOD_CHARTS, *FIXED_CHARTS)

# Mart → what its file holds, for the downloads list.
EXPORTS: dict[str, str] = {
    "mart_sales_daily": "Sales per day × store × SKU: units, gross, fees, payout, net",
    "mart_order_funnel": "Orders per store × week: statuses reached, cancellations, returns",
    "mart_stock_coverage": "Per SKU: allocatable now, units per day, days of cover, stock-outs",
    "mart_stockout_periods": "Every stock-out: when it began and ended",
    "mart_listing_health": "Every listing: unlinked, not ready, suppressed, price spread",
    "mart_questions_sla": "Mercado Livre questions per store × day: answered, response time",
    "mart_shipping_sla": "Packages per store × carrier × week: late, time to ship and deliver",
}


@dataclass(frozen=True)
class Page:
    tenant: str
    path: Path
    periods: list[views.Period]
    default_period: str
    charts: list[str]  # chart ids drawn for the default period (the others say why not)


@dataclass(frozen=True)
class Built:
    folder: Path
    index: Path
    plotly_js: Path
    built_at: datetime
    pages: list[Page] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.index.resolve().as_uri()


def page_name(tenant: str, first: bool, taken: set[str]) -> str:
    """`index.html` for the first merchant, `tenant-<slug>.html` for the others."""
    if first:
        return INDEX
    slug = re.sub(r"[^a-z0-9]+", "-", tenant.lower()).strip("-") or "tenant"
    name, n = f"tenant-{slug}.html", 2
    while name in taken:
        name, n = f"tenant-{slug}-{n}.html", n + 1
    return name


def build_dashboard(
    marts: Marts,
    folder: Path,
    exports: Mapping[str, Mapping[str, Path]] | None = None,
    built_at: datetime | None = None,
    today: date | None = None,
) -> Built:
    """Write every merchant's page, plotly.js and build.json into `folder`.

    `exports`: mart → {"CSV": path, "XLSX": path} of its exported files, linked from the
    page by a path relative to `folder` (files that do not exist are not linked).
    """
    built_at = built_at or datetime.now(UTC)
    today = today or built_at.date()
    folder.mkdir(parents=True, exist_ok=True)
    plotly_js = folder / PLOTLY_JS
    bundle = get_plotlyjs()
    if not plotly_js.exists() or plotly_js.read_text(encoding="utf-8") != bundle:
        _replace(plotly_js, bundle)

    tenants = marts.tenants()
    names: dict[str, str] = {}
    for number, tenant in enumerate(tenants):
        names[tenant] = page_name(tenant, number == 0, set(names.values()))
    links = _export_links(exports or {}, folder)
    pages = []
    for tenant in tenants:
        path = folder / names[tenant]
        text, page = render_page(
            marts.of_tenant(tenant),
            tenant,
            path=path,
            others=names,
            exports=links,
            built_at=built_at,
            today=today,
        )
        _replace(path, text)
        pages.append(page)
    # Pages of merchants no longer in the marts would show stale figures: remove them.
    for stale in folder.glob("tenant-*.html"):
        if stale.name not in names.values():
            stale.unlink()
    built = Built(folder, folder / INDEX, plotly_js, built_at, pages)
    _replace(
        folder / BUILD_FILE,
        json.dumps(
            {
                "built_at": built_at.isoformat(timespec="seconds"),
                "plotly": plotly.__version__,
                "pages": {p.tenant: p.path.name for p in pages},
            },
            indent=2,
        )
        + "\n",
    )
    return built


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _export_links(
    exports: Mapping[str, Mapping[str, Path]], folder: Path
) -> dict[str, dict[str, str]]:
    links: dict[str, dict[str, str]] = {}
    for mart, files in exports.items():
        for kind, path in files.items():
            if Path(path).exists():
                relative = Path(os.path.relpath(Path(path).resolve(), folder.resolve()))
                links.setdefault(mart, {})[kind] = quote(relative.as_posix())
    return links


# --- the page ------------------------------------------------------------------------------


def render_page(
    marts: Marts,
    tenant: str,
    path: Path,
    others: Mapping[str, str],
    exports: Mapping[str, Mapping[str, str]],
    built_at: datetime,
    today: date,
) -> tuple[str, Page]:
    """One merchant's page (the marts already of that merchant) and what it holds."""
    first, last = views.data_span(marts, today)
    choices = views.periods(first, last)
    default = views.default_period(choices)
    currency = views.main_currency(marts.sales_daily)
    has_data = not (marts.sales_daily.empty and marts.order_funnel.empty)

    period_data: dict[str, Any] = {}
    panes: dict[str, list[str]] = {"kpis": [], "channels": [], "stockouts": [], "carriers": []}
    drawn: list[str] = []
    for period in choices:
        figures = {
            "sales": views.sales_figure(marts, period, currency),
            "top_skus": views.top_skus_figure(marts, period, currency),
            "questions": views.questions_figure(marts, period),
            "shipping": views.shipping_figure(marts, period),
        }
        period_data[period.key] = {
            "label": period.label,
            "range": _range_text(period),
            "figures": {name: _figure_json(f) for name, f in figures.items()},
        }
        if period.key == default.key:
            drawn = [name for name, f in figures.items() if f is not None]
        hidden = period.key != default.key
        panes["kpis"].append(_pane(period, hidden, _kpi_cards(marts, period, currency)))
        panes["channels"].append(_pane(period, hidden, _channels_table(marts, period, currency)))
        panes["stockouts"].append(_pane(period, hidden, _stockouts_table(marts, period)))
        panes["carriers"].append(_pane(period, hidden, _carriers_table(marts, period)))
    fixed = {"cover": views.cover_figure(marts)}
    drawn += [name for name, f in fixed.items() if f is not None]
    data = {
        "default": default.key,
        "periods": period_data,
        "fixed": {name: _figure_json(f) for name, f in fixed.items()},
        "empty": {**PERIOD_CHARTS, **FIXED_CHARTS},
    }
    as_of = _as_of(marts)
    body = TEMPLATE.format(
        title=html.escape(f"Merchant dashboard · {tenant}"),
        tenant=html.escape(tenant),
        plotly_js=PLOTLY_JS,
        tenants_nav=_tenants_nav(tenant, others),
        data_through=fmt.day(last) if has_data else fmt.MISSING,
        built_at=fmt.instant(built_at.astimezone(UTC).replace(tzinfo=None)),
        currency=html.escape(currency),
        period_options="".join(
            f'<option value="{p.key}"{" selected" if p.key == default.key else ""}>'
            f"{html.escape(p.label)}</option>"
            for p in choices
        ),
        period_range=html.escape(_range_text(default)),
        no_data="" if has_data else NO_DATA,
        kpis="".join(panes["kpis"]),
        channels="".join(panes["channels"]),
        stockouts="".join(panes["stockouts"]),
        carriers="".join(panes["carriers"]),
        as_of=fmt.instant(as_of) if as_of is not None else fmt.MISSING,
        out_of_stock=_out_of_stock_table(marts),
        running_low=_running_low_table(marts),
        listings=_listings_table(marts),
        downloads=_downloads(exports),
        data=_script_json(data),
        script=SCRIPT,
        style=STYLE,
    )
    return body, Page(tenant, path, choices, default.key, drawn)


def _figure_json(figure: go.Figure | None) -> dict[str, Any] | None:
    if figure is None:
        return None
    as_json: dict[str, Any] = json.loads(figure.to_json())
    return {"data": as_json.get("data", []), "layout": as_json.get("layout", {})}


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no `</script>` can end it early)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _range_text(period: views.Period) -> str:
    span = f"{fmt.day(period.start)} – {fmt.day(period.end)}"
    if period.weeks is None:
        return f"{span} ({period.days} days)"
    weeks = "1 week" if period.weeks == 1 else f"{period.weeks} weeks"
    partial = period.end.weekday() != 6
    return f"{span} ({weeks}{', the last one to date' if partial else ''})"


def _as_of(marts: Marts) -> datetime | None:
    stamps = marts.stock_coverage["as_of"].dropna()
    return None if stamps.empty else stamps.max().to_pydatetime()


def _pane(period: views.Period, hidden: bool, content: str) -> str:
    return (
        f'<div class="pane" data-period="{period.key}"{" hidden" if hidden else ""}>{content}</div>'
    )


def _tenants_nav(tenant: str, others: Mapping[str, str]) -> str:
    if len(others) < 2:
        return ""
    current = ' aria-current="page"'
    links = "".join(
        f'<a href="{html.escape(name)}"{current if t == tenant else ""}>{html.escape(t)}</a>'
        for t, name in others.items()
    )
    return f'<nav class="tenants" aria-label="Merchants">{links}</nav>'


# --- KPIs ----------------------------------------------------------------------------------


def _card(label: str, value: str, note: str = "", kind: str = "", name: str = "") -> str:
    classes = " ".join(c for c in ("kpi", f"kpi--{kind}" if kind else "") if c)
    return (
        f'<article class="{classes}" data-kpi="{name}">'
        f'<h3>{html.escape(label)}</h3><p class="value">{html.escape(value)}</p>'
        f'<p class="note">{note}</p></article>'
    )


def _trend(current: float, previous: float | None, period: views.Period) -> str:
    if previous is None:
        return ""
    moved = fmt.change(current, previous)
    if moved == fmt.MISSING:
        return ""
    direction = "up" if current > previous else "down" if current < previous else "flat"
    arrow = {"up": "▲", "down": "▼", "flat": "■"}[direction]
    return (
        f'<span class="trend trend--{direction}">{arrow} {html.escape(moved)}</span> '
        f"vs the previous {html.escape(_weeks_text(period))}"
    )


def _weeks_text(period: views.Period) -> str:
    return "week" if period.weeks == 1 else f"{period.weeks} weeks"


def _kpi_cards(marts: Marts, period: views.Period, currency: str) -> str:
    now = views.kpis(marts, period, currency)
    earlier = period.previous()
    before = (
        views.kpis(marts, earlier, currency)
        if earlier is not None and views.has_history(marts, earlier)
        else None
    )

    def was(pick: Callable[[views.Kpis], float]) -> float | None:
        return None if before is None else pick(before)

    money = lambda v: fmt.money(v, currency)  # noqa: E731
    final = views.fees_final_through(marts, period)
    if final == period.end:
        settled = "every sale settled: final"
    elif final is None:
        settled = "estimated: fees not final yet"
    else:
        settled = f"final up to {fmt.day(final)}, estimated after"
    out = views.out_of_stock(marts)
    low = views.running_low(marts)
    cards = [
        _card(
            "Gross sales",
            money(now.gross),
            _trend(now.gross, was(lambda k: k.gross), period),
            name="gross",
        ),
        _card(
            "Net revenue",
            money(now.net),
            f"{fmt.share(now.net_share)} of gross · {html.escape(settled)}",
            name="net",
        ),
        _card(
            "Paid orders",
            fmt.number(now.orders_paid),
            # No trend: the funnel is weekly, so a previous period of the same weekdays
            # would count whole weeks against the current one, still running.
            f"of {fmt.number(now.orders_placed)} placed · average ticket "
            f"{html.escape(money(now.average_ticket))}",
            name="orders",
        ),
        _card(
            "Units sold",
            fmt.number(now.units),
            _trend(now.units, was(lambda k: k.units), period),
            name="units",
        ),
        _card(
            "Marketplace fees",
            fmt.share(now.fee_share),
            f"{html.escape(money(now.fees))} of gross sales (known so far)",
            name="fee_share",
        ),
        _card(
            "Cancellation rate",
            fmt.share(now.cancellation_rate),
            f"{fmt.number(now.orders_cancelled)} cancelled · returns "
            f"{fmt.share(now.return_rate)} of paid",
            kind="alert" if (now.cancellation_rate or 0) > 0.1 else "",
            name="cancellation_rate",
        ),
        _card(
            "Questions answered",
            fmt.share(now.answered_share),
            f"{fmt.number(now.answered)} of {fmt.number(now.answerable)} (Mercado Livre) · "
            f"mean answer {html.escape(fmt.duration_minutes(now.mean_response_minutes))}",
            kind="alert" if now.answered_share is not None and now.answered_share < 0.9 else "",
            name="answered_share",
        ),
        _card(
            "Shipped late",
            fmt.share(now.late_share),
            f"{fmt.number(now.shipped_late)} of "
            f"{fmt.number(now.shipped_on_time + now.shipped_late)} packages with a deadline",
            kind="alert" if (now.late_share or 0) > 0.1 else "",
            name="late_share",
        ),
        _card(
            "Out of stock now",
            f"{fmt.number(len(out))} SKU{'' if len(out) == 1 else 's'}",
            f"{fmt.number(len(low))} more run out within a week",
            kind="alert" if len(out) else "",
            name="out_of_stock",
        ),
    ]
    note = ""
    if now.other_currency_rows:
        note = (
            f'<p class="caveat">{fmt.number(now.other_currency_rows)} sales rows in another '
            f"currency than {html.escape(currency)} are left out of the money figures.</p>"
        )
    return f'<div class="kpis">{"".join(cards)}</div>{note}'


# --- tables --------------------------------------------------------------------------------


def _table(
    caption: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Iterable[int] = (),
    empty: str = "Nothing to show.",
) -> str:
    numbers = set(numeric)
    body = [
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numbers else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    ]
    if not body:
        return f'<p class="empty">{html.escape(empty)}</p>'
    head = "".join(
        f'<th scope="col" class="num">{html.escape(h)}</th>'
        if i in numbers
        else f'<th scope="col">{html.escape(h)}</th>'
        for i, h in enumerate(headers)
    )
    return (
        f'<div class="table-wrap"><table><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _text(value: Any) -> str:
    return fmt.MISSING if value is None or pd.isna(value) else html.escape(str(value))


def _channels_table(marts: Marts, period: views.Period, currency: str) -> str:
    table = views.channels(marts, period, currency)
    rows = [
        [
            html.escape(views.marketplace_name(str(marketplace))),
            fmt.money(r["gross_amount"], currency),
            fmt.money(r["net_revenue"], currency),
            fmt.number(r["units"]),
            fmt.number(r["orders_paid"]),
            fmt.share(r["fee_share"]),
            fmt.share(r["cancellation_rate"]),
            fmt.share(r["late_share"]),
        ]
        for marketplace, r in table.iterrows()
    ]
    return _table(
        "Per channel over the period",
        ["Channel", "Gross", "Net", "Units", "Paid orders", "Fees", "Cancelled", "Shipped late"],
        rows,
        numeric=range(1, 8),
        empty="No sale in this period.",
    )


def _carriers_table(marts: Marts, period: views.Period) -> str:
    table = views.carriers(marts, period)
    rows = [
        [
            html.escape(views.marketplace_name(str(r["marketplace"]))),
            html.escape(str(r["carrier"])),
            fmt.number(r["packages"]),
            fmt.number(r["shipped_late"]),
            fmt.share(r["late_share"]),
            fmt.hours(r["avg_hours_to_ship"]),
            fmt.number(r["overdue_unshipped"]),
        ]
        for _, r in table.iterrows()
    ]
    return _table(
        "Per carrier over the period (overdue: still waiting past the deadline now)",
        ["Channel", "Carrier", "Packages", "Late", "Late share", "Mean time to ship", "Overdue"],
        rows,
        numeric=range(2, 7),
        empty="No package in this period.",
    )


def _out_of_stock_table(marts: Marts) -> str:
    rows = [
        [
            f"<code>{_text(r['sku'])}</code>",
            _text(r["product_name"]),
            fmt.instant(r["last_stockout_started_at"]),
            fmt.number(r["units_sold_30d"]),
            fmt.number(r["listings_snapshotted"]),
        ]
        for _, r in views.out_of_stock(marts).iterrows()
    ]
    return _table(
        "Out of stock now: no channel offers a unit",
        ["SKU", "Product", "Since", "Sold in 30 days", "Listings"],
        rows,
        numeric=(3, 4),
        empty="No SKU is out of stock.",
    )


def _running_low_table(marts: Marts) -> str:
    rows = [
        [
            f"<code>{_text(r['sku'])}</code>",
            _text(r["product_name"]),
            fmt.number(r["allocatable"]),
            fmt.number(r["units_per_day_30d"], 2),
            fmt.number(r["days_of_cover_30d"], 1),
        ]
        for _, r in views.running_low(marts).iterrows()
    ]
    return _table(
        "Running out within a week at the last 30 days' rate",
        ["SKU", "Product", "Allocatable", "Units per day", "Days of cover"],
        rows,
        numeric=(2, 3, 4),
        empty="No SKU in stock runs out within a week.",
    )


def _stockouts_table(marts: Marts, period: views.Period) -> str:
    found = views.stockouts(marts, period)
    shown = found.head(20)
    rows = [
        [
            f"<code>{_text(r['sku'])}</code>",
            _text(r["product_name"]),
            fmt.instant(r["started_at"]),
            "ongoing" if r["is_ongoing"] else fmt.instant(r["ended_at"]),
            fmt.hours(r["hours_out"]),
        ]
        for _, r in shown.iterrows()
    ]
    more = len(found) - len(shown)
    caption = "Stock-outs during the period" + (
        f" (the latest 20 of {fmt.number(len(found))}; every one in the stock-outs file)"
        if more > 0
        else ""
    )
    return _table(
        caption,
        ["SKU", "Product", "Began", "Ended", "Out for"],
        rows,
        numeric=(4,),
        empty="No stock-out during this period.",
    )


def _listings_table(marts: Marts) -> str:
    table = views.listings(marts)
    rows = [
        [
            html.escape(views.marketplace_name(str(marketplace))),
            fmt.number(r["listings"]),
            fmt.number(r["is_unlinked"]),
            fmt.number(r["is_not_ready"]),
            fmt.number(r["is_suppressed"]),
            fmt.number(r["is_paused"]),
            fmt.number(r["priced_apart"]),
            fmt.number(r["needs_attention"]),
        ]
        for marketplace, r in table.iterrows()
    ]
    return _table(
        "Listings per channel, now",
        [
            "Channel",
            "Listings",
            "Unlinked",
            "Not ready",
            "Suppressed",
            "Paused",
            "Priced ≥ 10% apart",
            "Need attention",
        ],
        rows,
        numeric=range(1, 8),
        empty="No listing read yet.",
    )


def _downloads(exports: Mapping[str, Mapping[str, str]]) -> str:
    if not exports:
        return (
            '<p class="empty">The marts were not exported yet: materialize '
            "<code>mart_exports</code> (it follows the marts).</p>"
        )
    rows = []
    for mart, description in EXPORTS.items():
        files = exports.get(mart, {})
        links = " · ".join(
            f'<a href="{html.escape(href)}" download>{html.escape(kind)}</a>'
            for kind, href in sorted(files.items())
        )
        rows.append([f"<code>{mart}</code>", html.escape(description), links or fmt.MISSING])
    return _table(
        "Every mart, whole (every merchant), as built with this page",
        ["Mart", "What it holds", "Files"],
        rows,
    )


NO_DATA = (
    '<p class="notice">The marts hold no sale and no order yet: connect a store and let the '
    "orders land, then the marts and this page rebuild by themselves.</p>"
)

STYLE = """
:root {
  --ink: #111827; --muted: #4B5563; --faint: #6B7280; --line: #E5E7EB; --bg: #F6F7F9;
  --card: #FFFFFF; --accent: #1D4ED8; --alert: #B91C1C; --good: #047857;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", sans-serif;
}
a { color: var(--accent); }
code { font: 0.92em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.wrap { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
header.top { background: var(--card); border-bottom: 1px solid var(--line); }
header.top .wrap {
  display: flex; flex-wrap: wrap; gap: 16px 32px; align-items: flex-end;
  justify-content: space-between; padding-top: 20px; padding-bottom: 16px;
}
.eyebrow { margin: 0; color: var(--faint); font-size: 13px; letter-spacing: .04em;
  text-transform: uppercase; }
h1 { margin: 2px 0 4px; font-size: 26px; line-height: 1.2; }
.meta { margin: 0; color: var(--muted); font-size: 14px; }
.period { display: flex; flex-direction: column; gap: 4px; min-width: 260px; }
.period label { font-size: 13px; color: var(--faint); }
.period select {
  font: inherit; padding: 6px 10px; border: 1px solid #CBD5E1; border-radius: 8px;
  background: #fff; color: var(--ink);
}
.period .range { margin: 0; font-size: 13px; color: var(--muted); }
nav.tenants, nav.toc { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 14px; }
nav.tenants { padding: 10px 0 0; }
nav.tenants a[aria-current] { font-weight: 600; color: var(--ink); text-decoration: none; }
nav.toc { padding: 12px 0 4px; }
nav.toc a { color: var(--muted); text-decoration: none; }
nav.toc a:hover { color: var(--accent); text-decoration: underline; }
main { padding-bottom: 40px; }
section { margin-top: 28px; }
h2 { font-size: 19px; margin: 0 0 4px; }
.lede { margin: 0 0 12px; color: var(--muted); max-width: 75ch; }
.kpis {
  display: grid; gap: 12px; margin-top: 16px;
  grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
}
.kpi {
  background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 14px 16px;
}
.kpi h3 { margin: 0; font-size: 13px; font-weight: 500; color: var(--faint); }
.kpi .value {
  margin: 4px 0 2px; font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums;
  white-space: nowrap;
}
.kpi .note { margin: 0; font-size: 13px; color: var(--muted); }
.kpi--alert { border-color: #FCA5A5; box-shadow: inset 3px 0 0 var(--alert); }
.kpi--alert .value { color: var(--alert); }
.trend { font-weight: 600; white-space: nowrap; }
.trend--up { color: var(--good); }
.trend--down { color: var(--alert); }
.panel {
  background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 16px;
}
.chart { min-height: 300px; width: 100%; }
.chart--empty { min-height: 0; }
.grid2 { display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
.table-wrap { overflow-x: auto; margin-top: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
td code { white-space: nowrap; }
caption { text-align: left; font-weight: 600; padding: 0 0 6px; color: var(--ink); }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { font-size: 13px; font-weight: 600; color: var(--muted); background: #F9FAFB; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover { background: #F9FAFB; }
.empty { color: var(--faint); font-style: italic; margin: 8px 0; }
.notice, .caveat {
  background: #FFFBEB; border: 1px solid #FDE68A; border-radius: 10px; padding: 10px 14px;
  color: #92400E;
}
footer { color: var(--faint); font-size: 13px; border-top: 1px solid var(--line);
  padding: 16px 0 32px; }
@media (max-width: 640px) {
  .grid2 { grid-template-columns: 1fr; }
  h1 { font-size: 22px; }
}
@media print {
  body { background: #fff; }
  nav, .period select { display: none; }
}
"""

SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var config = {
    displaylogo: false, responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"]
  };
  var select = document.getElementById("period");
  var range = document.getElementById("period-range");
  var charts = Array.prototype.slice.call(document.querySelectorAll("[data-chart]"));

  function empty(node, name) {
    if (window.Plotly) { window.Plotly.purge(node); }
    node.classList.add("chart--empty");
    node.innerHTML = "";
    var message = document.createElement("p");
    message.className = "empty";
    message.textContent = data.empty[name];
    node.appendChild(message);
    return Promise.resolve();
  }

  function draw(node, name, figure) {
    if (!figure) { return empty(node, name); }
    if (node.classList.contains("chart--empty")) {
      node.classList.remove("chart--empty");
      node.innerHTML = "";
    }
    return window.Plotly.react(node, figure.data, figure.layout, config);
  }

  function show(period) {
    Array.prototype.forEach.call(document.querySelectorAll(".pane[data-period]"), function (p) {
      p.hidden = p.getAttribute("data-period") !== period;
    });
    range.textContent = data.periods[period].range;
    document.body.setAttribute("data-period", period);
    return Promise.all(charts.map(function (node) {
      var name = node.getAttribute("data-chart");
      if (Object.prototype.hasOwnProperty.call(data.fixed, name)) {
        return node.hasAttribute("data-drawn") ? Promise.resolve()
          : draw(node, name, data.fixed[name]).then(function () {
              node.setAttribute("data-drawn", "");
            });
      }
      return draw(node, name, data.periods[period].figures[name]);
    }));
  }

  function ready() { document.body.setAttribute("data-ready", "true"); }

  if (!window.Plotly) {
    var warning = document.getElementById("no-plotly");
    warning.hidden = false;
    return;
  }
  var wanted = /period=([\\w-]+)/.exec(window.location.hash);
  var start = wanted && data.periods[wanted[1]] ? wanted[1] : data["default"];
  select.value = start;
  select.addEventListener("change", function () {
    document.body.setAttribute("data-ready", "false");
    try { window.history.replaceState(null, "", "#period=" + select.value); } catch (e) {}
    show(select.value).then(ready);
  });
  show(start).then(ready);
})();
"""

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="SyncHub pipelines: merchant_dashboard">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{style}</style>
<script src="{plotly_js}"></script>
</head>
<body data-ready="false">
<header class="top">
  <div class="wrap">
    <div>
      <p class="eyebrow">SyncHub · merchant dashboard</p>
      <h1>{tenant}</h1>
      <p class="meta">Data through <strong>{data_through}</strong> · built {built_at} ·
        money in {currency}</p>
    </div>
    <form class="period" onsubmit="return false">
      <label for="period">Period</label>
      <select id="period" name="period">{period_options}</select>
      <p class="range" id="period-range">{period_range}</p>
    </form>
  </div>
</header>
<div class="wrap">
  {tenants_nav}
  <nav class="toc" aria-label="Sections">
    <a href="#kpis">KPIs</a><a href="#sales">Sales</a><a href="#top-skus">Top SKUs</a>
    <a href="#stock">Stock</a><a href="#questions">Questions</a>
    <a href="#shipping">Shipping</a><a href="#listings">Listings</a>
    <a href="#downloads">Downloads</a>
  </nav>
  <p class="notice" id="no-plotly" hidden>The charts need <code>{plotly_js}</code> beside this
    page; rebuild the page (asset <code>merchant_dashboard</code>) to write it again.</p>
  {no_data}
<main>
  <section id="kpis" aria-label="KPIs of the period">{kpis}</section>

  <section id="sales">
    <h2>Sales per day and channel</h2>
    <p class="lede">What buyers paid (gross) and what stays with you after marketplace fees,
      your shipping cost and refunds (net: the payout once settled, an estimate before), by
      the day the order was placed in the store's time zone. Paid, shipped, delivered and
      returned orders count; pending and cancelled ones do not.</p>
    <div class="panel">
      <div class="chart" id="chart-sales" data-chart="sales" role="figure"
        aria-label="Sales per day and channel"></div>
      {channels}
    </div>
  </section>

  <section id="top-skus">
    <h2>Top SKUs</h2>
    <p class="lede">The ten SKUs with the most units sold in the period, across channels.
      Sales of listings linked to no SKU are not in it (see Listings).</p>
    <div class="panel">
      <div class="chart" id="chart-top_skus" data-chart="top_skus" role="figure"
        aria-label="Top SKUs by units sold"></div>
    </div>
  </section>

  <section id="stock">
    <h2>Stock: days of cover and stock-outs</h2>
    <p class="lede">Now ({as_of}): how many days each SKU lasts at the pace of the last 30
      days (allocatable ÷ units per day), the shortest first; red is out of stock, amber runs
      out within a week.</p>
    <div class="panel">
      <div class="chart" id="chart-cover" data-chart="cover" role="figure"
        aria-label="Days of cover per SKU"></div>
      <div class="grid2">{out_of_stock}{running_low}</div>
      {stockouts}
    </div>
  </section>

  <section id="questions">
    <h2>Questions (Mercado Livre)</h2>
    <p class="lede">Buyers' questions per day, answered or not, and how long the slowest
      tenth waited for an answer (p90, in hours).</p>
    <div class="panel">
      <div class="chart" id="chart-questions" data-chart="questions" role="figure"
        aria-label="Questions per day and response time"></div>
    </div>
  </section>

  <section id="shipping">
    <h2>Late shipments</h2>
    <p class="lede">Share of packages that left after the marketplace's handling deadline,
      per week (orders of the week) and channel.</p>
    <div class="panel">
      <div class="chart" id="chart-shipping" data-chart="shipping" role="figure"
        aria-label="Late shipments per week and channel"></div>
      {carriers}
    </div>
  </section>

  <section id="listings">
    <h2>Listings needing attention</h2>
    <p class="lede">Unlinked listings sell stock nobody counts; not ready, suppressed or paused
      ones sell nothing; a price far apart from the other channels may be a mistake.</p>
    <div class="panel">{listings}</div>
  </section>

  <section id="downloads">
    <h2>Downloads</h2>
    <p class="lede">Every mart as CSV (UTF-8, "." as decimal point) and as an Excel workbook.
    </p>
    <div class="panel">{downloads}</div>
  </section>
</main>
<footer>
  Built by the <code>merchant_dashboard</code> asset from the marts (mart_sales_daily,
  mart_order_funnel, mart_stock_coverage, mart_stockout_periods, mart_listing_health,
  mart_questions_sla, mart_shipping_sla); every column is described in docs/marts.md.
  Periods are whole weeks, Monday to Sunday, up to the last day with data.
</footer>
</div>
<script type="application/json" id="dashboard-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""
