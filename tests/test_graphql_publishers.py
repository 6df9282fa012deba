"""Admins manage publishers over GraphQL, using the documents in graphql/operations/."""

from typing import Any

from aiohttp.test_utils import TestClient

from directory_svc.config import Settings
from directory_svc.domain.access import Role
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
    bad = {**new, "schedule": "tous les jours"}
    problem = (await _op(api, "UpdatePublisher", {"input": bad}, admin))["data"]["updatePublisher"]
    assert (problem["field"], problem["rule"]) == ("schedule", "cron")
    missing = (await _op(api, "DisablePublisher", {"id": "nope"}, admin))["data"][
        "disablePublisher"
    ]
    assert missing["__typename"] == "NotFoundProblem"
    off = (await _op(api, "DisablePublisher", {"id": "pj"}, admin))["data"]["disablePublisher"]
    assert off["publisher"]["active"] is False
    listed = (await _op(api, "Publishers", {}, admin))["data"]["publishers"]
    assert [p["id"] for p in listed] == ["pj"]


async def test_support_and_publishers_cannot_manage_publishers(
    api: TestClient, settings: Settings
) -> None:
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
