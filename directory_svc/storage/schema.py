"""The schema version recorded in the database, and the refusal to work on another one.

``schema_version/current`` holds the version of the stored format (``v``); the code knows
``SCHEMA_VERSION`` (the number of migrations, ``storage.migrations``). A database with no
record is either new (nothing stored yet: it is stamped with the code's version) or was
written before versions were recorded (version 0). Every process but ``migrate`` refuses a
database whose version differs from its own: older (run ``directory-svc migrate``) or
newer (never write data it does not understand). Each migration that ran is recorded in
``schema_migrations`` with what it changed, in counts. ``schema_version/keys`` holds the
fingerprint of the keys the data is encrypted with (``check_keys``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from directory_svc.storage.crypto import DecryptionFailed
from directory_svc.storage.documents import Document, now_ms
from directory_svc.storage.keys import KeyFileError
from directory_svc.storage.processes import process_gone, this_process

CURRENT = "current"
LOCK = "migrating"
DATA_COLLECTIONS = ("listings", "publishers", "accounts", "feed_ledger", "feed_ledger_heads")
"""A database holding any of these was written by some version of the service."""


class SchemaMismatch(Exception):
    """The database's stored format is not the one this code reads and writes."""


class MigrationRunning(Exception):
    """Another ``migrate`` process holds the database."""


class SchemaVersions:
    """The version record, the migration log and the migration lock of one database."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._col = db["schema_version"]
        self._log = db["schema_migrations"]

    async def recorded(self) -> int | None:
        """The recorded version, or None when the database records none."""
        doc = await self._col.find_one({"_id": CURRENT})
        return None if doc is None else int(doc["v"])

    async def holds_data(self) -> bool:
        """Whether any collection of the service holds a document."""
        names = set(await self._db.list_collection_names())
        for name in DATA_COLLECTIONS:
            if name in names and await self._db[name].find_one({}, {"_id": 1}) is not None:
                return True
        return False

    async def version(self) -> int | None:
        """The database's version: recorded, 0 for data from before versions were recorded,
        or None for a new database."""
        recorded = await self.recorded()
        if recorded is not None:
            return recorded
        return 0 if await self.holds_data() else None

    async def stamp(self, version: int) -> None:
        """Record ``version`` for a new database (kept if another process did first)."""
        await self._col.update_one(
            {"_id": CURRENT}, {"$setOnInsert": {"v": version, "at": now_ms()}}, upsert=True
        )

    async def advance(self, number: int, name: str, counts: Mapping[str, int]) -> None:
        """Record that migration ``number`` completed: the log, then the version."""
        at = now_ms()
        entry = {"_id": number, "name": name, "at": at, "counts": dict(counts)}
        await self._log.replace_one({"_id": number}, entry, upsert=True)
        await self._col.update_one({"_id": CURRENT}, {"$set": {"v": number, "at": at}}, upsert=True)

    async def log(self) -> list[tuple[int, str, datetime, dict[str, int]]]:
        """Every migration recorded, in order."""
        return [
            (d["_id"], d["name"], d["at"], d["counts"])
            async for d in self._log.find({}).sort("_id", 1)
        ]

    async def lock(self) -> str:
        """Hold the migration lock (one ``migrate`` at a time); returns the holder name.
        A lock whose process is known to be gone is taken over."""
        owner = this_process()
        for _ in range(2):
            try:
                await self._col.insert_one({"_id": LOCK, "owner": owner, "at": now_ms()})
                return owner
            except DuplicateKeyError:
                held = await self._col.find_one({"_id": LOCK})
                if held is None:
                    continue
                if held["owner"] == owner:
                    return owner
                if not process_gone(held["owner"]):
                    raise MigrationRunning(
                        f"another migrate is running ({held['owner']}, since {held['at']:%H:%M})"
                    ) from None
                await self._col.delete_one({"_id": LOCK, "owner": held["owner"]})
        raise MigrationRunning("the migration lock keeps changing hands")

    async def unlock(self, owner: str) -> None:
        """Release the lock held by ``owner``."""
        await self._col.delete_one({"_id": LOCK, "owner": owner})


KEYS = "keys"
WRONG_KEYS = (
    "the keys in {where} do not open this database's data: point DIRECTORY_KEYS_DIR at its "
    "keys, or restore them from escrow (`directory-svc keys restore FILE --identity KEY`)"
)


async def check_keys(
    db: AsyncDatabase[Document], fingerprint: str, where: str, decodes: Callable[[Document], Any]
) -> None:
    """Refuse keys that are not the database's (``KeyFileError``), before anything is
    written with them: the database keeps the fingerprint of its keys (``KeyRing``); one
    written before it did is checked by decrypting one listing, then gets it."""
    col = db["schema_version"]
    doc = await col.find_one({"_id": KEYS})
    if doc is not None:
        if doc["fp"] != fingerprint:
            raise KeyFileError(WRONG_KEYS.format(where=where))
        return
    sample = await db["listings"].find_one({})
    if sample is not None:
        try:
            decodes(sample)
        except (DecryptionFailed, KeyFileError):
            raise KeyFileError(WRONG_KEYS.format(where=where)) from None
    await col.update_one({"_id": KEYS}, {"$setOnInsert": {"fp": fingerprint}}, upsert=True)


async def check_schema(db: AsyncDatabase[Document], expected: int) -> None:
    """Stamp a new database; refuse one whose version is not ``expected``."""
    versions = SchemaVersions(db)
    found = await versions.version()
    if found is None:
        await versions.stamp(expected)
        found = await versions.recorded()
    if found == expected:
        return
    if found is not None and found > expected:
        raise SchemaMismatch(
            f"the database's stored format is version {found}, newer than this code's "
            f"({expected}): run the release that wrote it (nothing was changed)"
        )
    raise SchemaMismatch(
        f"the database's stored format is version {found}, this code needs {expected}: "
        "run `directory-svc migrate` first"
    )
