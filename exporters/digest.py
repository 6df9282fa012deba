"""The canonical digest of what a publisher holds (docs/feed-format.md, "Acknowledgements").

- An entry's hash: SHA-256 (hex) of the canonical JSON (keys sorted, no spaces, UTF-8) of
  its cells as the CSV feed writes them (``formats.csv_cell``: booleans ``true``/``false``,
  absent values empty, several values ``|``-joined), every column except ``action`` and
  ``reason``.
- A copy's digest: the sum, modulo 2**256, of SHA-256(``<entry_id> TAB <entry hash> LF``)
  (UTF-8) read as big-endian integers, over every entry of the copy; written as 64 hex
  digits. An empty copy's digest is 64 zeros. A sum does not depend on the order and
  can be updated entry by entry: the operator keeps it with its ledger and never re-reads
  a whole copy to answer an acknowledgement (an additive multiset hash, as LtHash; it
  detects a copy that diverged, it is not meant to resist a forger, who could just as
  well send our own digest back).

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


MODULUS = 1 << 256


def entry_term(entry_id: str, hashed: str) -> int:
    """One entry's share of its copy's digest."""
    return int.from_bytes(hashlib.sha256(f"{entry_id}\t{hashed}\n".encode()).digest(), "big")


def digest_text(total: int) -> str:
    """A sum of entry terms as a copy digest (64 hex digits)."""
    return f"{total % MODULUS:064x}"


def copy_digest(entries: Iterable[tuple[str, str]]) -> str:
    """The digest of a copy given as ``(entry_id, entry hash)`` pairs, in any order."""
    return digest_text(sum(entry_term(entry_id, hashed) for entry_id, hashed in entries))


def updated_digest(
    digest: str, added: Iterable[tuple[str, str]], removed: Iterable[tuple[str, str]]
) -> str:
    """``digest`` once the ``removed`` entries left the copy and the ``added`` ones joined
    (an entry replaced is removed with its old hash and added with its new one)."""
    total = int(digest, 16) + sum(entry_term(e, h) for e, h in added)
    return digest_text(total - sum(entry_term(e, h) for e, h in removed))


def record_hash(values: Mapping[str, Any], cols: Iterable[str]) -> str:
    """The hash of a record as the feed writes it: every column of the feed, a missing
    value as an empty cell (what the publisher's copy holds)."""
    return entry_hash(cells_of({c: values.get(c) for c in cols}))
