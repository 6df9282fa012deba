"""Access-log group commit (issue 14): concurrent reads share one insert, each caller waits
for its own record, and a failed insert fails every read it carried (fail-closed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect, PyMongoError

from directory_svc.config import Settings
from directory_svc.domain.access import AccessRecord
from directory_svc.storage.access_log import AccessLog
from directory_svc.storage.command_counter import CommandCounter


def _record(n: int) -> AccessRecord:
    return AccessRecord(datetime.now(UTC), f"agent-{n}", "support", "lookup", "call", f"L{n}")


async def test_concurrent_records_share_one_insert_and_all_are_stored(settings: Settings) -> None:
    counter = CommandCounter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri, event_listeners=[counter], tz_aware=True
    )
    try:
        log = AccessLog(client[settings.db_name])
        await asyncio.gather(*(log.record([_record(n)]) for n in range(20)))
        assert counter.counts["insert"] == 1
        await log.record([_record(99)])  # alone: written at once
        assert counter.counts["insert"] == 2
        stored = await log.query(limit=100)
        assert sorted(r.agent for r in stored) == sorted(
            [f"agent-{n}" for n in range(20)] + ["agent-99"]
        )
    finally:
        await client.close()


async def test_a_failed_insert_fails_every_caller_it_carried(settings: Settings) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        log = AccessLog(client[settings.db_name])

        async def refuse(*args: Any, **kwargs: Any) -> None:
            raise AutoReconnect("down")

        log._col.insert_many = refuse  # type: ignore[method-assign]
        outcomes = await asyncio.gather(
            *(log.record([_record(n)]) for n in range(5)), return_exceptions=True
        )
        assert all(isinstance(o, AutoReconnect) for o in outcomes)
        with pytest.raises(AutoReconnect):
            await log.record([_record(9)])
    finally:
        await client.close()


async def test_a_frozen_database_fails_the_callers_within_the_log_timeout(
    settings: Settings,
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        log = AccessLog(client[settings.db_name], timeout_s=0.2)

        async def frozen(*args: Any, **kwargs: Any) -> None:
            await asyncio.Event().wait()  # the database never answers

        log._col.insert_many = frozen  # type: ignore[method-assign]
        # The guard only turns a hang into a failure; the log's own timeout is 0.2 s.
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(log.record([_record(n)]) for n in range(3)), return_exceptions=True),
            timeout=120,
        )
        assert all(isinstance(o, PyMongoError) for o in outcomes), outcomes
    finally:
        await client.close()
