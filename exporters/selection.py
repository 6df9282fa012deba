"""What goes into one feed: every listing (full) or what changed (delta), each projected.

The domain's projection decides each record; this module only selects the listings, keeps
homonymy groups whole, compares with the ledger and writes through the ``FeedWriter``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from directory_svc.domain.listings import Listing
from directory_svc.domain.projection import HomonymIndex, Projection, homonyms_in_list, project
from directory_svc.domain.publishers import Publisher
from directory_svc.storage.export_runs import ExportRuns
from directory_svc.storage.feeds import FeedLedger, SentEntry
from directory_svc.storage.listings import ListingRepository
from exporters.formats import FeedWriter, record_values


class Progress(Protocol):
    """Where a long export shows how far it got (the CLI draws a bar per step)."""

    def step(self, name: str, total: int | None) -> None:
        """A new step begins; ``total`` listings to go through, when known."""

    def advance(self, n: int) -> None:
        """``n`` more listings of the current step are done."""


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
    index = homonyms_in_list(members, publisher.profile)
    return index, members


def _reason(projection: Projection) -> str:
    return projection.reasons[0].code.value if projection.reasons else "excluded"


async def full_feed(
    ctx: ExportContext,
    publisher: Publisher,
    writer: FeedWriter,
    result: ExportResult,
    tmp: Path,
    progress: Progress | None,
) -> Callable[[], Any]:
    """Write every listing the publisher may see; returns the ledger commit to run once
    the feed is published."""
    # Listings whose homonym keys collide are projected last, once their whole group is
    # known: no second query for the groups (a full scan on FerretDB), and memory holds only
    # the colliding listings. Any other listing has no namesake: an empty index is exact.
    total = await ctx.listings.count() if progress else None
    if progress:
        progress.step("homonymy keys", total)
    initial_keys, name_keys = await ctx.listings.colliding_homonym_keys(
        progress.advance if progress else None
    )
    if progress:
        progress.step("records", total)
    codec = ctx.listings.codec
    no_namesake = HomonymIndex()
    deferred: list[tuple[Listing, str, str]] = []
    staging = tmp.parent / f".ledger-{result.folder.name}.jsonl"
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
                progress.advance(len(batch))
        homonyms = homonyms_in_list((i for i, _, _ in deferred), publisher.profile)
        for listing, hi, hn in deferred:
            emit(listing, hi, hn, homonyms)

    async def commit() -> None:
        with staging.open(encoding="utf-8") as stage:
            # Read as it is written to the ledger: memory does not grow with the feed.
            rows = (json.loads(line) for line in stage)
            sent = (SentEntry(e, digest, hi, hn, result.seq) for e, digest, hi, hn in rows)
            await ctx.ledger.replace_all(publisher.id, sent)
        staging.unlink()

    return commit


async def delta_feed(
    ctx: ExportContext,
    publisher: Publisher,
    writer: FeedWriter,
    result: ExportResult,
    since: datetime,
    progress: Progress | None,
) -> Callable[[], Any]:
    """Write what changed for the publisher since ``since``; returns the ledger commit."""
    # Few queries on purpose: on FerretDB (SQLite) every non-_id query scans the collection.
    if progress:
        progress.step("changed listings", None)
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
        progress.advance(len(candidates))

    async def commit() -> None:
        await ctx.ledger.apply(publisher.id, sent, deleted)

    return commit
