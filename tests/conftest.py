"""Shared fixtures: a real database server (FerretDB started by `make test`, or MONGODB_URI)."""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from directory_svc import clock
from directory_svc.api.auth import create_dev_keys, mint_dev_token
from directory_svc.api.trusted import split_operations
from directory_svc.app import create_app
from directory_svc.config import Env, Settings
from directory_svc.domain.access import Role
from directory_svc.observability import JsonFormatter
from directory_svc.services import seed as seed_module
from directory_svc.storage.keys import init_keys
from directory_svc.storage.listings import ListingRepository
from directory_svc.storage.setup import Storage, open_storage

# ---- The suite's log, for the personal-data check (tests/test_zz_logs_hold_no_personal_data.py)

TEST_OUTPUT = Path(os.environ.get("TEST_OUTPUT", "test-output"))
SUITE_LOG = TEST_OUTPUT / "suite-log.jsonl"
SEEDED: set[tuple[int, int]] = set()
"""(count, seed) of every demo data set a test generated: its names and numbers are searched
for in the suite's log."""

_demo_listings = seed_module.demo_listings


def _recording_demo_listings(count: int, seed: int) -> Any:
    SEEDED.add((count, seed))
    return _demo_listings(count, seed)


seed_module.demo_listings = _recording_demo_listings  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    """Write every log line of the suite (INFO and up, as in production) as JSON."""
    SUITE_LOG.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(SUITE_LOG, mode="w", encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    for name in ("directory_svc", "exporters", "aiohttp"):
        logging.getLogger(name).setLevel(logging.INFO)


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    uri = os.environ.get("MONGODB_URI")
    if not uri:
        pytest.exit(
            "MONGODB_URI is not set: run the suite with `make test`, which starts a local "
            "FerretDB, or point MONGODB_URI at a MongoDB-compatible server.",
            returncode=2,
        )
    return uri


@pytest.fixture
async def db_name(mongo_uri: str) -> AsyncIterator[str]:
    """A database of this test's own, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:20]}"
    yield name
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri)
    try:
        for attempt in range(5):
            try:
                await client.drop_database(name)
                break
            except OperationFailure as exc:
                # DocumentDB refuses DDL racing its background index builds ("tuple
                # concurrently updated"): a transient refusal, tried again.
                if "concurrently" not in str(exc) or attempt == 4:
                    raise
    finally:
        await client.close()


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    """A key directory of this test's own (one data key, index and history keys)."""
    directory = tmp_path / "keys"
    init_keys(directory)
    create_dev_keys(directory)
    return directory


@pytest.fixture
def settings(mongo_uri: str, db_name: str, keys_dir: Path) -> Settings:
    return Settings(
        mongodb_uri=mongo_uri,
        keys_dir=keys_dir,
        db_name=db_name,
        env=Env.DEV,
        # The whole-request database deadline: generous, so a loaded machine fails no test
        # (the outage tests set their own).
        db_timeout_s=60.0,
        staff_reads_per_hour=1_000_000,  # the limit tests set their own
        jwks=str(keys_dir / "dev-jwks.json"),
    )


class StillClock:
    """A clock standing still inside one window of every rate limit (a minute, an hour)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(minute=0, second=1, microsecond=0)

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def still() -> Iterator[StillClock]:
    """The service's clock stands still for the test (``StillClock``)."""
    with clock.using(StillClock()) as fixed:
        yield fixed  # type: ignore[misc]


def token(settings: Settings, role: Role = Role.SUPPORT, **claims: Any) -> str:
    """A dev token for ``role`` (signed with the test's key directory)."""
    assert settings.keys_dir is not None
    return mint_dev_token(settings.keys_dir, settings.tokens, role, **claims)


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    opened = await open_storage(settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def repo(storage: Storage) -> ListingRepository:
    return storage.listings


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    from playwright.async_api import async_playwright

    from tests.browser import ARGS, CHROMIUM

    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def api(aiohttp_client: Any, settings: Settings) -> TestClient:
    """The whole service over HTTP, on this test's database; calls carry a support token."""
    client = await aiohttp_client(
        create_app(settings), headers={"Authorization": f"Bearer {token(settings)}"}
    )
    return client  # type: ignore[no-any-return]


async def gql(
    client: TestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    bearer: str | None = None,
) -> dict[str, Any]:
    """POST a GraphQL document; returns the decoded JSON body (data and/or errors)."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
    resp = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def choices_input(listing: Any, version: int, change_id: str, **over: Any) -> dict[str, Any]:
    """A ``ChoicesInput`` holding ``listing``'s six choices as they are (``over`` changes
    some: ``noMarketing=True``, or ``reason``/``channel`` for support)."""
    c = listing.choices
    return {
        "listingId": listing.id,
        "expectedVersion": version,
        "changeId": change_id,
        "listed": c.listed,
        "initialOnly": c.initial_only,
        "noGender": c.no_gender,
        "noStreet": c.no_street,
        "noReverseLookup": c.no_reverse_lookup,
        "noMarketing": c.no_marketing,
        **over,
    }


OPERATIONS = Path(__file__).resolve().parent.parent / "graphql" / "operations"


def operations(*names: str) -> str:
    """The documents of ``graphql/operations/<name>.graphql`` (what clients send)."""
    return "\n".join((OPERATIONS / f"{name}.graphql").read_text() for name in names)


async def run_operation(
    client: TestClient, document: str, name: str, variables: dict[str, Any], bearer: str
) -> Any:
    """POST one named operation of ``document`` with a bearer token; the decoded body.

    Sends the operation as its trusted document (the operation and its fragments only).
    """
    text = split_operations(document)[name][0]
    resp = await client.post(
        "/graphql",
        json={"query": text, "operationName": name, "variables": variables},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    return await resp.json()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how long the R10 state machine ran (examples, steps, exports, injected faults)."""
    module = sys.modules.get("tests.test_r10_state_machine")
    run = getattr(module, "RUN", None)
    if run and run.get("examples"):
        terminalreporter.write_line(
            "R10 state machine: {examples} examples, {steps} steps, {exports} checked "
            "exports, {faults} injected failures".format(**run)
        )
