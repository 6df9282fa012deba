"""A publisher's report about a wrong entry, and its resolution by support."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ReportStatus(StrEnum):
    """A report is open until support closes it with a resolution."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class DataQuery:
    """One report about one entry."""

    id: str
    publisher_id: str
    entry_id: str
    message: str
    created_at: datetime
    status: ReportStatus = ReportStatus.OPEN
    resolution: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
