"""R10 choices of one listing, where they came from, and their defaults by line type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from directory_svc.domain.numbers import LineType


class Actor(StrEnum):
    """Who made a change."""

    SUBSCRIBER = "subscriber"
    SUPPORT = "support"
    IMPORT = "import"
    DEFAULT = "default"
    OPERATOR = "operator"
    """The operator's own tools (the command line), e.g. terminating a line."""


class Channel(StrEnum):
    """Through which channel a change or a consent came."""

    WEB = "web"
    PHONE = "phone"
    MAIL = "mail"
    SHOP = "shop"
    IMPORT = "import"
    SYSTEM = "system"
    MIGRATION = "migration"
    """An upgrade of the stored data (``directory-svc migrate``) made the change."""


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who, when, through which channel, and which notice version the subscriber saw."""

    actor: Actor
    channel: Channel
    at: datetime
    notice_version: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """A recorded consent (mobile listing, an extra user being listed)."""

    given_at: datetime
    channel: Channel
    reference: str


@dataclass(frozen=True, slots=True)
class Choices:
    """The six R10 choices of a listing (a mobile number's consent is held by the number)."""

    listed: bool
    initial_only: bool = False
    no_gender: bool = False
    no_street: bool = False
    no_reverse_lookup: bool = False
    no_marketing: bool = False

    @property
    def effective_no_marketing(self) -> bool:
        """Being unlisted implies the no-marketing choice (brief §2)."""
        return self.no_marketing or not self.listed


def default_choices(line_type: LineType) -> Choices:
    """Fixed lines are listed unless the subscriber objects; mobiles only with consent (L34)."""
    return Choices(listed=line_type is not LineType.MOBILE)
