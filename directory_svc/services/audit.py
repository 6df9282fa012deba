"""``directory-svc audit listing``: a self-verifiable bundle for a subscriber or a regulator.

The bundle says, for one listing: its choices now and their provenance, every change of
its history with the chain hashes, and for each publisher what the projection gives it,
the last feed that carried the entry, and the publisher's last acknowledgement of a feed
applied, with the publisher's own signature and public key. The operator signs the bundle
(Ed25519, the key that signs feed manifests): ``openssl pkeyutl -verify -pubin -inkey
signing.pub -rawin -in BUNDLE -sigfile BUNDLE.sig`` checks it (docs/feed-format.md).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from directory_svc import clock
from directory_svc.domain.access import AccessRecord, Principal
from directory_svc.domain.history import HistoryEntry
from directory_svc.services.dependencies import Services
from directory_svc.services.listings import get_listing
from directory_svc.services.support import PublisherView, explanation_of
from exporters.manifest import canonical

AUDIT_FORMAT = "directory-svc/audit/1"


def _when(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _entry(e: HistoryEntry) -> dict[str, Any]:
    p = e.provenance
    return {
        "seq": e.seq,
        "change_id": e.change_id,
        "at": _when(e.at),
        "by": p.actor.value,
        "channel": p.channel.value,
        "notice": p.notice_version,
        "reason": e.reason,
        "attested": e.attested,
        "before": e.before,
        "after": e.after,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _publisher(view: PublisherView) -> dict[str, Any]:
    ack = view.acknowledged
    acknowledgement = None
    if ack is not None:
        signed = dict(ack.signed)
        body = signed.get("ack")
        acknowledgement = {
            "sequence": ack.sequence,
            "status": ack.status.value,
            "received_at": _when(ack.received_at),
            "holds_current_state": view.covers_current,
            "ack_canonical_b64": base64.b64encode(canonical(body)).decode()
            if isinstance(body, dict)
            else None,
            "signature_b64": signed.get("signature"),
            "publisher_key_pem": view.publisher.ack_key,
        }
    return {
        "publisher": view.publisher.id,
        "kind": view.publisher.profile.kind.value,
        "included": view.projection.record is not None,
        "reasons": [
            {"code": r.code.value, "choice": r.choice, "applied": r.applied}
            for r in view.projection.reasons
        ],
        "last_sent_sequence": view.last_sent_sequence,
        "acknowledgement": acknowledgement,
    }


async def audit_listing(
    services: Services, *, listing_id: str, who: Principal, purpose: str
) -> bytes:
    """The bundle's canonical JSON bytes (what the operator signs); logged as an access."""
    listing = await get_listing(services.listings, listing_id)
    at = clock.now()
    await services.access_log.record(
        [
            AccessRecord(
                at, who.subject, who.role.value, "audit", purpose, listing.id, listing.account_id
            )
        ]
    )
    explained = await explanation_of(services, listing)
    c, p = listing.choices, listing.provenance
    bundle = {
        "format": AUDIT_FORMAT,
        "generated_at": at.isoformat(),
        "listing": listing.id,
        "status": listing.status.value,
        "version": listing.version,
        "choices": {
            **asdict(c),
            "by": p.actor.value,
            "channel": p.channel.value,
            "at": _when(p.at),
            "notice": p.notice_version,
        },
        "history": [_entry(e) for e in explained.history],
        "publishers": [_publisher(v) for v in explained.publishers],
    }
    return canonical(json.loads(json.dumps(bundle, default=str)))
