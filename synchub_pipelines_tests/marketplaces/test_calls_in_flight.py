"""Per-order API calls run a few at a time: order kept, pool bounded, a failure stops the rest."""

from __future__ import annotations

import threading
import time

import pytest

from synchub_pipelines.marketplaces.base import in_flight
from synchub_pipelines.marketplaces.errors import TransientError


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[int] = []

    def __call__(self, value: int) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(value)
        # later values finish first, so an unordered gather would show
        time.sleep(0.02 * (10 - value % 10))
        with self.lock:
            self.running -= 1
        return value * value


def test_results_come_back_in_the_values_order_with_calls_overlapping() -> None:
    recorder = Recorder()
    assert in_flight(recorder, list(range(20)), workers=4) == [v * v for v in range(20)]
    assert recorder.most == 4  # overlapping, and never more than the pool


def test_one_value_or_one_worker_runs_in_the_callers_thread() -> None:
    caller = threading.get_ident()
    seen: list[int] = []

    def where(value: int) -> int:
        seen.append(threading.get_ident())
        return value

    assert in_flight(where, [1]) == [1]
    assert in_flight(where, [1, 2, 3], workers=1) == [1, 2, 3]
    assert set(seen) == {caller}


def test_a_failing_call_raises_and_the_calls_not_started_are_not_made() -> None:
    started: list[int] = []

    def call(value: int) -> int:
        started.append(value)
        time.sleep(0.01)
        if value == 2:
            raise TransientError("shopee", "logistics.get_tracking_info", "down", status=500)
        return value

    with pytest.raises(TransientError, match="HTTP 500"):
        in_flight(call, list(range(200)), workers=4)
    time.sleep(0.1)
    assert 3 <= len(started) < 200  # the pool's share ran; the rest was cancelled
