"""What a migration works with: the database, the repositories, and how to report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from directory_svc.storage.documents import Document
from directory_svc.storage.ledger import FeedLedger
from directory_svc.storage.listings import ListingRepository


@dataclass(frozen=True, slots=True)
class MigrationContext:
    """One run of one migration."""

    db: AsyncDatabase[Document]
    listings: ListingRepository
    ledger: FeedLedger
    dry_run: bool = False
    batch: int = 500
    progress: Callable[[int], None] = lambda _n: None
    """Told each batch's size as it is done (the CLI's progress bar, the log)."""
