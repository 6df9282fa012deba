"""Publisher registry use cases and running an export (shared by the CLI and the scheduler)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pymongo
from croniter import croniter

from directory_svc.domain.communes import INSEE_CODE
from directory_svc.domain.errors import NotFound, ValidationError, VersionConflict
from directory_svc.domain.exports import ExportRun, RunOutcome
from directory_svc.domain.publishers import PUBLISHABLE_FIELDS, Publisher
from directory_svc.domain.text import check_text
from directory_svc.domain.validation import check_id
from directory_svc.storage.documents import now_ms
from directory_svc.storage.export_runs import ExportRuns
from directory_svc.storage.feeds import PublisherRepository
from directory_svc.storage.keys import SIGNING_KEY, ensure_sftp_client_key
from directory_svc.storage.setup import Storage
from exporters.acks import ack_public_key
from exporters.delivery import DeliveryFailed, push_sftp
from exporters.manifest import load_signing_key
from exporters.pipeline import run_export
from exporters.selection import ExportContext, ExportResult, Progress


def check_publisher(publisher: Publisher) -> None:
    """Every rule of a registration; ``ValidationError`` names the field."""
    prof = publisher.profile
    check_id("id", prof.id)
    check_text("legal_name", publisher.legal_name, 200, required=True)
    unknown = sorted(prof.fields - set(PUBLISHABLE_FIELDS))
    if unknown:
        raise ValidationError("fields", "unknown_field", f"unknown field {unknown[0][:40]!r}")
    for code in prof.scope.communes:
        if not INSEE_CODE.match(code):
            raise ValidationError("scope.communes", "insee_format", "holds a non-INSEE code")
    for dep in prof.scope.departements:
        if not (len(dep) in (2, 3) and dep.isalnum()):
            raise ValidationError("scope.departements", "format", "holds a non-département code")
    if not croniter.is_valid(publisher.schedule):
        raise ValidationError("schedule", "cron", "is not a cron expression")
    if publisher.sftp is not None:
        check_text("sftp.host", publisher.sftp.host, 253, required=True)
        check_text("sftp.host_key", publisher.sftp.host_key, 2000, required=True)
        if not 0 < publisher.sftp.port < 65536:
            raise ValidationError("sftp.port", "range", "must be 1–65535")
    if publisher.recipient is not None:
        import pyrage

        try:
            pyrage.x25519.Recipient.from_str(publisher.recipient)
        except Exception:
            raise ValidationError("recipient", "age", "is not an age recipient (age1…)") from None
    if publisher.ack_key is not None:
        try:
            ack_public_key(publisher.ack_key)
        except ValueError:
            raise ValidationError(
                "ack_key", "ed25519", "is not an Ed25519 public key (PEM)"
            ) from None


async def add_publisher(repo: PublisherRepository, publisher: Publisher) -> Publisher:
    """Register a publisher after validation."""
    check_publisher(publisher)
    await repo.create(publisher)
    return publisher


async def list_publishers(repo: PublisherRepository) -> list[Publisher]:
    """Every registered publisher."""
    return await repo.all()


async def export_runs(runs: ExportRuns, *, publisher_id: str, first: int) -> list[ExportRun]:
    """A publisher's latest export runs (1–100), newest first."""
    return await runs.list(publisher_id, limit=max(1, min(first, 100)))


async def get_publisher(repo: PublisherRepository, publisher_id: str) -> Publisher:
    """One publisher; ``NotFound`` when unknown."""
    found = await repo.get(publisher_id)
    if found is None:
        raise NotFound("publisher")
    return found


SAVE_ATTEMPTS = 5


async def may_act(repo: PublisherRepository, publisher_id: str | None) -> bool:
    """Whether a publisher's token may still be used: registered and not disabled."""
    if publisher_id is None:
        return False
    found = await repo.get(publisher_id)
    return found is not None and found.active


async def update_publisher(
    repo: PublisherRepository,
    publisher_id: str,
    expected_version: int | None,
    edit: Callable[[Publisher], Publisher],
) -> Publisher:
    """Apply ``edit`` to the registration if it is still at ``expected_version``.

    ``None`` is for edits that do not depend on what was read (disable, enable): they are
    re-applied to the latest version. Raises ``ValidationError`` (nothing stored),
    ``VersionConflict`` (with the current registration) or ``NotFound``.
    """
    for _ in range(SAVE_ATTEMPTS):
        current = await get_publisher(repo, publisher_id)
        if expected_version is not None and current.version != expected_version:
            raise VersionConflict(current, "publisher")
        edited = replace(edit(current), version=current.version)
        if edited.id != current.id:
            raise ValidationError("id", "immutable", "cannot be changed")
        check_publisher(edited)
        saved = await repo.save(edited)
        if saved is not None:
            return saved
        if expected_version is not None:
            raise VersionConflict(await get_publisher(repo, publisher_id), "publisher")
    raise VersionConflict(await get_publisher(repo, publisher_id), "publisher")


async def disable_publisher(repo: PublisherRepository, publisher_id: str) -> Publisher:
    """Stop exporting to a publisher (its registration and history stay)."""
    return await update_publisher(repo, publisher_id, None, lambda p: replace(p, active=False))


async def enable_publisher(repo: PublisherRepository, publisher_id: str) -> Publisher:
    """Export to a publisher again (from its next scheduled or manual run)."""
    return await update_publisher(repo, publisher_id, None, lambda p: replace(p, active=True))


EXPORT_DEADLINE_S = 6 * 3600
"""Longest an export may spend on the database (all its queries together)."""


async def export_now(
    storage: Storage,
    keys_dir: Path,
    publisher_id: str,
    out_dir: Path,
    full: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Run one export of ``publisher_id`` into ``out_dir`` now."""
    publisher = await get_publisher(storage.publishers, publisher_id)
    if not publisher.active:
        raise ValidationError("publisher", "inactive", "is disabled")
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    ctx = ExportContext(
        listings=storage.listings,
        ledger=storage.ledger,
        runs=storage.runs,
        signing_key=load_signing_key(keys_dir / SIGNING_KEY),
        out_dir=out_dir,
    )
    # An export's scans of a large directory outlast the request socket timeout (seconds on
    # FerretDB at 50,000 listings): the whole export gets one generous deadline instead.
    with pymongo.timeout(EXPORT_DEADLINE_S):
        result = await run_export(ctx, publisher, full=full, progress=progress)
    if publisher.sftp is not None:
        try:
            result.delivered = await deliver_pending(storage, keys_dir, publisher, out_dir)
        except DeliveryFailed as exc:
            result.delivery_error = str(exc)
    return result


async def deliver_pending(
    storage: Storage, keys_dir: Path, publisher: Publisher, out_dir: Path
) -> list[str]:
    """Push, in sequence order, every published feed the publisher has not received yet."""
    if publisher.sftp is None:
        return []
    client_key = await asyncio.to_thread(ensure_sftp_client_key, keys_dir)
    delivered = []
    for run in await storage.runs.undelivered(publisher.id):
        folder = out_dir / str(run.folder)
        await push_sftp(folder, publisher.sftp, client_key)
        await storage.runs.finish(publisher.id, run.seq, RunOutcome(delivered_at=now_ms()))
        delivered.append(folder.name)
    return delivered
