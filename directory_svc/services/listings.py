"""Reading listings."""

from __future__ import annotations

from directory_svc.domain.errors import NotFound, ValidationError
from directory_svc.domain.listings import Listing
from directory_svc.domain.pagination import MAX_PAGE_SIZE, Page
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
