import json
import logging
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient

from directory_svc.app import create_app
from directory_svc.config import Env, Settings
from directory_svc.domain.access import Role
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.observability import JsonFormatter
from directory_svc.services.publishers import add_publisher
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.listings import ListingRepository
from directory_svc.storage.setup import Storage
from tests.conftest import gql, operations, run_operation, token

PAGE = """
query Listings($first: Int!, $after: String) {
  listings(first: $first, after: $after, purpose: "audit de la base") {
    edges { cursor node { id displayName surname address { commune postcode }
                          numbers { number lineType } choices { listed } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ONE = (
    'query One($id: ID!) { listing(id: $id, purpose: "appel client") '
    "{ id surname numbers { number } version } }"
)


def _admin(settings: Settings) -> str:
    return token(settings, Role.ADMIN)


async def _seed(repo: ListingRepository, count: int) -> list[Any]:
    await seed_listings(repo, count, seed=11)
    return list(demo_listings(count, seed=11))


async def test_first_five_listings(
    api: TestClient, repo: ListingRepository, settings: Settings
) -> None:
    await _seed(repo, 12)
    body = await gql(api, PAGE, {"first": 5}, bearer=_admin(settings))
    assert "errors" not in body
    edges = body["data"]["listings"]["edges"]
    assert len(edges) == 5
    assert all(e["node"]["numbers"][0]["number"].startswith("+33") for e in edges)
    assert body["data"]["listings"]["pageInfo"]["hasNextPage"] is True


async def test_paging_visits_every_listing_once(
    api: TestClient, repo: ListingRepository, settings: Settings
) -> None:
    stored = await _seed(repo, 23)
    seen: list[str] = []
    after = None
    while True:
        body = await gql(api, PAGE, {"first": 10, "after": after}, bearer=_admin(settings))
        conn = body["data"]["listings"]
        seen += [e["node"]["id"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(item.id for item in stored)
    assert len(seen) == 23


async def test_listing_by_id_and_unknown_id(api: TestClient, repo: ListingRepository) -> None:
    stored = await _seed(repo, 3)
    body = await gql(api, ONE, {"id": stored[1].id})
    assert body["data"]["listing"]["surname"] == stored[1].surname
    body = await gql(api, ONE, {"id": "does-not-exist"})
    assert body["data"] is None
    assert body["errors"][0]["message"] == "listing not found"


async def test_bad_paging_arguments_are_named(api: TestClient, settings: Settings) -> None:
    body = await gql(api, PAGE, {"first": 0}, bearer=_admin(settings))
    assert body["errors"][0]["message"].startswith("first:")
    body = await gql(api, PAGE, {"first": 5, "after": "!!!not-a-cursor"}, bearer=_admin(settings))
    assert body["errors"][0]["message"].startswith("after:")


async def test_listings_are_for_staff_only(
    api: TestClient, settings: Settings, repo: ListingRepository, storage: Storage
) -> None:
    await _seed(repo, 2)
    profile = PublisherProfile("p", PublisherKind.DIRECTORY)
    await add_publisher(storage.publishers, Publisher(profile, "P"))  # a registered one
    roles = [(Role.CUSTOMER, {"account_id": "acc-1"}), (Role.PUBLISHER, {"publisher_id": "p"})]
    roles.append((Role.SUPPORT, {}))  # bulk reads are for admins only
    for role, claims in roles:
        bearer = token(settings, role, **claims)
        variables = {"first": 5, "purpose": "audit"}
        body = await run_operation(api, operations("listings"), "Listings", variables, bearer)
        assert body["data"] is None
        assert body["errors"][0]["message"] == "Not allowed."
    admin = await gql(api, PAGE, {"first": 5}, bearer=token(settings, Role.ADMIN))
    assert len(admin["data"]["listings"]["edges"]) == 2


async def test_queries_over_get_are_refused(api: TestClient) -> None:
    resp = await api.get("/graphql", params={"query": "{ __typename }"})
    assert resp.status in (400, 405)
    assert "__typename" not in await resp.text()


async def test_graphiql_only_in_dev(
    aiohttp_client: Any, settings: Settings, api: TestClient
) -> None:
    html = {"Accept": "text/html"}
    resp = await api.get("/graphql", headers=html)
    assert resp.status == 200
    assert "graphiql" in (await resp.text()).lower()
    prod = replace(settings, env=Env.PROD)
    prod_api = await aiohttp_client(create_app(prod))
    resp = await prod_api.get("/graphql", headers=html)
    assert resp.status != 200


async def test_request_log_lines_carry_no_personal_data(
    api: TestClient, repo: ListingRepository, caplog: Any, settings: Settings
) -> None:
    stored = await _seed(repo, 5)
    with caplog.at_level(logging.INFO):
        await gql(api, PAGE, {"first": 5}, bearer=_admin(settings))
        await gql(api, ONE, {"id": "nope"})
    lines = [JsonFormatter().format(r) for r in caplog.records]
    requests = [json.loads(line) for line in lines if '"message": "request"' in line]
    assert len(requests) == 2
    assert requests[0]["status"] == 200
    assert requests[0]["operation"] == "Listings"
    assert isinstance(requests[0]["latency_ms"], float)
    text = "\n".join(lines)
    for item in stored:
        assert item.surname not in text
        assert item.numbers[0].e164 not in text


async def test_metrics_count_operations(api: TestClient, settings: Settings) -> None:
    await gql(api, PAGE, {"first": 1}, bearer=_admin(settings))
    await gql(api, ONE, {"id": "nope"})
    text = await (await api.get("/metrics")).text()
    assert 'directory_graphql_requests_total{operation="Listings",outcome="ok"} 1.0' in text
    assert 'directory_graphql_requests_total{operation="One",outcome="error"} 1.0' in text
    assert 'directory_graphql_request_seconds_count{operation="Listings"} 1.0' in text
