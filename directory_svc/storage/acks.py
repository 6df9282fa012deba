"""Acknowledgements received from publishers (collection ``feed_acks``), one per feed."""

from __future__ import annotations

import json

from pymongo import DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from directory_svc.domain.exports import Acknowledgement, AckStatus
from directory_svc.storage.ddl import ensure_indexes
from directory_svc.storage.documents import Document


def _ack(d: Document) -> Acknowledgement:
    return Acknowledgement(
        publisher_id=d["pub"],
        sequence=int(d["seq"]),
        status=AckStatus(d["status"]),
        received_at=d["at"],
        copy_digest=d["digest"],
        expected_digest=d.get("expected"),
        signed=json.loads(d["signed"]),
    )


class FeedAcks:
    """Per publisher and feed sequence, the acknowledgement received last."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db["feed_acks"]

    async def ensure_indexes(self) -> None:
        """By publisher, newest sequence first."""
        await ensure_indexes(
            self._col, [IndexModel([("pub", 1), ("seq", DESCENDING)], name="by_publisher")]
        )

    async def record(self, ack: Acknowledgement) -> None:
        """Store an acknowledgement (a publisher sending one again replaces it)."""
        await self._col.replace_one(
            {"_id": f"{ack.publisher_id}:{ack.sequence:08d}"},
            {
                "pub": ack.publisher_id,
                "seq": ack.sequence,
                "status": ack.status.value,
                "at": ack.received_at,
                "digest": ack.copy_digest,
                "expected": ack.expected_digest,
                # As text: a publisher's JSON may hold keys MongoDB refuses ("$", ".").
                "signed": json.dumps(ack.signed, ensure_ascii=False, sort_keys=True),
            },
            upsert=True,
        )

    async def latest(self, publisher_id: str) -> Acknowledgement | None:
        """The acknowledgement of the publisher's highest sequence."""
        doc = await self._col.find_one({"pub": publisher_id}, sort=[("seq", DESCENDING)])
        return None if doc is None else _ack(doc)

    async def get(self, publisher_id: str, sequence: int) -> Acknowledgement | None:
        """The acknowledgement of one feed, if any."""
        doc = await self._col.find_one({"_id": f"{publisher_id}:{sequence:08d}"})
        return None if doc is None else _ack(doc)

    async def applied_up_to(self, publisher_id: str, statuses: tuple[AckStatus, ...]) -> int:
        """The highest sequence the publisher acknowledged with one of ``statuses`` (0: none)."""
        doc = await self._col.find_one(
            {"pub": publisher_id, "status": {"$in": [s.value for s in statuses]}},
            sort=[("seq", DESCENDING)],
        )
        return 0 if doc is None else int(doc["seq"])

    async def for_publisher(self, publisher_id: str) -> list[Acknowledgement]:
        """Every acknowledgement of a publisher, newest sequence first."""
        cursor = self._col.find({"pub": publisher_id}).sort("seq", DESCENDING)
        return [_ack(d) async for d in cursor]
