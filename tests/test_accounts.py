"""Accounts and the information duty."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from directory_svc.domain.choices import Channel
from directory_svc.domain.errors import NotFound, ValidationError
from directory_svc.services.accounts import get_account, record_information_given
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage

AT = datetime(2026, 6, 1, tzinfo=UTC)


async def test_seeded_accounts_were_informed_and_own_their_listings(storage: Storage) -> None:
    await seed_listings(storage.listings, 30, seed=2, accounts=storage.accounts)
    first = next(iter(demo_listings(1, seed=2)))
    account = await get_account(storage.accounts, first.account_id)
    assert account.kind is first.kind
    assert account.last_informed is not None
    assert account.last_informed.notice_version == "notice-2026-01"
    assert [item.id for item in await storage.listings.for_account(account.id)] == [first.id]


async def test_concurrent_information_records_are_all_kept(storage: Storage) -> None:
    await seed_listings(storage.listings, 1, seed=2, accounts=storage.accounts)
    account_id = next(iter(demo_listings(1, seed=2))).account_id
    await asyncio.gather(
        *(
            record_information_given(
                storage.accounts, account_id, AT + timedelta(minutes=n), Channel.WEB, f"n-{n}"
            )
            for n in range(20)
        )
    )
    account = await get_account(storage.accounts, account_id)
    assert len(account.informed) == 21
    assert account.last_informed is not None
    assert account.last_informed.notice_version == "n-19"


async def test_information_for_an_unknown_account_or_without_notice_is_refused(
    storage: Storage,
) -> None:
    with pytest.raises(NotFound):
        await record_information_given(storage.accounts, "nobody", AT, Channel.WEB, "n-1")
    await seed_listings(storage.listings, 1, seed=2, accounts=storage.accounts)
    account_id = next(iter(demo_listings(1, seed=2))).account_id
    with pytest.raises(ValidationError) as caught:
        await record_information_given(storage.accounts, account_id, AT, Channel.WEB, " ")
    assert caught.value.field == "notice_version"
