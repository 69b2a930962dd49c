"""The sites to scrape and their recipes, read from a TOML file (configuration, not code).

A layout change on a shop is fixed by editing a selector in the file, not by a release.
The file is checked whole when it is read: every CSS selector compiles, every regex
compiles, every URL is absolute http(s) after substitution, every schedule is a cron
expression; an error names the file, the site and the field.

URLs may use `${VAR}` or `${VAR:-default}`: the value of the environment variable (the
sandbox shops listen on ports chosen at start, so the demo exports their base URLs). An
unset variable without a default is an error naming it.

The User-Agent is deliberately not configurable: the crawler always says who it is
(`fetch.user_agent()`), never passes for a browser.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

import soupsieve
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

TARGETS_ENV = "SYNCHUB_SCRAPE_TARGETS"
DEFAULT_TARGETS = Path(__file__).resolve().parent / "targets.toml"
DEFAULT_OUT_OF_STOCK = (
    "esgotado",
    "indisponível",
    "indisponivel",
    "fora de estoque",
    "sem estoque",
    "avise-me",
    "avise me quando chegar",
    "out of stock",
    "sold out",
)
DEFAULT_PREORDER = (
    "pré-venda",
    "pre-venda",
    "pré-lançamento",
    "encomenda",
    "pre-order",
    "preorder",
)
DEFAULT_IN_STOCK = (
    "em estoque",
    "disponível",
    "disponivel",
    "comprar",
    "adicionar ao carrinho",
    "in stock",
    "add to cart",
)
OverridableField = Literal[
    "title",
    "price",
    "list_price",
    "gtin",
    "brand",
    "sku",
    "availability",
    "seller",
    "installments",
    "images",
    "description",
    "attributes",
]
_SITE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_CRON_FIELD = re.compile(
    r"^(\*|\d+(-\d+)?|[A-Za-z]{3}(-[A-Za-z]{3})?)(/\d+)?(,(\d+(-\d+)?|[A-Za-z]{3}(-[A-Za-z]{3})?)(/\d+)?)*$"
)


class TargetsError(ValueError):
    """The targets file is unreadable or invalid; the message names file, site and field."""


def split_selector(value: str) -> tuple[str, str | None]:
    """`"img.zoom@data-src"` → ("img.zoom", "data-src"); a plain selector → (selector, None)."""
    if "@" in value.split("]")[-1]:
        css, _, attribute = value.rpartition("@")
        return css.strip(), attribute.strip()
    return value.strip(), None


def _check_selector(value: str | None) -> str | None:
    if value is None:
        return None
    css, attribute = split_selector(value)
    if attribute and not re.fullmatch(r"[A-Za-z_:][-A-Za-z0-9_:.]*", attribute):
        raise ValueError(f"{value!r}: '@{attribute}' is not an attribute name")
    try:
        soupsieve.compile(css)
    except soupsieve.SelectorSyntaxError as exc:
        raise ValueError(f"{value!r} is not a valid CSS selector: {exc.args[0]}") from None
    return value


class Recipe(BaseModel):
    """CSS selectors for one site's product and listing pages, applied with BeautifulSoup.

    A selector reads the element's text; ending it with `@attribute` reads that attribute
    instead (`"meta[itemprop=gtin13]@content"`, `"img.zoom@data-src"`). A recipe fills the
    fields structured data leaves empty; the fields named in `override` take the recipe's
    value even when structured data has one (for a shop whose JSON-LD is known stale).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = None
    price: str | None = None
    list_price: str | None = None
    gtin: str | None = None
    brand: str | None = None
    sku: str | None = None
    availability: str | None = None
    out_of_stock: str | None = None
    out_of_stock_text: tuple[str, ...] = DEFAULT_OUT_OF_STOCK
    preorder_text: tuple[str, ...] = DEFAULT_PREORDER
    in_stock_text: tuple[str, ...] = DEFAULT_IN_STOCK
    seller: str | None = None
    installments: str | None = None
    images: str | None = None
    description: str | None = None
    attributes: str | None = None
    currency: str = "BRL"
    override: tuple[OverridableField, ...] = ()
    # Discovery on listing (category, search) pages.
    product_url: str | None = None
    product_links: str | None = None
    next_page: str | None = None

    @field_validator(
        "title", "price", "list_price", "gtin", "brand", "sku", "availability", "out_of_stock",
        "seller", "installments", "images", "description", "attributes", "product_links",
        "next_page",
    )  # fmt: skip
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        return _check_selector(value)

    @field_validator("product_url")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
        return value

    @field_validator("out_of_stock_text", "preorder_text", "in_stock_text")
    @classmethod
    def _lowercase(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(marker.lower() for marker in value if marker.strip())

    def is_product_url(self, url: str) -> bool:
        return self.product_url is not None and re.search(self.product_url, url) is not None


def _check_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value


class ScrapeTarget(BaseModel):
    """One site to crawl: where discovery starts, the recipe, and how politely."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str
    start_urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    recipe: Recipe | None = None
    page_budget: int = Field(default=200, ge=1, le=100_000)
    delay_seconds: float = Field(default=5.0, ge=0.0, le=3600.0)
    schedule: str = "0 4 * * *"

    @field_validator("site")
    @classmethod
    def _site(cls, value: str) -> str:
        if not _SITE.match(value):
            raise ValueError(f"{value!r}: use lowercase letters, digits, '-' and '_'")
        return value

    @field_validator("start_urls", "sitemaps")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_url(url) for url in value)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(field) for field in fields):
            raise ValueError(f"{value!r} is not a 5-field cron expression")
        return value

    @model_validator(mode="after")
    def _somewhere_to_start(self) -> ScrapeTarget:
        if not self.start_urls and not self.sitemaps:
            raise ValueError("give start_urls or sitemaps (or both)")
        return self


def substitute(text: str, environ: dict[str, str] | None = None) -> str:
    """`${VAR}` and `${VAR:-default}` replaced from the environment; unset → KeyError(VAR)."""
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name, "")
        if found:
            return found.rstrip("/") if match.end() < len(match.string) else found
        if default is not None:
            return default
        raise KeyError(name)

    return _VARIABLE.sub(value, text)


def default_targets_path() -> Path:
    configured = os.environ.get(TARGETS_ENV, "").strip()
    return Path(configured) if configured else DEFAULT_TARGETS


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc if not isinstance(part, int)]
    return ".".join(parts) or "(site)"


def load_targets(
    path: Path | str | None = None, *, environ: dict[str, str] | None = None
) -> list[ScrapeTarget]:
    """Every `[[sites]]` entry of the file, with `[defaults]` applied, validated."""
    file = Path(path) if path is not None else default_targets_path()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetsError(f"{file}: no such targets file (set {TARGETS_ENV})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(f"{file}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"defaults", "sites"}
    if unknown:
        raise TargetsError(
            f"{file}: unknown top-level key(s) {sorted(unknown)}; use [defaults] and [[sites]]"
        )
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        raise TargetsError(f"{file}: [defaults] must be a table")
    sites = raw.get("sites", [])
    if not isinstance(sites, list):
        raise TargetsError(f"{file}: 'sites' must be an array of tables ([[sites]])")
    targets: list[ScrapeTarget] = []
    for index, entry in enumerate(sites):
        name = entry.get("site") if isinstance(entry, dict) else None
        where = f"{file}: site {name!r}" if name else f"{file}: sites[{index}]"
        if not isinstance(entry, dict):
            raise TargetsError(f"{where}: must be a table")
        if "user_agent" in entry or "user_agent" in defaults:
            raise TargetsError(
                f"{where}: user_agent: not configurable; the crawler always identifies "
                "itself as SynchubBot with a contact (set SYNCHUB_SCRAPE_CONTACT)"
            )
        merged = {**{k: v for k, v in defaults.items() if k != "recipe"}, **entry}
        if isinstance(defaults.get("recipe"), dict) and isinstance(entry.get("recipe"), dict):
            merged["recipe"] = {**defaults["recipe"], **entry["recipe"]}
        for key in ("start_urls", "sitemaps"):
            urls = merged.get(key, [])
            if not isinstance(urls, list):
                raise TargetsError(f"{where}: {key}: must be a list of URLs")
            try:
                merged[key] = [substitute(str(url), environ) for url in urls]
            except KeyError as exc:
                raise TargetsError(
                    f"{where}: {key}: environment variable {exc.args[0]} is not set "
                    f"(or write ${{{exc.args[0]}:-http://…}} with a default)"
                ) from None
        try:
            target = ScrapeTarget.model_validate(merged)
        except ValidationError as exc:
            problems = "; ".join(
                f"{_field_path(error['loc'])}: {error['msg']}" for error in exc.errors()
            )
            raise TargetsError(f"{where}: {problems}") from None
        except ValueError as exc:
            raise TargetsError(f"{where}: {exc}") from None
        if any(t.site == target.site for t in targets):
            raise TargetsError(f"{where}: site: {target.site!r} is defined twice")
        targets.append(target)
    return targets


def target_for_url(targets: list[ScrapeTarget], url: str) -> ScrapeTarget | None:
    """The target whose start URLs or sitemaps share the URL's origin (the longest prefix wins)."""
    best: tuple[int, ScrapeTarget] | None = None
    for target in targets:
        for known in (*target.start_urls, *target.sitemaps):
            origin = re.match(r"^https?://[^/]+", known)
            if origin and url.startswith(origin.group(0)):
                # Several sandbox shops share one host: prefer the longest common path.
                common = next(
                    (i for i, (a, b) in enumerate(zip(url, known, strict=False)) if a != b),
                    min(len(url), len(known)),
                )
                if best is None or common > best[0]:
                    best = (common, target)
    return best[1] if best else None
