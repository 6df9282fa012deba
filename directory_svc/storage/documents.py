"""The one place that maps stored documents to domain objects and back.

Personal data (names, street part, numbers, e-mail, free texts, extra users, and the values
in history entries) is stored only as AES-256-GCM ciphertext bound to the record id.
Exact look-ups use HMAC blind indexes (``idx``). Geography and choices stay in clear: they
are what publishers' lists are selected on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from directory_svc import clock
from directory_svc.domain.choices import Actor, Channel, Choices, Consent, Provenance
from directory_svc.domain.history import Change, HistoryEntry
from directory_svc.domain.listings import (
    Address,
    Civility,
    ExtraUser,
    LineNumber,
    Listing,
    ListingKind,
    Status,
)
from directory_svc.domain.numbers import LineType
from directory_svc.domain.text import normalise_name
from directory_svc.storage.crypto import Cipher

Document = dict[str, Any]

PII = "pii"


def _consent(doc: Document | None) -> Consent | None:
    if doc is None:
        return None
    return Consent(doc["at"], Channel(doc["ch"]), doc["ref"])


def _consent_cells(consent: Consent | None) -> list[str | None]:
    if consent is None:
        return [None, None, None]
    return [consent.reference, _iso(consent.given_at), consent.channel.value]


def _numbers(cells: list[list[Any]], line_consent: Document | None) -> tuple[LineNumber, ...]:
    """Numbers as stored: ``[e164, type, published, consent ref, at, channel]``.

    Documents written before consent was held per number have three cells and the line's
    consent in ``choices.mobile_consent``: it was given for the main number only.
    """
    numbers = []
    for i, cell in enumerate(cells):
        e164, kind, published = cell[0], LineType(cell[1]), bool(cell[2])
        if len(cell) >= 6:
            ref, at, channel = cell[3], cell[4], cell[5]
            consent = Consent(datetime.fromisoformat(at), Channel(channel), ref) if ref else None
        else:
            consent = _consent(line_consent) if i == 0 and kind is LineType.MOBILE else None
        numbers.append(LineNumber(e164, kind, published, consent))
    return tuple(numbers)


def _prov_doc(p: Provenance) -> Document:
    return {
        "actor": p.actor.value,
        "ch": p.channel.value,
        "at": p.at,
        "notice": p.notice_version,
        "agent": p.agent_id,
    }


def _prov(doc: Document) -> Provenance:
    return Provenance(
        Actor(doc["actor"]), Channel(doc["ch"]), doc["at"], doc["notice"], doc.get("agent")
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def now_ms() -> datetime:
    """Now (the service's clock), truncated to the millisecond (what the database stores)."""
    now = clock.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class ListingCodec:
    """Encodes listings and history entries with one cipher (and its blind-index key)."""

    def __init__(self, cipher: Cipher) -> None:
        self.cipher = cipher

    def number_index(self, e164: str) -> str:
        """Blind index of a number (E.164)."""
        return self.cipher.blind_index("num", e164)

    def surname_index(self, surname: str) -> str:
        """Blind index of a normalised surname."""
        return self.cipher.blind_index("sn", normalise_name(surname))

    def homonym_keys(self, listing: Listing) -> tuple[str, str]:
        """Blind indexes of (commune, surname, initial) and (commune, surname, first name)."""
        code = listing.address.insee_code
        sn, first = normalise_name(listing.surname), normalise_name(listing.first_name)
        return (
            self.cipher.blind_index("hi", f"{code}|{sn}|{first[:1]}"),
            self.cipher.blind_index("hn", f"{code}|{sn}|{first}"),
        )

    def state(self, listing: Listing) -> Document:
        """Every stored field of the listing except ``_id`` and its history."""
        a, c = listing.address, listing.choices
        pii = {
            "s": listing.surname,
            "f": listing.first_name,
            "c": listing.civility.value if listing.civility else None,
            "b": list(listing.business_names),
            "a": [a.number, a.repetition, a.street, a.locality, a.complement],
            "n": [
                [n.e164, n.line_type.value, n.published, *_consent_cells(n.consent)]
                for n in listing.numbers
            ],
            "e": listing.email,
            "p": listing.profession,
            "m": listing.mention,
            "g": listing.category,
            "x": [
                [
                    u.surname,
                    u.first_name,
                    u.consent.reference if u.consent else None,
                    _iso(u.consent.given_at) if u.consent else None,
                    u.consent.channel.value if u.consent else None,
                ]
                for u in listing.extra_users
            ],
        }
        blob = self.cipher.encrypt(pii, listing.id, PII)
        initial_key, name_key = self.homonym_keys(listing)
        return {
            "acc": listing.account_id,
            "kind": listing.kind.value,
            "status": listing.status.value,
            "line_type": listing.line_type.value,
            "consumer_facing": listing.consumer_facing,
            "geo": {"postcode": a.postcode, "insee": a.insee_code, "commune": a.commune},
            "choices": {
                "listed": c.listed,
                "initial_only": c.initial_only,
                "no_gender": c.no_gender,
                "no_street": c.no_street,
                "no_reverse_lookup": c.no_reverse_lookup,
                "no_marketing": c.no_marketing,
            },
            "prov": _prov_doc(listing.provenance),
            "v": listing.version,
            "updated_at": listing.updated_at,
            "src": listing.source,
            "kid": Cipher.kid_of(blob),
            PII: blob,
            "idx": {
                "num": [self.number_index(n.e164) for n in listing.numbers],
                "sn": self.surname_index(listing.surname),
                "hi": initial_key,
                "hn": name_key,
            },
        }

    def listing(self, doc: Document) -> Listing:
        """Rebuild the domain listing from its document."""
        pii = self.cipher.decrypt(doc[PII], doc["_id"], PII)
        geo, c = doc["geo"], doc["choices"]
        number, repetition, street, locality, complement = pii["a"]
        return Listing(
            id=doc["_id"],
            account_id=doc["acc"],
            kind=ListingKind(doc["kind"]),
            surname=pii["s"],
            first_name=pii["f"],
            civility=Civility(pii["c"]) if pii["c"] else None,
            business_names=tuple(pii["b"]),
            address=Address(
                postcode=geo["postcode"],
                insee_code=geo["insee"],
                commune=geo["commune"],
                number=number,
                repetition=repetition,
                street=street,
                locality=locality,
                complement=complement,
            ),
            numbers=_numbers(pii["n"], c.get("mobile_consent")),
            choices=Choices(
                listed=c["listed"],
                initial_only=c["initial_only"],
                no_gender=c["no_gender"],
                no_street=c["no_street"],
                no_reverse_lookup=c["no_reverse_lookup"],
                no_marketing=c["no_marketing"],
            ),
            provenance=_prov(doc["prov"]),
            profession=pii["p"],
            mention=pii["m"],
            email=pii["e"],
            category=pii["g"],
            consumer_facing=doc["consumer_facing"],
            extra_users=tuple(
                ExtraUser(
                    s,
                    f,
                    Consent(datetime.fromisoformat(at), Channel(ch), ref) if ref else None,
                )
                for s, f, ref, at, ch in pii["x"]
            ),
            status=Status(doc["status"]),
            version=doc["v"],
            updated_at=doc["updated_at"],
            source=doc.get("src"),
            history_head=doc.get("head"),
        )

    def entry(self, listing_id: str, entry: HistoryEntry) -> Document:
        """A history entry as stored; the values before/after are encrypted."""
        values = {"before": entry.before, "after": entry.after, "reason": entry.reason}
        return {
            "seq": entry.seq,
            "change_id": entry.change_id,
            "at": entry.at,
            "prov": _prov_doc(entry.provenance),
            "attested": entry.attested,
            "diff": self.cipher.encrypt(values, listing_id, f"history:{entry.seq}"),
            "prev": entry.prev_hash,
            "hash": entry.hash,
        }

    def history_entry(self, listing_id: str, doc: Document) -> HistoryEntry:
        """Rebuild a history entry (decrypting its values)."""
        values = self.cipher.decrypt(doc["diff"], listing_id, f"history:{doc['seq']}")
        return HistoryEntry(
            seq=doc["seq"],
            change_id=doc["change_id"],
            at=doc["at"],
            provenance=_prov(doc["prov"]),
            reason=values["reason"],
            attested=doc["attested"],
            before=values["before"],
            after=values["after"],
            prev_hash=doc["prev"],
            hash=doc["hash"],
        )

    @staticmethod
    def change_of(entry: HistoryEntry) -> Change:
        """The change an entry recorded (to recompute its chain hash)."""
        return Change(entry.change_id, entry.provenance, entry.reason, entry.attested)
