"""Shared fixtures: a real database server (FerretDB started by `make test`, or MONGODB_URI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pymongo import AsyncMongoClient

from directory_svc.app import create_app
from directory_svc.config import Env, Settings
from directory_svc.storage.listings import ListingRepository


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
        await client.drop_database(name)
    finally:
        await client.close()


@pytest.fixture
def settings(mongo_uri: str, db_name: str) -> Settings:
    return Settings(mongodb_uri=mongo_uri, db_name=db_name, env=Env.DEV, db_timeout_s=3.0)


@pytest.fixture
async def repo(mongo_uri: str, db_name: str) -> AsyncIterator[ListingRepository]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri)
    try:
        yield ListingRepository.for_client(client, db_name)
    finally:
        await client.close()


@pytest.fixture
async def api(aiohttp_client: Any, settings: Settings) -> TestClient:
    """The whole service over HTTP, on this test's database."""
    return await aiohttp_client(create_app(settings))


async def gql(
    client: TestClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST a GraphQL document; returns the decoded JSON body (data and/or errors)."""
    resp = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body
