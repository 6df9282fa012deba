"""The publisher registry (the ledger of what each was sent is in ``storage.ledger``)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from directory_svc.domain.errors import AlreadyExists
from directory_svc.domain.publishers import (
    ChoicePolicy,
    FeedFormat,
    GeoScope,
    HomonymyPolicy,
    NumberFormat,
    Publisher,
    PublisherKind,
    PublisherProfile,
    SftpTarget,
)
from directory_svc.storage.documents import Document
from directory_svc.storage.versioned import VersionedWrites

# FerretDB 1.24 deadlocks on update commands of more than ~100 statements.
LEDGER_BATCH = 50


def _publisher_doc(p: Publisher) -> Document:
    prof = p.profile
    return {
        "_id": prof.id,
        "legal_name": p.legal_name,
        "kind": prof.kind.value,
        "marketing_allowed": prof.marketing_allowed,
        "scope_departements": sorted(prof.scope.departements),
        "scope_communes": sorted(prof.scope.communes),
        "fields": sorted(prof.fields),
        "choice_policy": prof.choice_policy.value,
        "homonymy": prof.homonymy.value,
        "format": p.feed_format.value,
        "numbers": p.number_format.value,
        "schedule": p.schedule,
        "recipient": p.recipient,
        "ack_key": p.ack_key,
        "active": p.active,
        "v": p.version,
        "sftp": None
        if p.sftp is None
        else {
            "host": p.sftp.host,
            "port": p.sftp.port,
            "user": p.sftp.username,
            "dir": p.sftp.directory,
            "host_key": p.sftp.host_key,
        },
    }


def _publisher(doc: Document) -> Publisher:
    return Publisher(
        profile=PublisherProfile(
            id=doc["_id"],
            kind=PublisherKind(doc["kind"]),
            marketing_allowed=doc["marketing_allowed"],
            scope=GeoScope(
                departements=frozenset(doc["scope_departements"]),
                communes=frozenset(doc["scope_communes"]),
            ),
            fields=frozenset(doc["fields"]),
            choice_policy=ChoicePolicy(doc["choice_policy"]),
            homonymy=HomonymyPolicy(doc["homonymy"]),
        ),
        legal_name=doc["legal_name"],
        feed_format=FeedFormat(doc["format"]),
        number_format=NumberFormat(doc["numbers"]),
        schedule=doc["schedule"],
        recipient=doc.get("recipient"),
        ack_key=doc.get("ack_key"),
        active=doc["active"],
        version=doc.get("v", 1),
        sftp=None
        if not doc.get("sftp")
        else SftpTarget(
            doc["sftp"]["host"],
            doc["sftp"]["port"],
            doc["sftp"]["user"],
            doc["sftp"]["dir"],
            doc["sftp"]["host_key"],
        ),
    )


class PublisherRepository:
    """The publisher registry."""

    def __init__(self, db: AsyncDatabase[Document], versioned: VersionedWrites) -> None:
        self._col = db["publishers"]
        self._versioned = versioned

    async def create(self, publisher: Publisher) -> None:
        """Register a new publisher; ``AlreadyExists`` when the id is taken."""
        try:
            await self._col.insert_one(_publisher_doc(replace(publisher, version=1)))
        except DuplicateKeyError:
            raise AlreadyExists("publisher") from None

    async def save(self, publisher: Publisher) -> Publisher | None:
        """Store ``publisher`` as the next version of the registration it was read at
        (``publisher.version``); the saved publisher, or ``None`` when someone else saved
        first or the registration is gone (the caller reads it again)."""
        read_at = publisher.version
        saved = replace(publisher, version=read_at + 1)
        fields = {k: v for k, v in _publisher_doc(saved).items() if k != "_id"}
        owner = uuid.uuid4().hex
        if await self._versioned.write(self._col, publisher.id, read_at, {"$set": fields}, owner):
            return saved
        return None

    async def get(self, publisher_id: str) -> Publisher | None:
        """One publisher, or ``None``."""
        doc = await self._col.find_one({"_id": publisher_id})
        return None if doc is None else _publisher(doc)

    async def all(self) -> list[Publisher]:
        """Every publisher, by id."""
        return [_publisher(d) async for d in self._col.find({}).sort("_id", ASCENDING)]
