"""Writes of listings: current state plus its append-only history, in one document (the
queries are in ``listing_reads``, erasure in ``purge``).

Every change is one versioned write (``storage.versioned``: ``update_one`` filtered on
``_id`` and the version read) that sets the new state and pushes its history entry:
single-document atomicity, no transaction needed. The listing the caller read carries its
version and history head, so a change reads it once. A retried change (same change id) is
recognised and not applied twice (its entry is looked for in the document, then in the
archive).
Older entries move to ``history_archive`` every ``SLACK`` versions, so a document stays
bounded whatever the number of changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from directory_svc.domain.errors import AlreadyExists, NotFound, VersionConflict
from directory_svc.domain.history import (
    GENESIS,
    Change,
    HistoryEntry,
    chain_hash,
    diff,
)
from directory_svc.domain.listings import Listing
from directory_svc.storage.ddl import ensure_indexes
from directory_svc.storage.documents import Document, ListingCodec, now_ms
from directory_svc.storage.history_archive import KEEP, SLACK, HistoryArchive
from directory_svc.storage.listing_reads import STATE_ONLY, ListingReads
from directory_svc.storage.versioned import VersionedWrites

COLLECTION = "listings"
DUPLICATE_KEY = 11000


class ListingRepository(ListingReads):
    """Reads and writes listings; callers see domain objects only."""

    def __init__(
        self, db: AsyncDatabase[Document], codec: ListingCodec, versioned: VersionedWrites
    ) -> None:
        self._col = db[COLLECTION]
        self.versioned = versioned
        self.codec = codec
        self.archive = HistoryArchive(db)

    async def ensure_indexes(self) -> None:
        """Create the look-up indexes (idempotent; run at start-up)."""
        await self.archive.ensure_indexes()
        # One command: the server builds them together (an engine that builds in the
        # background queues a separate command behind the previous build).
        await ensure_indexes(
            self._col,
            [
                IndexModel([("idx.num", ASCENDING)], name="by_number"),
                # Surname search pages in _id order: the index serves the match and the order.
                IndexModel(
                    [("idx.sn", ASCENDING), ("geo.insee", ASCENDING), ("_id", ASCENDING)],
                    name="by_surname_commune_id",
                ),
                IndexModel(
                    [("idx.sn", ASCENDING), ("geo.postcode", ASCENDING), ("_id", ASCENDING)],
                    name="by_surname_postcode_id",
                ),
                IndexModel([("kid", ASCENDING)], name="by_key"),
                IndexModel([("acc", ASCENDING)], name="by_account"),
                IndexModel([("updated_at", ASCENDING)], name="by_change_time"),
                IndexModel([("idx.hi", ASCENDING)], name="by_homonym_initial"),
                IndexModel([("idx.hn", ASCENDING)], name="by_homonym_name"),
            ],
        )

    # Reads

    async def raw_documents(self) -> AsyncIterator[Document]:
        """Every stored document as is (for maintenance and audits)."""
        async for doc in self._col.find({}):
            yield doc

    async def raw_document(self, listing_id: str) -> Document | None:
        """One stored document as is (for a chain check)."""
        return await self._col.find_one({"_id": listing_id})

    # Writes

    def _entry(
        self, before: Listing | None, after: Listing, change: Change, seq: int, prev: str
    ) -> HistoryEntry:
        old, new = diff(before, after)
        at = now_ms()
        digest = chain_hash(self.codec.cipher.keys.history_key, prev, seq, change, at, old, new)
        return HistoryEntry(
            seq,
            change.change_id,
            at,
            change.provenance,
            change.reason,
            change.attested,
            old,
            new,
            prev,
            digest,
        )

    def _creation_document(self, listing: Listing, change: Change) -> Document:
        stored = replace(listing, version=1, updated_at=now_ms())
        entry = self._entry(None, stored, change, 1, GENESIS)
        return {
            "_id": stored.id,
            **self.codec.state(stored),
            "history": [self.codec.entry(stored.id, entry)],
            "head": entry.hash,
        }

    async def create(self, listing: Listing, change: Change) -> Listing:
        """Store a new listing (version 1) with its creation entry; idempotent per change id."""
        doc = self._creation_document(listing, change)
        try:
            await self._col.insert_one(doc)
        except DuplicateKeyError:
            existing = await self._col.find_one(
                {"_id": listing.id, "history.change_id": change.change_id}, STATE_ONLY
            )
            if existing is None and await self.archive.holds_change(listing.id, change.change_id):
                existing = await self._col.find_one({"_id": listing.id}, STATE_ONLY)
            if existing is None:
                raise AlreadyExists("listing") from None
            return self.codec.listing(existing)
        return self.codec.listing(doc)

    async def insert_new(self, listings: Sequence[Listing], change: Change) -> int:
        """Bulk-create listings whose id is not stored yet; returns how many were new.

        Insert-only on purpose: an ``update`` command with more than about 100 statements
        deadlocks FerretDB 1.24 on SQLite (see docs/architecture.md, "Storage rules").
        """
        if not listings:
            return 0
        docs = [self._creation_document(item, change) for item in listings]
        try:
            result = await self._col.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != DUPLICATE_KEY for err in errors):
                raise
            return int(exc.details.get("nInserted", 0))
        return len(result.inserted_ids)

    async def apply(
        self, expected_version: int, new: Listing, change: Change, current: Listing | None = None
    ) -> Listing:
        """Replace the listing's state by ``new`` if it is still at ``expected_version``.

        ``current`` is the listing as the caller read it (saves the read). Appends the
        history entry in the same single-document update. Raises ``VersionConflict`` (with
        the current state) or ``NotFound``; a retry of an applied change returns the
        current state without applying it again.
        """
        if current is None or current.version != expected_version or not current.history_head:
            current = await self.get(new.id)
            if current is None:
                raise NotFound("listing")
        if current.version != expected_version:
            return await self._settle(new.id, change, current)
        stored = replace(new, version=expected_version + 1, updated_at=now_ms())
        prev = current.history_head or ""
        entry = self._entry(current, stored, change, expected_version + 1, prev)
        state = {**self.codec.state(stored), "head": entry.hash}
        update: Document = {"$set": state, "$push": {"history": self.codec.entry(new.id, entry)}}
        key = {"kid": state["kid"]}
        if await self.versioned.write(
            self._col, new.id, expected_version, update, change.change_id, key
        ):
            await self._compact(new.id, stored.version)
            return replace(stored, history_head=entry.hash)
        doc = await self._col.find_one({"_id": new.id}, STATE_ONLY)
        if doc is None:
            raise NotFound("listing")
        latest = self.codec.listing(doc)
        if latest.version == expected_version and doc["kid"] != state["kid"]:
            # The data key was rotated: keep every ciphertext of the document under one key.
            return await self._apply_rekeyed(expected_version, stored, change, entry, state)
        if latest.version == expected_version:  # not changed yet: a writer is mid-change
            raise VersionConflict(latest, retry_shortly=True)
        return await self._settle(new.id, change, latest)

    async def _apply_rekeyed(
        self,
        expected_version: int,
        stored: Listing,
        change: Change,
        entry: HistoryEntry,
        state: Document,
    ) -> Listing:
        doc = await self._col.find_one({"_id": stored.id}, {"history": 1})
        old = [] if doc is None else doc["history"]
        history = [*self.reencrypt_entries(stored.id, old), self.codec.entry(stored.id, entry)]
        update = {"$set": {**state, "history": history}}
        if await self.versioned.write(
            self._col, stored.id, expected_version, update, change.change_id
        ):
            return replace(stored, history_head=entry.hash)
        latest = await self.get(stored.id)
        if latest is None:
            raise NotFound("listing")
        return await self._settle(stored.id, change, latest)

    async def _compact(self, listing_id: str, version: int) -> None:
        """Every ``SLACK`` versions, move the entries older than the last ``KEEP`` to the
        archive (copied first, then removed by a write conditional on the version). The
        change is already stored: a failure here is left for the next compaction."""
        if version % SLACK or version < KEEP + SLACK:
            return
        try:
            doc = await self._col.find_one({"_id": listing_id}, {"history": 1, "v": 1, "kid": 1})
            if doc is None or doc.get("v") != version:
                return  # another change came first; a later compaction takes these entries
            cut = version - KEEP
            entries = doc.get("history", [])
            await self.archive.put(listing_id, doc["kid"], [e for e in entries if e["seq"] <= cut])
            kept = [e for e in entries if e["seq"] > cut]
            await self.versioned.rewrite(
                self._col, listing_id, version, {"$set": {"history": kept}}
            )
        except PyMongoError:
            return

    async def _settle(self, listing_id: str, change: Change, current: Listing) -> Listing:
        """After a version mismatch: a retry of an applied change succeeds, else conflict."""
        applied = await self._col.count_documents(
            {"_id": listing_id, "history.change_id": change.change_id}
        )
        if applied or await self.archive.holds_change(listing_id, change.change_id):
            return current
        raise VersionConflict(current)

    async def note_source(self, listing_id: str, source: str) -> None:
        """Remember the CRM row last read for a listing that it did not change (metadata
        only: no version, no history entry)."""
        await self._col.update_one({"_id": listing_id}, {"$set": {"src": source}})

    async def raw(self, listing_id: str) -> Document | None:
        """One stored document as is."""
        return await self._col.find_one({"_id": listing_id})

    async def write_document(self, doc: Document, expected_version: int, owner: str) -> bool:
        """Store ``doc`` (at ``expected_version + 1``) if the listing is still at
        ``expected_version`` (erasure rewrites the whole document)."""
        fields = {k: v for k, v in doc.items() if k != "_id"}
        return await self.versioned.write(
            self._col, doc["_id"], expected_version, {"$set": fields}, owner
        )

    async def rewrite(self, doc: Document, expected_version: int) -> bool:
        """Write back a maintained document (same version) if nobody changed it meanwhile."""
        fields = {k: v for k, v in doc.items() if k != "_id"}
        return await self.versioned.rewrite(
            self._col, doc["_id"], expected_version, {"$set": fields}
        )

    def reencrypt_entries(self, listing_id: str, entries: list[Document]) -> list[Document]:
        """History entries as stored, with their values sealed under the active key."""
        out = []
        for e in entries:
            purpose = f"history:{e['seq']}"
            values = self.codec.cipher.decrypt(e["diff"], listing_id, purpose)
            out.append({**e, "diff": self.codec.cipher.encrypt(values, listing_id, purpose)})
        return out

    async def ids_not_under(self, kid: str, limit: int) -> list[str]:
        """Ids of listings whose ciphertexts use another key than ``kid``."""
        cursor = self._col.find({"kid": {"$ne": kid}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def count_under(self, kid: str) -> int:
        """How many listings (and archived history entries) use key ``kid``."""
        return await self._col.count_documents({"kid": kid}) + await self.archive.count_under(kid)
