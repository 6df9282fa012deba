"""Feed manifests: what a feed holds, signed with the operator's Ed25519 key; verification."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST = "manifest.json"


class VerificationFailed(Exception):
    """A feed folder does not match its manifest or its signature."""


def canonical(manifest: dict[str, Any]) -> bytes:
    """Canonical JSON (keys sorted, no spaces, UTF-8): what is signed."""
    return json.dumps(manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def load_private_pem(path: Path, expected: str) -> Ed25519PrivateKey:
    """An Ed25519 private key (PEM, PKCS#8, unencrypted) from ``path``; a ``ValueError``
    names the file and says what was ``expected`` (never a library message)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(f"{path}: not a PEM private key (expected {expected})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 key (expected {expected})")
    return key


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The operator's signing key (PEM, PKCS#8)."""
    return load_private_pem(path, "the operator's signing key, signing.pem of the key directory")


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key to verify manifests with (PEM)."""
    expected = "the operator's signing.pub: an Ed25519 public key in PEM"
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(f"{path}: not a PEM public key ({expected})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key ({expected})")
    return key


def write_manifest(folder: Path, manifest: dict[str, Any], key: Ed25519PrivateKey) -> None:
    """Write ``manifest.json``: the manifest and its signature over its canonical JSON."""
    signature = base64.b64encode(key.sign(canonical(manifest))).decode()
    body = json.dumps({"manifest": manifest, "signature": signature}, indent=2, ensure_ascii=False)
    (folder / MANIFEST).write_text(body + "\n", encoding="utf-8")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_folder(folder: Path, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Check the signature and the payload's checksum; returns the manifest."""
    try:
        signed = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        manifest, signature = signed["manifest"], base64.b64decode(signed["signature"])
    except (OSError, ValueError, KeyError, TypeError):
        raise VerificationFailed("manifest.json is missing or malformed") from None
    try:
        public_key.verify(signature, canonical(manifest))
    except InvalidSignature:
        raise VerificationFailed("the manifest's signature does not verify") from None
    payload = folder / str(manifest.get("payload", {}).get("file", ""))
    if not payload.is_file():
        raise VerificationFailed("the payload file named by the manifest is missing")
    if file_sha256(payload) != manifest["payload"]["sha256"]:
        raise VerificationFailed("the payload's SHA-256 differs from the manifest")
    return dict(manifest)
