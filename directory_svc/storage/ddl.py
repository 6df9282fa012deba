"""The DDL the service sends: a collection's indexes, and dropping a collection.

Indexes: the missing ones, in one command (the adapter for FerretDB: one by one).
One ``createIndexes`` for all of them lets the server build them together (DocumentDB
queues separate commands on one collection behind each other's background build: 14 s
for the listings' eight, against no wait at all). Only the missing ones are sent:
FerretDB 1.24 drops the connection when a several-index command names one that exists
(which two processes creating them at once cannot avoid), so on FerretDB, known by its
``buildInfo``, each index is its own command.
A drop racing an engine's background index build may be refused for a moment
(DocumentDB: "tuple concurrently updated"): it is tried again.
"""

from __future__ import annotations

import asyncio

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from directory_svc.storage.documents import Document
from directory_svc.storage.engine import is_ferretdb


async def ensure_indexes(col: AsyncCollection[Document], models: list[IndexModel]) -> None:
    """Create those of ``models`` that ``col`` lacks (by name), in one command."""
    cursor = await col.list_indexes()
    existing = {index["name"] async for index in cursor}
    missing = [m for m in models if m.document["name"] not in existing]
    if len(missing) > 1 and await is_ferretdb(col.database.client):
        for model in missing:
            await col.create_indexes([model])
    elif missing:
        await col.create_indexes(missing)


DROP_ATTEMPTS = 5


async def drop_collection(db: AsyncDatabase[Document], name: str) -> None:
    """Drop collection ``name``, again after a transient refusal (see the module docstring)."""
    for attempt in range(DROP_ATTEMPTS):
        try:
            await db[name].drop()
            return
        except OperationFailure as exc:
            if "concurrently" not in str(exc) or attempt == DROP_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))
