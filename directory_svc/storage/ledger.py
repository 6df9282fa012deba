"""The feed ledger: per publisher and entry, what the publisher was last sent.

Kept by *generation*: a full feed (or a reconciling delta) writes its rows into a new
generation, then switches the publisher's head to it in one single-document update, then
drops the older generations. At every instant the head names a complete ledger, the old
or the new one; a failure between the steps leaves rows that the next swap removes. A
delta updates the rows of the head's generation in place. The head also remembers the
fingerprint of the publisher profile its generation was built with (see
``domain.publishers.profile_fingerprint``): a different one means the publisher's copy no
longer matches its profile, and the next export reconciles.

A row's entry hash (what the publisher's copy digest is made of) is stored masked, ``pk``:
the plain SHA-256 of a record's cells would let anyone with read access confirm a guessed
record. The pad is keyed by the index key and the row (publisher, entry, feed sequence), so
each stored value has a pad of its own. Rows written before held it plain, ``p``
(``storage.migrations.ledger`` masks them).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pymongo import DeleteOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from directory_svc.storage.crypto import Cipher
from directory_svc.storage.ddl import drop_collection
from directory_svc.storage.documents import Document

LEDGER_BATCH = 50
"""Statements per update command (FerretDB 1.24 deadlocks beyond about 100)."""
LEDGER_READ_BATCH = 1000
"""At most this many ids in one ``_id`` ``$in`` read."""
INSERT_BATCH = 1000
DUPLICATE_KEY = 11000


@dataclass(frozen=True, slots=True)
class SentEntry:
    """What a publisher was last sent for an entry: a keyed hash, and its homonymy keys."""

    entry_id: str
    digest: str
    initial_key: str
    name_key: str
    sequence: int = 0
    public: str = ""
    """The record's public hash (``exporters.digest``); empty for rows written before."""


@dataclass(frozen=True, slots=True)
class LedgerHead:
    """The publisher's current generation, the profile it was built with, and the feed
    sequence that last wrote it."""

    generation: str
    profile: str
    sequence: int
    holds: str | None = None
    """The digest of the copy the rows describe (``exporters.digest``), kept up to date by
    every feed recorded; None when unknown (rows or journals from before it was kept)."""


class FeedLedger:
    """Per publisher and entry, what was last sent (the base of deltas).

    Each generation is a collection of its own, ``feed_ledger_<generation>_<publisher>``
    (rows keyed by entry id), so that deleting an old generation is one ``drop``, whatever
    its size, on every engine; ``feed_ledger_heads`` holds each publisher's head.
    """

    PREFIX = "feed_ledger_"

    def __init__(self, db: AsyncDatabase[Document], cipher: Cipher) -> None:
        self._db = db
        self._heads = db["feed_ledger_heads"]
        self._cipher = cipher

    async def ensure_indexes(self) -> None:
        """Nothing beyond ``_id``: rows are read by entry id, generations are dropped whole."""

    @classmethod
    def _name(cls, publisher_id: str, generation: str) -> str:
        return f"{cls.PREFIX}{generation}_{publisher_id}"

    def _rows(self, publisher_id: str, generation: str) -> AsyncCollection[Document]:
        return self._db[self._name(publisher_id, generation)]

    def mask(self, publisher_id: str, entry_id: str, sequence: int, public: str) -> str:
        """The stored form of a row's entry hash (see the module docstring); unmasks too."""
        context = f"{publisher_id}\x00{entry_id}\x00{sequence}"
        return self._cipher.pad("ledger-entry", context, public)

    def _row(self, publisher_id: str, s: SentEntry) -> Document:
        row: Document = {"_id": s.entry_id, "h": s.digest, "hi": s.initial_key}
        row |= {"hn": s.name_key, "seq": s.sequence}
        if s.public:
            row["pk"] = self.mask(publisher_id, s.entry_id, s.sequence, s.public)
        return row

    def _public(self, publisher_id: str, d: Document) -> str:
        if "pk" in d:
            return self.mask(publisher_id, d["_id"], d.get("seq", 0), d["pk"])
        return str(d.get("p", ""))  # written before masking (migration 4)

    def _entry(self, publisher_id: str, d: Document) -> SentEntry:
        public = self._public(publisher_id, d)
        return SentEntry(d["_id"], d["h"], d["hi"], d["hn"], d.get("seq", 0), public)

    async def head(self, publisher_id: str) -> LedgerHead | None:
        """The publisher's current generation, or ``None`` before its first full feed."""
        doc = await self._heads.find_one({"_id": publisher_id})
        if doc is None:
            return None
        return LedgerHead(doc["gen"], doc["profile"], doc["seq"], doc.get("sum"))

    async def set_holds(self, publisher_id: str, sequence: int, holds: str) -> None:
        """Remember the copy digest computed for the head at ``sequence`` (if it still is)."""
        await self._heads.update_one(
            {"_id": publisher_id, "seq": sequence}, {"$set": {"sum": holds}}
        )

    async def get(
        self, publisher_id: str, entry_ids: Iterable[str], head: LedgerHead | None = None
    ) -> dict[str, SentEntry]:
        """The current rows of these entries (``head``: the head already read)."""
        head = head or await self.head(publisher_id)
        ids = list(entry_ids)
        if head is None or not ids:
            return {}
        rows = self._rows(publisher_id, head.generation)
        found: dict[str, SentEntry] = {}
        for start in range(0, len(ids), LEDGER_READ_BATCH):  # bounded `$in`, by `_id`
            batch = ids[start : start + LEDGER_READ_BATCH]
            cursor = rows.find({"_id": {"$in": batch}})
            found |= {d["_id"]: self._entry(publisher_id, d) async for d in cursor}
        return found

    async def digests(self, publisher_id: str, head: LedgerHead) -> dict[str, str]:
        """Every current row of the publisher: entry id → digest (for a reconciliation)."""
        rows = self._rows(publisher_id, head.generation)
        return {d["_id"]: d["h"] async for d in rows.find({}, {"h": 1}, batch_size=5000)}

    async def public_hashes(self, publisher_id: str) -> list[tuple[str, str]] | None:
        """Every current row as ``(entry id, public hash)``: what the publisher must hold
        (``None`` before its first feed, or when a row predates public hashes)."""
        head = await self.head(publisher_id)
        if head is None:
            return None
        rows = self._rows(publisher_id, head.generation)
        cursor = rows.find({}, {"p": 1, "pk": 1, "seq": 1}, batch_size=5000)
        pairs = [(d["_id"], self._public(publisher_id, d)) async for d in cursor]
        return None if any(not p for _, p in pairs) else pairs

    async def apply(
        self,
        publisher_id: str,
        head: LedgerHead,
        sequence: int,
        sent: list[SentEntry],
        deleted: list[str],
        holds: str | None,
    ) -> None:
        """Delta ``sequence``: record what was sent and deleted in the head's generation,
        and the copy digest after it (``None``: unknown) (idempotent)."""
        ops: list[Any] = [
            ReplaceOne({"_id": s.entry_id}, self._row(publisher_id, s), upsert=True) for s in sent
        ] + [DeleteOne({"_id": e}) for e in deleted]
        rows = self._rows(publisher_id, head.generation)
        for start in range(0, len(ops), LEDGER_BATCH):
            await rows.bulk_write(ops[start : start + LEDGER_BATCH], ordered=True)
        await self._heads.update_one({"_id": publisher_id}, _head_update({"seq": sequence}, holds))

    async def replace(
        self,
        publisher_id: str,
        sequence: int,
        profile: str,
        sent: Iterable[SentEntry],
        holds: Callable[[], str | None] = lambda: None,
    ) -> None:
        """After full feed (or reconciliation) ``sequence``: the ledger becomes ``sent``;
        ``holds()``, asked once ``sent`` is consumed, is the copy digest (``None``: unknown).

        Rows go into the generation of ``sequence`` (idempotent: a retried swap re-inserts
        what is missing), then the head switches to it, then older generations are dropped.
        ``sent`` is consumed a thousand entries at a time: memory does not grow with it.
        """
        generation = f"g{sequence:08d}"
        rows = self._rows(publisher_id, generation)
        entries = iter(sent)
        while docs := [self._row(publisher_id, s) for s in itertools.islice(entries, INSERT_BATCH)]:
            try:
                await rows.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(err.get("code") != DUPLICATE_KEY for err in errors):
                    raise
        fields = {"gen": generation, "profile": profile, "seq": sequence}
        head = _head_update(fields, holds())
        await self._heads.update_one({"_id": publisher_id}, head, upsert=True)
        await self._drop_other_generations(publisher_id, generation)

    async def _drop_other_generations(self, publisher_id: str, keep: str) -> None:
        for name in await self._db.list_collection_names():
            if not name.startswith(self.PREFIX) or name == self._name(publisher_id, keep):
                continue
            generation, _, owner = name.removeprefix(self.PREFIX).partition("_")
            if owner == publisher_id and generation.startswith("g"):
                await drop_collection(self._db, name)


def _head_update(fields: Document, holds: str | None) -> Document:
    """Set ``fields`` on a head, and its copy digest, or forget it when unknown."""
    if holds is None:
        return {"$set": fields, "$unset": {"sum": ""}}
    return {"$set": {**fields, "sum": holds}}
