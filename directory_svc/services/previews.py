"""How a subscriber's entry appears to each kind of publisher, computed by the projection.

The preview uses the standard contract of each kind (all of France, every field, choices
applied by masking, strict homonymy): what a publisher under that contract would receive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from directory_svc.domain.access import Principal
from directory_svc.domain.choices import Actor, Channel, Consent, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.listings import Listing
from directory_svc.domain.projection import (
    HomonymIndex,
    Projection,
    ReasonCode,
    homonyms_in_list,
    project,
)
from directory_svc.domain.publishers import PublisherKind, PublisherProfile
from directory_svc.services.choices import ChoiceValues, owned_listing, with_choices
from directory_svc.services.dependencies import Services
from directory_svc.services.listings import homonym_group, homonym_groups
from directory_svc.services.support import StaffRead, read_listing
from directory_svc.storage.listings import ListingRepository

STANDARD_PROFILES: tuple[PublisherProfile, ...] = tuple(
    PublisherProfile(id=f"standard-{kind.value}", kind=kind) for kind in PublisherKind
)
_DIRECTORY = STANDARD_PROFILES[0]
_SOME_CONSENT = Consent(datetime(2000, 1, 1, tzinfo=UTC), Channel.WEB, "preview")


@dataclass(frozen=True, slots=True)
class KindPreview:
    """What a publisher of ``kind`` would receive (``projection.record`` is None: nothing)."""

    kind: PublisherKind
    projection: Projection


@dataclass(frozen=True, slots=True)
class Limit:
    """A choice that cannot apply to this listing, and why (homonym, consumer-facing pro)."""

    choice: str
    code: ReasonCode


@dataclass(frozen=True, slots=True)
class Preview:
    """One listing's previews per kind, and the choices that cannot apply to it."""

    listing: Listing
    kinds: list[KindPreview]
    limits: list[Limit]


def choice_limits(listing: Listing, homonyms: HomonymIndex) -> list[Limit]:
    """The masking choices the projection would not apply to this listing, with the reason.

    Asks the projection itself: the listing with every masking choice ticked, as a directory
    would receive it.
    """
    c = listing.choices
    wanted = replace(
        listing,
        numbers=tuple(
            replace(n, published=True, consent=n.consent or _SOME_CONSENT) for n in listing.numbers
        ),
        choices=replace(c, listed=True, initial_only=True, no_gender=True, no_street=True),
    )
    return [
        Limit(r.choice, r.code)
        for r in project(wanted, _DIRECTORY, homonyms).reasons
        if r.choice is not None and not r.applied and r.code is not ReasonCode.FLAGGED
    ]


async def preview(repo: ListingRepository, listing: Listing) -> Preview:
    """The listing as each kind of publisher would receive it, with the reasons."""
    return preview_in(listing, await homonym_group(repo, listing))


async def previews(repo: ListingRepository, listings: list[Listing]) -> list[Preview]:
    """``preview`` of each listing, with one query for all their homonymy groups."""
    groups = await homonym_groups(repo, listings)
    return [preview_in(item, groups[item.id]) for item in listings]


def preview_in(listing: Listing, group: list[Listing]) -> Preview:
    """The preview of ``listing`` given its homonymy group (``listing`` last)."""
    kinds = [
        KindPreview(profile.kind, project(listing, profile, homonyms_in_list(group, profile)))
        for profile in STANDARD_PROFILES
    ]
    # The limits are those of the listing as if listed: it counts in its own group.
    directory = homonyms_in_list(group[:-1], _DIRECTORY)
    directory.add(listing)
    limits = choice_limits(listing, directory)
    return Preview(listing, kinds, limits)


async def preview_choices(
    repo: ListingRepository, *, who: Principal, listing_id: str, values: ChoiceValues, at: datetime
) -> Preview:
    """The preview if the subscriber saved ``values`` now (nothing is stored)."""
    listing = await owned_listing(repo, who, listing_id)
    change = Change("preview", Provenance(Actor.SUBSCRIBER, Channel.WEB, at, "preview"))
    return await preview(repo, with_choices(listing, values, change))


async def preview_for_staff(
    services: Services, *, read: StaffRead, listing_id: str, values: ChoiceValues, at: datetime
) -> Preview:
    """The preview support shows while acting on a subscriber's behalf (nothing stored);
    a staff read of the listing, logged with its purpose and counted like the others."""
    listing = await read_listing(
        repo=services.listings,
        log=services.access_log,
        limits=services.limits,
        read=read,
        id=listing_id,
    )
    change = Change("preview", Provenance(Actor.SUPPORT, Channel.PHONE, at, "preview"))
    return await preview(services.listings, with_choices(listing, values, change))
