"""The reference applier: what a publisher runs on each feed folder it receives.

``directory-svc feed apply FOLDER --state STATE_DIR --operator-key signing.pub
[--identity age-key.txt] [--ack-key publisher-ack.pem]``, or ``apply_feed`` from Python;
it needs no access to the service's database. It:

1. verifies the manifest's signature (the operator's key) and the payload's SHA-256;
2. decrypts an ``.age`` payload with the publisher's age identity;
3. checks the sequence: a delta must follow the last feed applied (its manifest's
   ``follows``; a missing feed or a replay is refused); a full feed replaces the copy and
   may follow any earlier sequence;
4. applies upserts and deletes to the local copy, a SQLite file ``STATE_DIR/copy.sqlite``
   (``entries(entry_id, hash, record)``, ``record`` the JSON of the cells), all in one
   transaction: a refused or failed feed changes nothing;
5. returns the acknowledgement (``ack``): publisher, sequence, the manifest's hash, counts
   applied, and the copy's digest (``exporters.digest``), signed with the publisher's own
   Ed25519 key when one is given.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exporters.acks import ACK_FORMAT
from exporters.age_keys import parse_identities
from exporters.digest import cells_of, copy_digest, entry_hash
from exporters.manifest import VerificationFailed, canonical, verify_folder


class ApplyRefused(Exception):
    """The feed cannot be applied (the message says why; the copy is unchanged)."""


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying a feed did, and the acknowledgement to send back."""

    publisher: str
    sequence: int
    upserts: int
    deletes: int
    entries: int
    copy_digest: str
    ack: dict[str, Any]


def manifest_hash(manifest: dict[str, Any]) -> str:
    """SHA-256 (hex) of the manifest's canonical JSON (what the operator signed)."""
    return hashlib.sha256(canonical(manifest)).hexdigest()


def _open(state_dir: Path) -> sqlite3.Connection:
    state_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(state_dir / "copy.sqlite", isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS entries "
        "(entry_id TEXT PRIMARY KEY, hash TEXT NOT NULL, record TEXT NOT NULL)"
    )
    return db


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _payload(folder: Path, manifest: dict[str, Any], identities: list[Any] | None) -> bytes:
    payload = manifest["payload"]
    data: bytes = (folder / str(payload["file"])).read_bytes()
    if payload["file"].endswith(".age"):
        if not identities:
            raise ApplyRefused("the payload is encrypted: give the publisher's age identity")
        import pyrage

        try:
            data = bytes(pyrage.decrypt(data, identities))
        except Exception:  # pyrage raises its own error types
            raise ApplyRefused(
                "the payload does not decrypt with the given age identities"
            ) from None
    if hashlib.sha256(data).hexdigest() != payload["plaintext_sha256"]:
        raise ApplyRefused("the decrypted payload's SHA-256 differs from the manifest")
    return data


def _records(data: bytes, fmt: str) -> Iterator[dict[str, str]]:
    """Each record as CSV cell texts."""
    text = data.decode("utf-8")
    if fmt == "jsonl":
        for line in text.splitlines():
            if line.strip():
                yield cells_of(json.loads(line))
        return
    yield from csv.DictReader(io.StringIO(text, newline=""), delimiter=";")


def _check_sequence(db: sqlite3.Connection, manifest: dict[str, Any]) -> None:
    publisher, seq, feed = manifest["publisher"], int(manifest["sequence"]), manifest["feed"]
    held_by, last_raw = _meta(db, "publisher"), _meta(db, "sequence")
    if held_by is not None and held_by != publisher:
        raise ApplyRefused(f"this copy is publisher {held_by}'s, the feed is {publisher}'s")
    last = int(last_raw) if last_raw is not None else None
    if last is not None and seq <= last:
        raise ApplyRefused(f"feed {seq} is already applied (the copy is at {last})")
    if feed == "delta" and last is None:
        raise ApplyRefused(f"delta {seq} needs a copy: apply a full feed first")
    follows = manifest.get("follows", seq - 1)  # failed runs leave sequence gaps
    if feed == "delta" and last is not None and follows != last:
        raise ApplyRefused(f"delta {seq} follows feed {follows}, the copy is at feed {last}")


def apply_feed(
    folder: Path,
    state_dir: Path,
    *,
    operator_key: Ed25519PublicKey,
    identity: str | list[Any] | None = None,
    ack_key: Ed25519PrivateKey | None = None,
) -> Applied:
    """Apply one feed folder to the copy in ``state_dir`` (see the module docstring).

    ``identity``: the text of an age identity file, or identities already read
    (``exporters.age_keys``)."""
    if isinstance(identity, str):
        identity = parse_identities(identity, source="identity")
    try:
        manifest = verify_folder(folder, operator_key)
    except VerificationFailed as exc:
        raise ApplyRefused(str(exc)) from None
    db = _open(state_dir)
    try:
        db.execute("BEGIN IMMEDIATE")
        _check_sequence(db, manifest)
        records = _records(_payload(folder, manifest, identity), manifest["format"])
        if manifest["feed"] == "full":
            db.execute("DELETE FROM entries")
        upserts = deletes = 0
        for cells in records:
            entry_id = cells["entry_id"]
            if cells["action"] == "delete":
                db.execute("DELETE FROM entries WHERE entry_id = ?", (entry_id,))
                deletes += 1
            else:
                record = json.dumps(cells, sort_keys=True, ensure_ascii=False)
                db.execute(
                    "INSERT OR REPLACE INTO entries VALUES (?, ?, ?)",
                    (entry_id, entry_hash(cells), record),
                )
                upserts += 1
        db.execute("INSERT OR REPLACE INTO meta VALUES ('publisher', ?)", (manifest["publisher"],))
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('sequence', ?)", (str(manifest["sequence"]),)
        )
        pairs = db.execute("SELECT entry_id, hash FROM entries").fetchall()
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()
    digest = copy_digest((str(e), str(h)) for e, h in pairs)
    ack = {
        "format": ACK_FORMAT,
        "publisher": manifest["publisher"],
        "sequence": int(manifest["sequence"]),
        "manifest_sha256": manifest_hash(manifest),
        "applied": {"upsert": upserts, "delete": deletes},
        "entries": len(pairs),
        "copy_digest": digest,
        "applied_at": datetime.now(UTC).isoformat(),
    }
    return Applied(
        publisher=manifest["publisher"],
        sequence=int(manifest["sequence"]),
        upserts=upserts,
        deletes=deletes,
        entries=len(pairs),
        copy_digest=digest,
        ack=sign_ack(ack, ack_key) if ack_key is not None else {"ack": ack},
    )


def sign_ack(ack: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``{"ack": …, "signature": base64 Ed25519 over the ack's canonical JSON}``."""
    return {"ack": ack, "signature": base64.b64encode(key.sign(canonical(ack))).decode()}
