"""What a subscriber can ask about their own data: their history and a full copy (GDPR art. 15)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from directory_svc.domain.access import AccessRecord, Principal, Role
from directory_svc.domain.errors import NotFound
from directory_svc.domain.history import HistoryEntry, listing_values
from directory_svc.domain.listings import Listing
from directory_svc.services.dependencies import Services
from directory_svc.services.previews import Preview, previews
from directory_svc.services.propagation import AckSummary, coverage, summary
from directory_svc.storage.access_log import AccessLog
from directory_svc.storage.accounts import AccountRepository
from directory_svc.storage.listings import ListingRepository

EXPORT_FORMAT = "directory-svc/my-data/2"
"""2: no staff identity (``agent``) in changes or accesses, only their role."""


@dataclass(frozen=True, slots=True)
class MyChange:
    """One change of one of the subscriber's listings."""

    listing_id: str
    entry: HistoryEntry


def _account_of(who: Principal) -> str:
    if who.role is not Role.CUSTOMER or who.account_id is None:
        raise NotFound("account")
    return who.account_id


@dataclass(frozen=True, slots=True)
class MyOverview:
    """What the preferences form shows: the listings, their previews, recent accesses."""

    listings: list[Listing]
    previews: list[Preview]
    accesses: list[AccessRecord]
    acknowledgements: list[AckSummary]
    """Per listing (same order): how many publishers acknowledged its current state."""


async def my_overview(services: Services, *, who: Principal) -> MyOverview:
    """The caller's listings, each previewed per kind of publisher and with its
    acknowledgement summary, and the last 100 staff reads of their data."""
    mine = await my_listings(services.listings, who)
    previewed = await previews(services.listings, mine)
    accesses = await services.access_log.query(account_id=_account_of(who), limit=100)
    covered = await coverage(publishers=services.publishers, runs=services.runs, acks=services.acks)
    acknowledged = [summary(item.updated_at, covered) for item in mine]
    return MyOverview(mine, previewed, accesses, acknowledged)


async def my_listings(repo: ListingRepository, who: Principal) -> list[Listing]:
    """The listings of the caller's own account."""
    return await repo.for_account(_account_of(who))


async def my_history(repo: ListingRepository, who: Principal) -> list[MyChange]:
    """Every change of the caller's listings, newest first."""
    changes = []
    for listing in await my_listings(repo, who):
        changes += [MyChange(listing.id, e) for e in await repo.history(listing.id)]
    return sorted(changes, key=lambda c: c.entry.at, reverse=True)


def _when(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at else None


def _entry(entry: HistoryEntry) -> dict[str, Any]:
    """One change, as the subscriber sees it: who acted by role, never the staff member's
    identity (kept for the operator's audit, not handed out)."""
    p = entry.provenance
    return {
        "seq": entry.seq,
        "at": _when(entry.at),
        "by": p.actor.value,
        "channel": p.channel.value,
        "notice": p.notice_version,
        "reason": entry.reason,
        "attested": entry.attested,
        "before": entry.before,
        "after": entry.after,
    }


def _access(r: AccessRecord) -> dict[str, Any]:
    """One read of the subscriber's data: when, by which role, why; never by whom."""
    return {
        "at": _when(r.at),
        "role": r.role,
        "operation": r.operation,
        "purpose": r.purpose,
        "listing": r.listing_id,
    }


async def my_data_export(
    accounts: AccountRepository,
    listings: ListingRepository,
    access_log: AccessLog,
    who: Principal,
    at: datetime,
) -> dict[str, Any]:
    """Everything stored about the caller's account, as JSON-ready values."""
    account_id = _account_of(who)
    account = await accounts.get(account_id)
    mine = await listings.for_account(account_id)
    out_listings = []
    for item in mine:
        out_listings.append(
            {
                "id": item.id,
                "version": item.version,
                "updated_at": _when(item.updated_at),
                "values": listing_values(item),
                "history": [_entry(e) for e in await listings.history(item.id)],
            }
        )
    accesses = await access_log.query(account_id=account_id, limit=10_000)
    return {
        "format": EXPORT_FORMAT,
        "generated_at": _when(at),
        "account": {
            "id": account_id,
            "kind": account.kind.value if account else None,
            "informed": [
                {"at": _when(r.at), "channel": r.channel.value, "notice": r.notice_version}
                for r in (account.informed if account else ())
            ],
        },
        "listings": out_listings,
        "accesses": [_access(r) for r in accesses],
    }
