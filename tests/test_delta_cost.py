"""A delta's cost follows the changes, not the directory (issue 14): the documents it reads
and the commands it sends are the same for a directory five times larger, and what the
publisher holds after it (the acknowledgement digest) is kept without re-reading the ledger
(the R10 state machine checks that digest against the reference applier's)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import monitoring

from directory_svc import clock
from directory_svc.config import Settings
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services import listings as listing_service
from directory_svc.services.publishers import add_publisher, export_now
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import open_storage


class Reads(monitoring.CommandListener):
    """Commands sent, and documents the server returned in cursor batches."""

    def __init__(self) -> None:
        self.commands = 0
        self.documents = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        cursor = event.reply.get("cursor") if isinstance(event.reply, dict) else None
        if isinstance(cursor, dict):
            batch = cursor.get("firstBatch", cursor.get("nextBatch", []))
            self.documents += len(batch)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Moving:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


async def _delta_cost(settings: Settings, tmp_path: Path, size: int) -> tuple[Reads, Any]:
    """Seed ``size`` listings, full export, change the same 4 listings, measure the delta."""
    reads = Reads()
    db = replace(settings, db_name=f"{settings.db_name}_{size}")
    storage = await open_storage(db, listeners=[reads])
    out = tmp_path / str(size)
    out.mkdir()
    try:
        with clock.using(Moving()) as moving:
            await seed_listings(storage.listings, size, seed=41)
            profile = PublisherProfile("pub", PublisherKind.DIRECTORY)
            await add_publisher(storage.publishers, Publisher(profile, "P"))
            moving.at += timedelta(minutes=5)  # the seed leaves the delta's overlap window
            assert settings.keys_dir is not None
            await export_now(storage, settings.keys_dir, "pub", out, True)
            moving.at += timedelta(minutes=5)
            for n, item in enumerate(list(demo_listings(size, seed=41))[:4]):
                current = await listing_service.get_listing(storage.listings, item.id)
                choices = replace(current.choices, no_marketing=not current.choices.no_marketing)
                await listing_service.change_listing(
                    storage.listings,
                    item.id,
                    current.version,
                    lambda x, c=choices: replace(x, choices=c),
                    Change(f"d-{n}", Provenance(Actor.SUBSCRIBER, Channel.WEB, moving.at, "t")),
                )
            moving.at += timedelta(minutes=5)
            reads.commands = reads.documents = 0
            result = await export_now(storage, settings.keys_dir, "pub", out)
            measured = Reads()
            measured.commands, measured.documents = reads.commands, reads.documents
            run = (await storage.runs.list("pub"))[0]
            return measured, (result, run, storage, out)
    finally:
        await storage.client.drop_database(db.db_name)  # the fixture drops its own only
        await storage.close()


async def test_a_delta_reads_what_changed_not_the_directory(
    settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    init_keys(keys_dir)
    small, (small_result, small_run, _, _) = await _delta_cost(settings, tmp_path, 60)
    large, (large_result, large_run, _, _) = await _delta_cost(settings, tmp_path, 300)
    assert small_result.kind.value == large_result.kind.value == "delta"
    # The same changes cost the same, whatever the directory's size (homonymy groups of the
    # changed listings may differ by a few members).
    assert large.documents <= small.documents + 10, (small.documents, large.documents)
    assert large.commands <= small.commands + 2, (small.commands, large.commands)
    assert small_run.holds_digest  # kept without a read of the ledger
    assert large_run.holds_digest
