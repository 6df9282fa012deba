"""API figures of ``make bench``: look-ups, changes, ``me`` with and without the edge checks,
and a mixed load, each next to its baseline, through real HTTP to child-process servers."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import Server, load, post_graphql, summary
from directory_svc.api.auth import create_dev_keys, mint_dev_token
from directory_svc.config import Env, Settings
from directory_svc.domain.access import Role
from directory_svc.domain.listings import Listing
from directory_svc.domain.numbers import parse_french_number
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import open_storage


def choices_input(item: Listing, version: int, n: int) -> dict[str, Any]:
    c = item.choices
    return {
        "listingId": item.id,
        "expectedVersion": version,
        "changeId": f"b{time.time_ns()}-{n}",
        "listed": c.listed,
        "initialOnly": c.initial_only,
        "noGender": c.no_gender,
        "noStreet": c.no_street,
        "noReverseLookup": c.no_reverse_lookup,
        "noMarketing": n % 2 == 0,
    }


async def api_figures(
    uri: str, keys: Path, count: int, step: Callable[[str], None], mixed_s: float
) -> dict[str, Any]:
    """Every API figure on a database of ``count`` listings (see module docstring)."""
    create_dev_keys(keys)
    settings = Settings(
        mongodb_uri=uri,
        keys_dir=keys,
        db_name=f"bench_api_{count}",
        env=Env.DEV,
        jwks=str(keys / "dev-jwks.json"),
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
        "DIRECTORY_LOOKUPS_PER_HOUR": "1000000",
        "DIRECTORY_MUTATIONS_PER_MINUTE": "1000000",
        "DIRECTORY_LOG_LEVEL": "INFO",
    }
    listings = list(demo_listings(count, seed=3))
    rng = random.Random(5)
    numbers = [parse_french_number(i.numbers[0].e164).national for i in listings]
    support = mint_dev_token(keys, settings.tokens, Role.SUPPORT, subject="bench-agent", ttl_s=7200)

    def customer(item: Listing) -> str:
        return mint_dev_token(
            keys, settings.tokens, Role.CUSTOMER, account_id=item.account_id, ttl_s=7200
        )

    figures: dict[str, Any] = {"listings": count}
    per_level = int(os.environ.get("BENCH_API_REQUESTS", "200"))
    async with Server("full", env) as full, Server("bare", env) as bare:
        step(f"look-ups through the full stack and the bare handler ({per_level} per level)")

        async def full_lookup(session: aiohttp.ClientSession, n: int) -> None:
            number = numbers[rng.randrange(len(numbers))]
            await post_graphql(
                session, full.url, "LookupByNumber", {"number": number, "purpose": "bench"}, support
            )

        async def bare_lookup(session: aiohttp.ClientSession, n: int) -> None:
            number = numbers[rng.randrange(len(numbers))]
            async with session.get(f"{bare.url}/lookup", params={"number": number}) as r:
                if r.status != 200:
                    raise RuntimeError("bare look-up failed")
                await r.read()

        lookups = {}
        for clients in (1, 16, 64):
            f = await load(full_lookup, clients, per_level)
            b = await load(bare_lookup, clients, per_level)
            lookups[str(clients)] = {"full": f, "bare": b, "ratio": f["rps"] / b["rps"]}
            step(
                f"  {clients} clients: {f['rps']:.0f}/s vs bare {b['rps']:.0f}/s, "
                f"p99 {f['p99_ms']:.0f} ms"
            )
        figures["lookup"] = lookups

        step("surname searches through the full stack and the bare handler (16 clients)")

        async def full_search(session: aiohttp.ClientSession, n: int) -> None:
            item = listings[rng.randrange(len(listings))]
            variables = {"surname": item.surname, "commune": item.address.insee_code,
                         "purpose": "bench"}  # fmt: skip
            await post_graphql(session, full.url, "SearchListings", variables, support)

        async def bare_search(session: aiohttp.ClientSession, n: int) -> None:
            item = listings[rng.randrange(len(listings))]
            params = {"surname": item.surname, "commune": item.address.insee_code}
            async with session.get(f"{bare.url}/search", params=params) as r:
                if r.status != 200:
                    raise RuntimeError("bare search failed")
                await r.read()

        f = await load(full_search, 16, per_level)
        b = await load(bare_search, 16, per_level)
        figures["search"] = {"full": f, "bare": b, "ratio": f["rps"] / b["rps"], "clients": 16}
        step(f"  {f['rps']:.1f}/s vs bare {b['rps']:.1f}/s, p99 {f['p99_ms']:.0f} ms")

        step("preference changes through the full stack vs a bare update_one")
        writers = listings[: min(32, len(listings) // 4)]
        bare_writers = listings[-len(writers) :]
        versions = {i.id: 1 for i in writers}
        tokens = {i.id: customer(i) for i in writers}
        locks = {i.id: asyncio.Lock() for i in writers}

        async def full_change(session: aiohttp.ClientSession, n: int) -> None:
            item = writers[n % len(writers)]
            async with locks[item.id]:
                data = await post_graphql(
                    session,
                    full.url,
                    "SaveChoices",
                    {"input": choices_input(item, versions[item.id], n)},
                    tokens[item.id],
                )
                outcome = data["changeChoices"]
                if outcome["__typename"] != "ChangeApplied":
                    raise RuntimeError(outcome["__typename"])
                versions[item.id] = outcome["listing"]["version"]

        async def bare_change(session: aiohttp.ClientSession, n: int) -> None:
            item = bare_writers[n % len(bare_writers)]
            async with session.post(f"{bare.url}/update", params={"id": item.id}) as r:
                if r.status != 200:
                    raise RuntimeError("bare update failed")
                await r.read()

        clients = 16
        f = await load(full_change, clients, per_level)
        b = await load(bare_change, clients, per_level)
        figures["change"] = {"full": f, "bare": b, "ratio": f["rps"] / b["rps"], "clients": clients}
        step(f"  {f['rps']:.0f} changes/s vs bare {b['rps']:.0f}/s")

        step(f"mixed load for {mixed_s:.0f} s: 90% look-ups and me, 10% changes, 50 clients")
        figures["mixed"] = await mixed_load(
            full.url, listings, writers, versions, tokens, support, numbers, mixed_s
        )
        await verify_no_lost_update(settings, figures["mixed"], versions)

    step("me through the full stack, with and without the edge checks")
    owners = [customer(i) for i in listings[:50]]
    me_figures = {}
    for mode in ("full", "unchecked"):
        async with Server(mode, env) as server:

            async def me(session: aiohttp.ClientSession, n: int, url: str = server.url) -> None:
                await post_graphql(session, url, "Me", {}, owners[n % len(owners)])

            me_figures[mode] = await load(me, 16, per_level)
    figures["me"] = {
        "checked": me_figures["full"],
        "unchecked": me_figures["unchecked"],
        "cost": 1 - me_figures["full"]["rps"] / me_figures["unchecked"]["rps"],
    }
    step(
        f"  me {me_figures['full']['rps']:.1f}/s with checks, "
        f"{me_figures['unchecked']['rps']:.1f}/s without"
    )
    return figures


async def mixed_load(
    url: str,
    listings: list[Listing],
    writers: list[Listing],
    versions: dict[str, int],
    tokens: dict[str, str],
    support: str,
    numbers: list[str],
    seconds: float,
) -> dict[str, Any]:
    """50 clients for ``seconds``: 45% look-ups, 45% ``me``, 10% changes of their own line."""
    rng = random.Random(9)
    latencies: list[float] = []
    errors = 0
    applied = {i.id: 0 for i in writers}
    locks = {i.id: asyncio.Lock() for i in writers}
    deadline = time.perf_counter() + seconds

    async def client(k: int, session: aiohttp.ClientSession) -> None:
        nonlocal errors
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            roll = rng.random()
            start = time.perf_counter()
            try:
                if roll < 0.45:
                    await post_graphql(
                        session,
                        url,
                        "LookupByNumber",
                        {"number": numbers[rng.randrange(len(numbers))], "purpose": "bench"},
                        support,
                    )
                elif roll < 0.9:
                    item = writers[k % len(writers)]
                    await post_graphql(session, url, "Me", {}, tokens[item.id])
                else:
                    item = writers[k % len(writers)]
                    async with locks[item.id]:
                        data = await post_graphql(
                            session,
                            url,
                            "SaveChoices",
                            {"input": choices_input(item, versions[item.id], n)},
                            tokens[item.id],
                        )
                        outcome = data["changeChoices"]
                        if outcome["__typename"] != "ChangeApplied":
                            raise RuntimeError(outcome["__typename"])
                        versions[item.id] = outcome["listing"]["version"]
                        applied[item.id] += 1
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
        await asyncio.gather(*(client(k, session) for k in range(50)))
    result: dict[str, Any] = summary(latencies, time.perf_counter() - start, errors)
    result["changes_acknowledged"] = sum(applied.values())
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
