"""Account use cases: read an account, record that its subscriber was informed of their rights."""

from __future__ import annotations

from datetime import datetime

from directory_svc.domain.accounts import Account, InformationRecord
from directory_svc.domain.choices import Channel
from directory_svc.domain.errors import NotFound
from directory_svc.domain.text import check_text
from directory_svc.storage.accounts import AccountRepository


async def get_account(repo: AccountRepository, account_id: str) -> Account:
    """The account with its information records; ``NotFound`` when there is none."""
    account = await repo.get(account_id)
    if account is None:
        raise NotFound("account")
    return account


async def record_information_given(
    repo: AccountRepository, account_id: str, at: datetime, channel: Channel, notice_version: str
) -> None:
    """Record that the subscriber was told about their directory rights (R10)."""
    notice = check_text("notice_version", notice_version, 40, required=True)
    if not await repo.record_information(account_id, InformationRecord(at, channel, notice)):
        raise NotFound("account")
