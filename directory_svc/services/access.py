"""The access log as admins query it (subscribers see theirs through ``me``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from directory_svc.domain.access import AccessRecord
from directory_svc.storage.access_log import AccessLog

MAX_RECORDS = 500


@dataclass(frozen=True, slots=True)
class AccessQuery:
    """Which records: by agent, listing, account and period; at most ``first`` (1–500)."""

    agent: str | None = None
    listing_id: str | None = None
    account_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    first: int = 100


async def access_records(log: AccessLog, *, query: AccessQuery) -> list[AccessRecord]:
    """The matching access records, newest first."""
    first = max(1, min(query.first, MAX_RECORDS))
    return await log.query(
        query.agent, query.listing_id, query.account_id, query.since, query.until, first
    )
