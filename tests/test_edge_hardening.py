"""Issue 16: the edge holds against careless and hostile clients.

Malformed requests get a GraphQL-shaped 400 (never a 500), errors keep the security
headers, the media type is negotiated, rate limits hold behind a proxy and across
processes, and every staff read of personal data is purposeful, logged and limited.
"""

from __future__ import annotations

import json
from dataclasses import replace
from ipaddress import ip_network
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from directory_svc import clock
from directory_svc.app import create_app
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services.publishers import add_publisher
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage
from tests.conftest import StillClock, choices_input, operations, run_operation, token

SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}


def _assert_graphql_error(status: int, body: Any, expected: int) -> None:
    assert status == expected
    assert isinstance(body["errors"][0]["message"], str)
    assert "Traceback" not in json.dumps(body)


def _headers_hold(headers: Any) -> None:
    for name, value in SECURITY.items():
        assert headers.get(name) == value, name
    assert "Python" not in headers.get("Server", "")
    assert "aiohttp" not in headers.get("Server", "")


MALFORMED: list[tuple[str, bytes]] = [
    ("operationName object", b'{"query": "{ __typename }", "operationName": {"a": 1}}'),
    ("operationName array", b'{"query": "{ __typename }", "operationName": ["x"]}'),
    ("null body", b"null"),
    ("string body", b'"{ __typename }"'),
    ("array body", b'[{"query": "{ __typename }"}]'),
    ("invalid UTF-8", b'{"query": "\xff\xfe{ __typename }"}'),
    ("variables 1000 deep", b'{"query": "{ __typename }", "variables": {"a": '
     + b"[" * 1000 + b"]" * 1000 + b"}}"),
    ("extensions 1000 deep", b'{"query": "{ __typename }", "extensions": '
     + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}"),
    ("nesting beyond the parser", b'{"variables": ' + b"[" * 100_000 + b"}"),
    ("query a number", b'{"query": 12}'),
    ("variables a list", b'{"query": "{ __typename }", "variables": [1]}'),
    ("no query", b'{"variables": {}}'),
    ("not JSON", b"{ __typename }"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body"), MALFORMED, ids=[c for c, _ in MALFORMED])
async def test_malformed_requests_get_a_graphql_shaped_400(
    api: TestClient, case: str, body: bytes
) -> None:
    resp = await api.post("/graphql", data=body, headers={"Content-Type": "application/json"})
    _assert_graphql_error(resp.status, await resp.json(), 400)
    _headers_hold(resp.headers)


async def test_errors_raised_anywhere_keep_the_security_headers(
    aiohttp_client: Any, api: TestClient, settings: Settings
) -> None:
    customer = token(settings, Role.CUSTOMER, account_id="acc-1")
    untrusted = await api.post(
        "/graphql", json={"query": "{ me { accountId } }"},
        headers={"Authorization": f"Bearer {customer}"},
    )  # fmt: skip
    assert untrusted.status == 400
    _headers_hold(untrusted.headers)
    too_big = await api.post(
        "/graphql", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert too_big.status == 413
    _headers_hold(too_big.headers)
    missing = await api.get("/no-such-page")
    assert missing.status == 404
    _headers_hold(missing.headers)
    wrong_type = await api.post("/graphql", data=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status == 415
    _headers_hold(wrong_type.headers)
    healthy = await api.get("/healthz")
    _headers_hold(healthy.headers)
    limited = await aiohttp_client(create_app(replace(settings, mutations_per_minute=1)))
    mutation = {"query": 'mutation { closeReport(id: "x", resolution: "r") { __typename } }'}
    staff = {"Authorization": f"Bearer {token(settings, subject='agent-hasty')}"}
    with clock.using(StillClock()):
        for _ in range(2):
            resp = await limited.post("/graphql", json=mutation, headers=staff)
    assert resp.status == 429, await resp.text()
    assert int(resp.headers["Retry-After"]) >= 1
    _headers_hold(resp.headers)


async def test_graphql_response_media_type_uses_the_spec_status_codes(api: TestClient) -> None:
    modern = {"Accept": "application/graphql-response+json"}
    cases = [
        ({"query": "{ __typename }"}, 200),
        ({"query": "{ __typename "}, 400),  # parse error
        ({"query": "{ noSuchField }"}, 400),  # validation error
        ({"query": "query Q($n: Int!) { listings(first: $n, purpose: \"p\") { __typename } }",
          "variables": {"n": "many"}}, 400),  # variable coercion
    ]  # fmt: skip
    for body, expected in cases:
        resp = await api.post("/graphql", json=body, headers=modern)
        assert resp.status == expected, body
        assert resp.headers["Content-Type"].startswith("application/graphql-response+json")
        if expected == 400:  # a request error: no execution, so no `data` entry at all
            assert "data" not in await resp.json(), body
        legacy = await api.post("/graphql", json=body, headers={"Accept": "application/json"})
        assert legacy.status == 200
        assert legacy.headers["Content-Type"].startswith("application/json")
    refused = await api.post("/graphql", json=cases[0][0], headers={"Accept": "text/html"})
    assert refused.status == 406


async def test_a_publishers_failures_do_not_limit_a_customer_behind_the_same_proxy(
    aiohttp_client: Any, storage: Storage, settings: Settings, still: StillClock
) -> None:
    api = await aiohttp_client(create_app(replace(settings, mutations_per_minute=5)))
    profile = PublisherProfile("pub", PublisherKind.DIRECTORY)
    await add_publisher(storage.publishers, Publisher(profile, "P"))
    publisher = token(settings, Role.PUBLISHER, publisher_id="pub", subject="pub-robot")
    report = {"entryId": "nope", "message": "wrong"}
    doc = operations("publisher")
    for _ in range(7):  # all from 127.0.0.1, like every client behind one reverse proxy
        await run_operation(api, doc, "ReportEntry", report, publisher)
    await seed_listings(storage.listings, 2, seed=4, accounts=storage.accounts)
    owner = next(iter(demo_listings(2, seed=4)))
    customer = token(settings, Role.CUSTOMER, account_id=owner.account_id)
    body = await run_operation(
        api, operations("customer"), "SaveChoices", {"input": _choices(owner)}, customer
    )
    assert "errors" not in body, body
    assert body["data"]["changeChoices"]["__typename"] == "ChangeApplied"


async def test_a_trusted_proxy_names_the_client_and_replicas_share_one_limit(
    aiohttp_client: Any, storage: Storage, settings: Settings, still: StillClock
) -> None:
    proxied = replace(
        settings, mutations_per_minute=2, trusted_proxies=(ip_network("127.0.0.0/8"),)
    )
    one = await aiohttp_client(create_app(proxied))
    two = await aiohttp_client(create_app(proxied))  # a second process, same database
    mutation = {"query": 'mutation { closeReport(id: "x", resolution: "r") { __typename } }'}

    async def post(api: TestClient, subject: str, client: str) -> int:
        headers = {
            "Authorization": f"Bearer {token(settings, subject=subject)}",
            "X-Forwarded-For": f"198.51.100.77, {client}",  # the proxy appended the client
        }
        return (await api.post("/graphql", json=mutation, headers=headers)).status

    # One agent, alternating replicas: the limit of one process.
    assert [await post(one, "a", "203.0.113.1"), await post(two, "a", "203.0.113.2"),
            await post(one, "a", "203.0.113.3")] == [200, 200, 429]  # fmt: skip
    # One client address, many subjects: the address bucket holds across replicas.
    assert [await post(one, "b", "203.0.113.9"), await post(two, "c", "203.0.113.9"),
            await post(one, "d", "203.0.113.9")] == [200, 200, 429]  # fmt: skip
    # A forged left-most X-Forwarded-For does not escape it.
    assert await post(two, "e", "203.0.113.9") == 429


def _choices(item: Any) -> dict[str, Any]:
    flipped = {"initialOnly": not item.choices.initial_only}
    return choices_input(item, item.version or 1, "c-1", **flipped)


async def test_staff_reads_need_a_purpose_are_logged_and_limited(
    aiohttp_client: Any, storage: Storage, settings: Settings, still: StillClock
) -> None:
    api = await aiohttp_client(
        create_app(replace(settings, lookups_per_hour=1, staff_reads_per_hour=6))
    )
    await seed_listings(storage.listings, 12, seed=6, accounts=storage.accounts)
    items = list(demo_listings(12, seed=6))
    doc = operations("listings")
    support = token(settings, Role.SUPPORT, subject="agent-bulk")
    bulk = await run_operation(api, doc, "Listings", {"first": 100, "purpose": "x"}, support)
    assert bulk["errors"][0]["message"] == "Not allowed."  # bulk reads are for admins

    no_purpose = await run_operation(api, doc, "Listing", {"id": items[0].id}, support)
    assert "purpose" in no_purpose["errors"][0]["message"]
    blank = await run_operation(api, doc, "Listing", {"id": items[0].id, "purpose": " "}, support)
    assert blank["errors"][0]["message"].startswith("purpose:")

    for item in items[:6]:
        read = await run_operation(api, doc, "Listing", {"id": item.id, "purpose": "call"}, support)
        assert read["data"]["listing"]["id"] == item.id
    refused = await run_operation(api, doc, "Listing", {"id": items[6].id, "purpose": "c"}, support)
    assert refused["data"] is None
    assert "too many" in refused["errors"][0]["message"]
    logged = await storage.access_log.query(agent="agent-bulk")
    assert sorted(r.listing_id for r in logged if not r.flagged) == sorted(i.id for i in items[:6])
    assert [r.operation for r in logged if r.flagged] == ["listing"]

    admin = token(settings, Role.ADMIN, subject="admin-bulk")
    page = await run_operation(api, doc, "Listings", {"first": 5, "purpose": "audit"}, admin)
    assert len(page["data"]["listings"]["edges"]) == 5
    # A read that starts within the limit completes (5 + 5 > 6); the next one is refused.
    second = await run_operation(api, doc, "Listings", {"first": 5, "purpose": "audit"}, admin)
    assert len(second["data"]["listings"]["edges"]) == 5
    over = await run_operation(api, doc, "Listings", {"first": 5, "purpose": "audit"}, admin)
    assert "too many" in over["errors"][0]["message"]
    read = [r for r in await storage.access_log.query(agent="admin-bulk") if r.listing_id]
    assert len(read) == 10


async def test_an_agent_refused_a_lookup_is_refused_every_read_for_the_hour(
    aiohttp_client: Any, storage: Storage, settings: Settings, still: StillClock
) -> None:
    api = await aiohttp_client(create_app(replace(settings, lookups_per_hour=1)))
    await seed_listings(storage.listings, 3, seed=7, accounts=storage.accounts)
    item = next(iter(demo_listings(3, seed=7)))
    agent = token(settings, Role.SUPPORT, subject="agent-walk")
    support = operations("support")
    lookup = {"number": "0612345678", "purpose": "p"}
    first = await run_operation(api, support, "LookupByNumber", lookup, agent)
    assert first["data"]["lookupByNumber"]["__typename"] == "ListingsFound"
    second = await run_operation(api, support, "LookupByNumber", lookup, agent)
    assert second["data"]["lookupByNumber"]["__typename"] == "RateLimitedProblem"
    account = await run_operation(
        api, support, "Account", {"id": item.account_id, "purpose": "p"}, agent
    )
    assert account["data"]["account"]["__typename"] == "RateLimitedProblem"
    search = {"surname": item.surname, "postcode": item.address.postcode, "purpose": "p"}
    found = await run_operation(api, support, "SearchListings", search, agent)
    assert found["data"]["searchListings"]["__typename"] == "RateLimitedProblem"
    listing = await run_operation(
        api, operations("listings"), "Listing", {"id": item.id, "purpose": "p"}, agent
    )
    assert listing["data"] is None
    assert not [r for r in await storage.access_log.query(agent="agent-walk") if r.listing_id]
