"""Writes of listings: current state plus its append-only history, in one document (the
queries are in ``listing_reads``, erasure in ``purge``).

Every change is one ``update_one`` on ``_id`` (under the version claim below) that sets the
new state and pushes its history entry: single-document atomicity, no transaction needed.
A retried change (same change id) is recognised and not applied twice.

Compare-and-set: FerretDB 1.24 evaluates an update's filter and then writes by ``_id``
without re-checking it, so two concurrent updates filtered on the same version can both
"match" and one is lost. Before writing version v+1 a writer therefore *claims* it by
inserting ``{_id: "<listing>:<v+1>"}`` into ``listing_claims``: an insert on a unique key
is atomic on both servers, so exactly one writer owns each version transition. Claims of
past versions are deleted, so the writer reads the listing only after claiming: a stale
writer that re-claims a released version finds the listing moved on, gives the claim back
and gets a conflict. A change thus costs one read and one write of the listing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from directory_svc.domain.errors import AlreadyExists, NotFound, VersionConflict
from directory_svc.domain.history import (
    GENESIS,
    Change,
    HistoryEntry,
    chain_hash,
    diff,
)
from directory_svc.domain.listings import Listing
from directory_svc.storage.claims import VersionClaims
from directory_svc.storage.documents import Document, ListingCodec, now_ms
from directory_svc.storage.listing_reads import STATE_ONLY, ListingReads

COLLECTION = "listings"
CLAIMS = "listing_claims"
DUPLICATE_KEY = 11000


class ListingRepository(ListingReads):
    """Reads and writes listings; callers see domain objects only."""

    def __init__(self, db: AsyncDatabase[Document], codec: ListingCodec) -> None:
        self._col = db[COLLECTION]
        self.claims = VersionClaims(db[CLAIMS])
        self.codec = codec

    async def ensure_indexes(self) -> None:
        """Create the look-up indexes (idempotent; run at start-up)."""
        await self._col.create_index([("idx.num", ASCENDING)], name="by_number")
        # Surname search pages in _id order: the index serves both the match and the order.
        await self._col.create_index(
            [("idx.sn", ASCENDING), ("geo.insee", ASCENDING), ("_id", ASCENDING)],
            name="by_surname_commune_id",
        )
        await self._col.create_index(
            [("idx.sn", ASCENDING), ("geo.postcode", ASCENDING), ("_id", ASCENDING)],
            name="by_surname_postcode_id",
        )
        await self._col.create_index([("kid", ASCENDING)], name="by_key")
        await self._col.create_index([("acc", ASCENDING)], name="by_account")
        await self._col.create_index([("updated_at", ASCENDING)], name="by_change_time")
        await self._col.create_index([("idx.hi", ASCENDING)], name="by_homonym_initial")
        await self._col.create_index([("idx.hn", ASCENDING)], name="by_homonym_name")

    # Reads

    async def drop_claim(self, listing_id: str, version: int) -> None:
        """Forget the claim of a version that is now in the past."""
        await self.claims.drop(listing_id, version)

    async def raw_documents(self) -> AsyncIterator[Document]:
        """Every stored document as is (for maintenance and audits)."""
        async for doc in self._col.find({}):
            yield doc

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

    async def apply(self, expected_version: int, new: Listing, change: Change) -> Listing:
        """Replace the listing's state by ``new`` if it is still at ``expected_version``.

        Appends the history entry in the same single-document update. Raises
        ``VersionConflict`` (with the current state) or ``NotFound``; a retry of an
        applied change returns the current state without applying it again.
        """
        if not await self.claim(new.id, expected_version + 1, change.change_id):
            latest = await self.get(new.id)
            if latest is None:
                raise NotFound("listing")
            return await self._settle(new.id, change, latest)
        # Read after claiming: the claim on v+1 may be one a finished writer already released
        # (claims of past versions are deleted), so only a listing still at v lets this
        # writer go on. One read serves as both the check and the state the diff starts from.
        doc = await self._col.find_one({"_id": new.id}, STATE_ONLY)
        if doc is None:
            await self.release(new.id, expected_version + 1, change.change_id)
            raise NotFound("listing")
        current = self.codec.listing(doc)
        if current.version != expected_version:
            await self.release(new.id, expected_version + 1, change.change_id)
            return await self._settle(new.id, change, current)
        stored = replace(new, version=expected_version + 1, updated_at=now_ms())
        entry = self._entry(current, stored, change, expected_version + 1, doc["head"])
        state = {**self.codec.state(stored), "head": entry.hash}
        new_entry = self.codec.entry(new.id, entry)
        if state["kid"] == doc["kid"]:
            update: Document = {"$set": state, "$push": {"history": new_entry}}
        else:
            # The data key was rotated: keep every ciphertext of the document under one key.
            history = await self._col.find_one({"_id": new.id}, {"history": 1})
            old = [] if history is None else history["history"]
            state["history"] = [*self.reencrypt_entries(new.id, old), new_entry]
            update = {"$set": state}
        # The claim makes this writer the only one for this version; filtering on `_id` alone
        # keeps the update cheap on FerretDB, which pushes down nothing but `_id` equality.
        result = await self._col.update_one({"_id": new.id}, update)
        if result.matched_count == 0:
            latest = await self.get(new.id)
            if latest is None:
                raise NotFound("listing")
            return await self._settle(new.id, change, latest)
        await self.claims.drop(new.id, expected_version)
        return stored

    async def claim(self, listing_id: str, version: int, change_id: str) -> bool:
        """Own the transition to ``version`` (see ``storage.claims``)."""
        return await self.claims.claim(listing_id, version, change_id)

    async def release(self, listing_id: str, version: int, change_id: str) -> None:
        """Give up a claim this change holds (maintenance that does not bump the version)."""
        await self.claims.release(listing_id, version, change_id)

    async def _settle(self, listing_id: str, change: Change, current: Listing) -> Listing:
        """After a version mismatch: a retry of an applied change succeeds, else conflict."""
        applied = await self._col.count_documents(
            {"_id": listing_id, "history.change_id": change.change_id}
        )
        if applied:
            return current
        raise VersionConflict(current)

    async def note_source(self, listing_id: str, source: str) -> None:
        """Remember the CRM row last read for a listing that it did not change (metadata
        only: no version, no history entry)."""
        await self._col.update_one({"_id": listing_id}, {"$set": {"src": source}})

    async def raw(self, listing_id: str) -> Document | None:
        """One stored document as is."""
        return await self._col.find_one({"_id": listing_id})

    async def replace_raw(self, doc: Document, expected_version: int) -> bool:
        """Write back a maintained document if nobody changed it meanwhile."""
        # Callers hold the version claim (see ``claim``); `_id` alone keeps this cheap on FerretDB.
        current = await self._col.find_one({"_id": doc["_id"]}, {"v": 1})
        if current is None or current["v"] != expected_version:
            return False
        result = await self._col.replace_one({"_id": doc["_id"]}, doc)
        return result.matched_count == 1

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
        """How many listings use key ``kid``."""
        return await self._col.count_documents({"kid": kid})
