"""Rate counters shared by every process: one atomic counter per key and fixed window.

A key (``mutation:sub:<subject>``, ``read:<agent>``…) is stored hashed, so the collection
holds no subject or address. Counting is one ``findAndModify`` with ``$inc`` and upsert,
atomic on one document on MongoDB and FerretDB alike: N processes give the limit of one
(``RateCounters.take`` reserves ahead, so most counts cost no round trip). Windows that
ended are deleted once per window by each process (no TTL index).
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


@dataclass(frozen=True, slots=True)
class Grant:
    """Whether an allowance was granted, and the seconds until the window ends."""

    granted: bool
    resets_in_s: float


LEASE_MAX = 32
"""At most this many units reserved ahead by one process (``take``)."""
LEASE_SHARE = 8
"""A reservation takes at most 1/LEASE_SHARE of what the window had left when last seen."""


class RateCounters:
    """Counters per key and window of ``window_s`` seconds.

    ``take`` reserves allowance in blocks: one ``findAndModify`` reserves up to
    ``LEASE_MAX`` units (never more than an eighth of what was left), and the next calls
    of this process use them without a round trip. What every process was granted never
    exceeds the limit; units a process reserved and did not use by the end of the window
    only make others refuse a little early (never late). Small limits get blocks of one:
    exact counting.
    """

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["rate_counters"]
        self._leases: dict[str, tuple[float, int]] = {}
        """slot -> (window end, units reserved by this process and not used yet)"""
        self._seen: dict[str, int] = {}
        """slot -> the counter's value after this process's last reservation"""
        self._swept: dict[int, int] = {}
        """window length -> start of the last window whose ended slots were deleted"""

    @staticmethod
    def _slot(key: str, window_s: int) -> tuple[str, int, float]:
        now = clock.now().timestamp()
        start = int(now // window_s) * window_s
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{digest}:{window_s}:{start}", start + window_s, start + window_s - now

    async def take(self, key: str, *, window_s: int, limit: int, amount: int = 1) -> Grant:
        """Use ``amount`` of the key's allowance of ``limit`` per window, if that many are
        left (from this process's reservation, else reserving more)."""
        slot, ends, left_s = self._slot(key, window_s)
        _, have = self._leases.get(slot, (ends, 0))
        if have >= amount:
            self._leases[slot] = (ends, have - amount)
            return Grant(True, left_s)
        need = amount - have
        seen = self._seen.get(slot, 0)
        reserve = max(need, min(LEASE_MAX, (limit - seen) // LEASE_SHARE))
        after = await self._inc(slot, ends, reserve, window_s)
        fits = max(0, min(reserve, limit - (after - reserve)))
        self._prune(clock.now().timestamp())
        self._seen[slot] = after
        granted = have + fits >= amount
        self._leases[slot] = (ends, have + fits - (amount if granted else 0))
        return Grant(granted, left_s)

    async def use(self, key: str, *, window_s: int, amount: int) -> None:
        """Count ``amount`` more units whatever the limit (what a granted read returned
        beyond what it took): from this process's reservation first."""
        slot, ends, _ = self._slot(key, window_s)
        _, have = self._leases.get(slot, (ends, 0))
        if have >= amount:
            self._leases[slot] = (ends, have - amount)
            return
        self._leases[slot] = (ends, 0)
        self._seen[slot] = await self._inc(slot, ends, amount - have, window_s)

    async def add(self, key: str, *, window_s: int, amount: int = 1) -> Count:
        """Add ``amount`` to the key's counter of the current window; the new count."""
        slot, ends, left = self._slot(key, window_s)
        return Count(await self._inc(slot, ends, amount, window_s), left)

    async def get(self, key: str, *, window_s: int) -> Count:
        """The key's count in the current window (0 when none)."""
        slot, _, left = self._slot(key, window_s)
        doc = await self._col.find_one({"_id": slot}, {"n": 1})
        return Count(int(doc["n"]) if doc else 0, left)

    async def used(self, key: str, *, window_s: int) -> Count:
        """What the key has used in the current window: its count less the units this
        process reserved ahead and has not used (other processes' reserves count as used)."""
        slot, _, left = self._slot(key, window_s)
        count = await self.get(key, window_s=window_s)
        lease = self._leases.get(slot)
        unused = lease[1] if lease is not None else 0
        return Count(max(0, count.value - unused), left)

    async def _inc(self, slot: str, ends: int, amount: int, window_s: int) -> int:
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
        await self._sweep(ends, window_s)
        return int(doc["n"])

    async def _sweep(self, ends: int, window_s: int) -> None:
        """Delete the slots of ended windows, once per window length and window here."""
        start = ends - window_s
        if self._swept.get(window_s) != start:
            self._swept[window_s] = start
            await self._col.delete_many({"ends": {"$lt": start}})

    def _prune(self, now: float) -> None:
        """Forget this process's reservations of ended windows."""
        if len(self._leases) > 1000:
            for slot in [s for s, (ends, _) in self._leases.items() if ends <= now]:
                del self._leases[slot]
                self._seen.pop(slot, None)
