"""What goes into one feed: every listing (full), what changed (delta), or, after a change
of the publisher's profile, every listing compared with what the publisher holds
(reconciliation), each projected.

The domain's projection decides each record; this module only selects the listings, keeps
homonymy groups whole, compares with the ledger, writes through the ``FeedWriter`` and
writes what the ledger must then record into the feed's journal.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from directory_svc.domain.exports import FeedKind
from directory_svc.domain.listings import Listing
from directory_svc.domain.projection import HomonymIndex, Projection, homonyms_in_list, project
from directory_svc.domain.publishers import Publisher
from directory_svc.storage.export_runs import ExportRuns
from directory_svc.storage.ledger import FeedLedger, LedgerHead
from directory_svc.storage.listings import ListingRepository
from exporters.digest import record_hash
from exporters.formats import FeedWriter, record_values
from exporters.journal import JournalWriter, SentRecord


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
    kind: FeedKind
    counts: Counter[str] = field(default_factory=Counter)
    delivered: list[str] = field(default_factory=list)
    delivery_error: str | None = None
    optouts: int = 0
    """Entries this feed carries because their subscriber opted out (issue 15)."""
    oldest_optout: datetime | None = None
    """When the oldest of those opt-outs was made."""

    def note_optout(self, at: datetime | None) -> None:
        """Count one opt-out this feed carries, made at ``at``."""
        if at is None:
            return
        self.optouts += 1
        if self.oldest_optout is None or at < self.oldest_optout:
            self.oldest_optout = at


OPT_OUT_REASONS = frozenset(
    {"unlisted", "terminated", "reverse_lookup_excluded", "mobile_without_consent"}
)
"""Why an entry leaves a list because of its subscriber (not the publisher's profile)."""


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


def _masks(projection: Projection) -> bool:
    """Whether the record carries one of the subscriber's masking or opposition choices."""
    record = projection.record
    if record is None:
        return False
    f = record.flags
    return f.initial_only or f.no_gender or f.no_street or f.no_reverse_lookup or f.no_marketing


def _reason(projection: Projection) -> str:
    return projection.reasons[0].code.value if projection.reasons else "excluded"


@dataclass(frozen=True, slots=True)
class Projected:
    """One listing of a whole-directory pass: its projection for the publisher, the
    record's flat values (``None`` when excluded) and its homonymy keys."""

    listing: Listing
    projection: Projection
    values: dict[str, Any] | None
    initial_key: str
    name_key: str


async def project_directory(
    listings: ListingRepository, publisher: Publisher, progress: Progress | None = None
) -> AsyncIterator[Projected]:
    """Every listing projected for ``publisher``: what a fresh full feed is made of.

    Listings whose homonym keys collide are projected last, once their whole group is
    known: no second query for the groups (a full scan on FerretDB), and memory holds only
    the colliding listings. Any other listing has no namesake: an empty index is exact.
    """
    total = await listings.count() if progress else None
    if progress:
        progress.step("homonymy keys", total)
    initial_keys, name_keys = await listings.colliding_homonym_keys(
        progress.advance if progress else None
    )
    if progress:
        progress.step("records", total)
    codec = listings.codec
    no_namesake = HomonymIndex()
    deferred: list[tuple[Listing, str, str]] = []

    def one(listing: Listing, hi: str, hn: str, homonyms: HomonymIndex) -> Projected:
        projection = project(listing, publisher.profile, homonyms)
        record = projection.record
        values = None if record is None else record_values(record, publisher.number_format)
        return Projected(listing, projection, values, hi, hn)

    async for batch in listings.stream():
        for listing in batch:
            hi, hn = codec.homonym_keys(listing)
            if hi in initial_keys or hn in name_keys:
                deferred.append((listing, hi, hn))
            else:
                yield one(listing, hi, hn, no_namesake)
        if progress:
            progress.advance(len(batch))
    homonyms = homonyms_in_list((i for i, _, _ in deferred), publisher.profile)
    for listing, hi, hn in deferred:
        yield one(listing, hi, hn, homonyms)


async def expected_records(
    listings: ListingRepository, publisher: Publisher
) -> AsyncIterator[dict[str, Any]]:
    """The records a fresh full feed would give ``publisher`` now (nothing is written)."""
    async for item in project_directory(listings, publisher):
        if item.values is not None:
            yield item.values


async def full_feed(
    ctx: ExportContext,
    publisher: Publisher,
    writer: FeedWriter,
    result: ExportResult,
    journal: JournalWriter,
    progress: Progress | None,
) -> None:
    """Write every listing the publisher may see; the journal replaces the ledger."""
    cols = writer.cols
    async for item in project_directory(ctx.listings, publisher, progress):
        if item.values is None:
            result.counts[f"excluded_{_reason(item.projection)}"] += 1
            continue
        writer.upsert(item.values)
        result.counts["upsert"] += 1
        digest = _digest(ctx.listings, item.values)
        journal.sent(
            item.listing.id, _sent(digest, item.initial_key, item.name_key, item.values, cols)
        )


async def reconcile_feed(
    ctx: ExportContext,
    publisher: Publisher,
    head: LedgerHead,
    writer: FeedWriter,
    result: ExportResult,
    journal: JournalWriter,
    progress: Progress | None,
) -> None:
    """A delta after a profile change: the whole directory projected again and compared
    with what the publisher holds, so that it ends with exactly a fresh full feed's
    records; the journal replaces the ledger."""
    cols = writer.cols
    held = await ctx.ledger.digests(publisher.id, head)
    async for item in project_directory(ctx.listings, publisher, progress):
        entry = item.listing.id
        if item.values is None:
            if held.pop(entry, None) is not None:
                _delete(writer, result, entry, _reason(item.projection), item.listing.updated_at)
            continue
        digest = _digest(ctx.listings, item.values)
        if held.pop(entry, None) != digest:
            writer.upsert(item.values)
            result.counts["upsert"] += 1
        journal.sent(entry, _sent(digest, item.initial_key, item.name_key, item.values, cols))
    for entry in sorted(held):  # held, but no longer a listing of the directory
        _delete(writer, result, entry, "profile_changed")


def _sent(
    digest: str, initial_key: str, name_key: str, values: dict[str, Any], cols: list[str]
) -> SentRecord:
    return SentRecord(digest, initial_key, name_key, record_hash(values, cols))


def _delete(
    writer: FeedWriter,
    result: ExportResult,
    entry: str,
    reason: str,
    changed_at: datetime | None = None,
) -> None:
    writer.delete(entry, reason)
    result.counts["delete"] += 1
    result.counts[f"delete_{reason}"] += 1
    if reason in OPT_OUT_REASONS:
        result.note_optout(changed_at)


async def delta_feed(
    ctx: ExportContext,
    publisher: Publisher,
    head: LedgerHead,
    writer: FeedWriter,
    result: ExportResult,
    since: datetime,
    journal: JournalWriter,
    progress: Progress | None,
) -> None:
    """Write what changed for the publisher since ``since``; the journal updates the
    ledger's current generation."""
    cols = writer.cols
    # Few queries on purpose: on FerretDB (SQLite) every non-_id query scans the collection.
    if progress:
        progress.step("changed listings", None)
    changed = {item.id: item for item in await ctx.listings.changed_since(since)}
    before = await ctx.ledger.get(publisher.id, list(changed), head)
    current = [ctx.listings.codec.homonym_keys(item) for item in changed.values()]
    initial_keys = sorted({hi for hi, _ in current} | {s.initial_key for s in before.values()})
    name_keys = sorted({hn for _, hn in current} | {s.name_key for s in before.values()})
    members: list[Listing] = []
    if initial_keys or name_keys:
        members = await ctx.listings.in_homonym_groups(initial_keys, name_keys)
    homonyms = homonyms_in_list(members, publisher.profile)
    candidates = {**changed, **{m.id: m for m in members}}
    others = [i for i in candidates if i not in before]
    sent_before = {**before, **(await ctx.ledger.get(publisher.id, others, head))}
    for listing in candidates.values():
        projection = project(listing, publisher.profile, homonyms)
        previous = sent_before.get(listing.id)
        if projection.record is None:
            if previous is not None:
                _delete(writer, result, listing.id, _reason(projection), listing.updated_at)
                journal.deleted(listing.id, previous.public)
            continue
        values = record_values(projection.record, publisher.number_format)
        digest = _digest(ctx.listings, values)
        if previous is None or previous.digest != digest:
            writer.upsert(values)
            result.counts["upsert"] += 1
            if listing.id in changed and _masks(projection):
                result.note_optout(listing.updated_at)  # a masking choice, carried again
            hi, hn = ctx.listings.codec.homonym_keys(listing)
            replaced = None if previous is None else previous.public
            journal.sent(listing.id, _sent(digest, hi, hn, values, cols), replaced)
    if progress:
        progress.advance(len(candidates))
