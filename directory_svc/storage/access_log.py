"""The access log: one record per staff read of a person's data (append-only inserts).

Group commit: a record that arrives while an insert is in flight waits for the next one,
which carries every record that arrived meanwhile (one ``insert_many``). Each caller still
waits until its own record is acknowledged, and gets the error if that insert failed: the
log stays fail-closed, and a lone request is written at once (no timer, no added wait).
"""

from __future__ import annotations

import asyncio
import contextvars
from datetime import datetime

import pymongo
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import NetworkTimeout

from directory_svc.domain.access import AccessRecord
from directory_svc.storage.ddl import ensure_indexes
from directory_svc.storage.documents import Document

__all__ = ["AccessLog", "AccessRecord"]

GROUP_MAX = 500
"""At most this many callers share one insert."""


class AccessLog:
    """Append-only access records, queried by agent, subject and period."""

    def __init__(self, db: AsyncDatabase[Document], timeout_s: float = 5.0) -> None:
        self._col = db["access_log"]
        # How long one shared insert may take before its callers fail: no request's
        # deadline governs a shared insert, this one does.
        self._timeout_s = timeout_s
        self._queue: list[tuple[list[Document], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        """Index by agent, by listing and by account, each with time."""
        await ensure_indexes(
            self._col,
            [
                IndexModel([("agent", ASCENDING), ("at", DESCENDING)], name="by_agent"),
                IndexModel([("listing", ASCENDING), ("at", DESCENDING)], name="by_listing"),
                IndexModel([("account", ASCENDING), ("at", DESCENDING)], name="by_account"),
            ],
        )

    async def record(self, records: list[AccessRecord]) -> None:
        """Append records (never updated); returns once they are acknowledged."""
        if not records:
            return
        docs = [
            {
                "at": r.at,
                "agent": r.agent,
                "role": r.role,
                "op": r.operation,
                "purpose": r.purpose,
                "listing": r.listing_id,
                "account": r.account_id,
                "flagged": r.flagged,
            }
            for r in records
        ]
        done = asyncio.get_running_loop().create_future()
        self._queue.append((docs, done))
        if self._writer is None or self._writer.done():
            # In a context of its own: no caller's request deadline governs the others'.
            self._writer = asyncio.create_task(self._write(), context=contextvars.Context())
        await done

    async def _write(self) -> None:
        """Insert what is queued, in batches, until nothing is."""
        while self._queue:
            batch, self._queue = self._queue[:GROUP_MAX], self._queue[GROUP_MAX:]
            docs = [doc for docs, _ in batch for doc in docs]
            error: BaseException | None = None
            try:
                with pymongo.timeout(self._timeout_s):
                    async with asyncio.timeout(self._timeout_s):
                        await self._col.insert_many(docs, ordered=True)
            except TimeoutError:
                error = NetworkTimeout("the access log insert timed out")
            except Exception as exc:  # every caller of the batch hears it
                error = exc
            for _, done in batch:
                if done.done():  # its caller went away; the record is written anyway
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    async def query(
        self,
        agent: str | None = None,
        listing_id: str | None = None,
        account_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AccessRecord]:
        """Records matching every given criterion, newest first."""
        query: Document = {}
        if agent is not None:
            query["agent"] = agent
        if listing_id is not None:
            query["listing"] = listing_id
        if account_id is not None:
            query["account"] = account_id
        if since is not None or until is not None:
            query["at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        cursor = self._col.find(query).sort("at", DESCENDING).limit(limit)
        return [
            AccessRecord(
                d["at"],
                d["agent"],
                d["role"],
                d["op"],
                d["purpose"],
                d.get("listing"),
                d.get("account"),
                d.get("flagged", False),
            )
            async for d in cursor
        ]
