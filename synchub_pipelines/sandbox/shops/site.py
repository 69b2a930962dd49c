"""What every sandbox shop has in common: its URL space, robots.txt, sitemaps and traps.

A shop subclass says how its URLs look and renders its own HTML (each in its own make, and
none of it shared with the scraper). This base resolves a request to a `Page`: product pages
(conditional-GET capable), paginated categories, sitemaps, 301s from old URLs, soft 404s,
real 404s, bot walls and the paths robots.txt forbids. Politeness enforcement (429s) and the
request log live in the server, which sees every request before a shop does.
"""

from __future__ import annotations

import html
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from urllib.parse import parse_qs

from synchub_pipelines.sandbox.shops.catalog import ShopProduct

# A 1×1 transparent PNG: product images exist, and cost the sandbox nothing.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass
class Page:
    status: int
    body: str | bytes
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    # Product pages: the moment their content last changed; enables ETag/Last-Modified/304.
    last_modified: datetime | None = None


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def urlset(urls: list[str]) -> str:
    items = "".join(f"  <url><loc>{esc(u)}</loc></url>\n" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{items}</urlset>\n"
    )


def sitemap_index(urls: list[str]) -> str:
    items = "".join(f"  <sitemap><loc>{esc(u)}</loc></sitemap>\n" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{items}</sitemapindex>\n"
    )


class Shop(ABC):
    """One shop: products grouped in categories, served under its own host."""

    site: str = ""
    display_name: str = ""
    charset: str = "utf-8"
    page_param: str = "page"
    per_page: int = 5
    # Robots lines for `User-agent: *` besides Crawl-delay and Sitemap.
    disallow: tuple[str, ...] = ()
    layouts: tuple[str, ...] = ("v1",)
    # Links a polite crawler finds on pages but must never follow (robots.txt forbids them).
    trap_paths: tuple[str, ...] = ()

    def __init__(self, products: list[ShopProduct], crawl_delay: float | None) -> None:
        self.products = products
        self.crawl_delay = crawl_delay
        self.layout = "v1"
        self.bot_wall = False
        # When the layout last changed: a page's Last-Modified must move with its markup.
        self.layout_changed_at = datetime(2000, 1, 1, tzinfo=UTC)
        self.by_path: dict[str, ShopProduct] = {self.product_path(p): p for p in products}
        self.categories: dict[str, tuple[str, list[ShopProduct]]] = {}
        for p in self.listed_products():
            self.categories.setdefault(p.category_slug, (p.category_name, []))[1].append(p)

    # --- URL scheme (each shop its own) ------------------------------------------------

    @abstractmethod
    def product_path(self, product: ShopProduct) -> str: ...

    @abstractmethod
    def category_path(self, slug: str) -> str: ...

    def listed_products(self) -> list[ShopProduct]:
        """What category pages list (a marketplace lists parents, not variations)."""
        return self.products

    def specials(self) -> dict[str, str]:
        """Path → 'soft404' | 'gone' | 'captcha' | 'login' for the shop's odd URLs."""
        return {}

    def redirects(self) -> dict[str, tuple[int, str]]:
        """Old path (with query) → (status, new path)."""
        return {}

    @abstractmethod
    def sitemaps(self, base: str) -> dict[str, str]:
        """Sitemap path → XML; '/sitemap.xml' is the one robots.txt names."""
        ...

    # --- rendering (each shop its own make) --------------------------------------------

    @abstractmethod
    def render_home(self, base: str) -> str: ...

    @abstractmethod
    def render_category(
        self, base: str, slug: str, name: str, items: list[ShopProduct], page: int, pages: int
    ) -> str: ...

    @abstractmethod
    def render_product(self, base: str, product: ShopProduct, day: date) -> str: ...

    @abstractmethod
    def render_message(self, base: str, kind: str) -> str:
        """The soft-404, gone, CAPTCHA and login pages."""
        ...

    def render_trap(self, base: str, path: str) -> str:
        return f"<html><body><h1>{esc(self.display_name)}</h1><p>{esc(path)}</p></body></html>"

    # --- shared behaviour ----------------------------------------------------------------

    def robots_txt(self, base: str) -> str:
        lines = ["User-agent: BadBot", "Disallow: /", "", "User-agent: *"]
        lines += [f"Disallow: {path}" for path in self.disallow]
        lines.append("Disallow: /_sandbox/")
        if self.crawl_delay is not None:
            delay = self.crawl_delay
            lines.append(f"Crawl-delay: {int(delay) if delay == int(delay) else delay}")
        lines += ["", f"Sitemap: {base}/sitemap.xml", ""]
        return "\n".join(lines)

    def set_layout(self, variant: str) -> None:
        if variant not in self.layouts:
            raise ValueError(
                f"shop {self.site!r} has no layout {variant!r} (it has {', '.join(self.layouts)})"
            )
        if variant != self.layout:
            self.layout = variant
            self.layout_changed_at = datetime.now(UTC).replace(microsecond=0)

    def product_for(self, path: str, query: str) -> ShopProduct | None:
        return self.by_path.get(f"{path}?{query}" if query else path) or (self.by_path.get(path))

    def last_modified(self, product: ShopProduct, day: date) -> datetime:
        changed = datetime.combine(product.period_start(day), time(0), tzinfo=UTC)
        return max(changed, self.layout_changed_at)

    def category_pages(self, slug: str) -> int:
        return max(1, math.ceil(len(self.categories[slug][1]) / self.per_page))

    def resolve(self, path: str, query: str, base: str, day: date) -> Page:
        full = f"{path}?{query}" if query else path
        if path == "/robots.txt":
            return Page(200, self.robots_txt(base), "text/plain")
        sitemaps = self.sitemaps(base)
        if path in sitemaps:
            return Page(200, sitemaps[path], "application/xml")
        if path.startswith("/img/") and path.endswith(".png"):
            return Page(200, PNG_1X1, "image/png")
        moved = self.redirects().get(full)
        if moved is not None:
            status, target = moved
            return Page(status, "", headers={"Location": base + target})
        kind = self.specials().get(full) or self.specials().get(path)
        if kind is not None:
            status = {"gone": 404, "captcha": 403 if self.captcha_forbidden else 200}.get(kind, 200)
            return Page(status, self.render_message(base, kind))
        if any(self._matches(full, trap) for trap in self.disallow):
            return Page(200, self.render_trap(base, full))
        if path == "/":
            return Page(200, self.render_home(base))
        for slug, (name, items) in self.categories.items():
            if path == self.category_path(slug):
                page = _page_number(query, self.page_param)
                pages = self.category_pages(slug)
                if page is None or page > pages:
                    return Page(404, self.render_message(base, "gone"))
                chunk = items[(page - 1) * self.per_page : page * self.per_page]
                return Page(200, self.render_category(base, slug, name, chunk, page, pages))
        product = self.product_for(path, query)
        if product is not None:
            if self.bot_wall:
                return Page(
                    403 if self.captcha_forbidden else 200, self.render_message(base, "captcha")
                )
            return Page(
                200,
                self.render_product(base, product, day),
                last_modified=self.last_modified(product, day),
            )
        return Page(404, self.render_message(base, "gone"))

    # A CAPTCHA answered 403 (Cloudflare-like) or 200 (an interstitial that looks like a page).
    captcha_forbidden: bool = False

    @staticmethod
    def _matches(full: str, rule: str) -> bool:
        """Robots-style prefix match with `*` wildcards (for serving traps, not for crawling)."""
        if "*" not in rule:
            return full.startswith(rule)
        head, *rest = rule.split("*")
        if not full.startswith(head):
            return False
        position = len(head)
        for part in rest:
            found = full.find(part, position)
            if found < 0:
                return False
            position = found + len(part)
        return True


def _page_number(query: str, param: str) -> int | None:
    values = parse_qs(query).get(param)
    if not values:
        return 1
    try:
        number = int(values[0])
    except ValueError:
        return None
    return number if number >= 1 else None
