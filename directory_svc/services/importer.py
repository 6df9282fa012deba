"""Import of listings from the operator's CRM (rows read by ``services.import_rows``).

Choices belong to the subscriber. A row creates a listing with its choices (or the line
type's defaults), and afterwards updates only what the CRM owns: identity, address, the
set of numbers, profession and the other listing texts. It never changes a recorded choice
unless it carries ``choices_at`` newer than the listing's last choice, never re-activates a
terminated line (``status`` only ever terminates), and keeps the subscriber's shown numbers,
consents and extra users. A row identical to the one last imported changes nothing; a row
whose merge with the stored listing is not a valid listing (listed, while the subscriber
hides every number) is rejected with the reason and changes nothing.
Every row's outcome is counted, and what a row could not change is noted with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from directory_svc import clock
from directory_svc.domain.accounts import Account, InformationRecord
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.errors import DomainError, ValidationError, VersionConflict
from directory_svc.domain.history import Change, listing_values
from directory_svc.domain.listings import LineNumber, Listing, Status
from directory_svc.services.import_rows import COLUMNS, ImportedRow, read_rows, row_to_listing
from directory_svc.services.import_text import file_text
from directory_svc.services.listings import prepared
from directory_svc.storage.accounts import AccountRepository
from directory_svc.storage.listings import ListingRepository

__all__ = ["COLUMNS", "ImportReport", "import_file"]

BATCH = 500
ATTEMPTS = 5


@dataclass
class ImportReport:
    """What an import did; ``rejected`` and ``notes`` hold ``(line number, text)``.

    ``choice_changes`` counts listings whose R10 choices the import changed (created
    listings excepted); ``notes`` says, per row, what the row could not change and why.
    """

    created: int = 0
    changed: int = 0
    unchanged: int = 0
    choice_changes: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)
    encoding: str = "UTF-8"
    """How the file was read."""


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    row: ImportedRow
    listing: Listing


def merged(current: Listing, row: ImportedRow, source: str) -> tuple[Listing, list[str]]:
    """What ``row`` makes of the stored ``current`` listing, and what it had to keep.

    Pure: the rules of the module docstring.
    """
    incoming = row.listing
    kept: list[str] = []
    if current.status is Status.TERMINATED:
        return current, ["status: the line is terminated"]
    numbers = _numbers(current.numbers, incoming.numbers)
    choices, provenance = current.choices, current.provenance
    if row.choices_at is not None and row.choices_at > current.provenance.at:
        choices, provenance = incoming.choices, incoming.provenance
    elif incoming.choices != current.choices:
        p = current.provenance
        kept.append(f"choices: recorded by {p.actor.value} on {p.at.date().isoformat()}")
    result = replace(
        current,
        kind=incoming.kind,
        civility=incoming.civility,
        surname=incoming.surname,
        first_name=incoming.first_name,
        business_names=incoming.business_names,
        address=incoming.address,
        numbers=numbers,
        profession=incoming.profession,
        mention=incoming.mention,
        email=incoming.email,
        category=incoming.category,
        consumer_facing=incoming.consumer_facing,
        choices=choices,
        provenance=provenance,
        status=Status.TERMINATED if row.terminate else current.status,
        source=source,
    )
    return result, kept


def _numbers(
    current: tuple[LineNumber, ...], incoming: tuple[LineNumber, ...]
) -> tuple[LineNumber, ...]:
    """The CRM's numbers; those already on the line keep whether the subscriber shows them
    and their consent (a consent reference the row brings is added, never removed)."""
    before = {n.e164: n for n in current}
    out = []
    for n in incoming:
        old = before.get(n.e164)
        if old is None:
            out.append(n)
        else:
            out.append(replace(old, line_type=n.line_type, consent=old.consent or n.consent))
    return tuple(out)


async def import_file(
    repo: ListingRepository,
    accounts: AccountRepository,
    name: str,
    raw: bytes,
    progress: Callable[[int], None] | None = None,
    encoding: str | None = None,
) -> ImportReport:
    """Import every valid row of file ``name`` (content ``raw``, in ``encoding`` or as
    ``services.import_text`` finds); see the module docstring. ``UnreadableFile`` when
    the file cannot be read at all (nothing imported)."""
    read = file_text(name, raw, encoding)
    report = ImportReport(encoding=read.encoding)
    at = clock.now().replace(microsecond=0)
    change = Change(
        f"import:{at.isoformat()}", Provenance(Actor.IMPORT, Channel.IMPORT, at, "import")
    )
    batch: list[_Row] = []
    seen: set[str] = set()
    for number, row in read_rows(name, read.text):
        try:
            if isinstance(row, ValidationError):
                raise row
            imported = row_to_listing(row, at)
            listing = prepared(imported.listing)
            if listing.id in seen:
                raise ValidationError("id", "duplicate", "appears twice in the file")
            seen.add(listing.id)
        except DomainError as exc:
            report.rejected.append((number, str(exc)))
            continue
        source = repo.codec.cipher.blind_index("src", imported.content)
        batch.append(_Row(number, imported, replace(listing, source=source)))
        if len(batch) == BATCH:
            await _store(repo, accounts, batch, change, report)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        await _store(repo, accounts, batch, change, report)
        if progress:
            progress(len(batch))
    report.notes.sort()
    return report


def _account_of(listing: Listing) -> Account:
    """The account a row belongs to; its notice version says which rights notice it was given."""
    p = listing.provenance
    informed = (
        ()
        if p.notice_version == "unknown"
        else (InformationRecord(p.at, Channel.IMPORT, p.notice_version),)
    )
    return Account(listing.account_id, listing.kind, informed)


async def _store(
    repo: ListingRepository,
    accounts: AccountRepository,
    batch: list[_Row],
    change: Change,
    report: ImportReport,
) -> None:
    await accounts.create_missing([_account_of(item.listing) for item in batch])
    existing = {item.id: item for item in await repo.get_many([b.listing.id for b in batch])}
    new = [item.listing for item in batch if item.listing.id not in existing]
    report.created += await repo.insert_new(new, change)
    for item in batch:
        current = existing.get(item.listing.id)
        if current is not None:
            await _update(repo, item, current, change, report)


async def _update(
    repo: ListingRepository, item: _Row, current: Listing, change: Change, report: ImportReport
) -> None:
    """Apply one row to a stored listing (re-read and re-merged if it moves meanwhile)."""
    row_change = replace(change, change_id=f"{change.change_id}:{current.id}")
    for _ in range(ATTEMPTS):
        if current.source == item.listing.source and current.status is not Status.TERMINATED:
            report.unchanged += 1
            return
        target, kept = merged(current, item.row, item.listing.source or "")
        report.notes.extend((item.line, f"kept: {note}") for note in kept)
        if listing_values(target) == listing_values(current):
            report.unchanged += 1
            await repo.note_source(current.id, item.listing.source or "")
            return
        try:
            ready = prepared(target)
        except DomainError as exc:  # e.g. listed, while the subscriber hides every number
            report.notes = [n for n in report.notes if n[0] != item.line]
            report.rejected.append((item.line, str(exc)))
            return
        try:
            await repo.apply(current.version, ready, row_change)
        except VersionConflict as exc:
            if not isinstance(exc.current, Listing):
                raise
            current = exc.current
            report.notes = [n for n in report.notes if n[0] != item.line]
            continue
        report.changed += 1
        report.choice_changes += target.choices != current.choices
        return
    raise VersionConflict(current)
