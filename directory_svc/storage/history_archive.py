"""Older history entries of a listing, moved out of its document (collection
``listing_history``).

A listing document keeps its most recent entries (``KEEP`` to ``KEEP + SLACK - 1``): each
change pushes one, so an append-only history inside the document would grow without end
(MongoDB refuses documents over 16 MiB, and every read of the listing would carry it).
Every ``SLACK`` versions the entries older than the last ``KEEP`` are copied here, then
removed from the document by a write conditional on the version. Copying is idempotent
(one ``_id`` per listing and sequence) and happens before the removal, so a crash between
the two loses nothing: the entry is in both places, and readers take each sequence once.
Entries are stored exactly as in the document (values encrypted, chain hashes), with the
key id they are sealed under, so key rotation and retirement see them.
"""

from __future__ import annotations

from collections.abc import Iterable

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from directory_svc.storage.ddl import ensure_indexes
from directory_svc.storage.documents import Document

KEEP = 20
"""Entries a listing document keeps after a compaction."""
SLACK = 20
"""Versions between two compactions."""


def _id(listing_id: str, seq: int) -> str:
    return f"{listing_id}:{seq:09d}"


class HistoryArchive:
    """Archived history entries, by listing and sequence."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["listing_history"]

    async def ensure_indexes(self) -> None:
        """One index: a listing's entries in order, and entries by key."""
        await ensure_indexes(
            self._col,
            [
                IndexModel([("l", ASCENDING), ("seq", ASCENDING)], name="by_listing"),
                IndexModel([("kid", ASCENDING)], name="by_key"),
            ],
        )

    async def put(self, listing_id: str, kid: str, entries: Iterable[Document]) -> None:
        """Store entries (as stored in the document); storing one again replaces it."""
        ops = [
            UpdateOne(
                {"_id": _id(listing_id, int(e["seq"]))},
                {"$set": {"l": listing_id, "seq": int(e["seq"]), "kid": kid, "e": e}},
                upsert=True,
            )
            for e in entries
        ]
        if ops:
            await self._col.bulk_write(ops, ordered=True)

    async def entries(self, listing_id: str) -> list[Document]:
        """The listing's archived entries, oldest first."""
        cursor = self._col.find({"l": listing_id}).sort("seq", ASCENDING)
        return [d["e"] async for d in cursor]

    async def holds_change(self, listing_id: str, change_id: str) -> bool:
        """Whether an archived entry of the listing is the change ``change_id``."""
        found = await self._col.find_one({"l": listing_id, "e.change_id": change_id}, {"_id": 1})
        return found is not None

    async def kids(self, listing_id: str) -> set[str]:
        """The keys the listing's archived entries are sealed under."""
        return {d["kid"] async for d in self._col.find({"l": listing_id}, {"kid": 1})}

    async def count_under(self, kid: str) -> int:
        """How many archived entries use key ``kid``."""
        return await self._col.count_documents({"kid": kid})

    async def listings_not_under(self, kid: str, limit: int) -> list[str]:
        """Ids of listings with archived entries under another key than ``kid``."""
        cursor = self._col.find({"kid": {"$ne": kid}}, {"l": 1}).limit(limit)
        return sorted({d["l"] async for d in cursor})


def merged(archived: list[Document], kept: list[Document]) -> list[Document]:
    """A listing's whole history from its archived and kept entries, each sequence once
    (the document's copy wins: it is the one a change wrote last)."""
    by_seq = {int(e["seq"]): e for e in archived}
    by_seq.update((int(e["seq"]), e) for e in kept)
    return [by_seq[s] for s in sorted(by_seq)]
