"""GraphQL for support staff: look-ups that log every access with its purpose."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from directory_svc.api.context import Context
from directory_svc.api.permissions import IsStaff
from directory_svc.api.problems import ValidationProblem
from directory_svc.api.types import ListingType
from directory_svc.domain.errors import ValidationError
from directory_svc.services import support as service
from graphql import FieldNode, GraphQLError, ValidationContext, ValidationRule


@strawberry.type(description="Listings found (possibly none).")
class ListingsFound:
    listings: list[ListingType] = strawberry.field(description="The listings, at most 100.")


@strawberry.type(description="Too many look-ups by this agent; the attempt was logged.")
class RateLimitedProblem:
    message: str
    retry_after_seconds: int


LookupResult = Annotated[
    ListingsFound | ValidationProblem | RateLimitedProblem,
    strawberry.union("LookupResult", description="Listings, or why the look-up was refused."),
]


@strawberry.type
class SupportQueries:
    @strawberry.field(
        description="Listings showing a number, written any French way (0612345678, "
        "+33 6 12 34 56 78, 0033…). One per request, rate-limited per agent; logged.",
        permission_classes=[IsStaff],
    )
    async def lookup_by_number(
        self, info: Info[Context, None], number: str, purpose: str
    ) -> LookupResult:
        res, who = info.context.resources, info.context.principal
        assert who is not None
        try:
            found = await service.lookup_by_number(
                res.listings, res.access_log, res.limiter, who, number, purpose
            )
        except ValidationError as exc:
            return ValidationProblem.from_error(exc)
        except service.RateLimited as exc:
            return RateLimitedProblem(message=str(exc), retry_after_seconds=exc.retry_after_s)
        return ListingsFound(listings=[ListingType.from_domain(i) for i in found])

    @strawberry.field(
        description="Listings by surname (case, accents, hyphens and spaces ignored) in a "
        "commune (INSEE code) or a postcode; logged.",
        permission_classes=[IsStaff],
    )
    async def search_listings(
        self,
        info: Info[Context, None],
        surname: str,
        purpose: str,
        commune: str | None = None,
        postcode: str | None = None,
    ) -> LookupResult:
        res, who = info.context.resources, info.context.principal
        assert who is not None
        try:
            found = await service.search_listings(
                res.listings, res.access_log, who, surname, commune, postcode, purpose
            )
        except ValidationError as exc:
            return ValidationProblem.from_error(exc)
        return ListingsFound(listings=[ListingType.from_domain(i) for i in found[:100]])


class OneLookupPerRequest(ValidationRule):
    """Refuses documents that ask ``lookupByNumber`` more than once (aliases, batching)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.seen = 0

    def enter_field(self, node: FieldNode, *_args: object) -> None:
        """Count the look-ups of the document."""
        if node.name.value == "lookupByNumber":
            self.seen += 1
            if self.seen == 2:
                self.report_error(
                    GraphQLError("lookupByNumber may be asked once per request", node)
                )
