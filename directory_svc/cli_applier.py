"""``directory-svc feed``: the publisher's side, with no database.

- ``feed keygen --out FILE``: the publisher's Ed25519 key pair for acknowledgements
  (``FILE`` private, ``FILE.pub`` public: register it with ``publisher update --ack-key``);
- ``feed apply FOLDER --state DIR --operator-key signing.pub [--identity AGE_KEY_FILE]
  [--ack-key FILE] [--ack-out FILE]``: the reference applier (``exporters.applier``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def add_parsers(sub: Any) -> None:
    """The ``feed`` command and its actions."""
    feed = sub.add_parser("feed", help="a publisher's side: apply feeds, acknowledge them")
    actions = feed.add_subparsers(dest="action", required=True)
    keygen = actions.add_parser("keygen", help="create the publisher's acknowledgement keys")
    keygen.add_argument("--out", type=Path, required=True, help="private key file (PEM)")
    apply = actions.add_parser("apply", help="apply one feed folder to a local copy")
    apply.add_argument("folder", type=Path)
    apply.add_argument("--state", type=Path, required=True, help="the local copy's folder")
    apply.add_argument("--operator-key", type=Path, required=True, help="operator's signing.pub")
    apply.add_argument("--identity", type=Path, help="age identity file (encrypted feeds)")
    apply.add_argument("--ack-key", type=Path, help="private key signing the acknowledgement")
    apply.add_argument("--ack-out", type=Path, help="write the acknowledgement here")


def run(args: argparse.Namespace) -> int:
    """Run ``feed keygen`` or ``feed apply``; exit status 0, or 1 with one line on stderr."""
    if args.action == "keygen":
        return _keygen(args.out)
    from exporters.age_keys import read_identities
    from exporters.applier import ApplyRefused, apply_feed
    from exporters.manifest import load_private_pem, load_public_key

    try:
        identity = read_identities(args.identity) if args.identity else None
        ack_key = (
            load_private_pem(args.ack_key, "the acknowledgement key from feed keygen")
            if args.ack_key
            else None
        )
        applied = apply_feed(
            args.folder,
            args.state,
            operator_key=load_public_key(args.operator_key),
            identity=identity,
            ack_key=ack_key,
        )
    except (ApplyRefused, OSError, ValueError) as exc:
        print(f"directory-svc: feed apply: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(applied.ack, indent=2, ensure_ascii=False) + "\n"
    if args.ack_out:
        args.ack_out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    print(
        f"applied feed {applied.sequence} of {applied.publisher}: {applied.upserts} upserts, "
        f"{applied.deletes} deletes; {applied.entries} entries, digest {applied.copy_digest}",
        file=sys.stderr,
    )
    return 0


def _keygen(out: Path) -> int:
    if out.exists():
        print(f"directory-svc: feed keygen: {out} exists; not overwritten", file=sys.stderr)
        return 1
    key = Ed25519PrivateKey.generate()
    out.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    out.chmod(0o600)
    public = out.with_name(out.name + ".pub")
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    print(f"wrote {out} (keep it) and {public} (register it with publisher update --ack-key)")
    return 0
