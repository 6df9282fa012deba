"""age identity files, read as ``age -d -i FILE`` reads them.

``age-keygen -o key.txt`` writes comment lines (``# created: …``, ``# public key: …``)
before the secret key; a file may hold several identities. Errors name the file and the
line, never the line's text (it may be a secret).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXPECTED = "expected a line AGE-SECRET-KEY-1…, as age-keygen writes"


def parse_identities(text: str, *, source: str) -> list[Any]:
    """Every identity of an identity file's ``text``; ``ValueError`` naming ``source``."""
    from pyrage import x25519

    if text.startswith("age-encryption.org/"):
        raise ValueError(f"{source}: a passphrase-protected identity file; decrypt it first")
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            found.append(x25519.Identity.from_str(line))
        except Exception:  # pyrage raises its own error types
            raise ValueError(f"{source}:{number}: not an age identity ({EXPECTED})") from None
    if not found:
        raise ValueError(f"{source}: no age identity in the file ({EXPECTED})")
    return found


def read_identities(path: Path) -> list[Any]:
    """The identities of the file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not an age identity file (not text)") from None
    return parse_identities(text, source=str(path))
