"""How long subscribers' opt-outs take to reach each publisher (issue 15).

A feed that carries opt-outs (an entry leaving because its subscriber unlisted, terminated
the line, withdrew a mobile number's consent or refused reverse look-up, or a masking or
opposition choice carried again) has reached its publisher once the publisher acknowledged
that feed, or a later one, with a ``matched`` (or ``unverifiable``) acknowledgement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from directory_svc.domain.exports import AckStatus, ExportRun
from directory_svc.domain.publishers import PublisherKind
from directory_svc.storage.acks import FeedAcks
from directory_svc.storage.export_runs import ExportRuns
from directory_svc.storage.feeds import PublisherRepository

APPLIED = (AckStatus.MATCHED, AckStatus.UNVERIFIABLE)


@dataclass(frozen=True, slots=True)
class PendingOptOuts:
    """A published feed carrying opt-outs that its publisher has not acknowledged yet."""

    publisher_id: str
    sequence: int
    optouts: int
    oldest_change_at: datetime
    age: timedelta


async def pending_optouts(
    *,
    publishers: PublisherRepository,
    runs: ExportRuns,
    acks: FeedAcks,
    now: datetime,
    older_than: timedelta = timedelta(0),
) -> list[PendingOptOuts]:
    """Every active publisher's unacknowledged feeds with opt-outs whose oldest opt-out is
    at least ``older_than`` old, oldest first."""
    pending = []
    for publisher in await publishers.all():
        if not publisher.active:
            continue
        done = await acks.applied_up_to(publisher.id, APPLIED)
        for run in await runs.with_optouts_after(publisher.id, done):
            if run.oldest_optout_at is not None and now - run.oldest_optout_at >= older_than:
                pending.append(_pending(run, now))
    return sorted(pending, key=lambda p: p.oldest_change_at)


def _pending(run: ExportRun, now: datetime) -> PendingOptOuts:
    assert run.oldest_optout_at is not None
    return PendingOptOuts(
        run.publisher_id, run.seq, run.optouts, run.oldest_optout_at, now - run.oldest_optout_at
    )


@dataclass(frozen=True, slots=True)
class Coverage:
    """How far one active publisher has acknowledged: the scan time of the last feed it
    acknowledged as applied, and when (None: nothing acknowledged yet)."""

    kind: PublisherKind
    scanned_at: datetime | None
    acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class KindCount:
    """Of the active publishers of one kind, how many acknowledged."""

    kind: PublisherKind
    acknowledged: int
    publishers: int


@dataclass(frozen=True, slots=True)
class AckSummary:
    """For one listing: how many active publishers acknowledged a feed that includes its
    current state, out of how many (also per kind), and the last such acknowledgement.
    No publisher is named."""

    acknowledged: int
    publishers: int
    last_acknowledged_at: datetime | None
    kinds: tuple[KindCount, ...] = ()


async def coverage(
    *, publishers: PublisherRepository, runs: ExportRuns, acks: FeedAcks
) -> list[Coverage]:
    """Each active publisher's coverage (one entry per publisher)."""
    out = []
    for publisher in await publishers.all():
        if not publisher.active:
            continue
        seq = await acks.applied_up_to(publisher.id, APPLIED)
        run = await runs.get(publisher.id, seq) if seq else None
        ack = await acks.get(publisher.id, seq) if seq else None
        scanned = None if run is None else (run.scan_started or run.started_at)
        acked_at = None if ack is None else ack.received_at
        out.append(Coverage(publisher.profile.kind, scanned, acked_at))
    return out


def summary(changed_at: datetime | None, covered: list[Coverage]) -> AckSummary:
    """The acknowledgement summary of a listing last changed at ``changed_at``."""
    done = [
        c
        for c in covered
        if c.scanned_at is not None and (changed_at is None or c.scanned_at >= changed_at)
    ]
    last = max((c.acknowledged_at for c in done if c.acknowledged_at), default=None)
    kinds = tuple(
        KindCount(
            kind,
            sum(1 for c in done if c.kind is kind),
            sum(1 for c in covered if c.kind is kind),
        )
        for kind in PublisherKind
        if any(c.kind is kind for c in covered)
    )
    return AckSummary(len(done), len(covered), last, kinds)
