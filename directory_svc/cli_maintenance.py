"""Upgrades and key safety on the command line.

- ``keys rotate``, ``keys retire KID``, ``history verify``: key and history maintenance.
- ``migrate [--dry-run]``: bring the database's stored format to this release's
  (``services.migrate``), with progress, and counts of what changed.
- ``keys escrow --recipient AGE_RECIPIENT [--recipient …] --out FILE``: the key directory
  sealed to one or more officers' age keys (offline copies); no database.
- ``keys restore FILE --identity AGE_KEY_FILE``: the key directory back from an escrow
  file, on a new machine; no database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from directory_svc.cli_output import fail, progress
from directory_svc.config import Settings

if TYPE_CHECKING:
    from directory_svc.storage.migrations import Migration
    from directory_svc.storage.setup import Storage


def add_parsers(sub: Any, keys: Any) -> None:
    """``migrate`` beside the other commands, ``escrow`` and ``restore`` under ``keys``."""
    migrate = sub.add_parser("migrate", help="bring the database's stored format to this one")
    migrate.add_argument(
        "--dry-run",
        action="store_true",
        help="count what each migration would change; write nothing",
    )
    escrow = keys.add_parser("escrow", help="seal the key directory to officers' age keys")
    escrow.add_argument(
        "--recipient",
        action="append",
        required=True,
        help="an officer's age recipient (age1…); repeat for several officers",
    )
    escrow.add_argument("--out", type=Path, required=True, help="the escrow file to write")
    restore = keys.add_parser("restore", help="bring the key directory back from an escrow file")
    restore.add_argument("file", type=Path, help="an escrow file written by keys escrow")
    restore.add_argument(
        "--identity", type=Path, required=True, help="an officer's age identity file"
    )


def rotate(keys_dir: Path) -> Callable[[Storage], Awaitable[int]]:
    """``keys rotate``: a new active data key; every listing re-encrypted under it."""

    async def work(storage: Storage) -> int:
        from directory_svc.services.maintenance import rotate_keys

        kid, count = await rotate_keys(storage.listings, keys_dir, progress("re-encrypting"))
        print(file=sys.stderr)
        print(f"new active key {kid}; re-encrypted {count} listings")
        return 0

    return work


def retire(keys_dir: Path, kid: str) -> Callable[[Storage], Awaitable[int]]:
    """``keys retire KID``: delete a data key nothing uses any more."""

    async def work(storage: Storage) -> int:
        from directory_svc.services.maintenance import retire_key

        await retire_key(storage.listings, keys_dir, kid)
        print(f"retired key {kid}")
        return 0

    return work


async def verify(storage: Storage) -> int:
    """``history verify``: every listing's history chain; exit 1 when one is broken."""
    from directory_svc.services.maintenance import verify_history

    broken = await verify_history(storage.listings)
    for listing_id, problem in broken:
        print(f"broken history: listing {listing_id}: {problem}")
    total = await storage.listings.count()
    print(f"verified {total} listings: {len(broken)} broken")
    return 1 if broken else 0


def run_keys(args: argparse.Namespace, keys_dir: Path) -> int:
    """``keys escrow`` and ``keys restore`` (no database, no other setting)."""
    from directory_svc.storage.escrow import EscrowError, restore_keys, seal_keys

    try:
        if args.action == "escrow":
            count = seal_keys(keys_dir, args.recipient, args.out)
            print(
                f"sealed {count} key files of {keys_dir} to {len(args.recipient)} "
                f"recipient(s) in {args.out}"
            )
            return 0
        count = restore_keys(args.file, args.identity, keys_dir)
    except EscrowError as exc:
        return fail(f"keys {args.action}: {exc}", 1)
    print(f"restored {count} key files into {keys_dir}")
    return 0


class _Progress:
    """Prints each migration, a running count, and what it changed."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.done = 0

    def start(self, migration: Migration) -> None:
        self.done = 0
        print(
            f"migration {migration.number} {migration.name}: {migration.summary}", file=sys.stderr
        )

    def advance(self, n: int) -> None:
        self.done += n
        print(f"\r  {self.done} documents", end="", file=sys.stderr, flush=True)

    def finish(self, migration: Migration, counts: Counter[str]) -> None:
        from directory_svc.services.migrate import describe

        if self.done:
            print(file=sys.stderr)
        verb = "would change" if self.dry_run else "changed"
        print(f"migration {migration.number} {migration.name} {verb}: {describe(counts)}")


async def _migrate(settings: Settings, dry_run: bool) -> int:
    from directory_svc.services.migrate import migrate
    from directory_svc.storage.migrations import SCHEMA_VERSION
    from directory_svc.storage.setup import open_storage

    storage = await open_storage(settings, indexes=False, schema=False)
    try:
        report = await migrate(storage, dry_run=dry_run, reporter=_Progress(dry_run))
        if not dry_run:
            await storage.ensure_indexes(deadline_s=settings.index_timeout_s)
    finally:
        await storage.close()
    if dry_run:
        pending = SCHEMA_VERSION - report.before
        print(f"stored format {report.before}; {pending} migrations to run (nothing written)")
    elif report.before == report.after and not report.done:
        print(f"stored format {report.after}: up to date")
    else:
        print(f"stored format {report.before} -> {report.after}")
    return 0


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """``migrate [--dry-run]``."""
    from directory_svc.storage.schema import MigrationRunning

    try:
        return asyncio.run(_migrate(settings, args.dry_run))
    except MigrationRunning as exc:
        return fail(f"migrate: {exc}", 1)
