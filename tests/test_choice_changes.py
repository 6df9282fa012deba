"""Subscribers and support change choices through one service: the same cases on both edges."""

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.choices import Actor
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage
from tests.conftest import choices_input, operations, run_operation, token

DOC = operations("support", "customer")


def _input(listing: Any, version: int, change_id: str, **over: Any) -> dict[str, Any]:
    flipped = {"noMarketing": not listing.choices.no_marketing}
    return choices_input(listing, version, change_id, **{**flipped, **over})


@pytest.fixture
async def target(storage: Storage) -> Any:
    await seed_listings(storage.listings, 10, seed=14, accounts=storage.accounts)
    return next(i for i in demo_listings(10, seed=14) if i.line_type.value != "mobile")


EDGES = {
    "customer": (Role.CUSTOMER, {}, Actor.SUBSCRIBER),
    "support": (Role.SUPPORT, {"reason": "called to opt out", "channel": "PHONE"}, Actor.SUPPORT),
}


@pytest.mark.parametrize("edge", list(EDGES))
async def test_same_cases_on_both_edges(
    api: TestClient, storage: Storage, settings: Settings, target: Any, edge: str
) -> None:
    role, extra, actor = EDGES[edge]
    claims = {"account_id": target.account_id} if role is Role.CUSTOMER else {}
    bearer = token(settings, role, **claims)

    applied = (await _op(api, "ChangeChoices", {"input": _input(target, 1, "c1", **extra)},
                         bearer))["data"]["changeChoices"]  # fmt: skip
    assert applied["__typename"] == "ChangeApplied"
    assert applied["listing"]["version"] == 2
    assert applied["listing"]["choices"]["noMarketing"] is (not target.choices.no_marketing)
    entry = (await storage.listings.history(target.id))[-1]
    assert entry.provenance.actor is actor
    if actor is Actor.SUPPORT:
        assert entry.reason == "called to opt out"
        assert entry.provenance.agent_id is not None

    retry = await _op(api, "ChangeChoices", {"input": _input(target, 1, "c1", **extra)}, bearer)
    assert retry["data"]["changeChoices"]["__typename"] == "ChangeApplied"  # idempotent
    stale = await _op(api, "ChangeChoices", {"input": _input(target, 1, "c2", **extra)}, bearer)
    conflict = stale["data"]["changeChoices"]
    assert conflict["__typename"] == "VersionConflictProblem"
    assert conflict["current"]["version"] == 2

    bad = await _op(api, "ChangeChoices",
                    {"input": _input(target, 2, "c3", noStreet=True, **extra) | {"changeId": ""}},
                    bearer)  # fmt: skip
    assert bad["data"]["changeChoices"]["field"] == "change_id"


async def test_support_needs_a_reason_and_a_channel(
    api: TestClient, settings: Settings, target: Any
) -> None:
    bearer = token(settings, Role.SUPPORT)
    no_reason = await _op(api, "ChangeChoices", {"input": _input(target, 1, "s1")}, bearer)
    assert no_reason["data"]["changeChoices"]["field"] == "reason"
    no_channel = await _op(api, "ChangeChoices",
                           {"input": _input(target, 1, "s2", reason="asked")}, bearer)  # fmt: skip
    assert no_channel["data"]["changeChoices"]["field"] == "channel"


async def test_a_customer_cannot_touch_another_account_and_sees_support_reads(
    api: TestClient, storage: Storage, settings: Settings, target: Any
) -> None:
    stranger = token(settings, Role.CUSTOMER, account_id="acc-someone-else")
    result = await _op(api, "ChangeChoices", {"input": _input(target, 1, "x1")}, stranger)
    assert result["data"]["changeChoices"]["__typename"] == "NotFoundProblem"
    assert (await storage.listings.history(target.id))[-1].seq == 1  # nothing changed

    agent = token(settings, Role.SUPPORT, subject="agent-9")
    number = target.numbers[0].e164
    await _op(api, "LookupByNumber", {"number": number, "purpose": "call"}, agent)
    owner = token(settings, Role.CUSTOMER, account_id=target.account_id)
    me = (await _op(api, "Me", {}, owner))["data"]["me"]
    assert [item["id"] for item in me["listings"]] == [target.id]
    assert [(a["operation"], a["purpose"]) for a in me["accesses"]] == [("lookupByNumber", "call")]

    admin = token(settings, Role.ADMIN)
    log = (await _op(api, "AccessLog", {"agent": "agent-9"}, admin))["data"]["accessLog"]
    assert [r["listingId"] for r in log] == [target.id]
    denied = await _op(api, "AccessLog", {}, agent)
    assert denied["errors"][0]["message"] == "Not allowed."


async def _op(api: TestClient, name: str, variables: dict[str, Any], bearer: str) -> Any:
    return await run_operation(api, DOC, name, variables, bearer)
