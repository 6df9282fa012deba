"""Feed file formats: CSV (UTF-8, ``;``, header, RFC 4180 quoting) and JSON Lines.

Both carry, for every record: the stable entry id, the action (``upsert`` or ``delete``),
the fields the publisher may receive, and the opposition flags. docs/feed-format.md
describes every column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import IO, Any

from directory_svc.domain.numbers import PhoneNumber, classify
from directory_svc.domain.projection import PublishedRecord
from directory_svc.domain.publishers import PUBLISHABLE_FIELDS, FeedFormat, NumberFormat
from directory_svc.domain.text import FORMULA_STARTS

FLAGS = ("no_marketing", "no_reverse_lookup", "initial_only", "no_gender", "no_street")


_NUMBERS = re.compile(r"\+\d{4,15}(?:\|\+\d{4,15})*")


def csv_cell(value: Any) -> str:
    """One CSV cell: booleans as ``true``/``false``, absent as empty, and a text that a
    spreadsheet would read as a formula prefixed with ``'`` (OWASP CSV injection). E.164
    numbers (``+33…``, ``|``-joined) are the one exception: digits only, never a formula."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBERS.fullmatch(text):
        return "'" + text
    return text


def columns(allowed: frozenset[str]) -> list[str]:
    """The columns of a publisher's feed, in a fixed order."""
    return [
        "entry_id",
        "action",
        *[f for f in PUBLISHABLE_FIELDS if f in allowed],
        *[f"flag_{f}" for f in FLAGS],
        "reason",
    ]


def _number(e164: str, style: NumberFormat) -> str:
    if style is NumberFormat.E164:
        return e164
    return PhoneNumber(e164, classify(e164)).national


def record_values(record: PublishedRecord, style: NumberFormat) -> dict[str, Any]:
    """A record as flat values: lists joined with ``|``, numbers in the publisher's style."""
    values: dict[str, Any] = {"entry_id": record.entry_id, "action": "upsert"}
    for name, value in record.fields.items():
        if name == "numbers" and isinstance(value, tuple):
            value = tuple(_number(n, style) for n in value)
        values[name] = "|".join(value) if isinstance(value, tuple) else value
    for flag in FLAGS:
        values[f"flag_{flag}"] = getattr(record.flags, flag)
    return values


class FeedWriter:
    """Writes one feed file and hashes it on the way (SHA-256 of the exact bytes)."""

    def __init__(self, path: Path, fmt: FeedFormat, cols: list[str]) -> None:
        self.path = path
        self.fmt = fmt
        self.cols = cols
        self.sha256 = hashlib.sha256()
        self.records = 0
        self._file: IO[bytes] = path.open("wb")
        if fmt is FeedFormat.CSV:
            self._emit(self._csv_line(cols))

    def _csv_line(self, row: list[Any]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerow(row)
        return buffer.getvalue().encode("utf-8")

    def _emit(self, data: bytes) -> None:
        self._file.write(data)
        self.sha256.update(data)

    def _write(self, values: dict[str, Any]) -> None:
        self.records += 1
        if self.fmt is FeedFormat.JSONL:
            line = json.dumps({c: values.get(c) for c in self.cols}, ensure_ascii=False)
            self._emit(line.encode("utf-8") + b"\n")
            return
        self._emit(self._csv_line([csv_cell(values.get(c)) for c in self.cols]))

    def upsert(self, values: dict[str, Any]) -> None:
        """One record the publisher adds or replaces."""
        self._write(values)

    def delete(self, entry_id: str, reason: str) -> None:
        """One entry the publisher must remove."""
        self._write({"entry_id": entry_id, "action": "delete", "reason": reason})

    def close(self) -> str:
        """Flush to disk (fsync); returns the hex SHA-256 of the file."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self.sha256.hexdigest()
