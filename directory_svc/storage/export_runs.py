"""Export runs (with the per-publisher run lease), scheduled slots, and the download log."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from directory_svc import clock
from directory_svc.domain.errors import Busy
from directory_svc.storage.documents import Document

RUN_HEARTBEAT = timedelta(seconds=15)
"""How often a running export says it is alive."""
RUN_STALE_AFTER = timedelta(minutes=5)
"""A run whose last heartbeat is older than this was interrupted (on another machine)."""


def this_process() -> str:
    """The owner name of runs started by this process: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_gone(owner: str) -> bool:
    """True when ``owner`` is a process of this machine that no longer exists."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _interrupted(run: Document, now: datetime) -> bool:
    """A ``running`` run whose process died (same machine) or stopped beating (any)."""
    beat = run.get("heartbeat") or run["started_at"]
    return now - beat >= RUN_STALE_AFTER or _owner_gone(str(run.get("owner", "")))


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

    async def last_success(self, publisher_id: str) -> Document | None:
        """The publisher's last successful run, or ``None``."""
        return await self._col.find_one(
            {"pub": publisher_id, "status": "succeeded"}, sort=[("seq", DESCENDING)]
        )

    async def start(self, publisher_id: str, kind: str, started: datetime, owner: str) -> int:
        """Claim the next run of this publisher; returns its sequence number.

        Raises ``Busy`` while another export of the publisher is running.
        """
        while True:
            last = await self._col.find_one({"pub": publisher_id}, sort=[("seq", DESCENDING)])
            if last is not None and last["status"] == "running":
                if not _interrupted(last, started):
                    raise Busy(f"an export of publisher {publisher_id} (#{last['seq']})")
                await self.finish(
                    publisher_id, int(last["seq"]),
                    {"status": "interrupted", "finished_at": started},
                )  # fmt: skip
            seq = 1 if last is None else int(last["seq"]) + 1
            try:
                await self._col.insert_one(
                    {"_id": self._id(publisher_id, seq), "pub": publisher_id, "seq": seq,
                     "kind": kind, "status": "running", "started_at": started,
                     "heartbeat": started, "owner": owner}
                )  # fmt: skip
                return seq
            except DuplicateKeyError:
                continue  # someone claimed it first: look again

    async def beat(self, publisher_id: str, seq: int, now: datetime) -> None:
        """Say that a run is alive."""
        await self._col.update_one(
            {"_id": self._id(publisher_id, seq)}, {"$set": {"heartbeat": now}}
        )

    async def still_running(self, publisher_id: str, seq: int) -> bool:
        """False when another process declared this run interrupted (it must not publish)."""
        run = await self._col.find_one({"_id": self._id(publisher_id, seq)}, {"status": 1})
        return run is not None and run["status"] == "running"

    async def set_kind(self, publisher_id: str, seq: int, kind: str) -> None:
        """Record what a run turned out to be (a first delta is a full export)."""
        await self._col.update_one({"_id": self._id(publisher_id, seq)}, {"$set": {"kind": kind}})

    async def finish(self, publisher_id: str, seq: int, fields: Document) -> None:
        """Record the outcome of a run (its only writer is the process that claimed it)."""
        await self._col.update_one({"_id": self._id(publisher_id, seq)}, {"$set": fields})

    async def publishing(self, publisher_id: str, seq: int, folder: str) -> bool:
        """Say, just before its folder is renamed into view, that this run's ledger journal
        must be committed; False when the run is no longer ours (taken over)."""
        result = await self._col.update_one(
            {"_id": self._id(publisher_id, seq), "status": "running"},
            {"$set": {"folder": folder, "ledger_pending": True}},
        )
        return result.matched_count == 1

    async def ledger_pending(self, publisher_id: str) -> list[Document]:
        """Runs whose folder may be published but whose journal is not yet in the ledger,
        oldest first (their process died or the database failed in between)."""
        cursor = self._col.find({"pub": publisher_id, "ledger_pending": True}).sort(
            "seq", ASCENDING
        )
        return await cursor.to_list(None)

    async def undelivered(self, publisher_id: str) -> list[Document]:
        """Successful runs not yet pushed to the publisher, oldest first."""
        cursor = self._col.find(
            {"pub": publisher_id, "status": "succeeded", "delivered_at": None}
        ).sort("seq", ASCENDING)
        return await cursor.to_list(None)

    async def list(self, publisher_id: str, limit: int = 20) -> list[Document]:
        """The latest runs of a publisher, newest first.

        A ``running`` run whose process is gone is shown as ``interrupted``.
        """
        cursor = self._col.find({"pub": publisher_id}).sort("seq", DESCENDING).limit(limit)
        now = clock.now()
        runs = await cursor.to_list(limit)
        for run in runs:
            if run["status"] == "running" and _interrupted(run, now):
                run["status"] = "interrupted"
        return runs


class ExportSlots:
    """Scheduled export slots: one document per attempt, claimed by a unique insert.

    ``_id`` is ``<publisher>|<due time>|<attempt>``; whoever inserts it runs that attempt.
    Several service processes can tick at once: each due export runs exactly once.
    """

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["export_slots"]

    async def ensure_indexes(self) -> None:
        """Index slots by publisher and due time."""
        await self._col.create_index([("pub", ASCENDING), ("due", ASCENDING)], name="by_slot")

    async def attempts(self, publisher_id: str, due: datetime) -> list[Document]:
        """The attempts at one slot, oldest first."""
        cursor = self._col.find({"pub": publisher_id, "due": due}).sort("attempt", ASCENDING)
        return await cursor.to_list(None)

    async def claim(
        self, publisher_id: str, due: datetime, attempt: int, owner: str, now: datetime
    ) -> bool:
        """Claim one attempt; False when another process has it."""
        try:
            await self._col.insert_one(
                {"_id": f"{publisher_id}|{due.isoformat()}|{attempt}", "pub": publisher_id,
                 "due": due, "attempt": attempt, "owner": owner, "status": "running",
                 "heartbeat": now, "started_at": now}
            )  # fmt: skip
        except DuplicateKeyError:
            return False
        return True

    async def update(
        self, publisher_id: str, due: datetime, attempt: int, fields: Document
    ) -> None:
        """Heartbeat or outcome of an attempt (written only by its owner)."""
        await self._col.update_one(
            {"_id": f"{publisher_id}|{due.isoformat()}|{attempt}"}, {"$set": fields}
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

    async def for_publisher(self, publisher_id: str) -> list[Document]:
        """A publisher's downloads, oldest first."""
        return (
            await self._col.find({"pub": publisher_id}, {"_id": 0})
            .sort("at", ASCENDING)
            .to_list(None)
        )
