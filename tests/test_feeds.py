"""Publisher feeds: full and delta exports, deletions, signatures, encryption, crashes."""

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyrage
import pytest

from directory_svc.domain.choices import Actor, Channel, Consent, Provenance
from directory_svc.domain.errors import VersionConflict
from directory_svc.domain.history import Change
from directory_svc.domain.numbers import LineType
from directory_svc.domain.publishers import (
    FeedFormat,
    GeoScope,
    Publisher,
    PublisherKind,
    PublisherProfile,
)
from directory_svc.services import listings as listing_service
from directory_svc.services.publishers import add_publisher, export_now
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.keys import init_keys
from directory_svc.storage.ledger import SentEntry
from directory_svc.storage.setup import Storage
from exporters import pipeline
from exporters.manifest import VerificationFailed, load_public_key, verify_folder
from tests.r10_helpers import records as _records

AT = datetime(2026, 6, 1, tzinfo=UTC)


def _publisher(pid: str = "pub-a", **kw: Any) -> Publisher:
    return Publisher(
        profile=PublisherProfile(id=pid, kind=kw.pop("kind", PublisherKind.DIRECTORY),
                                 scope=kw.pop("scope", GeoScope())),
        legal_name="Annuaire Exemple SAS",
        **kw,
    )  # fmt: skip


def _replay(state: dict[str, dict[str, str]], folder: Path, full: bool) -> None:
    if full:
        state.clear()
    for record in _records(folder):
        if record["action"] == "delete":
            state.pop(record["entry_id"], None)
        else:
            state[record["entry_id"]] = record


async def _change(storage: Storage, listing_id: str, tag: str, **fields: Any) -> None:
    while True:
        current = await listing_service.get_listing(storage.listings, listing_id)
        choices = replace(current.choices, **fields) if fields else current.choices
        numbers = current.numbers
        if choices.listed and current.line_type is LineType.MOBILE and not numbers[0].consent:
            consent = Consent(AT, Channel.WEB, f"consent-{tag}")
            numbers = (replace(numbers[0], published=True, consent=consent), *numbers[1:])
        try:
            await listing_service.change_listing(
                storage.listings, listing_id, current.version,
                lambda item, c=choices, n=numbers: replace(
                    item, choices=c, numbers=n, mention=tag[:30]
                ),
                Change(f"chg-{tag}", Provenance(Actor.SUBSCRIBER, Channel.WEB, AT, "n1")),
            )  # fmt: skip
            return
        except VersionConflict:
            continue


@pytest.fixture
async def seeded(storage: Storage, keys_dir: Path) -> Storage:
    init_keys(keys_dir)  # adds the signing key
    await seed_listings(storage.listings, 300, seed=31)
    return storage


async def test_unlisted_subscriber_is_one_delete_then_never_again(
    seeded: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    storage = seeded
    await add_publisher(storage.publishers, _publisher())
    full = await export_now(storage, keys_dir, "pub-a", tmp_path, full=True)
    sent = {r["entry_id"] for r in _records(full.folder)}
    target = next(i for i in demo_listings(300, seed=31) if i.id in sent)
    await _change(storage, target.id, "unlist", listed=False)

    delta = await export_now(storage, keys_dir, "pub-a", tmp_path)
    records = _records(delta.folder)
    assert [(r["entry_id"], r["action"], r["reason"]) for r in records] == [
        (target.id, "delete", "unlisted")
    ]
    assert delta.counts["delete_unlisted"] == 1
    later = await export_now(storage, keys_dir, "pub-a", tmp_path)
    assert _records(later.folder) == []
    assert delta.folder.name.endswith("-delta")
    verify_folder(later.folder, load_public_key(keys_dir / "signing.pub"))


async def test_full_feed_never_holds_an_excluded_entry(
    seeded: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    await add_publisher(
        seeded.publishers, _publisher(scope=GeoScope(departements=frozenset({"75"})))
    )
    result = await export_now(seeded, keys_dir, "pub-a", tmp_path, full=True)
    sent = {r["entry_id"]: r for r in _records(result.folder)}
    for item in demo_listings(300, seed=31):
        should = (
            item.choices.listed
            and item.address.insee_code.startswith("75")
            and (item.line_type.value != "mobile" or item.numbers[0].consent is not None)
        )
        assert (item.id in sent) == should
        if item.id in sent:
            assert sent[item.id]["flag_no_marketing"] == str(item.choices.no_marketing).lower()


@pytest.mark.timeout(
    900
)  # 1,000 changes: each write is filtered on its version (a scan on FerretDB)
async def test_concurrent_changes_during_a_delta_are_never_lost(
    seeded: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    storage = seeded
    for pid, kind in (("pub-a", PublisherKind.DIRECTORY), ("pub-r", PublisherKind.REVERSE_LOOKUP)):
        await add_publisher(storage.publishers, _publisher(pid, kind=kind))
    state: dict[str, dict[str, dict[str, str]]] = {"pub-a": {}, "pub-r": {}}
    for pid in state:
        _replay(state[pid], (await export_now(storage, keys_dir, pid, tmp_path, True)).folder, True)
    ids = [item.id for item in demo_listings(300, seed=31)]

    async def changes() -> None:
        for n in range(1000):
            await _change(
                storage, ids[n % len(ids)], f"c{n}",
                listed=n % 3 != 0, no_reverse_lookup=n % 2 == 0, initial_only=n % 5 == 0,
            )  # fmt: skip

    async def deltas() -> None:
        await asyncio.sleep(0.5)
        for pid in state:
            _replay(state[pid], (await export_now(storage, keys_dir, pid, tmp_path)).folder, False)

    await asyncio.gather(changes(), deltas())
    for pid in state:
        _replay(state[pid], (await export_now(storage, keys_dir, pid, tmp_path)).folder, False)
        fresh: dict[str, dict[str, str]] = {}
        _replay(fresh, (await export_now(storage, keys_dir, pid, tmp_path, True)).folder, True)
        assert state[pid] == fresh


async def test_signed_manifest_and_encrypted_payload(
    seeded: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    identity = pyrage.x25519.Identity.generate()
    publisher = _publisher(recipient=str(identity.to_public()), feed_format=FeedFormat.JSONL)
    await add_publisher(seeded.publishers, publisher)
    result = await export_now(seeded, keys_dir, "pub-a", tmp_path, full=True)
    manifest = verify_folder(result.folder, load_public_key(keys_dir / "signing.pub"))
    payload = result.folder / manifest["payload"]["file"]
    assert payload.name == "feed.jsonl.age"
    plain = pyrage.decrypt(payload.read_bytes(), [identity])
    lines = plain.decode().splitlines()
    assert len(lines) == manifest["counts"]["upsert"]
    assert all(json.loads(line)["action"] == "upsert" for line in lines)
    # Any change to the folder is detected.
    payload.write_bytes(payload.read_bytes() + b"x")
    with pytest.raises(VerificationFailed, match="SHA-256"):
        verify_folder(result.folder, load_public_key(keys_dir / "signing.pub"))


async def test_a_crash_leaves_no_visible_feed_and_the_retry_verifies(
    seeded: Storage, keys_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    await add_publisher(seeded.publishers, _publisher())
    feeds = tmp_path / "feeds"

    def crash(*args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "write_manifest", crash)
    with pytest.raises(RuntimeError):
        await export_now(seeded, keys_dir, "pub-a", feeds, full=True)
    assert [p.name for p in feeds.iterdir() if not p.name.startswith(".")] == []
    monkeypatch.undo()
    result = await export_now(seeded, keys_dir, "pub-a", feeds, full=True)
    verify_folder(result.folder, load_public_key(keys_dir / "signing.pub"))
    runs = await seeded.runs.list("pub-a")
    assert [r.status for r in runs] == ["succeeded", "failed"]


async def test_namesakes_keep_their_first_name_in_full_and_delta_feeds(
    storage: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    """Strict homonymy (the default): two listed namesakes in a commune (same surname and
    initial) cannot both hide behind the initial; a listing without a namesake can."""
    init_keys(keys_dir)
    await seed_listings(storage.listings, 30, seed=6)
    fixed = [i for i in demo_listings(30, seed=6) if i.line_type is LineType.FIXED_GEOGRAPHIC]
    base, loner = fixed[0], fixed[1]
    origin = Change("namesake", Provenance(Actor.IMPORT, Channel.IMPORT, AT, "n1"))
    twin_number = replace(base.numbers[0], e164="+33140000077")
    twin = replace(base, id="namesake-1", account_id="acc-namesake", version=0,
                   first_name=base.first_name[0] + "ygrec", numbers=(twin_number,))  # fmt: skip
    await listing_service.create_listing(storage.listings, twin, origin)
    for listing_id in (base.id, twin.id, loner.id):
        await _change(storage, listing_id, f"init-{listing_id[:8]}", listed=True,
                      initial_only=True)  # fmt: skip
    await add_publisher(storage.publishers, _publisher())

    full = await export_now(storage, keys_dir, "pub-a", tmp_path, full=True)
    by_id = {r["entry_id"]: r for r in _records(full.folder)}
    assert by_id[base.id]["first_name"] == base.first_name  # namesake: not masked
    assert by_id[twin.id]["first_name"] == twin.first_name
    assert by_id[loner.id]["first_name"] == f"{loner.first_name[0]}."
    assert by_id[base.id]["flag_initial_only"] in ("1", "true", "True")  # the flag travels

    # The twin leaves: in the next delta the base entry is masked again.
    await _change(storage, twin.id, "twin-unlists", listed=False)
    delta = await export_now(storage, keys_dir, "pub-a", tmp_path)
    changed = {r["entry_id"]: r for r in _records(delta.folder)}
    assert changed[twin.id]["action"] == "delete"
    assert changed[base.id]["first_name"] == f"{base.first_name[0]}."


async def test_a_second_full_feed_replaces_a_ledger_larger_than_one_delete(
    storage: Storage,
) -> None:
    """FerretDB refuses to delete more than 32,766 documents in one statement."""
    entries = [SentEntry(f"e{n:06d}", "d", "hi", "hn", 1) for n in range(33_000)]
    await storage.ledger.replace("big", 1, "profile", entries)
    again = [replace(e, sequence=2) for e in entries[:100]]
    await storage.ledger.replace("big", 2, "profile", again)
    kept = await storage.ledger.get("big", [e.entry_id for e in entries[:200]])
    assert sorted(kept) == [e.entry_id for e in entries[:100]]
    assert {s.sequence for s in kept.values()} == {2}


async def test_a_scan_returns_each_listing_once_while_listings_are_written(
    storage: Storage,
) -> None:
    """A full export's scan (``stream``) while the service writes listings it has already
    returned: each listing once (an unsorted scan on DocumentDB returned 2,003 for 2,000,
    and a feed would have carried those entries twice)."""
    await seed_listings(storage.listings, 200, seed=44)
    seen: list[str] = []
    async for batch in storage.listings.stream(20):
        seen += [item.id for item in batch]
        written = await storage.listings.get(batch[0].id)
        assert written is not None
        await storage.listings.note_source(written.id, f"touched-{len(seen)}")
    assert len(seen) == len(set(seen)) == 200
