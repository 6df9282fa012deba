"""The database goes away while the service runs, then comes back."""

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from directory_svc.api.errors import DATABASE_UNAVAILABLE
from directory_svc.app import create_app
from directory_svc.config import Env, Settings
from directory_svc.domain.access import Role
from directory_svc.services.seed import seed_listings
from directory_svc.storage.setup import open_storage
from tests.conftest import gql, token
from tests.localdb import LocalFerretDB

QUERY = 'query Few { listings(first: 3, purpose: "audit") { edges { node { id } } } }'


@pytest.fixture
def own_db(tmp_path: Path) -> Iterator[Any]:
    db = LocalFerretDB(tmp_path / "ferretdb")
    db.start()
    yield db
    db.stop()


async def _until(check: Any, limit_s: float) -> float:
    """Seconds until ``await check()`` is true; fails after ``limit_s``."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < limit_s, f"not reached within {limit_s} s"
        await asyncio.sleep(0.2)
    return time.monotonic() - start


async def test_readiness_and_queries_follow_the_database(
    aiohttp_client: Any, own_db: Any, keys_dir: Path
) -> None:
    settings = Settings(
        mongodb_uri=own_db.uri,
        keys_dir=keys_dir,
        db_name="outage",
        env=Env.DEV,
        db_timeout_s=3,
        jwks=str(keys_dir / "dev-jwks.json"),
    )
    storage = await open_storage(settings)
    await seed_listings(storage.listings, 5, seed=1)
    await storage.close()
    admin = token(settings, Role.ADMIN)
    api = await aiohttp_client(create_app(settings), headers={"Authorization": f"Bearer {admin}"})

    async def ready() -> bool:
        return (await api.get("/readyz")).status == 200

    await _until(ready, 120)  # once the start-up index build is over

    own_db.stop()

    async def not_ready() -> bool:
        resp = await api.get("/readyz")
        body = await resp.json()
        return resp.status == 503 and body["reason"].startswith("database unreachable")

    assert await _until(not_ready, 5) < 5
    resp = await api.post("/graphql", json={"query": QUERY})
    text = await resp.text()
    body = await resp.json()
    assert body["errors"][0]["message"] == DATABASE_UNAVAILABLE
    assert body["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    for internal in ("Traceback", "pymongo", "127.0.0.1", "Timeout"):
        assert internal not in text
    metrics = await (await api.get("/metrics")).text()
    assert "directory_database_errors_total" in metrics

    own_db.start()
    await _until(ready, 15)
    body = await gql(api, QUERY)
    assert len(body["data"]["listings"]["edges"]) == 3


async def test_a_frozen_database_fails_requests_within_the_deadline(
    aiohttp_client: Any, own_db: Any, keys_dir: Path
) -> None:
    """Issue 16, item 7: the server stops answering (SIGSTOP) with connections open."""
    timeout_s = 2.0
    settings = Settings(
        mongodb_uri=own_db.uri,
        keys_dir=keys_dir,
        db_name="frozen",
        env=Env.DEV,
        db_timeout_s=timeout_s,
        jwks=str(keys_dir / "dev-jwks.json"),
    )
    storage = await open_storage(settings)
    await seed_listings(storage.listings, 5, seed=1)
    await storage.close()
    admin = token(settings, Role.ADMIN)
    api = await aiohttp_client(create_app(settings), headers={"Authorization": f"Bearer {admin}"})
    assert len((await gql(api, QUERY))["data"]["listings"]["edges"]) == 3  # pool is warm
    own_db.proc.send_signal(signal.SIGSTOP)
    try:
        start = time.monotonic()
        resp = await api.post("/graphql", json={"query": QUERY})
        elapsed = time.monotonic() - start
        body = await resp.json()
    finally:
        own_db.proc.send_signal(signal.SIGCONT)
    assert body["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert elapsed <= timeout_s + 1, f"answered after {elapsed:.1f} s"
