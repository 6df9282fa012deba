"""Acknowledgements: what a publisher sends back after applying a feed (see
docs/feed-format.md). ``exporters.applier`` writes them; the service checks them here."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from exporters.manifest import canonical

ACK_FORMAT = "directory-svc/ack/2"
"""Version 2: the copy digest is a sum of entry hashes (``exporters.digest``); version 1
hashed the sorted entries, and is refused with a message saying so."""
_FIELDS = {"publisher": str, "sequence": int, "manifest_sha256": str, "copy_digest": str}


class AckRefused(Exception):
    """The acknowledgement is malformed or its signature does not verify (says which)."""


def ack_public_key(pem: str) -> Ed25519PublicKey:
    """The publisher's registered key; ``ValueError`` when it is not an Ed25519 PEM key."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, UnsupportedAlgorithm):  # the library's message carries a URL
        raise ValueError("not a PEM public key (expected feed keygen's .pub file)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verified_ack(signed: Any, key: Ed25519PublicKey) -> dict[str, Any]:
    """The acknowledgement of ``{"ack": …, "signature": …}`` once its shape and signature
    hold; ``AckRefused`` otherwise."""
    if not isinstance(signed, dict) or not isinstance(signed.get("ack"), dict):
        raise AckRefused('the body must be {"ack": {…}, "signature": "…"}')
    ack = signed["ack"]
    if ack.get("format") != ACK_FORMAT:
        raise AckRefused(
            f"ack.format must be {ACK_FORMAT} (its copy_digest is a sum of entry hashes, "
            "docs/feed-format.md); update the applier"
        )
    for name, kind in _FIELDS.items():
        if not isinstance(ack.get(name), kind) or isinstance(ack.get(name), bool):
            raise AckRefused(f"ack.{name} is missing or not a {kind.__name__}")
    try:
        signature = base64.b64decode(str(signed.get("signature", "")), validate=True)
        key.verify(signature, canonical(ack))
    except (InvalidSignature, binascii.Error, ValueError):
        raise AckRefused("the signature does not verify with the registered key") from None
    return dict(ack)
