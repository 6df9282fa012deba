"""GraphQL mutation to change R10 choices: the same service for subscribers and support."""

from __future__ import annotations

from collections.abc import Awaitable
from enum import Enum
from typing import Annotated, Protocol

import strawberry
from strawberry.types import Info

from directory_svc import clock
from directory_svc.api.context import Context
from directory_svc.api.permissions import IsStaff, IsSubscriberOrStaff
from directory_svc.api.problems import NotFoundProblem, ValidationProblem
from directory_svc.api.types import ListingType
from directory_svc.domain.choices import Channel
from directory_svc.domain.errors import NotFound, ValidationError, VersionConflict
from directory_svc.domain.listings import Listing
from directory_svc.domain.requests import ChangeRequest
from directory_svc.services import choices as service
from directory_svc.services.lines import TerminateLine, terminate_line

NOTICE_VERSION = "notice-2026-01"


@strawberry.enum(description="How a support agent received the subscriber's request.")
class StaffChannel(Enum):
    PHONE = Channel.PHONE.value
    MAIL = Channel.MAIL.value
    SHOP = Channel.SHOP.value


@strawberry.input(description="The choices wanted for one listing, at the version read.")
class ChoicesInput:
    listing_id: str
    expected_version: int
    change_id: str = strawberry.field(description="Unique per change; a retry reuses it.")
    listed: bool
    initial_only: bool
    no_gender: bool
    no_street: bool
    no_reverse_lookup: bool
    no_marketing: bool
    reason: str | None = strawberry.field(default=None, description="Required for support.")
    channel: StaffChannel | None = strawberry.field(default=None, description="Support only.")


@strawberry.input(description="Terminate a line, for good (staff, on the subscriber's request).")
class TerminateLineInput:
    listing_id: str
    expected_version: int
    change_id: str = strawberry.field(description="Unique per change; a retry reuses it.")
    reason: str = strawberry.field(description="Why (kept in the history and access log).")
    channel: StaffChannel | None = strawberry.field(
        default=None, description="How the request came (required)."
    )


@strawberry.type(description="The change was applied (or had been, for a retry).")
class ChangeApplied:
    listing: ListingType
    changed: bool = strawberry.field(
        description="False when the listing already was as asked: nothing was written "
        "(no new version, no history entry, nothing for publishers)."
    )


@strawberry.type(description="Someone changed the listing since it was read; nothing stored.")
class VersionConflictProblem:
    message: str
    current: ListingType
    retry_shortly: bool = strawberry.field(
        description="True when the listing has not changed yet but another change of it is "
        "being written: send the same change again in a moment (no need to reload)."
    )


ChangeResult = Annotated[
    ChangeApplied | ValidationProblem | VersionConflictProblem | NotFoundProblem,
    strawberry.union("ChangeResult", description="Applied, or why not."),
]


class SixChoices(Protocol):
    """An input that carries the six choices (saving or previewing them)."""

    listed: bool
    initial_only: bool
    no_gender: bool
    no_street: bool
    no_reverse_lookup: bool
    no_marketing: bool


def choice_values(given: SixChoices) -> service.ChoiceValues:
    """The six choices of a form's input."""
    return service.ChoiceValues(
        listed=given.listed,
        initial_only=given.initial_only,
        no_gender=given.no_gender,
        no_street=given.no_street,
        no_reverse_lookup=given.no_reverse_lookup,
        no_marketing=given.no_marketing,
    )


@strawberry.type
class ChangeMutations:
    @strawberry.mutation(
        description="Change a listing's R10 choices: subscribers for their own lines, support "
        "on a subscriber's behalf (reason and channel required).",
        permission_classes=[IsSubscriberOrStaff],
    )
    async def change_choices(self, info: Info[Context, None], input: ChoicesInput) -> ChangeResult:
        who = info.context.principal
        assert who is not None
        values = choice_values(input)
        request = ChangeRequest(
            who=who,
            change_id=input.change_id,
            at=clock.now(),
            notice_version=NOTICE_VERSION,
            reason=input.reason,
            channel=Channel(input.channel.value) if input.channel else None,
        )
        return await change_result(
            service.change_choices(
                info.context.resources.services.listings,
                request=request,
                listing_id=input.listing_id,
                expected_version=input.expected_version,
                values=values,
            ),
            expected_version=input.expected_version,
        )

    @strawberry.mutation(
        description="Terminate a line: its entry leaves every publisher's next feed as a "
        "delete and no change re-activates it. Reason and channel required; logged.",
        permission_classes=[IsStaff],
    )
    async def terminate_line(
        self, info: Info[Context, None], input: TerminateLineInput
    ) -> ChangeResult:
        command = TerminateLine(
            listing_id=input.listing_id,
            expected_version=input.expected_version,
            change_id=input.change_id,
            reason=input.reason,
            at=clock.now(),
            by=info.context.principal,
            channel=Channel(input.channel.value) if input.channel else None,
        )
        services = info.context.resources.services
        return await change_result(
            terminate_line(services.listings, command, access_log=services.access_log),
            expected_version=input.expected_version,
        )


async def change_result(pending: Awaitable[Listing], *, expected_version: int) -> ChangeResult:
    """Await one change of a listing; its expected failures become union members. A
    listing still at ``expected_version`` was already as asked (a change writes v + 1)."""
    try:
        saved = await pending
    except ValidationError as exc:
        return ValidationProblem.from_error(exc)
    except NotFound as exc:
        return NotFoundProblem.from_error(exc)
    except VersionConflict as exc:
        return conflict_problem(exc)
    return ChangeApplied(
        listing=ListingType.from_domain(saved), changed=saved.version != expected_version
    )


def conflict_problem(exc: VersionConflict) -> VersionConflictProblem:
    """The union member for a version conflict, with the listing as it is now."""
    current = exc.current
    if not isinstance(current, Listing):
        raise exc
    return VersionConflictProblem(
        message=str(exc),
        current=ListingType.from_domain(current),
        retry_shortly=exc.retry_shortly,
    )
