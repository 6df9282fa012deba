"""Repository of listings."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from directory_svc.domain.listings import Listing
from directory_svc.domain.pagination import Page
from directory_svc.storage.documents import Document, listing_from_document, listing_to_document

COLLECTION = "listings"
DUPLICATE_KEY = 11000


class ListingRepository:
    """Reads and writes listings; callers see domain objects only."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db[COLLECTION]

    @classmethod
    def for_client(cls, client: AsyncMongoClient[Document], db_name: str) -> ListingRepository:
        """The repository on database ``db_name`` of ``client``."""
        return cls(client[db_name])

    async def get(self, listing_id: str) -> Listing | None:
        """The listing with this id, or ``None``."""
        doc = await self._col.find_one({"_id": listing_id})
        return None if doc is None else listing_from_document(doc)

    async def page(self, first: int, after: str | None) -> Page[Listing]:
        """Up to ``first`` listings ordered by id, strictly after id ``after``."""
        query: Document = {} if after is None else {"_id": {"$gt": after}}
        cursor = self._col.find(query).sort("_id", ASCENDING).limit(first + 1)
        docs = await cursor.to_list(first + 1)
        items = [listing_from_document(d) for d in docs[:first]]
        return Page(
            items=items, has_next=len(docs) > first, last_key=items[-1].id if items else None
        )

    async def insert_new(self, listings: Sequence[Listing]) -> int:
        """Insert the listings whose id is not stored yet (idempotent); returns how many were new.

        Insert-only on purpose: an ``update`` command with more than about 100 statements
        deadlocks FerretDB 1.24 on SQLite (see docs/architecture.md, "Storage rules").
        """
        if not listings:
            return 0
        try:
            result = await self._col.insert_many(
                [listing_to_document(item) for item in listings], ordered=False
            )
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != DUPLICATE_KEY for err in errors):
                raise
            return int(exc.details.get("nInserted", 0))
        return len(result.inserted_ids)

    async def count(self) -> int:
        """How many listings are stored."""
        return await self._col.count_documents({})
