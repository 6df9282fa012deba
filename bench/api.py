"""API figures of ``make bench``: every hot path through real HTTP to a child-process server,
with the server's CPU time and database commands per call, next to the bare handler's
(``bench/servers.py``), plus ``me`` without the edge checks, a mixed load and the CLI's
start time."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.calls import BIN, Calls, choices_input
from bench.load import Call, Server, load, post_graphql, summary
from directory_svc.api.auth import create_dev_keys
from directory_svc.config import Env, Settings
from directory_svc.services.seed import seed_listings
from directory_svc.storage.setup import open_storage

CLIENTS = 16


def bare_calls(url: str, calls: Calls) -> dict[str, Call]:
    """The bare handler's version of the calls that have one."""
    rng, listings = random.Random(5), calls.listings

    async def get(session: aiohttp.ClientSession, path: str, params: dict[str, str]) -> None:
        async with session.get(f"{url}{path}", params=params) as r:
            if r.status != 200:
                raise RuntimeError(f"bare {path}: HTTP {r.status}")
            await r.read()

    async def lookup(session: aiohttp.ClientSession, n: int) -> None:
        await get(session, "/lookup", {"number": calls.numbers[rng.randrange(len(listings))]})

    async def search(session: aiohttp.ClientSession, n: int) -> None:
        item = listings[rng.randrange(len(listings))]
        await get(session, "/search", {"surname": item.surname, "commune": item.address.insee_code})

    writers = listings[-len(calls.writers) :]

    async def update(session: aiohttp.ClientSession, n: int) -> None:
        item = writers[n % len(writers)]
        async with session.post(f"{url}/update", params={"id": item.id}) as r:
            if r.status != 200:
                raise RuntimeError("bare update failed")
            await r.read()

    return {"lookup": lookup, "search": search, "changeChoices": update}


def cli_start(args: list[str], env: dict[str, str], rounds: int = 5) -> float:
    """Median wall seconds of a CLI command that needs no server."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([str(BIN), *args], env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def api_figures(
    uri: str, keys: Path, count: int, step: Callable[[str], None], mixed_s: float
) -> dict[str, Any]:
    """Every API figure on a database of ``count`` listings (see module docstring)."""
    create_dev_keys(keys)
    feeds = keys / "feeds"
    feeds.mkdir(exist_ok=True)
    settings = Settings(
        mongodb_uri=uri,
        keys_dir=keys,
        db_name=f"bench_api_{count}",
        env=Env.DEV,
        jwks=str(keys / "dev-jwks.json"),
        feeds_dir=feeds,
    )
    storage = await open_storage(settings)
    if await storage.listings.count() < count:
        step(f"seeding {count:,} listings with their accounts into {settings.db_name}")
        await seed_listings(storage.listings, count, seed=3, accounts=storage.accounts)
    await storage.close()
    env = {
        **os.environ,
        "DIRECTORY_KEYS_DIR": str(keys),
        "DIRECTORY_DB": settings.db_name,
        "DIRECTORY_ENV": "dev",
        "DIRECTORY_FEEDS_DIR": str(feeds),
        "DIRECTORY_LOOKUPS_PER_HOUR": "1000000",
        "DIRECTORY_STAFF_READS_PER_HOUR": "10000000",
        "DIRECTORY_MUTATIONS_PER_MINUTE": "1000000",
        "DIRECTORY_LOG_LEVEL": "INFO",
        # FerretDB scans for every query and serves them about one at a time: with the
        # default 5 s request deadline, 16 clients time out in the queue and the figures
        # would count failures. The cost per call is what is measured here.
        "DIRECTORY_DB_TIMEOUT": os.environ.get("BENCH_DB_TIMEOUT", "30"),
    }
    calls = Calls(settings, count)
    step("one full feed for the download figure")
    await calls.prepare_feed()
    figures: dict[str, Any] = {"listings": count, "operations": {}}
    per_level = int(os.environ.get("BENCH_API_REQUESTS", "200"))
    async with Server("full", env) as full, Server("bare", env) as bare:
        bare_ops = bare_calls(bare.url, calls)
        for name in Calls.names:
            levels = (1, CLIENTS, 64) if name == "lookup" else (CLIENTS,)
            rows = {}
            for clients in levels:
                step(f"{name}: {per_level} calls, {clients} clients")
                row: dict[str, Any] = {
                    "clients": clients,
                    "full": await load(calls.call(name, full.url), clients, per_level, meter=full),
                }
                if name in bare_ops:
                    row["bare"] = await load(bare_ops[name], clients, per_level, meter=bare)
                    row["ratio"] = row["full"]["rps"] / row["bare"]["rps"]
                f = row["full"]
                step(
                    f"  {f['rps']:.1f}/s, p99 {f['p99_ms']:.0f} ms, "
                    f"{f['cpu_ms']:.2f} ms CPU and {f['commands']:.2f} commands per call"
                )
                rows[str(clients)] = row
            figures["operations"][name] = rows

        step(f"mixed load for {mixed_s:.0f} s: 45% look-ups, 45% me, 10% changes, 50 clients")
        figures["mixed"] = await mixed_load(full.url, calls, mixed_s)
        await verify_no_lost_update(settings, figures["mixed"], calls.versions)

    step("me through the full stack, with and without the edge checks")
    me_figures = {}
    for mode in ("full", "unchecked"):
        async with Server(mode, env) as server:
            me_figures[mode] = await load(
                calls.call("me", server.url), CLIENTS, per_level, meter=server
            )
    figures["me_edge"] = {
        "checked": me_figures["full"],
        "unchecked": me_figures["unchecked"],
        "cost": 1 - me_figures["full"]["rps"] / me_figures["unchecked"]["rps"],
    }
    step("CLI start times")
    folder = next(p for p in feeds.iterdir() if p.is_dir())
    figures["cli"] = {
        "help_s": cli_start(["--help"], env),
        "export_verify_s": cli_start(["export", "verify", str(folder)], env),
    }
    return figures


async def mixed_load(url: str, calls: Calls, seconds: float) -> dict[str, Any]:
    """50 clients for ``seconds``: 45% look-ups, 45% ``me``, 10% changes of their own line."""
    rng = random.Random(9)
    latencies: list[float] = []
    errors = shed = 0
    applied = 0
    deadline = time.perf_counter() + seconds
    lookup, me = calls.call("lookup", url), calls.call("me", url)

    async def client(k: int, session: aiohttp.ClientSession) -> None:
        nonlocal errors, shed, applied
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            roll = rng.random()
            start = time.perf_counter()
            try:
                if roll < 0.45:
                    await lookup(session, n)
                elif roll < 0.9:
                    await me(session, k)
                else:
                    item = calls.writers[k % len(calls.writers)]
                    async with calls.locks[item.id]:
                        variables = {"input": choices_input(item, calls.versions[item.id], n)}
                        data = await post_graphql(
                            session, url, "SaveChoices", variables, calls.tokens[item.id]
                        )
                        outcome = data["changeChoices"]
                        if outcome["__typename"] != "ChangeApplied":
                            raise RuntimeError(outcome["__typename"])
                        calls.versions[item.id] = outcome["listing"]["version"]
                        applied += 1
            except Exception as exc:
                if "HTTP 503" in str(exc):
                    shed += 1
                else:
                    errors += 1
                continue
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
        await asyncio.gather(*(client(k, session) for k in range(50)))
    result: dict[str, Any] = summary(latencies, time.perf_counter() - start, errors)
    result["shed_503"] = shed
    result["changes_acknowledged"] = applied
    return result


async def verify_no_lost_update(
    settings: Settings, mixed: dict[str, Any], versions: dict[str, int]
) -> None:
    """Every acknowledged change is in the database: the stored version is the last one."""
    storage = await open_storage(settings)
    lost = 0
    for listing_id, version in versions.items():
        stored = await storage.listings.get(listing_id)
        if stored is None or stored.version != version:
            lost += 1
    await storage.close()
    mixed["lost_updates"] = lost
