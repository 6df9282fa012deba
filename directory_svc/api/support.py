"""GraphQL for support staff: look-ups that log every access with its purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from directory_svc.api.context import Context
from directory_svc.api.permissions import IsStaff
from directory_svc.api.problems import NotFoundProblem, ValidationProblem
from directory_svc.api.types import ListingConnection, ListingType, decode_cursor
from directory_svc.domain.access import Principal
from directory_svc.domain.errors import NotFound, ValidationError
from directory_svc.services import support as service
from directory_svc.services.rate_limits import RateLimited
from graphql import FieldNode, GraphQLError, ValidationContext, ValidationRule


@strawberry.type(description="Listings found (possibly none).")
class ListingsFound:
    listings: list[ListingType] = strawberry.field(description="The listings, at most 100.")


@strawberry.type(description="Too many look-ups by this agent; the attempt was logged.")
class RateLimitedProblem:
    message: str
    retry_after_seconds: int


def signed_in(info: Info[Context, None]) -> Principal:
    """The caller (the permission class ran first)."""
    who = info.context.principal
    if who is None:
        raise PermissionError("Not allowed.")
    return who


def staff_read(info: Info[Context, None], operation: str, purpose: str) -> service.StaffRead:
    """The staff read a resolver is about to make (the permission class ran first)."""
    return service.StaffRead(signed_in(info), operation, purpose)


SearchResult = Annotated[
    ListingConnection | ValidationProblem | RateLimitedProblem,
    strawberry.union("SearchResult", description="A page of listings, or why not."),
]

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
        res = info.context.resources
        read = staff_read(info, "lookupByNumber", purpose)
        try:
            found = await service.lookup_by_number(
                repo=res.services.listings,
                log=res.services.access_log,
                limits=res.services.limits,
                read=read,
                number=number,
            )
        except ValidationError as exc:
            return ValidationProblem.from_error(exc)
        except RateLimited as exc:
            return RateLimitedProblem(message=str(exc), retry_after_seconds=exc.retry_after_s)
        return ListingsFound(listings=[ListingType.from_domain(i) for i in found])

    @strawberry.field(
        description="Listings by surname (case, accents, hyphens and spaces ignored) in a "
        "commune (INSEE code) or a postcode, `first` (1–100) at a time after cursor `after`; "
        "each listing returned is logged.",
        permission_classes=[IsStaff],
    )
    async def search_listings(
        self,
        info: Info[Context, None],
        surname: str,
        purpose: str,
        commune: str | None = None,
        postcode: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> SearchResult:
        res = info.context.resources
        read = staff_read(info, "searchListings", purpose)
        try:
            position = decode_cursor(after) if after is not None else None
            search = service.SurnameSearch(surname, commune, postcode, first, position)
            page = await service.search_listings(
                repo=res.services.listings,
                log=res.services.access_log,
                limits=res.services.limits,
                read=read,
                search=search,
            )
        except ValidationError as exc:
            return ValidationProblem.from_error(exc)
        except RateLimited as exc:
            return RateLimitedProblem(message=str(exc), retry_after_seconds=exc.retry_after_s)
        return ListingConnection.from_page(page)


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


@strawberry.type(description="One decision of the projection.")
class ProjectionReason:
    code: str = strawberry.field(description="unlisted, out_of_scope, homonym, masked, flagged…")
    choice: str | None = strawberry.field(description="The R10 choice concerned, if any.")
    applied: bool = strawberry.field(description="Whether the choice was applied.")


@strawberry.type(description="What one publisher receives of the listing.")
class PublisherProjection:
    publisher_id: str
    publisher_kind: str
    included: bool = strawberry.field(description="Whether the entry is in its list now.")
    reasons: list[ProjectionReason]
    last_sent_sequence: int | None = strawberry.field(
        description="The feed sequence that last sent this entry (none: never, or deleted)."
    )
    acknowledged_sequence: int | None = strawberry.field(
        description="The last feed the publisher acknowledged as applied (none: none yet)."
    )
    acknowledgement: str | None = strawberry.field(
        description="That acknowledgement's status (matched, unverifiable)."
    )
    acknowledged_at: datetime | None = strawberry.field(description="When it came.")
    holds_current_state: bool = strawberry.field(
        description="Whether that acknowledged feed includes the listing's current state."
    )


@strawberry.type(description="One change in the listing's history.")
class HistoryItem:
    seq: int
    at: datetime
    actor: str
    channel: str
    notice_version: str
    agent: str | None
    reason: str | None
    changed: list[str] = strawberry.field(description="Names of the values that changed.")


@strawberry.type(description="Why the listing appears where it does.")
class Explanation:
    listing: ListingType
    history: list[HistoryItem]
    publishers: list[PublisherProjection]
    history_problem: str | None = strawberry.field(
        description="What is wrong with the history's chain of hashes (null: it verifies)."
    )


@strawberry.type
class ExplainQueries:
    @strawberry.field(
        description="A listing, its full history, and each publisher's projection with the "
        "reasons; logged.",
        permission_classes=[IsStaff],
    )
    async def explain_listing(
        self, info: Info[Context, None], id: str, purpose: str
    ) -> Explanation:
        found = await service.explain_listing(
            info.context.resources.services,
            read=staff_read(info, "explainListing", purpose),
            listing_id=id,
        )
        return Explanation(
            listing=ListingType.from_domain(found.listing),
            history=[
                HistoryItem(
                    seq=e.seq,
                    at=e.at,
                    actor=e.provenance.actor.value,
                    channel=e.provenance.channel.value,
                    notice_version=e.provenance.notice_version,
                    agent=e.provenance.agent_id,
                    reason=e.reason,
                    changed=sorted(e.after),
                )
                for e in found.history
            ],
            publishers=[
                PublisherProjection(
                    publisher_id=v.publisher.id,
                    publisher_kind=v.publisher.profile.kind.value,
                    included=v.projection.record is not None,
                    reasons=[
                        ProjectionReason(code=r.code.value, choice=r.choice, applied=r.applied)
                        for r in v.projection.reasons
                    ],
                    last_sent_sequence=v.last_sent_sequence,
                    acknowledged_sequence=v.acknowledged.sequence if v.acknowledged else None,
                    acknowledgement=v.acknowledged.status.value if v.acknowledged else None,
                    acknowledged_at=v.acknowledged.received_at if v.acknowledged else None,
                    holds_current_state=v.covers_current,
                )
                for v in found.publishers
            ],
            history_problem=found.chain_problem,
        )


@strawberry.type(description="A subscriber's information-duty record.")
class InformedRecord:
    at: datetime
    channel: str
    notice_version: str


@strawberry.type(name="Account", description="A subscriber account with its listings.")
class AccountType:
    id: str
    kind: str
    informed: list[InformedRecord] = strawberry.field(
        description="When and how the subscriber was told about their directory rights."
    )
    listings: list[ListingType]


AccountResult = Annotated[
    AccountType | ValidationProblem | NotFoundProblem | RateLimitedProblem,
    strawberry.union("AccountResult", description="The account, or why not."),
]


@strawberry.type
class AccountQueries:
    @strawberry.field(description="An account by id; logged.", permission_classes=[IsStaff])
    async def account(self, info: Info[Context, None], id: str, purpose: str) -> AccountResult:
        res = info.context.resources
        try:
            account, listings = await service.account_with_listings(
                accounts=res.services.accounts,
                listings=res.services.listings,
                log=res.services.access_log,
                limits=res.services.limits,
                read=staff_read(info, "account", purpose),
                account_id=id,
            )
        except ValidationError as exc:
            return ValidationProblem.from_error(exc)
        except NotFound as exc:
            return NotFoundProblem.from_error(exc)
        except RateLimited as exc:
            return RateLimitedProblem(message=str(exc), retry_after_seconds=exc.retry_after_s)
        return AccountType(
            id=account.id,
            kind=account.kind.value,
            informed=[
                InformedRecord(at=r.at, channel=r.channel.value, notice_version=r.notice_version)
                for r in account.informed
            ],
            listings=[ListingType.from_domain(i) for i in listings],
        )
