"""What the staff console asks of the API, without a browser: the agent's allowance, the
preview on a subscriber's behalf (a logged read), the history's chain status, the
compliance views (admins only), and the console's own page, configuration and dev sign-in."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from directory_svc.app import create_app
from directory_svc.config import ConfigError, Env, Settings, load_settings
from directory_svc.domain.access import Role
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage
from tests.conftest import operations, run_operation, token
from tests.console_data import publishers_with_acknowledged_optouts

DOCS = operations("support", "admin", "console")


async def _op(api: TestClient, name: str, variables: dict[str, Any], bearer: str) -> Any:
    return await run_operation(api, DOCS, name, variables, bearer)


async def test_the_allowance_counts_down_with_each_read_and_reading_it_counts_nothing(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    await seed_listings(storage.listings, 5, seed=3, accounts=storage.accounts)
    number = next(iter(demo_listings(5, seed=3))).numbers[0].e164
    agent = token(settings, Role.SUPPORT, subject="agent-m")
    first = (await _op(api, "MyAllowance", {}, agent))["data"]["myAllowance"]
    again = (await _op(api, "MyAllowance", {}, agent))["data"]["myAllowance"]
    assert first == again
    assert (first["lookupsLeft"], first["lookupsPerHour"]) == (300, 300)
    assert first["refused"] is False
    found = await _op(api, "LookupByNumber", {"number": number, "purpose": "appel"}, agent)
    shown = len(found["data"]["lookupByNumber"]["listings"])
    after = (await _op(api, "MyAllowance", {}, agent))["data"]["myAllowance"]
    assert after["lookupsLeft"] == 299
    assert after["readsLeft"] == first["readsLeft"] - shown
    assert 0 < after["resetsInSeconds"] <= 3600
    customer = token(settings, Role.CUSTOMER, account_id="acc-1")
    assert (await _op(api, "MyAllowance", {}, customer))["errors"][0]["message"] == "Not allowed."


async def test_the_staff_preview_is_a_logged_read_that_saves_nothing(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    await seed_listings(storage.listings, 8, seed=4, accounts=storage.accounts)
    target = next(i for i in demo_listings(8, seed=4) if i.choices.listed)
    agent = token(settings, Role.SUPPORT, subject="agent-p")
    c = target.choices
    wanted = {
        "listingId": target.id, "listed": True, "initialOnly": c.initial_only,
        "noGender": c.no_gender, "noStreet": c.no_street, "noReverseLookup": True,
        "noMarketing": c.no_marketing,
    }  # fmt: skip
    body = await _op(api, "StaffPreview", {"input": wanted, "purpose": "appel"}, agent)
    kinds = {k["kind"]: k for k in body["data"]["staffPreview"]["kinds"]}
    assert kinds["DIRECTORY"]["published"] is True
    assert kinds["REVERSE_LOOKUP"]["published"] is False
    stored = await storage.listings.get(target.id)
    assert stored is not None
    assert stored.choices == target.choices
    assert stored.version == 1
    log = await storage.access_log.query(agent="agent-p")
    assert [(r.operation, r.purpose, r.listing_id) for r in log] == [
        ("staffPreview", "appel", target.id)
    ]
    no_purpose = await _op(api, "StaffPreview", {"input": wanted, "purpose": " "}, agent)
    assert no_purpose["data"]["staffPreview"]["__typename"] == "ValidationProblem"
    customer = token(settings, Role.CUSTOMER, account_id=target.account_id)
    refused = await _op(api, "StaffPreview", {"input": wanted, "purpose": "x"}, customer)
    assert refused["errors"][0]["message"] == "Not allowed."


async def test_explain_says_whether_the_history_chain_verifies(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    await seed_listings(storage.listings, 3, seed=2, accounts=storage.accounts)
    target = next(iter(demo_listings(3, seed=2)))
    agent = token(settings, Role.SUPPORT, subject="agent-c")
    body = await _op(api, "ExplainListing", {"id": target.id, "purpose": "contrôle"}, agent)
    assert body["data"]["explainListing"]["historyProblem"] is None
    assert body["data"]["explainListing"]["listing"]["accountId"] == target.account_id
    await storage.db["listings"].update_one({"_id": target.id}, {"$set": {"head": "0" * 64}})
    body = await _op(api, "ExplainListing", {"id": target.id, "purpose": "contrôle"}, agent)
    assert body["data"]["explainListing"]["historyProblem"] == "last entry missing or replaced"


async def test_compliance_views_are_for_admins_and_count_from_feeds_and_acknowledgements(
    api: TestClient, storage: Storage, settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    await publishers_with_acknowledged_optouts(storage, keys_dir, tmp_path)
    support = token(settings, Role.SUPPORT)
    for name in ("PublisherCompliance", "PropagationTimes", "OptOutsPerWeek"):
        refused = await _op(api, name, {}, support)
        assert refused["errors"][0]["message"] == "Not allowed.", name
    admin = token(settings, Role.ADMIN)
    statuses = (await _op(api, "PublisherCompliance", {}, admin))["data"]["publisherCompliance"]
    by_id = {s["publisher"]["id"]: s for s in statuses}
    assert [r["sequence"] for r in by_id["editeur-a"]["recentRuns"]] == [2, 1]
    assert by_id["editeur-a"]["lastAcknowledgement"]["sequence"] == 2
    assert by_id["editeur-a"]["oldestPendingOptOutHours"] is None
    assert by_id["editeur-b"]["lastAcknowledgement"]["sequence"] == 1
    assert by_id["editeur-b"]["oldestPendingOptOutHours"] >= 0
    samples = (await _op(api, "PropagationTimes", {}, admin))["data"]["propagationTimes"]
    assert [(s["publisherId"], s["sequence"], s["optOuts"]) for s in samples] == [
        ("editeur-a", 2, 3)
    ]
    assert samples[0]["hours"] >= 0
    weekly = (await _op(api, "OptOutsPerWeek", {"weeks": 2}, admin))["data"]["optOutsPerWeek"]
    assert len(weekly) == 6  # two weeks, three kinds, zeros included
    this_week = {w["kind"]: w["optOuts"] for w in weekly[-3:]}
    assert this_week == {"DIRECTORY": 3, "ENQUIRY": 3, "REVERSE_LOOKUP": 0}
    bad = await _op(api, "PropagationTimes", {"days": 0}, admin)
    assert "days" in bad["errors"][0]["message"]


async def test_the_console_page_config_and_dev_sign_in(
    aiohttp_client: Any, settings: Settings
) -> None:
    issuer = "https://idp.example.fr/realms/staff"
    app = create_app(replace(settings, oidc_issuer=issuer, oidc_client_id="console"))
    client = await aiohttp_client(app)
    page = await client.get("/console")
    assert page.status == 200
    csp = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' https://idp.example.fr;" in csp
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    config = await (await client.get("/console/config.json")).json()
    assert config["oidc"] == {"issuer": issuer, "clientId": "console"}
    names = set(config["operations"])
    assert {"LookupByNumber", "ExplainListing", "PublisherCompliance", "StaffPreview"} <= names
    assert not names & {"Me", "SaveChoices", "MyReports", "Listings"}  # other clients' documents
    assert (await client.get("/console/nothing.js")).status == 404
    minted = await client.post("/console/dev-token", data={"agent": "agent-d", "role": "admin"})
    assert minted.status == 200
    assert (
        await client.post("/console/dev-token", data={"agent": "a", "role": "customer"})
    ).status == 400
    prod = await aiohttp_client(create_app(replace(settings, env=Env.PROD)))
    assert (
        await prod.post("/console/dev-token", data={"agent": "a", "role": "admin"})
    ).status == 404


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIRECTORY_OIDC_ISSUER": "https://idp.example.fr/x"}, "set both or neither"),
        ({"DIRECTORY_OIDC_ISSUER": "idp", "DIRECTORY_OIDC_CLIENT_ID": "c"}, "expected a URL"),
    ],
)
def test_the_identity_provider_settings_are_checked(
    env: dict[str, str], message: str, keys_dir: Path
) -> None:
    base = {"MONGODB_URI": "mongodb://127.0.0.1:1", "DIRECTORY_KEYS_DIR": str(keys_dir)}
    with pytest.raises(ConfigError, match=message):
        load_settings({**base, **env})
