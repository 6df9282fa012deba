"""The public edge of /graphql: trusted documents, limits, rate limit, introspection, CSP."""

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from strawberry.extensions.validation_cache import _get_validate_cache

from directory_svc.api.schema import CACHE_SIZE, MAX_DEPTH
from directory_svc.api.trusted import TrustedDocuments
from directory_svc.app import create_app
from directory_svc.config import ConfigError, Env, Settings
from directory_svc.domain.access import Role
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage
from tests.conftest import choices_input, token

TRUSTED = TrustedDocuments.load(Settings.__dataclass_fields__["operations_dir"].default)


async def _post(api: TestClient, body: dict[str, Any], bearer: str) -> tuple[int, Any, Any]:
    resp = await api.post("/graphql", json=body, headers={"Authorization": f"Bearer {bearer}"})
    return resp.status, await resp.json(), resp.headers


def _persisted(name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    digest = TRUSTED.by_name(name).id.removeprefix("sha256:")
    return {
        "operationName": name,
        "variables": variables or {},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
    }


async def test_customer_tokens_send_trusted_documents_only(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    await seed_listings(storage.listings, 3, seed=2, accounts=storage.accounts)
    owner = next(iter(demo_listings(3, seed=2)))
    bearer = token(settings, Role.CUSTOMER, account_id=owner.account_id)

    status, body, _ = await _post(api, {"query": "{ me { accountId } }"}, bearer)
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "UNTRUSTED_DOCUMENT"
    assert "graphql/operations" in body["errors"][0]["message"]

    status, body, _ = await _post(api, _persisted("Me"), bearer)
    assert status == 200
    assert body["data"]["me"]["accountId"] == owner.account_id

    unknown = _persisted("Me")
    unknown["extensions"]["persistedQuery"]["sha256Hash"] = "0" * 64
    status, body, _ = await _post(api, unknown, bearer)
    assert (status, body["errors"][0]["extensions"]["code"]) == (400, "PERSISTED_QUERY_NOT_FOUND")

    # Staff tools may send their own queries (still limited below).
    status, body, _ = await _post(api, {"query": "{ __typename }"}, token(settings))
    assert (status, body["data"]) == (200, {"__typename": "Query"})


def _deep(depth: int) -> str:
    inner = "id"
    for n in range(depth - 1):
        inner = f"level{n} {{ {inner} }}"
    return f"{{ listings {{ {inner} }} }}"


async def test_deep_and_aliased_queries_are_refused(api: TestClient, settings: Settings) -> None:
    support = token(settings)
    status, body, _ = await _post(api, {"query": _deep(20)}, support)
    assert status == 200
    assert "data" not in body  # a request error: nothing executed
    assert any("exceeds maximum operation depth" in e["message"] for e in body["errors"])
    status, body, _ = await _post(api, {"query": _deep(MAX_DEPTH)}, support)
    assert not any("depth" in e["message"] for e in body["errors"])  # only unknown fields

    aliases = " ".join(f"a{i}: __typename" for i in range(50))
    status, body, _ = await _post(api, {"query": f"{{ {aliases} }}"}, support)
    assert "data" not in body  # a request error: nothing executed
    assert any("aliases" in e["message"] for e in body["errors"])


async def test_validation_is_cached_across_requests(api: TestClient, settings: Settings) -> None:
    cache = _get_validate_cache(CACHE_SIZE)
    query = {"query": "query CacheProbe { __typename }"}
    await _post(api, query, token(settings))
    before = cache.cache_info().hits
    for _ in range(3):
        await _post(api, query, token(settings))
    assert cache.cache_info().hits >= before + 3  # the rule classes are the same every time


async def test_introspection_only_in_dev(aiohttp_client: Any, settings: Settings) -> None:
    query = {"query": "{ __schema { types { name } } }"}
    dev = await aiohttp_client(create_app(settings))
    _, body, _ = await _post(dev, query, token(settings))
    assert body["data"]["__schema"]["types"]
    prod = await aiohttp_client(create_app(replace(settings, env=Env.PROD)))
    _status, body, _ = await _post(prod, query, token(settings))
    assert "data" not in body  # a request error: nothing executed
    assert "introspection" in body["errors"][0]["message"].lower()
    assert (await prod.get("/preferences/dev-login")).status == 404


async def test_mutations_are_rate_limited_per_token(
    aiohttp_client: Any, storage: Storage, settings: Settings
) -> None:
    api = await aiohttp_client(create_app(replace(settings, mutations_per_minute=3)))
    await seed_listings(storage.listings, 3, seed=3, accounts=storage.accounts)
    item = next(iter(demo_listings(3, seed=3)))
    bearer = token(settings, Role.CUSTOMER, account_id=item.account_id)
    statuses = []
    for n in range(4):
        choices = choices_input(item, 1, f"r{n}")
        status, body, headers = await _post(
            api, _persisted("SaveChoices", {"input": choices}), bearer
        )
        statuses.append(status)
    assert statuses == [200, 200, 200, 429]
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(headers["Retry-After"]) >= 1
    status, _, _ = await _post(api, _persisted("Me"), bearer)
    assert status == 200  # reading is not limited


async def test_the_form_has_a_strict_content_security_policy(api: TestClient) -> None:
    resp = await api.get("/preferences")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    text = await resp.text()
    assert '<script type="module" src="/preferences/app.js">' in text
    config = await (await api.get("/preferences/config.json")).json()
    assert set(config["operations"]) == {d.name for d in TRUSTED.of_source("customer")}


def test_a_missing_operations_folder_stops_the_start_up(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DIRECTORY_OPERATIONS_DIR: no operations"):
        create_app(replace(settings, operations_dir=tmp_path))
    (tmp_path / "broken.graphql").write_text("query Broken {")
    with pytest.raises(ConfigError, match=r"broken\.graphql: not a valid document"):
        create_app(replace(settings, operations_dir=tmp_path))
