"""Ordered, idempotent, resumable migrations of the stored format.

Each migration brings every document of one kind from an older format to the current one,
selecting only what still needs it, a batch at a time: run twice, it changes nothing the
second time; killed in the middle, run again, it completes. ``services.migrate`` runs the
ones above the database's version and records each (``storage.schema``). A migration says
what it changed (or, with ``dry_run``, would change) in counts, never in values.

Every change to a stored format adds one here: ``SCHEMA_VERSION`` is their number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from directory_svc.storage.migrations.context import MigrationContext
from directory_svc.storage.migrations.documents import publisher_versions
from directory_svc.storage.migrations.ledger import (
    drop_single_ledger,
    entry_hashes,
    keyed_entry_hashes,
)
from directory_svc.storage.migrations.numbers import unconsented_mobiles


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the stored format."""

    number: int
    name: str
    summary: str
    run: Callable[[MigrationContext], Awaitable[Counter[str]]]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "publisher-versions",
        "publishers saved before registrations were versioned get version 1",
        publisher_versions,
    ),
    Migration(
        2,
        "ledger-by-generation",
        "the single feed_ledger collection becomes each publisher's generation and head "
        "(their next export is a reconciling delta), then is dropped",
        drop_single_ledger,
    ),
    Migration(
        3,
        "ledger-entry-hashes",
        "publishers whose ledger rows lack entry hashes reconcile at their next export, "
        "which computes every hash (acknowledgements verify again from then on)",
        entry_hashes,
    ),
    Migration(
        4,
        "ledger-entry-hashes-keyed",
        "ledger entry hashes are stored masked with a keyed pad (no longer a plain SHA-256 "
        "of a record that anyone with the database could confirm)",
        keyed_entry_hashes,
    ),
    Migration(
        5,
        "unconsented-mobile-numbers",
        "a published mobile number with no consent of its own is no longer published, "
        "with a history entry whose channel is 'migration'",
        unconsented_mobiles,
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "MigrationContext"]
