"""The demo's publishing step: the catalog's unlisted, ready products published (plan,
then real), a price rule applied, an invoice and a tracking sent, a question answered —
each result read back from the marketplace's API. A part a marketplace cannot do yet is
reported and skipped, so the demo always completes.

The demo merchant keeps its catalog in Bling, whose reads here carry no pictures nor
descriptions (Bling's product media is not read yet): the step takes them from the demo
catalog file (`demo/catalog.csv`, the same products) for the products that lack them.
Shopee and TikTok download each picture; offline, SYNCHUB_PICTURE_MIRROR (set here when
unset) sends those downloads to the sandbox's picture host (docs/publishing.md). Each
invoice goes with an NF-e XML document written under the data directory (Amazon and TikTok
take the document itself), and a tracking only for the orders the seller ships with its
own carrier.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines import settings
from synchub_pipelines.defs.catalog.catalog_file import load_catalog
from synchub_pipelines.defs.publishing import answers, fulfilment, listings, prices
from synchub_pipelines.defs.publishing.common import ClientFactory, RunScope
from synchub_pipelines.defs.publishing.drafts import LOOPBACK_HOSTS, PICTURE_MIRROR_ENV
from synchub_pipelines.defs.publishing.rules import PriceRule, RuleBook
from synchub_pipelines.marketplaces.errors import MarketplaceError
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.schema_publishing import fulfilment_updates, question_answers

Say = Callable[[str], None]

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "demo" / "catalog.csv"
CATALOG_PICTURES = "https://http2.mlstatic.com/"
# The shipments' logistic type of the orders a seller ships with its own carrier, where
# the marketplace takes the seller's tracking (Shopee's "Entrega pelo Vendedor" channel,
# TikTok's SELLER shipping); Amazon: every seller-fulfilled (MFN) order.
OWN_CARRIER = {"shopee": {"90021"}, "tiktok": {"SELLER"}}


def nfe_key(number: int, series: int = 1, cnpj: str = "12345678000195") -> str:
    """An NF-e access key (model 55) with its mod-11 check digit, for the demo's invoices."""
    body = f"35{datetime.now(UTC):%y%m}{cnpj}55{series:03d}{number:09d}1{number:08d}"
    weights = [2, 3, 4, 5, 6, 7, 8, 9]
    total = sum(int(d) * weights[i % 8] for i, d in enumerate(reversed(body)))
    check = 11 - total % 11
    return body + str(0 if check >= 10 else check)


def _tally(outcomes: list[Any]) -> str:
    counts = Counter(o[1].status for o in outcomes)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing"


def nfe_xml(key: str, number: int, issued_at: datetime) -> str:
    """The demo's NF-e document for an access key (what the merchant's ERP would keep)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<nfeProc xmlns="http://www.portalfiscal.inf.br/nfe" versao="4.00"><NFe>'
        f'<infNFe Id="NFe{key}" versao="4.00"><ide><cUF>35</cUF><mod>55</mod>'
        f"<serie>1</serie><nNF>{number}</nNF><dhEmi>{issued_at.isoformat()}</dhEmi></ide>"
        "</infNFe></NFe>"
        f"<protNFe><infProt><chNFe>{key}</chNFe><cStat>100</cStat></infProt></protNFe>"
        "</nfeProc>"
    )


def sandbox_picture_mirror() -> str | None:
    """The sandbox's picture host as SYNCHUB_PICTURE_MIRROR, when the demo runs against a
    loopback sandbox (its API URLs are `<sandbox>/<marketplace>`)."""
    api = os.environ.get("SYNCHUB_SHOPEE_API_URL", "").rstrip("/")
    base = api.removesuffix("/shopee")
    parts = urlsplit(base)
    if base == api or parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        return None
    return f"{CATALOG_PICTURES}={base}/_sandbox/pictures/"


def publish_demo(engine: Engine, client_for: ClientFactory, say: Say = print) -> None:
    run_id = f"demo-{datetime.now(UTC):%Y%m%d%H%M%S}"
    now = datetime.now(UTC)
    say("publishing:")
    if not os.environ.get(PICTURE_MIRROR_ENV) and (mirror := sandbox_picture_mirror()):
        os.environ[PICTURE_MIRROR_ENV] = mirror
        say(f"  ✓ pictures for Shopee and TikTok fetched from the sandbox ({PICTURE_MIRROR_ENV})")
    for part in (_content, _listings, _prices, _fulfilment, _answers):
        try:
            part(engine, client_for, run_id, now, say)
        except (MarketplaceError, ValueError, LookupError, sa.exc.SQLAlchemyError) as exc:
            say(f"  ! {part.__name__.strip('_')}: {exc}"[:300])


def _content(
    engine: Engine, client_for: ClientFactory, run_id: str, now: datetime, say: Say
) -> None:
    """Pictures and descriptions from the demo catalog file for the products without."""
    catalog = load_catalog(DEMO_CATALOG)
    filled = 0
    with engine.begin() as conn:
        for product in catalog.products:
            if not product.images and not product.description:
                continue
            filled += conn.execute(
                sa.text(
                    "UPDATE central_products SET images = COALESCE(images, :images), "
                    "description = COALESCE(description, :description) "
                    "WHERE tenant = 'default' AND sku = :sku "
                    "AND (images IS NULL OR description IS NULL)"
                ),
                {
                    "sku": product.sku,
                    "images": "|".join(product.images) or None,
                    "description": product.description,
                },
            ).rowcount
    say(f"  ✓ pictures and descriptions of {filled} product(s) from {DEMO_CATALOG.name}")


def _listings(
    engine: Engine, client_for: ClientFactory, run_id: str, now: datetime, say: Say
) -> None:
    plan = listings.run_listings(
        engine,
        client_for,
        RuleBook(),
        listings.ListingOptions(dry_run=True),
        run_id + "-plan",
        0,
        now,
    )
    creates = [w for w in plan.plan.writes if w.action == "create"]
    say(
        f"  ✓ listing plan: {len(creates)} product(s) ready and not listed "
        f"({len(plan.plan.unpublishable)} not ready), audited as planned"
    )
    real = listings.run_listings(
        engine, client_for, RuleBook(), listings.ListingOptions(dry_run=False), run_id, 0, now
    )
    by_store: dict[str, Counter[str]] = {}
    for w, o, _ in real.outcomes:
        by_store.setdefault(w.store_id, Counter())[o.status] += 1
    for store_id, counts in sorted(by_store.items()):
        say(f"  ✓ listings on {store_id}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for w, o in real.problems[:4]:
        say(f"    {w.store_id} {w.seller_sku}: [{o.code}] {(o.message or '')[:100]}")
    first: dict[str, Any] = {}
    for w, o, _ in real.outcomes:
        if o.ok and w.action == "create" and w.draft is not None:
            first.setdefault(w.store_id, w)
    for store_id, w in sorted(first.items()):
        # Amazon lists each variation under its own SKU: read back by seller SKU.
        skus = {v.seller_sku for v in w.draft.variations} or {w.seller_sku}
        client = client_for(store_id)
        try:
            seen = [
                x for page in client.iter_listings() for x in page.records if x.seller_sku in skus
            ]
        finally:
            client.close()
        say(
            f"  ✓ read back {store_id} {w.seller_sku}: {len(seen)} variation(s), "
            f"{seen[0].title!r}, {seen[0].price} {seen[0].currency}"
            if seen
            else f"  ! {store_id} {w.seller_sku} not in the listing reads yet"
        )


def _prices(
    engine: Engine, client_for: ClientFactory, run_id: str, now: datetime, say: Say
) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT marketplace, MIN(store_id) AS store_id FROM stores "
                "WHERE status = 'active' GROUP BY marketplace ORDER BY marketplace"
            )
        ).all()
    if not rows:
        return
    # A markup rule with prices ending in ,90 on one store of each marketplace; the
    # default ±20% damage limit stays on (a larger move is refused, and said so).
    rule = PriceRule(markup=Decimal("1.2"), rounding="0.90")
    rules = RuleBook(stores={r.store_id: rule for r in rows})
    scope = RunScope(stores=frozenset(r.store_id for r in rows))
    dry = prices.run_prices(
        engine, client_for, rules, prices.PriceOptions(scope=scope), run_id + "-plan", 0, now
    )
    say(
        f"  ✓ price plan on {len(rows)} store(s): "
        f"{sum(1 for p in dry.plan if p.needs_write)} change(s): " + _tally(dry.outcomes)
    )
    real = prices.run_prices(
        engine, client_for, rules, prices.PriceOptions(dry_run=False, scope=scope), run_id, 0, now
    )
    by_store: dict[str, list[Any]] = {}
    for p, o in real.outcomes:
        by_store.setdefault(p.store_id, []).append((p, o))
    for store_id, outcomes in sorted(by_store.items()):
        say(f"  ✓ prices written on {store_id}: {_tally(outcomes)}")
        done = [p for p, o in outcomes if o.ok]
        if not done:
            continue
        p = done[0]
        client = client_for(store_id)
        try:
            seen = {
                x.price
                for page in client.iter_listings()
                for x in page.records
                if (x.listing_id, x.variation_id) == (p.listing_id, p.variation_id)
                or (store_id.startswith("amazon") and x.seller_sku == p.sku)
            }
        finally:
            client.close()
        say(
            f"    read back {p.sku} on {p.listing_id}: price {', '.join(map(str, seen))} "
            f"(planned {p.target})"
        )


def _fulfilment(
    engine: Engine, client_for: ClientFactory, run_id: str, now: datetime, say: Say
) -> None:
    """One paid, seller-shipped order per store: its invoice (key + XML), and its tracking
    where the seller ships it with its own carrier."""
    with engine.connect() as conn:
        orders = conn.execute(
            sa.text(
                "SELECT o.store_id, o.order_id, s.marketplace, o.created_at, "
                "MAX(h.logistic_type) AS logistic_type, COUNT(*) AS packages FROM orders o "
                "JOIN stores s ON s.store_id = o.store_id "
                "JOIN shipments h ON h.store_id = o.store_id AND h.order_id = o.order_id "
                "WHERE o.status = 'paid' AND h.logistic_mode = 'seller' "
                "GROUP BY o.store_id, o.order_id, s.marketplace, o.created_at "
                "ORDER BY o.store_id, o.created_at DESC"
            )
        ).all()
    chosen: dict[str, Any] = {}
    for r in orders:
        own = OWN_CARRIER.get(r.marketplace)
        # A tracking without its package is for one-package orders only (the fulfilment
        # input names no package).
        ships_itself = r.packages == 1 and (
            r.marketplace == "amazon" or (own is not None and r.logistic_type in own)
        )
        best = chosen.get(r.store_id)
        # Prefer an order the seller ships itself: it takes the tracking too.
        if best is None or (ships_itself and not best[1]):
            chosen[r.store_id] = (r, ships_itself)
    if not chosen:
        say("  - fulfilment: no paid order waiting to ship")
        return
    folder = settings.data_dir() / "nfe"
    folder.mkdir(parents=True, exist_ok=True)
    rows = upsert.Batch.for_table(fulfilment_updates)
    for n, (r, ships_itself) in enumerate(sorted(chosen.values()), start=1):
        number = int(f"{now:%H%M}{n:02d}")
        key = nfe_key(number)
        # Issued when the order was paid: an NF-e is never dated after its upload.
        paid_at = r.created_at
        issued = datetime.fromisoformat(paid_at) if isinstance(paid_at, str) else paid_at
        issued = issued if issued.tzinfo else issued.replace(tzinfo=UTC)
        xml = folder / f"NFe{key}.xml"
        xml.write_text(nfe_xml(key, number, issued), encoding="utf-8")
        rows.rows.append(
            (
                r.store_id,
                r.order_id,
                key,
                str(number),
                "1",
                issued,
                None,
                str(xml),
                "Correios" if ships_itself else None,
                f"QB{number:09d}BR" if ships_itself else None,
                None,
                "erp",
                now,
            )
        )
    upsert.write(engine, [rows])
    real = fulfilment.run_fulfilment(engine, client_for, False, RunScope(), run_id, 0, now)
    by_store: dict[str, list[Any]] = {}
    for p, o in real.outcomes:
        by_store.setdefault(p.store_id, []).append((p, o))
    for store_id, outcomes in sorted(by_store.items()):
        kinds = ", ".join(f"{p.kind} {o.status}" for p, o in outcomes)
        say(f"  ✓ fulfilment on {store_id} order {outcomes[0][0].order_id}: {kinds}")
    for p, o in real.problems[:4]:
        say(f"    {p.store_id} order {p.order_id} {p.kind}: [{o.code}] {(o.message or '')[:90]}")


def _answers(
    engine: Engine, client_for: ClientFactory, run_id: str, now: datetime, say: Say
) -> None:
    with engine.connect() as conn:
        open_ = conn.execute(
            sa.text(
                "SELECT store_id, question_id FROM questions WHERE status = 'UNANSWERED' "
                "AND NOT deleted_from_listing ORDER BY asked_at DESC LIMIT 1"
            )
        ).first()
    if open_ is None:
        say("  - answers: no open question")
        return
    rows = upsert.Batch.for_table(question_answers)
    rows.rows.append(
        (
            open_.store_id,
            open_.question_id,
            "Olá! Sim, temos a pronta entrega e enviamos em até 24 horas.",
            "table",
            now,
        )
    )
    upsert.write(engine, [rows])
    real = answers.run_answers(
        engine, client_for, answers.AnswerBook(), False, RunScope(), run_id, 0, now
    )
    say(f"  ✓ answers: {_tally(real.outcomes)}")
    with engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM questions WHERE store_id = :s AND question_id = :q"),
            {"s": open_.store_id, "q": open_.question_id},
        ).scalar()
    say(f"  ✓ read back question {open_.question_id}: {status}")
