"""Issue 16, items 4 and 5: bounded listings and clean text, through every path.

A listing holds at most the documented counts (numbers, business names, extra users),
its document keeps a bounded number of history entries (older ones are archived, the
chain intact), and every text is stored in the form that was validated: NFC, plain
spaces, no control, invisible or bidirectional characters.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.choices import Actor, Channel, Consent, Provenance
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.history import Change
from directory_svc.domain.listings import ExtraUser, LineNumber, Listing
from directory_svc.domain.numbers import LineType
from directory_svc.domain.validation import MAX_BUSINESS_NAMES, MAX_EXTRA_USERS, MAX_NUMBERS
from directory_svc.services import listings as service
from directory_svc.services.lines import TerminateLine, terminate_line
from directory_svc.services.maintenance import retire_key, rotate_keys, verify_history
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.history_archive import KEEP, SLACK
from directory_svc.storage.purge import purge
from directory_svc.storage.setup import Storage
from tests.conftest import operations, run_operation, token
from tests.r10_helpers import crm_row, import_rows

AT = datetime(2026, 6, 1, tzinfo=UTC)
UNCLEAN = [
    "Jean\n", "\tJean", "Jean\x85", "\x1cJean", "Je\u202ean", "Je\u200ban", "\ufeffJean",
    "Jean\u3164", "Jean\u2028", "Je\u2066an\u2069", "Jean\x00",
]  # fmt: skip


def _change(change_id: str) -> Change:
    return Change(change_id, Provenance(Actor.SUPPORT, Channel.PHONE, AT, "notice-2026-06"))


async def _one(storage: Storage) -> Listing:
    await seed_listings(storage.listings, 1, seed=31, accounts=storage.accounts)
    return await service.get_listing(storage.listings, next(iter(demo_listings(1, seed=31))).id)


@pytest.mark.parametrize("text", UNCLEAN, ids=[repr(t) for t in UNCLEAN])
async def test_control_invisible_and_bidi_characters_are_refused_anywhere(
    storage: Storage, text: str
) -> None:
    item = await _one(storage)
    for edit, field in (
        (lambda i: replace(i, first_name=text), "first_name"),
        (lambda i: replace(i, address=replace(i.address, street=f"rue {text}")), "address.street"),
        (lambda i: replace(i, mention=text), "mention"),
    ):
        with pytest.raises(ValidationError) as refused:
            await service.change_listing(
                storage.listings, item.id, item.version, edit, _change("x")
            )
        # A leading tab is refused first as a spreadsheet formula; refused either way.
        rules = {"forbidden_character", "formula"} if text[0] == "\t" else {"forbidden_character"}
        assert refused.value.field == field
        assert refused.value.rule in rules
    assert await service.get_listing(storage.listings, item.id) == item  # nothing stored


async def test_what_is_stored_is_the_validated_text(storage: Storage) -> None:
    item = await _one(storage)
    done = await service.change_listing(
        storage.listings, item.id, item.version,
        lambda i: replace(i, first_name="  Jose\u0301 ", mention="Rez\u00a0de\u202fchaussée "),
        _change("clean"),
    )  # fmt: skip
    stored = await service.get_listing(storage.listings, item.id)
    assert stored.first_name == "José" == done.first_name  # NFC, no spaces at the ends
    assert stored.mention == "Rez de chaussée"  # every kind of space a plain space


async def test_counts_are_bounded_through_the_services(storage: Storage) -> None:
    item = await _one(storage)
    consent = Consent(AT, Channel.PHONE, "ref")
    too_many = {
        "numbers": replace(item, numbers=tuple(
            LineNumber(f"+3314000{n:04d}", LineType.FIXED_GEOGRAPHIC, published=False)
            for n in range(MAX_NUMBERS + 1)
        ) + item.numbers[:0]),
        "business_names": replace(
            item, business_names=tuple(f"Nom {n}" for n in range(MAX_BUSINESS_NAMES + 1))
        ),
        "extra_users": replace(item, extra_users=tuple(
            ExtraUser(f"Nom{n}", "A", consent) for n in range(MAX_EXTRA_USERS + 1)
        )),
    }  # fmt: skip
    for field, edited in too_many.items():
        with pytest.raises(ValidationError) as refused:
            await service.change_listing(
                storage.listings, item.id, item.version, lambda _i, e=edited: e, _change(field)
            )
        assert (refused.value.field, refused.value.rule) == (field, "too_many")


async def test_counts_and_text_are_bounded_through_graphql(
    api: TestClient, storage: Storage, settings: Settings
) -> None:
    item = await _one(storage)
    customer = token(settings, Role.CUSTOMER, account_id=item.account_id)
    base = {
        "listingId": item.id, "expectedVersion": item.version, "changeId": "g1",
        "firstName": item.first_name, "businessNames": list(item.business_names),
        "publishedNumbers": [n.e164 for n in item.numbers if n.published],
        "extraUsers": [], "attested": True,
    }  # fmt: skip
    users = [
        {"surname": f"Nom{n}", "firstName": "A", "consentAttested": True}
        for n in range(MAX_EXTRA_USERS + 1)
    ]
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"extraUsers": users}, "extra_users", "too_many"),
        ({"businessNames": [f"Nom {n}" for n in range(MAX_BUSINESS_NAMES + 1)]},
         "business_names", "too_many"),
        ({"firstName": "Jean\n"}, "first_name", "forbidden_character"),
        ({"firstName": "Je\u202ean"}, "first_name", "forbidden_character"),
    ]  # fmt: skip
    doc = operations("customer")
    for over, field, rule in cases:
        body = await run_operation(api, doc, "SaveListing", {"input": base | over}, customer)
        problem = body["data"]["changeListing"]
        assert (problem["__typename"], problem["field"], problem["rule"]) == (
            "ValidationProblem",
            field,
            rule,
        ), over
    assert await service.get_listing(storage.listings, item.id) == item


async def test_counts_and_text_are_bounded_through_the_import(storage: Storage) -> None:
    numbers = "|".join(f"0299{n:06d}" for n in range(MAX_NUMBERS + 1))
    rows = [
        crm_row(1, numbers=numbers),
        crm_row(2, business_names="|".join(f"Nom {n}" for n in range(MAX_BUSINESS_NAMES + 1)),
                kind="professional"),
        crm_row(3, first_name="Jeanne\u200b"),
        crm_row(4, surname="Nom4\x85"),
        crm_row(5, first_name=" Jeanne\u00a0 "),
    ]  # fmt: skip
    report = await import_rows(storage, rows)
    assert report.created == 1
    assert [line for line, _ in report.rejected] == [2, 3, 4, 5]
    assert (await service.get_listing(storage.listings, "crm-0005")).first_name == "Jeanne"


async def test_a_long_history_stays_whole_while_the_document_stays_small(
    storage: Storage, keys_dir: Path
) -> None:
    item = await _one(storage)
    changes = 3 * SLACK + 7
    current = item
    for n in range(changes):
        current = await service.change_listing(
            storage.listings, item.id, current.version,
            lambda i, n=n: replace(i, mention=f"note {n}"), _change(f"h{n}"),
        )  # fmt: skip
    raw = await storage.listings.raw(item.id)
    assert raw is not None
    assert len(raw["history"]) < KEEP + SLACK  # bounded in the document
    history = await storage.listings.history(item.id)
    assert [e.seq for e in history] == list(range(1, changes + 2))  # whole, in order
    assert history[-1].after == {"mention": f"note {changes - 1}"}
    assert await verify_history(storage.listings) == []

    # Key rotation reaches archived entries: the old key can then be retired.
    old_kid = storage.keys.active_kid
    await rotate_keys(storage.listings, keys_dir)
    await retire_key(storage.listings, keys_dir, old_kid)
    assert len(await storage.listings.history(item.id)) == changes + 1
    assert await verify_history(storage.listings) == []

    # Erasure reaches archived entries too, and the chain still verifies.
    end = TerminateLine(
        listing_id=item.id, expected_version=None, change_id="end", reason="résiliation", at=AT
    )
    await terminate_line(storage.listings, end)
    assert await purge(storage.listings, item.id, _change("purge"))
    history = await storage.listings.history(item.id)
    assert all(item.surname not in str(e.before) + str(e.after) for e in history)
    assert not any("note 3" in str(e.after) for e in history)
    assert await verify_history(storage.listings) == []
