"""Staff reads of personal data: each needs a purpose, is logged, and is limited.

Every field that returns a listing to staff goes through ``_open`` (purpose checked, the
agent's hourly limits counted, a refusal logged as flagged) and ``_close`` (one access
record per listing returned, each counted). Look-up by number is the enumeration risk
(walking numbers rebuilds a reverse directory) and has its own, lower limit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from directory_svc import clock
from directory_svc.domain.access import AccessRecord, Principal
from directory_svc.domain.accounts import Account
from directory_svc.domain.data_queries import DataQuery
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.exports import Acknowledgement
from directory_svc.domain.history import HistoryEntry
from directory_svc.domain.listings import Listing
from directory_svc.domain.pagination import MAX_PAGE_SIZE, Page
from directory_svc.domain.projection import Projection, homonyms_in_list, project
from directory_svc.domain.publishers import Publisher
from directory_svc.domain.text import check_text
from directory_svc.services.accounts import get_account
from directory_svc.services.dependencies import Services
from directory_svc.services.listings import (
    find_by_number,
    get_listing,
    homonym_group,
    list_listings,
)
from directory_svc.services.propagation import acknowledged_feed
from directory_svc.services.rate_limits import RateLimited, RateLimits
from directory_svc.storage.access_log import AccessLog
from directory_svc.storage.accounts import AccountRepository
from directory_svc.storage.data_queries import DataQueries
from directory_svc.storage.listings import ListingRepository
from directory_svc.storage.maintenance import checked_history


def _purpose(purpose: str) -> str:
    return check_text("purpose", purpose, 200, required=True)


def _records(
    who: Principal, operation: str, purpose: str, found: list[Listing]
) -> list[AccessRecord]:
    at = clock.now()
    return [
        AccessRecord(at, who.subject, who.role.value, operation, purpose, item.id, item.account_id)
        for item in found
    ] or [AccessRecord(at, who.subject, who.role.value, operation, purpose)]


@dataclass(frozen=True, slots=True)
class StaffRead:
    """One staff read of personal data: who, through which field, for which purpose."""

    who: Principal
    operation: str
    purpose: str


async def _open(read: StaffRead, log: AccessLog, limits: RateLimits, *, lookup: bool) -> str:
    """The checked purpose, once the read is within the agent's limits; a refused read is
    logged as flagged."""
    reason = _purpose(read.purpose)
    try:
        await limits.open_staff_read(agent=read.who.subject, lookup=lookup)
    except RateLimited:
        who = read.who
        flagged = AccessRecord(
            clock.now(), who.subject, who.role.value, read.operation, reason, flagged=True
        )
        await log.record([flagged])
        raise
    return reason


async def _close(
    read: StaffRead, reason: str, log: AccessLog, limits: RateLimits, found: list[Listing]
) -> None:
    """Log one access record per listing returned and count them against the limits."""
    await limits.count_listings_read(agent=read.who.subject, listings=len(found))
    await log.record(_records(read.who, read.operation, reason, found))


async def lookup_by_number(
    *, repo: ListingRepository, log: AccessLog, limits: RateLimits, read: StaffRead, number: str
) -> list[Listing]:
    """Listings showing ``number`` (any French writing); logged, rate-limited per agent."""
    reason = await _open(read, log, limits, lookup=True)
    found = await find_by_number(repo, number)
    await _close(read, reason, log, limits, found)
    return found


@dataclass(frozen=True, slots=True)
class SurnameSearch:
    """A search by surname in a commune (INSEE code) or a postcode, one page at a time."""

    surname: str
    insee_code: str | None = None
    postcode: str | None = None
    first: int = 20
    after: str | None = None


async def search_listings(
    *,
    repo: ListingRepository,
    log: AccessLog,
    limits: RateLimits,
    read: StaffRead,
    search: SurnameSearch,
) -> Page[Listing]:
    """Listings with this surname (case, accents, hyphens ignored) in a commune or postcode,
    a page at a time; each listing of the page is logged as read."""
    _purpose(read.purpose)
    check_text("surname", search.surname, 130, required=True)
    if (search.insee_code is None) == (search.postcode is None):
        raise ValidationError("commune", "one_of", "give either a commune or a postcode")
    if not 1 <= search.first <= MAX_PAGE_SIZE:
        raise ValidationError("first", "out_of_range", f"must be between 1 and {MAX_PAGE_SIZE}")
    reason = await _open(read, log, limits, lookup=False)
    page = await repo.find_by_surname(
        search.surname, search.insee_code, search.postcode, search.first, search.after
    )
    await _close(read, reason, log, limits, page.items)
    return page


async def read_listing(
    *, repo: ListingRepository, log: AccessLog, limits: RateLimits, read: StaffRead, id: str
) -> Listing:
    """One listing by id; logged and counted."""
    reason = await _open(read, log, limits, lookup=False)
    listing = await get_listing(repo, id)
    await _close(read, reason, log, limits, [listing])
    return listing


async def read_listings(
    *,
    repo: ListingRepository,
    log: AccessLog,
    limits: RateLimits,
    read: StaffRead,
    first: int,
    after: str | None,
) -> Page[Listing]:
    """Listings in a stable order (the admin's bulk read); each one logged and counted."""
    _purpose(read.purpose)
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise ValidationError("first", "out_of_range", f"must be between 1 and {MAX_PAGE_SIZE}")
    reason = await _open(read, log, limits, lookup=False)
    page = await list_listings(repo, first, after)
    await _close(read, reason, log, limits, page.items)
    return page


async def read_open_reports(
    *, queries: DataQueries, log: AccessLog, limits: RateLimits, read: StaffRead, listing_id: str
) -> list[DataQuery]:
    """The open publisher reports about a listing (they may quote its data); logged with
    the purpose as one read of that listing."""
    reason = await _open(read, log, limits, lookup=False)
    found = await queries.open_for_entry(listing_id)
    at, who = clock.now(), read.who
    await log.record(
        [AccessRecord(at, who.subject, who.role.value, read.operation, reason, listing_id)]
    )
    return found


@dataclass(frozen=True, slots=True)
class PublisherView:
    """What one publisher gets of the listing now, and what it was last sent."""

    publisher: Publisher
    projection: Projection
    last_sent_sequence: int | None
    acknowledged: Acknowledgement | None = None
    """The publisher's latest acknowledgement of a feed applied (matched or unverifiable)."""
    covers_current: bool = False
    """Whether that acknowledged feed was scanned after the listing's last change."""


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a listing appears (or not) where it does."""

    listing: Listing
    history: list[HistoryEntry]
    publishers: list[PublisherView]
    chain_problem: str | None = None
    """What is wrong with the history's chain of hashes (None: it verifies)."""


async def explain_listing(services: Services, *, read: StaffRead, listing_id: str) -> Explanation:
    """The listing, its full history, and each registered publisher's projection with the
    reasons (computed by the domain projection, as exports do), what it was last sent and
    its last acknowledgement; logged as an access."""
    reason = await _open(read, services.access_log, services.limits, lookup=False)
    listing = await get_listing(services.listings, listing_id)
    await _close(read, reason, services.access_log, services.limits, [listing])
    return await explanation_of(services, listing)


async def explanation_of(services: Services, listing: Listing) -> Explanation:
    """The explanation of ``listing`` (no access record: the caller logs)."""
    group = await homonym_group(services.listings, listing)
    views = []
    for publisher in await services.publishers.all():
        homonyms = homonyms_in_list(group, publisher.profile)
        sent = (await services.ledger.get(publisher.id, [listing.id])).get(listing.id)
        feed = await acknowledged_feed(publisher.id, runs=services.runs, acks=services.acks)
        views.append(
            PublisherView(
                publisher=publisher,
                projection=project(listing, publisher.profile, homonyms),
                last_sent_sequence=sent.sequence if sent else None,
                acknowledged=feed.ack,
                covers_current=feed.covers(listing.updated_at),
            )
        )
    history, problem = await checked_history(services.listings, listing.id)
    return Explanation(listing, history, views, problem)


async def account_with_listings(
    *,
    accounts: AccountRepository,
    listings: ListingRepository,
    log: AccessLog,
    limits: RateLimits,
    read: StaffRead,
    account_id: str,
) -> tuple[Account, list[Listing]]:
    """An account, its information records and its listings; one access record per listing."""
    reason = await _open(read, log, limits, lookup=False)
    account = await get_account(accounts, account_id)
    found = await listings.for_account(account_id)
    await limits.count_listings_read(agent=read.who.subject, listings=len(found))
    records = _records(read.who, read.operation, reason, found)
    if not found:
        records = [replace(records[0], account_id=account_id)]
    await log.record(records)
    return account, found
