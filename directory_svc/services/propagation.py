"""How long subscribers' opt-outs take to reach each publisher (issue 15).

A feed that carries opt-outs (an entry leaving because its subscriber unlisted, terminated
the line, withdrew a mobile number's consent or refused reverse look-up, or a masking or
opposition choice carried again) has reached its publisher once the publisher acknowledged
that feed, or a later one, with a ``matched`` (or ``unverifiable``) acknowledgement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from directory_svc.domain.exports import Acknowledgement, AckStatus, ExportRun
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
    by_publisher = await _pending_by_publisher(publishers=publishers, runs=runs, acks=acks, now=now)
    pending = [p for waiting in by_publisher.values() for p in waiting if p.age >= older_than]
    return sorted(pending, key=lambda p: p.oldest_change_at)


async def oldest_pending_ages(
    *, publishers: PublisherRepository, runs: ExportRuns, acks: FeedAcks, now: datetime
) -> dict[str, float]:
    """For every active publisher, the age in seconds of its oldest unacknowledged
    opt-out (0 when none is pending): the gauge of ``/metrics``."""
    by_publisher = await _pending_by_publisher(publishers=publishers, runs=runs, acks=acks, now=now)
    return {
        pid: max((p.age.total_seconds() for p in waiting), default=0.0)
        for pid, waiting in by_publisher.items()
    }


async def _pending_by_publisher(
    *, publishers: PublisherRepository, runs: ExportRuns, acks: FeedAcks, now: datetime
) -> dict[str, list[PendingOptOuts]]:
    out: dict[str, list[PendingOptOuts]] = {}
    for publisher in await publishers.all():
        if not publisher.active:
            continue
        done = await acks.applied_up_to(publisher.id, APPLIED)
        carried = await runs.with_optouts_after(publisher.id, done)
        out[publisher.id] = [_pending(r, now) for r in carried if r.oldest_optout_at is not None]
    return out


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


@dataclass(frozen=True, slots=True)
class AcknowledgedFeed:
    """The last feed a publisher acknowledged as applied: the acknowledgement, and when
    that feed's scan started (what it includes). Both None: nothing acknowledged yet."""

    ack: Acknowledgement | None
    scanned_at: datetime | None

    def covers(self, changed_at: datetime | None) -> bool:
        """Whether that feed includes a listing last changed at ``changed_at``."""
        return includes(self.scanned_at, changed_at)


def includes(scanned_at: datetime | None, changed_at: datetime | None) -> bool:
    """Whether a feed whose scan started at ``scanned_at`` includes a listing last changed
    at ``changed_at``."""
    return scanned_at is not None and (changed_at is None or scanned_at >= changed_at)


async def acknowledged_feed(
    publisher_id: str, *, runs: ExportRuns, acks: FeedAcks
) -> AcknowledgedFeed:
    """The publisher's last feed acknowledged as applied (matched or unverifiable)."""
    seq = await acks.applied_up_to(publisher_id, APPLIED)
    if not seq:
        return AcknowledgedFeed(None, None)
    run = await runs.get(publisher_id, seq)
    scanned = None if run is None else (run.scan_started or run.started_at)
    return AcknowledgedFeed(await acks.get(publisher_id, seq), scanned)


async def coverage(
    *, publishers: PublisherRepository, runs: ExportRuns, acks: FeedAcks
) -> list[Coverage]:
    """Each active publisher's coverage (one entry per publisher)."""
    out = []
    for publisher in await publishers.all():
        if not publisher.active:
            continue
        feed = await acknowledged_feed(publisher.id, runs=runs, acks=acks)
        acked_at = None if feed.ack is None else feed.ack.received_at
        out.append(Coverage(publisher.profile.kind, feed.scanned_at, acked_at))
    return out


def summary(changed_at: datetime | None, covered: list[Coverage]) -> AckSummary:
    """The acknowledgement summary of a listing last changed at ``changed_at``."""
    done = [c for c in covered if includes(c.scanned_at, changed_at)]
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
