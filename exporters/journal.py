"""The ledger journal of one feed: what the ledger must record once the feed is published.

Written (and fsynced) next to the feed folder, as ``.ledger-<folder>.jsonl``, before the
folder is renamed into view; committed to the ledger after. If the process dies or the
database fails in between, the next run of the publisher finds the published folder and
its journal and commits it then: the ledger never lags behind what a publisher received.

Format: a header line ``{"mode": "replace"|"apply", "sequence": N, "profile": "…"}``, then
one line per entry: ``["u", entry_id, digest, initial_key, name_key, public_hash, replaced]``
(sent) or ``["d", entry_id, replaced]`` (deleted), ``replaced`` being the public hash of the
row the line replaces (``null``: none). ``replace`` makes the ledger exactly the ``u`` lines
(a full feed, a reconciliation); ``apply`` updates the current generation (a delta). The
ledger head's copy digest follows: the sum of the ``u`` lines' terms (replace), or the
head's digest plus the new terms minus the replaced ones (apply): no whole-ledger read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from directory_svc.storage.ledger import FeedLedger, SentEntry
from exporters.digest import digest_text, entry_term, updated_digest


def journal_path(out_dir: Path, folder_name: str) -> Path:
    """Where the journal of feed folder ``folder_name`` lives."""
    return out_dir / f".ledger-{folder_name}.jsonl"


@dataclass(frozen=True, slots=True)
class SentRecord:
    """What the ledger remembers of a record sent: the keyed digest (compared by deltas),
    its homonymy keys, and the public hash (``exporters.digest``, for acknowledgements)."""

    digest: str
    initial_key: str
    name_key: str
    public: str


class JournalWriter:
    """Writes one journal; ``close`` flushes it to disk."""

    def __init__(self, path: Path, mode: str, sequence: int, profile: str) -> None:
        self.path = path
        self.sequence = sequence
        self._file: IO[str] = path.open("w", encoding="utf-8")
        header = {"mode": mode, "sequence": sequence, "profile": profile}
        self._file.write(json.dumps(header) + "\n")

    def sent(self, entry_id: str, sent: SentRecord, replaced: str | None = None) -> None:
        """The publisher now holds this record (``replaced``: the public hash of the row it
        replaces in a delta)."""
        row = ["u", entry_id, sent.digest, sent.initial_key, sent.name_key, sent.public, replaced]
        self._file.write(json.dumps(row) + "\n")

    def deleted(self, entry_id: str, replaced: str) -> None:
        """The publisher no longer holds this entry (whose row had public hash ``replaced``)."""
        self._file.write(json.dumps(["d", entry_id, replaced]) + "\n")

    def close(self) -> None:
        """Flush and fsync."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def discard(self) -> None:
        """Forget the journal (its feed was not published)."""
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class JournalUnusable(Exception):
    """The journal cannot be committed (e.g. a delta's ledger generation is gone)."""


async def commit_journal(path: Path, ledger: FeedLedger, publisher_id: str) -> None:
    """Record a published feed's journal in the ledger, then delete the journal.

    Idempotent: committing the same journal twice gives the same ledger.
    """
    with path.open(encoding="utf-8") as f:
        header = json.loads(f.readline())
        sequence = int(header["sequence"])
        if header["mode"] == "replace":
            total = _Sum()
            sent = (total.add(_sent(r, sequence)) for r in _rows(f) if r[0] == "u")
            await ledger.replace(publisher_id, sequence, header["profile"], sent, total.digest)
        else:
            head = await ledger.head(publisher_id)
            if head is None:
                raise JournalUnusable("no ledger generation to apply a delta to")
            rows = list(_rows(f))
            sent_rows = [_sent(r, sequence) for r in rows if r[0] == "u"]
            deleted = [r[1] for r in rows if r[0] == "d"]
            holds = head.holds if head.sequence >= sequence else _applied(head.holds, rows)
            await ledger.apply(publisher_id, head, sequence, sent_rows, deleted, holds)
    path.unlink(missing_ok=True)  # noqa: ASYNC240 (a small local file, as the feed writer's)


class _Sum:
    """The copy digest of the entries passed through ``add`` (None if one has no hash)."""

    def __init__(self) -> None:
        self.total: int | None = 0

    def add(self, entry: SentEntry) -> SentEntry:
        if self.total is not None:
            self.total = (
                None if not entry.public else self.total + entry_term(entry.entry_id, entry.public)
            )
        return entry

    def digest(self) -> str | None:
        return None if self.total is None else digest_text(self.total)


def _applied(holds: str | None, rows: list[list[Any]]) -> str | None:
    """The head's digest after a delta's lines; None when any hash it needs is unknown
    (a head or row from before digests were kept, a journal from before ``replaced``)."""
    if holds is None:
        return None
    added: list[tuple[str, str]] = []
    removed: list[tuple[str, str]] = []
    for row in rows:
        kind, entry = row[0], row[1]
        if kind == "u":
            if len(row) < 7 or not row[5]:
                return None
            added.append((entry, row[5]))
            replaced = row[6]
        elif len(row) < 3:
            return None
        else:
            replaced = row[2]
        if replaced is not None:
            if not replaced:
                return None
            removed.append((entry, replaced))
    return updated_digest(holds, added, removed)


def _sent(row: list[str], sequence: int) -> SentEntry:
    public = row[5] if len(row) > 5 else ""  # journals written before public hashes
    return SentEntry(row[1], row[2], row[3], row[4], sequence, public)


def _rows(f: IO[str]) -> Iterator[list[str]]:
    for line in f:
        if line.strip():
            yield json.loads(line)
