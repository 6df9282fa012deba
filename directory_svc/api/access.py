"""GraphQL for the access log (admins; subscribers see theirs through ``me``)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from directory_svc.api.context import Context
from directory_svc.api.permissions import IsAdmin
from directory_svc.domain.access import AccessRecord
from directory_svc.services.access import AccessQuery, access_records


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
            at=r.at,
            agent=r.agent,
            role=r.role,
            operation=r.operation,
            purpose=r.purpose,
            listing_id=r.listing_id,
            account_id=r.account_id,
            flagged=r.flagged,
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
        query = AccessQuery(agent, listing_id, account_id, since, until, first)
        records = await access_records(info.context.resources.services.access_log, query=query)
        return [AccessRecordType.from_record(r) for r in records]
