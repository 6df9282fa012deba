"""Support look-ups: every writing of a number, accent-blind search, access log, limits."""

from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from directory_svc.app import create_app
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.listings import LineNumber
from directory_svc.domain.numbers import LineType, parse_french_number
from directory_svc.services.listings import create_listing
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage
from tests.conftest import operations, run_operation, token

DOC = operations("support")


async def test_every_writing_finds_the_listing_and_each_read_is_logged(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    await seed_listings(storage.listings, 40, seed=9)
    target = list(demo_listings(40, seed=9))[5]
    e164 = target.numbers[0].e164
    national = parse_french_number(e164).national
    agent = token(settings, Role.SUPPORT, subject="agent-42")
    writings = [national.replace(" ", ""), national, "+33 " + national[1:], "0033" + e164[3:], e164]
    for writing in writings:
        body = await _op(api, "LookupByNumber", {"number": writing, "purpose": "call 123"}, agent)
        found = body["data"]["lookupByNumber"]
        assert [item["id"] for item in found["listings"]] == [target.id]
    none = await _op(api, "LookupByNumber", {"number": "01 99 99 99 99", "purpose": "x"}, agent)
    assert none["data"]["lookupByNumber"] == {"__typename": "ListingsFound", "listings": []}
    bad = await _op(api, "LookupByNumber", {"number": "12", "purpose": "x"}, agent)
    assert bad["data"]["lookupByNumber"]["field"] == "number"
    log = await storage.access_log.query(agent="agent-42")
    assert len(log) == len(writings) + 1  # exactly one record per read; the bad one read nothing
    assert {r.listing_id for r in log} == {target.id, None}
    assert all(r.purpose in ("call 123", "x") for r in log)


async def test_search_ignores_case_accents_and_hyphens(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    await seed_listings(storage.listings, 60, seed=9)
    target = list(demo_listings(60, seed=9))[2]
    shouted = target.surname.upper().replace("-", " ")
    body = await _op(
        api, "SearchListings",
        {"surname": shouted, "commune": target.address.insee_code, "purpose": "mail"},
        token(settings),
    )  # fmt: skip
    edges = body["data"]["searchListings"]["edges"]
    assert target.id in [edge["node"]["id"] for edge in edges]
    both = await _op(api, "SearchListings", {"surname": "x", "purpose": "p"}, token(settings))
    assert both["data"]["searchListings"]["rule"] == "one_of"


async def test_search_pages_through_namesakes_and_logs_only_what_was_returned(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    await seed_listings(storage.listings, 1, seed=5)
    target = next(iter(demo_listings(1, seed=5)))
    origin = Change("twins", Provenance(Actor.IMPORT, Channel.IMPORT, target.provenance.at, "n"))
    for n in range(4):
        number = LineNumber(f"+3314000000{n}", LineType.FIXED_GEOGRAPHIC)
        twin = replace(target, id=f"twin-{n}", numbers=(number,), version=0)
        await create_listing(storage.listings, twin, origin)
    agent = token(settings, Role.SUPPORT, subject="pager")
    seen: list[str] = []
    after = None
    for _ in range(3):
        variables = {"surname": target.surname, "postcode": target.address.postcode,
                     "purpose": "p", "first": 2, "after": after}  # fmt: skip
        page = (await _op(api, "SearchListings", variables, agent))["data"]["searchListings"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert sorted(seen) == sorted([target.id, *(f"twin-{n}" for n in range(4))])
    assert len(seen) == len(set(seen)) == 5
    logged = [r.listing_id for r in await storage.access_log.query(agent="pager")]
    assert sorted(logged) == sorted(seen)  # one record per listing returned, none for others
    too_many = await _op(api, "SearchListings", variables | {"first": 101}, agent)
    assert too_many["data"]["searchListings"]["field"] == "first"


async def test_lookups_are_limited_per_agent_and_never_batched(
    aiohttp_client: Any, storage: Storage, settings: Settings
) -> None:
    api = await aiohttp_client(create_app(replace(settings, lookups_per_hour=3)))
    agent = token(settings, Role.SUPPORT, subject="agent-fast")
    variables = {"number": "0612345678", "purpose": "p"}
    for _ in range(3):
        assert (await _op(api, "LookupByNumber", variables, agent))["data"]["lookupByNumber"][
            "__typename"
        ] == "ListingsFound"
    limited = (await _op(api, "LookupByNumber", variables, agent))["data"]["lookupByNumber"]
    assert limited["__typename"] == "RateLimitedProblem"
    assert limited["retryAfterSeconds"] > 0
    flagged = [r for r in await storage.access_log.query(agent="agent-fast") if r.flagged]
    assert len(flagged) == 1
    other = token(settings, Role.SUPPORT, subject="agent-calm")
    assert (await _op(api, "LookupByNumber", variables, other))["data"]["lookupByNumber"]
    aliased = (
        'query { a: lookupByNumber(number: "0612345678", purpose: "p") { __typename } '
        'b: lookupByNumber(number: "0612345679", purpose: "p") { __typename } }'
    )
    resp = await api.post("/graphql", json={"query": aliased},
                          headers={"Authorization": f"Bearer {other}"})  # fmt: skip
    body = await resp.json()
    assert body["errors"][0]["message"] == "lookupByNumber may be asked once per request"
    assert body.get("data") is None
    customer = token(settings, Role.CUSTOMER, account_id="a")
    denied = await _op(api, "LookupByNumber", variables, customer)
    assert denied["errors"][0]["message"] == "Not allowed."


async def test_explain_shows_each_publishers_projection_history_and_last_feed(
    api: TestClient, storage: Storage, settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    from directory_svc.domain.publishers import (
        GeoScope,
        Publisher,
        PublisherKind,
        PublisherProfile,
    )
    from directory_svc.services.publishers import add_publisher, export_now

    await seed_listings(storage.listings, 40, seed=9)
    target = next(i for i in demo_listings(40, seed=9) if i.choices.listed)
    elsewhere = "2A" if not target.address.insee_code.startswith("2A") else "75"
    for profile in (
        PublisherProfile("everywhere", PublisherKind.DIRECTORY),
        PublisherProfile("corsica", PublisherKind.ENQUIRY,
                         scope=GeoScope(departements=frozenset({elsewhere}))),
    ):  # fmt: skip
        await add_publisher(storage.publishers, Publisher(profile, profile.id))
    await export_now(storage, keys_dir, "everywhere", tmp_path / "feeds", full=True)

    agent = token(settings, Role.SUPPORT, subject="agent-x")
    body = await _op(api, "ExplainListing", {"id": target.id, "purpose": "why listed?"}, agent)
    explained = body["data"]["explainListing"]
    assert explained["listing"]["id"] == target.id
    assert [h["seq"] for h in explained["history"]] == [1]
    views = {v["publisherId"]: v for v in explained["publishers"]}
    assert views["everywhere"]["included"] is True
    assert views["everywhere"]["lastSentSequence"] == 1
    assert views["corsica"]["included"] is False
    assert views["corsica"]["reasons"] == [
        {"code": "out_of_scope", "choice": None, "applied": True}
    ]
    assert views["corsica"]["lastSentSequence"] is None
    log = await storage.access_log.query(agent="agent-x")
    assert [(r.operation, r.listing_id) for r in log] == [("explainListing", target.id)]


async def test_each_support_read_appends_exactly_one_record_per_listing_read(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    await seed_listings(storage.listings, 30, seed=9, accounts=storage.accounts)
    target = list(demo_listings(30, seed=9))[4]
    agent_id = "agent-count"
    agent = token(settings, Role.SUPPORT, subject=agent_id)
    cases = [
        ("LookupByNumber", {"number": target.numbers[0].e164, "purpose": "p"}, "lookupByNumber"),
        ("SearchListings", {"surname": target.surname, "commune": target.address.insee_code,
                            "purpose": "p"}, "searchListings"),
        ("ExplainListing", {"id": target.id, "purpose": "p"}, "explainListing"),
        ("Account", {"id": target.account_id, "purpose": "p"}, "account"),
    ]  # fmt: skip
    for name, variables, operation in cases:
        before = len(await storage.access_log.query(agent=agent_id))
        body = await _op(api, name, variables, agent)
        assert "errors" not in body, body
        records = await storage.access_log.query(agent=agent_id)
        new = records[: len(records) - before]
        listed = {r.listing_id for r in new}
        assert all(r.operation == operation for r in new)
        assert target.id in listed
        assert len(new) == len(listed)  # one record per listing read, no duplicates
    account = await _op(api, "Account", {"id": target.account_id, "purpose": "p"}, agent)
    assert account["data"]["account"]["informed"][0]["noticeVersion"] == "notice-2026-01"
    missing = await _op(api, "Account", {"id": "acc-none", "purpose": "p"}, agent)
    assert missing["data"]["account"]["__typename"] == "NotFoundProblem"


async def _op(api: TestClient, name: str, variables: dict[str, Any], bearer: str) -> Any:
    return await run_operation(api, DOC, name, variables, bearer)
