"""GraphQL fields the staff console needs beyond the support and admin ones: the agent's
own allowance, the preview while acting on a subscriber's behalf, and the compliance views."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from directory_svc import clock
from directory_svc.api.changes import choice_values
from directory_svc.api.context import Context
from directory_svc.api.permissions import IsAdmin, IsStaff
from directory_svc.api.problems import NotFoundProblem, ValidationProblem
from directory_svc.api.publishers import ExportRun, PublisherType
from directory_svc.api.subscriber import ListingPreview, PreviewChoicesInput
from directory_svc.api.support import RateLimitedProblem, signed_in, staff_read
from directory_svc.domain.errors import NotFound, ValidationError
from directory_svc.services import compliance
from directory_svc.services.previews import preview_for_staff
from directory_svc.services.rate_limits import RateLimited


@strawberry.type(description="What the signed-in agent has left in the current hour.")
class StaffAllowance:
    lookups_left: int = strawberry.field(description="Look-ups by number left.")
    lookups_per_hour: int
    reads_left: int = strawberry.field(description="Listings staff fields may still return.")
    reads_per_hour: int
    refused: bool = strawberry.field(
        description="A look-up was refused this hour: every read is refused until the reset."
    )
    resets_in_seconds: int = strawberry.field(description="Seconds until the hour resets.")


StaffPreviewResult = Annotated[
    ListingPreview | ValidationProblem | NotFoundProblem | RateLimitedProblem,
    strawberry.union("StaffPreviewResult", description="The preview, or why not."),
]


@strawberry.type(description="The last acknowledgement a publisher sent.")
class AcknowledgementSummary:
    sequence: int
    status: str = strawberry.field(description="matched, mismatch, late or unverifiable.")
    received_at: datetime


@strawberry.type(description="One publisher as the compliance officer sees it.")
class PublisherCompliance:
    publisher: PublisherType
    recent_runs: list[ExportRun] = strawberry.field(description="Its last feeds, newest first.")
    last_acknowledgement: AcknowledgementSummary | None
    oldest_pending_opt_out_hours: float | None = strawberry.field(
        description="Age of its oldest opt-out not acknowledged yet (null: none pending)."
    )


@strawberry.type(description="A feed with opt-outs, and how long they took to be applied.")
class PropagationSample:
    publisher_id: str
    sequence: int
    opt_outs: int
    acknowledged_at: datetime
    hours: float = strawberry.field(description="From its oldest opt-out to the acknowledgement.")


@strawberry.type(description="Opt-outs carried to one kind of publisher in one ISO week.")
class WeeklyOptOuts:
    week: date = strawberry.field(description="The Monday of the week.")
    kind: str = strawberry.field(description="DIRECTORY, ENQUIRY or REVERSE_LOOKUP.")
    opt_outs: int


@strawberry.type
class ConsoleQueries:
    @strawberry.field(
        description="The signed-in agent's look-ups and staff reads left this hour.",
        permission_classes=[IsStaff],
    )
    async def my_allowance(self, info: Info[Context, None]) -> StaffAllowance:
        left = await info.context.resources.services.limits.allowance(agent=signed_in(info).subject)
        return StaffAllowance(
            lookups_left=left.lookups_left,
            lookups_per_hour=left.lookups_per_hour,
            reads_left=left.reads_left,
            reads_per_hour=left.reads_per_hour,
            refused=left.refused,
            resets_in_seconds=int(left.resets_in_s),
        )

    @strawberry.field(
        description="How a listing would appear to each kind of publisher with these choices "
        "(nothing saved), for support acting on the subscriber's behalf; logged and counted.",
        permission_classes=[IsStaff],
    )
    async def staff_preview(
        self, info: Info[Context, None], input: PreviewChoicesInput, purpose: str
    ) -> StaffPreviewResult:
        try:
            found = await preview_for_staff(
                info.context.resources.services,
                read=staff_read(info, "staffPreview", purpose),
                listing_id=input.listing_id,
                values=choice_values(input),
                at=clock.now(),
            )
        except ValidationError as exc:
            return ValidationProblem.from_error(exc)
        except NotFound as exc:
            return NotFoundProblem.from_error(exc)
        except RateLimited as exc:
            return RateLimitedProblem(message=str(exc), retry_after_seconds=exc.retry_after_s)
        return ListingPreview.from_domain(found)

    @strawberry.field(
        description="Every publisher with its last feeds, last acknowledgement and oldest "
        "unacknowledged opt-out.",
        permission_classes=[IsAdmin],
    )
    async def publisher_compliance(self, info: Info[Context, None]) -> list[PublisherCompliance]:
        found = await compliance.publisher_statuses(
            info.context.resources.services, now=clock.now()
        )
        return [
            PublisherCompliance(
                publisher=PublisherType.from_domain(s.publisher),
                recent_runs=[ExportRun.from_domain(r) for r in s.runs],
                last_acknowledgement=None
                if s.last_ack is None
                else AcknowledgementSummary(
                    sequence=s.last_ack.sequence,
                    status=s.last_ack.status.value,
                    received_at=s.last_ack.received_at,
                ),
                oldest_pending_opt_out_hours=None
                if s.oldest_pending is None
                else s.oldest_pending.total_seconds() / 3600,
            )
            for s in found
        ]

    @strawberry.field(
        description="Feeds with opt-outs of the last `days` days (1–366) that were "
        "acknowledged as applied, with the delay from the oldest opt-out.",
        permission_classes=[IsAdmin],
    )
    async def propagation_times(
        self, info: Info[Context, None], days: int = 30
    ) -> list[PropagationSample]:
        samples = await compliance.propagation_samples(
            info.context.resources.services, now=clock.now(), days=days
        )
        return [
            PropagationSample(
                publisher_id=s.publisher_id,
                sequence=s.sequence,
                opt_outs=s.optouts,
                acknowledged_at=s.acknowledged_at,
                hours=s.delay.total_seconds() / 3600,
            )
            for s in samples
        ]

    @strawberry.field(
        description="Opt-outs carried per ISO week and kind of publisher, the last `weeks` "
        "weeks (1–104), oldest first.",
        permission_classes=[IsAdmin],
    )
    async def opt_outs_per_week(
        self, info: Info[Context, None], weeks: int = 12
    ) -> list[WeeklyOptOuts]:
        found = await compliance.optouts_per_week(
            info.context.resources.services, now=clock.now(), weeks=weeks
        )
        return [WeeklyOptOuts(week=w.week, kind=w.kind.name, opt_outs=w.optouts) for w in found]
