"""Export runs, scheduler attempts and feed downloads as typed records (storage maps them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class FeedKind(StrEnum):
    """A full feed replaces the publisher's copy; a delta changes it."""

    FULL = "full"
    DELTA = "delta"


class RunStatus(StrEnum):
    """Where an export run stands.

    ``published``: its folder is visible but its ledger journal is not yet committed (the
    next run of the publisher commits it first); ``published_unrecorded``: published, but
    what it held is unknown (the next feed is a full one).
    """

    RUNNING = "running"
    PUBLISHED = "published"
    PUBLISHED_UNRECORDED = "published_unrecorded"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class ExportRun:
    """One export run of one publisher (its sequence number is the feed's)."""

    publisher_id: str
    seq: int
    kind: FeedKind
    status: RunStatus
    started_at: datetime
    heartbeat: datetime | None = None
    owner: str = ""
    finished_at: datetime | None = None
    folder: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    scan_started: datetime | None = None
    ledger_pending: bool = False
    delivered_at: datetime | None = None
    holds_digest: str | None = None
    """The digest of what the publisher holds once it applied this feed (None: unknown)."""
    optouts: int = 0
    """Entries the feed carries because their subscriber opted out."""
    oldest_optout_at: datetime | None = None
    """When the oldest of those opt-outs was made."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What to record about a run; ``None`` leaves a field as it is."""

    status: RunStatus | None = None
    finished_at: datetime | None = None
    scan_started: datetime | None = None
    counts: Mapping[str, int] | None = None
    folder: str | None = None
    ledger_pending: bool | None = None
    delivered_at: datetime | None = None
    recovered_at: datetime | None = None
    holds_digest: str | None = None
    optouts: int | None = None
    oldest_optout_at: datetime | None = None


class AttemptStatus(StrEnum):
    """Where one scheduled attempt stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SlotAttempt:
    """One attempt at one publisher's scheduled export (claimed by one process)."""

    publisher_id: str
    due: datetime
    attempt: int
    status: AttemptStatus
    owner: str
    started_at: datetime
    heartbeat: datetime
    finished_at: datetime | None = None
    error: str | None = None
    folder: str | None = None


@dataclass(frozen=True, slots=True)
class FeedDownload:
    """One feed file a publisher downloaded."""

    publisher_id: str
    subject: str
    folder: str
    file: str
    at: datetime


class AckStatus(StrEnum):
    """What a publisher's acknowledgement showed.

    ``matched``: its copy is exactly what the ledger says it must hold after that feed;
    ``mismatch``: it differs; ``late``: a newer feed was acknowledged first (recorded, not
    compared); ``unverifiable``: what the feed left is unknown (a feed older than public
    hashes, or one whose ledger record was lost).
    """

    MATCHED = "matched"
    MISMATCH = "mismatch"
    LATE = "late"
    UNVERIFIABLE = "unverifiable"


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """One acknowledgement received from a publisher, as checked."""

    publisher_id: str
    sequence: int
    status: AckStatus
    received_at: datetime
    copy_digest: str
    expected_digest: str | None
    signed: Mapping[str, object]
