"""Admins manage publishers over GraphQL, using the documents in graphql/operations/."""

import asyncio
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient

from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile, SftpTarget
from directory_svc.services.publishers import add_publisher
from directory_svc.storage.setup import Storage
from tests.conftest import operations, run_operation, token

ADMIN_DOC = operations("admin")


async def test_admin_registers_updates_and_disables_a_publisher(
    api: TestClient, settings: Settings
) -> None:
    admin = token(settings, Role.ADMIN)
    new = {"id": "pj", "legalName": "Pages Exemple SA", "kind": "DIRECTORY",
           "departements": ["75"], "numbers": "national"}  # fmt: skip
    body = await _op(api, "AddPublisher", {"input": new}, admin)
    saved = body["data"]["addPublisher"]
    assert saved["__typename"] == "PublisherSaved"
    assert saved["publisher"]["departements"] == ["75"]
    again = (await _op(api, "AddPublisher", {"input": new}, admin))["data"]["addPublisher"]
    assert (again["__typename"], again["field"], again["rule"]) == (
        "ValidationProblem",
        "id",
        "taken",
    )
    assert saved["publisher"]["version"] == 1
    bad = {**new, "schedule": "tous les jours", "expectedVersion": 1}
    problem = (await _op(api, "UpdatePublisher", {"input": bad}, admin))["data"]["updatePublisher"]
    assert (problem["field"], problem["rule"]) == ("schedule", "cron")
    blind = (await _op(api, "UpdatePublisher", {"input": new}, admin))["data"]["updatePublisher"]
    assert (blind["field"], blind["rule"]) == ("expectedVersion", "required")
    missing = (await _op(api, "DisablePublisher", {"id": "nope"}, admin))["data"][
        "disablePublisher"
    ]
    assert missing["__typename"] == "NotFoundProblem"
    off = (await _op(api, "DisablePublisher", {"id": "pj"}, admin))["data"]["disablePublisher"]
    assert off["publisher"]["active"] is False
    listed = (await _op(api, "Publishers", {}, admin))["data"]["publishers"]
    assert [p["id"] for p in listed] == ["pj"]


async def test_two_admins_editing_one_registration_lose_nothing(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    admin = token(settings, Role.ADMIN)
    new = {"id": "pj", "legalName": "Pages Exemple SA", "kind": "DIRECTORY"}
    await _op(api, "AddPublisher", {"input": new}, admin)
    # The SFTP target is set from the command line; a GraphQL edit must keep it.
    target = SftpTarget("sftp.example.fr", 22, "pj", "/in", "ssh-ed25519 AAAA")
    stored = await storage.publishers.get("pj")
    assert stored is not None
    stored = await storage.publishers.save(replace(stored, sftp=target))
    assert stored is not None
    assert stored.version == 2
    off = (await _op(api, "DisablePublisher", {"id": "pj"}, admin))["data"]["disablePublisher"]
    assert (off["publisher"]["active"], off["publisher"]["version"]) == (False, 3)

    # Both admins read version 3; the first save wins, the second is told and shown it.
    first = {**new, "departements": ["75"], "expectedVersion": 3}
    second = {**new, "departements": ["13"], "expectedVersion": 3}
    results = await asyncio.gather(
        _op(api, "UpdatePublisher", {"input": first}, admin),
        _op(api, "UpdatePublisher", {"input": second}, admin),
    )
    outcomes = sorted(
        (r["data"]["updatePublisher"] for r in results), key=lambda o: o["__typename"]
    )
    conflict, won = outcomes
    assert (conflict["__typename"], won["__typename"]) == (
        "PublisherConflictProblem",
        "PublisherSaved",
    )
    assert won["publisher"]["version"] == 4
    assert conflict["current"]["id"] == "pj"
    listed = (await _op(api, "Publishers", {}, admin))["data"]["publishers"]
    assert (listed[0]["version"], listed[0]["departements"]) == (
        4,
        won["publisher"]["departements"],
    )
    assert conflict["message"] == (
        "the publisher was changed by someone else; reload and try again"
    )
    # The edit kept what GraphQL does not set: still disabled, still pushed by SFTP.
    assert (won["publisher"]["active"], won["publisher"]["sftp"]) == (False, target.address)
    on = (await _op(api, "EnablePublisher", {"id": "pj"}, admin))["data"]["enablePublisher"]
    assert (on["publisher"]["active"], on["publisher"]["version"]) == (True, 5)
    assert on["publisher"]["departements"] == won["publisher"]["departements"]


async def test_support_and_publishers_cannot_manage_publishers(
    api: TestClient, settings: Settings, storage: Storage
) -> None:
    profile = PublisherProfile("pj", PublisherKind.DIRECTORY)
    await add_publisher(storage.publishers, Publisher(profile, "PJ"))  # a registered one
    bearers = (
        token(settings, Role.SUPPORT),
        token(settings, Role.PUBLISHER, publisher_id="pj"),
        token(settings, Role.CUSTOMER, account_id="a1"),
    )
    for bearer in bearers:
        body = await _op(api, "Publishers", {}, bearer)
        assert body["errors"][0]["message"] == "Not allowed."
        new = {"id": "x", "legalName": "X", "kind": "ENQUIRY"}
        body = await _op(api, "AddPublisher", {"input": new}, bearer)
        assert body["errors"][0]["message"] == "Not allowed."


async def _op(api: TestClient, name: str, variables: dict[str, Any], bearer: str) -> Any:
    return await run_operation(api, ADMIN_DOC, name, variables, bearer)
