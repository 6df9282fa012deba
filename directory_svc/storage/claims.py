"""Version claims: how a writer becomes the only one allowed to move a document from
version v to v+1, on servers whose updates are not compare-and-set.

FerretDB 1.24 evaluates an update's filter and then writes by ``_id`` without re-checking
it, so two concurrent updates filtered on the same version can both "match". An insert on
a unique ``_id`` is atomic on MongoDB and FerretDB alike: the writer that inserts
``<id>:<v+1>`` owns that transition. Claims of past versions are deleted, so a writer must
read the document *after* claiming and give the claim back if it has moved on.
"""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from directory_svc.storage.documents import Document, now_ms

STALE_CLAIM_S = 60


class VersionClaims:
    """The claims of one collection's documents (``<document id>:<version>``)."""

    def __init__(self, col: AsyncCollection[Document]) -> None:
        self._col = col

    async def claim(self, doc_id: str, version: int, owner: str) -> bool:
        """Own the transition to ``version``; True when ``owner`` owns it.

        A claim older than ``STALE_CLAIM_S`` (its writer died between claim and write) is
        removed, so the next attempt can proceed; this one still answers False.
        """
        claim_id = f"{doc_id}:{version}"
        try:
            await self._col.insert_one({"_id": claim_id, "change": owner, "at": now_ms()})
        except DuplicateKeyError:
            existing = await self._col.find_one({"_id": claim_id})
            if existing is None:
                return False
            if existing["change"] == owner:
                return True  # our own earlier attempt, interrupted before its write
            age = (now_ms() - existing["at"]).total_seconds()
            if age > STALE_CLAIM_S:
                await self._col.delete_one({"_id": claim_id, "change": existing["change"]})
            return False
        return True

    async def release(self, doc_id: str, version: int, owner: str) -> None:
        """Give up a claim ``owner`` holds."""
        await self._col.delete_one({"_id": f"{doc_id}:{version}", "change": owner})

    async def drop(self, doc_id: str, version: int) -> None:
        """Forget the claim of a version that is now in the past."""
        await self._col.delete_one({"_id": f"{doc_id}:{version}"})
