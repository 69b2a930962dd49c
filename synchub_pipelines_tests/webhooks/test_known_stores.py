"""The known-stores cache: one query answers many questions, and a miss is never stale."""

from __future__ import annotations

import asyncio
import threading

import pytest

from synchub_pipelines.webhooks.store import KnownStores, StorageUnavailable


class Source:
    """Stands in for `load_active_store_ids`, counting the queries it answers."""

    def __init__(self, *ids: str) -> None:
        self.ids = set(ids)
        self.loads = 0
        self.down = False
        self.release = threading.Event()
        self.release.set()

    def __call__(self) -> frozenset[str]:
        self.release.wait(10)
        self.loads += 1
        if self.down:
            raise StorageUnavailable("OperationalError: connection refused")
        return frozenset(self.ids)


def test_concurrent_first_questions_share_one_load() -> None:
    async def scenario() -> list[bool]:
        source = Source("shopee-1")
        source.release.clear()  # the first load is slow: everyone else arrives meanwhile
        known = KnownStores(source, min_interval=0.05)
        asking = [asyncio.create_task(known.contains("shopee-1")) for _ in range(20)]
        await asyncio.sleep(0.05)
        source.release.set()
        answers = await asyncio.gather(*asking)
        assert source.loads == 1
        return answers

    assert asyncio.run(scenario()) == [True] * 20


def test_a_store_connected_after_the_last_load_is_found_on_its_first_event() -> None:
    async def scenario() -> None:
        source = Source("mercadolivre-1")
        known = KnownStores(source, max_age=3600, min_interval=0.01)
        assert await known.contains("mercadolivre-1")
        source.ids.add("mercadolivre-2")  # `synchub connect` commits the row
        assert await known.contains("mercadolivre-2")
        assert source.loads == 2

    asyncio.run(scenario())


def test_a_stream_of_unknown_store_events_costs_few_queries() -> None:
    async def scenario() -> None:
        source = Source("tiktok-1")
        # Long enough that all hundred misses are waiting when the second load starts, even
        # on a busy machine (the first load's start opens the interval).
        known = KnownStores(source, max_age=3600, min_interval=0.5)
        assert await known.contains("tiktok-1")
        answers = await asyncio.gather(*(known.contains("tiktok-999") for _ in range(100)))
        assert answers == [False] * 100
        # the first load, then one load that answers every miss waiting for it
        assert source.loads == 2

    asyncio.run(scenario())


def test_when_the_database_is_down_a_miss_cannot_be_told_but_a_hit_can() -> None:
    async def scenario() -> None:
        source = Source("bling-1", "shopee-1")
        known = KnownStores(source, max_age=0.0, min_interval=0.01)
        assert await known.contains("shopee-1")
        source.down = True
        assert await known.contains("shopee-1")  # the list from before
        with pytest.raises(StorageUnavailable):
            await known.contains("shopee-2")
        await known.close()

    asyncio.run(scenario())


def test_down_before_the_first_load_raises_then_recovers() -> None:
    async def scenario() -> None:
        source = Source("shopee-1")
        source.down = True
        known = KnownStores(source, min_interval=0.01)
        results = await asyncio.gather(
            *(known.contains("shopee-1") for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, StorageUnavailable) for r in results)
        assert source.loads == 1  # waiters take the failed load's answer, not five tries
        source.down = False
        assert await known.contains("shopee-1")

    asyncio.run(scenario())
