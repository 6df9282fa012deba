"""The calls ``make bench`` measures, one per hot path, as a client sends them.

Shared by the child-process figures (``bench/api.py``) and the in-process profiles
(``bench/profile_api.py``). Each writer changes only its own listing, one change at a time,
with the version the service last answered: no conflict is expected, and any is an error.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import post_graphql
from directory_svc.api.auth import mint_dev_token
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.listings import Listing
from directory_svc.domain.numbers import parse_french_number
from directory_svc.services.seed import demo_listings

Call = Callable[[aiohttp.ClientSession, int], Awaitable[None]]
BIN = Path(sys.executable).parent / "directory-svc"
PUBLISHER = "bench-pub"


def choices_input(item: Listing, version: int, n: int) -> dict[str, Any]:
    """SaveChoices input flipping the no-marketing choice (by version: every call changes
    it, whichever writer a call number picks)."""
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
        "noMarketing": version % 2 == 0,
    }


def content_input(item: Listing, version: int, n: int) -> dict[str, Any]:
    """SaveListing input changing the mention (by version, as ``choices_input``)."""
    return {
        "listingId": item.id,
        "expectedVersion": version,
        "changeId": f"c{time.time_ns()}-{n}",
        "firstName": item.first_name,
        "businessNames": list(item.business_names),
        "profession": item.profession,
        "mention": f"bench {version % 2}",
        "email": item.email,
        "publishedNumbers": [x.e164 for x in item.numbers if x.published],
        "extraUsers": [],
        "attested": True,
    }


class Calls:
    """Call factories for one seeded database (``demo_listings(count, seed=3)``)."""

    names = (
        "lookup",
        "search",
        "me",
        "myHistory",
        "changeChoices",
        "changeListing",
        "feedDownload",
    )

    def __init__(self, settings: Settings, count: int, writers: int = 32) -> None:
        assert settings.keys_dir is not None
        self.settings = settings
        self.keys = settings.keys_dir
        self.listings = list(demo_listings(count, seed=3))
        self.numbers = [parse_french_number(i.numbers[0].e164).national for i in self.listings]
        self.rng = random.Random(5)
        self.support = self.token(Role.SUPPORT, subject="bench-agent")
        self.writers = self.listings[: min(writers, len(self.listings) // 4)]
        self.versions = {i.id: 1 for i in self.writers}
        self.tokens = {
            i.id: self.token(Role.CUSTOMER, account_id=i.account_id) for i in self.writers
        }
        self.locks = {i.id: asyncio.Lock() for i in self.writers}
        self.publisher_token = self.token(Role.PUBLISHER, publisher_id=PUBLISHER)
        self.feed_path = ""

    def token(self, role: Role, **claims: Any) -> str:
        return mint_dev_token(self.keys, self.settings.tokens, role, ttl_s=4 * 3600, **claims)

    async def prepare_feed(self) -> None:
        """One full feed of the bench publisher in the feeds folder, for the download."""
        env = {
            "DIRECTORY_KEYS_DIR": str(self.keys),
            "DIRECTORY_DB": self.settings.db_name,
            "MONGODB_URI": self.settings.mongodb_uri,
            "DIRECTORY_FEEDS_DIR": str(self.settings.feeds_dir),
            "PATH": "/usr/bin:/bin",
        }

        def run(*args: str) -> str:
            done = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True)
            return done.stdout

        if PUBLISHER not in run("publisher", "list"):
            run("publisher", "add", PUBLISHER, "--name", "Bench publisher", "--kind", "directory")
        folder = run("export", "run", "--publisher", PUBLISHER, "--full").split()[0]
        payload = next(p for p in Path(folder).iterdir() if p.name.startswith("feed."))
        self.feed_path = f"/feeds/{Path(folder).name}/{payload.name}"

    def call(self, name: str, base: str) -> Call:
        """The call named ``name`` against the service at ``base``."""
        url = base.rstrip("/")
        rng, listings = self.rng, self.listings

        async def lookup(session: aiohttp.ClientSession, n: int) -> None:
            number = self.numbers[rng.randrange(len(self.numbers))]
            variables = {"number": number, "purpose": "bench"}
            await post_graphql(session, url, "LookupByNumber", variables, self.support)

        async def search(session: aiohttp.ClientSession, n: int) -> None:
            item = listings[rng.randrange(len(listings))]
            variables = {
                "surname": item.surname,
                "commune": item.address.insee_code,
                "purpose": "bench",
            }
            await post_graphql(session, url, "SearchListings", variables, self.support)

        async def me(session: aiohttp.ClientSession, n: int) -> None:
            item = self.writers[n % len(self.writers)]
            await post_graphql(session, url, "Me", {}, self.tokens[item.id])

        async def my_history(session: aiohttp.ClientSession, n: int) -> None:
            item = self.writers[n % len(self.writers)]
            await post_graphql(session, url, "MyHistory", {}, self.tokens[item.id])

        def change(operation: str, field: str, build: Callable[..., dict[str, Any]]) -> Call:
            async def one(session: aiohttp.ClientSession, n: int) -> None:
                item = self.writers[n % len(self.writers)]
                async with self.locks[item.id]:
                    variables = {"input": build(item, self.versions[item.id], n)}
                    data = await post_graphql(
                        session, url, operation, variables, self.tokens[item.id]
                    )
                    outcome = data[field]
                    if outcome["__typename"] != "ChangeApplied":
                        raise RuntimeError(outcome["__typename"])
                    self.versions[item.id] = outcome["listing"]["version"]

            return one

        async def feed_download(session: aiohttp.ClientSession, n: int) -> None:
            headers = {"Authorization": f"Bearer {self.publisher_token}"}
            async with session.get(url + self.feed_path, headers=headers) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"feed download: HTTP {resp.status}")
                await resp.read()

        calls: dict[str, Call] = {
            "lookup": lookup,
            "search": search,
            "me": me,
            "myHistory": my_history,
            "changeChoices": change("SaveChoices", "changeChoices", choices_input),
            "changeListing": change("SaveListing", "changeListing", content_input),
            "feedDownload": feed_download,
        }
        return calls[name]
