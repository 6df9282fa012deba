"""Creating a collection's indexes: the missing ones, in one command.

One ``createIndexes`` for all of them lets the server build them together (DocumentDB
queues separate commands on one collection behind each other's background build: 14 s
for the listings' eight, against no wait at all). Only the missing ones are sent:
FerretDB 1.24 drops the connection when a several-index command names one that exists.
"""

from __future__ import annotations

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from directory_svc.storage.documents import Document


async def ensure_indexes(col: AsyncCollection[Document], models: list[IndexModel]) -> None:
    """Create those of ``models`` that ``col`` lacks (by name), in one command."""
    cursor = await col.list_indexes()
    existing = {index["name"] async for index in cursor}
    missing = [m for m in models if m.document["name"] not in existing]
    if missing:
        await col.create_indexes(missing)
