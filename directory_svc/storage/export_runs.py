"""Export runs (with the per-publisher run lease), scheduled slots, and the download log."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from directory_svc import clock
from directory_svc.domain.errors import Busy
from directory_svc.domain.exports import (
    AttemptStatus,
    ExportRun,
    FeedDownload,
    FeedKind,
    RunOutcome,
    RunStatus,
    SlotAttempt,
)
from directory_svc.storage.ddl import ensure_indexes
from directory_svc.storage.documents import Document
from directory_svc.storage.processes import process_gone

RUN_HEARTBEAT = timedelta(seconds=15)
"""How often a running export says it is alive."""
RUN_STALE_AFTER = timedelta(minutes=5)
"""A run whose last heartbeat is older than this was interrupted (on another machine)."""


def _interrupted(run: ExportRun, now: datetime) -> bool:
    """A ``running`` run whose process died (same machine) or stopped beating (any)."""
    beat = run.heartbeat or run.started_at
    return now - beat >= RUN_STALE_AFTER or process_gone(run.owner)


def _run(doc: Document) -> ExportRun:
    return ExportRun(
        publisher_id=doc["pub"],
        seq=int(doc["seq"]),
        kind=FeedKind(doc["kind"]),
        status=RunStatus(doc["status"]),
        started_at=doc["started_at"],
        heartbeat=doc.get("heartbeat"),
        owner=str(doc.get("owner", "")),
        finished_at=doc.get("finished_at"),
        folder=doc.get("folder"),
        counts=dict(doc.get("counts") or {}),
        scan_started=doc.get("scan_started"),
        ledger_pending=bool(doc.get("ledger_pending", False)),
        delivered_at=doc.get("delivered_at"),
        holds_digest=doc.get("holds"),
        optouts=int(doc.get("optouts", 0)),
        oldest_optout_at=doc.get("oldest_optout"),
    )


_OUTCOME_FIELDS = (
    "status",
    "finished_at",
    "scan_started",
    "counts",
    "folder",
    "ledger_pending",
    "delivered_at",
    "recovered_at",
)
_STORED_AS = {"holds_digest": "holds", "optouts": "optouts", "oldest_optout_at": "oldest_optout"}


def _outcome(outcome: RunOutcome) -> Document:
    fields: Document = {}
    for name in (*_OUTCOME_FIELDS, *_STORED_AS):
        value = getattr(outcome, name)
        if value is not None:
            stored = _STORED_AS.get(name, name)
            fields[stored] = value.value if isinstance(value, RunStatus) else value
    if outcome.counts is not None:
        fields["counts"] = dict(outcome.counts)
    return fields


class ExportRuns:
    """Export runs: one document per publisher and sequence number (claimed by insert).

    The run document is also the publisher's export lease: a run is claimed only when
    the previous one has ended, and claiming inserts ``_id`` ``<publisher>:<last + 1>``,
    so two claimers that saw the same last run collide on one insert and the loser finds
    the winner running. A running export beats every ``RUN_HEARTBEAT``; a run whose
    process died, or that stopped beating for ``RUN_STALE_AFTER``, is marked
    ``interrupted`` by the next claimer. Single-document operations only.
    """

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["export_runs"]

    @staticmethod
    def _id(publisher_id: str, seq: int) -> str:
        return f"{publisher_id}:{seq:08d}"

    async def last_success(self, publisher_id: str) -> ExportRun | None:
        """The publisher's last successful run, or ``None``."""
        doc = await self._col.find_one(
            {"pub": publisher_id, "status": RunStatus.SUCCEEDED.value}, sort=[("seq", DESCENDING)]
        )
        return None if doc is None else _run(doc)

    async def start(self, publisher_id: str, kind: FeedKind, started: datetime, owner: str) -> int:
        """Claim the next run of this publisher; returns its sequence number.

        Raises ``Busy`` while another export of the publisher is running.
        """
        while True:
            doc = await self._col.find_one({"pub": publisher_id}, sort=[("seq", DESCENDING)])
            last = None if doc is None else _run(doc)
            if last is not None and last.status is RunStatus.RUNNING:
                if not _interrupted(last, started):
                    raise Busy(f"an export of publisher {publisher_id} (#{last.seq})")
                ended = RunOutcome(status=RunStatus.INTERRUPTED, finished_at=started)
                await self.finish(publisher_id, last.seq, ended)
            seq = 1 if last is None else last.seq + 1
            claim = {
                "_id": self._id(publisher_id, seq),
                "pub": publisher_id,
                "seq": seq,
                "kind": kind.value,
                "status": RunStatus.RUNNING.value,
                "started_at": started,
                "heartbeat": started,
                "owner": owner,
            }
            try:
                await self._col.insert_one(claim)
                return seq
            except DuplicateKeyError:
                continue  # someone claimed it first: look again

    async def get(self, publisher_id: str, seq: int) -> ExportRun | None:
        """One run of a publisher."""
        doc = await self._col.find_one({"_id": self._id(publisher_id, seq)})
        return None if doc is None else _run(doc)

    async def beat(self, publisher_id: str, seq: int, now: datetime) -> None:
        """Say that a run is alive."""
        await self._col.update_one(
            {"_id": self._id(publisher_id, seq)}, {"$set": {"heartbeat": now}}
        )

    async def still_running(self, publisher_id: str, seq: int) -> bool:
        """False when another process declared this run interrupted (it must not publish)."""
        run = await self._col.find_one({"_id": self._id(publisher_id, seq)}, {"status": 1})
        return run is not None and run["status"] == RunStatus.RUNNING.value

    async def set_kind(self, publisher_id: str, seq: int, kind: FeedKind) -> None:
        """Record what a run turned out to be (a first delta is a full export)."""
        await self._col.update_one(
            {"_id": self._id(publisher_id, seq)}, {"$set": {"kind": kind.value}}
        )

    async def finish(self, publisher_id: str, seq: int, outcome: RunOutcome) -> None:
        """Record the outcome of a run (its only writer is the process that claimed it)."""
        await self._col.update_one(
            {"_id": self._id(publisher_id, seq)}, {"$set": _outcome(outcome)}
        )

    async def publishing(self, publisher_id: str, seq: int, folder: str) -> bool:
        """Say, just before its folder is renamed into view, that this run's ledger journal
        must be committed; False when the run is no longer ours (taken over)."""
        result = await self._col.update_one(
            {"_id": self._id(publisher_id, seq), "status": RunStatus.RUNNING.value},
            {"$set": {"folder": folder, "ledger_pending": True}},
        )
        return result.matched_count == 1

    async def ledger_pending(self, publisher_id: str) -> list[ExportRun]:
        """Runs whose folder may be published but whose journal is not yet in the ledger,
        oldest first (their process died or the database failed in between)."""
        cursor = self._col.find({"pub": publisher_id, "ledger_pending": True}).sort(
            "seq", ASCENDING
        )
        return [_run(d) async for d in cursor]

    async def undelivered(self, publisher_id: str) -> list[ExportRun]:
        """Successful runs not yet pushed to the publisher, oldest first."""
        cursor = self._col.find(
            {"pub": publisher_id, "status": RunStatus.SUCCEEDED.value, "delivered_at": None}
        ).sort("seq", ASCENDING)
        return [_run(d) async for d in cursor]

    async def with_optouts_after(self, publisher_id: str, seq: int) -> list[ExportRun]:
        """Successful runs after ``seq`` that carried opt-outs, oldest first."""
        cursor = self._col.find(
            {
                "pub": publisher_id,
                "seq": {"$gt": seq},
                "status": RunStatus.SUCCEEDED.value,
                "optouts": {"$gt": 0},
            }
        ).sort("seq", ASCENDING)
        return [_run(d) async for d in cursor]

    async def with_optouts_since(self, publisher_id: str, since: datetime) -> list[ExportRun]:
        """Successful runs started at or after ``since`` that carried opt-outs, oldest first."""
        cursor = self._col.find(
            {
                "pub": publisher_id,
                "started_at": {"$gte": since},
                "status": RunStatus.SUCCEEDED.value,
                "optouts": {"$gt": 0},
            }
        ).sort("seq", ASCENDING)
        return [_run(d) async for d in cursor]

    async def list(self, publisher_id: str, limit: int = 20) -> list[ExportRun]:
        """The latest runs of a publisher, newest first.

        A ``running`` run whose process is gone is shown as ``interrupted``.
        """
        cursor = self._col.find({"pub": publisher_id}).sort("seq", DESCENDING).limit(limit)
        now = clock.now()
        runs = [_run(d) async for d in cursor]
        return [
            replace(r, status=RunStatus.INTERRUPTED)
            if r.status is RunStatus.RUNNING and _interrupted(r, now)
            else r
            for r in runs
        ]


class ExportSlots:
    """Scheduled export slots: one document per attempt, claimed by a unique insert.

    ``_id`` is ``<publisher>|<due time>|<attempt>``; whoever inserts it runs that attempt.
    Several service processes can tick at once: each due export runs exactly once.
    """

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["export_slots"]

    async def ensure_indexes(self) -> None:
        """Index slots by publisher and due time."""
        await ensure_indexes(
            self._col, [IndexModel([("pub", ASCENDING), ("due", ASCENDING)], name="by_slot")]
        )

    async def attempts(self, publisher_id: str, due: datetime) -> list[SlotAttempt]:
        """The attempts at one slot, oldest first."""
        cursor = self._col.find({"pub": publisher_id, "due": due}).sort("attempt", ASCENDING)
        return [
            SlotAttempt(
                publisher_id=d["pub"],
                due=d["due"],
                attempt=int(d["attempt"]),
                status=AttemptStatus(d["status"]),
                owner=str(d.get("owner", "")),
                started_at=d["started_at"],
                heartbeat=d.get("heartbeat") or d["started_at"],
                finished_at=d.get("finished_at"),
                error=d.get("error"),
                folder=d.get("folder"),
            )
            async for d in cursor
        ]

    async def claim(
        self, publisher_id: str, due: datetime, attempt: int, owner: str, now: datetime
    ) -> bool:
        """Claim one attempt; False when another process has it."""
        try:
            await self._col.insert_one(
                {
                    "_id": self._id(publisher_id, due, attempt),
                    "pub": publisher_id,
                    "due": due,
                    "attempt": attempt,
                    "owner": owner,
                    "status": AttemptStatus.RUNNING.value,
                    "heartbeat": now,
                    "started_at": now,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    @staticmethod
    def _id(publisher_id: str, due: datetime, attempt: int) -> str:
        return f"{publisher_id}|{due.isoformat()}|{attempt}"

    async def beat(self, publisher_id: str, due: datetime, attempt: int, now: datetime) -> None:
        """Say that an attempt is alive (written only by its owner)."""
        await self._col.update_one(
            {"_id": self._id(publisher_id, due, attempt)}, {"$set": {"heartbeat": now}}
        )

    async def end(
        self,
        attempt: SlotAttempt,
        *,
        status: AttemptStatus,
        at: datetime,
        error: str | None = None,
        folder: str | None = None,
    ) -> None:
        """Record how an attempt ended (written only by its owner)."""
        fields: Document = {"status": status.value, "finished_at": at}
        if error is not None:
            fields["error"] = error
        if folder is not None:
            fields["folder"] = folder
        await self._col.update_one(
            {"_id": self._id(attempt.publisher_id, attempt.due, attempt.attempt)},
            {"$set": fields},
        )


class DownloadLog:
    """Every feed file a publisher downloaded (append-only, one insert each)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["feed_downloads"]

    async def record(
        self, publisher_id: str, subject: str, folder: str, file: str, at: datetime
    ) -> None:
        """Log one download."""
        await self._col.insert_one(
            {"pub": publisher_id, "sub": subject, "folder": folder, "file": file, "at": at}
        )

    async def for_publisher(self, publisher_id: str) -> list[FeedDownload]:
        """A publisher's downloads, oldest first."""
        cursor = self._col.find({"pub": publisher_id}, {"_id": 0}).sort("at", ASCENDING)
        return [
            FeedDownload(d["pub"], d["sub"], d["folder"], d["file"], d["at"]) async for d in cursor
        ]
