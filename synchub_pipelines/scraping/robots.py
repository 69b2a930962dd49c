"""robots.txt rules for one origin, read with protego, and what a missing file means.

As Google reads them (developers.google.com/search/docs/crawling-indexing/robots/robots_txt):
a 2xx file is parsed; a 4xx (404, 410, even 401/403) means there are no rules, crawl
anything; a 5xx, a 429 or an unreachable host means "assume everything is disallowed" for
this run — a site that cannot serve its robots.txt is not asked for its pages either.
`Crawl-delay` and `Request-rate` for our token (or `*`) become the minimum gap between two
requests to the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

ROBOT_NAME = "SynchubBot"
MAX_ROBOTS_BYTES = 500 * 1024  # Google reads the first 500 KiB


def origin_of(url: str) -> str:
    """scheme://host[:port], lowercased: robots.txt and the pace are kept per origin."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def robots_url(url: str) -> str:
    return f"{origin_of(url)}/robots.txt"


@dataclass(frozen=True)
class RobotsRules:
    """What one origin's robots.txt allows us, and why (for the report)."""

    origin: str
    policy: str  # "parsed", "allow_all" or "disallow_all"
    why: str
    parser: Protego | None = None

    @classmethod
    def from_response(cls, origin: str, status: int | None, body: bytes) -> RobotsRules:
        if status is None:
            return cls(origin, "disallow_all", "robots.txt unreachable: nothing is fetched")
        if 200 <= status < 300:
            text = body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
            return cls(origin, "parsed", f"robots.txt HTTP {status}", Protego.parse(text))
        if status == 429 or status >= 500:
            return cls(
                origin, "disallow_all", f"robots.txt HTTP {status}: nothing is fetched this run"
            )
        return cls(origin, "allow_all", f"robots.txt HTTP {status}: no rules")

    def allows(self, url: str) -> bool:
        if self.policy == "disallow_all":
            return False
        if self.policy == "allow_all" or self.parser is None:
            return True
        return bool(self.parser.can_fetch(url, ROBOT_NAME))

    def min_gap_seconds(self) -> float:
        """Crawl-delay, or Request-rate's seconds per request, whichever is longer."""
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(ROBOT_NAME) or 0.0
        rate = self.parser.request_rate(ROBOT_NAME)
        if rate is not None and rate.requests:
            delay = max(delay, rate.seconds / rate.requests)
        return float(delay)

    def sitemaps(self) -> list[str]:
        return list(self.parser.sitemaps) if self.parser is not None else []
