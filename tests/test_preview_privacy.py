"""Issue 16, item 10: a subscriber's preview never reveals a namesake's choices.

Homonymy is decided on the namesakes the directory lists, whatever their reverse-look-up
choice: so a namesake opting out of reverse look-up changes neither what the reverse
look-up publisher receives of the subscriber nor the subscriber's preview.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.listings import Listing
from directory_svc.domain.projection import homonyms_in_list, project
from directory_svc.domain.publishers import PublisherKind, PublisherProfile
from directory_svc.services import listings as service
from directory_svc.services.previews import preview
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage

AT = datetime(2026, 6, 1, tzinfo=UTC)
REVERSE = PublisherProfile("reverse", PublisherKind.REVERSE_LOOKUP)


def _change(change_id: str) -> Change:
    return Change(change_id, Provenance(Actor.SUBSCRIBER, Channel.WEB, AT, "notice-2026-06"))


def _reverse_view(previewed: list[object]) -> object:
    return next(k.projection for k in previewed if k.kind is PublisherKind.REVERSE_LOOKUP)  # type: ignore[attr-defined]


async def _namesakes(storage: Storage) -> tuple[Listing, Listing]:
    await seed_listings(storage.listings, 1, seed=41, accounts=storage.accounts)
    seeded = next(iter(demo_listings(1, seed=41)))
    me = await service.change_listing(
        storage.listings, seeded.id, 1,
        lambda i: replace(i, choices=replace(i.choices, listed=True, initial_only=True,
                                             no_reverse_lookup=False)),
        _change("me"),
    )  # fmt: skip
    twin = replace(
        me, id="twin", account_id="acc-twin", first_name=me.first_name[0] + "zzz",
        numbers=(replace(me.numbers[0], e164="+33140000001", consent=None),),
        choices=replace(me.choices, initial_only=False), version=0,
    )  # fmt: skip
    twin = await service.create_listing(storage.listings, twin, _change("twin"))
    return me, twin


async def test_a_namesakes_reverse_lookup_choice_changes_nothing_the_subscriber_sees(
    storage: Storage,
) -> None:
    me, twin = await _namesakes(storage)
    before = await preview(storage.listings, me)
    await service.change_listing(
        storage.listings, twin.id, twin.version,
        lambda i: replace(i, choices=replace(i.choices, no_reverse_lookup=True)),
        _change("twin-opts-out"),
    )  # fmt: skip
    after = await preview(storage.listings, me)
    assert _reverse_view(after.kinds) == _reverse_view(before.kinds)
    assert after.limits == before.limits


def test_the_reverse_lookup_list_counts_namesakes_whatever_their_reverse_choice() -> None:
    me, twin = (next(iter(demo_listings(1, seed=s))) for s in (41, 41))
    me = replace(me, choices=replace(me.choices, listed=True, initial_only=True))
    twin = replace(me, id="twin", first_name=me.first_name[0] + "zzz",
                   choices=replace(me.choices, initial_only=False))  # fmt: skip
    opted_out = replace(twin, choices=replace(twin.choices, no_reverse_lookup=True))
    with_twin = project(me, REVERSE, homonyms_in_list([me, twin], REVERSE))
    with_opted_out = project(me, REVERSE, homonyms_in_list([me, opted_out], REVERSE))
    assert with_twin == with_opted_out
    assert project(opted_out, REVERSE, homonyms_in_list([me, opted_out], REVERSE)).record is None
