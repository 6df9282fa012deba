"""What the compliance officer shows the regulator: each publisher's feeds and
acknowledgements, how long opt-outs took to reach each publisher, and opt-outs per week.

Everything is read from the service's own records (export runs and acknowledgements); no
personal data is involved: counts, sequences and times only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from directory_svc.domain.errors import ValidationError
from directory_svc.domain.exports import Acknowledgement, ExportRun
from directory_svc.domain.publishers import Publisher, PublisherKind
from directory_svc.services.dependencies import Services
from directory_svc.services.propagation import APPLIED, oldest_pending_ages

RECENT_RUNS = 5
MAX_DAYS = 366
MAX_WEEKS = 104


@dataclass(frozen=True, slots=True)
class PublisherStatus:
    """One publisher as the officer sees it: its last feeds, its last acknowledgement, and
    the age of its oldest opt-out not acknowledged yet (None: nothing pending)."""

    publisher: Publisher
    runs: list[ExportRun]
    last_ack: Acknowledgement | None
    oldest_pending: timedelta | None


@dataclass(frozen=True, slots=True)
class PropagationSample:
    """One feed carrying opt-outs, acknowledged as applied: from its oldest opt-out to the
    acknowledgement that covered it."""

    publisher_id: str
    sequence: int
    optouts: int
    acknowledged_at: datetime
    delay: timedelta


@dataclass(frozen=True, slots=True)
class WeeklyOptOuts:
    """Opt-outs carried to the publishers of one kind in the ISO week starting ``week``
    (an opt-out sent to two publishers counts twice)."""

    week: date
    kind: PublisherKind
    optouts: int


async def publisher_statuses(services: Services, *, now: datetime) -> list[PublisherStatus]:
    """Every registered publisher, in registry order."""
    ages = await oldest_pending_ages(
        publishers=services.publishers, runs=services.runs, acks=services.acks, now=now
    )
    out = []
    for publisher in await services.publishers.all():
        age = ages.get(publisher.id, 0.0)
        out.append(
            PublisherStatus(
                publisher=publisher,
                runs=await services.runs.list(publisher.id, RECENT_RUNS),
                last_ack=await services.acks.latest(publisher.id),
                oldest_pending=timedelta(seconds=age) if age > 0 else None,
            )
        )
    return out


def _days(days: int) -> timedelta:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError("days", "out_of_range", f"must be between 1 and {MAX_DAYS}")
    return timedelta(days=days)


async def propagation_samples(
    services: Services, *, now: datetime, days: int = 30
) -> list[PropagationSample]:
    """Feeds with opt-outs of the last ``days`` days that an acknowledgement covered (that
    feed's or a later one's, matched or unverifiable), with the delay; oldest first."""
    since = now - _days(days)
    out = []
    for publisher in await services.publishers.all():
        applied = sorted(
            (a for a in await services.acks.for_publisher(publisher.id) if a.status in APPLIED),
            key=lambda a: a.sequence,
        )
        for run in await services.runs.with_optouts_since(publisher.id, since):
            covering = next((a for a in applied if a.sequence >= run.seq), None)
            if covering is None or run.oldest_optout_at is None:
                continue
            delay = max(timedelta(0), covering.received_at - run.oldest_optout_at)
            out.append(
                PropagationSample(publisher.id, run.seq, run.optouts, covering.received_at, delay)
            )
    return sorted(out, key=lambda s: s.acknowledged_at)


async def optouts_per_week(
    services: Services, *, now: datetime, weeks: int = 12
) -> list[WeeklyOptOuts]:
    """Opt-outs carried per ISO week and kind of publisher over the last ``weeks`` weeks
    (every week and kind, zero included), oldest week first."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValidationError("weeks", "out_of_range", f"must be between 1 and {MAX_WEEKS}")
    this_week = now.date() - timedelta(days=now.weekday())
    first = this_week - timedelta(weeks=weeks - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    counts = {(first + timedelta(weeks=i), kind): 0 for i in range(weeks) for kind in PublisherKind}
    for publisher in await services.publishers.all():
        for run in await services.runs.with_optouts_since(publisher.id, since):
            day = run.started_at.date()
            key = (day - timedelta(days=day.weekday()), publisher.profile.kind)
            if key in counts:
                counts[key] += run.optouts
    return [WeeklyOptOuts(week, kind, n) for (week, kind), n in counts.items()]
