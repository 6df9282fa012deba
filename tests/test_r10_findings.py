"""The seven R10 findings of issue 12, each reproduced end to end: import, choices, export.

Each test failed on the code before the fix (see the commit that added it).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import AutoReconnect

from directory_svc.domain.access import Principal, Role
from directory_svc.domain.choices import Channel
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.listings import Status
from directory_svc.domain.publishers import (
    PUBLISHABLE_FIELDS,
    FeedFormat,
    GeoScope,
    HomonymyPolicy,
    Publisher,
    PublisherKind,
    PublisherProfile,
)
from directory_svc.domain.requests import ChangeRequest
from directory_svc.services import listings as listing_service
from directory_svc.services.choices import ChoiceValues, change_choices
from directory_svc.services.content import ContentValues, change_content
from directory_svc.services.publishers import add_publisher, export_now, update_publisher
from directory_svc.storage.setup import Storage
from exporters.formats import FeedWriter, columns
from tests.conftest import gql
from tests.r10_helpers import comparable, crm_row, fresh_full, import_rows, records, replayed
from tests.test_cli_serve import run_cli

AT = datetime(2026, 6, 1, tzinfo=UTC)
SUBSCRIBER_NOTICE = "notice-2026-01"


def _pub(pid: str, **profile: Any) -> Publisher:
    fmt = profile.pop("feed_format", FeedFormat.CSV)
    kind = profile.pop("kind", PublisherKind.DIRECTORY)
    return Publisher(PublisherProfile(pid, kind, **profile), f"Éditeur {pid}", feed_format=fmt)


async def _subscriber_choices(storage: Storage, listing_id: str, **wanted: bool) -> None:
    current = await listing_service.get_listing(storage.listings, listing_id)
    c = current.choices
    values = ChoiceValues(
        listed=wanted.get("listed", c.listed),
        initial_only=wanted.get("initial_only", c.initial_only),
        no_gender=wanted.get("no_gender", c.no_gender),
        no_street=wanted.get("no_street", c.no_street),
        no_reverse_lookup=wanted.get("no_reverse_lookup", c.no_reverse_lookup),
        no_marketing=wanted.get("no_marketing", c.no_marketing),
    )
    who = Principal("cust", Role.CUSTOMER, account_id=current.account_id)
    request = ChangeRequest(who, f"form-{listing_id}-{current.version}", AT, SUBSCRIBER_NOTICE)
    await change_choices(
        storage.listings, request=request, listing_id=listing_id,
        expected_version=current.version, values=values,
    )  # fmt: skip


async def _terminate(storage: Storage, listing_id: str) -> None:
    from directory_svc.services.lines import TerminateLine, terminate_line

    current = await listing_service.get_listing(storage.listings, listing_id)
    who = Principal("agent-7", Role.SUPPORT)
    await terminate_line(
        storage.listings,
        TerminateLine(
            listing_id=listing_id, expected_version=current.version,
            change_id=f"end-{listing_id}", reason="contrat résilié", at=AT, by=who,
            channel=Channel.PHONE,
        ),
    )  # fmt: skip


# 1. A CRM re-import reverts subscribers' choices.


async def test_reimport_keeps_subscribers_choices_and_terminations(
    storage: Storage, tmp_path: Path, keys_dir: Path
) -> None:
    rows = [crm_row(n) for n in range(1, 6)]
    first = await import_rows(storage, rows)
    assert (first.created, first.rejected) == (5, [])
    await add_publisher(storage.publishers, _pub("dir"))
    keys = keys_dir
    await export_now(storage, keys, "dir", tmp_path, full=True)

    await _subscriber_choices(storage, "crm-0001", listed=False)
    await _subscriber_choices(storage, "crm-0002", initial_only=True, no_reverse_lookup=True)
    await _terminate(storage, "crm-0003")
    after_choices = await export_now(storage, keys, "dir", tmp_path)
    assert {r["entry_id"] for r in records(after_choices.folder)} == {
        "crm-0001", "crm-0002", "crm-0003"
    }  # fmt: skip

    again = await import_rows(storage, rows)  # the byte-identical file
    assert (again.created, again.changed, again.choice_changes, again.rejected) == (0, 0, 0, [])
    one = await listing_service.get_listing(storage.listings, "crm-0001")
    two = await listing_service.get_listing(storage.listings, "crm-0002")
    three = await listing_service.get_listing(storage.listings, "crm-0003")
    assert one.choices.listed is False
    assert (two.choices.initial_only, two.choices.no_reverse_lookup) == (True, True)
    assert three.status is Status.TERMINATED
    delta = await export_now(storage, keys, "dir", tmp_path)
    assert records(delta.folder) == []

    # A CRM row that changed: its content is updated, the subscriber's choices are kept,
    # and the report says so (without personal data).
    moved = [crm_row(1, street_number="99"), *rows[1:]]
    third = await import_rows(storage, moved)
    assert (third.changed, third.choice_changes) == (1, 0)
    assert any(note.startswith("kept: choices: recorded by subscriber") for _, note in third.notes)
    one = await listing_service.get_listing(storage.listings, "crm-0001")
    assert (one.address.number, one.choices.listed) == ("99", False)
    # A terminated line is never re-activated by a row.
    revived = await import_rows(storage, [crm_row(3, street_number="77", status="active")])
    assert (await listing_service.get_listing(storage.listings, "crm-0003")).status is (
        Status.TERMINATED
    )
    assert any("terminated" in note for _, note in revived.notes)
    # An explicit, newer choice recorded in the CRM is applied.
    newer = await import_rows(
        storage, [crm_row(2, initial_only="false", choices_at="2030-01-01T00:00:00+00:00")]
    )
    assert newer.choice_changes == 1
    assert (
        await listing_service.get_listing(storage.listings, "crm-0002")
    ).choices.initial_only is (False)


# 2. A mobile number is published without consent when it is not the first number.


async def test_a_second_mobile_number_is_never_published_without_its_consent(
    storage: Storage, tmp_path: Path, keys_dir: Path
) -> None:
    report = await import_rows(storage, [crm_row(9, numbers="0299000009|0612345603")])
    assert report.rejected == []
    keys = keys_dir
    for pid, kind in (("dir", PublisherKind.DIRECTORY), ("rev", PublisherKind.REVERSE_LOOKUP)):
        await add_publisher(storage.publishers, _pub(pid, kind=kind))
        done = await export_now(storage, keys, pid, tmp_path, full=True)
        sent = records(done.folder)
        assert [r["numbers"] for r in sent] == ["+33299000009"]
    listing = await listing_service.get_listing(storage.listings, "crm-0009")
    # Validation names the number's position, never its value.
    published = replace(listing, numbers=tuple(replace(n, published=True) for n in listing.numbers))
    with pytest.raises(ValidationError) as caught:
        listing_service.check_listing(published)
    assert caught.value.field == "numbers.1"
    assert "0612345603" not in str(caught.value)
    assert "612345603" not in str(caught.value)


async def test_a_crm_listing_a_line_whose_numbers_the_subscriber_all_hides_is_a_rejected_row(
    storage: Storage,
) -> None:
    """Found by the state machine on DocumentDB: the CRM lists (newer choice) a line whose
    every number the subscriber hid while unlisted; the import raised instead of refusing
    that row, and the rest of the file was not imported."""
    row = crm_row(11, listed="false", choices_at=AT.isoformat())
    assert (await import_rows(storage, [row, crm_row(12)])).rejected == []
    current = await listing_service.get_listing(storage.listings, "crm-0011")
    who = Principal("cust", Role.CUSTOMER, account_id=current.account_id)
    hidden = ContentValues(
        first_name=current.first_name,
        business_names=(),
        profession=None,
        mention=None,
        email=current.email,
        published_numbers=(),
        extra_users=(),
    )
    await change_content(
        storage.listings,
        request=ChangeRequest(who, "hide-all", AT, SUBSCRIBER_NOTICE),
        listing_id=current.id,
        expected_version=current.version,
        values=hidden,
        attested=True,
    )
    later = (AT.replace(year=2036)).isoformat()
    rows = [crm_row(11, listed="true", choices_at=later), crm_row(12, street_number="99")]
    report = await import_rows(storage, rows)
    assert report.rejected == [(2, "numbers: a listed line must show a number")]
    assert report.changed == 1  # the other row is imported
    kept = await listing_service.get_listing(storage.listings, "crm-0011")
    assert not kept.choices.listed
    assert not kept.published_numbers


# 3. Publisher profile changes never reach the publisher.


async def test_profile_changes_reach_the_publisher_as_a_reconciling_delta(
    storage: Storage, tmp_path: Path, keys_dir: Path
) -> None:
    rows = [crm_row(n) for n in range(1, 5)] + [
        crm_row(n, postcode="29200", insee_code="29019", commune="Brest") for n in range(5, 8)
    ]
    rows += [crm_row(8, surname="Nom1", initial_only="true")]  # namesake of crm-0001 (Jeanne)
    await import_rows(storage, rows)
    await _subscriber_choices(storage, "crm-0001", initial_only=True)
    keys = keys_dir
    publisher = _pub("dir", homonymy=HomonymyPolicy.LENIENT)
    await add_publisher(storage.publishers, publisher)
    await export_now(storage, keys, "dir", tmp_path, full=True)

    steps = [
        lambda p: replace(p, profile=replace(p.profile, scope=GeoScope(frozenset({"35"})))),
        lambda p: replace(p, profile=replace(p.profile, homonymy=HomonymyPolicy.STRICT)),
        lambda p: replace(
            p, profile=replace(p.profile, fields=frozenset(PUBLISHABLE_FIELDS) - {"email"})
        ),
    ]
    for edit in steps:
        saved = await update_publisher(storage.publishers, "dir", None, edit)
        delta = await export_now(storage, keys, "dir", tmp_path)
        assert delta.kind == "delta"
        manifest = json.loads((delta.folder / "manifest.json").read_text())["manifest"]
        assert manifest.get("reconcile") == "profile_changed"
        assert comparable(replayed(tmp_path, "dir")) == comparable(await fresh_full(storage, saved))
    held = replayed(tmp_path, "dir")
    assert set(held) == {f"crm-{n:04d}" for n in (1, 2, 3, 4, 8)}  # Brest left: out of scope
    assert held["crm-0001"]["first_name"] == "Jeanne"  # strict homonymy now unmasks
    assert all("email" not in r for r in held.values())
    # Nothing changed since: the next delta is empty and not a reconciliation.
    quiet = await export_now(storage, keys, "dir", tmp_path)
    assert records(quiet.folder) == []
    assert "reconcile" not in json.loads((quiet.folder / "manifest.json").read_text())["manifest"]


# 4. A line cannot be terminated by anyone.


async def test_support_terminates_a_line_over_graphql_and_it_leaves_the_feeds(
    storage: Storage, api: TestClient, tmp_path: Path, keys_dir: Path
) -> None:
    await import_rows(storage, [crm_row(1), crm_row(2)])
    keys = keys_dir
    await add_publisher(storage.publishers, _pub("dir"))
    await export_now(storage, keys, "dir", tmp_path, full=True)
    mutation = """
      mutation End($input: TerminateLineInput!) {
        terminateLine(input: $input) {
          __typename
          ... on ChangeApplied { listing { id status } }
          ... on ValidationProblem { field rule }
        }
      }"""
    base = {"listingId": "crm-0001", "expectedVersion": 1, "changeId": "end-1"}
    refused = await gql(api, mutation, {"input": {**base, "reason": "résiliation"}})
    assert refused["data"]["terminateLine"] == {
        "__typename": "ValidationProblem", "field": "channel", "rule": "required"
    }  # fmt: skip
    done = await gql(
        api, mutation, {"input": {**base, "reason": "résiliation", "channel": "PHONE"}}
    )
    assert done["data"]["terminateLine"]["listing"]["status"] == "terminated"
    history = await storage.listings.history("crm-0001")
    assert history[-1].reason == "résiliation"
    assert history[-1].after == {"status": "terminated"}
    accesses = await storage.access_log.query(listing_id="crm-0001")
    assert [a.operation for a in accesses] == ["terminateLine"]
    delta = await export_now(storage, keys, "dir", tmp_path)
    assert [(r["entry_id"], r["action"], r["reason"]) for r in records(delta.folder)] == [
        ("crm-0001", "delete", "terminated")
    ]
    # Irreversible: no path re-activates it.
    current = await listing_service.get_listing(storage.listings, "crm-0001")
    with pytest.raises(ValidationError) as caught:
        await listing_service.change_listing(
            storage.listings, "crm-0001", current.version,
            lambda item: replace(item, status=Status.ACTIVE),
            _change("revive"),
        )  # fmt: skip
    assert caught.value.field == "status"


def _change(change_id: str) -> Any:
    from directory_svc.domain.choices import Actor, Provenance
    from directory_svc.domain.history import Change

    return Change(change_id, Provenance(Actor.SUPPORT, Channel.PHONE, AT, "n1", "agent-7"), "x")


def test_cli_terminates_a_line_and_an_import_status_column_terminates_too(
    tmp_path: Path, mongo_uri: str, db_name: str, keys_dir: Path
) -> None:
    from tests.r10_helpers import crm_file

    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}
    crm = tmp_path / "crm.csv"
    crm.write_bytes(crm_file([crm_row(1, status="active"), crm_row(2, status="active")]))
    done, _ = run_cli(env, "import", str(crm), keys_dir=keys_dir)
    assert done.returncode == 0, done.stderr
    ended, _ = run_cli(
        env, "line", "terminate", "crm-0001", "--reason", "résiliation", keys_dir=keys_dir
    )
    assert ended.returncode == 0, ended.stderr
    assert "terminated crm-0001" in ended.stdout
    twice, _ = run_cli(env, "line", "terminate", "crm-0001", "--reason", "x", keys_dir=keys_dir)
    assert twice.returncode == 1
    assert "already terminated" in twice.stderr
    crm.write_bytes(crm_file([crm_row(1, status="active"), crm_row(2, status="terminated")]))
    again, _ = run_cli(env, "import", str(crm), keys_dir=keys_dir)
    assert again.returncode == 0, again.stderr
    assert "crm.csv:2: kept: status: the line is terminated" in again.stderr
    unknown, _ = run_cli(env, "line", "terminate", "nope", "--reason", "x", keys_dir=keys_dir)
    assert unknown.returncode == 1
    assert "listing not found" in unknown.stderr.lower()


async def test_import_status_terminated_terminates(storage: Storage) -> None:
    await import_rows(storage, [crm_row(1)])
    report = await import_rows(storage, [crm_row(1, status="terminated")])
    assert report.changed == 1
    listing = await listing_service.get_listing(storage.listings, "crm-0001")
    assert listing.status is Status.TERMINATED
    bad = await import_rows(storage, [crm_row(2, status="paused")])
    assert bad.rejected
    assert "status" in bad.rejected[0][1]


# 5. Feed cells are not neutralised against spreadsheet formulas.

FORMULAS = [
    ("surname", '=HYPERLINK("http://x.example","Cliquez")'),
    ("mention", "@SUM(1+9)*cmd|' /C calc'!A0"),
    ("first_name", "-2+3+cmd"),
    ("business_names", "+1+1"),
    ("profession", "\t=1"),
]


@pytest.mark.parametrize(("field", "value"), FORMULAS)
async def test_formula_like_texts_are_rejected_at_import(
    storage: Storage, field: str, value: str
) -> None:
    over = {field: value}
    if field == "business_names":
        over["kind"] = "professional"
    report = await import_rows(storage, [crm_row(1, **over)])
    assert len(report.rejected) == 1
    assert report.rejected[0][1].startswith(f"{field}")
    assert "formula" in report.rejected[0][1]
    assert value not in report.rejected[0][1]


def test_the_csv_writer_neutralises_formula_cells(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    writer = FeedWriter(path, FeedFormat.CSV, columns(frozenset({"surname", "numbers"})))
    writer.upsert({"entry_id": "e1", "action": "upsert", "surname": "=1+1", "numbers": "+33299"})
    writer.upsert({"entry_id": "e2", "action": "upsert", "surname": "@x", "numbers": "\r-3"})
    writer.close()
    rows = records_of(path)
    assert [(r["surname"], r["numbers"]) for r in rows] == [("'=1+1", "+33299"), ("'@x", "'\r-3")]


def records_of(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=";"))


# 6. A failed ledger swap loses a delete.


class LedgerFault:
    """Fails the n-th write command sent to a ledger collection (feed_ledger*)."""

    WRITES = ("insert_one", "insert_many", "update_one", "update_many", "replace_one",
              "delete_one", "delete_many", "bulk_write", "drop")  # fmt: skip

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fail_at: int | None = None
        self.count = 0
        self.fired = False
        for name in self.WRITES:
            original = getattr(AsyncCollection, name)
            monkeypatch.setattr(AsyncCollection, name, self._wrap(original))

    def _wrap(self, original: Any) -> Any:
        fault = self

        async def write(col: AsyncCollection[Any], *args: Any, **kwargs: Any) -> Any:
            if col.name.startswith("feed_ledger") and fault.fail_at is not None:
                fault.count += 1
                if fault.count == fault.fail_at:
                    fault.fired = True
                    raise AutoReconnect("injected: connection lost during the ledger swap")
            return await original(col, *args, **kwargs)

        return write

    def arm(self, n: int) -> None:
        self.fail_at, self.count, self.fired = n, 0, False

    def disarm(self) -> None:
        self.fail_at = None


async def test_a_failure_at_any_step_of_the_ledger_swap_never_loses_a_delete(
    storage: Storage, tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await import_rows(storage, [crm_row(n) for n in range(1, 31)])
    keys = keys_dir
    publisher = _pub("dir")
    await add_publisher(storage.publishers, publisher)
    await export_now(storage, keys, "dir", tmp_path, full=True)
    fault = LedgerFault(monkeypatch)
    step = 0
    while True:
        step += 1
        fault.arm(step)
        with contextlib.suppress(AutoReconnect):
            await export_now(storage, keys, "dir", tmp_path, full=True)
        fault.disarm()
        if not fault.fired:
            break  # every write of the swap has been failed once
        victim = f"crm-{step:04d}"
        await _subscriber_choices(storage, victim, listed=False)
        await export_now(storage, keys, "dir", tmp_path)
        held = replayed(tmp_path, "dir")
        assert victim not in held, f"failure at write {step} of the swap kept an unlisted entry"
        assert comparable(held) == comparable(await fresh_full(storage, publisher))
    assert step > 2  # the swap has several steps, each was failed


# 7. Paris, Lyon and Marseille are one place each.


async def test_paris_arrondissements_are_one_commune_for_homonymy_and_scope(
    storage: Storage, tmp_path: Path, keys_dir: Path
) -> None:
    paris = {"postcode": "75011", "commune": "Paris", "initial_only": "true"}
    report = await import_rows(
        storage,
        [
            crm_row(1, surname="Martin", insee_code="75056", **paris),
            crm_row(2, surname="Martin", insee_code="75111", **paris),
            crm_row(3, surname="Durand", insee_code="69123", postcode="69003", commune="Lyon"),
        ],
    )
    assert report.rejected == []
    stored = await listing_service.get_listing(storage.listings, "crm-0001")
    assert stored.address.insee_code == "75111"  # the arrondissement, from the postcode
    lyon = await listing_service.get_listing(storage.listings, "crm-0003")
    assert lyon.address.insee_code == "69383"
    keys = keys_dir
    scope = GeoScope(communes=frozenset({"75056", "69123"}))
    await add_publisher(storage.publishers, _pub("paris", scope=scope))
    done = await export_now(storage, keys, "paris", tmp_path, full=True)
    sent = {r["entry_id"]: r for r in records(done.folder)}
    assert set(sent) == {"crm-0001", "crm-0002", "crm-0003"}
    # Namesakes in the same arrondissement: initial-only cannot apply (strict homonymy).
    assert sent["crm-0001"]["first_name"] == sent["crm-0002"]["first_name"] == "Jeanne"


async def test_a_published_feed_whose_ledger_update_failed_is_recorded_by_the_next_run(
    storage: Storage, tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await import_rows(storage, [crm_row(n) for n in range(1, 6)])
    await add_publisher(storage.publishers, _pub("dir"))
    await export_now(storage, keys_dir, "dir", tmp_path, full=True)
    await _subscriber_choices(storage, "crm-0001", listed=False)
    fault = LedgerFault(monkeypatch)
    fault.arm(1)  # the delta's first ledger write, after its folder was published
    with pytest.raises(AutoReconnect):
        await export_now(storage, keys_dir, "dir", tmp_path)
    fault.disarm()
    assert (tmp_path / "dir-000002-delta").is_dir()
    runs = await storage.runs.list("dir")
    assert runs[0].status == "published"  # the lease is free, the ledger is pending
    nxt = await export_now(storage, keys_dir, "dir", tmp_path)
    runs = {r.seq: r for r in await storage.runs.list("dir")}
    assert runs[2].status == "succeeded"  # recovered: its journal is in the ledger
    manifest = json.loads((nxt.folder / "manifest.json").read_text())["manifest"]
    assert manifest["period"]["from"] == runs[2].scan_started.isoformat()  # type: ignore[union-attr]
    assert records(nxt.folder) == []  # the delete was recorded: not sent twice
    assert "crm-0001" not in replayed(tmp_path, "dir")
