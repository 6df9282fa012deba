"""Changing a listing's R10 choices: one function for the subscriber and for support.

A subscriber changes only the listings of their own account; a support agent acts on a
subscriber's behalf and must give a reason and the channel the request came through.
Either way the change goes through ``change_listing`` (validation, version check, history).
The rules themselves are the domain's (``domain.requests``, ``domain.choice_changes``).
"""

from __future__ import annotations

from directory_svc.domain.access import Principal, Role
from directory_svc.domain.choice_changes import ChoiceValues, consent_to_list, with_choices
from directory_svc.domain.errors import NotFound
from directory_svc.domain.listings import Listing
from directory_svc.domain.requests import ChangeRequest, change_of
from directory_svc.services.listings import change_listing, get_listing
from directory_svc.storage.listings import ListingRepository


async def owned_listing(repo: ListingRepository, who: Principal, listing_id: str) -> Listing:
    """The listing if the caller may act on it; a customer sees ``NotFound`` for others'."""
    listing = await get_listing(repo, listing_id)
    if who.role is Role.CUSTOMER and listing.account_id != who.account_id:
        raise NotFound("listing")
    if who.role not in (Role.CUSTOMER, Role.SUPPORT, Role.ADMIN):
        raise NotFound("listing")
    return listing


async def change_choices(
    repo: ListingRepository,
    *,
    request: ChangeRequest,
    listing_id: str,
    expected_version: int,
    values: ChoiceValues,
) -> Listing:
    """Apply the choices (see the module docstring); typed errors on every refusal."""
    change = change_of(request)
    listing = await owned_listing(repo, request.who, listing_id)

    def edit(item: Listing) -> Listing:
        return with_choices(item, values, change)

    return await change_listing(repo, listing_id, expected_version, edit, change, listing)


__all__ = [
    "ChangeRequest",
    "ChoiceValues",
    "change_choices",
    "consent_to_list",
    "owned_listing",
    "with_choices",
]
