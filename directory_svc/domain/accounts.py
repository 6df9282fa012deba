"""Subscriber accounts and the information duty (R10; ePrivacy directive art. 12)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from directory_svc.domain.choices import Channel
from directory_svc.domain.listings import ListingKind


@dataclass(frozen=True, slots=True)
class InformationRecord:
    """The subscriber was told about their directory rights: when, how, with which notice."""

    at: datetime
    channel: Channel
    notice_version: str


@dataclass(frozen=True, slots=True)
class Account:
    """A subscriber (residential or professional); its lines' listings carry its id."""

    id: str
    kind: ListingKind
    informed: tuple[InformationRecord, ...] = ()

    @property
    def last_informed(self) -> InformationRecord | None:
        """The latest information given, or ``None`` if the duty is not yet recorded."""
        return max(self.informed, key=lambda r: r.at) if self.informed else None
