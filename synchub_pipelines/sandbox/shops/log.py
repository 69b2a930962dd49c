"""Every request a shop answered, so tests can prove the crawler was polite.

The log is the sandbox's witness: a disallowed path that appears here was requested, the gaps
between one host's requests show whether its crawl-delay held, and `If-None-Match` values show
that conditional GETs were sent. Control requests (`/_sandbox/*`) are not crawling and are
left out.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class LoggedRequest:
    site: str
    at: datetime
    mono: float  # time.monotonic() at arrival: gaps between requests, immune to clock jumps
    method: str
    path: str  # path and query as requested
    status: int
    user_agent: str | None
    if_none_match: str | None
    if_modified_since: str | None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


class RequestLog:
    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, site: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [e for e in self._entries if site is None or e.site == site]

    def count(self, site: str | None = None, status: int | None = None) -> int:
        return sum(1 for e in self.entries(site) if status is None or e.status == status)

    def paths(self, site: str) -> list[str]:
        return [e.path for e in self.entries(site)]

    def gaps(self, site: str) -> list[float]:
        """Seconds between consecutive requests to one shop, robots.txt left out.

        A crawler reads robots.txt before it knows the crawl-delay, so the first gap after it
        says nothing about politeness.
        """
        times = [e.mono for e in self.entries(site) if e.path != "/robots.txt"]
        return [b - a for a, b in itertools.pairwise(times)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
