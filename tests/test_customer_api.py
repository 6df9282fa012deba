"""The subscriber's API: previews from the projection, content changes with attestation,
history and the GDPR copy, through the operations the form sends."""

import json
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.listings import LineNumber, Listing, ListingKind
from directory_svc.domain.numbers import LineType
from directory_svc.services.listings import create_listing
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage
from tests.conftest import choices_input, operations, run_operation, token

DOC = operations("customer")


async def _op(api: TestClient, name: str, variables: dict[str, Any], bearer: str) -> Any:
    body = await run_operation(api, DOC, name, variables, bearer)
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
async def fixed(storage: Storage) -> Listing:
    await seed_listings(storage.listings, 30, seed=8, accounts=storage.accounts)
    return next(
        i
        for i in demo_listings(30, seed=8)
        if i.line_type is LineType.FIXED_GEOGRAPHIC
        and i.kind is ListingKind.RESIDENTIAL
        and i.choices.listed
        and not i.choices.initial_only
        and not i.choices.no_reverse_lookup
    )


def _content(listing: Listing, version: int, change_id: str, **over: Any) -> dict[str, Any]:
    return {
        "listingId": listing.id,
        "expectedVersion": version,
        "changeId": change_id,
        "firstName": listing.first_name,
        "businessNames": list(listing.business_names),
        "profession": "Luthier",
        "mention": listing.mention,
        "email": listing.email,
        "publishedNumbers": [n.e164 for n in listing.numbers],
        "extraUsers": [],
        "attested": True,
        **over,
    }


def _kind(preview: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(k for k in preview["kinds"] if k["kind"] == kind)


async def test_me_previews_each_kind_and_preview_choices_saves_nothing(
    api: TestClient, storage: Storage, settings: Settings, fixed: Listing
) -> None:
    bearer = token(settings, Role.CUSTOMER, account_id=fixed.account_id)
    me = (await _op(api, "Me", {}, bearer))["me"]
    preview = next(p for p in me["previews"] if p["listingId"] == fixed.id)
    assert {k["kind"] for k in preview["kinds"]} == {"DIRECTORY", "ENQUIRY", "REVERSE_LOOKUP"}
    fields = {f["name"]: f["value"] for f in _kind(preview, "DIRECTORY")["fields"]}
    assert fields["first_name"] == fixed.first_name
    assert me["noticeVersion"]

    c = fixed.choices
    wanted = {
        "listingId": fixed.id,
        "listed": True,
        "initialOnly": True,
        "noGender": c.no_gender,
        "noStreet": c.no_street,
        "noReverseLookup": True,
        "noMarketing": c.no_marketing,
    }
    found = (await _op(api, "PreviewChoices", {"input": wanted}, bearer))["previewChoices"]
    directory = {f["name"]: f["value"] for f in _kind(found, "DIRECTORY")["fields"]}
    assert directory["first_name"] == f"{fixed.first_name[0]}."
    reverse = _kind(found, "REVERSE_LOOKUP")
    assert reverse["published"] is False
    assert reverse["reasons"][0]["code"] == "reverse_lookup_excluded"
    stored = await storage.listings.get(fixed.id)
    assert stored is not None
    assert stored.version == fixed.version + 1
    assert not stored.choices.initial_only

    unlisted = wanted | {"listed": False}
    gone = (await _op(api, "PreviewChoices", {"input": unlisted}, bearer))["previewChoices"]
    assert [k["published"] for k in gone["kinds"]] == [False, False, False]


async def test_a_homonym_in_the_commune_is_shown_as_a_limit(
    api: TestClient, storage: Storage, settings: Settings, fixed: Listing
) -> None:
    twin_first = fixed.first_name[0] + "zzz"  # same initial, other first name
    twin = replace(
        fixed,
        id="twin-of-" + fixed.id[:20],
        account_id="acc-twin",
        first_name=twin_first,
        numbers=(replace(fixed.numbers[0], e164="+33140000001"),),
        version=0,
    )
    origin = Provenance(Actor.IMPORT, Channel.IMPORT, fixed.provenance.at, "n")
    await create_listing(storage.listings, twin, Change("twin", origin))
    bearer = token(settings, Role.CUSTOMER, account_id=fixed.account_id)
    me = (await _op(api, "Me", {}, bearer))["me"]
    preview = next(p for p in me["previews"] if p["listingId"] == fixed.id)
    assert {"choice": "initial_only", "reason": "homonym"} in preview["limits"]


async def test_content_needs_the_attestation_and_consent_of_extra_users(
    api: TestClient, storage: Storage, settings: Settings, fixed: Listing
) -> None:
    bearer = token(settings, Role.CUSTOMER, account_id=fixed.account_id)
    v = fixed.version + 1
    refused = await _op(
        api, "SaveListing", {"input": _content(fixed, v, "k1", attested=False)}, bearer
    )
    assert refused["changeListing"]["field"] == "attested"

    no_consent = [{"surname": "Durand", "firstName": "Léa", "consentAttested": False}]
    refused = await _op(
        api, "SaveListing", {"input": _content(fixed, v, "k2", extraUsers=no_consent)}, bearer
    )
    assert refused["changeListing"]["rule"] == "consent_required"

    foreign = _content(fixed, v, "k3", publishedNumbers=["+33 1 99 99 99 99"])
    refused = (await _op(api, "SaveListing", {"input": foreign}, bearer))["changeListing"]
    assert refused["rule"] == "not_on_line"
    assert (await storage.listings.get(fixed.id)).version == v  # type: ignore[union-attr]

    users = [{"surname": "Durand", "firstName": "Léa", "consentAttested": True}]
    saved = (
        await _op(api, "SaveListing", {"input": _content(fixed, v, "k4", extraUsers=users)}, bearer)
    )["changeListing"]
    assert saved["__typename"] == "ChangeApplied"
    assert saved["listing"]["profession"] == "Luthier"
    assert saved["listing"]["extraUsers"] == [
        {"surname": "Durand", "firstName": "Léa", "consent": True}
    ]
    entry = (await storage.listings.history(fixed.id))[-1]
    assert entry.attested is True
    assert entry.provenance.actor is Actor.SUBSCRIBER

    stale = await _op(api, "SaveListing", {"input": _content(fixed, v, "k5")}, bearer)
    assert stale["changeListing"]["__typename"] == "VersionConflictProblem"
    assert stale["changeListing"]["current"]["version"] == v + 1


async def test_support_changes_content_with_a_reason_and_a_channel(
    api: TestClient, storage: Storage, settings: Settings, fixed: Listing
) -> None:
    agent = token(settings, Role.SUPPORT, subject="agent-3")
    v = fixed.version + 1
    no_reason = await run_operation(
        api, DOC, "SaveListing", {"input": _content(fixed, v, "s1")}, agent
    )
    assert no_reason["data"]["changeListing"]["field"] == "reason"
    given = _content(fixed, v, "s2", reason="customer called", channel="PHONE")
    done = await run_operation(api, DOC, "SaveListing", {"input": given}, agent)
    assert done["data"]["changeListing"]["__typename"] == "ChangeApplied"
    entry = (await storage.listings.history(fixed.id))[-1]
    assert (entry.reason, entry.provenance.agent_id, entry.attested) == (
        "customer called",
        "agent-3",
        True,
    )


async def test_history_and_data_export_cover_only_my_account(
    api: TestClient, storage: Storage, settings: Settings, fixed: Listing
) -> None:
    bearer = token(settings, Role.CUSTOMER, account_id=fixed.account_id)
    await _op(api, "SaveListing", {"input": _content(fixed, fixed.version + 1, "h1")}, bearer)
    history = (await _op(api, "MyHistory", {}, bearer))["myHistory"]
    assert history[0]["changed"] == ["profession"]
    assert history[0]["attested"] is True
    assert {h["listingId"] for h in history} == {fixed.id}

    export = (await _op(api, "MyDataExport", {}, bearer))["myDataExport"]
    assert export["account"]["id"] == fixed.account_id
    assert [item["id"] for item in export["listings"]] == [fixed.id]
    assert export["listings"][0]["values"]["surname"] == fixed.surname
    assert export["listings"][0]["history"][-1]["after"] == {"profession": "Luthier"}
    others = [i for i in demo_listings(30, seed=8) if i.account_id != fixed.account_id]
    text = json.dumps(export, ensure_ascii=False)
    assert not any(o.id in text for o in others)


async def test_the_data_export_never_names_the_staff_who_read_or_changed_my_data(
    api: TestClient, settings: Settings, fixed: Listing
) -> None:
    """Issue 16, item 1: the agents' token subjects stayed in ``accesses`` and ``history``."""
    agent = token(settings, Role.SUPPORT, subject="agent-secret-77")
    support = operations("support")
    read = await run_operation(
        api, support, "Account", {"id": fixed.account_id, "purpose": "appel client"}, agent
    )
    assert "errors" not in read, read
    given = _content(fixed, fixed.version + 1, "s77", reason="customer called", channel="PHONE")
    saved = await run_operation(api, DOC, "SaveListing", {"input": given}, agent)
    assert saved["data"]["changeListing"]["__typename"] == "ChangeApplied"
    bearer = token(settings, Role.CUSTOMER, account_id=fixed.account_id)
    export = (await _op(api, "MyDataExport", {}, bearer))["myDataExport"]
    assert [a["role"] for a in export["accesses"]] == ["support"]
    assert export["listings"][0]["history"][-1]["by"] == "support"
    assert "agent-secret-77" not in json.dumps(export)


async def test_me_sends_as_many_commands_for_one_line_as_for_five(
    storage: Storage, settings: Settings
) -> None:
    """Issue 14: `me` reads all homonymy groups in one query, whatever the number of lines."""
    from directory_svc.domain.access import Principal
    from directory_svc.services.dependencies import Services
    from directory_svc.services.my_data import my_overview
    from directory_svc.storage.setup import open_storage
    from tests.test_versioned_writes import Commands

    await seed_listings(storage.listings, 12, seed=14, accounts=storage.accounts)
    items = list(demo_listings(12, seed=14))
    one, many = items[0], items[1]
    origin = Change("lines", Provenance(Actor.IMPORT, Channel.IMPORT, one.provenance.at, "n"))
    for n in range(4):  # four more lines on the account of ``many``
        number = LineNumber(f"+3314000001{n}", LineType.FIXED_GEOGRAPHIC)
        line = replace(many, id=f"line-{n}", numbers=(number,), version=0)
        await create_listing(storage.listings, line, origin)
    listener = Commands()
    opened = await open_storage(settings, indexes=False, listeners=[listener])
    try:
        counts = []
        for account in (one.account_id, many.account_id):
            listener.sent.clear()
            who = Principal("sub", Role.CUSTOMER, account_id=account)
            mine = await my_overview(Services.of(opened, settings), who=who)
            counts.append((len(mine.listings), len(listener.sent)))
    finally:
        await opened.close()
    assert [n for n, _ in counts] == [1, 5]
    assert counts[0][1] == counts[1][1]


async def test_a_change_identical_to_the_current_state_writes_nothing(
    api: TestClient, storage: Storage, settings: Settings, fixed: Listing
) -> None:
    """Issue 24: sending the choices (or the content) the listing already has answers
    "nothing changed": no new version, no history entry, nothing for publishers."""
    bearer = token(settings, Role.CUSTOMER, account_id=fixed.account_id)
    before = await storage.listings.get(fixed.id)
    assert before is not None
    c = before.choices
    same = choices_input(before, before.version, "same-1")
    saved = (await _op(api, "SaveChoices", {"input": same}, bearer))["changeChoices"]
    assert saved["__typename"] == "ChangeApplied"
    assert saved["changed"] is False
    assert saved["listing"]["version"] == before.version
    content = _content(before, before.version, "same-2", profession=before.profession)
    kept = (await _op(api, "SaveListing", {"input": content}, bearer))["changeListing"]
    assert kept["changed"] is False
    after = await storage.listings.get(fixed.id)
    assert after is not None
    assert after.version == before.version
    assert after.updated_at == before.updated_at
    history = (await _op(api, "MyHistory", {}, bearer))["myHistory"]
    assert [h for h in history if h["listingId"] == fixed.id] == [
        h for h in history if h["listingId"] == fixed.id and h["seq"] <= before.version
    ]

    other = {**same, "noMarketing": not c.no_marketing, "changeId": "other"}
    changed = (await _op(api, "SaveChoices", {"input": other}, bearer))["changeChoices"]
    assert changed["changed"] is True
    assert changed["listing"]["version"] == before.version + 1
    assert len((await _op(api, "MyHistory", {}, bearer))["myHistory"]) == len(history) + 1
