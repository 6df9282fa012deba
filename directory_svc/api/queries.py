"""Query resolvers: convert input, call one service, convert the result."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from directory_svc.api.access import AccessQueries
from directory_svc.api.console import ConsoleQueries
from directory_svc.api.context import Context
from directory_svc.api.data_queries import DataQueryQueries
from directory_svc.api.permissions import IsAdmin, IsStaff
from directory_svc.api.publishers import PublisherQueries
from directory_svc.api.subscriber import SubscriberQueries
from directory_svc.api.support import AccountQueries, ExplainQueries, SupportQueries, staff_read
from directory_svc.api.types import ListingConnection, ListingType, decode_cursor
from directory_svc.services import support


@strawberry.type
class Query(
    PublisherQueries,
    SupportQueries,
    ExplainQueries,
    AccountQueries,
    AccessQueries,
    DataQueryQueries,
    SubscriberQueries,
    ConsoleQueries,
):
    @strawberry.field(
        description="One listing by its id, read for `purpose`; logged and counted in the "
        "agent's hourly limit. An error `listing not found` if there is none.",
        permission_classes=[IsStaff],
    )
    async def listing(
        self, info: Info[Context, None], id: strawberry.ID, purpose: str
    ) -> ListingType:
        res = info.context.resources
        found = await support.read_listing(
            repo=res.services.listings,
            log=res.services.access_log,
            limits=res.services.limits,
            read=staff_read(info, "listing", purpose),
            id=str(id),
        )
        return ListingType.from_domain(found)

    @strawberry.field(
        description="Admins only: listings in a stable order, `first` (1–100) at a time after "
        "cursor `after`, read for `purpose`; each listing logged and counted.",
        permission_classes=[IsAdmin],
    )
    async def listings(
        self, info: Info[Context, None], purpose: str, first: int = 20, after: str | None = None
    ) -> ListingConnection:
        res = info.context.resources
        page = await support.read_listings(
            repo=res.services.listings,
            log=res.services.access_log,
            limits=res.services.limits,
            read=staff_read(info, "listings", purpose),
            first=first,
            after=decode_cursor(after) if after is not None else None,
        )
        return ListingConnection.from_page(page)
