"""The versioned-write seam: how a document moves from version v to v+1 exactly once.

Every change of a listing or a publisher is one ``update_one`` filtered on the document's
``_id`` *and* the version the writer read: a writer that read an older version matches
nothing and gets a conflict. On MongoDB (and compatible servers that evaluate an update's
filter atomically) that filter is the compare-and-set: ``ConditionalWrites``.

FerretDB 1.24 evaluates the filter in Go and then writes by ``_id``, so two concurrent
writers filtered on the same version can both "match". ``ClaimedWrites`` therefore first
claims the transition with an insert on a unique ``_id`` (``<id>:<v+1>``, atomic on every
engine), and still writes with the version in its filter, so that a writer whose stale
claim was taken over matches nothing when it resumes. A claim names its process
(``storage.processes``): one whose process is known to be gone (killed between claim and
write, on this machine) is taken over after ``CLAIM_GRACE``; any other after ``STALE_CLAIM``. (On
FerretDB a filter on more than ``_id`` scans the collection: the embedded engine's price.)

The adapter is chosen once at start-up (``choose``) from what the server says about itself,
unless the ``DIRECTORY_WRITE_ADAPTER`` setting names one, and logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from directory_svc.storage.documents import Document, now_ms
from directory_svc.storage.processes import process_gone, this_process

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(seconds=60)
"""A claim older than this belongs to a writer that died (or paused) between claim and write."""
CLAIM_GRACE = timedelta(seconds=2)
"""How long a gone writer's claim is still respected: its last command, sent before it died,
may still be running on the server."""


class VersionedWrites(Protocol):
    """Moves one document of a collection from ``version`` to ``version + 1``."""

    name: str

    async def write(
        self,
        col: AsyncCollection[Document],
        doc_id: str,
        version: int,
        update: Document,
        owner: str,
        extra: Document | None = None,
    ) -> bool:
        """Apply ``update`` (which sets ``v`` to ``version + 1``) if the document is still
        at ``version`` (and matches ``extra``); False when it is not (or another writer
        holds the transition)."""
        ...

    async def rewrite(
        self, col: AsyncCollection[Document], doc_id: str, version: int, update: Document
    ) -> bool:
        """Apply ``update``, which keeps the version (maintenance: re-encryption, erasure
        of a purged document's values), if the document is still at ``version``."""
        ...


class ConditionalWrites:
    """MongoDB semantics: the conditional update is the compare-and-set."""

    name = "conditional"

    async def write(
        self,
        col: AsyncCollection[Document],
        doc_id: str,
        version: int,
        update: Document,
        owner: str,
        extra: Document | None = None,
    ) -> bool:
        del owner  # nothing to claim
        query = {"_id": doc_id, "v": version, **(extra or {})}
        result = await col.update_one(query, update)
        return result.matched_count == 1

    async def rewrite(
        self, col: AsyncCollection[Document], doc_id: str, version: int, update: Document
    ) -> bool:
        return await self.write(col, doc_id, version, update, "")


class ClaimedWrites:
    """FerretDB: claim ``<id>:<version + 1>`` by unique insert, then the conditional update."""

    name = "claims"

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    def _claims(self, col: AsyncCollection[Document]) -> AsyncCollection[Document]:
        # listings → listing_claims, publishers → publisher_claims (names kept from before)
        return self._db[f"{col.name.removesuffix('s')}_claims"]

    async def write(
        self,
        col: AsyncCollection[Document],
        doc_id: str,
        version: int,
        update: Document,
        owner: str,
        extra: Document | None = None,
    ) -> bool:
        claims = self._claims(col)
        if not await self._claim(claims, f"{doc_id}:{version + 1}", owner):
            return False
        query = {"_id": doc_id, "v": version, **(extra or {})}
        result = await col.update_one(query, update)
        if result.matched_count == 1:
            await claims.delete_one({"_id": f"{doc_id}:{version}"})  # a past transition
            return True
        await claims.delete_one({"_id": f"{doc_id}:{version + 1}", "change": owner})
        return False

    async def rewrite(
        self, col: AsyncCollection[Document], doc_id: str, version: int, update: Document
    ) -> bool:
        claims = self._claims(col)
        claim_id, owner = f"{doc_id}:{version + 1}", f"rewrite:{now_ms().isoformat()}"
        if not await self._claim(claims, claim_id, owner):
            return False
        try:
            result = await col.update_one({"_id": doc_id, "v": version}, update)
        finally:
            await claims.delete_one({"_id": claim_id, "change": owner})  # v is unchanged
        return result.matched_count == 1

    async def _claim(self, claims: AsyncCollection[Document], claim_id: str, owner: str) -> bool:
        for _ in range(2):  # once more after taking over an abandoned claim
            claim = {"_id": claim_id, "change": owner, "at": now_ms(), "proc": this_process()}
            try:
                await claims.insert_one(claim)
            except DuplicateKeyError:
                existing = await claims.find_one({"_id": claim_id})
                if existing is None:
                    continue  # released meanwhile
                if existing["change"] == owner:
                    return True  # our own earlier attempt, interrupted before its write
                if not _abandoned(existing):
                    return False
                await claims.delete_one({"_id": claim_id, "change": existing["change"]})
                continue
            return True
        return False


def _abandoned(claim: Document) -> bool:
    """A claim whose writer is known to be gone, or older than ``STALE_CLAIM``."""
    proc = claim.get("proc")  # claims written before processes were named have none
    age: timedelta = now_ms() - claim["at"]
    if isinstance(proc, str) and age > CLAIM_GRACE and process_gone(proc):
        return True
    return age > STALE_CLAIM


async def choose(db: AsyncDatabase[Document], setting: str = "auto") -> VersionedWrites:
    """The adapter for this server: ``setting`` when it names one, else asked of the server
    (``buildInfo``: FerretDB says ``ferretdbVersion``)."""
    if setting == "auto":
        info: dict[str, Any] = await db.client.admin.command("buildInfo")
        setting = "claims" if "ferretdbVersion" in info else "conditional"
        engine = f"FerretDB {info['ferretdbVersion']}" if setting == "claims" else "MongoDB"
        why = f"the server is {engine} {info.get('version', '')}".rstrip()
    else:
        why = "DIRECTORY_WRITE_ADAPTER"
    adapter: VersionedWrites = ClaimedWrites(db) if setting == "claims" else ConditionalWrites()
    log.debug("versioned writes", extra={"adapter": adapter.name, "chosen_by": why})
    return adapter
