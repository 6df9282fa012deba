"""Changing a listing's R10 choices: one function for the subscriber and for support.

A subscriber changes only the listings of their own account; a support agent acts on a
subscriber's behalf and must give a reason and the channel the request came through.
Either way the change goes through ``change_listing`` (validation, version check, history).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from directory_svc.domain.access import Principal, Role
from directory_svc.domain.choices import Actor, Channel, Consent, Provenance
from directory_svc.domain.errors import NotFound, ValidationError
from directory_svc.domain.history import Change
from directory_svc.domain.listings import LineNumber, Listing
from directory_svc.domain.numbers import LineType
from directory_svc.domain.text import check_text
from directory_svc.services.listings import change_listing, get_listing
from directory_svc.storage.listings import ListingRepository

STAFF_CHANNELS = (Channel.PHONE, Channel.MAIL, Channel.SHOP)


@dataclass(frozen=True, slots=True)
class ChoiceValues:
    """The six choices as the caller wants them."""

    listed: bool
    initial_only: bool
    no_gender: bool
    no_street: bool
    no_reverse_lookup: bool
    no_marketing: bool


async def owned_listing(repo: ListingRepository, who: Principal, listing_id: str) -> Listing:
    """The listing if the caller may act on it; a customer sees ``NotFound`` for others'."""
    listing = await get_listing(repo, listing_id)
    if who.role is Role.CUSTOMER and listing.account_id != who.account_id:
        raise NotFound("listing")
    if who.role not in (Role.CUSTOMER, Role.SUPPORT, Role.ADMIN):
        raise NotFound("listing")
    return listing


def make_change(
    who: Principal,
    change_id: str,
    at: datetime,
    notice_version: str,
    reason: str | None,
    channel: Channel | None,
    attested: bool = False,
) -> Change:
    """The change a caller makes: a subscriber on the web, or support with reason and channel."""
    check_text("change_id", change_id, 64, required=True)
    if who.role is Role.CUSTOMER:
        provenance = Provenance(Actor.SUBSCRIBER, Channel.WEB, at, notice_version)
        return Change(change_id, provenance, reason=None, attested=attested)
    if not reason or not reason.strip():
        raise ValidationError(
            "reason", "required", "a reason is required when acting for a subscriber"
        )
    if channel not in STAFF_CHANNELS:
        raise ValidationError(
            "channel", "required", "say how the request came: phone, mail or shop"
        )
    text = check_text("reason", reason, 300, required=True)
    provenance = Provenance(Actor.SUPPORT, channel, at, notice_version, agent_id=who.subject)
    return Change(change_id, provenance, reason=text, attested=attested)


async def change_choices(
    repo: ListingRepository,
    who: Principal,
    listing_id: str,
    expected_version: int,
    values: ChoiceValues,
    change_id: str,
    at: datetime,
    notice_version: str,
    reason: str | None = None,
    channel: Channel | None = None,
) -> Listing:
    """Apply the choices (see the module docstring); typed errors on every refusal."""
    change = make_change(who, change_id, at, notice_version, reason, channel)
    listing = await owned_listing(repo, who, listing_id)

    def edit(item: Listing) -> Listing:
        return with_choices(item, values, change)

    return await change_listing(repo, listing_id, expected_version, edit, change, listing)


def with_choices(item: Listing, values: ChoiceValues, change: Change) -> Listing:
    """The listing with ``values`` as its choices (pure; used for saving and for previews).

    The subscriber asking to be listed is the recorded prior consent (L34) of the mobile
    numbers the listing shows; when it shows none, its main number is shown.
    """
    numbers = item.numbers
    if values.listed and not item.choices.listed:
        numbers = consent_to_list(item.numbers, change)
    return replace(
        item,
        numbers=numbers,
        choices=replace(
            item.choices,
            listed=values.listed,
            initial_only=values.initial_only,
            no_gender=values.no_gender,
            no_street=values.no_street,
            no_reverse_lookup=values.no_reverse_lookup,
            no_marketing=values.no_marketing,
        ),
    )


def consent_to_list(numbers: tuple[LineNumber, ...], change: Change) -> tuple[LineNumber, ...]:
    """The numbers once the subscriber asked to be listed: the main number is shown when
    none is, and each mobile number shown gets this change as its consent."""
    if not any(n.published for n in numbers):
        numbers = tuple(replace(n, published=i == 0) for i, n in enumerate(numbers))
    p = change.provenance
    return tuple(
        replace(n, consent=Consent(p.at, p.channel, change.change_id))
        if n.published and n.line_type is LineType.MOBILE and n.consent is None
        else n
        for n in numbers
    )
