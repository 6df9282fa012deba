"""The access log: one record per staff read of a person's data (append-only inserts)."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from directory_svc.domain.access import AccessRecord
from directory_svc.storage.documents import Document

__all__ = ["AccessLog", "AccessRecord"]


class AccessLog:
    """Append-only access records, queried by agent, subject and period."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["access_log"]

    async def ensure_indexes(self) -> None:
        """Index by agent, by listing and by account, each with time."""
        await self._col.create_index([("agent", ASCENDING), ("at", DESCENDING)], name="by_agent")
        await self._col.create_index(
            [("listing", ASCENDING), ("at", DESCENDING)], name="by_listing"
        )
        await self._col.create_index(
            [("account", ASCENDING), ("at", DESCENDING)], name="by_account"
        )

    async def record(self, records: list[AccessRecord]) -> None:
        """Append records (one insert each batch; never updated)."""
        if records:
            await self._col.insert_many(
                [
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
                ],
                ordered=True,
            )

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
