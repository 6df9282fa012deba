"""The canonical digest of what a publisher holds (docs/feed-format.md, "Acknowledgements").

- An entry's hash: SHA-256 (hex) of the canonical JSON (keys sorted, no spaces, UTF-8) of
  its cells as the CSV feed writes them (``formats.csv_cell``: booleans ``true``/``false``,
  absent values empty, several values ``|``-joined), every column except ``action`` and
  ``reason``.
- A copy's digest: SHA-256 (hex) of the lines ``<entry_id> TAB <entry hash> LF`` in
  ``entry_id`` order (bytewise, UTF-8). An empty copy's digest is SHA-256 of nothing.

Both sides compute it: the publisher over its copy (the reference applier does), the
operator over what its ledger says the publisher was sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from exporters.formats import csv_cell

NOT_HASHED = frozenset({"action", "reason"})


def cells_of(values: Mapping[str, Any]) -> dict[str, str]:
    """A record's values (as a JSONL feed carries them) as the CSV feed's cell texts."""
    return {k: csv_cell(v) for k, v in values.items()}


def entry_hash(cells: Mapping[str, str]) -> str:
    """The hash of one record given as CSV cell texts (``cells_of`` for JSONL values)."""
    kept = {k: v for k, v in cells.items() if k not in NOT_HASHED}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def copy_digest(entries: Iterable[tuple[str, str]]) -> str:
    """The digest of a copy given as ``(entry_id, entry hash)`` pairs, in any order."""
    digest = hashlib.sha256()
    for entry_id, hashed in sorted(entries, key=lambda e: e[0].encode("utf-8")):
        digest.update(f"{entry_id}\t{hashed}\n".encode())
    return digest.hexdigest()


def record_hash(values: Mapping[str, Any], cols: Iterable[str]) -> str:
    """The hash of a record as the feed writes it: every column of the feed, a missing
    value as an empty cell (what the publisher's copy holds)."""
    return entry_hash(cells_of({c: values.get(c) for c in cols}))
