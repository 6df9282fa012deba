"""``directory-svc``: serve the API, seed demo data, export the GraphQL schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from directory_svc.config import ConfigError, Settings, load_settings
from directory_svc.observability import configure_logging
from directory_svc.storage.client import DatabaseUnreachable, create_client, mask_uri, ping
from directory_svc.storage.listings import ListingRepository

log = logging.getLogger("directory_svc")


def _fail(message: str, code: int = 2) -> int:
    print(f"directory-svc: {message}", file=sys.stderr)
    return code


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


async def _seed(settings: Settings, count: int, seed: int, if_empty: bool) -> int:
    from directory_svc.services.seed import seed_listings

    client = create_client(settings)
    try:
        await ping(client, settings.db_timeout_s + 1)
        repo = ListingRepository.for_client(client, settings.db_name)
        if if_empty and await repo.count() > 0:
            print("database already holds listings; not seeding", file=sys.stderr)
            return 0
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            print(f"\rseeding listings: {done}/{count}", end="", file=sys.stderr, flush=True)

        added = await seed_listings(repo, count, seed, progress)
        print(file=sys.stderr)
        print(f"seeded {added} new listings ({count - added} already present)")
        return 0
    finally:
        await client.close()


def _export_schema(output: str | None) -> int:
    from directory_svc.api.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if output is None:
        sys.stdout.write(sdl)
    else:
        Path(output).write_text(sdl, encoding="utf-8")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (also used by the tests)."""
    parser = argparse.ArgumentParser(prog="directory-svc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the GraphQL API and health endpoints")
    seed = sub.add_parser("seed", help="store realistic French demo listings")
    seed.add_argument("--count", type=int, required=True, help="how many listings")
    seed.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    seed.add_argument("--if-empty", action="store_true", help="only when no listing exists")
    schema = sub.add_parser("schema", help="print the GraphQL SDL (or write it to --output)")
    schema.add_argument("--output", help="file to write instead of standard output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``directory-svc`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "schema":
        return _export_schema(args.output)
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}")
    configure_logging(settings.log_level)
    try:
        if args.command == "serve":
            return _serve(settings)
        if args.command == "seed":
            if args.count < 0:
                return _fail("--count must be zero or more")
            return asyncio.run(_seed(settings, args.count, args.seed, args.if_empty))
    except DatabaseUnreachable as exc:
        return _fail(f"cannot reach the database at {mask_uri(settings.mongodb_uri)}: {exc}", 3)
    except KeyboardInterrupt:
        return 130
    return _fail(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
