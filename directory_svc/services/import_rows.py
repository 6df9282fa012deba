"""Reading the operator's CRM files: rows of CSV (``;``-separated, header) or JSON Lines,
each turned into a listing plus what the row says about its own authority.

Nothing here touches the database; ``services.importer`` decides what a row may change.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from directory_svc.domain.choices import Actor, Channel, Choices, Consent, Provenance
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.listings import (
    Address,
    Civility,
    LineNumber,
    Listing,
    ListingKind,
    Status,
)
from directory_svc.domain.numbers import LineType, parse_french_number

CHOICE_COLUMNS = (
    "listed",
    "initial_only",
    "no_gender",
    "no_street",
    "no_reverse_lookup",
    "no_marketing",
)
COLUMNS = (
    "id",
    "account_id",
    "kind",
    "civility",
    "surname",
    "first_name",
    "business_names",
    "numbers",
    "street_number",
    "repetition",
    "street",
    "locality",
    "complement",
    "postcode",
    "insee_code",
    "commune",
    "profession",
    "mention",
    "email",
    "category",
    "consumer_facing",
    *CHOICE_COLUMNS,
    "mobile_consent_ref",
    "notice_version",
    "choices_at",
    "status",
)
REQUIRED = ("id", "account_id", "numbers", "postcode", "insee_code", "commune")
MAX_FIELD_CHARS = 1000  # every column is far shorter; the precise limits follow


@dataclass(frozen=True, slots=True)
class ImportedRow:
    """One valid row: the listing it describes and what the row itself asserts.

    ``choices_at`` is when the subscriber expressed the row's choices (column
    ``choices_at``), the only thing that lets a row change an existing listing's choices;
    ``terminate`` is the ``status`` column saying ``terminated``; ``content`` is the row's
    canonical text (the importer keeps a keyed digest: an unchanged row changes nothing).
    """

    listing: Listing
    choices_at: datetime | None
    terminate: bool
    content: str


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


def _numbers(row: dict[str, Any], at: datetime) -> tuple[LineNumber, ...]:
    """The row's numbers; a mobile number is shown only with its own consent reference.

    ``mobile_consent_ref`` holds one reference (for every mobile number of the row) or one
    per number, ``|``-separated in the order of ``numbers`` (empty for fixed numbers).
    """
    parts = [p.strip() for p in (_text(row, "numbers") or "").split("|") if p.strip()]
    parsed = [parse_french_number(n, field=f"numbers.{i}") for i, n in enumerate(parts)]
    if not parsed:
        raise ValidationError("numbers", "required", "is required")
    raw_refs = _text(row, "mobile_consent_ref")
    refs: list[str | None]
    if raw_refs is None:
        refs = [None] * len(parsed)
    elif "|" in raw_refs:
        refs = [r.strip() or None for r in raw_refs.split("|")]
        if len(refs) != len(parsed):
            raise ValidationError(
                "mobile_consent_ref", "count", "needs one reference per number, or only one"
            )
    else:
        refs = [raw_refs.strip()] * len(parsed)
    numbers = []
    for number, ref in zip(parsed, refs, strict=True):
        mobile = number.line_type is LineType.MOBILE
        consent = Consent(at, Channel.IMPORT, ref) if mobile and ref else None
        shown = not mobile or consent is not None
        numbers.append(LineNumber(number.e164, number.line_type, shown, consent))
    return tuple(numbers)


def _datetime(row: dict[str, Any], name: str) -> datetime | None:
    value = _text(row, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(name, "datetime", "must be an ISO 8601 date and time") from None
    if parsed.tzinfo is None:
        raise ValidationError(name, "timezone", "must say its time zone (…+01:00 or …Z)")
    return parsed


def row_content(row: dict[str, Any]) -> str:
    """The row's content as canonical text (column order and empty columns do not count)."""
    content = {k: v for k, v in sorted(row.items()) if v not in (None, "")}
    return json.dumps(content, ensure_ascii=False, sort_keys=True, default=str)


def row_to_listing(row: dict[str, Any], at: datetime) -> ImportedRow:
    """Read one import row; raises ``ValidationError`` naming the field."""
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
    numbers = _numbers(row, at)
    # Fixed numbers are listed unless the subscriber objects; mobiles only with consent.
    listed_by_default = any(n.published for n in numbers)
    if _flag(row, "listed", listed_by_default) and not listed_by_default:
        raise ValidationError(
            "mobile_consent_ref",
            "mobile_consent_required",
            "a mobile number is listed only with the subscriber's consent reference",
        )
    notice = _text(row, "notice_version") or "unknown"
    choices_at = _datetime(row, "choices_at")
    status = (_text(row, "status") or "active").strip().lower()
    if status not in (Status.ACTIVE.value, Status.TERMINATED.value):
        raise ValidationError("status", "enum", "must be active or terminated")
    try:
        kind = ListingKind(_text(row, "kind") or "residential")
    except ValueError:
        raise ValidationError("kind", "enum", "must be residential or professional") from None
    civility_raw = _text(row, "civility")
    try:
        civility = Civility(civility_raw) if civility_raw else None
    except ValueError:
        raise ValidationError("civility", "enum", "must be mme or m") from None
    listing = Listing(
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
            listed=_flag(row, "listed", listed_by_default),
            initial_only=_flag(row, "initial_only", False),
            no_gender=_flag(row, "no_gender", False),
            no_street=_flag(row, "no_street", False),
            no_reverse_lookup=_flag(row, "no_reverse_lookup", False),
            no_marketing=_flag(row, "no_marketing", False),
        ),
        provenance=Provenance(Actor.IMPORT, Channel.IMPORT, choices_at or at, notice),
        profession=_text(row, "profession"),
        mention=_text(row, "mention"),
        email=_text(row, "email"),
        category=_text(row, "category"),
        consumer_facing=_flag(row, "consumer_facing", False),
        status=Status(status),
    )
    return ImportedRow(listing, choices_at, status == Status.TERMINATED.value, row_content(row))


def read_rows(name: str, text: str) -> Iterator[tuple[int, dict[str, Any] | ValidationError]]:
    """``(line number, row or the error that makes it unreadable)`` for each row of a file.

    ``name`` chooses the format: ``.jsonl``/``.ndjson`` for JSON Lines, anything else CSV;
    ``text`` is the file's text (``services.import_text``).
    """
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
