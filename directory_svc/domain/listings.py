"""Directory listings: who appears, where, with which number.

This first slice holds a handful of fields; the full R10 model (choices, extra users,
address parts, history) grows from here.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from directory_svc.domain.numbers import LineType


class ListingKind(StrEnum):
    """Residential subscriber or professional (business) subscriber."""

    RESIDENTIAL = "residential"
    PROFESSIONAL = "professional"


@dataclass(frozen=True, slots=True)
class Listing:
    """One directory entry for one line of a subscriber."""

    id: str
    kind: ListingKind
    surname: str
    first_name: str
    business_name: str | None
    postcode: str
    commune: str
    insee_code: str
    number: str
    line_type: LineType
    listed: bool
    version: int
    updated_at: datetime

    @property
    def display_name(self) -> str:
        """The name as a directory shows it: business name, else ``SURNAME First name``."""
        if self.kind is ListingKind.PROFESSIONAL and self.business_name:
            return self.business_name
        return f"{self.surname.upper()} {self.first_name}".strip()


def new_listing_id(now_ms: int | None = None, entropy: bytes | None = None) -> str:
    """A new listing id: 12 hex digits of milliseconds then 20 of randomness (sortable).

    Pass ``now_ms`` and ``entropy`` (10 bytes) to get deterministic ids, e.g. for demo data.
    """
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = secrets.token_bytes(10) if entropy is None else entropy
    return f"{ms:012x}{rand.hex()}"
