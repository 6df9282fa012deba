"""Reads of the listings collection: every query the services and exporters make.

Shared by ``ListingRepository`` (which adds the writes); documents become domain objects
through the codec only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from directory_svc.domain.history import HistoryEntry
from directory_svc.domain.listings import Listing
from directory_svc.domain.pagination import Page
from directory_svc.storage.documents import Document, ListingCodec
from directory_svc.storage.engine import is_ferretdb
from directory_svc.storage.history_archive import HistoryArchive, merged
from directory_svc.storage.seen_twice import SeenTwice

STATE_ONLY = {"history": 0}
KEYS_BATCH = 5000
IN_BATCH = 1000
"""At most this many values in one ``$in``."""


class ListingReads:
    """The queries; subclasses provide ``_col``, ``codec`` and ``archive``."""

    _col: AsyncCollection[Document]
    codec: ListingCodec
    archive: HistoryArchive

    async def get(self, listing_id: str) -> Listing | None:
        """The listing with this id, or ``None``."""
        doc = await self._col.find_one({"_id": listing_id}, STATE_ONLY)
        return None if doc is None else self.codec.listing(doc)

    async def get_many(self, ids: list[str]) -> list[Listing]:
        """The listings among ``ids`` that exist."""
        cursor = self._col.find({"_id": {"$in": ids}}, STATE_ONLY)
        return [self.codec.listing(d) async for d in cursor]

    async def history(self, listing_id: str) -> list[HistoryEntry]:
        """The listing's history, oldest first (empty when there is no such listing)."""
        doc = await self._col.find_one({"_id": listing_id}, {"history": 1})
        if doc is None:
            return []
        entries = await self.history_documents(listing_id, doc)
        return [self.codec.history_entry(listing_id, e) for e in entries]

    async def history_documents(self, listing_id: str, doc: Document) -> list[Document]:
        """Every history entry of a stored document, archived ones included, in order."""
        kept: list[Document] = doc.get("history", [])
        if kept and int(kept[0]["seq"]) == 1:
            return kept
        return merged(await self.archive.entries(listing_id), kept)

    async def page(self, first: int, after: str | None) -> Page[Listing]:
        """Up to ``first`` listings ordered by id, strictly after id ``after``."""
        query: Document = {} if after is None else {"_id": {"$gt": after}}
        cursor = self._col.find(query, STATE_ONLY).sort("_id", ASCENDING).limit(first + 1)
        docs = await cursor.to_list(first + 1)
        items = [self.codec.listing(d) for d in docs[:first]]
        return Page(
            items=items, has_next=len(docs) > first, last_key=items[-1].id if items else None
        )

    async def find_by_number(self, e164: str) -> list[Listing]:
        """Listings showing this number (blind-index look-up, no scan)."""
        cursor = self._col.find({"idx.num": self.codec.number_index(e164)}, STATE_ONLY)
        return [self.codec.listing(d) async for d in cursor]

    async def find_by_surname(
        self,
        surname: str,
        insee_code: str | None = None,
        postcode: str | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> Page[Listing]:
        """Listings with this normalised surname in a commune or postcode (blind index),
        ``first`` at a time in id order, strictly after id ``after``."""
        query: Document = {"idx.sn": self.codec.surname_index(surname)}
        if insee_code is not None:
            query["geo.insee"] = insee_code
        if postcode is not None:
            query["geo.postcode"] = postcode
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._col.find(query, STATE_ONLY).sort("_id", ASCENDING).limit(first + 1)
        docs = await cursor.to_list(first + 1)
        items = [self.codec.listing(d) for d in docs[:first]]
        return Page(items, len(docs) > first, items[-1].id if items else None)

    async def for_account(self, account_id: str) -> list[Listing]:
        """The listings (one per line) of an account."""
        cursor = self._col.find({"acc": account_id}, STATE_ONLY).sort("_id", ASCENDING)
        return [self.codec.listing(d) async for d in cursor]

    async def stream(self, batch: int = 500) -> AsyncIterator[list[Listing]]:
        """Every listing, in storage order, a batch at a time (memory does not grow with size).

        One cursor for the whole scan: keyset pages (``_id > last`` + sort + limit) make
        FerretDB re-read the collection for every page (measured: 9× slower at 5,000).
        Ordered by ``_id`` (its index) except on FerretDB: an unordered scan may return a
        listing written meanwhile a second time (MongoDB says so of every unsorted scan;
        DocumentDB does it: 2,003 listings for 2,000 with one write per batch), and a feed
        must hold each entry once; FerretDB 1.24 would sort in memory (every document read
        before the first batch) and its scan does not repeat a row.
        """
        cursor = self._col.find({}, STATE_ONLY).batch_size(batch)
        if not await is_ferretdb(self._col.database.client):
            cursor = cursor.sort("_id", ASCENDING)
        chunk: list[Listing] = []
        async for doc in cursor:
            chunk.append(self.codec.listing(doc))
            if len(chunk) == batch:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    async def changed_since(self, since: datetime) -> list[Listing]:
        """Listings written at or after ``since``."""
        cursor = self._col.find({"updated_at": {"$gte": since}}, STATE_ONLY)
        return [self.codec.listing(d) async for d in cursor]

    async def in_homonym_groups(
        self, initial_keys: list[str], name_keys: list[str]
    ) -> list[Listing]:
        """Listings sharing a commune + surname + initial, or a commune + full name, key
        (``IN_BATCH`` keys of each kind per query: bounded commands, one index range each)."""
        found: dict[str, Listing] = {}
        for start in range(0, max(len(initial_keys), len(name_keys)), IN_BATCH):
            query: Document = {
                "$or": [
                    {"idx.hi": {"$in": initial_keys[start : start + IN_BATCH]}},
                    {"idx.hn": {"$in": name_keys[start : start + IN_BATCH]}},
                ]
            }
            async for d in self._col.find(query, STATE_ONLY):
                listing = self.codec.listing(d)
                found[listing.id] = listing
        return list(found.values())

    async def colliding_homonym_keys(
        self, progress: Callable[[int], None] | None = None
    ) -> tuple[set[str], set[str]]:
        """Initial keys and name keys held by more than one listed listing (a pre-filter:
        it may hold a few keys held once, never miss one held twice).

        One scan of the two keys, counted here in fixed memory (``SeenTwice``), rather
        than a ``$group`` per key: FerretDB's is quadratic in the number of groups. Every
        document is read (no index could serve ``listed`` anyway), so ``progress`` can
        count against the collection's size.
        """
        initial, name = SeenTwice(), SeenTwice()
        fields = {"_id": 0, "choices.listed": 1, "idx.hi": 1, "idx.hn": 1}
        read = 0
        async for doc in self._col.find({}, fields, batch_size=KEYS_BATCH):
            read += 1
            if progress and read % KEYS_BATCH == 0:
                progress(KEYS_BATCH)
            if not doc.get("choices", {}).get("listed"):
                continue
            keys = doc.get("idx", {})
            if "hi" in keys:
                initial.add(keys["hi"])
            if "hn" in keys:
                name.add(keys["hn"])
        if progress and read % KEYS_BATCH:
            progress(read % KEYS_BATCH)
        return initial.repeated, name.repeated

    async def terminated_before(self, cutoff: datetime) -> list[str]:
        """Ids of terminated, not yet purged listings last changed before ``cutoff``."""
        query = {"status": "terminated", "purged": {"$ne": True}, "updated_at": {"$lt": cutoff}}
        return [d["_id"] async for d in self._col.find(query, {"_id": 1})]

    async def count(self) -> int:
        """How many listings are stored."""
        return await self._col.count_documents({})
