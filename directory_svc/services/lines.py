"""Line termination and the purge of personal data after the retention period."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from directory_svc.domain.access import AccessRecord, Principal, Role
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.errors import NotFound, ValidationError
from directory_svc.domain.history import Change
from directory_svc.domain.listings import Listing, Status
from directory_svc.domain.requests import STAFF_CHANNELS
from directory_svc.domain.text import check_text
from directory_svc.services.listings import change_listing, get_listing
from directory_svc.storage.access_log import AccessLog
from directory_svc.storage.listings import ListingRepository
from directory_svc.storage.purge import purge


@dataclass(frozen=True, slots=True, kw_only=True)
class TerminateLine:
    """End a line: who asks (``None``: the operator's own tools), why, through which channel.

    ``expected_version`` is the version read (``None``: the latest, for the command line).
    """

    listing_id: str
    expected_version: int | None
    change_id: str
    reason: str
    at: datetime
    by: Principal | None = None
    channel: Channel | None = None


async def terminate_line(
    repo: ListingRepository, command: TerminateLine, *, access_log: AccessLog | None = None
) -> Listing:
    """Mark a line terminated, for good: its entry leaves every publisher's next delta as a
    delete, and nothing re-activates it (a new line is a new listing).

    Staff give a reason and the channel of the request; the change is in the history and,
    for staff, in the access log. Raises ``ValidationError``, ``NotFound`` or
    ``VersionConflict``.
    """
    reason = check_text("reason", command.reason, 300, required=True)
    if command.by is None:
        provenance = Provenance(Actor.OPERATOR, Channel.SYSTEM, command.at, "termination")
    else:
        if command.by.role not in (Role.SUPPORT, Role.ADMIN):
            raise NotFound("listing")
        if command.channel not in STAFF_CHANNELS:
            raise ValidationError(
                "channel", "required", "say how the request came: phone, mail or shop"
            )
        provenance = Provenance(
            Actor.SUPPORT, command.channel, command.at, "termination", command.by.subject
        )
    change = Change(command.change_id, provenance, reason=reason)
    current = await get_listing(repo, command.listing_id)
    if current.status is Status.TERMINATED:
        if change.change_id in {e.change_id for e in await repo.history(current.id)}:
            return current  # a retry of this very termination
        raise ValidationError("status", "already_terminated", "the line is already terminated")
    version = current.version if command.expected_version is None else command.expected_version
    done = await change_listing(
        repo,
        current.id,
        version,
        lambda item: replace(item, status=Status.TERMINATED),
        change,
        current,
    )
    if command.by is not None and access_log is not None:
        who = command.by
        await access_log.record(
            [
                AccessRecord(
                    command.at,
                    who.subject,
                    who.role.value,
                    "terminateLine",
                    reason,
                    done.id,
                    done.account_id,
                )
            ]
        )
    return done


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
