"""Serves the sandbox shops on loopback, one port per shop, and counts every request.

Each shop gets its own listening socket, so a crawler sees five hosts (`127.0.0.1:PORT`) and
keeps per-host politeness apart; one uvicorn server in one background thread answers all the
sockets and routes by the local port a connection came in on. Before a shop sees a request,
the server enforces that shop's pace — Crawl-delay when robots.txt states one, a token bucket
otherwise — answering 429 with `Retry-After`, and records the request in the log. Product
pages get a strong ETag (a digest of the exact bytes) and Last-Modified, and 304 answers to
`If-None-Match` / `If-Modified-Since`.

`/_sandbox/*` on every shop's port holds the operator knobs no real shop has: the request log,
the date, the layout switch, forced 429 bursts, the bot wall and the expected offers.
"""

from __future__ import annotations

import hashlib
import math
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from synchub_pipelines.sandbox.shops.catalog import (
    CATALOG_CSV,
    ShopMix,
    ShopProduct,
    build_products,
    load_attributes,
    load_catalog,
)
from synchub_pipelines.sandbox.shops.jsonld import JsonLdShop
from synchub_pipelines.sandbox.shops.log import LoggedRequest, RequestLog
from synchub_pipelines.sandbox.shops.marketplace import MarketplaceShop
from synchub_pipelines.sandbox.shops.metatags import MetaTagsShop
from synchub_pipelines.sandbox.shops.microdata import MicrodataShop
from synchub_pipelines.sandbox.shops.plainshop import PlainShop
from synchub_pipelines.sandbox.shops.site import Shop

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
SITES: tuple[str, ...] = ("jsonld", "microdata", "metatags", "plainshop", "marketplace")
SHOP_CLASSES: dict[str, type[Shop]] = {
    "jsonld": JsonLdShop,
    "microdata": MicrodataShop,
    "metatags": MetaTagsShop,
    "plainshop": PlainShop,
    "marketplace": MarketplaceShop,
}
MIXES: dict[str, ShopMix] = {
    "jsonld": ShopMix("jsonld", 1001, catalog_count=28, gtin_share=85, reword_share=10),
    "microdata": ShopMix("microdata", 2001, catalog_count=18, gtin_share=70, reword_share=20),
    "metatags": ShopMix("metatags", 3001, catalog_count=18, gtin_share=50, reword_share=30),
    "plainshop": ShopMix("plainshop", 4001, catalog_count=20, gtin_share=75, reword_share=20),
    "marketplace": ShopMix(
        "marketplace", 5001, catalog_count=0, gtin_share=90, reword_share=0, families=6
    ),
}
DEFAULT_CRAWL_DELAYS: dict[str, float] = {"microdata": 1.0, "plainshop": 1.0}
DEFAULT_RATE_LIMITS: dict[str, float] = {"jsonld": 5.0, "metatags": 5.0, "marketplace": 4.0}
# A request counts as too early when it comes before this share of the crawl-delay: the
# server sees arrival times, which jitter a little around the crawler's own pacing.
CRAWL_DELAY_TOLERANCE = 0.8
CHARSET_LABELS = {"utf-8": "utf-8", "iso-8859-1": "ISO-8859-1", "windows-1252": "windows-1252"}


@dataclass
class ShopsConfig:
    """How the shops run.

    Defaults: `microdata` and `plainshop` state `Crawl-delay: 1`; `jsonld` and `metatags`
    allow 5 requests/s and `marketplace` 4 requests/s (token buckets, burst = rate).
    `crawl_delays` overrides per site (None: no Crawl-delay, the site's rate limit applies);
    tests use small delays such as 0.2 s to stay fast.
    """

    seed: int = 7
    today: date | None = None
    crawl_delays: dict[str, float | None] = field(default_factory=dict)
    rate_limits: dict[str, float] = field(default_factory=dict)
    enforce_limits: bool = True
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    catalog_path: Path = CATALOG_CSV

    def crawl_delay(self, site: str) -> float | None:
        if site in self.crawl_delays:
            return self.crawl_delays[site]
        return DEFAULT_CRAWL_DELAYS.get(site)

    def rate_limit(self, site: str) -> float:
        return self.rate_limits.get(site, DEFAULT_RATE_LIMITS.get(site, 5.0))


class ShopClock:
    """The shops' today: São Paulo's date unless a test or the demo sets one."""

    def __init__(self, today: date | None = None) -> None:
        self._today = today
        self._lock = threading.Lock()

    def today(self) -> date:
        with self._lock:
            return self._today or datetime.now(SAO_PAULO).date()

    def set_date(self, day: date | None) -> None:
        with self._lock:
            self._today = day


class Pace:
    """One shop's limit on how fast a crawler may come back."""

    def __init__(self, crawl_delay: float | None, rate: float) -> None:
        self.crawl_delay = crawl_delay
        self.rate = rate
        self._last: float | None = None
        self._tokens = max(1.0, rate)
        self._refilled = time.monotonic()
        self._forced = 0
        self._forced_retry = 1
        self._lock = threading.Lock()

    def force(self, count: int, retry_after: int) -> None:
        with self._lock:
            self._forced = count
            self._forced_retry = retry_after

    def admit(self, now: float) -> int | None:
        """None to serve the request, else the Retry-After seconds of a 429."""
        with self._lock:
            if self._forced > 0:
                self._forced -= 1
                return self._forced_retry
            if self.crawl_delay is not None:
                if self._last is not None and now - self._last < (
                    self.crawl_delay * CRAWL_DELAY_TOLERANCE
                ):
                    return max(1, math.ceil(self.crawl_delay))
                self._last = now
                return None
            burst = max(1.0, self.rate)
            self._tokens = min(burst, self._tokens + (now - self._refilled) * self.rate)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            return max(1, math.ceil((1 - self._tokens) / self.rate))


@dataclass(frozen=True)
class ExpectedOffer:
    """What a correct extractor reads from one product page today (the tests' truth)."""

    site: str
    url: str
    title: str
    brand: str
    gtin: str | None
    sku: str
    catalog_sku: str | None
    price: Decimal
    list_price: Decimal | None
    currency: str
    availability: str  # "in_stock" | "out_of_stock"
    seller: str | None
    installments: int
    installment_amount: Decimal
    images: tuple[str, ...]
    attributes: tuple[tuple[str, str], ...]

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("price", "list_price", "installment_amount"):
            data[key] = None if data[key] is None else str(data[key])
        data["images"] = list(self.images)
        data["attributes"] = dict(self.attributes)
        return data


class Shops:
    """All five shops, their shared clock, their paces and the request log."""

    def __init__(self, config: ShopsConfig | None = None) -> None:
        self.config = config or ShopsConfig()
        rows = load_catalog(self.config.catalog_path)
        attributes = load_attributes()
        self.clock = ShopClock(self.config.today)
        self.log = RequestLog()
        self.shops: dict[str, Shop] = {}
        self.paces: dict[str, Pace] = {}
        for site in SITES:
            products = build_products(MIXES[site], rows, attributes, self.config.seed)
            delay = self.config.crawl_delay(site)
            self.shops[site] = SHOP_CLASSES[site](products, delay)
            self.paces[site] = Pace(delay, self.config.rate_limit(site))

    def shop(self, site: str) -> Shop:
        if site not in self.shops:
            raise ValueError(f"no sandbox shop {site!r} (shops: {', '.join(SITES)})")
        return self.shops[site]

    def set_layout(self, site: str, variant: str) -> None:
        self.shop(site).set_layout(variant)

    def set_bot_wall(self, site: str, on: bool) -> None:
        self.shop(site).bot_wall = on

    def burst_429(self, site: str, count: int, retry_after: int = 1) -> None:
        if count < 0 or retry_after < 0:
            raise ValueError("a 429 burst needs count >= 0 and retry_after >= 0")
        self.shop(site)
        self.paces[site].force(count, retry_after)

    def expected_offers(self, site: str, base_url: str) -> list[ExpectedOffer]:
        shop = self.shop(site)
        day = self.clock.today()
        offers = []
        for p in shop.products:
            count, each = p.installments_on(day)
            offers.append(
                ExpectedOffer(
                    site=site,
                    url=base_url + shop.product_path(p),
                    title=p.title,
                    brand=p.brand,
                    gtin=p.gtin,
                    sku=p.shop_sku,
                    catalog_sku=p.catalog_sku,
                    price=p.price_on(day),
                    list_price=p.list_price_on(day),
                    currency="BRL",
                    availability="in_stock" if p.in_stock else "out_of_stock",
                    seller=p.seller or (shop.display_name if site == "jsonld" else None),
                    installments=count,
                    installment_amount=each,
                    images=tuple(f"{base_url}/img/{n}.png" for n in p.image_names),
                    attributes=p.attributes,
                )
            )
        return offers

    def product(self, site: str, shop_sku: str) -> ShopProduct:
        for p in self.shop(site).products:
            if p.shop_sku == shop_sku:
                return p
        raise ValueError(f"shop {site!r} has no product {shop_sku!r}")

    # --- HTTP ---------------------------------------------------------------------------

    def app(self, site: str) -> Starlette:
        async def control(request: Request) -> Response:
            return await self._control(site, request)

        async def page(request: Request) -> Response:
            return self._serve(site, request)

        return Starlette(
            routes=[
                Route("/_sandbox/{knob}", control, methods=["GET", "POST"]),
                Route("/{rest:path}", page, methods=["GET", "HEAD", "POST", "PUT", "DELETE"]),
            ]
        )

    def _serve(self, site: str, request: Request) -> Response:
        shop = self.shops[site]
        path, query = request.url.path, request.url.query
        mono, at = time.monotonic(), datetime.now(UTC)
        headers: dict[str, str] = {}
        media_type = "text/plain; charset=utf-8"
        body = b""
        if request.method not in ("GET", "HEAD"):
            status, body, headers = 405, b"Method Not Allowed", {"Allow": "GET, HEAD"}
        else:
            retry = None
            if self.config.enforce_limits and path != "/robots.txt":
                retry = self.paces[site].admit(mono)
            if retry is not None:
                status, body = 429, b"Too Many Requests"
                headers["Retry-After"] = str(retry)
            else:
                base = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
                page = shop.resolve(path, query, base, self.clock.today())
                status, headers = page.status, dict(page.headers)
                charset = shop.charset if page.content_type == "text/html" else "utf-8"
                if isinstance(page.body, bytes):
                    body, media_type = page.body, page.content_type
                else:
                    body = page.body.encode(charset, errors="xmlcharrefreplace")
                    media_type = f"{page.content_type}; charset={CHARSET_LABELS[charset]}"
                if page.last_modified is not None and status == 200:
                    etag = '"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"'
                    headers["ETag"] = etag
                    headers["Last-Modified"] = format_datetime(page.last_modified, usegmt=True)
                    headers["Cache-Control"] = "no-cache"
                    if _not_modified(request, etag, page.last_modified):
                        status, body = 304, b""
        self.log.record(
            LoggedRequest(
                site=site,
                at=at,
                mono=mono,
                method=request.method,
                path=f"{path}?{query}" if query else path,
                status=status,
                user_agent=request.headers.get("user-agent"),
                if_none_match=request.headers.get("if-none-match"),
                if_modified_since=request.headers.get("if-modified-since"),
            )
        )
        if status == 304:
            return Response(status_code=304, headers=headers)
        return Response(body, status_code=status, headers=headers, media_type=media_type)

    async def _control(self, site: str, request: Request) -> Response:
        knob = request.path_params["knob"]
        shop = self.shops[site]
        body: dict[str, Any] = {}
        if request.method == "POST":
            try:
                loaded = await request.json()
            except ValueError:
                return JSONResponse({"error": "expected a JSON object"}, status_code=400)
            if not isinstance(loaded, dict):
                return JSONResponse({"error": "expected a JSON object"}, status_code=400)
            body = loaded
        try:
            if knob == "requests":
                return JSONResponse(
                    {"site": site, "requests": [e.as_json() for e in self.log.entries(site)]}
                )
            if knob == "layout":
                if request.method == "POST":
                    shop.set_layout(str(body.get("variant", "")))
                return JSONResponse({"site": site, "layout": shop.layout, "layouts": shop.layouts})
            if knob == "date":
                if request.method == "POST":
                    raw = body.get("date")
                    self.clock.set_date(date.fromisoformat(raw) if raw else None)
                return JSONResponse({"date": self.clock.today().isoformat()})
            if knob == "burst":
                self.burst_429(site, int(body.get("count", 1)), int(body.get("retry_after", 1)))
                return JSONResponse({"site": site, "forced_429": int(body.get("count", 1))})
            if knob == "botwall":
                if request.method == "POST":
                    self.set_bot_wall(site, bool(body.get("on", True)))
                return JSONResponse({"site": site, "bot_wall": shop.bot_wall})
            if knob == "expected":
                base = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
                return JSONResponse(
                    {
                        "site": site,
                        "offers": [o.as_json() for o in self.expected_offers(site, base)],
                    }
                )
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"error": f"no sandbox knob {knob!r}"}, status_code=404)


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    """RFC 9110: If-None-Match decides when present; otherwise If-Modified-Since."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified <= since


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _ByPort:
    """Routes a connection to the shop that owns the local port it arrived on."""

    def __init__(self, apps: dict[int, Starlette]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        app = self.apps.get(server[1]) if server else None
        if app is None:
            await Response("unknown shop", status_code=404)(scope, receive, send)
            return
        await app(scope, receive, send)


class RunningShops:
    """The shops served by uvicorn in a background thread of this process."""

    def __init__(self, config: ShopsConfig | None = None) -> None:
        self.shops = Shops(config)
        cfg = self.shops.config
        self._sockets: dict[str, socket.socket] = {}
        apps: dict[int, Starlette] = {}
        self.base_urls: dict[str, str] = {}
        for site in SITES:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((cfg.host, cfg.ports.get(site, 0)))
            host, port = sock.getsockname()[:2]
            self._sockets[site] = sock
            apps[port] = self.shops.app(site)
            self.base_urls[site] = f"http://{host}:{port}"
        config_ = uvicorn.Config(
            _ByPort(apps), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config_)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": list(self._sockets.values())},
            daemon=True,
        )

    @property
    def log(self) -> RequestLog:
        return self.shops.log

    def set_layout(self, site: str, variant: str) -> None:
        self.shops.set_layout(site, variant)

    def set_date(self, day: date | None) -> None:
        self.shops.clock.set_date(day)

    def set_bot_wall(self, site: str, on: bool) -> None:
        self.shops.set_bot_wall(site, on)

    def burst_429(self, site: str, count: int, retry_after: int = 1) -> None:
        self.shops.burst_429(site, count, retry_after)

    def expected_offers(self, site: str) -> list[ExpectedOffer]:
        return self.shops.expected_offers(site, self.base_urls[site])

    def start(self) -> RunningShops:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("sandbox shops did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        for sock in self._sockets.values():
            sock.close()

    def __enter__(self) -> RunningShops:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(config: ShopsConfig, targets_path: Path | None = None) -> None:
    """Run the shops in the foreground (for `synchub sandbox shops`).

    With `targets_path`, first write the scrape-targets file for the shops' actual ports.
    """
    from synchub_pipelines.sandbox.shops.targets import SHOP_ENV, write_targets

    running = RunningShops(config)
    for site, url in running.base_urls.items():
        print(f"{site:12} {url}/   ({SHOP_ENV[site]})", flush=True)
    if targets_path is not None:
        write_targets(targets_path, running.base_urls)
        print(f"scrape targets written to {targets_path}", flush=True)
    running._server.run(sockets=list(running._sockets.values()))
