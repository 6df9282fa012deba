"""Upgrades lose nothing (issue 22): databases written by earlier commits' own code
(``tests/fixtures/upgrade/``) are refused until migrated, then migrate to this release with
every subscriber's choices and consents kept (but what a documented migration changes),
their history chains intact, every listing and publisher accepting its next change, and
each publisher brought by its next delta to exactly a fresh full feed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.exports import FeedKind
from directory_svc.domain.history import Change
from directory_svc.domain.listings import Listing, Status
from directory_svc.services import listings as listing_service
from directory_svc.services.maintenance import verify_history
from directory_svc.services.migrate import migrate
from directory_svc.services.publishers import export_now
from directory_svc.storage.migrations import MIGRATIONS, SCHEMA_VERSION, Migration
from directory_svc.storage.migrations.numbers import fixed
from directory_svc.storage.schema import SchemaMismatch, SchemaVersions
from directory_svc.storage.setup import Storage, open_storage
from exporters.applier import apply_feed
from exporters.manifest import load_public_key
from tests.test_applier import expected_digest
from tests.test_cli_serve import run_cli
from tests.upgrade_data import FIXTURES, fixture_settings, restore

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def _listings(storage: Storage) -> dict[str, Listing]:
    return {item.id: item async for batch in storage.listings.stream() for item in batch}


def test_there_are_fixtures_from_earlier_releases() -> None:
    assert len(FIXTURES) >= 2


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
async def test_an_earlier_release_migrates_losing_nothing(
    fixture: Path, mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    await restore(mongo_uri, db_name, fixture)
    settings = fixture_settings(mongo_uri, db_name, fixture, tmp_path)
    assert settings.keys_dir is not None
    with pytest.raises(SchemaMismatch, match="run `directory-svc migrate` first"):
        await open_storage(settings)
    raw = await open_storage(settings, schema=False, indexes=False)
    before = await _listings(raw)  # read with this code's readers of the older formats
    await raw.close()

    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}
    done, _ = run_cli(env, "migrate", keys_dir=settings.keys_dir)
    assert done.returncode == 0, done.stderr
    assert f"stored format 0 -> {SCHEMA_VERSION}" in done.stdout
    for name in ("0412345678", "Martin", "abonne"):  # counts only, never values
        assert name not in done.stdout + done.stderr
    again, _ = run_cli(env, "migrate", keys_dir=settings.keys_dir)
    assert f"stored format {SCHEMA_VERSION}: up to date" in again.stdout

    storage = await open_storage(settings)
    try:
        await _check_upgraded(storage, settings.keys_dir, fixture, before, tmp_path)
    finally:
        await storage.close()


async def _check_upgraded(
    storage: Storage, keys: Path, fixture: Path, before: dict[str, Listing], tmp_path: Path
) -> None:
    after = await _listings(storage)
    assert after.keys() == before.keys()
    for listing_id, old in before.items():
        new, documented = after[listing_id], fixed(old)
        assert (new.choices, new.status, new.account_id) == (
            old.choices,
            old.status,
            old.account_id,
        )
        assert new.numbers == (documented or old).numbers  # consents kept
        if documented is not None:  # the subscriber sees why
            last = (await storage.listings.history(listing_id))[-1]
            assert last.provenance.channel is Channel.MIGRATION
            assert new.version == old.version + 1
        else:
            assert new.version == old.version
    assert await verify_history(storage.listings) == []

    names = await storage.db.list_collection_names()
    assert "feed_ledger" not in names
    for name in names:
        if name.startswith("feed_ledger_g"):  # no entry hash stored plain
            assert await storage.db[name].find_one({"p": {"$exists": True}}) is None

    operator = load_public_key(keys / "signing.pub")
    for publisher in await storage.publishers.all():
        copy = tmp_path / f"copy-{fixture.name}-{publisher.id}"
        for folder in sorted((fixture / "feeds").glob(f"{publisher.id}-*")):
            apply_feed(folder, copy, operator_key=operator)  # what the publisher holds
        result = await export_now(storage, keys, publisher.id, tmp_path / "feeds")
        assert result.kind is FeedKind.DELTA
        applied = apply_feed(result.folder, copy, operator_key=operator)
        assert applied.copy_digest == await expected_digest(storage, publisher)
        head = await storage.ledger.head(publisher.id)
        assert head is not None
        assert head.holds == applied.copy_digest  # its acknowledgements verify
        assert await storage.publishers.save(publisher) is not None  # accepts its next save

    provenance = Provenance(Actor.SUBSCRIBER, Channel.WEB, AT, "notice-2026-01")
    for listing in after.values():
        if listing.status is Status.TERMINATED:
            continue
        change = Change(f"after-upgrade-{listing.id}", provenance)
        changed = await listing_service.change_listing(
            storage.listings, listing.id, listing.version,
            lambda i: replace(i, mention="Après la mise à jour"), change,
        )  # fmt: skip
        assert changed.version == listing.version + 1
    assert await verify_history(storage.listings) == []


class Crash(Exception):
    """Stands for the process being killed between two batches."""


class CrashAfter:
    """A reporter that 'kills' the run after ``ticks`` batches (never, when None)."""

    def __init__(self, ticks: int | None) -> None:
        self.left, self.seen = ticks, 0

    def start(self, migration: Migration) -> None:
        pass

    def advance(self, n: int) -> None:
        self.seen += 1
        if self.left is not None:
            self.left -= 1
            if self.left < 0:
                raise Crash

    def finish(self, migration: Migration, counts: Any) -> None:
        pass


async def _snapshot(storage: Storage) -> dict[str, Any]:
    """What a migration's result is made of (no timestamps: a run is not another's twin)."""
    listings = await _listings(storage)
    histories = {}
    for listing_id in listings:
        entries = await storage.listings.history(listing_id)
        histories[listing_id] = [
            (e.seq, e.change_id, e.provenance.channel, e.reason, e.before, e.after) for e in entries
        ]
    ledger = {}
    for publisher in await storage.publishers.all():
        head = await storage.ledger.head(publisher.id)
        if head is None:
            continue
        rows = storage.db[f"feed_ledger_{head.generation}_{publisher.id}"]
        ids = [d["_id"] async for d in rows.find({}, {"_id": 1})]
        ledger[publisher.id] = (head, await storage.ledger.get(publisher.id, ids, head))
    log = [(n, name) for n, name, _, _ in await SchemaVersions(storage.db).log()]
    return {
        "listings": listings,
        "histories": histories,
        "ledger": ledger,
        "publishers": await storage.publishers.all(),
        "collections": sorted(await storage.db.list_collection_names()),
        "version": await SchemaVersions(storage.db).recorded(),
        "log": log,
    }


@pytest.mark.timeout(900)  # a restore and two runs per crash point
async def test_a_migration_killed_in_the_middle_completes_as_one_that_was_not(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    """Killed after each batch in turn, then run again: the same result as one run."""
    fixture = next(f for f in FIXTURES if f.name == "before-versions")
    settings = fixture_settings(mongo_uri, db_name, fixture, tmp_path)

    async def run(reporter: CrashAfter) -> None:
        storage = await open_storage(settings, schema=False, indexes=False)
        try:
            await migrate(storage, reporter=reporter, batch=3)
        finally:
            await storage.close()

    async def fresh_then(work: Callable[[], Awaitable[None]]) -> dict[str, Any]:
        await restore(mongo_uri, db_name, fixture)
        await work()
        storage = await open_storage(settings, indexes=False)
        try:
            return await _snapshot(storage)
        finally:
            await storage.close()

    counted = CrashAfter(None)
    reference = await fresh_then(lambda: run(counted))
    assert reference["version"] == SCHEMA_VERSION
    assert counted.seen >= 5
    for ticks in range(counted.seen):

        async def crash_then_resume(ticks: int = ticks) -> None:
            with pytest.raises(Crash):
                await run(CrashAfter(ticks))
            await run(CrashAfter(None))

        assert await fresh_then(crash_then_resume) == reference, f"killed after {ticks} batches"


async def test_a_new_database_is_stamped_and_a_newer_one_refused(
    storage: Storage, settings: Any
) -> None:
    versions = SchemaVersions(storage.db)
    assert await versions.recorded() == SCHEMA_VERSION
    last = MIGRATIONS[-1]
    await versions.advance(SCHEMA_VERSION + 1, "from-the-future", {})
    with pytest.raises(SchemaMismatch, match="newer than this code's"):
        await open_storage(settings)
    with pytest.raises(SchemaMismatch, match="nothing was changed"):
        await migrate(storage)
    assert last.number == SCHEMA_VERSION


async def test_serve_refuses_an_unmigrated_or_newer_database_in_one_line(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    fixture = FIXTURES[0]
    await restore(mongo_uri, db_name, fixture)
    settings = fixture_settings(mongo_uri, db_name, fixture, tmp_path)
    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name, "DIRECTORY_PORT": "0"}
    older, _ = run_cli(env, "serve", keys_dir=settings.keys_dir)
    assert older.returncode == 5
    assert older.stderr.strip().splitlines() == [
        f"directory-svc: the database's stored format is version 0, this code needs "
        f"{SCHEMA_VERSION}: run `directory-svc migrate` first"
    ]
    assert "serving on" not in older.stdout
    migrated, _ = run_cli(env, "migrate", keys_dir=settings.keys_dir)
    assert migrated.returncode == 0, migrated.stderr
    storage = await open_storage(settings, indexes=False)
    await SchemaVersions(storage.db).advance(SCHEMA_VERSION + 1, "from-the-future", {})
    await storage.close()
    newer, _ = run_cli(env, "serve", keys_dir=settings.keys_dir)
    assert newer.returncode == 5
    assert newer.stderr.strip().splitlines() == [
        f"directory-svc: the database's stored format is version {SCHEMA_VERSION + 1}, newer "
        f"than this code's ({SCHEMA_VERSION}): run the release that wrote it (nothing was "
        "changed)"
    ]
