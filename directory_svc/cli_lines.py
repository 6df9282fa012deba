"""``directory-svc line terminate``, ``purge`` and ``audit listing``: the end of a line's
life, and the proof of what happened to it."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from directory_svc import clock
from directory_svc.cli_output import progress
from directory_svc.config import Settings
from directory_svc.domain.errors import ValidationError

if TYPE_CHECKING:
    from directory_svc.storage.setup import Storage


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``line`` and ``purge`` commands."""
    line = sub.add_parser("line", help="lines of subscribers").add_subparsers(
        dest="action", required=True
    )
    terminate = line.add_parser(
        "terminate", help="terminate a line for good: its entry leaves every feed"
    )
    terminate.add_argument("listing_id", help="the listing of the line")
    terminate.add_argument("--reason", required=True, help="why (kept in the history)")
    purge = sub.add_parser("purge", help="erase personal data of lines terminated long ago")
    purge.add_argument("--retention-days", type=int, default=365, help="default 365")
    audit = sub.add_parser("audit", help="proof for a subscriber or a regulator").add_subparsers(
        dest="action", required=True
    )
    one = audit.add_parser("listing", help="a signed bundle: history, feeds, acknowledgements")
    one.add_argument("listing_id")
    one.add_argument("--out", type=Path, required=True, help="bundle file (FILE.sig beside)")
    one.add_argument("--purpose", required=True, help="why (kept in the access log)")


async def _terminate(storage: Storage, listing_id: str, reason: str) -> int:
    from directory_svc.services.lines import TerminateLine, terminate_line

    at = clock.now()
    command = TerminateLine(
        listing_id=listing_id,
        expected_version=None,
        change_id=f"terminate:{at.isoformat()}",
        reason=reason,
        at=at,
    )
    done = await terminate_line(storage.listings, command)
    print(f"terminated {done.id} (version {done.version}); its entry leaves the next feeds")
    return 0


async def _purge(storage: Storage, days: int) -> int:
    from directory_svc.services.lines import purge_terminated

    count = await purge_terminated(
        storage.listings, timedelta(days=days), clock.now(), progress("purging")
    )
    print(file=sys.stderr)
    print(f"purged {count} terminated listings older than {days} days")
    return 0


async def _audit(storage: Storage, settings: Settings, args: argparse.Namespace) -> int:
    from directory_svc.domain.access import Principal, Role
    from directory_svc.services.audit import audit_listing
    from directory_svc.services.dependencies import Services
    from directory_svc.storage.keys import SIGNING_KEY
    from exporters.manifest import load_signing_key

    if settings.keys_dir is None:
        raise ValidationError("DIRECTORY_KEYS_DIR", "required", "holds the signing key")
    who = Principal(f"cli:{getpass.getuser()}", Role.ADMIN)
    bundle = await audit_listing(
        Services.of(storage, settings), listing_id=args.listing_id, who=who, purpose=args.purpose
    )
    key = load_signing_key(settings.keys_dir / SIGNING_KEY)
    args.out.write_bytes(bundle)
    signature = args.out.with_name(args.out.name + ".sig")
    signature.write_bytes(key.sign(bundle))
    check = f"openssl pkeyutl -verify -pubin -inkey signing.pub -rawin -in {args.out}"
    print(f"wrote {args.out} and {signature}; check: {check} -sigfile {signature}")
    return 0


def dispatch(args: argparse.Namespace, settings: Settings, fail: Callable[[str], int]) -> int:
    """Run a ``line``, ``purge`` or ``audit`` command."""
    if args.command == "purge" and args.retention_days < 0:
        return fail("--retention-days must be zero or more")

    async def run() -> int:
        from directory_svc.storage.setup import open_storage

        storage = await open_storage(settings)
        try:
            if args.command == "purge":
                return await _purge(storage, args.retention_days)
            if args.command == "audit":
                return await _audit(storage, settings, args)
            return await _terminate(storage, args.listing_id, args.reason)
        finally:
            await storage.close()

    return asyncio.run(run())
