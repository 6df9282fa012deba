"""``directory-svc migrate``: bring the database's stored format to this code's.

Runs, in order, each migration above the database's version (``storage.migrations``),
under the migration lock, recording each one as it completes: killed, run again, it resumes
at the migration it was in (each is idempotent). ``dry_run`` counts what each would change
and writes nothing. Reports counts only, never values.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from directory_svc.storage.migrations import MIGRATIONS, SCHEMA_VERSION, Migration
from directory_svc.storage.migrations.context import MigrationContext
from directory_svc.storage.schema import SchemaMismatch, SchemaVersions
from directory_svc.storage.setup import Storage

log = logging.getLogger(__name__)


@dataclass
class MigrationReport:
    """What a run did: the version before and after, and each migration's counts."""

    before: int
    after: int
    done: list[tuple[Migration, Counter[str]]] = field(default_factory=list)


class Reporter(Protocol):
    """Where a run says how far it got (the CLI prints it; the log gets each line)."""

    def start(self, migration: Migration) -> None:
        """A migration begins."""

    def advance(self, n: int) -> None:
        """``n`` more documents of the current migration are done."""

    def finish(self, migration: Migration, counts: Counter[str]) -> None:
        """A migration completed with these counts."""


class _Silent:
    def start(self, migration: Migration) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self, migration: Migration, counts: Counter[str]) -> None:
        pass


async def migrate(
    storage: Storage,
    *,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    batch: int = 500,
    migrations: tuple[Migration, ...] = MIGRATIONS,
) -> MigrationReport:
    """Run the migrations the database needs (see the module docstring)."""
    reporter = reporter or _Silent()
    db = storage.db
    versions = SchemaVersions(db)
    found = await versions.version()
    if found is None:  # a new database: nothing to migrate
        if not dry_run:
            await versions.stamp(SCHEMA_VERSION)
        return MigrationReport(SCHEMA_VERSION, SCHEMA_VERSION)
    if found > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"the database's stored format is version {found}, newer than this code's "
            f"({SCHEMA_VERSION}): nothing was changed"
        )
    report = MigrationReport(found, found)
    owner = None if dry_run else await versions.lock()
    try:
        for migration in migrations:
            if migration.number <= found:
                continue
            reporter.start(migration)
            log.info("migration started", extra={"migration": migration.number})
            ctx = MigrationContext(
                db=db,
                listings=storage.listings,
                ledger=storage.ledger,
                dry_run=dry_run,
                batch=batch,
                progress=reporter.advance,
            )
            counts = await migration.run(ctx)
            if not dry_run:
                await versions.advance(migration.number, migration.name, counts)
                report.after = migration.number
            log.info(
                "migration done" if not dry_run else "migration counted",
                extra={"migration": migration.number, "counts": dict(counts)},
            )
            reporter.finish(migration, counts)
            report.done.append((migration, counts))
    finally:
        if owner is not None:
            await versions.unlock(owner)
    return report


def describe(counts: Counter[str]) -> str:
    """Counts as one line: ``3 listings changed, 4 mobile numbers unpublished``."""
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing to change"
