"""Reads and writes of the enrichment tables (no Dagster here: the CLI and the assets share it).

- Every fetch is appended to `scraped_pages`; the validators of a URL's last fetch that
  carried any are what the next crawl sends, so an unchanged page answers 304 and costs
  no parse.
- `competitor_offers` gets a row only when a page's offer differs from the page's latest
  row (by fingerprint); an unchanged offer, or a 304, only moves `last_seen_at`.
- Matches: automatic rows are recomputed each run; rows a person decided are never touched
  by the matcher.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from synchub_pipelines.defs.enrichment.matching import Candidate, Decision, OfferRef, Product
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.schema import Money, UtcTimestamp
from synchub_pipelines.warehouse.schema_enrichment import (
    competitor_offers,
    enrichment_suggestions,
    offer_matches,
    price_positions,
    scrape_targets,
    scraped_pages,
)


@dataclass(frozen=True)
class TargetRow:
    site: str
    start_urls: Sequence[str]
    sitemaps: Sequence[str]
    recipe: Mapping[str, Any] | None
    page_budget: int
    delay_seconds: float
    schedule: str
    enabled: bool


@dataclass(frozen=True)
class PageRow:
    site: str
    url: str
    fetched_at: datetime
    status: int | None
    bytes: int
    etag: str | None
    last_modified: str | None
    outcome: str
    reason: str | None
    elapsed_ms: int
    content_sha256: str | None


@dataclass(frozen=True)
class OfferRow:
    """An observed offer, as stored (see `competitor_offers`)."""

    site: str
    url: str
    fetched_at: datetime
    title: str
    brand: str | None
    gtin: str | None
    site_sku: str | None
    seller: str | None
    price: Decimal
    list_price: Decimal | None
    currency: str
    availability: str
    installments_count: int | None
    installment_amount: Decimal | None
    images: tuple[str, ...]
    attributes: Mapping[str, str]
    description: str | None
    extracted_by: str

    def fingerprint(self) -> str:
        content = {
            "title": self.title,
            "brand": self.brand,
            "gtin": self.gtin,
            "site_sku": self.site_sku,
            "seller": self.seller,
            "price": str(self.price),
            "list_price": None if self.list_price is None else str(self.list_price),
            "currency": self.currency,
            "availability": self.availability,
            "installments_count": self.installments_count,
            "installment_amount": (
                None if self.installment_amount is None else str(self.installment_amount)
            ),
            "images": list(self.images),
            "attributes": dict(sorted(self.attributes.items())),
            "description": self.description,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _ts(name: str) -> sa.BindParameter[datetime]:
    return sa.bindparam(name, type_=UtcTimestamp)


# --- targets ---------------------------------------------------------------------------------


def write_targets(engine: Engine, targets: Iterable[TargetRow], now: datetime) -> dict[str, int]:
    batch = upsert.Batch.for_table(scrape_targets)
    for t in targets:
        batch.rows.append(
            (
                t.site,
                json.dumps(list(t.start_urls)),
                json.dumps(list(t.sitemaps)),
                json.dumps(t.recipe, sort_keys=True) if t.recipe else None,
                t.page_budget,
                t.delay_seconds,
                t.schedule,
                t.enabled,
            )
        )
    return upsert.write(engine, [batch], now=now)


# --- pages -----------------------------------------------------------------------------------


def last_validators(engine: Engine, site: str) -> dict[str, tuple[str | None, str | None]]:
    """URL → (ETag, Last-Modified) of its latest fetch that carried any."""
    sql = sa.text(
        "SELECT p.url, p.etag, p.last_modified FROM scraped_pages p "
        "JOIN (SELECT url, MAX(fetched_at) AS at FROM scraped_pages "
        "      WHERE site = :site AND (etag IS NOT NULL OR last_modified IS NOT NULL) "
        "      GROUP BY url) latest ON latest.url = p.url AND latest.at = p.fetched_at "
        "WHERE p.site = :site"
    )
    with engine.connect() as conn:
        return {r.url: (r.etag, r.last_modified) for r in conn.execute(sql, {"site": site})}


def record_pages(conn: Connection, pages: Sequence[PageRow], run_id: str) -> int:
    """Append the fetches to the log; returns how many were written."""
    # A URL fetched twice in one instant (a redirect landing on a page fetched in the same
    # clock tick) is one fetch for the log: the last one's facts are kept.
    unique = {(p.site, p.url, p.fetched_at): {**p.__dict__, "run_id": run_id} for p in pages}
    if unique:
        conn.execute(scraped_pages.insert(), list(unique.values()))
    return len(unique)


# --- offers ----------------------------------------------------------------------------------


def latest_fingerprints(conn: Connection, site: str) -> dict[str, tuple[datetime, str]]:
    sql = sa.text(
        "SELECT o.url, o.observed_at, o.fingerprint FROM competitor_offers o "
        "JOIN (SELECT url, MAX(observed_at) AS at FROM competitor_offers WHERE site = :site "
        "      GROUP BY url) latest ON latest.url = o.url AND latest.at = o.observed_at "
        "WHERE o.site = :site"
    ).columns(observed_at=UtcTimestamp)
    return {r.url: (r.observed_at, r.fingerprint) for r in conn.execute(sql, {"site": site})}


@dataclass(frozen=True)
class OfferWrite:
    new_rows: int
    unchanged: int
    seen_again: int


def record_offers(
    conn: Connection,
    site: str,
    offers: Sequence[OfferRow],
    not_modified: Sequence[tuple[str, datetime]],
    run_id: str,
) -> OfferWrite:
    """A new row per changed offer; `last_seen_at` moved for unchanged ones and 304s."""
    latest = latest_fingerprints(conn, site)
    inserts: list[dict[str, Any]] = []
    seen: dict[str, datetime] = {}
    unchanged = 0
    for offer in offers:
        fingerprint = offer.fingerprint()
        previous = latest.get(offer.url)
        if previous is not None and previous[1] == fingerprint:
            seen[offer.url] = offer.fetched_at
            unchanged += 1
            continue
        latest[offer.url] = (offer.fetched_at, fingerprint)  # a page twice in a run: once
        inserts.append(
            {
                "site": offer.site,
                "url": offer.url,
                "observed_at": offer.fetched_at,
                "title": offer.title,
                "brand": offer.brand,
                "gtin": offer.gtin,
                "site_sku": offer.site_sku,
                "seller": offer.seller,
                "price": offer.price,
                "list_price": offer.list_price,
                "currency": offer.currency,
                "availability": offer.availability,
                "installments_count": offer.installments_count,
                "installment_amount": offer.installment_amount,
                "images": json.dumps(list(offer.images)),
                "attributes": json.dumps(
                    dict(offer.attributes), sort_keys=True, ensure_ascii=False
                ),
                "description": offer.description,
                "extracted_by": offer.extracted_by,
                "fingerprint": fingerprint,
                "last_seen_at": offer.fetched_at,
                "run_id": run_id,
            }
        )
    for url, at in not_modified:
        if url in latest:
            seen[url] = max(at, seen.get(url, at))
    if inserts:
        conn.execute(competitor_offers.insert(), inserts)
    if seen:
        conn.execute(
            sa.text(
                "UPDATE competitor_offers SET last_seen_at = :at WHERE site = :site AND url = :url "
                "AND observed_at = (SELECT MAX(observed_at) FROM competitor_offers c "
                "WHERE c.site = :site AND c.url = :url) AND last_seen_at < :at"
            ).bindparams(_ts("at")),
            [{"site": site, "url": url, "at": at} for url, at in seen.items()],
        )
    return OfferWrite(len(inserts), unchanged, len(seen) - unchanged)


CURRENT_OFFERS = (
    "SELECT o.* FROM competitor_offers o "
    "JOIN (SELECT site, url, MAX(observed_at) AS at FROM competitor_offers GROUP BY site, url) "
    "latest ON latest.site = o.site AND latest.url = o.url AND latest.at = o.observed_at"
)


def current_offers(conn: Connection) -> list[sa.Row[Any]]:
    return list(
        conn.execute(
            sa.text(CURRENT_OFFERS).columns(price=Money, list_price=Money, observed_at=UtcTimestamp)
        )
    )


# --- matches ---------------------------------------------------------------------------------


def catalog_products(conn: Connection) -> list[Product]:
    rows = conn.execute(sa.text("SELECT tenant, sku, name, brand, gtin FROM central_products"))
    return [Product(r.tenant, r.sku, r.name, r.brand, r.gtin) for r in rows]


def decisions(conn: Connection) -> list[Decision]:
    rows = conn.execute(
        sa.text(
            "SELECT tenant, site, url, sku, status FROM offer_matches "
            "WHERE status IN ('accepted', 'rejected')"
        )
    )
    return [Decision(r.tenant, r.site, r.url, r.sku, r.status) for r in rows]


def offer_refs(offers: Iterable[sa.Row[Any]]) -> list[OfferRef]:
    return [OfferRef(o.site, o.url, o.title, o.brand, o.gtin) for o in offers]


def write_matches(conn: Connection, candidates: Sequence[Candidate], now: datetime) -> int:
    """Make the automatic matches these; rows a person decided stay as they are, and an
    automatic row proposed again keeps its `matched_at`. Returns the rows changed."""
    wanted = {(c.tenant, c.site, c.url, c.sku) for c in candidates}
    stale = [
        tuple(r)
        for r in conn.execute(
            sa.text(
                "SELECT tenant, site, url, sku FROM offer_matches "
                "WHERE status IN ('auto', 'pending')"
            )
        )
        if tuple(r) not in wanted
    ]
    if stale:
        conn.execute(
            sa.text(
                "DELETE FROM offer_matches WHERE tenant = :t AND site = :site AND url = :url "
                "AND sku = :sku AND status IN ('auto', 'pending')"
            ),
            [{"t": t, "site": site, "url": url, "sku": sku} for t, site, url, sku in stale],
        )
    batch = upsert.Batch.for_table(offer_matches)
    batch.rows = [
        (c.tenant, c.site, c.url, c.sku, c.method, c.score, c.status, None, None, now)
        for c in candidates
    ]
    batch.preserve = ("matched_at",)
    # Never over a decided row (the matcher does not propose those; this makes it certain).
    batch.only_if = (
        "NOT EXISTS (SELECT 1 FROM offer_matches d WHERE d.tenant = {row}.tenant "
        "AND d.site = {row}.site AND d.url = {row}.url AND d.sku = {row}.sku "
        "AND d.status IN ('accepted', 'rejected'))"
    )
    changed = upsert.write(conn, [batch], now=now).get("offer_matches", 0) if batch.rows else 0
    return changed + len(stale)


class UnknownMatch(LookupError):
    """The offer or the SKU named does not exist."""


def decide_match(
    engine: Engine,
    url: str,
    sku: str,
    status: str,
    by: str,
    now: datetime,
    tenant: str | None = None,
) -> tuple[str, str]:
    """A person's word on an offer × SKU; returns (tenant, site). Accepting one SKU for an
    offer drops the other automatic proposals for it (rejections stay)."""
    if status not in ("accepted", "rejected"):
        raise ValueError(f"a decision is accepted or rejected, not {status!r}")
    with engine.begin() as conn:
        sites = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT DISTINCT site FROM competitor_offers WHERE url = :url"),
                {"url": url},
            )
        ]
        if not sites:
            raise UnknownMatch(f"no competitor offer has the URL {url}")
        if len(sites) > 1:
            raise UnknownMatch(f"{url} is an offer of several sites ({', '.join(sites)})")
        site = sites[0]
        tenants = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT tenant FROM central_products WHERE sku = :sku"), {"sku": sku}
            )
        ]
        if tenant is not None:
            tenants = [t for t in tenants if t == tenant]
        if not tenants:
            where = f" of tenant {tenant}" if tenant else ""
            raise UnknownMatch(f"no SKU {sku}{where} in the central catalog")
        if len(tenants) > 1:
            raise UnknownMatch(f"SKU {sku} exists in tenants {', '.join(tenants)}: name one")
        chosen = tenants[0]
        existing = conn.execute(
            sa.select(offer_matches.c.method, offer_matches.c.score).where(
                offer_matches.c.tenant == chosen,
                offer_matches.c.site == site,
                offer_matches.c.url == url,
                offer_matches.c.sku == sku,
            )
        ).first()
        method, score = (existing.method, existing.score) if existing else ("manual", 100.0)
        if status == "accepted":
            conn.execute(
                sa.text(
                    "DELETE FROM offer_matches WHERE tenant = :t AND site = :site AND url = :url "
                    "AND sku <> :sku AND status <> 'rejected'"
                ),
                {"t": chosen, "site": site, "url": url, "sku": sku},
            )
        batch = upsert.Batch.for_table(offer_matches)
        batch.rows.append((chosen, site, url, sku, method, score, status, by, now, now))
        batch.preserve = ("matched_at",)
        upsert.write(conn, [batch], now=now)
    return chosen, site


# --- suggestions -----------------------------------------------------------------------------


def suggestion_id(tenant: str, sku: str, field: str, value: str) -> str:
    return hashlib.sha256(f"{tenant}\x1f{sku}\x1f{field}\x1f{value}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Suggestion:
    tenant: str
    sku: str
    field: str
    value: str
    source_site: str
    source_url: str

    @property
    def id(self) -> str:
        return suggestion_id(self.tenant, self.sku, self.field, self.value)


def write_suggestions(conn: Connection, suggestions: Sequence[Suggestion], now: datetime) -> int:
    """New suggestions land `pending`; known ones keep their status and decision."""
    batch = upsert.Batch.for_table(enrichment_suggestions)
    for s in suggestions:
        identity = (s.tenant, s.id, s.sku, s.field, s.value, s.source_site, s.source_url)
        batch.rows.append((*identity, "pending", now, None, None))
    batch.preserve = (
        "sku",
        "field",
        "value",
        "source_site",
        "source_url",
        "status",
        "created_at",
        "decided_by",
        "decided_at",
    )
    return upsert.write(conn, [batch], now=now).get("enrichment_suggestions", 0)


# --- price positions ---------------------------------------------------------------------------


def write_positions(conn: Connection, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """Replace the table's rows with these (figures per tenant × SKU × channel)."""
    batch = upsert.Batch.for_table(price_positions)
    batch.rows = [tuple(r[c] for c in batch.columns) for r in rows]
    keep = {tuple(r[k] for k in batch.keys) for r in rows}
    stale = [
        key
        for key in conn.execute(sa.text("SELECT tenant, sku, channel FROM price_positions"))
        if tuple(key) not in keep
    ]
    for key in stale:
        conn.execute(
            sa.text("DELETE FROM price_positions WHERE tenant = :t AND sku = :s AND channel = :c"),
            {"t": key[0], "s": key[1], "c": key[2]},
        )
    changed = upsert.write(conn, [batch], now=now).get("price_positions", 0)
    return changed + len(stale)
