"""Key escrow: the key directory sealed to officers' age keys, and brought back.

An escrow file is an age file (``age -d -i officer.txt FILE`` opens it too) holding one
JSON document: ``{"format": "directory-svc/key-escrow/1", "files": {path: base64}}``, every
file of the key directory. Losing the key directory without an escrow means losing every
subscriber's personal data: it is all encrypted under those keys (docs/operations.md).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

FORMAT = "directory-svc/key-escrow/1"
MAX_FILE_BYTES = 64 * 1024


class EscrowError(Exception):
    """What went wrong, naming files and never key material."""


def _files(keys_dir: Path) -> dict[str, str]:
    if not (keys_dir / "index.key").is_file():
        raise EscrowError(f"no keys in {keys_dir} (expected index.key, data/…)")
    found = {}
    for path in sorted(p for p in keys_dir.rglob("*") if p.is_file()):
        if path.stat().st_size > MAX_FILE_BYTES or path.suffix == ".tmp":
            continue
        found[path.relative_to(keys_dir).as_posix()] = base64.b64encode(path.read_bytes()).decode()
    return found


def seal_keys(keys_dir: Path, recipients: list[str], out: Path) -> int:
    """Write ``out``: every file of ``keys_dir`` sealed to ``recipients``; how many files."""
    import pyrage

    sealed_to = []
    for recipient in recipients:
        try:
            sealed_to.append(pyrage.x25519.Recipient.from_str(recipient.strip()))
        except Exception:  # pyrage raises its own error types
            raise EscrowError(
                f"not an age recipient: {recipient[:12]}… (expected age1…, from age-keygen -y)"
            ) from None
    files = _files(keys_dir)
    document = json.dumps({"format": FORMAT, "files": files}).encode()
    if out.exists():
        raise EscrowError(f"{out} exists; not overwritten")
    out.write_bytes(pyrage.encrypt(document, sealed_to))
    return len(files)


def _opened(escrow: Path, identity: Path) -> dict[str, Any]:
    import pyrage

    from exporters.age_keys import read_identities

    try:
        identities = read_identities(identity)
        sealed = escrow.read_bytes()
    except (OSError, ValueError) as exc:
        raise EscrowError(str(exc)) from None
    try:
        document = json.loads(pyrage.decrypt(sealed, identities))
    except Exception:  # pyrage's own errors, or not JSON
        raise EscrowError(
            f"{escrow} does not open with {identity} (not an escrow file, or sealed to others)"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise EscrowError(f"{escrow} is not a key escrow of this service")
    return document


def restore_keys(escrow: Path, identity: Path, keys_dir: Path) -> int:
    """Write the escrowed files into ``keys_dir`` (which must hold no keys); how many."""
    if (keys_dir / "index.key").exists() or (keys_dir / "data" / "ACTIVE").exists():
        raise EscrowError(f"{keys_dir} already holds keys; restore into an empty directory")
    files: dict[str, str] = _opened(escrow, identity)["files"]
    for name, content in files.items():
        target = (keys_dir / name).resolve()
        if keys_dir.resolve() not in target.parents:
            raise EscrowError(f"{escrow} names a file outside the key directory")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(content))
    os.chmod(keys_dir, 0o700)
    return len(files)
