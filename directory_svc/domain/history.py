"""Append-only history of a listing: who changed what, when, and the proof chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from directory_svc.domain.choices import Provenance
from directory_svc.domain.listings import Listing

JsonValue = Any


@dataclass(frozen=True, slots=True)
class Change:
    """What a caller asks: a change id (for idempotent retries) and where it comes from."""

    change_id: str
    provenance: Provenance
    reason: str | None = None
    attested: bool = False


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One applied change: the values before and after, chained to the previous entry."""

    seq: int
    change_id: str
    at: datetime
    provenance: Provenance
    reason: str | None
    attested: bool
    before: dict[str, JsonValue]
    after: dict[str, JsonValue]
    prev_hash: str
    hash: str


def listing_values(listing: Listing) -> dict[str, JsonValue]:
    """A flat, JSON-ready view of everything a change can touch (keys are stable)."""
    a, c = listing.address, listing.choices
    return {
        "kind": listing.kind.value,
        "status": listing.status.value,
        "civility": listing.civility.value if listing.civility else None,
        "surname": listing.surname,
        "first_name": listing.first_name,
        "business_names": list(listing.business_names),
        "address": [a.number, a.repetition, a.street, a.locality, a.complement],
        "postcode": a.postcode,
        "insee_code": a.insee_code,
        "commune": a.commune,
        "numbers": [
            f"{n.e164} {n.line_type.value} {int(n.published)}"
            + (f" consent:{n.consent.reference}" if n.consent else "")
            for n in listing.numbers
        ],
        "profession": listing.profession,
        "mention": listing.mention,
        "email": listing.email,
        "category": listing.category,
        "consumer_facing": listing.consumer_facing,
        "extra_users": [
            [u.surname, u.first_name, u.consent.reference if u.consent else None]
            for u in listing.extra_users
        ],
        "listed": c.listed,
        "initial_only": c.initial_only,
        "no_gender": c.no_gender,
        "no_street": c.no_street,
        "no_reverse_lookup": c.no_reverse_lookup,
        "no_marketing": c.no_marketing,
    }


def diff(
    before: Listing | None, after: Listing
) -> tuple[dict[str, JsonValue], dict[str, JsonValue]]:
    """The values that changed, before and after (everything is 'after' for a creation)."""
    new = listing_values(after)
    if before is None:
        return {}, new
    old = listing_values(before)
    changed = [k for k in new if old.get(k) != new[k]]
    return {k: old.get(k) for k in changed}, {k: new[k] for k in changed}


def chain_hash(
    key: bytes,
    prev_hash: str,
    seq: int,
    change: Change,
    at: datetime,
    before: dict[str, JsonValue],
    after: dict[str, JsonValue],
) -> str:
    """HMAC-SHA-256 over the previous hash and the entry's content (canonical JSON)."""
    p = change.provenance
    content = {
        "seq": seq,
        "change_id": change.change_id,
        "at": at.isoformat(timespec="milliseconds"),
        "actor": p.actor.value,
        "channel": p.channel.value,
        "notice": p.notice_version,
        "agent": p.agent_id,
        "reason": change.reason,
        "attested": change.attested,
        "before": before,
        "after": after,
    }
    payload = prev_hash + json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


GENESIS = "0" * 64


PERSONAL_KEYS = frozenset(
    {
        "civility",
        "surname",
        "first_name",
        "business_names",
        "address",
        "numbers",
        "email",
        "profession",
        "mention",
        "category",
        "extra_users",
    }
)
PURGED = "[purged]"


def redact_values(values: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """History values without personal data; choices, consents and provenance stay (proof)."""
    return {
        k: (PURGED if k in PERSONAL_KEYS and v not in (None, [], "") else v)
        for k, v in values.items()
    }
