"""Who is calling: the authenticated principal and its role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """Roles carried by tokens from the operator's identity provider."""

    CUSTOMER = "customer"
    SUPPORT = "support"
    PUBLISHER = "publisher"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller; a customer is bound to one account, a publisher to itself."""

    subject: str
    role: Role
    account_id: str | None = None
    publisher_id: str | None = None


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """Who read what, when, through which operation, for which purpose."""

    at: datetime
    agent: str
    role: str
    operation: str
    purpose: str
    listing_id: str | None = None
    account_id: str | None = None
    flagged: bool = False
