"""Directory listings: one entry per line of a subscriber (R10-5: choices are per line)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from directory_svc.domain.choices import Choices, Consent, Provenance
from directory_svc.domain.numbers import LineType


class ListingKind(StrEnum):
    """Residential subscriber or professional (business) subscriber."""

    RESIDENTIAL = "residential"
    PROFESSIONAL = "professional"


class Civility(StrEnum):
    """Civility as printed; the no-gender choice removes it."""

    MADAME = "mme"
    MONSIEUR = "m"


class Status(StrEnum):
    """Whether the line is still in service."""

    ACTIVE = "active"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class Address:
    """A French address in BAN parts; the street part is number, index, street and locality."""

    postcode: str
    insee_code: str
    commune: str
    number: str | None = None
    repetition: str | None = None
    street: str | None = None
    locality: str | None = None
    complement: str | None = None

    @property
    def street_line(self) -> str | None:
        """``12 bis rue de la Paix``, or ``None`` without a street."""
        parts = [p for p in (self.number, self.repetition, self.street) if p]
        return " ".join(parts) if parts else None


@dataclass(frozen=True, slots=True)
class LineNumber:
    """A number of the line, whether the subscriber shows it, and (a mobile number) the
    subscriber's recorded consent to list it (L34: no consent, not published)."""

    e164: str
    line_type: LineType
    published: bool = True
    consent: Consent | None = None


@dataclass(frozen=True, slots=True)
class ExtraUser:
    """Another user of the line, listed at the subscriber's request with their own consent."""

    surname: str
    first_name: str
    consent: Consent | None


@dataclass(frozen=True, slots=True)
class Listing:
    """One directory entry for one line of a subscriber account."""

    id: str
    account_id: str
    kind: ListingKind
    surname: str
    first_name: str
    address: Address
    numbers: tuple[LineNumber, ...]
    choices: Choices
    provenance: Provenance
    civility: Civility | None = None
    business_names: tuple[str, ...] = ()
    profession: str | None = None
    mention: str | None = None
    email: str | None = None
    category: str | None = None
    consumer_facing: bool = False
    extra_users: tuple[ExtraUser, ...] = ()
    status: Status = Status.ACTIVE
    version: int = 0
    updated_at: datetime | None = field(default=None, compare=False)
    source: str | None = field(default=None, compare=False)
    """Keyed digest of the CRM row this listing was last imported from (None: no import)."""
    history_head: str | None = field(default=None, compare=False)
    """Hash of the last entry of its history chain, as read (None: not read from storage)."""

    @property
    def line_type(self) -> LineType:
        """The line's type: that of its first (main) number."""
        return self.numbers[0].line_type if self.numbers else LineType.OTHER

    @property
    def display_name(self) -> str:
        """The name as a directory shows it: business name, else ``SURNAME First name``."""
        if self.kind is ListingKind.PROFESSIONAL and self.business_names:
            return self.business_names[0]
        return f"{self.surname.upper()} {self.first_name}".strip()

    @property
    def published_numbers(self) -> tuple[str, ...]:
        """The E.164 numbers the subscriber chose to show."""
        return tuple(n.e164 for n in self.numbers if n.published)


def new_listing_id(now_ms: int | None = None, entropy: bytes | None = None) -> str:
    """A new listing id: 12 hex digits of milliseconds then 20 of randomness (sortable).

    Pass ``now_ms`` and ``entropy`` (10 bytes) to get deterministic ids, e.g. for demo data.
    """
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = secrets.token_bytes(10) if entropy is None else entropy
    return f"{ms:012x}{rand.hex()}"


def redact(listing: Listing) -> Listing:
    """The listing without personal data, as kept after the retention period of a
    terminated line: its choices, their provenance and the commune remain as proof."""
    return replace(
        listing,
        surname="",
        first_name="",
        civility=None,
        business_names=(),
        address=Address(
            postcode=listing.address.postcode,
            insee_code=listing.address.insee_code,
            commune=listing.address.commune,
        ),
        numbers=(),
        profession=None,
        mention=None,
        email=None,
        category=None,
        extra_users=(),
        source=None,
    )
