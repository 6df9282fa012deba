"""Repository of subscriber accounts and their information-duty records.

The records are append-only and live in a collection of their own (``account_information``),
one insert each: inserts are atomic on both servers, whereas a ``$push`` on FerretDB 1.24 is
a read-modify-write that two concurrent calls can lose (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from directory_svc.domain.accounts import Account, InformationRecord
from directory_svc.domain.choices import Channel
from directory_svc.domain.listings import ListingKind
from directory_svc.storage.ddl import ensure_indexes
from directory_svc.storage.documents import Document

COLLECTION = "accounts"
INFORMATION = "account_information"
DUPLICATE_KEY = 11000


def _record_doc(record: InformationRecord) -> Document:
    return {"at": record.at, "ch": record.channel.value, "notice": record.notice_version}


def _record(doc: Document) -> InformationRecord:
    return InformationRecord(doc["at"], Channel(doc["ch"]), doc["notice"])


class AccountRepository:
    """Reads and writes accounts."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db[COLLECTION]
        self._info = db[INFORMATION]

    async def ensure_indexes(self) -> None:
        """Index information records by account and time."""
        await ensure_indexes(self._info, [IndexModel([("acc", 1), ("at", 1)], name="by_account")])

    async def get(self, account_id: str) -> Account | None:
        """The account with its information records (oldest first), or ``None``."""
        doc = await self._col.find_one({"_id": account_id})
        if doc is None:
            return None
        cursor = self._info.find({"acc": account_id}).sort("at", 1)
        records = tuple([_record(r) async for r in cursor])
        return Account(id=doc["_id"], kind=ListingKind(doc["kind"]), informed=records)

    async def create(self, account: Account) -> bool:
        """Store a new account and its records; False when it exists already."""
        try:
            await self._col.insert_one({"_id": account.id, "kind": account.kind.value})
        except DuplicateKeyError:
            return False
        for record in account.informed:
            await self.record_information(account.id, record)
        return True

    async def create_missing(self, accounts: Sequence[Account]) -> int:
        """Store the accounts that do not exist yet; returns how many were new."""
        if not accounts:
            return 0
        existing = {
            d["_id"]
            async for d in self._col.find({"_id": {"$in": [a.id for a in accounts]}}, {"_id": 1})
        }
        new = [a for a in accounts if a.id not in existing]
        if not new:
            return 0
        try:
            result = await self._col.insert_many(
                [{"_id": a.id, "kind": a.kind.value} for a in new], ordered=False
            )
            created = {new[i].id for i in range(len(result.inserted_ids))}
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise
            failed = {new[e["index"]].id for e in exc.details.get("writeErrors", [])}
            created = {a.id for a in new} - failed
        records = [
            {"acc": a.id, **_record_doc(r)} for a in new if a.id in created for r in a.informed
        ]
        if records:
            await self._info.insert_many(records, ordered=False)
        return len(created)

    async def record_information(self, account_id: str, record: InformationRecord) -> bool:
        """Append an information-duty record; False when there is no such account."""
        if await self._col.count_documents({"_id": account_id}, limit=1) == 0:
            return False
        await self._info.insert_one({"acc": account_id, **_record_doc(record)})
        return True
