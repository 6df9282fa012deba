"""A publisher acknowledges a feed it applied: checked against the ledger, then recorded.

The acknowledgement (docs/feed-format.md) is signed with the publisher's own Ed25519 key,
registered with its profile (``publisher update ID --ack-key FILE``). Its copy digest is
compared with what the ledger said the publisher must hold once it applied that feed
(``ExportRun.holds_digest``, computed when the feed was recorded).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from directory_svc import clock
from directory_svc.domain.errors import DomainError, NotFound
from directory_svc.domain.exports import Acknowledgement, AckStatus, RunStatus
from directory_svc.domain.publishers import Publisher, is_feed_folder_of
from directory_svc.services.propagation import APPLIED
from directory_svc.storage.acks import FeedAcks
from directory_svc.storage.export_runs import ExportRuns
from directory_svc.storage.feeds import PublisherRepository
from directory_svc.storage.keys import ensure_sftp_client_key
from exporters.acks import AckRefused, ack_public_key, verified_ack
from exporters.applier import manifest_hash
from exporters.delivery import collect_acks


class AckRejected(DomainError):
    """The acknowledgement cannot be accepted (the message says why)."""


@dataclass(frozen=True, slots=True)
class AckReceipt:
    """The acknowledgement as recorded, and the opt-outs it showed applied: for each feed
    it newly covers, the seconds from the feed's oldest opt-out to now."""

    ack: Acknowledgement
    propagation_s: list[float]


@dataclass(frozen=True, slots=True)
class ReceivedAck:
    """An acknowledgement as a publisher posted it for one of its feed folders."""

    publisher_id: str
    folder: str
    body: Any


async def receive_ack(
    *,
    publishers: PublisherRepository,
    runs: ExportRuns,
    acks: FeedAcks,
    feeds_dir: Path,
    received: ReceivedAck,
) -> AckReceipt:
    """Check and record an acknowledgement; ``NotFound`` for a folder that is not one of
    the publisher's published feeds, ``AckRejected`` for a bad acknowledgement."""
    publisher_id, folder = received.publisher_id, received.folder
    if not is_feed_folder_of(publisher_id, folder):
        raise NotFound("feed")
    run = await runs.get(publisher_id, int(folder.rsplit("-", 2)[1]))
    if run is None or run.folder != folder or not (feeds_dir / folder).is_dir():
        raise NotFound("feed")
    publisher = await publishers.get(publisher_id)
    if publisher is None or publisher.ack_key is None:
        raise AckRejected("no acknowledgement key is registered for this publisher")
    try:
        ack = verified_ack(received.body, ack_public_key(publisher.ack_key))
    except AckRefused as exc:
        raise AckRejected(str(exc)) from None
    if ack["publisher"] != publisher_id or ack["sequence"] != run.seq:
        raise AckRejected("the acknowledgement names another publisher or feed")
    signed = json.loads((feeds_dir / folder / "manifest.json").read_text(encoding="utf-8"))
    if ack["manifest_sha256"] != manifest_hash(signed["manifest"]):
        raise AckRejected("manifest_sha256 is not the hash of this feed's manifest")
    latest = await acks.latest(publisher_id)
    covered = await acks.applied_up_to(publisher_id, APPLIED)
    expected = run.holds_digest if run.status is RunStatus.SUCCEEDED else None
    if latest is not None and latest.sequence > run.seq:
        status = AckStatus.LATE
    elif expected is None:
        status = AckStatus.UNVERIFIABLE
    elif ack["copy_digest"] == expected:
        status = AckStatus.MATCHED
    else:
        status = AckStatus.MISMATCH
    recorded = Acknowledgement(
        publisher_id=publisher_id,
        sequence=run.seq,
        status=status,
        received_at=clock.now(),
        copy_digest=ack["copy_digest"],
        expected_digest=expected,
        signed=received.body,
    )
    await acks.record(recorded)
    propagation: list[float] = []
    if status in APPLIED and run.seq > covered:
        for carried in await runs.with_optouts_after(publisher_id, covered):
            if carried.seq <= run.seq and carried.oldest_optout_at is not None:
                age = recorded.received_at - carried.oldest_optout_at
                propagation.append(age.total_seconds())
    return AckReceipt(recorded, propagation)


async def collect_sftp_acks(
    *,
    publishers: PublisherRepository,
    runs: ExportRuns,
    acks: FeedAcks,
    keys_dir: Path,
    feeds_dir: Path,
    publisher: Publisher,
) -> list[AckReceipt]:
    """Take the acknowledgements a push publisher dropped in ``acks/`` on its SFTP server
    (see ``exporters.delivery.collect_acks``), each checked as if posted."""
    if publisher.sftp is None:
        return []
    client_key = await asyncio.to_thread(ensure_sftp_client_key, keys_dir)
    receipts: list[AckReceipt] = []

    async def handle(name: str, body: bytes) -> str | None:
        try:
            signed = json.loads(body)
            sequence = int(signed["ack"]["sequence"])
        except (ValueError, KeyError, TypeError):
            return "not an acknowledgement (docs/feed-format.md)"
        run = await runs.get(publisher.id, sequence)
        if run is None or run.folder is None:
            return f"no published feed {sequence}"
        received = ReceivedAck(publisher.id, run.folder, signed)
        try:
            receipts.append(
                await receive_ack(
                    publishers=publishers,
                    runs=runs,
                    acks=acks,
                    feeds_dir=feeds_dir,
                    received=received,
                )
            )
        except (AckRejected, NotFound) as exc:
            return str(exc)
        return None

    await collect_acks(publisher.sftp, client_key, handle)
    return receipts
