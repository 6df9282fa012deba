"""AES-256-GCM field encryption bound to its record, and HMAC-SHA-256 blind indexes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from directory_svc.storage.keys import KeyRing

_VERSION = 1
_NONCE = 12


class DecryptionFailed(Exception):
    """A ciphertext does not belong to this record or was altered."""


class Cipher:
    """Encrypts JSON values; each ciphertext carries its key id and is bound to a record."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def encrypt(self, value: Any, record_id: str, purpose: str) -> bytes:
        """``version | kid length | kid | nonce | AES-GCM(json)``; the AAD binds record and use."""
        kid = self.keys.active_kid
        nonce = os.urandom(_NONCE)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        aad = f"{record_id}|{purpose}".encode()
        sealed = AESGCM(self.keys.data_key(kid)).encrypt(nonce, plain, aad)
        kid_bytes = kid.encode("ascii")
        return bytes([_VERSION, len(kid_bytes)]) + kid_bytes + nonce + sealed

    def decrypt(self, blob: bytes, record_id: str, purpose: str) -> Any:
        """The JSON value sealed by ``encrypt`` for this record and purpose."""
        if len(blob) < 2 or blob[0] != _VERSION:
            raise DecryptionFailed("unknown ciphertext format")
        kid_len = blob[1]
        kid = blob[2 : 2 + kid_len].decode("ascii")
        nonce = blob[2 + kid_len : 2 + kid_len + _NONCE]
        aad = f"{record_id}|{purpose}".encode()
        try:
            plain = AESGCM(self.keys.data_key(kid)).decrypt(
                nonce, blob[2 + kid_len + _NONCE :], aad
            )
        except InvalidTag:
            raise DecryptionFailed("ciphertext altered or not bound to this record") from None
        return json.loads(plain)

    @staticmethod
    def kid_of(blob: bytes) -> str:
        """The key id a ciphertext was sealed with."""
        return blob[2 : 2 + blob[1]].decode("ascii")

    def blind_index(self, purpose: str, value: str) -> str:
        """A keyed hash for exact look-ups: reveals equality, not the value (32 hex digits)."""
        mac = hmac.new(self.keys.index_key, f"{purpose}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def pad(self, purpose: str, context: str, hashed: str) -> str:
        """A 32-byte hex hash XOR a pad keyed for ``purpose`` and ``context``: stores a
        hash that only the key holder can read back (the same call unmasks it). Each
        ``context`` must be used for one value only (the pad is a one-time pad)."""
        key = hmac.new(self.keys.index_key, f"{purpose}\x00{context}".encode(), hashlib.sha256)
        value = bytes.fromhex(hashed)
        if len(value) != 32:
            raise ValueError("expected 32 bytes of hex")
        return bytes(a ^ b for a, b in zip(value, key.digest(), strict=True)).hex()
