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
import logging
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo.errors import PyMongoError

from directory_svc.domain.errors import Busy
from directory_svc.domain.publishers import Publisher, feed_folder, is_feed_folder_of
from directory_svc.storage.documents import now_ms
from directory_svc.storage.export_runs import RUN_HEARTBEAT, ExportRuns, this_process
from exporters.formats import FeedWriter, columns
from exporters.manifest import file_sha256, write_manifest
from exporters.selection import ExportContext, ExportResult, Progress, delta_feed, full_feed

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
        publisher.id, "full" if full else "delta", scan_started, this_process()
    )
    alive = asyncio.create_task(_keep_alive(ctx.runs, publisher.id, seq))
    try:
        # Read under the lease: no other run of this publisher can finish meanwhile.
        last = None if full else await ctx.runs.last_success(publisher.id)
        kind = "full" if last is None else "delta"
        if kind == "full" and not full:
            await ctx.runs.set_kind(publisher.id, seq, kind)  # a first delta is a full export
        return await _run(ctx, publisher, seq, kind, last, scan_started, progress)
    finally:
        alive.cancel()


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
    kind: str,
    last: dict[str, Any] | None,
    scan_started: datetime,
    progress: Progress | None,
) -> ExportResult:
    name = feed_folder(publisher.id, seq, kind)
    tmp = ctx.out_dir / f".partial-{name}"
    _remove_leftovers(ctx.out_dir, publisher.id)
    tmp.mkdir(parents=True)
    result = ExportResult(folder=ctx.out_dir / name, seq=seq, kind=kind)
    try:
        payload = tmp / f"feed.{publisher.feed_format.value}"
        writer = FeedWriter(payload, publisher.feed_format, columns(publisher.profile.fields))
        if kind == "full":
            staged = await full_feed(ctx, publisher, writer, result, tmp, progress)
        else:
            assert last is not None
            since = last["scan_started"] - DELTA_OVERLAP
            staged = await delta_feed(ctx, publisher, writer, result, since, progress)
        plain_sha = writer.close()
        delivered = _encrypt(payload, publisher.recipient)
        manifest = {
            "publisher": publisher.id,
            "legal_name": publisher.legal_name,
            "kind": publisher.profile.kind.value,
            "feed": kind,
            "sequence": seq,
            "period": {
                "from": None if last is None else last["scan_started"].isoformat(),
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
            "created_at": datetime.now(UTC).isoformat(),
        }
        write_manifest(tmp, manifest, ctx.signing_key)
        _fsync_dir(tmp)
        if not await ctx.runs.still_running(publisher.id, seq):
            raise Busy(f"another export of publisher {publisher.id}")  # ours was taken over
        os.replace(tmp, result.folder)  # visible all at once
        _fsync_dir(ctx.out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        await ctx.runs.finish(publisher.id, seq, {"status": "failed", "finished_at": now_ms()})
        raise
    await staged()
    await ctx.runs.finish(
        publisher.id,
        seq,
        {
            "status": "succeeded",
            "scan_started": scan_started,
            "finished_at": now_ms(),
            "counts": dict(result.counts),
            "folder": result.folder.name,
        },
    )
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
