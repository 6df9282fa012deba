"""Encryption keys: AES-256-GCM data keys (rotatable), an HMAC key for blind indexes, and an
HMAC key for the history chain. They live in a key directory, never in the database.

Layout of the key directory (``DIRECTORY_KEYS_DIR``)::

    data/<kid>.key   base64 of 32 random bytes, one file per data key
    data/ACTIVE      the kid new ciphertexts use
    index.key        blind-index HMAC key (base64, 32 bytes)
    history.key      history-chain HMAC key (base64, 32 bytes)

Or, for platforms that inject secrets as environment variables, ``DIRECTORY_DATA_KEYS``
(``kid=BASE64,kid=BASE64``), ``DIRECTORY_ACTIVE_KEY`` (a kid), ``DIRECTORY_INDEX_KEY`` and
``DIRECTORY_HISTORY_KEY`` (base64). Rotation writes files, so it needs the directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from directory_svc import clock

KEY_BYTES = 32
_RECHECK_S = 2.0


class KeyFileError(Exception):
    """A key is missing or malformed; the message names the file, never key material."""


def _decode(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise KeyFileError(f"{where} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyFileError(f"{where} does not hold {KEY_BYTES} bytes")
    return raw


def _read_key(path: Path) -> bytes:
    try:
        text = path.read_text()
    except OSError:
        raise KeyFileError(f"cannot read key file {path}") from None
    return _decode(text, f"key file {path}")


def _write_key(path: Path, key: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(key).decode() + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


class KeyRing:
    """The keys of one key directory (or of the environment); notices a rotation made by
    another process within 2 s."""

    def __init__(self, directory: Path | None, environ: dict[str, str] | None = None) -> None:
        self._env = environ if directory is None else None
        self.directory = directory or Path("(environment)")
        self._data: dict[str, bytes] = {}
        self._active = ""
        self._checked = 0.0
        self._active_mtime = 0.0
        if self._env is not None:
            self.index_key = _decode(
                self._env.get("DIRECTORY_INDEX_KEY", ""), "DIRECTORY_INDEX_KEY"
            )
            self.history_key = _decode(
                self._env.get("DIRECTORY_HISTORY_KEY", ""), "DIRECTORY_HISTORY_KEY"
            )
        else:
            if not (self.directory / "index.key").exists():
                raise KeyFileError(
                    f"no keys in {self.directory}: restore them from escrow (`directory-svc "
                    "keys restore FILE --identity KEY`), or create them for a new database "
                    "(`directory-svc keys init`)"
                )
            self.index_key = _read_key(self.directory / "index.key")
            self.history_key = _read_key(self.directory / "history.key")
        self.reload()

    def fingerprint(self) -> str:
        """Says which index and history keys these are, and nothing of them."""
        parts = [
            hmac.new(key, b"directory-svc key fingerprint", hashlib.sha256).hexdigest()[:16]
            for key in (self.index_key, self.history_key)
        ]
        return "-".join(parts)

    def _reload_env(self, env: dict[str, str]) -> None:
        keys = {}
        for item in env.get("DIRECTORY_DATA_KEYS", "").split(","):
            kid, _, value = item.strip().partition("=")
            if not kid or not value:
                raise KeyFileError("DIRECTORY_DATA_KEYS: expected kid=BASE64,kid=BASE64")
            keys[kid] = _decode(value, f"DIRECTORY_DATA_KEYS ({kid})")
        active = env.get("DIRECTORY_ACTIVE_KEY", "").strip()
        if active not in keys:
            raise KeyFileError("DIRECTORY_ACTIVE_KEY: names no key of DIRECTORY_DATA_KEYS")
        self._data, self._active = keys, active
        self._checked = float("inf")

    def reload(self) -> None:
        """Read the data keys and the active kid again."""
        if self._env is not None:
            self._reload_env(self._env)
            return
        data_dir = self.directory / "data"
        keys = {p.stem: _read_key(p) for p in sorted(data_dir.glob("*.key"))}
        active_file = data_dir / "ACTIVE"
        try:
            active = active_file.read_text().strip()
            self._active_mtime = active_file.stat().st_mtime
        except OSError:
            raise KeyFileError(f"missing {active_file}") from None
        if active not in keys:
            raise KeyFileError(f"{active_file} names a key that does not exist")
        self._data, self._active = keys, active
        self._checked = time.monotonic()

    @property
    def active_kid(self) -> str:
        """The kid of the key new ciphertexts use (re-read at most every 2 s)."""
        now = time.monotonic()
        if self._env is None and now - self._checked > _RECHECK_S:
            self._checked = now
            try:
                mtime = (self.directory / "data" / "ACTIVE").stat().st_mtime
            except OSError:
                mtime = self._active_mtime
            if mtime != self._active_mtime:
                self.reload()
        return self._active

    def data_key(self, kid: str) -> bytes:
        """The data key ``kid``; re-reads the directory once if it is new to this process."""
        if kid not in self._data and self._env is None:
            self.reload()
        try:
            return self._data[kid]
        except KeyError:
            raise KeyFileError(f"data key {kid!r} is not in {self.directory / 'data'}") from None

    @property
    def kids(self) -> list[str]:
        """Every data key id present."""
        return sorted(self._data)


def init_keys(directory: Path) -> bool:
    """Create whatever key the directory lacks (data, index, history, signing); True if any."""
    data_dir = directory / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    created = False
    for name in ("index.key", "history.key"):
        if not (directory / name).exists():
            _write_key(directory / name, secrets.token_bytes(KEY_BYTES))
            created = True
    if not (directory / SIGNING_KEY).exists():
        _write_signing_key(directory / SIGNING_KEY)
        created = True
    if not (data_dir / "ACTIVE").exists():
        add_data_key(directory)
        created = True
    if not (directory / SFTP_CLIENT_KEY).exists():
        ensure_sftp_client_key(directory)
        created = True
    return created


SIGNING_KEY = "signing.key"


def _write_signing_key(path: Path) -> None:
    """An Ed25519 key that signs feed manifests, and its public half (``signing.pub``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    path.with_name("signing.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def add_data_key(directory: Path) -> str:
    """Create a new data key and make it the active one; returns its kid."""
    data_dir = directory / "data"
    kid = "k" + clock.now().strftime("%Y%m%dT%H%M%S%f")
    _write_key(data_dir / f"{kid}.key", secrets.token_bytes(KEY_BYTES))
    tmp = data_dir / "ACTIVE.tmp"
    tmp.write_text(kid + "\n")
    tmp.replace(data_dir / "ACTIVE")
    return kid


def remove_data_key(directory: Path, kid: str) -> None:
    """Delete a retired data key file (the caller checked nothing uses it)."""
    (directory / "data" / f"{kid}.key").unlink()


SFTP_CLIENT_KEY = "sftp_client"


def ensure_sftp_client_key(directory: Path) -> Path:
    """The operator's SSH key for SFTP pushes (created once; ``sftp_client.pub`` is given to
    publishers to authorise)."""
    path = directory / SFTP_CLIENT_KEY
    if not path.exists():
        import asyncssh

        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(path))
        os.chmod(path, 0o600)
        key.write_public_key(str(path.with_name(SFTP_CLIENT_KEY + ".pub")))
    return path
