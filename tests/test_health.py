import io

from aiohttp.test_utils import TestClient


async def test_healthz_and_readyz(api: TestClient) -> None:
    assert (await api.get("/healthz")).status == 200
    resp = await api.get("/readyz")
    assert resp.status == 200
    assert (await resp.json())["status"] == "ready"


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
