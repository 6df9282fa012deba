"""Changing what a listing says: one function for the subscriber and for support.

The subscriber guarantees the accuracy of their listing (the operator's contract), so every
content change carries that attestation, stored with the change in the history. Extra users
of the line are listed only with their own consent, which the subscriber attests too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from directory_svc.domain.choices import Consent
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.history import Change
from directory_svc.domain.listings import ExtraUser, Listing
from directory_svc.domain.numbers import LineType, parse_french_number
from directory_svc.domain.requests import ChangeRequest, change_of
from directory_svc.services.choices import owned_listing
from directory_svc.services.listings import change_listing
from directory_svc.storage.listings import ListingRepository


@dataclass(frozen=True, slots=True)
class ExtraUserValues:
    """Another user of the line to list, and whether their consent is attested."""

    surname: str
    first_name: str
    consent_attested: bool


@dataclass(frozen=True, slots=True)
class ContentValues:
    """The listing content a subscriber may change (the surname is the contract's)."""

    first_name: str
    business_names: tuple[str, ...]
    profession: str | None
    mention: str | None
    email: str | None
    published_numbers: tuple[str, ...]
    extra_users: tuple[ExtraUserValues, ...]


def with_content(item: Listing, values: ContentValues, change: Change) -> Listing:
    """The listing with ``values`` as its content (pure; validation comes after)."""
    wanted = set()
    for i, written in enumerate(values.published_numbers):
        wanted.add(parse_french_number(written, f"published_numbers.{i}").e164)
    unknown = wanted - {n.e164 for n in item.numbers}
    if unknown:
        raise ValidationError(
            "published_numbers", "not_on_line", "only numbers of this line can appear"
        )
    p = change.provenance
    numbers = tuple(
        # The subscriber showing a mobile number is their consent to list it (L34).
        replace(n, published=True, consent=n.consent or Consent(p.at, p.channel, change.change_id))
        if n.e164 in wanted and n.line_type is LineType.MOBILE
        else replace(n, published=n.e164 in wanted)
        for n in item.numbers
    )
    kept = {(u.surname, u.first_name): u.consent for u in item.extra_users}
    users = []
    for u in values.extra_users:
        consent = kept.get((u.surname, u.first_name))
        if u.consent_attested and consent is None:
            p = change.provenance
            consent = Consent(p.at, p.channel, f"{change.change_id}:extra")
        users.append(ExtraUser(u.surname, u.first_name, consent if u.consent_attested else None))
    return replace(
        item,
        first_name=values.first_name,
        business_names=values.business_names,
        profession=values.profession or None,
        mention=values.mention or None,
        email=values.email or None,
        numbers=numbers,
        extra_users=tuple(users),
    )


async def change_content(
    repo: ListingRepository,
    *,
    request: ChangeRequest,
    listing_id: str,
    expected_version: int,
    values: ContentValues,
    attested: bool,
) -> Listing:
    """Apply the content if the subscriber certified it accurate; typed errors otherwise."""
    if not attested:
        raise ValidationError(
            "attested", "required", "the subscriber must certify that the information is accurate"
        )
    change = change_of(request, attested=True)
    listing = await owned_listing(repo, request.who, listing_id)
    return await change_listing(
        repo,
        listing_id,
        expected_version,
        lambda item: with_content(item, values, change),
        change,
        listing,
    )
