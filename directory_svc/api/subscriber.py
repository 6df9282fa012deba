"""GraphQL for the signed-in subscriber: ``me``, previews, history, data export, content."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from directory_svc import clock
from directory_svc.api.access import AccessRecordType
from directory_svc.api.changes import (
    NOTICE_VERSION,
    ChangeResult,
    StaffChannel,
    change_result,
    choice_values,
)
from directory_svc.api.context import Context
from directory_svc.api.permissions import IsSubscriber, IsSubscriberOrStaff
from directory_svc.api.problems import NotFoundProblem, ValidationProblem
from directory_svc.api.publishers import PublisherKind
from directory_svc.api.support import ProjectionReason
from directory_svc.api.types import ListingType
from directory_svc.domain.access import Principal
from directory_svc.domain.choices import Channel
from directory_svc.domain.errors import NotFound, ValidationError
from directory_svc.domain.requests import ChangeRequest
from directory_svc.services import content as content_service
from directory_svc.services import my_data
from directory_svc.services import previews as preview_service


@strawberry.type(description="One published field, as text.")
class PublishedField:
    name: str = strawberry.field(description="Field name (see docs/feed-format.md).")
    value: str = strawberry.field(description="Its value; lists are joined with ', '.")


@strawberry.type(description="What one kind of publisher would receive of the entry.")
class EntryPreview:
    kind: PublisherKind = strawberry.field(description="Directory, enquiry service, reverse.")
    published: bool = strawberry.field(description="Whether the entry would be sent at all.")
    fields: list[PublishedField] = strawberry.field(description="The fields sent, if any.")
    reasons: list[ProjectionReason] = strawberry.field(
        description="Each decision: exclusions, choices applied, and choices not applied "
        "with why (homonym, consumer_facing_professional)."
    )

    @classmethod
    def from_domain(cls, preview: preview_service.KindPreview) -> EntryPreview:
        """The GraphQL view of a preview."""
        record = preview.projection.record
        fields = []
        for name, value in record.fields.items() if record else ():
            text = ", ".join(value) if isinstance(value, tuple) else value
            if text:
                fields.append(PublishedField(name=name, value=text))
        return cls(
            kind=PublisherKind(preview.kind.value),
            published=record is not None,
            fields=fields,
            reasons=[
                ProjectionReason(code=r.code.value, choice=r.choice, applied=r.applied)
                for r in preview.projection.reasons
            ],
        )


@strawberry.type(description="A choice that cannot apply to this listing.")
class ChoiceLimit:
    choice: str = strawberry.field(description="initial_only, no_gender or no_street.")
    reason: str = strawberry.field(description="homonym or consumer_facing_professional.")


@strawberry.type(description="How one listing appears to each kind of publisher.")
class ListingPreview:
    listing_id: strawberry.ID = strawberry.field(description="The listing.")
    kinds: list[EntryPreview] = strawberry.field(description="One preview per kind.")
    limits: list[ChoiceLimit] = strawberry.field(
        description="Choices the law does not let apply here, with the reason."
    )

    @classmethod
    def from_domain(cls, found: preview_service.Preview) -> ListingPreview:
        """The GraphQL view of a listing's preview."""
        return cls(
            listing_id=strawberry.ID(found.listing.id),
            kinds=[EntryPreview.from_domain(k) for k in found.kinds],
            limits=[ChoiceLimit(choice=x.choice, reason=x.code.value) for x in found.limits],
        )


@strawberry.type(
    description="How many active publishers acknowledged a feed that includes the listing's "
    "current state (choices included), out of how many; publishers are not named."
)
class ListingAcknowledgement:
    listing_id: strawberry.ID
    acknowledged: int
    publishers: int
    last_acknowledged_at: datetime | None = strawberry.field(
        description="The last such acknowledgement, if any."
    )
    kinds: list[KindAcknowledgement] = strawberry.field(
        description="The same, per kind of publisher (directory, enquiry, reverse look-up)."
    )


@strawberry.type(description="Of the active publishers of one kind, how many acknowledged.")
class KindAcknowledgement:
    kind: str = strawberry.field(description="DIRECTORY, ENQUIRY or REVERSE_LOOKUP.")
    acknowledged: int
    publishers: int


@strawberry.type(name="Me", description="The signed-in subscriber's account.")
class MeType:
    account_id: str = strawberry.field(description="The account.")
    notice_version: str = strawberry.field(description="The information notice to show.")
    listings: list[ListingType] = strawberry.field(description="One listing per line.")
    previews: list[ListingPreview] = strawberry.field(
        description="Each listing as each kind of publisher receives it now."
    )
    accesses: list[AccessRecordType] = strawberry.field(
        description="Who at the operator looked at this account's data, newest first."
    )
    acknowledgements: list[ListingAcknowledgement] = strawberry.field(
        description="Per listing, how many publishers acknowledged its current state."
    )


@strawberry.type(description="One past change of one of my listings.")
class MyChange:
    listing_id: strawberry.ID
    seq: int
    at: datetime
    actor: str = strawberry.field(description="subscriber, support, import, default or operator.")
    channel: str = strawberry.field(
        description="web, phone, mail, shop, import, system or migration."
    )
    reason: str | None = strawberry.field(description="The reason support gave, if any.")
    attested: bool = strawberry.field(description="Accuracy certified with this change.")
    changed: list[str] = strawberry.field(description="Names of the values that changed.")


@strawberry.input(description="Choices to preview for one of my listings (nothing is saved).")
class PreviewChoicesInput:
    listing_id: str
    listed: bool
    initial_only: bool
    no_gender: bool
    no_street: bool
    no_reverse_lookup: bool
    no_marketing: bool


PreviewResult = Annotated[
    ListingPreview | ValidationProblem | NotFoundProblem,
    strawberry.union("PreviewResult", description="The preview, or why not."),
]


@strawberry.input(description="Another user of the line to list.")
class ExtraUserInput:
    surname: str
    first_name: str
    consent_attested: bool = strawberry.field(
        description="The subscriber certifies this person agreed to be listed."
    )


@strawberry.input(description="The content wanted for one listing, at the version read.")
class ContentInput:
    listing_id: str
    expected_version: int
    change_id: str = strawberry.field(description="Unique per change; a retry reuses it.")
    first_name: str = strawberry.field(description="First name as it should appear.")
    business_names: list[str] = strawberry.field(description="Business names (professionals).")
    profession: str | None = None
    mention: str | None = strawberry.field(default=None, description="Up to 30 characters.")
    email: str | None = None
    published_numbers: list[str] = strawberry.field(description="Numbers of the line to show.")
    extra_users: list[ExtraUserInput]
    attested: bool = strawberry.field(
        description="The subscriber certifies the listing information is accurate (required)."
    )
    reason: str | None = strawberry.field(default=None, description="Required for support.")
    channel: StaffChannel | None = strawberry.field(default=None, description="Support only.")


def _who(info: Info[Context, None]) -> Principal:
    who = info.context.principal
    if who is None:
        raise PermissionError("Not allowed.")
    return who


@strawberry.type
class SubscriberQueries:
    @strawberry.field(description="The signed-in subscriber.", permission_classes=[IsSubscriber])
    async def me(self, info: Info[Context, None]) -> MeType:
        who, services = _who(info), info.context.resources.services
        mine = await my_data.my_overview(services, who=who)
        return MeType(
            account_id=who.account_id or "",
            notice_version=NOTICE_VERSION,
            listings=[ListingType.from_domain(i) for i in mine.listings],
            previews=[ListingPreview.from_domain(p) for p in mine.previews],
            accesses=[AccessRecordType.from_record(r) for r in mine.accesses],
            acknowledgements=[
                ListingAcknowledgement(
                    listing_id=strawberry.ID(item.id),
                    acknowledged=a.acknowledged,
                    publishers=a.publishers,
                    last_acknowledged_at=a.last_acknowledged_at,
                    kinds=[
                        KindAcknowledgement(
                            kind=k.kind.name, acknowledged=k.acknowledged, publishers=k.publishers
                        )
                        for k in a.kinds
                    ],
                )
                for item, a in zip(mine.listings, mine.acknowledgements, strict=True)
            ],
        )

    @strawberry.field(
        description="How one of my listings would appear with these choices (nothing saved).",
        permission_classes=[IsSubscriber],
    )
    async def preview_choices(
        self, info: Info[Context, None], input: PreviewChoicesInput
    ) -> PreviewResult:
        values = choice_values(input)
        try:
            found = await preview_service.preview_choices(
                info.context.resources.services.listings,
                who=_who(info),
                listing_id=input.listing_id,
                values=values,
                at=clock.now(),
            )
        except ValidationError as exc:
            return ValidationProblem.from_error(exc)
        except NotFound as exc:
            return NotFoundProblem.from_error(exc)
        return ListingPreview.from_domain(found)

    @strawberry.field(
        description="Every change of my listings, newest first.", permission_classes=[IsSubscriber]
    )
    async def my_history(self, info: Info[Context, None]) -> list[MyChange]:
        changes = await my_data.my_history(info.context.resources.services.listings, _who(info))
        return [
            MyChange(
                listing_id=strawberry.ID(c.listing_id),
                seq=c.entry.seq,
                at=c.entry.at,
                actor=c.entry.provenance.actor.value,
                channel=c.entry.provenance.channel.value,
                reason=c.entry.reason,
                attested=c.entry.attested,
                changed=sorted(c.entry.after),
            )
            for c in changes
        ]

    @strawberry.field(
        description="Everything stored about my account, as JSON (GDPR access right).",
        permission_classes=[IsSubscriber],
    )
    async def my_data_export(self, info: Info[Context, None]) -> JSON:
        res = info.context.resources
        data = await my_data.my_data_export(
            res.services.accounts,
            res.services.listings,
            res.services.access_log,
            _who(info),
            clock.now(),
        )
        return JSON(data)


@strawberry.type
class ContentMutations:
    @strawberry.mutation(
        description="Change what a listing says (first name, business names, profession, "
        "mention, e-mail, numbers shown, extra users). The subscriber must certify the "
        "information accurate; support also gives a reason and the channel.",
        permission_classes=[IsSubscriberOrStaff],
    )
    async def change_listing(self, info: Info[Context, None], input: ContentInput) -> ChangeResult:
        values = content_service.ContentValues(
            first_name=input.first_name,
            business_names=tuple(input.business_names),
            profession=input.profession,
            mention=input.mention,
            email=input.email,
            published_numbers=tuple(input.published_numbers),
            extra_users=tuple(
                content_service.ExtraUserValues(u.surname, u.first_name, u.consent_attested)
                for u in input.extra_users
            ),
        )
        request = ChangeRequest(
            who=_who(info),
            change_id=input.change_id,
            at=clock.now(),
            notice_version=NOTICE_VERSION,
            reason=input.reason,
            channel=Channel(input.channel.value) if input.channel else None,
        )
        return await change_result(
            content_service.change_content(
                info.context.resources.services.listings,
                request=request,
                listing_id=input.listing_id,
                expected_version=input.expected_version,
                values=values,
                attested=input.attested,
            ),
            expected_version=input.expected_version,
        )
