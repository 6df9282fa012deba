"""Support look-ups: every read of a person's data is logged with its purpose.

Look-up by number is the enumeration risk (walking numbers rebuilds a reverse directory):
it is rate-limited per agent, and an agent over the limit is refused and flagged in the
access log.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, replace

from directory_svc import clock
from directory_svc.domain.access import Principal
from directory_svc.domain.accounts import Account
from directory_svc.domain.errors import DomainError, ValidationError
from directory_svc.domain.history import HistoryEntry
from directory_svc.domain.listings import Listing
from directory_svc.domain.pagination import MAX_PAGE_SIZE, Page
from directory_svc.domain.projection import Projection, homonyms_in_list, project
from directory_svc.domain.publishers import Publisher
from directory_svc.domain.text import check_text
from directory_svc.services.accounts import get_account
from directory_svc.services.listings import find_by_number, get_listing, homonym_group
from directory_svc.storage.access_log import AccessLog, AccessRecord
from directory_svc.storage.accounts import AccountRepository
from directory_svc.storage.feeds import PublisherRepository
from directory_svc.storage.ledger import FeedLedger
from directory_svc.storage.listings import ListingRepository


class RateLimited(DomainError):
    """Too many look-ups; ``retry_after_s`` says when to try again."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many look-ups; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class LookupLimiter:
    """A sliding one-hour window of look-ups per agent (per process)."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._calls: defaultdict[str, deque[float]] = defaultdict(deque)

    def check(self, agent: str, now: float | None = None) -> None:
        """Count one look-up, or raise ``RateLimited``."""
        now = time.monotonic() if now is None else now
        calls = self._calls[agent]
        while calls and now - calls[0] >= 3600:
            calls.popleft()
        if len(calls) >= self.per_hour:
            raise RateLimited(int(3600 - (now - calls[0])) + 1)
        calls.append(now)


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


async def lookup_by_number(
    repo: ListingRepository,
    log: AccessLog,
    limiter: LookupLimiter,
    who: Principal,
    number: str,
    purpose: str,
) -> list[Listing]:
    """Listings showing ``number`` (any French writing); logged, rate-limited per agent."""
    reason = _purpose(purpose)
    try:
        limiter.check(who.subject)
    except RateLimited:
        at = clock.now()
        await log.record([AccessRecord(at, who.subject, who.role.value, "lookupByNumber",
                                       reason, flagged=True)])  # fmt: skip
        raise
    found = await find_by_number(repo, number)
    await log.record(_records(who, "lookupByNumber", reason, found))
    return found


async def search_listings(
    repo: ListingRepository,
    log: AccessLog,
    who: Principal,
    surname: str,
    insee_code: str | None,
    postcode: str | None,
    purpose: str,
    first: int = 20,
    after: str | None = None,
) -> Page[Listing]:
    """Listings with this surname (case, accents, hyphens ignored) in a commune or postcode,
    a page at a time; each listing of the page is logged as read."""
    reason = _purpose(purpose)
    check_text("surname", surname, 130, required=True)
    if (insee_code is None) == (postcode is None):
        raise ValidationError("commune", "one_of", "give either a commune or a postcode")
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise ValidationError("first", "out_of_range", f"must be between 1 and {MAX_PAGE_SIZE}")
    page = await repo.find_by_surname(surname, insee_code, postcode, first, after)
    await log.record(_records(who, "searchListings", reason, page.items))
    return page


@dataclass(frozen=True, slots=True)
class PublisherView:
    """What one publisher gets of the listing now, and what it was last sent."""

    publisher: Publisher
    projection: Projection
    last_sent_sequence: int | None


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a listing appears (or not) where it does."""

    listing: Listing
    history: list[HistoryEntry]
    publishers: list[PublisherView]


async def explain_listing(
    listings: ListingRepository,
    publishers: PublisherRepository,
    ledger: FeedLedger,
    log: AccessLog,
    who: Principal,
    listing_id: str,
    purpose: str,
) -> Explanation:
    """The listing, its full history, and each registered publisher's projection with the
    reasons (computed by the domain projection, as exports do); logged as an access."""
    reason = _purpose(purpose)
    listing = await get_listing(listings, listing_id)
    await log.record(_records(who, "explainListing", reason, [listing]))
    group = await homonym_group(listings, listing)
    views = []
    for publisher in await publishers.all():
        homonyms = homonyms_in_list(group, publisher.profile)
        sent = (await ledger.get(publisher.id, [listing.id])).get(listing.id)
        views.append(
            PublisherView(
                publisher=publisher,
                projection=project(listing, publisher.profile, homonyms),
                last_sent_sequence=sent.sequence if sent else None,
            )
        )
    return Explanation(listing, await listings.history(listing.id), views)


async def account_with_listings(
    accounts: AccountRepository,
    listings: ListingRepository,
    log: AccessLog,
    who: Principal,
    account_id: str,
    purpose: str,
) -> tuple[Account, list[Listing]]:
    """An account, its information records and its listings; one access record per listing."""
    reason = _purpose(purpose)
    account = await get_account(accounts, account_id)
    found = await listings.for_account(account_id)
    records = _records(who, "account", reason, found)
    if not found:
        records = [replace(records[0], account_id=account_id)]
    await log.record(records)
    return account, found
