"""Publisher data queries: a publisher reports a wrong entry; support resolves it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from directory_svc.domain.data_queries import DataQuery, ReportStatus
from directory_svc.storage.ddl import ensure_indexes
from directory_svc.storage.documents import Document

__all__ = ["DataQueries", "DataQuery"]


def _query(d: Document) -> DataQuery:
    return DataQuery(
        id=d["_id"],
        publisher_id=d["pub"],
        entry_id=d["entry"],
        message=d["message"],
        created_at=d["created_at"],
        status=ReportStatus(d["status"]),
        resolution=d.get("resolution"),
        closed_by=d.get("closed_by"),
        closed_at=d.get("closed_at"),
    )


class DataQueries:
    """Reports, by publisher and by entry."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["data_queries"]

    async def ensure_indexes(self) -> None:
        """Index by entry and by publisher."""
        await ensure_indexes(
            self._col,
            [
                IndexModel([("entry", ASCENDING), ("status", ASCENDING)], name="by_entry"),
                IndexModel([("pub", ASCENDING)], name="by_publisher"),
            ],
        )

    async def open(self, publisher_id: str, entry_id: str, message: str, at: datetime) -> DataQuery:
        """Record a new report."""
        doc = {
            "_id": uuid.uuid4().hex,
            "pub": publisher_id,
            "entry": entry_id,
            "message": message,
            "created_at": at,
            "status": ReportStatus.OPEN.value,
        }
        await self._col.insert_one(doc)
        return _query(doc)

    async def get(self, query_id: str) -> DataQuery | None:
        """One report."""
        doc = await self._col.find_one({"_id": query_id})
        return None if doc is None else _query(doc)

    async def for_publisher(self, publisher_id: str) -> list[DataQuery]:
        """A publisher's reports, newest first."""
        cursor = self._col.find({"pub": publisher_id}).sort("created_at", -1)
        return [_query(d) async for d in cursor]

    async def open_for_entry(self, entry_id: str) -> list[DataQuery]:
        """Open reports about an entry."""
        return [
            _query(d)
            async for d in self._col.find({"entry": entry_id, "status": ReportStatus.OPEN.value})
        ]

    async def close(self, query_id: str, resolution: str, agent: str, at: datetime) -> bool:
        """Close a report with its resolution; False when unknown or already closed."""
        closed = {
            "status": ReportStatus.CLOSED.value,
            "resolution": resolution,
            "closed_by": agent,
            "closed_at": at,
        }
        result = await self._col.update_one(
            {"_id": query_id, "status": ReportStatus.OPEN.value}, {"$set": closed}
        )
        return result.modified_count == 1
