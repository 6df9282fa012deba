"""The versioned-write contract, run against the adapter the server selects (issue 13)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import monitoring
from pymongo.asynchronous.collection import AsyncCollection

from directory_svc import clock
from directory_svc.domain.access import Principal, Role
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.errors import VersionConflict
from directory_svc.domain.history import Change
from directory_svc.domain.listings import Listing
from directory_svc.domain.requests import ChangeRequest
from directory_svc.services import listings as listing_service
from directory_svc.services.choices import ChoiceValues, change_choices
from directory_svc.services.maintenance import verify_history
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage, open_storage
from directory_svc.storage.versioned import STALE_CLAIM

AT = datetime(2026, 6, 1, tzinfo=UTC)


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


class Gate:
    """Holds the first listing update that a marked writer sends, until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed = False
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        original = AsyncCollection.update_one
        gate = self

        async def update_one(col: AsyncCollection[Any], *args: Any, **kwargs: Any) -> Any:
            if gate.armed and col.name == "listings":
                gate.armed = False
                gate.reached.set()
                await gate.release.wait()
            return await original(col, *args, **kwargs)

        monkeypatch.setattr(AsyncCollection, "update_one", update_one)


def _change(tag: str) -> Change:
    return Change(f"chg-{tag}", Provenance(Actor.SUBSCRIBER, Channel.WEB, AT, "n1"))


async def _write(storage: Storage, listing: Listing, tag: str, version: int) -> Listing:
    return await listing_service.change_listing(
        storage.listings, listing.id, version, lambda i: replace(i, mention=tag), _change(tag)
    )


async def test_a_paused_writer_never_overwrites_a_write_acknowledged_meanwhile(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writer A pauses before its write, longer than any lease; writer B writes and is told
    so; A resumes: A must get a conflict and B's write must stay, the chain intact."""
    await seed_listings(storage.listings, 1, seed=61)
    listing = next(iter(demo_listings(1, seed=61)))
    gate = Gate(monkeypatch)
    manual = ManualClock()
    with clock.using(manual):
        gate.armed = True
        paused = asyncio.create_task(_write(storage, listing, "A", 1))
        await gate.reached.wait()
        manual.at += timedelta(minutes=10)  # A is now older than any stale-claim limit
        written = None
        for _ in range(3):  # B retries as a client does
            try:
                written = await _write(storage, listing, "B", 1)
                break
            except VersionConflict:
                continue
        assert written is not None
        assert (written.version, written.mention) == (2, "B")
        gate.release.set()
        with pytest.raises(VersionConflict):
            await paused
    final = await listing_service.get_listing(storage.listings, listing.id)
    assert (final.version, final.mention) == (2, "B")
    history = await storage.listings.history(listing.id)
    assert [e.seq for e in history] == [1, 2]
    assert await verify_history(storage.listings) == []


async def test_fifty_conflicting_writers_lose_nothing_and_retries_apply_once(
    storage: Storage,
) -> None:
    await seed_listings(storage.listings, 1, seed=62)
    listing = next(iter(demo_listings(1, seed=62)))

    async def writer(n: int) -> None:
        while True:
            current = await listing_service.get_listing(storage.listings, listing.id)
            tag = f"w{n}"
            try:
                await listing_service.change_listing(
                    storage.listings, listing.id, current.version,
                    lambda i, t=tag: replace(i, mention=t), _change(tag),
                )  # fmt: skip
                return
            except VersionConflict:
                await asyncio.sleep(0)

    await asyncio.gather(*(writer(n) for n in range(50)))
    history = await storage.listings.history(listing.id)
    assert sorted(e.change_id for e in history[1:]) == sorted(f"chg-w{n}" for n in range(50))
    assert [e.seq for e in history] == list(range(1, 52))
    # A retry of an applied change (same id, the version it first read) applies nothing.
    again = await listing_service.change_listing(
        storage.listings, listing.id, 1, lambda i: replace(i, mention="w0"), _change("w0")
    )
    assert again.version == 51
    assert len(await storage.listings.history(listing.id)) == 51
    assert await verify_history(storage.listings) == []


class Commands(monitoring.CommandListener):
    """Counts the commands sent to each collection."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        self.sent.append((event.command_name, str(collection)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_choice_change_on_the_conditional_adapter_is_one_read_and_one_write(
    storage: Storage, settings: Any
) -> None:
    """One subscriber at a time, so the conditional adapter is safe on any engine here."""
    await seed_listings(storage.listings, 20, seed=63)
    listing = next(i for i in demo_listings(20, seed=63) if i.line_type.value != "mobile")
    listener = Commands()
    opened = await open_storage(
        replace(settings, write_adapter="conditional"), listeners=[listener]
    )
    try:
        assert opened.listings.versioned.name == "conditional"
        listener.sent.clear()
        who = Principal("sub", Role.CUSTOMER, account_id=listing.account_id)
        c = listing.choices
        values = ChoiceValues(not c.listed, c.initial_only, c.no_gender, c.no_street,
                              c.no_reverse_lookup, c.no_marketing)  # fmt: skip
        request = ChangeRequest(who, "cc-1", AT, "notice-1")
        await change_choices(
            opened.listings, request=request, listing_id=listing.id, expected_version=1,
            values=values,
        )  # fmt: skip
        sent = list(listener.sent)
    finally:
        await opened.close()
    listener.sent = sent
    on_listings = [name for name, col in listener.sent if col == "listings"]
    assert sorted(on_listings) == ["find", "update"]
    assert [name for name, col in listener.sent if col != "listings"] == []


DEAD_WRITER = """
import asyncio, sys
from dataclasses import replace
from pathlib import Path
from pymongo.asynchronous.collection import AsyncCollection
from directory_svc.config import Env, Settings
from directory_svc.services import listings
from directory_svc.storage.setup import open_storage
from tests.test_versioned_writes import _change

async def main(uri, db, keys, listing_id):
    settings = Settings(mongodb_uri=uri, keys_dir=Path(keys), db_name=db, env=Env.DEV,
                        jwks=str(Path(keys) / "dev-jwks.json"))
    storage = await open_storage(settings)
    original = AsyncCollection.update_one

    async def update_one(col, *args, **kwargs):
        if col.name == "listings":  # claimed: stop here, as if killed before the write
            print("claimed", flush=True)
            await asyncio.Event().wait()
        return await original(col, *args, **kwargs)

    AsyncCollection.update_one = update_one
    await listings.change_listing(storage.listings, listing_id, 1,
                                  lambda i: replace(i, mention="dead"), _change("dead"))

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_writer_killed_between_claim_and_write_holds_the_listing_only_briefly(
    storage: Storage, settings: Any
) -> None:
    """Issue 24: a service process killed between its claim and its write no longer blocks
    the listing for ``STALE_CLAIM``: the refusal meanwhile says "retry shortly" (not a
    conflict: nothing changed), and the next change is accepted once the dead writer's
    grace is over, seconds later, on the service's clock."""
    if storage.listings.versioned.name != "claims":
        pytest.skip("the conditional adapter takes no claims")
    await seed_listings(storage.listings, 1, seed=63)
    listing = next(iter(demo_listings(1, seed=63)))
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DEAD_WRITER, settings.mongodb_uri, settings.db_name,
        str(settings.keys_dir), listing.id,
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert child.stdout is not None
    assert await child.stdout.readline() == b"claimed\n"
    child.kill()
    await child.wait()

    manual = ManualClock()
    manual.at = datetime.now(UTC)
    with clock.using(manual):
        with pytest.raises(VersionConflict) as refused:
            await _write(storage, listing, "next", 1)
        assert refused.value.retry_shortly
        assert "retry shortly" in str(refused.value)
        manual.at += timedelta(seconds=3)  # within 5 s, far below STALE_CLAIM
        assert timedelta(seconds=5) < STALE_CLAIM
        written = await _write(storage, listing, "next", 1)
    assert (written.version, written.mention) == (2, "next")
    assert await verify_history(storage.listings) == []
