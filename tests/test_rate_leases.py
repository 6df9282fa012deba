"""Rate counters reserve allowance ahead (issue 14): most counts cost no database command,
and what every process is granted together never exceeds the limit."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from directory_svc.config import Settings
from directory_svc.storage.command_counter import CommandCounter
from directory_svc.storage.rate_counters import RateCounters
from tests.conftest import StillClock

Counted = tuple[AsyncMongoClient[dict[str, object]], CommandCounter]


@pytest.fixture
async def counted(
    settings: Settings,
) -> AsyncIterator[Counted]:
    counter = CommandCounter()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongodb_uri, event_listeners=[counter]
    )
    try:
        yield client, counter
    finally:
        await client.close()


async def test_one_process_gets_exactly_the_limit_in_few_commands(
    settings: Settings,
    counted: Counted,
    still: StillClock,
) -> None:
    client, counter = counted
    counters = RateCounters(client[settings.db_name])
    granted = [(await counters.take("k", window_s=3600, limit=300)).granted for _ in range(320)]
    assert granted == [True] * 300 + [False] * 20
    assert counter.counts["findAndModify"] < 60  # one per reservation, not one per count


async def test_processes_together_never_exceed_the_limit(
    settings: Settings,
    counted: Counted,
    still: StillClock,
) -> None:
    client, _ = counted
    processes = [RateCounters(client[settings.db_name]) for _ in range(4)]
    rng = random.Random(3)
    granted = 0
    for _ in range(400):
        if (await rng.choice(processes).take("k", window_s=3600, limit=250)).granted:
            granted += 1
    assert 200 <= granted <= 250  # reserved but unused units refuse early, never late


async def test_small_limits_count_exactly_across_processes(
    settings: Settings,
    counted: Counted,
    still: StillClock,
) -> None:
    client, _ = counted
    one, two = (RateCounters(client[settings.db_name]) for _ in range(2))
    seen = [(await p.take("m", window_s=60, limit=5)).granted for p in (one, two) * 4]
    assert seen == [True] * 5 + [False] * 3
