"""One export run for one publisher: select, project through the domain, write, sign, publish.

Full feed: every listing, streamed in batches; the projection decides each record.
Delta: only listings written since the last successful run (minus a safety margin), plus the
members of their homonymy groups (a change can unmask a homonym); each projection is
compared with what the publisher was last sent (the ledger), so only real changes and
deletions are written. The ledger is updated only once the feed folder is published.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from directory_svc.domain.listings import Listing
from directory_svc.domain.projection import HomonymIndex, Projection, exclusion, project
from directory_svc.domain.publishers import Publisher
from directory_svc.storage.feeds import ExportRuns, FeedLedger, SentEntry
from directory_svc.storage.listings import ListingRepository, now_ms
from exporters.formats import FeedWriter, columns, record_values
from exporters.manifest import file_sha256, write_manifest

# A change is stamped before it is written; a write still in flight when a delta starts
# scanning is caught by the next delta thanks to this overlap (re-sent at worst, never lost).
DELTA_OVERLAP = timedelta(seconds=60)


@dataclass
class ExportResult:
    """What a run produced."""

    folder: Path
    seq: int
    kind: str
    counts: Counter[str] = field(default_factory=Counter)
    delivered: list[str] = field(default_factory=list)
    delivery_error: str | None = None


@dataclass(frozen=True, slots=True)
class ExportContext:
    """What a run needs from the process: repositories, the signing key, the output folder."""

    listings: ListingRepository
    ledger: FeedLedger
    runs: ExportRuns
    signing_key: Ed25519PrivateKey
    out_dir: Path


def _digest(listings: ListingRepository, values: dict[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return listings.codec.cipher.blind_index("feed", text)


async def _homonyms(
    listings: ListingRepository, publisher: Publisher, initial_keys: list[str], name_keys: list[str]
) -> tuple[HomonymIndex, list[Listing]]:
    members = await listings.in_homonym_groups(initial_keys, name_keys) if (
        initial_keys or name_keys
    ) else []  # fmt: skip
    index = HomonymIndex(m for m in members if exclusion(m, publisher.profile) is None)
    return index, members


def _reason(projection: Projection) -> str:
    return projection.reasons[0].code.value if projection.reasons else "excluded"


async def run_export(
    ctx: ExportContext,
    publisher: Publisher,
    full: bool,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Run one export now; returns the published folder (see the module docstring)."""
    last = None if full else await ctx.runs.last_success(publisher.id)
    kind = "full" if last is None else "delta"
    scan_started = now_ms()
    seq = await ctx.runs.start(publisher.id, kind, scan_started)
    name = f"{publisher.id}-{seq:06d}-{kind}"
    tmp = ctx.out_dir / f".partial-{name}"
    for stale in ctx.out_dir.glob(f".partial-{publisher.id}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a run that was killed
    tmp.mkdir(parents=True)
    result = ExportResult(folder=ctx.out_dir / name, seq=seq, kind=kind)
    try:
        payload = tmp / f"feed.{publisher.feed_format.value}"
        writer = FeedWriter(payload, publisher.feed_format, columns(publisher.profile.fields))
        if kind == "full":
            staged = await _full(ctx, publisher, writer, result, tmp, progress)
        else:
            assert last is not None
            since = last["scan_started"] - DELTA_OVERLAP
            staged = await _delta(ctx, publisher, writer, result, since, progress)
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


async def _full(
    ctx: ExportContext,
    publisher: Publisher,
    writer: FeedWriter,
    result: ExportResult,
    tmp: Path,
    progress: Callable[[int], None] | None,
) -> Callable[[], Any]:
    # Listings whose homonym keys collide are projected last, once their whole group is
    # known: no second query for the groups (a full scan on FerretDB), and memory holds only
    # the colliding listings. Any other listing has no namesake: an empty index is exact.
    initial_keys, name_keys = (set(keys) for keys in await ctx.listings.colliding_homonym_keys())
    codec = ctx.listings.codec
    no_namesake = HomonymIndex()
    deferred: list[tuple[Listing, str, str]] = []
    staging = tmp.parent / f".ledger-{publisher.id}-{result.seq}.jsonl"
    with staging.open("w", encoding="utf-8") as stage:

        def emit(listing: Listing, hi: str, hn: str, homonyms: HomonymIndex) -> None:
            projection = project(listing, publisher.profile, homonyms)
            if projection.record is None:
                result.counts[f"excluded_{_reason(projection)}"] += 1
                return
            values = record_values(projection.record, publisher.number_format)
            writer.upsert(values)
            result.counts["upsert"] += 1
            stage.write(json.dumps([listing.id, _digest(ctx.listings, values), hi, hn]) + "\n")

        async for batch in ctx.listings.stream():
            for listing in batch:
                hi, hn = codec.homonym_keys(listing)
                if hi in initial_keys or hn in name_keys:
                    deferred.append((listing, hi, hn))
                else:
                    emit(listing, hi, hn, no_namesake)
            if progress:
                progress(len(batch))
        same_list = (i for i, _, _ in deferred if exclusion(i, publisher.profile) is None)
        homonyms = HomonymIndex(same_list)
        for listing, hi, hn in deferred:
            emit(listing, hi, hn, homonyms)

    async def commit() -> None:
        sent = []
        with staging.open(encoding="utf-8") as stage:
            for line in stage:
                entry, digest, hi, hn = json.loads(line)
                sent.append(SentEntry(entry, digest, hi, hn, result.seq))
        await ctx.ledger.replace_all(publisher.id, sent)
        staging.unlink()

    return commit


async def _delta(
    ctx: ExportContext,
    publisher: Publisher,
    writer: FeedWriter,
    result: ExportResult,
    since: datetime,
    progress: Callable[[int], None] | None,
) -> Callable[[], Any]:
    # Few queries on purpose: on FerretDB (SQLite) every non-_id query scans the collection.
    changed = {item.id: item for item in await ctx.listings.changed_since(since)}
    before = await ctx.ledger.get(publisher.id, list(changed))
    current = [ctx.listings.codec.homonym_keys(item) for item in changed.values()]
    initial_keys = sorted({hi for hi, _ in current} | {s.initial_key for s in before.values()})
    name_keys = sorted({hn for _, hn in current} | {s.name_key for s in before.values()})
    homonyms, members = await _homonyms(ctx.listings, publisher, initial_keys, name_keys)
    candidates = {**changed, **{m.id: m for m in members}}
    others = [i for i in candidates if i not in before]
    sent_before = {**before, **(await ctx.ledger.get(publisher.id, others) if others else {})}
    sent: list[SentEntry] = []
    deleted: list[str] = []
    for listing in candidates.values():
        projection = project(listing, publisher.profile, homonyms)
        previous = sent_before.get(listing.id)
        if projection.record is None:
            if previous is not None:
                writer.delete(listing.id, _reason(projection))
                result.counts["delete"] += 1
                result.counts[f"delete_{_reason(projection)}"] += 1
                deleted.append(listing.id)
            continue
        values = record_values(projection.record, publisher.number_format)
        digest = _digest(ctx.listings, values)
        hi, hn = ctx.listings.codec.homonym_keys(listing)
        if previous is None or previous.digest != digest:
            writer.upsert(values)
            result.counts["upsert"] += 1
            sent.append(SentEntry(listing.id, digest, hi, hn, result.seq))
    if progress:
        progress(len(candidates))

    async def commit() -> None:
        await ctx.ledger.apply(publisher.id, sent, deleted)

    return commit
