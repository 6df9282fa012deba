"""The export scheduler: each due export exactly once across processes; retries."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from directory_svc.config import Settings
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services import scheduler as scheduler_module
from directory_svc.services.publishers import add_publisher
from directory_svc.services.scheduler import Scheduler, last_due
from directory_svc.services.seed import seed_listings
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import Storage, open_storage


def test_last_due_follows_paris_time() -> None:
    # 03:00 in Paris is 01:00 UTC in summer and 02:00 UTC in winter.
    summer = datetime(2026, 7, 10, 12, 0, tzinfo=UTC)
    winter = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
    assert last_due("0 3 * * *", summer) == datetime(2026, 7, 10, 1, 0, tzinfo=UTC)
    assert last_due("0 3 * * *", winter) == datetime(2026, 12, 10, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_two_processes_run_each_due_export_exactly_once(
    storage: Storage, settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    init_keys(keys_dir)
    await seed_listings(storage.listings, 50, seed=5)
    profile = PublisherProfile(id="pub-s", kind=PublisherKind.ENQUIRY)
    await add_publisher(
        storage.publishers, Publisher(profile, "118 Exemple", schedule="*/5 * * * *")
    )
    other = await open_storage(settings)  # a second process's own client
    clock = Clock(datetime(2026, 6, 1, 8, 2, tzinfo=UTC))
    out = tmp_path / "feeds"
    a = Scheduler(storage, keys_dir, out, clock)
    b = Scheduler(other, keys_dir, out, clock)
    try:
        ran: list[list[str]] = []
        for _ in range(3):
            ran += await asyncio.gather(a.tick(), b.tick())
        clock.now += timedelta(minutes=5)
        for _ in range(3):
            ran += await asyncio.gather(a.tick(), b.tick())
    finally:
        await other.close()
    folders = sorted(name for names in ran for name in names)
    assert folders == ["pub-s-000001-full", "pub-s-000002-delta"]
    assert sorted(p.name for p in out.iterdir()) == folders


async def test_a_failed_export_is_retried_after_backoff(
    storage: Storage, keys_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    init_keys(keys_dir)
    profile = PublisherProfile(id="pub-f", kind=PublisherKind.DIRECTORY)
    await add_publisher(storage.publishers, Publisher(profile, "Exemple", schedule="0 3 * * *"))
    clock = Clock(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    scheduler = Scheduler(storage, keys_dir, tmp_path / "feeds", clock)
    real = scheduler_module.export_now
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk unavailable")
        return await real(*args, **kwargs)

    monkeypatch.setattr(scheduler_module, "export_now", flaky)
    assert await scheduler.tick() == []  # attempt 1 fails
    assert await scheduler.tick() == []  # back-off: not yet
    clock.now += timedelta(minutes=1, seconds=1)
    assert await scheduler.tick() == ["pub-f-000001-full"]
    assert await scheduler.tick() == []  # done for this slot
    attempts = await storage.slots.attempts("pub-f", last_due("0 3 * * *", clock.now))
    assert [(x.attempt, x.status) for x in attempts] == [(1, "failed"), (2, "succeeded")]
