"""Publishers, the per-publisher ledger of what each was last sent, and export runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, DeleteOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from directory_svc.domain.errors import AlreadyExists
from directory_svc.domain.publishers import (
    ChoicePolicy,
    FeedFormat,
    GeoScope,
    HomonymyPolicy,
    NumberFormat,
    Publisher,
    PublisherKind,
    PublisherProfile,
    SftpTarget,
)
from directory_svc.storage.documents import Document

# FerretDB 1.24 deadlocks on update commands of more than ~100 statements.
LEDGER_BATCH = 50


def _publisher_doc(p: Publisher) -> Document:
    prof = p.profile
    return {
        "_id": prof.id,
        "legal_name": p.legal_name,
        "kind": prof.kind.value,
        "marketing_allowed": prof.marketing_allowed,
        "scope_departements": sorted(prof.scope.departements),
        "scope_communes": sorted(prof.scope.communes),
        "fields": sorted(prof.fields),
        "choice_policy": prof.choice_policy.value,
        "homonymy": prof.homonymy.value,
        "format": p.feed_format.value,
        "numbers": p.number_format.value,
        "schedule": p.schedule,
        "recipient": p.recipient,
        "active": p.active,
        "sftp": None
        if p.sftp is None
        else {
            "host": p.sftp.host,
            "port": p.sftp.port,
            "user": p.sftp.username,
            "dir": p.sftp.directory,
            "host_key": p.sftp.host_key,
        },
    }


def _publisher(doc: Document) -> Publisher:
    return Publisher(
        profile=PublisherProfile(
            id=doc["_id"],
            kind=PublisherKind(doc["kind"]),
            marketing_allowed=doc["marketing_allowed"],
            scope=GeoScope(
                departements=frozenset(doc["scope_departements"]),
                communes=frozenset(doc["scope_communes"]),
            ),
            fields=frozenset(doc["fields"]),
            choice_policy=ChoicePolicy(doc["choice_policy"]),
            homonymy=HomonymyPolicy(doc["homonymy"]),
        ),
        legal_name=doc["legal_name"],
        feed_format=FeedFormat(doc["format"]),
        number_format=NumberFormat(doc["numbers"]),
        schedule=doc["schedule"],
        recipient=doc.get("recipient"),
        active=doc["active"],
        sftp=None
        if not doc.get("sftp")
        else SftpTarget(
            doc["sftp"]["host"],
            doc["sftp"]["port"],
            doc["sftp"]["user"],
            doc["sftp"]["dir"],
            doc["sftp"]["host_key"],
        ),
    )


class PublisherRepository:
    """The publisher registry."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["publishers"]

    async def create(self, publisher: Publisher) -> None:
        """Register a new publisher; ``AlreadyExists`` when the id is taken."""
        try:
            await self._col.insert_one(_publisher_doc(publisher))
        except DuplicateKeyError:
            raise AlreadyExists("publisher") from None

    async def save(self, publisher: Publisher) -> bool:
        """Replace a publisher's registration; False when there is none."""
        doc = _publisher_doc(publisher)
        result = await self._col.replace_one({"_id": doc["_id"]}, doc)
        return result.matched_count == 1

    async def get(self, publisher_id: str) -> Publisher | None:
        """One publisher, or ``None``."""
        doc = await self._col.find_one({"_id": publisher_id})
        return None if doc is None else _publisher(doc)

    async def all(self) -> list[Publisher]:
        """Every publisher, by id."""
        return [_publisher(d) async for d in self._col.find({}).sort("_id", ASCENDING)]


@dataclass(frozen=True, slots=True)
class SentEntry:
    """What a publisher was last sent for an entry: a keyed hash, and its homonymy keys."""

    entry_id: str
    digest: str
    initial_key: str
    name_key: str
    sequence: int = 0


DELETE_SLICE = 10_000
"""Documents deleted per statement (FerretDB's SQLite backend caps the variables of one)."""


class FeedLedger:
    """Per publisher and entry, what was last sent (the base of deltas)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["feed_ledger"]

    async def ensure_indexes(self) -> None:
        """Index the ledger by publisher."""
        await self._col.create_index([("pub", ASCENDING)], name="by_publisher")

    async def get(self, publisher_id: str, entry_ids: Iterable[str]) -> dict[str, SentEntry]:
        """The ledger rows of these entries."""
        ids = [f"{publisher_id}|{e}" for e in entry_ids]
        cursor = self._col.find({"_id": {"$in": ids}})
        return {
            d["entry"]: SentEntry(d["entry"], d["h"], d["hi"], d["hn"], d.get("seq", 0))
            async for d in cursor
        }

    async def apply(self, publisher_id: str, sent: list[SentEntry], deleted: list[str]) -> None:
        """Record what was sent and what was deleted, in small batches."""
        ops: list[Any] = [
            ReplaceOne(
                {"_id": f"{publisher_id}|{s.entry_id}"},
                {"pub": publisher_id, "entry": s.entry_id, "h": s.digest, "hi": s.initial_key,
                 "hn": s.name_key, "seq": s.sequence},
                upsert=True,
            )
            for s in sent
        ] + [DeleteOne({"_id": f"{publisher_id}|{e}"}) for e in deleted]  # fmt: skip
        for start in range(0, len(ops), LEDGER_BATCH):
            await self._col.bulk_write(ops[start : start + LEDGER_BATCH], ordered=True)

    async def replace_all(self, publisher_id: str, sent: list[SentEntry]) -> None:
        """After a full feed: the ledger is exactly what it contained."""
        # In slices: FerretDB (SQLite) fails a delete of more than 32,766 documents at once
        # ("too many SQL variables").
        while True:
            cursor = self._col.find({"pub": publisher_id}, {"_id": 1}).limit(DELETE_SLICE)
            ids = [d["_id"] async for d in cursor]
            if not ids:
                break
            await self._col.delete_many({"_id": {"$in": ids}})
        docs = [
            {"_id": f"{publisher_id}|{s.entry_id}", "pub": publisher_id, "entry": s.entry_id,
             "h": s.digest, "hi": s.initial_key, "hn": s.name_key, "seq": s.sequence}
            for s in sent
        ]  # fmt: skip
        for start in range(0, len(docs), 1000):
            await self._col.insert_many(docs[start : start + 1000], ordered=False)


class ExportRuns:
    """Export runs: one document per publisher and sequence number (claimed by insert)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["export_runs"]

    async def last_success(self, publisher_id: str) -> Document | None:
        """The publisher's last successful run, or ``None``."""
        return await self._col.find_one(
            {"pub": publisher_id, "status": "succeeded"}, sort=[("seq", DESCENDING)]
        )

    async def start(self, publisher_id: str, kind: str, started: datetime) -> int:
        """Claim the next sequence number for this publisher (unique insert); returns it."""
        last = await self._col.find_one({"pub": publisher_id}, sort=[("seq", DESCENDING)])
        seq = 1 if last is None else int(last["seq"]) + 1
        while True:
            try:
                await self._col.insert_one(
                    {"_id": f"{publisher_id}:{seq:08d}", "pub": publisher_id, "seq": seq,
                     "kind": kind, "status": "running", "started_at": started}
                )  # fmt: skip
                return seq
            except DuplicateKeyError:
                seq += 1

    async def finish(self, publisher_id: str, seq: int, fields: Document) -> None:
        """Record the outcome of a run (its only writer is the process that claimed it)."""
        await self._col.update_one({"_id": f"{publisher_id}:{seq:08d}"}, {"$set": fields})

    async def undelivered(self, publisher_id: str) -> list[Document]:
        """Successful runs not yet pushed to the publisher, oldest first."""
        cursor = self._col.find(
            {"pub": publisher_id, "status": "succeeded", "delivered_at": None}
        ).sort("seq", ASCENDING)
        return await cursor.to_list(None)

    async def list(self, publisher_id: str, limit: int = 20) -> list[Document]:
        """The latest runs of a publisher, newest first."""
        cursor = self._col.find({"pub": publisher_id}).sort("seq", DESCENDING).limit(limit)
        return await cursor.to_list(limit)


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
