"""The HTTP layer every client shares: timeouts, retries with backoff, rate limits, redaction.

- Every call has a timeout; 429, 5xx and network errors are retried with exponential
  backoff and full jitter, honouring `Retry-After`; other 4xx are never retried.
- A process-wide token bucket per API quota paces calls before they are sent, and a 429
  empties it so every thread of the process backs off together.
- Requests are rebuilt on every attempt, so signatures and timestamps stay fresh.
- Logs and exceptions show the method and path only: query strings (Shopee's
  access_token), headers and bodies never leave this module.
- A circuit breaker per marketplace and endpoint family (`breaker.py`) fails calls fast
  while the API is down, instead of every step and run retrying it.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from synchub_pipelines.marketplaces.breaker import breaker_for
from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    MarketplaceError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from synchub_pipelines.marketplaces.ratelimit import RateLimiter

log = logging.getLogger("synchub.http")


class _RedactQueryStrings(logging.Filter):
    """httpx logs every request's full URL at INFO: drop query strings (Shopee's access_token)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) and arg.query else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_RedactQueryStrings())

Classifier = Callable[[httpx.Response, str], MarketplaceError | None]


@dataclass(frozen=True)
class HttpSettings:
    timeout_seconds: float = 30.0
    max_attempts: int = 6
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 60.0


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds, whether given as a number or an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify_by_status(
    marketplace: str, response: httpx.Response, operation: str, message: str, code: str | None
) -> MarketplaceError | None:
    """The exception that an HTTP status means, with the API's own message and code."""
    status = response.status_code
    if status < 400:
        return None
    request_id = response.headers.get("x-request-id") or response.headers.get("x-amzn-requestid")
    args = (marketplace, operation, message)
    kw = {"status": status, "code": code, "request_id": request_id}
    if status == 429:
        return RateLimitedError(*args, retry_after=retry_after_seconds(response), **kw)
    if status >= 500 or status == 408:
        return TransientError(*args, retry_after=retry_after_seconds(response), **kw)
    if status in (401, 403):
        return AuthError(*args, **kw)
    if status == 404:
        return NotFoundError(*args, **kw)
    return InvalidRequestError(*args, **kw)


class ApiHttp:
    """One API's HTTP client: `send()` runs a request builder with retries and pacing."""

    def __init__(
        self,
        marketplace: str,
        base_url: str,
        classify: Classifier,
        limiter: RateLimiter | None = None,
        settings: HttpSettings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.marketplace = marketplace
        self.settings = settings or HttpSettings()
        self.limiter = limiter
        self.stats: Counter[str] = Counter()
        self.throttled_seconds = 0.0  # time spent waiting for our own rate limiter
        self._classify = classify
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=self.settings.timeout_seconds,
            transport=transport,
            headers={"user-agent": "synchub-pipelines/0.1"},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    def close(self) -> None:
        self._client.close()

    def build(self, method: str, path: str, **kw: object) -> httpx.Request:
        return self._client.build_request(method, path, **kw)  # type: ignore[arg-type]

    def send(
        self,
        operation: str,
        build: Callable[[], httpx.Request],
        reauthenticate: Callable[[], None] | None = None,
    ) -> httpx.Response:
        """Send what `build()` makes (rebuilt per attempt); raise a MarketplaceError on failure.

        `reauthenticate` is called once if the API refuses the credentials, and the call is
        tried again: tokens can be revoked or expire early.
        """
        reauthenticated = False
        for attempt in self._retrying(operation):
            with attempt:
                # Building may refresh the token; a refused refresh is final, not a reason
                # to re-authenticate again.
                request = build()
                try:
                    return self._send_once(operation, request)
                except AuthError:
                    if reauthenticate is None or reauthenticated:
                        raise
                    reauthenticated = True
                    reauthenticate()
                    return self._send_once(operation, build())
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _send_once(self, operation: str, request: httpx.Request) -> httpx.Response:
        breaker = breaker_for(self.marketplace, operation)
        breaker.before_call(operation)
        if self.limiter is not None:
            self.throttled_seconds += self.limiter.acquire()
        started = time.perf_counter()
        self.stats["requests"] += 1
        self.stats[f"calls.{operation}"] += 1
        try:
            response = self._client.send(request)
        except httpx.TimeoutException as exc:
            timed_out = TransientError(
                self.marketplace,
                operation,
                f"timed out ({type(exc).__name__}) reaching {request.url.host}",
            )
            breaker.on_failure(timed_out)
            raise timed_out from None
        except httpx.TransportError as exc:
            dropped = TransientError(
                self.marketplace,
                operation,
                f"network error ({type(exc).__name__}) reaching {request.url.host}",
            )
            breaker.on_failure(dropped)
            raise dropped from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug(
            "%s %s %s → %s in %.0f ms",
            self.marketplace,
            request.method,
            request.url.path,
            response.status_code,
            elapsed_ms,
        )
        error = self._classify(response, operation)
        if isinstance(error, TransientError):
            breaker.on_failure(error)
        else:
            breaker.on_success()  # it answered: a 4xx or a 429 is an API that is up
        if error is not None:
            self.stats[f"errors.{type(error).__name__}"] += 1
            if isinstance(error, RateLimitedError) and self.limiter is not None:
                self.limiter.penalize(1.0 if error.retry_after is None else error.retry_after)
            raise error
        return response

    def _retrying(self, operation: str) -> Retrying:
        settings = self.settings

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hinted = getattr(exc, "retry_after", None)
            ceiling = min(
                settings.backoff_max_seconds,
                settings.backoff_base_seconds * 2 ** (state.attempt_number - 1),
            )
            pause = random.uniform(0, ceiling)  # full jitter
            if hinted is not None:
                pause = max(pause, min(float(hinted), settings.backoff_max_seconds))
            return pause

        def before_sleep(state: RetryCallState) -> None:
            self.stats["retries"] += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s; retrying in %.1fs (attempt %d of %d)",
                exc,
                state.next_action.sleep if state.next_action else 0.0,
                state.attempt_number + 1,
                settings.max_attempts,
            )

        return Retrying(
            stop=stop_after_attempt(settings.max_attempts),
            wait=wait,
            retry=retry_if_exception(lambda e: isinstance(e, MarketplaceError) and e.retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
