"""``directory-svc``: serve the API, seed and import listings, manage keys, verify history."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from directory_svc import cli_applier, cli_feeds, cli_lines, cli_maintenance
from directory_svc.cli_output import fail, progress
from directory_svc.config import ConfigError, Settings, load_settings
from directory_svc.domain.access import Role
from directory_svc.domain.errors import DomainError

if TYPE_CHECKING:
    from directory_svc.storage.setup import Storage


def _serve(settings: Settings) -> int:
    from aiohttp import web

    from directory_svc.app import create_app

    base = f"http://{settings.host}:{settings.port}"
    banner = (
        f"directory-svc serving on {base}  (GraphQL {base}/graphql, ready {base}/readyz, "
        f"metrics {base}/metrics)"
    )
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=lambda _started: print(banner, flush=True),  # once the database answered
        access_log=None,
        shutdown_timeout=10,
        handle_signals=True,
    )
    print("directory-svc stopped", flush=True)
    return 0


async def _with_storage(settings: Settings, work: Callable[[Storage], Awaitable[int]]) -> int:
    from directory_svc.storage.setup import open_storage

    storage = await open_storage(settings)
    try:
        return await work(storage)
    finally:
        await storage.close()


async def _seed(storage: Storage, count: int, seed: int, if_empty: bool) -> int:
    from directory_svc.services.seed import seed_listings

    if if_empty and await storage.listings.count() > 0:
        print("database already holds listings; not seeding", file=sys.stderr)
        return 0
    added = await seed_listings(
        storage.listings, count, seed, progress("seeding", count), accounts=storage.accounts
    )
    print(file=sys.stderr)
    print(f"seeded {added} new listings ({count - added} already present)")
    return 0


async def _import(storage: Storage, path: Path, encoding: str | None) -> int:
    from directory_svc.services.import_text import UnreadableFile
    from directory_svc.services.importer import import_file

    raw = await asyncio.to_thread(path.read_bytes)
    try:
        report = await import_file(
            storage.listings,
            storage.accounts,
            path.name,
            raw,
            progress("importing", None),
            encoding=encoding,
        )
    except UnreadableFile as exc:
        return fail(f"import: {exc}", 1)
    print(file=sys.stderr)
    print(f"read {path.name} as {report.encoding}", file=sys.stderr)
    for line, reason in report.rejected:
        print(f"{path.name}:{line}: rejected: {reason}", file=sys.stderr)
    for line, note in report.notes:
        print(f"{path.name}:{line}: {note}", file=sys.stderr)
    print(
        f"imported {path.name}: {report.created} new, {report.changed} changed, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected; "
        f"{report.choice_changes} choice changes"
    )
    return 1 if report.rejected else 0


def _mint(args: argparse.Namespace) -> int:
    from directory_svc.api.auth import mint_dev_token

    try:
        # Minting needs no database: only the environment, keys and token settings.
        settings = load_settings({"MONGODB_URI": "mongodb://unused/", **os.environ})
    except ConfigError as exc:
        return fail(f"configuration error: {exc}")
    if not settings.is_dev or settings.keys_dir is None:
        return fail("token mint is for development only (DIRECTORY_ENV=dev with a key directory)")
    role = Role(args.role)
    if role is Role.CUSTOMER and not args.account:
        return fail("a customer token needs --account")
    if role is Role.PUBLISHER and not args.publisher:
        return fail("a publisher token needs --publisher")
    print(
        mint_dev_token(
            settings.keys_dir,
            settings.tokens,
            role,
            account_id=args.account,
            publisher_id=args.publisher,
            ttl_s=args.ttl,
        )
    )
    return 0


def _export_schema(output: str | None) -> int:
    from directory_svc.api.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if output is None:
        sys.stdout.write(sdl)
    else:
        Path(output).write_text(sdl, encoding="utf-8")
    return 0


class _Version(argparse.Action):
    """Prints the release and its stored-format version (imported only when asked)."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        from importlib.metadata import version

        from directory_svc.storage.migrations import SCHEMA_VERSION

        print(f"directory-svc {version('directory-svc')} (stored format {SCHEMA_VERSION})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (also used by the tests)."""
    parser = argparse.ArgumentParser(prog="directory-svc", description=__doc__)
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="the release and the stored format it needs"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the GraphQL API and health endpoints")
    seed = sub.add_parser("seed", help="store realistic French demo listings")
    seed.add_argument("--count", type=int, required=True, help="how many listings")
    seed.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    seed.add_argument("--if-empty", action="store_true", help="only when no listing exists")
    imp = sub.add_parser("import", help="import listings from a CSV or JSON Lines file")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--encoding",
        help="the file's encoding (default: UTF-8, with or without a byte-order mark, else "
        "Windows-1252 as French Excel saves CSV)",
    )
    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("init", help="create the key directory if it has no keys")
    keys.add_parser("rotate", help="add a new data key and re-encrypt every listing")
    retire = keys.add_parser("retire", help="delete an old data key nothing uses")
    retire.add_argument("kid")
    cli_maintenance.add_parsers(sub, keys)
    history = sub.add_parser("history", help="history chains").add_subparsers(
        dest="action", required=True
    )
    history.add_parser("verify", help="check every listing's history chain")
    token = sub.add_parser("token", help="development tokens").add_subparsers(
        dest="action", required=True
    )
    mint = token.add_parser("mint", help="mint a dev token (only with DIRECTORY_ENV=dev)")
    mint.add_argument("--role", required=True, choices=[r.value for r in Role])
    mint.add_argument("--account", help="account id (customer tokens)")
    mint.add_argument("--publisher", help="publisher id (publisher tokens)")
    mint.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    cli_lines.add_parsers(sub)
    cli_feeds.add_parsers(sub)
    cli_applier.add_parsers(sub)
    schema = sub.add_parser("schema", help="print the GraphQL SDL (or write it to --output)")
    schema.add_argument("--output", help="file to write instead of standard output")
    return parser


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        try:
            settings.require_tokens()
        except ConfigError as exc:
            return fail(f"configuration error: {exc}")
        return _serve(settings)
    if args.command == "seed":
        if args.count < 0:
            return fail("--count must be zero or more")
        return asyncio.run(
            _with_storage(settings, lambda s: _seed(s, args.count, args.seed, args.if_empty))
        )
    if args.command == "import":
        if not args.file.is_file():
            return fail(f"no such file: {args.file}")
        return asyncio.run(_with_storage(settings, lambda s: _import(s, args.file, args.encoding)))
    if args.command == "keys":
        keys_dir = settings.keys_dir
        if keys_dir is None:
            return fail("keys rotate/retire write key files: set DIRECTORY_KEYS_DIR")
        if args.action == "rotate":
            work = cli_maintenance.rotate(keys_dir)
        else:
            work = cli_maintenance.retire(keys_dir, args.kid)
        return asyncio.run(_with_storage(settings, work))
    if args.command == "history":
        return asyncio.run(_with_storage(settings, cli_maintenance.verify))
    if args.command == "migrate":
        return cli_maintenance.run_migrate(args, settings)
    if args.command in ("line", "purge", "audit"):
        return cli_lines.dispatch(args, settings, fail)
    if args.command in ("publisher", "export"):
        return cli_feeds.dispatch(args, settings)
    return fail(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``directory-svc`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "schema":
        return _export_schema(args.output)
    if args.command == "feed":  # the publisher's side: no database, no settings
        return cli_applier.run(args)
    if args.command == "export" and args.action == "verify":
        keys = os.environ.get("DIRECTORY_KEYS_DIR", "").strip()
        return cli_feeds.verify(args, Path(keys) if keys else None)
    if args.command == "keys" and args.action in ("init", "escrow", "restore"):
        keys_dir = os.environ.get("DIRECTORY_KEYS_DIR", "").strip()
        if not keys_dir:
            return fail("configuration error: DIRECTORY_KEYS_DIR: not set")
        if args.action != "init":
            return cli_maintenance.run_keys(args, Path(keys_dir))
        from directory_svc.storage.keys import init_keys

        created = init_keys(Path(keys_dir))
        if os.environ.get("DIRECTORY_ENV", "").strip().lower() == "dev":
            from directory_svc.api.auth import create_dev_keys

            create_dev_keys(Path(keys_dir))
        print(f"{'created' if created else 'kept existing'} keys in {keys_dir}")
        return 0
    if args.command == "token":
        return _mint(args)
    try:
        settings = load_settings()
    except ConfigError as exc:
        return fail(f"configuration error: {exc}")
    # The database and logging machinery only for the commands that need them (start time).
    from directory_svc.observability import configure_logging
    from directory_svc.storage.client import DatabaseUnreachable, mask_uri
    from directory_svc.storage.keys import KeyFileError
    from directory_svc.storage.schema import SchemaMismatch

    configure_logging(settings.log_level)
    try:
        return _dispatch(args, settings)
    except DatabaseUnreachable as exc:
        return fail(f"cannot reach the database at {mask_uri(settings.mongodb_uri)}: {exc}", 3)
    except KeyFileError as exc:
        return fail(f"keys: {exc}", 4)
    except SchemaMismatch as exc:
        return fail(str(exc), 5)
    except ConfigError as exc:
        return fail(f"configuration error: {exc}")
    except DomainError as exc:
        return fail(str(exc), 1)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
