"""Query resolvers: convert input, call one service, convert the result."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from directory_svc.api.access import AccessQueries
from directory_svc.api.context import Context
from directory_svc.api.data_queries import DataQueryQueries
from directory_svc.api.permissions import IsStaff
from directory_svc.api.publishers import PublisherQueries
from directory_svc.api.subscriber import SubscriberQueries
from directory_svc.api.support import AccountQueries, ExplainQueries, SupportQueries
from directory_svc.api.types import ListingConnection, ListingType, decode_cursor
from directory_svc.services import listings as listing_service


@strawberry.type
class Query(
    PublisherQueries,
    SupportQueries,
    ExplainQueries,
    AccountQueries,
    AccessQueries,
    DataQueryQueries,
    SubscriberQueries,
):
    @strawberry.field(
        description="One listing by its id; an error `listing not found` if there is none.",
        permission_classes=[IsStaff],
    )
    async def listing(self, info: Info[Context, None], id: strawberry.ID) -> ListingType:
        found = await listing_service.get_listing(info.context.resources.listings, str(id))
        return ListingType.from_domain(found)

    @strawberry.field(
        description="Listings in a stable order, `first` (1–100) at a time after cursor `after`.",
        permission_classes=[IsStaff],
    )
    async def listings(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> ListingConnection:
        position = decode_cursor(after) if after is not None else None
        page = await listing_service.list_listings(info.context.resources.listings, first, position)
        return ListingConnection.from_page(page)
