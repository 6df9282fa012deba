"""Rate counters shared by every process: one atomic counter per key and fixed window.

A key (``mutations:<subject>``, ``reads:<agent>``…) is stored hashed, so the collection
holds no subject or address. Counting is one ``findAndModify`` with ``$inc`` and upsert,
atomic on one document on MongoDB and FerretDB alike: N processes give the limit of one.
Windows that ended are deleted by the first counter of each new window (no TTL index).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from directory_svc import clock
from directory_svc.storage.documents import Document


@dataclass(frozen=True, slots=True)
class Count:
    """A key's count in the current window, and the seconds until the window ends."""

    value: int
    resets_in_s: float


class RateCounters:
    """Counters per key and window of ``window_s`` seconds."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["rate_counters"]

    @staticmethod
    def _slot(key: str, window_s: int) -> tuple[str, int, float]:
        now = clock.now().timestamp()
        start = int(now // window_s) * window_s
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{digest}:{window_s}:{start}", start + window_s, start + window_s - now

    async def add(self, key: str, *, window_s: int, amount: int = 1) -> Count:
        """Add ``amount`` to the key's counter of the current window; the new count."""
        slot, ends, left = self._slot(key, window_s)
        for attempt in (1, 2):
            try:
                doc = await self._col.find_one_and_update(
                    {"_id": slot},
                    {"$inc": {"n": amount}, "$setOnInsert": {"ends": ends}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                break
            except DuplicateKeyError:  # two first counts of a window raced; count again
                if attempt == 2:
                    raise
        assert doc is not None
        if doc["n"] == amount:  # the first count of this window: forget ended ones
            await self._col.delete_many({"ends": {"$lt": ends - window_s}})
        return Count(int(doc["n"]), left)

    async def get(self, key: str, *, window_s: int) -> Count:
        """The key's count in the current window (0 when none)."""
        slot, _, left = self._slot(key, window_s)
        doc = await self._col.find_one({"_id": slot}, {"n": 1})
        return Count(int(doc["n"]) if doc else 0, left)
