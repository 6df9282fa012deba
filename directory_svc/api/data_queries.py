"""GraphQL for publisher data queries: publishers report, support resolves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from directory_svc.api.context import Context
from directory_svc.api.permissions import IsPublisher, IsStaff
from directory_svc.api.problems import NotFoundProblem, ValidationProblem
from directory_svc.api.support import staff_read
from directory_svc.domain.data_queries import DataQuery
from directory_svc.domain.errors import NotFound, ValidationError
from directory_svc.services import data_queries as service
from directory_svc.services import support


@strawberry.type(name="DataQuery", description="A publisher's report about a wrong entry.")
class DataQueryType:
    id: str
    publisher_id: str
    entry_id: str
    message: str
    created_at: datetime
    status: str = strawberry.field(description="open or closed.")
    resolution: str | None
    closed_at: datetime | None

    @classmethod
    def from_query(cls, q: DataQuery) -> DataQueryType:
        """The GraphQL view of a report."""
        return cls(
            id=q.id,
            publisher_id=q.publisher_id,
            entry_id=q.entry_id,
            message=q.message,
            created_at=q.created_at,
            status=q.status.value,
            resolution=q.resolution,
            closed_at=q.closed_at,
        )


DataQueryResult = Annotated[
    DataQueryType | ValidationProblem | NotFoundProblem,
    strawberry.union("DataQueryResult", description="The report, or why not."),
]


@strawberry.type
class DataQueryQueries:
    @strawberry.field(
        description="The calling publisher's reports.", permission_classes=[IsPublisher]
    )
    async def my_reports(self, info: Info[Context, None]) -> list[DataQueryType]:
        who = info.context.principal
        if who is None or who.publisher_id is None:
            raise PermissionError("Not allowed.")
        found = await service.reports_of(
            info.context.resources.services.data_queries, publisher_id=who.publisher_id
        )
        return [DataQueryType.from_query(q) for q in found]

    @strawberry.field(
        description="Open reports about a listing (they may quote its data): a staff read "
        "with its purpose, logged and counted like the others.",
        permission_classes=[IsStaff],
    )
    async def open_reports(
        self, info: Info[Context, None], listing_id: str, purpose: str
    ) -> list[DataQueryType]:
        services = info.context.resources.services
        found = await support.read_open_reports(
            queries=services.data_queries,
            log=services.access_log,
            limits=services.limits,
            read=staff_read(info, "openReports", purpose),
            listing_id=listing_id,
        )
        return [DataQueryType.from_query(q) for q in found]


@strawberry.type
class DataQueryMutations:
    @strawberry.mutation(
        description="Report a wrong entry you received.", permission_classes=[IsPublisher]
    )
    async def report_entry(
        self, info: Info[Context, None], entry_id: str, message: str
    ) -> DataQueryResult:
        res, who = info.context.resources, info.context.principal
        if who is None:
            raise PermissionError("Not allowed.")
        try:
            report = await service.report_entry(
                res.services.data_queries, res.services.ledger, who, entry_id, message
            )
        except ValidationError as exc:
            return ValidationProblem.from_error(exc)
        except NotFound as exc:
            return NotFoundProblem.from_error(exc)
        return DataQueryType.from_query(report)

    @strawberry.mutation(
        description="Close a report with its resolution.", permission_classes=[IsStaff]
    )
    async def close_report(
        self, info: Info[Context, None], id: str, resolution: str
    ) -> DataQueryResult:
        who = info.context.principal
        if who is None:
            raise PermissionError("Not allowed.")
        try:
            report = await service.close_report(
                info.context.resources.services.data_queries, who, id, resolution
            )
        except ValidationError as exc:
            return ValidationProblem.from_error(exc)
        except NotFound as exc:
            return NotFoundProblem.from_error(exc)
        return DataQueryType.from_query(report)
