"""The shared HTTP layer (ApiHttp) and the rate limiter, at unit level with httpx.MockTransport.

Retries sleep through tenacity's default sleep, which calls `time.sleep`; the tests that
check how long a retry waits replace `time.sleep` with a recorder, so they assert the
waits chosen without spending them (and never assert wall-clock durations).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from synchub_pipelines.marketplaces.errors import (
    AuthError,
    InvalidRequestError,
    MarketplaceError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from synchub_pipelines.marketplaces.http import (
    ApiHttp,
    HttpSettings,
    classify_by_status,
    retry_after_seconds,
)
from synchub_pipelines.marketplaces.ratelimit import RateLimiter, shared_limiter

FAST = HttpSettings(
    timeout_seconds=5, max_attempts=4, backoff_base_seconds=0.001, backoff_max_seconds=0.01
)
Handler = Callable[[httpx.Request], httpx.Response]


def classify(response: httpx.Response, operation: str) -> MarketplaceError | None:
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    return classify_by_status(
        "testapi", response, operation, str(body.get("message") or "error"), body.get("code")
    )


class Script:
    """A MockTransport that answers from a list, one response (or exception) per request."""

    def __init__(self, *steps: httpx.Response | Exception | int) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, int):
            return httpx.Response(step, json={"message": f"status {step}"})
        return step


def make_http(script: Script, settings: HttpSettings = FAST, **kw: object) -> ApiHttp:
    return ApiHttp(
        "testapi",
        "https://api.example.test",
        classify,
        settings=settings,
        transport=httpx.MockTransport(script),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Record the pauses tenacity asks for instead of sleeping them."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    yield recorded


def get(http: ApiHttp, path: str = "/things", **kw: object) -> Callable[[], httpx.Request]:
    return lambda: http.build("GET", path, **kw)


def test_success_is_returned_at_once() -> None:
    script = Script(httpx.Response(200, json={"ok": True}))
    http = make_http(script)
    assert http.send("things.get", get(http)).json() == {"ok": True}
    assert len(script.requests) == 1
    assert http.stats["requests"] == 1
    assert http.stats["retries"] == 0


def test_429_is_retried_and_retry_after_is_honoured(sleeps: list[float]) -> None:
    settings = HttpSettings(max_attempts=4, backoff_base_seconds=0.001, backoff_max_seconds=60)
    script = Script(
        httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "slow down"}),
        httpx.Response(200, json={"ok": True}),
    )
    http = make_http(script, settings)
    assert http.send("things.get", get(http)).json() == {"ok": True}
    assert len(script.requests) == 2
    assert http.stats["retries"] == 1
    # The jittered backoff alone would pause at most 1 ms; the server asked for 7 s.
    assert len(sleeps) == 1
    assert sleeps[0] >= 7


def test_retry_after_beyond_the_backoff_ceiling_is_capped(sleeps: list[float]) -> None:
    settings = HttpSettings(max_attempts=3, backoff_base_seconds=0.001, backoff_max_seconds=2)
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}), 200)
    http = make_http(script, settings)
    http.send("things.get", get(http))
    assert sleeps and 0 < sleeps[0] <= 2


def test_429_with_retry_after_zero_retries_until_success() -> None:
    script = Script(
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(200, json={"n": 3}),
    )
    http = make_http(script)
    assert http.send("things.get", get(http)).json() == {"n": 3}
    assert len(script.requests) == 3
    assert http.stats["errors.RateLimitedError"] == 2


def test_503_is_retried_then_succeeds() -> None:
    script = Script(503, 502, httpx.Response(200, json={"ok": True}))
    http = make_http(script)
    assert http.send("things.get", get(http)).status_code == 200
    assert len(script.requests) == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (404, NotFoundError),
        (409, InvalidRequestError),
        (422, InvalidRequestError),
    ],
)
def test_other_4xx_are_not_retried(status: int, error: type[MarketplaceError]) -> None:
    script = Script(status, 200)
    http = make_http(script)
    with pytest.raises(error) as caught:
        http.send("things.get", get(http))
    assert len(script.requests) == 1
    assert caught.value.status == status
    assert not caught.value.retryable


def test_network_errors_are_retried() -> None:
    script = Script(
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(200, json={"ok": True}),
    )
    http = make_http(script)
    assert http.send("things.get", get(http)).json() == {"ok": True}
    assert len(script.requests) == 3


def test_exhausted_attempts_raise_the_last_error() -> None:
    script = Script(
        httpx.Response(500, json={"message": "first"}),
        httpx.Response(503, json={"message": "second"}),
        httpx.Response(502, json={"message": "third"}),
        httpx.Response(504, json={"message": "last"}),
    )
    http = make_http(script)  # max_attempts=4
    with pytest.raises(TransientError) as caught:
        http.send("things.get", get(http))
    assert len(script.requests) == 4
    assert caught.value.status == 504
    assert caught.value.detail == "last"
    assert "testapi things.get failed" in str(caught.value)


def test_network_error_on_every_attempt_raises_a_transient_error() -> None:
    script = Script(httpx.ConnectError("refused"))
    http = make_http(script)
    with pytest.raises(TransientError, match="network error"):
        http.send("things.get", get(http))
    assert len(script.requests) == FAST.max_attempts


def test_request_is_rebuilt_on_every_attempt() -> None:
    script = Script(503, 503, 200)
    http = make_http(script)
    built: list[int] = []

    def build() -> httpx.Request:
        built.append(len(built))
        return http.build("GET", "/things", headers={"x-attempt": str(len(built))})

    http.send("things.get", build)
    assert [r.headers["x-attempt"] for r in script.requests] == ["1", "2", "3"]


def test_401_reauthenticates_once_then_succeeds() -> None:
    script = Script(401, httpx.Response(200, json={"ok": True}))
    http = make_http(script)
    token = {"value": "old"}
    calls: list[str] = []

    def reauthenticate() -> None:
        calls.append(token["value"])
        token["value"] = "new"

    def build() -> httpx.Request:
        return http.build("GET", "/me", headers={"authorization": f"Bearer {token['value']}"})

    assert http.send("me", build, reauthenticate=reauthenticate).json() == {"ok": True}
    assert calls == ["old"]
    assert [r.headers["authorization"] for r in script.requests] == ["Bearer old", "Bearer new"]


def test_401_again_after_reauthenticating_raises_without_looping() -> None:
    script = Script(401)
    http = make_http(script)
    calls: list[int] = []
    with pytest.raises(AuthError):
        http.send("me", get(http, "/me"), reauthenticate=lambda: calls.append(1))
    assert calls == [1]
    assert len(script.requests) == 2


def test_401_without_reauthenticate_is_not_retried() -> None:
    script = Script(401, 200)
    http = make_http(script)
    with pytest.raises(AuthError):
        http.send("me", get(http, "/me"))
    assert len(script.requests) == 1


def test_secrets_never_reach_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(
        httpx.Response(503, json={"message": "busy"}),
        httpx.Response(400, json={"message": "bad things", "code": "bad_request"}),
    )
    http = make_http(script)

    def build() -> httpx.Request:
        return http.build(
            "GET",
            "/orders/search",
            params={"access_token": "SECRET123", "seller": "42"},
            headers={"Authorization": "Bearer SECRET456"},
        )

    with pytest.raises(InvalidRequestError) as caught:
        http.send("orders.search", build)
    assert len(script.requests) == 2  # the 503 was retried, so a retry warning was logged
    assert script.requests[0].url.params["access_token"] == "SECRET123"  # it was really sent
    shown = [str(caught.value), repr(caught.value), caplog.text]
    shown += [str(a) for a in caught.value.args]
    assert caplog.records, "the layer logs its calls and retries"
    for text in shown:
        assert "SECRET123" not in text
        assert "SECRET456" not in text
    assert "bad things" in str(caught.value)
    assert caught.value.__cause__ is None


def test_network_error_message_does_not_carry_the_url() -> None:
    script = Script(
        httpx.ConnectError("failed for https://api.example.test/x?access_token=SECRET123")
    )
    http = make_http(script, HttpSettings(max_attempts=1))
    with pytest.raises(TransientError) as caught:
        http.send("x", get(http, "/x", params={"access_token": "SECRET123"}))
    assert "SECRET123" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(("retry_after", "penalty"), [("7", 7.0), ("0", 0.0), (None, 1.0)])
def test_429_penalizes_the_shared_limiter_by_the_servers_hint(
    monkeypatch: pytest.MonkeyPatch,
    sleeps: list[float],
    retry_after: str | None,
    penalty: float,
) -> None:
    limiter = RateLimiter(rate=1000)
    penalties: list[float] = []
    # Record the penalty instead of applying it: the next acquire would really wait.
    monkeypatch.setattr(limiter, "penalize", penalties.append)
    script = Script(response_with(retry_after), 200)
    http = make_http(script, limiter=limiter)
    http.send("things.get", get(http))
    assert penalties == [penalty]
    assert len(script.requests) == 2


def test_httpx_request_logs_lose_their_query_string(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(200)
    http = make_http(script)
    http.send("x", get(http, "/orders", params={"access_token": "SECRET123"}))
    assert "/orders" in caplog.text  # httpx still says what it called…
    assert "SECRET123" not in caplog.text  # …without the query string


# --- Retry-After parsing -------------------------------------------------------------------


def response_with(retry_after: str | None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(429, headers=headers)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), ("1.5", 1.5), ("-4", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_numbers(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(response_with(value)) == expected


def test_retry_after_http_dates() -> None:
    future = datetime.now(UTC) + timedelta(seconds=120)
    seconds = retry_after_seconds(response_with(format_datetime(future, usegmt=True)))
    assert seconds is not None
    assert 60 < seconds <= 120
    past = datetime.now(UTC) - timedelta(hours=1)
    assert retry_after_seconds(response_with(format_datetime(past, usegmt=True))) == 0.0


def test_classification_carries_retry_after_and_request_id() -> None:
    response = httpx.Response(
        429,
        headers={"Retry-After": "2", "x-request-id": "req-1"},
        request=httpx.Request("GET", "https://x.test/"),
    )
    error = classify_by_status("testapi", response, "op", "slow down", "too_many")
    assert isinstance(error, RateLimitedError)
    assert error.retryable and error.retry_after == 2.0
    assert error.request_id == "req-1"
    assert "req-1" in str(error) and "too_many" in str(error)
    assert classify_by_status("testapi", httpx.Response(204), "op", "", None) is None
    assert isinstance(classify_by_status("t", httpx.Response(408), "op", "", None), TransientError)
    assert isinstance(classify_by_status("t", httpx.Response(403), "op", "", None), AuthError)


# --- the rate limiter ----------------------------------------------------------------------


def test_limiter_lets_a_burst_through_without_waiting() -> None:
    limiter = RateLimiter(rate=1000)
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == 0.0


def test_limiter_waits_once_the_burst_is_spent() -> None:
    limiter = RateLimiter(rate=1000, burst=1)
    assert limiter.acquire() == 0.0
    assert limiter.acquire() > 0


def test_penalize_makes_the_next_acquire_wait() -> None:
    limiter = RateLimiter(rate=1000)
    assert limiter.acquire() == 0.0
    limiter.penalize(0.01)
    assert limiter.acquire() > 0


def test_limiter_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0)


def test_shared_limiter_is_one_per_quota_key() -> None:
    a = shared_limiter("test-http-layer:app-1", 10)
    assert shared_limiter("test-http-layer:app-1", 10) is a
    assert shared_limiter("test-http-layer:app-2", 10) is not a


def test_a_shared_limiter_keeps_a_tenth_of_a_second_of_calls_back() -> None:
    # The server's bucket starts when our first call arrives: tokens kept back absorb the
    # latency spread of calls paced at the full rate (at least one token, if the burst has it).
    assert shared_limiter("test-http-layer:ml", 100, 200).headroom == 10.0
    assert shared_limiter("test-http-layer:bling", 3, 3).headroom == 1.0
    assert shared_limiter("test-http-layer:one", 5, 1).headroom == 0.0
    assert shared_limiter("test-http-layer:none", 100, 200, headroom=0).headroom == 0.0
    limiter = shared_limiter("test-http-layer:paced", 10, 20)
    waited = sum(limiter.acquire() for _ in range(19))
    assert waited == 0  # the burst less the kept-back token went at once
    assert limiter.acquire() > 0
