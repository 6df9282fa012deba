"""Changes: optimistic concurrency, idempotent retries, validation that stores nothing."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.errors import ValidationError, VersionConflict
from directory_svc.domain.history import Change
from directory_svc.domain.listings import ExtraUser, LineNumber, Listing, ListingKind
from directory_svc.domain.numbers import LineType
from directory_svc.services import listings as service
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.listings import ListingRepository
from directory_svc.storage.maintenance import broken_chains

AT = datetime(2026, 6, 1, tzinfo=UTC)


def change(change_id: str, actor: Actor = Actor.SUBSCRIBER) -> Change:
    return Change(change_id, Provenance(actor, Channel.WEB, AT, "notice-2026-06"))


async def _one(repo: ListingRepository) -> Listing:
    await seed_listings(repo, 1, seed=21)
    return await service.get_listing(repo, next(iter(demo_listings(1, seed=21))).id)


async def test_fifty_concurrent_writers_lose_nothing(repo: ListingRepository) -> None:
    start = await _one(repo)
    conflicts: list[object] = []

    async def writer(n: int) -> int | None:
        current = await service.get_listing(repo, start.id)
        try:
            done = await service.change_listing(
                repo,
                start.id,
                current.version,
                lambda item: replace(item, mention=f"writer {n}"),
                change(f"w{n}"),
            )
        except VersionConflict as conflict:
            conflicts.append(conflict.current)
            return None
        return done.version

    results = await asyncio.gather(*(writer(n) for n in range(50)))
    acknowledged = [(v, n) for n, v in enumerate(results) if v is not None]
    assert acknowledged
    assert len(acknowledged) + len(conflicts) == 50
    assert all(isinstance(current, Listing) for current in conflicts)
    history = await repo.history(start.id)
    ids = [e.change_id for e in history[1:]]
    assert sorted(ids) == sorted(f"w{n}" for _, n in acknowledged)  # each exactly once
    last_version, last_writer = max(acknowledged)
    final = await service.get_listing(repo, start.id)
    assert final.version == last_version == len(history)
    assert final.mention == f"writer {last_writer}"
    assert [item async for item in broken_chains(repo)] == []


async def test_a_writer_that_read_an_old_version_cannot_overwrite_a_newer_one(
    repo: ListingRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving CI once hit: a writer reads v, two others reach v+2, then it claims."""
    start = await _one(repo)
    edit = lambda text: lambda item: replace(item, mention=text)  # noqa: E731
    real_write = repo.versioned.write
    others_ran = False

    async def write_after_others(*args: Any, **kwargs: Any) -> bool:
        nonlocal others_ran
        if args[4] == "stale" and not others_ran:  # the stale writer's turn to write
            others_ran = True
            v = start.version
            await service.change_listing(repo, start.id, v, edit("one"), change("o1"))
            await service.change_listing(repo, start.id, v + 1, edit("two"), change("o2"))
        return await real_write(*args, **kwargs)

    monkeypatch.setattr(repo.versioned, "write", write_after_others)
    with pytest.raises(VersionConflict) as conflict:
        await service.change_listing(repo, start.id, start.version, edit("old"), change("stale"))
    assert conflict.value.current.mention == "two"
    final = await service.get_listing(repo, start.id)
    assert (final.version, final.mention) == (start.version + 2, "two")
    assert [e.change_id for e in await repo.history(start.id)][-2:] == ["o1", "o2"]


async def test_a_retried_change_is_applied_once(repo: ListingRepository) -> None:
    start = await _one(repo)
    edit = lambda item: replace(item, mention="retry")  # noqa: E731
    first = await service.change_listing(repo, start.id, start.version, edit, change("c-1"))
    again = await service.change_listing(repo, start.id, start.version, edit, change("c-1"))
    assert first.version == again.version == start.version + 1
    assert [e.change_id for e in await repo.history(start.id)].count("c-1") == 1


async def test_history_records_who_and_what_changed(repo: ListingRepository) -> None:
    start = await _one(repo)
    new_choices = replace(start.choices, no_marketing=not start.choices.no_marketing)
    await service.change_listing(
        repo, start.id, start.version,
        lambda item: replace(item, choices=new_choices), change("c-2", Actor.SUPPORT),
    )  # fmt: skip
    entry = (await repo.history(start.id))[-1]
    assert entry.provenance.actor is Actor.SUPPORT
    assert entry.before == {"no_marketing": start.choices.no_marketing}
    assert entry.after == {"no_marketing": not start.choices.no_marketing}
    assert (await service.get_listing(repo, start.id)).provenance.actor is Actor.SUPPORT


@pytest.mark.parametrize(
    ("edit", "field", "rule"),
    [
        (lambda i: replace(i, mention="x" * 31), "mention", "too_long"),
        (lambda i: replace(i, surname="A" * 80, first_name="B" * 60), "first_name", "too_long"),
        (lambda i: replace(i, surname="Nul\x00l"), "surname", "forbidden_character"),
        (lambda i: replace(i, surname="Bell\x07"), "surname", "forbidden_character"),
        (lambda i: replace(i, profession="x" * 10_000_000), "profession", "too_long"),
        (lambda i: replace(i, email="not-an-email"), "email", "email_format"),
        (
            lambda i: replace(i, extra_users=(ExtraUser("Martin", "Léa", None),)),
            "extra_users.0.consent",
            "consent_required",
        ),
        (
            lambda i: replace(
                i,
                numbers=(
                    LineNumber("+33142685300", LineType.FIXED_GEOGRAPHIC),
                    LineNumber("+33612345678", LineType.MOBILE),
                ),
                choices=replace(i.choices, listed=True),
            ),
            "numbers.1",
            "mobile_consent_required",
        ),
        (
            lambda i: replace(i, numbers=(LineNumber("+442079460958", LineType.OTHER),)),
            "numbers.0",
            "not_french_plan",
        ),
        (
            lambda i: replace(i, address=replace(i.address, insee_code="7505")),
            "address.insee_code",
            "insee_format",
        ),
        (
            lambda i: replace(i, address=replace(i.address, insee_code="99999")),
            "address.insee_code",
            "unknown_commune",
        ),
        (
            lambda i: replace(
                i,
                kind=ListingKind.PROFESSIONAL,
                business_names=("Boulangerie",),
                consumer_facing=True,
                choices=replace(i.choices, no_street=True),
            ),
            "choices.no_street",
            "consumer_facing_professional",
        ),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    repo: ListingRepository, edit: object, field: str, rule: str
) -> None:
    start = await _one(repo)
    with pytest.raises(ValidationError) as caught:
        await service.change_listing(repo, start.id, start.version, edit, change("bad"))  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.rule) == (field, rule)
    assert await service.get_listing(repo, start.id) == start
    assert len(await repo.history(start.id)) == 1
