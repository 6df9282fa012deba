import asyncio
import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from directory_svc.app import create_app
from directory_svc.config import Settings
from directory_svc.storage.setup import Storage


async def ready(api: TestClient) -> Any:
    """The /readyz answer once the start-up index build is over (polled, bounded)."""
    for _ in range(600):
        resp = await api.get("/readyz")
        if resp.status == 200:
            return await resp.json()
        await asyncio.sleep(0.2)
    raise AssertionError("never ready")


async def test_healthz_and_readyz(api: TestClient) -> None:
    assert (await api.get("/healthz")).status == 200
    assert (await ready(api))["status"] == "ready"


async def test_readyz_says_when_indexes_are_still_being_built(
    aiohttp_client: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: index builds are not requests; the service serves and says it is starting."""
    release = asyncio.Event()
    original = Storage.ensure_indexes

    async def slow(self: Storage, **kwargs: Any) -> None:
        await release.wait()
        await original(self, **kwargs)

    monkeypatch.setattr(Storage, "ensure_indexes", slow)
    api = await aiohttp_client(create_app(settings))
    resp = await api.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "starting"
    assert "indexes are being built" in body["reason"]
    assert (await api.get("/healthz")).status == 200
    release.set()
    assert (await ready(api))["status"] == "ready"


async def test_oversized_body_is_refused(api: TestClient) -> None:
    resp = await api.post(
        "/graphql",
        data=io.BytesIO(b"x" * (2 * 1024 * 1024)),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 413


async def test_security_headers_and_no_caching_of_api_answers(api: TestClient) -> None:
    resp = await api.post("/graphql", json={"query": "{ __typename }"})
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    unauthenticated = await api.post("/graphql", json={"query": "{ __typename }"},
                                     headers={"Authorization": ""})  # fmt: skip
    assert unauthenticated.status == 401
    assert unauthenticated.headers["Cache-Control"] == "no-store"
    assert "Cache-Control" not in (await api.get("/healthz")).headers
