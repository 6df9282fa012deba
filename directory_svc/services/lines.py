"""Line termination and the purge of personal data after the retention period."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.listings import Listing, Status
from directory_svc.services.listings import change_listing
from directory_svc.storage.listings import ListingRepository
from directory_svc.storage.purge import purge


async def terminate_line(
    repo: ListingRepository, listing_id: str, expected_version: int, change: Change
) -> Listing:
    """Mark a line terminated: its entry leaves every publisher's next delta as a delete."""
    return await change_listing(
        repo, listing_id, expected_version, lambda item: replace(item, status=Status.TERMINATED),
        change,
    )  # fmt: skip


async def purge_terminated(
    repo: ListingRepository,
    retention: timedelta,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Erase personal data of lines terminated longer than ``retention`` ago; returns how many."""
    change = Change(
        f"purge:{now.date().isoformat()}",
        Provenance(Actor.DEFAULT, Channel.SYSTEM, now, "retention"),
        reason=f"retention of {retention.days} days after termination",
    )
    done = 0
    for listing_id in await repo.terminated_before(now - retention):
        if await purge(repo, listing_id, change):
            done += 1
            if progress:
                progress(1)
    return done
