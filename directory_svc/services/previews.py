"""How a subscriber's entry appears to each kind of publisher, computed by the projection.

The preview uses the standard contract of each kind (all of France, every field, choices
applied by masking, strict homonymy): what a publisher under that contract would receive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from directory_svc.domain.access import Principal
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.listings import Listing
from directory_svc.domain.projection import HomonymIndex, Projection, exclusion, project
from directory_svc.domain.publishers import PublisherKind, PublisherProfile
from directory_svc.services.choices import ChoiceValues, owned_listing, with_choices
from directory_svc.storage.listings import ListingRepository

STANDARD_PROFILES: tuple[PublisherProfile, ...] = tuple(
    PublisherProfile(id=f"standard-{kind.value}", kind=kind) for kind in PublisherKind
)


@dataclass(frozen=True, slots=True)
class KindPreview:
    """What a publisher of ``kind`` would receive (``projection.record`` is None: nothing)."""

    kind: PublisherKind
    projection: Projection


async def previews(repo: ListingRepository, listing: Listing) -> list[KindPreview]:
    """The listing as each kind of publisher would receive it, with the reasons."""
    initial_key, name_key = repo.codec.homonym_keys(listing)
    group = [m for m in await repo.in_homonym_groups([initial_key], [name_key])]
    others = [m for m in group if m.id != listing.id]
    out = []
    for profile in STANDARD_PROFILES:
        same_list = [m for m in [*others, listing] if exclusion(m, profile) is None]
        out.append(KindPreview(profile.kind, project(listing, profile, HomonymIndex(same_list))))
    return out


async def preview_choices(
    repo: ListingRepository, who: Principal, listing_id: str, values: ChoiceValues, at: datetime
) -> list[KindPreview]:
    """The previews if the subscriber saved ``values`` now (nothing is stored)."""
    listing = await owned_listing(repo, who, listing_id)
    change = Change("preview", Provenance(Actor.SUBSCRIBER, Channel.WEB, at, "preview"))
    wanted = with_choices(listing, values, change)
    return await previews(repo, wanted)
