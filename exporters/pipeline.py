"""One export run for one publisher: select, project through the domain, write, sign, publish.

Full feed: every listing, streamed in batches; the projection decides each record.
Delta: only listings written since the last successful run (minus a safety margin), plus the
members of their homonymy groups (a change can unmask a homonym); each projection is
compared with what the publisher was last sent (the ledger), so only real changes and
deletions are written. The ledger is updated only once the feed folder is published.
One export of a publisher runs at a time: the run document is the lease (``ExportRuns``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo.errors import PyMongoError

from directory_svc import clock
from directory_svc.domain.errors import Busy
from directory_svc.domain.exports import ExportRun, FeedKind, RunOutcome, RunStatus
from directory_svc.domain.projection import profile_fingerprint
from directory_svc.domain.publishers import Publisher, feed_folder, is_feed_folder_of
from directory_svc.storage.documents import now_ms
from directory_svc.storage.export_runs import RUN_HEARTBEAT, ExportRuns
from directory_svc.storage.ledger import LedgerHead
from directory_svc.storage.processes import this_process
from exporters.digest import copy_digest
from exporters.formats import FeedWriter, columns
from exporters.journal import JournalUnusable, JournalWriter, commit_journal, journal_path
from exporters.manifest import file_sha256, write_manifest
from exporters.selection import (
    ExportContext,
    ExportResult,
    Progress,
    delta_feed,
    full_feed,
    reconcile_feed,
)

log = logging.getLogger(__name__)

# A change is stamped before it is written; a write still in flight when a delta starts
# scanning is caught by the next delta thanks to this overlap (re-sent at worst, never lost).
DELTA_OVERLAP = timedelta(seconds=60)


async def run_export(
    ctx: ExportContext,
    publisher: Publisher,
    full: bool,
    progress: Progress | None = None,
) -> ExportResult:
    """Run one export now; returns the published folder (see the module docstring)."""
    scan_started = now_ms()
    seq = await ctx.runs.start(
        publisher.id, FeedKind.FULL if full else FeedKind.DELTA, scan_started, this_process()
    )
    alive = asyncio.create_task(_keep_alive(ctx.runs, publisher.id, seq))
    try:
        try:
            # Under the lease: no other run of this publisher can finish meanwhile.
            lost = await _recover(ctx, publisher.id)
            last = None if full or lost else await ctx.runs.last_success(publisher.id)
            head = await ctx.ledger.head(publisher.id)
        except BaseException:
            await ctx.runs.finish(publisher.id, seq, _failed())
            raise
        plan = _plan(publisher, last, head)
        if plan.kind is FeedKind.FULL and not full:
            await ctx.runs.set_kind(publisher.id, seq, plan.kind)  # a first delta is a full export
        return await _run(ctx, publisher, seq, plan, last, scan_started, progress)
    finally:
        alive.cancel()


async def _holds(ctx: ExportContext, publisher_id: str) -> str | None:
    """The digest of what the publisher holds now that the ledger recorded its last feed
    (``exporters.digest``), for its acknowledgement; None when unknown."""
    try:
        head = await ctx.ledger.head(publisher_id)
        if head is None or head.holds is not None:
            return None if head is None else head.holds
        # Kept by every feed since; computed once from the rows for a ledger from before.
        pairs = await ctx.ledger.public_hashes(publisher_id)
        if pairs is None:
            return None
        holds = copy_digest(pairs)
        await ctx.ledger.set_holds(publisher_id, head.sequence, holds)
    except PyMongoError:
        return None  # the acknowledgement will say "unverifiable"; the feed stands
    return holds


def _scanned(run: ExportRun) -> datetime:
    """When a successful run started reading the directory."""
    return run.scan_started or run.started_at


def _failed() -> RunOutcome:
    return RunOutcome(status=RunStatus.FAILED, finished_at=now_ms())


@dataclass(frozen=True, slots=True)
class _Plan:
    kind: FeedKind
    head: LedgerHead | None
    profile: str
    reconcile: bool = False


def _plan(publisher: Publisher, last: ExportRun | None, head: LedgerHead | None) -> _Plan:
    """Full when there is nothing to compare with; a reconciling delta when the
    publisher's copy was built with another profile (or other rules); else a delta."""
    profile = profile_fingerprint(publisher.profile, publisher.number_format.value)
    if last is None or head is None:
        return _Plan(FeedKind.FULL, head, profile)
    return _Plan(FeedKind.DELTA, head, profile, reconcile=head.profile != profile)


async def _recover(ctx: ExportContext, publisher_id: str) -> bool:
    """Commit the journal of every earlier run whose folder was published but whose
    ledger update did not happen; True when one cannot be committed (the next feed must
    then be a full one)."""
    lost = False
    for run in await ctx.runs.ledger_pending(publisher_id):
        name = str(run.folder)
        folder, journal = ctx.out_dir / name, journal_path(ctx.out_dir, name)
        outcome = RunOutcome(ledger_pending=False)
        unknown = False
        if not folder.is_dir():
            journal.unlink(missing_ok=True)  # never published
            if run.status in (RunStatus.RUNNING, RunStatus.PUBLISHED):
                outcome = replace(outcome, status=RunStatus.INTERRUPTED)
        elif journal.is_file():
            try:
                await commit_journal(journal, ctx.ledger, publisher_id)
            except JournalUnusable:
                unknown = True
            else:
                outcome = replace(
                    outcome,
                    status=RunStatus.SUCCEEDED,
                    scan_started=run.started_at,
                    recovered_at=now_ms(),
                    holds_digest=await _holds(ctx, publisher_id),
                )
        else:
            unknown = True  # published, but what it holds is unknown: resend everything
        if unknown:
            lost = True
            outcome = replace(outcome, status=RunStatus.PUBLISHED_UNRECORDED)
        status = outcome.status.value if outcome.status else None
        log.warning(
            "export run recovered",
            extra={"publisher": publisher_id, "seq": run.seq, "outcome": status},
        )
        await ctx.runs.finish(publisher_id, run.seq, outcome)
    return lost


async def _keep_alive(runs: ExportRuns, publisher_id: str, seq: int) -> None:
    """Beat the run's heartbeat until cancelled (a missed beat is only logged)."""
    while True:
        await asyncio.sleep(RUN_HEARTBEAT.total_seconds())
        try:
            await runs.beat(publisher_id, seq, now_ms())
        except PyMongoError as exc:
            log.warning("export heartbeat failed", extra={"error_type": type(exc).__name__})


async def _run(
    ctx: ExportContext,
    publisher: Publisher,
    seq: int,
    plan: _Plan,
    last: ExportRun | None,
    scan_started: datetime,
    progress: Progress | None,
) -> ExportResult:
    kind = plan.kind
    name = feed_folder(publisher.id, seq, kind)
    tmp = ctx.out_dir / f".partial-{name}"
    _remove_leftovers(ctx.out_dir, publisher.id)
    tmp.mkdir(parents=True)
    result = ExportResult(folder=ctx.out_dir / name, seq=seq, kind=kind)
    mode = "apply" if kind is FeedKind.DELTA and not plan.reconcile else "replace"
    journal: JournalWriter | None = None
    try:
        journal = JournalWriter(journal_path(ctx.out_dir, name), mode, seq, plan.profile)
        payload = tmp / f"feed.{publisher.feed_format.value}"
        writer = FeedWriter(payload, publisher.feed_format, columns(publisher.profile.fields))
        if kind is FeedKind.FULL:
            await full_feed(ctx, publisher, writer, result, journal, progress)
        elif plan.reconcile:
            assert plan.head is not None
            await reconcile_feed(ctx, publisher, plan.head, writer, result, journal, progress)
        else:
            assert last is not None
            assert plan.head is not None
            since = _scanned(last) - DELTA_OVERLAP
            await delta_feed(ctx, publisher, plan.head, writer, result, since, journal, progress)
        journal.close()
        plain_sha = writer.close()
        delivered = _encrypt(payload, publisher.recipient)
        manifest: dict[str, Any] = {
            "publisher": publisher.id,
            "legal_name": publisher.legal_name,
            "kind": publisher.profile.kind.value,
            "feed": kind.value,
            "sequence": seq,
            "period": {
                "from": None
                if last is None
                else (last.scan_started or last.started_at).isoformat(),
                "to": scan_started.isoformat(),
            },
            "counts": dict(sorted(result.counts.items())),
            "format": publisher.feed_format.value,
            "numbers": publisher.number_format.value,
            "payload": {
                "file": delivered.name,
                "sha256": file_sha256(delivered),
                "plaintext_sha256": plain_sha,
                "encrypted_to": publisher.recipient,
            },
            "created_at": clock.now().isoformat(),
        }
        if kind is FeedKind.DELTA and plan.head is not None:
            # The feed this delta changes: failed runs leave gaps in the sequence numbers.
            manifest["follows"] = plan.head.sequence
        if plan.reconcile:
            # The whole directory was compared with what the publisher holds.
            manifest["reconcile"] = "profile_changed"
        write_manifest(tmp, manifest, ctx.signing_key)
        _fsync_dir(tmp)
        if not await ctx.runs.publishing(publisher.id, seq, name):
            raise Busy(f"another export of publisher {publisher.id}")  # ours was taken over
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if journal is not None:
            journal.discard()
        await ctx.runs.finish(publisher.id, seq, _failed())
        raise
    os.replace(tmp, result.folder)  # visible all at once
    try:
        _fsync_dir(ctx.out_dir)
        await commit_journal(journal.path, ctx.ledger, publisher.id)
    except BaseException:
        # Published, not yet in the ledger: the next run of this publisher commits the
        # journal first (``_recover``). Free the lease for it, if the database lets us.
        with contextlib.suppress(PyMongoError):
            await ctx.runs.finish(publisher.id, seq, RunOutcome(status=RunStatus.PUBLISHED))
        raise
    done = RunOutcome(
        holds_digest=await _holds(ctx, publisher.id),
        status=RunStatus.SUCCEEDED,
        ledger_pending=False,
        scan_started=scan_started,
        finished_at=now_ms(),
        counts=dict(result.counts),
        folder=result.folder.name,
        optouts=result.optouts,
        oldest_optout_at=result.oldest_optout,
    )
    await ctx.runs.finish(publisher.id, seq, done)
    return result


def _remove_leftovers(out_dir: Path, publisher_id: str) -> None:
    """Remove what a killed run of this publisher left (none is alive: we hold the lease)."""
    for path in out_dir.iterdir():
        name = path.name
        if name.startswith(".partial-") and is_feed_folder_of(publisher_id, name[9:]):
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(".ledger-") and is_feed_folder_of(publisher_id, name[8:-6]):
            path.unlink(missing_ok=True)  # .ledger-<folder>.jsonl


def _encrypt(payload: Path, recipient: str | None) -> Path:
    if not recipient:
        return payload
    import pyrage

    target = payload.with_name(payload.name + ".age")
    pyrage.encrypt_file(str(payload), str(target), [pyrage.x25519.Recipient.from_str(recipient)])
    with target.open("rb") as f:
        os.fsync(f.fileno())
    payload.unlink()
    return target


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
