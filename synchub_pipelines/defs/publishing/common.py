"""What every publishing write shares: options, outcomes, the client factory, audit words.

A write ends in one of five statuses, the same in every audit table: `planned` (a dry
run: nothing was sent), `written` (the marketplace accepted it), `refused` (the
marketplace refused the content: `WriteRefused`, its code and message kept, not retried),
`failed` (transport, auth or rate limit after the client's retries: the next run tries
again) and `skipped` (nothing to send, with the reason: e.g. the client has no such write).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from synchub_pipelines.marketplaces.errors import MarketplaceError
from synchub_pipelines.marketplaces.publishing import WriteRefused

Status = Literal["planned", "written", "refused", "failed", "skipped"]
MESSAGE_LIMIT = 500
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    status: Status
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "written"


PLANNED = Outcome("planned")


def attempt(write: Callable[[], T]) -> tuple[T | None, Outcome]:
    """Run one write; a refusal or a failure becomes its outcome (never an exception), so
    one product's problem is recorded on that product and the others still go."""
    try:
        result = write()
    except WriteRefused as exc:
        return None, Outcome("refused", exc.code, _cut(exc.detail))
    except MarketplaceError as exc:
        # The message names marketplace, operation and code; never a URL query or a token.
        return None, Outcome("failed", exc.code, _cut(str(exc)))
    except (ValueError, TypeError) as exc:
        # A draft the client could not translate (a value the API cannot take).
        return None, Outcome("refused", type(exc).__name__, _cut(str(exc)))
    return result, Outcome("written")


def _cut(text: str | None) -> str | None:
    return None if text is None else text[:MESSAGE_LIMIT]


def summary(value: Any) -> str:
    """A request or answer as compact, stable JSON for the audit."""
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)[:4000]


def answer_of(result: Any) -> str | None:
    if result is None:
        return None
    if hasattr(result, "model_dump"):
        return _cut(summary(result.model_dump(mode="json")))
    return _cut(summary(result))


@dataclass(frozen=True)
class RunScope:
    """Which stores and tenants a run covers (None: all)."""

    stores: frozenset[str] | None = None
    tenants: frozenset[str] | None = None

    def covers(self, store_id: str, tenant: str) -> bool:
        return (self.stores is None or store_id in self.stores) and (
            self.tenants is None or tenant in self.tenants
        )


ClientFactory = Callable[[str], Any]


def client_calls(client: Any) -> dict[str, int]:
    """The client's call counters (the same ones the stock push reports)."""
    stats = getattr(getattr(client, "http", None), "stats", {})
    return {k.removeprefix("calls."): v for k, v in stats.items() if k.startswith("calls.")}


def whose(tenant: str, default: str = "default") -> str:
    return "" if tenant == default else f"tenant {tenant}: "


class Refused(Exception):
    """A run would break a damage limit: nothing of what it covers was written."""

    def __init__(self, message: str, rows: list[Any] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or []
