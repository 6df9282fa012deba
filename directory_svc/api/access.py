"""GraphQL for the access log (admins) and the subscriber's own view (``me``)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from directory_svc.api.context import Context
from directory_svc.api.permissions import IsAdmin, IsSubscriber
from directory_svc.api.types import ListingType
from directory_svc.storage.access_log import AccessRecord


@strawberry.type(name="AccessRecord", description="One staff read of a person's data.")
class AccessRecordType:
    at: datetime = strawberry.field(description="When.")
    agent: str = strawberry.field(description="Who (staff identity).")
    role: str = strawberry.field(description="The agent's role.")
    operation: str = strawberry.field(description="Which operation read the data.")
    purpose: str = strawberry.field(description="The purpose the agent gave.")
    listing_id: str | None = strawberry.field(description="The listing read, if any.")
    account_id: str | None = strawberry.field(description="Its account.")
    flagged: bool = strawberry.field(description="Over the look-up limit (refused).")

    @classmethod
    def from_record(cls, r: AccessRecord) -> AccessRecordType:
        """The GraphQL view of a record."""
        return cls(
            at=r.at, agent=r.agent, role=r.role, operation=r.operation, purpose=r.purpose,
            listing_id=r.listing_id, account_id=r.account_id, flagged=r.flagged,
        )  # fmt: skip


@strawberry.type(name="Me", description="The signed-in subscriber's account.")
class MeType:
    account_id: str = strawberry.field(description="The account.")
    listings: list[ListingType] = strawberry.field(description="One listing per line.")
    accesses: list[AccessRecordType] = strawberry.field(
        description="Who at the operator looked at this account's data, newest first."
    )


@strawberry.type
class AccessQueries:
    @strawberry.field(
        description="Access records by agent, listing, account and period (newest first).",
        permission_classes=[IsAdmin],
    )
    async def access_log(
        self,
        info: Info[Context, None],
        agent: str | None = None,
        listing_id: str | None = None,
        account_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = 100,
    ) -> list[AccessRecordType]:
        records = await info.context.resources.access_log.query(
            agent, listing_id, account_id, since, until, max(1, min(first, 500))
        )
        return [AccessRecordType.from_record(r) for r in records]

    @strawberry.field(description="The signed-in subscriber.", permission_classes=[IsSubscriber])
    async def me(self, info: Info[Context, None]) -> MeType:
        who = info.context.principal
        account_id = who.account_id if who is not None else None
        if account_id is None:  # IsSubscriber guarantees a bound account
            raise PermissionError("Not allowed.")
        res = info.context.resources
        listings = await res.listings.for_account(account_id)
        accesses = await res.access_log.query(account_id=account_id, limit=100)
        return MeType(
            account_id=account_id,
            listings=[ListingType.from_domain(i) for i in listings],
            accesses=[AccessRecordType.from_record(r) for r in accesses],
        )
