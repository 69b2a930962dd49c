"""Fixtures for the receiver tests (helpers are in harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from synchub_pipelines.webhooks.config import ReceiverSettings
from synchub_pipelines_tests.webhooks.harness import ServedReceiver


@pytest.fixture
def serve_receiver() -> Iterator[Any]:
    started: list[ServedReceiver] = []

    def serve(settings: ReceiverSettings) -> ServedReceiver:
        served = ServedReceiver(settings).start()
        started.append(served)
        return served

    yield serve
    for served in started:
        served.stop()
