"""Listing use cases: read, look up, create and change (one path for every edge)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from directory_svc.domain.errors import NotFound, ValidationError
from directory_svc.domain.history import Change, HistoryEntry
from directory_svc.domain.listings import Listing, Status
from directory_svc.domain.numbers import parse_french_number
from directory_svc.domain.pagination import MAX_PAGE_SIZE, Page
from directory_svc.domain.validation import clean_listing, validate_listing
from directory_svc.reference import communes
from directory_svc.storage.listings import ListingRepository


async def get_listing(repo: ListingRepository, listing_id: str) -> Listing:
    """The listing with ``listing_id``; raises ``NotFound`` when there is none."""
    listing = await repo.get(listing_id)
    if listing is None:
        raise NotFound("listing")
    return listing


async def list_listings(repo: ListingRepository, first: int, after: str | None) -> Page[Listing]:
    """A page of listings in a stable order; ``first`` must be 1..MAX_PAGE_SIZE."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise ValidationError("first", "out_of_range", f"must be between 1 and {MAX_PAGE_SIZE}")
    return await repo.page(first, after)


async def find_by_number(repo: ListingRepository, number: str) -> list[Listing]:
    """Listings showing ``number``, written in any common French way."""
    return await repo.find_by_number(parse_french_number(number).e164)


async def listing_history(repo: ListingRepository, listing_id: str) -> list[HistoryEntry]:
    """The listing's changes, oldest first."""
    return await repo.history(listing_id)


def check_listing(listing: Listing) -> None:
    """Every rule: the domain's validation, then the official commune list."""
    validate_listing(listing)
    communes().check("address", listing.address.insee_code, listing.address.postcode)


def prepared(listing: Listing) -> Listing:
    """The listing as it is stored, after every rule: its texts cleaned (NFC, plain
    spaces, none at the ends), its commune normalised (Paris, Lyon and Marseille by
    arrondissement, from the postcode), then ``check_listing``: what is stored is what was
    validated."""
    listing = clean_listing(listing)
    a = listing.address
    code = communes().canonical("address", a.insee_code, a.postcode)
    if code != a.insee_code:
        listing = replace(listing, address=replace(a, insee_code=code))
    check_listing(listing)
    return listing


async def create_listing(repo: ListingRepository, listing: Listing, change: Change) -> Listing:
    """Validate and store a new listing; a retry with the same change id is harmless."""
    return await repo.create(prepared(listing), change)


async def change_listing(
    repo: ListingRepository,
    listing_id: str,
    expected_version: int,
    edit: Callable[[Listing], Listing],
    change: Change,
    loaded: Listing | None = None,
) -> Listing:
    """Apply ``edit`` to the listing if it is still at ``expected_version``.

    ``loaded`` is the listing when the caller has just read it (saves a read; the version
    check happens in the repository either way). Raises ``ValidationError`` (nothing
    stored), ``VersionConflict`` (with the current state) or ``NotFound``. Choices changed
    by the edit record the change's provenance. An edit that changes nothing of the
    current version writes nothing: the listing comes back at ``expected_version``.
    """
    current = loaded if loaded is not None else await get_listing(repo, listing_id)
    edited = edit(current)
    if edited.id != current.id or edited.account_id != current.account_id:
        raise ValidationError("id", "immutable", "cannot be changed")
    if current.status is Status.TERMINATED:
        raise ValidationError(
            "status", "terminated", "the line is terminated; nothing of it can change"
        )
    if edited.choices != current.choices:
        edited = _with_provenance(edited, change)
    edited = prepared(edited)
    if edited == current and current.version == expected_version:
        return current
    return await repo.apply(expected_version, edited, change, current)


def _with_provenance(listing: Listing, change: Change) -> Listing:
    return replace(listing, provenance=change.provenance)


async def homonym_groups(
    repo: ListingRepository, listings: list[Listing]
) -> dict[str, list[Listing]]:
    """``homonym_group`` of each listing, with one query for all of them."""
    keys = {item.id: repo.codec.homonym_keys(item) for item in listings}
    if not keys:
        return {}
    found = await repo.in_homonym_groups(
        sorted({hi for hi, _ in keys.values()}), sorted({hn for _, hn in keys.values()})
    )
    member_keys = [(m, repo.codec.homonym_keys(m)) for m in found]
    groups = {}
    for item in listings:
        hi, hn = keys[item.id]
        members = [m for m, (mi, mn) in member_keys if (mi == hi or mn == hn) and m.id != item.id]
        groups[item.id] = [*members, item]
    return groups


async def homonym_group(repo: ListingRepository, listing: Listing) -> list[Listing]:
    """Every stored listing sharing one of ``listing``'s homonymy keys, then ``listing``
    itself, last and as given (it may be an unsaved preview)."""
    initial_key, name_key = repo.codec.homonym_keys(listing)
    group = await repo.in_homonym_groups([initial_key], [name_key])
    return [*(m for m in group if m.id != listing.id), listing]
