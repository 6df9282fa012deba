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
from directory_svc.domain.listings import Listing
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import open_storage
from tests.conftest import gql, operations, run_operation, token
from tests.localdb import LocalFerretDB

QUERY = 'query Few { listings(first: 3, purpose: "audit") { edges { node { id } } } }'


@pytest.fixture
def own_db(tmp_path: Path) -> Iterator[Any]:
    db = LocalFerretDB(tmp_path / "ferretdb")
    db.start()
    yield db
    db.stop()


def _settings(db: Any, keys_dir: Path, name: str, timeout_s: float) -> Settings:
    """Settings on the test's own FerretDB, with a whole-request deadline of ``timeout_s``."""
    return Settings(
        mongodb_uri=db.uri,
        keys_dir=keys_dir,
        db_name=name,
        env=Env.DEV,
        db_timeout_s=timeout_s,
        jwks=str(keys_dir / "dev-jwks.json"),
    )


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
    settings = _settings(own_db, keys_dir, "outage", 3)
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
    settings = _settings(own_db, keys_dir, "frozen", timeout_s)
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


def _every_operation(listing: Listing) -> list[tuple[str, str, dict[str, Any]]]:
    """(document, operation, variables) for every operation of the customer and support
    documents, with variables that would succeed on a live database."""
    six = {
        "listed": True,
        "initialOnly": False,
        "noGender": False,
        "noStreet": False,
        "noReverseLookup": False,
        "noMarketing": False,
    }
    staff = {"reason": "caller asked", "channel": "PHONE"}
    content = {
        "listingId": listing.id,
        "expectedVersion": 1,
        "changeId": "frozen-content",
        "firstName": listing.first_name,
        "businessNames": list(listing.business_names),
        "publishedNumbers": [n.e164 for n in listing.numbers],
        "extraUsers": [],
        "attested": True,
    }
    change = {"listingId": listing.id, "expectedVersion": 1, **six}
    number = listing.numbers[0].e164
    return [
        ("customer", "Me", {}),
        ("customer", "PreviewChoices", {"input": {"listingId": listing.id, **six}}),
        ("customer", "SaveChoices", {"input": {**change, "changeId": "frozen-c1"}}),
        ("customer", "SaveListing", {"input": content}),
        ("customer", "MyHistory", {}),
        ("customer", "MyDataExport", {}),
        ("support", "LookupByNumber", {"number": number, "purpose": "call"}),
        (
            "support",
            "SearchListings",
            {"surname": listing.surname, "postcode": "75011", "purpose": "call"},
        ),
        ("support", "ChangeChoices", {"input": {**change, "changeId": "frozen-s1", **staff}}),
        ("support", "AccessLog", {"listingId": listing.id}),
        ("support", "ExplainListing", {"id": listing.id, "purpose": "call"}),
        ("support", "OpenReports", {"listingId": listing.id, "purpose": "call"}),
        ("support", "CloseReport", {"id": "r-1", "resolution": "fixed"}),
        ("support", "Account", {"id": listing.account_id, "purpose": "call"}),
        (
            "support",
            "TerminateLine",
            {
                "input": {
                    "listingId": listing.id,
                    "expectedVersion": 1,
                    "changeId": "frozen-t1",
                    **staff,
                }
            },
        ),
    ]


async def test_every_operation_answers_database_unavailable_when_frozen(
    aiohttp_client: Any, own_db: Any, keys_dir: Path
) -> None:
    """Issue 24: whatever stage meets the database (authentication, the mutation rate
    limit, the resolvers, the access log), a frozen database answers DATABASE_UNAVAILABLE
    within the deadline, never a 500."""
    timeout_s = 2.0
    settings = _settings(own_db, keys_dir, "frozen_ops", timeout_s)
    storage = await open_storage(settings)
    await seed_listings(storage.listings, 5, seed=3, accounts=storage.accounts)
    await storage.close()
    listing = next(i for i in demo_listings(5, seed=3) if i.numbers and i.surname)
    bearers = {
        "customer": token(settings, Role.CUSTOMER, account_id=listing.account_id),
        "support": token(settings, Role.SUPPORT),
    }
    admin = token(settings, Role.ADMIN)
    api = await aiohttp_client(create_app(settings))
    calls = _every_operation(listing)
    documents = {name: operations(name) for name in ("customer", "support")}
    assert len((await gql(api, QUERY, bearer=admin))["data"]["listings"]["edges"]) == 3

    async def send(document: str, name: str, variables: dict[str, Any]) -> tuple[float, Any]:
        bearer = admin if name == "AccessLog" else bearers[document]
        start = time.monotonic()
        body = await run_operation(api, documents[document], name, variables, bearer)
        return time.monotonic() - start, body

    own_db.proc.send_signal(signal.SIGSTOP)
    try:
        answers = await asyncio.gather(*(send(*call) for call in calls))
    finally:
        own_db.proc.send_signal(signal.SIGCONT)
    for (document, name, _), (elapsed, body) in zip(calls, answers, strict=True):
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
        assert codes, (document, name, body)
        assert set(codes) == {"DATABASE_UNAVAILABLE"}, (document, name, body)
        assert elapsed <= timeout_s + 2, f"{name} answered after {elapsed:.1f} s"
