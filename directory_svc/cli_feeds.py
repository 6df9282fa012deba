"""``directory-svc publisher …`` and ``directory-svc export …`` commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from directory_svc.config import Settings
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.publishers import (
    PUBLISHABLE_FIELDS,
    ChoicePolicy,
    FeedFormat,
    GeoScope,
    HomonymyPolicy,
    NumberFormat,
    Publisher,
    PublisherKind,
    PublisherProfile,
    SftpTarget,
)

if TYPE_CHECKING:
    from directory_svc.storage.setup import Storage


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``publisher`` and ``export`` commands."""
    pub = sub.add_parser("publisher", help="the publisher registry").add_subparsers(
        dest="action", required=True
    )
    for action in ("add", "update"):
        p = pub.add_parser(action, help=f"{action} a publisher")
        p.add_argument("id")
        required = action == "add"
        p.add_argument("--name", required=required, help="legal name")
        p.add_argument("--kind", choices=[k.value for k in PublisherKind], required=required)
        p.add_argument("--marketing", choices=["yes", "no"], help="marketing use allowed")
        p.add_argument("--departements", help="scope: comma-separated départements")
        p.add_argument("--communes", help="scope: comma-separated INSEE codes")
        p.add_argument("--fields", help=f"comma-separated, among: {','.join(PUBLISHABLE_FIELDS)}")
        p.add_argument("--policy", choices=[c.value for c in ChoicePolicy])
        p.add_argument("--homonymy", choices=[h.value for h in HomonymyPolicy])
        p.add_argument("--format", choices=[f.value for f in FeedFormat])
        p.add_argument("--numbers", choices=[n.value for n in NumberFormat])
        p.add_argument("--schedule", help="cron expression, Europe/Paris")
        p.add_argument("--recipient", help="age recipient (age1…) to encrypt feeds to")
        p.add_argument(
            "--ack-key", type=Path, help="the publisher's Ed25519 public key (PEM) for its acks"
        )
        p.add_argument("--sftp", help="push feeds to user@host:port/directory")
        p.add_argument("--sftp-host-key", help="the server's public host key (ssh-ed25519 …)")
    pub.add_parser("list", help="list publishers")
    disable = pub.add_parser("disable", help="stop exporting to a publisher")
    disable.add_argument("id")
    enable = pub.add_parser("enable", help="export to a disabled publisher again")
    enable.add_argument("id")

    exp = sub.add_parser("export", help="publisher feeds").add_subparsers(
        dest="action", required=True
    )
    run = exp.add_parser("run", help="run one export now")
    run.add_argument("--publisher", required=True)
    run.add_argument("--full", action="store_true", help="a full feed instead of a delta")
    run.add_argument(
        "--out", type=Path, default=None, help="output folder (default DIRECTORY_FEEDS_DIR)"
    )
    verify = exp.add_parser("verify", help="check a feed folder's checksum and signature")
    verify.add_argument("folder", type=Path)
    verify.add_argument("--public-key", type=Path, help="default: signing.pub of the keys")
    runs = exp.add_parser("runs", help="a publisher's latest export runs")
    runs.add_argument("--publisher", required=True)


def _csv(value: str | None) -> frozenset[str] | None:
    return None if value is None else frozenset(v.strip() for v in value.split(",") if v.strip())


def _sftp(args: argparse.Namespace, current: SftpTarget | None) -> SftpTarget | None:
    if args.sftp is None:
        return current
    match = re.fullmatch(r"([^@\s]+)@([^:/\s]+)(?::(\d+))?(/\S*)", args.sftp)
    if match is None:
        raise ValidationError("sftp", "format", "expected user@host:port/directory")
    key = args.sftp_host_key or (current.host_key if current else None)
    if not key:
        raise ValidationError("sftp_host_key", "required", "pins the server; give its key")
    user, host, port, directory = match.groups()
    return SftpTarget(host, int(port or 22), user, directory, key)


def _apply(args: argparse.Namespace, base: Publisher) -> Publisher:
    prof = base.profile
    scope = prof.scope
    if args.departements is not None or args.communes is not None:
        scope = GeoScope(
            departements=_csv(args.departements) or frozenset(),
            communes=_csv(args.communes) or frozenset(),
        )
    profile = replace(
        prof,
        kind=PublisherKind(args.kind) if args.kind else prof.kind,
        marketing_allowed=(args.marketing == "yes") if args.marketing else prof.marketing_allowed,
        scope=scope,
        fields=_csv(args.fields) or prof.fields,
        choice_policy=ChoicePolicy(args.policy) if args.policy else prof.choice_policy,
        homonymy=HomonymyPolicy(args.homonymy) if args.homonymy else prof.homonymy,
    )
    return replace(
        base,
        profile=profile,
        legal_name=args.name or base.legal_name,
        feed_format=FeedFormat(args.format) if args.format else base.feed_format,
        number_format=NumberFormat(args.numbers) if args.numbers else base.number_format,
        schedule=args.schedule or base.schedule,
        recipient=args.recipient if args.recipient is not None else base.recipient,
        ack_key=args.ack_key.read_text() if args.ack_key is not None else base.ack_key,
        sftp=_sftp(args, base.sftp),
    )


def _describe(p: Publisher) -> str:
    scope = (
        "all France"
        if p.profile.scope.all_france
        else ",".join(sorted(p.profile.scope.departements | p.profile.scope.communes))
    )
    state = "active" if p.active else "disabled"
    return (
        f"{p.id}\t{p.profile.kind.value}\t{state}\t{p.feed_format.value}\t{scope}\t"
        f"{p.schedule}\t{p.legal_name}"
    )


async def _publisher(storage: Storage, args: argparse.Namespace) -> int:
    from directory_svc.services import publishers as svc

    repo = storage.publishers
    if args.action == "list":
        for p in await repo.all():
            print(_describe(p))
        return 0
    if args.action in ("disable", "enable"):
        switch = svc.disable_publisher if args.action == "disable" else svc.enable_publisher
        print(_describe(await switch(repo, args.id)))
        return 0
    if args.action == "add":
        blank = Publisher(
            profile=PublisherProfile(id=args.id, kind=PublisherKind(args.kind)),
            legal_name=args.name,
        )
        print(_describe(await svc.add_publisher(repo, _apply(args, blank))))
        return 0
    # Only the options given change: applied to the latest version, whoever saved it.
    print(_describe(await svc.update_publisher(repo, args.id, None, lambda p: _apply(args, p))))
    return 0


class _Bars:
    """An export's progress on stderr: one tqdm bar per step (keys, records; or changes)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def step(self, name: str, total: int | None) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, unit="listing", desc=f"{self.label}: {name}", file=sys.stderr)

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


async def _export(storage: Storage, settings: Settings, args: argparse.Namespace) -> int:
    from directory_svc.services.publishers import export_now

    if settings.keys_dir is None:
        raise ValidationError("DIRECTORY_KEYS_DIR", "required", "holds the signing key")
    if args.action == "runs":
        for run in await storage.runs.list(args.publisher):
            counts = json.dumps(dict(run.counts), sort_keys=True)
            print(f"{run.seq}\t{run.kind}\t{run.status}\t{run.folder or ''}\t{counts}")
        return 0
    bars = _Bars(f"export {args.publisher}")
    try:
        result = await export_now(
            storage,
            settings.keys_dir,
            args.publisher,
            args.out or settings.feeds_dir,
            args.full,
            bars,
        )
    finally:
        bars.close()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
    print(f"{result.folder}  ({result.kind} #{result.seq}: {counts or 'no change'})")
    if result.delivered:
        print(f"pushed by SFTP: {', '.join(result.delivered)}")
    if result.delivery_error:
        print(f"directory-svc: {result.delivery_error}; it will be retried", file=sys.stderr)
        return 1
    return 0


def verify(args: argparse.Namespace, keys_dir: Path | None) -> int:
    """``export verify``: needs no database."""
    from exporters.manifest import VerificationFailed, load_public_key, verify_folder

    key_path = args.public_key or (keys_dir / "signing.pub" if keys_dir else None)
    if key_path is None:
        print("directory-svc: export verify: give --public-key", file=sys.stderr)
        return 2
    try:
        manifest = verify_folder(args.folder, load_public_key(key_path))
    except VerificationFailed as exc:
        print(f"directory-svc: {args.folder}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.folder}: signature and checksum OK ({manifest['feed']} #{manifest['sequence']})")
    return 0


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run a ``publisher`` or ``export`` command."""

    async def run() -> int:
        from directory_svc.storage.command_counter import CommandCounter
        from directory_svc.storage.setup import open_storage

        counter = CommandCounter()
        storage = await open_storage(settings, listeners=[counter])
        cpu = time.process_time()
        try:
            if args.command == "publisher":
                return await _publisher(storage, args)
            return await _export(storage, settings, args)
        finally:
            await storage.close()
            if args.command == "export" and args.action == "run":
                # What the run cost this process (``make bench`` reads this line).
                print(
                    f"cost: {counter.total} database commands, "
                    f"{time.process_time() - cpu:.3f} s CPU",
                    file=sys.stderr,
                )

    return asyncio.run(run())
