"""The polite fetcher: what a shop's server sees of us.

- robots.txt is read once per origin per fetcher (one fetcher per crawl run) before any
  page of that origin, and a URL it disallows is never requested — also when a redirect
  points to it (every hop is checked).
- One request at a time per origin: a process-wide lock per origin, and at least
  max(configured delay, Crawl-delay, Request-rate) seconds between the end of one response
  and the start of the next request (the robots.txt request included).
- The User-Agent says who we are and how to reach the operator, and is not configurable
  per site: the crawler never passes for a browser.
- Conditional GETs: the caller passes the ETag / Last-Modified it stored; a 304 comes back
  with no body to parse.
- 429 and 503 (and 500/502/504, and network errors) are retried a bounded number of times,
  after `Retry-After` when the server gives it (as seconds or a date), else after an
  exponential backoff; a Retry-After longer than `max_retry_wait` ends the attempt
  instead of hammering or hanging.
- Redirects are followed up to `max_redirects`; bodies are capped at `max_bytes`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx

from synchub_pipelines.scraping.robots import (
    ROBOT_NAME,
    RobotsRules,
    origin_of,
    robots_url,
)

log = logging.getLogger("synchub.scraping")

CONTACT_ENV = "SYNCHUB_SCRAPE_CONTACT"
INFO_URL_ENV = "SYNCHUB_SCRAPE_INFO_URL"
DEFAULT_INFO_URL = "https://github.com/synchub/synchub-pipelines"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5"
ACCEPT_LANGUAGE = "pt-BR,pt;q=0.9,en;q=0.5"

FetchOutcome = Literal["ok", "not_modified", "disallowed", "error"]

_origin_locks: dict[str, threading.Lock] = {}
_origin_locks_guard = threading.Lock()


def _origin_lock(origin: str) -> threading.Lock:
    with _origin_locks_guard:
        return _origin_locks.setdefault(origin, threading.Lock())


def user_agent() -> str:
    """`SynchubBot/<version> (+<project URL>; contact: <operator>)`."""
    try:
        release = version("synchub-pipelines")
    except PackageNotFoundError:
        release = "0"
    info = os.environ.get(INFO_URL_ENV, "").strip() or DEFAULT_INFO_URL
    contact = os.environ.get(CONTACT_ENV, "").strip() or f"{info}/issues"
    return f"{ROBOT_NAME}/{release} (+{info}; contact: {contact})"


def utc_now() -> datetime:
    return datetime.now(UTC)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds, given as a number or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass
class FetchResult:
    """One page fetch as the crawl sees it (after redirects and retries)."""

    url: str
    final_url: str
    outcome: FetchOutcome
    status: int | None = None
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    reason: str | None = None
    retries: int = 0
    redirects: tuple[str, ...] = ()
    requested: bool = False
    fetched_at: datetime = field(default_factory=utc_now)
    elapsed_ms: float = 0.0


@dataclass
class FetcherStats:
    requests: int = 0
    robots_requests: int = 0
    retries: int = 0
    bytes: int = 0
    slept_seconds: float = 0.0


class PoliteFetcher:
    """GETs pages the way the module docstring promises. Not thread-safe: one per crawl."""

    def __init__(
        self,
        *,
        delay_seconds: float = 5.0,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
        max_redirects: int = 5,
        max_retries: int = 3,
        max_retry_wait: float = 300.0,
        backoff_base: float = 2.0,
        max_bytes: int = 5_000_000,
        timeout: float = 20.0,
    ) -> None:
        self.delay_seconds = delay_seconds
        self._own_client = client is None
        self.client = client if client is not None else httpx.Client(timeout=timeout)
        self.sleep = sleep
        self.clock = clock
        self.now = now
        self.max_redirects = max_redirects
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.backoff_base = backoff_base
        self.max_bytes = max_bytes
        self.user_agent = user_agent()
        self.stats = FetcherStats()
        self._robots: dict[str, RobotsRules] = {}
        self._last_done: dict[str, float] = {}
        self._not_before: dict[str, float] = {}

    def __enter__(self) -> PoliteFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    # --- robots ------------------------------------------------------------------------

    def robots(self, url: str) -> RobotsRules:
        """The origin's rules, fetched on first use and kept for the fetcher's life."""
        origin = origin_of(url)
        rules = self._robots.get(origin)
        if rules is None:
            rules = self._fetch_robots(origin)
            self._robots[origin] = rules
            log.info("%s: %s", origin, rules.why)
        return rules

    def allowed(self, url: str) -> bool:
        return self.robots(url).allows(url)

    def _fetch_robots(self, origin: str) -> RobotsRules:
        url = robots_url(origin)
        for _hop in range(self.max_redirects + 1):
            response, body, error, _retries = self._get(url, {}, robots=True)
            if response is None:
                log.warning("%s: robots.txt unreachable (%s)", origin, error)
                return RobotsRules.from_response(origin, None, b"")
            location = response.headers.get("location")
            if response.is_redirect and location:
                url = urljoin(url, location)
                continue
            return RobotsRules.from_response(origin, response.status_code, body)
        return RobotsRules.from_response(origin, None, b"")

    # --- pages -------------------------------------------------------------------------

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET one page: robots checked at every hop, paced, retried, redirects followed."""
        fetched_at = self.now()
        started = time.perf_counter()
        current = url
        redirects: list[str] = []
        retries = 0
        requested = False
        while True:
            rules = self.robots(current)
            if not rules.allows(current):
                hop = f" (redirected from {url})" if redirects else ""
                return self._done(
                    url, current, "disallowed", started, fetched_at, retries, redirects,
                    requested, reason=f"robots.txt disallows {urlsplit(current).path or '/'}{hop}",
                )  # fmt: skip
            # Sent at every hop: validators stored for a URL that redirects came from the
            # page at the end of the redirect, which is where a 304 can come from.
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            response, body, error, hop_retries = self._get(current, headers)
            retries += hop_retries
            requested = requested or response is not None or hop_retries > 0 or error is not None
            if response is None:
                return self._done(
                    url, current, "error", started, fetched_at, retries, redirects, requested,
                    reason=error,
                )  # fmt: skip
            location = response.headers.get("location")
            if response.is_redirect and location and response.status_code != 304:
                if len(redirects) >= self.max_redirects:
                    return self._done(
                        url, current, "error", started, fetched_at, retries, redirects,
                        requested, status=response.status_code,
                        reason=f"more than {self.max_redirects} redirects",
                    )  # fmt: skip
                redirects.append(current)
                current = urljoin(current, location)
                continue
            status = response.status_code
            if error is not None:
                return self._done(
                    url, current, "error", started, fetched_at, retries, redirects, requested,
                    status=status, reason=error,
                )  # fmt: skip
            return self._done(
                url, current, "not_modified" if status == 304 else "ok", started, fetched_at,
                retries, redirects, requested, status=status, body=body,
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag") or (etag if status == 304 else None),
                last_modified=response.headers.get("last-modified")
                or (last_modified if status == 304 else None),
            )  # fmt: skip

    def _done(
        self,
        url: str,
        final_url: str,
        outcome: FetchOutcome,
        started: float,
        fetched_at: datetime,
        retries: int,
        redirects: list[str],
        requested: bool,
        **fields: object,
    ) -> FetchResult:
        return FetchResult(
            url=url,
            final_url=final_url,
            outcome=outcome,
            retries=retries,
            redirects=tuple(redirects),
            requested=requested,
            fetched_at=fetched_at,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            **fields,  # type: ignore[arg-type]
        )

    def _get(
        self, url: str, headers: dict[str, str], *, robots: bool = False
    ) -> tuple[httpx.Response | None, bytes, str | None, int]:
        """One URL (no redirect following), retried on 429/5xx/network errors.

        Returns the last response (None when the network failed every time), its body, an
        error text when the attempts ran out, and the number of retries.
        """
        origin = origin_of(url)
        retries = 0
        while True:
            try:
                response, body, truncated = self._send(url, headers, origin, robots=robots)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__} on GET {urlsplit(url).path or '/'}"
                if retries >= self.max_retries:
                    return None, b"", f"{problem} after {retries} retries", retries
                retries += 1
                self._defer(origin, self.backoff_base * 2 ** (retries - 1))
                continue
            if truncated:
                return response, b"", f"body larger than {self.max_bytes} bytes", retries
            if response.status_code not in RETRY_STATUSES:
                return response, body, None, retries
            wait = retry_after_seconds(response.headers.get("retry-after"), self.now())
            if wait is None:
                wait = self.backoff_base * 2**retries
            if retries >= self.max_retries:
                return (
                    response,
                    body,
                    f"HTTP {response.status_code} after {retries} retries",
                    retries,
                )
            if wait > self.max_retry_wait:
                return (
                    response,
                    body,
                    f"HTTP {response.status_code} with Retry-After {wait:.0f}s "
                    f"(more than {self.max_retry_wait:.0f}s): not waited for",
                    retries,
                )
            retries += 1
            self.stats.retries += 1
            log.info("%s: HTTP %s, retry %d in %.1fs", origin, response.status_code, retries, wait)
            self._defer(origin, wait)

    def _defer(self, origin: str, seconds: float) -> None:
        self._not_before[origin] = max(
            self._not_before.get(origin, 0.0), self.clock() + max(0.0, seconds)
        )

    def gap_seconds(self, origin: str) -> float:
        """The minimum gap between two requests to the origin."""
        rules = self._robots.get(origin)
        return max(self.delay_seconds, rules.min_gap_seconds() if rules else 0.0)

    def _send(
        self, url: str, headers: dict[str, str], origin: str, *, robots: bool
    ) -> tuple[httpx.Response, bytes, bool]:
        with _origin_lock(origin):
            ready_at = self._not_before.get(origin, 0.0)
            last = self._last_done.get(origin)
            if last is not None:
                ready_at = max(ready_at, last + self.gap_seconds(origin))
            wait = ready_at - self.clock()
            if wait > 0:
                self.stats.slept_seconds += wait
                self.sleep(wait)
            request_headers = {
                "User-Agent": self.user_agent,
                "Accept": "text/plain,*/*;q=0.5" if robots else ACCEPT,
                "Accept-Language": ACCEPT_LANGUAGE,
                **headers,
            }
            self.stats.requests += 1
            if robots:
                self.stats.robots_requests += 1
            try:
                # Redirects are never left to httpx: every hop is checked against robots.txt.
                with self.client.stream(
                    "GET", url, headers=request_headers, follow_redirects=False
                ) as response:
                    chunks: list[bytes] = []
                    size = 0
                    truncated = False
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > self.max_bytes:
                            truncated = True
                            break
                        chunks.append(chunk)
                    body = b"".join(chunks)
            finally:
                self._last_done[origin] = self.clock()
            self.stats.bytes += len(body)
            return response, body, truncated
