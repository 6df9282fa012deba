"""Import of listings from the operator's CRM: CSV (``;``-separated, header) or JSON Lines.

Every row is validated; bad rows are reported with their line number and reason, good rows
are stored. Idempotent: a row whose listing already holds the same content changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from directory_svc.domain.accounts import Account, InformationRecord
from directory_svc.domain.choices import (
    Actor,
    Channel,
    Choices,
    Consent,
    Provenance,
    default_choices,
)
from directory_svc.domain.errors import DomainError, ValidationError
from directory_svc.domain.history import Change, listing_values
from directory_svc.domain.listings import Address, Civility, LineNumber, Listing, ListingKind
from directory_svc.domain.numbers import parse_french_number
from directory_svc.services.listings import check_listing
from directory_svc.storage.accounts import AccountRepository
from directory_svc.storage.listings import ListingRepository

COLUMNS = (
    "id", "account_id", "kind", "civility", "surname", "first_name", "business_names",
    "numbers", "street_number", "repetition", "street", "locality", "complement", "postcode",
    "insee_code", "commune", "profession", "mention", "email", "category", "consumer_facing",
    "listed", "initial_only", "no_gender", "no_street", "no_reverse_lookup", "no_marketing",
    "mobile_consent_ref", "notice_version",
)  # fmt: skip
REQUIRED = ("id", "account_id", "numbers", "postcode", "insee_code", "commune")
MAX_FIELD_CHARS = 1000  # every column is far shorter; the precise limits follow
BATCH = 500


@dataclass
class ImportReport:
    """What an import did; ``rejected`` holds ``(line number, reason)``."""

    created: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def _text(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(name, "type", "must be text")
    if any("\udc80" <= c <= "\udcff" for c in value):
        raise ValidationError(name, "encoding", "is not valid UTF-8")
    return value


def _flag(row: dict[str, Any], name: str, default: bool) -> bool:
    value = row.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "oui"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "non"):
        return False
    raise ValidationError(name, "boolean", "must be true or false")


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split("|") if part.strip())


def row_to_listing(row: dict[str, Any], at: datetime) -> Listing:
    """Build a listing from one import row; raises ``ValidationError`` naming the field."""
    unknown = [k for k in row if k not in COLUMNS]
    if unknown:
        name = str(unknown[0])[:40]
        raise ValidationError(name, "unknown_field", "is not an import column")
    for name, value in row.items():
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            raise ValidationError(name, "too_long", f"must be at most {MAX_FIELD_CHARS} characters")
    for name in REQUIRED:
        if _text(row, name) is None:
            raise ValidationError(name, "required", "is required")
    numbers = tuple(
        LineNumber(p.e164, p.line_type)
        for p in (
            parse_french_number(n, field=f"numbers.{i}")
            for i, n in enumerate(_split(_text(row, "numbers")))
        )
    )
    if not numbers:
        raise ValidationError("numbers", "required", "is required")
    defaults = default_choices(numbers[0].line_type)
    notice = _text(row, "notice_version") or "unknown"
    consent_ref = _text(row, "mobile_consent_ref")
    try:
        kind = ListingKind(_text(row, "kind") or "residential")
    except ValueError:
        raise ValidationError("kind", "enum", "must be residential or professional") from None
    civility_raw = _text(row, "civility")
    try:
        civility = Civility(civility_raw) if civility_raw else None
    except ValueError:
        raise ValidationError("civility", "enum", "must be mme or m") from None
    return Listing(
        id=_text(row, "id") or "",
        account_id=_text(row, "account_id") or "",
        kind=kind,
        civility=civility,
        surname=_text(row, "surname") or "",
        first_name=_text(row, "first_name") or "",
        business_names=_split(_text(row, "business_names")),
        address=Address(
            postcode=_text(row, "postcode") or "",
            insee_code=_text(row, "insee_code") or "",
            commune=_text(row, "commune") or "",
            number=_text(row, "street_number"),
            repetition=_text(row, "repetition"),
            street=_text(row, "street"),
            locality=_text(row, "locality"),
            complement=_text(row, "complement"),
        ),
        numbers=numbers,
        choices=Choices(
            listed=_flag(row, "listed", defaults.listed),
            initial_only=_flag(row, "initial_only", False),
            no_gender=_flag(row, "no_gender", False),
            no_street=_flag(row, "no_street", False),
            no_reverse_lookup=_flag(row, "no_reverse_lookup", False),
            no_marketing=_flag(row, "no_marketing", False),
            mobile_consent=Consent(at, Channel.IMPORT, consent_ref) if consent_ref else None,
        ),
        provenance=Provenance(Actor.IMPORT, Channel.IMPORT, at, notice),
        profession=_text(row, "profession"),
        mention=_text(row, "mention"),
        email=_text(row, "email"),
        category=_text(row, "category"),
        consumer_facing=_flag(row, "consumer_facing", False),
    )


def read_rows(name: str, raw: bytes) -> Iterator[tuple[int, dict[str, Any] | ValidationError]]:
    """``(line number, row or the error that makes it unreadable)`` for each row of a file.

    ``name`` chooses the format: ``.jsonl``/``.ndjson`` for JSON Lines, anything else CSV.
    """
    text = raw.decode("utf-8", errors="surrogateescape")
    if name.lower().endswith((".jsonl", ".ndjson", ".json")):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                yield number, ValidationError("row", "json", "is not a JSON object")
                continue
            if not isinstance(row, dict):
                yield number, ValidationError("row", "json", "is not a JSON object")
                continue
            yield number, row
        return
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
    unknown = [c for c in reader.fieldnames or [] if c not in COLUMNS]
    if unknown:
        yield 1, ValidationError(str(unknown[0])[:40], "unknown_column", "is not an import column")
        return
    for row in reader:
        number = reader.line_num
        if None in row:
            yield number, ValidationError("row", "columns", "has more fields than the header")
            continue
        yield number, dict(row)


async def import_file(
    repo: ListingRepository,
    accounts: AccountRepository,
    name: str,
    raw: bytes,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import every valid row of file ``name`` (content ``raw``); see the module docstring."""
    report = ImportReport()
    at = datetime.now(UTC).replace(microsecond=0)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    change = Change(f"import:{digest}", Provenance(Actor.IMPORT, Channel.IMPORT, at, "import"))
    batch: list[Listing] = []
    seen: set[str] = set()
    for number, row in read_rows(name, raw):
        try:
            if isinstance(row, ValidationError):
                raise row
            listing = row_to_listing(row, at)
            check_listing(listing)
            if listing.id in seen:
                raise ValidationError("id", "duplicate", "appears twice in the file")
            seen.add(listing.id)
        except DomainError as exc:
            report.rejected.append((number, str(exc)))
            continue
        batch.append(listing)
        if len(batch) == BATCH:
            await _store(repo, accounts, batch, change, report)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        await _store(repo, accounts, batch, change, report)
        if progress:
            progress(len(batch))
    return report


def _account_of(listing: Listing) -> Account:
    """The account a row belongs to; its notice version says which rights notice it was given."""
    p = listing.provenance
    informed = () if p.notice_version == "unknown" else (
        InformationRecord(p.at, Channel.IMPORT, p.notice_version),
    )  # fmt: skip
    return Account(listing.account_id, listing.kind, informed)


async def _store(
    repo: ListingRepository,
    accounts: AccountRepository,
    batch: list[Listing],
    change: Change,
    report: ImportReport,
) -> None:
    # The CRM's notice version says which rights notice the subscriber was given.
    await accounts.create_missing(
        [
            Account(
                item.account_id,
                item.kind,
                (
                    InformationRecord(
                        item.provenance.at, Channel.IMPORT, item.provenance.notice_version
                    ),
                )
                if item.provenance.notice_version != "unknown"
                else (),
            )
            for item in batch
        ]
    )
    existing = {item.id: item for item in await repo.get_many([b.id for b in batch])}
    new = [item for item in batch if item.id not in existing]
    report.created += await repo.insert_new(new, change)
    for item in batch:
        current = existing.get(item.id)
        if current is None:
            continue
        if listing_values(item) == listing_values(current):
            report.unchanged += 1
            continue
        row_change = replace(change, change_id=f"{change.change_id}:{item.id}")
        await repo.apply(current.version, item, row_change)
        report.changed += 1
