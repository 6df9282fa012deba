"""GraphQL for admins: the publisher registry and export runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from directory_svc import clock
from directory_svc.api.context import Context
from directory_svc.api.permissions import IsAdmin
from directory_svc.api.problems import NotFoundProblem, ValidationProblem
from directory_svc.domain import publishers as dom
from directory_svc.domain.errors import AlreadyExists, NotFound, ValidationError, VersionConflict
from directory_svc.domain.exports import ExportRun as DomainRun
from directory_svc.services import publishers as service
from directory_svc.services.propagation import pending_optouts


@strawberry.enum(description="What a publisher does with the list.")
class PublisherKind(Enum):
    DIRECTORY = dom.PublisherKind.DIRECTORY.value
    ENQUIRY = dom.PublisherKind.ENQUIRY.value
    REVERSE_LOOKUP = dom.PublisherKind.REVERSE_LOOKUP.value


@strawberry.type(name="Publisher", description="A registered publisher and its feed profile.")
class PublisherType:
    id: str = strawberry.field(description="Publisher id.")
    legal_name: str = strawberry.field(description="Legal name.")
    kind: PublisherKind = strawberry.field(description="Directory, enquiry or reverse look-up.")
    marketing_allowed: bool = strawberry.field(description="Contract allows marketing use.")
    departements: list[str] = strawberry.field(description="Scope: départements (empty: all).")
    communes: list[str] = strawberry.field(description="Scope: INSEE codes (empty: all).")
    fields: list[str] = strawberry.field(description="Fields the publisher receives.")
    choice_policy: str = strawberry.field(description="mask (applied here) or flags.")
    homonymy: str = strawberry.field(description="strict or lenient.")
    format: str = strawberry.field(description="csv or jsonl.")
    numbers: str = strawberry.field(description="e164 or national.")
    schedule: str = strawberry.field(description="Cron expression, Europe/Paris.")
    recipient: str | None = strawberry.field(description="age recipient feeds are encrypted to.")
    sftp: str | None = strawberry.field(description="SFTP push target, user@host:port/dir.")
    active: bool = strawberry.field(description="Exports run for this publisher.")
    version: int = strawberry.field(
        description="Registration version: send it back as expectedVersion to change it."
    )

    @classmethod
    def from_domain(cls, p: dom.Publisher) -> PublisherType:
        """The GraphQL view of a publisher."""
        prof = p.profile
        return cls(
            id=prof.id,
            legal_name=p.legal_name,
            kind=PublisherKind(prof.kind.value),
            marketing_allowed=prof.marketing_allowed,
            departements=sorted(prof.scope.departements),
            communes=sorted(prof.scope.communes),
            fields=sorted(prof.fields),
            choice_policy=prof.choice_policy.value,
            homonymy=prof.homonymy.value,
            format=p.feed_format.value,
            numbers=p.number_format.value,
            schedule=p.schedule,
            recipient=p.recipient,
            sftp=p.sftp.address if p.sftp else None,
            active=p.active,
            version=p.version,
        )


@strawberry.input(description="A publisher registration.")
class PublisherInput:
    id: str
    legal_name: str
    kind: PublisherKind
    marketing_allowed: bool = False
    departements: list[str] = strawberry.field(default_factory=list)
    communes: list[str] = strawberry.field(default_factory=list)
    fields: list[str] | None = None
    choice_policy: str = "mask"
    homonymy: str = "strict"
    format: str = "csv"
    numbers: str = "e164"
    schedule: str = "0 3 * * *"
    recipient: str | None = None
    expected_version: int | None = strawberry.field(
        default=None,
        description="To change a registration: the version read (ignored when adding).",
    )

    def onto(self, current: dom.Publisher) -> dom.Publisher:
        """``current`` with this input's values; its SFTP target and state stay (they are
        set by their own commands, as is its acknowledgement key)."""
        given = self.to_domain()
        return replace(given, active=current.active, sftp=current.sftp, ack_key=current.ack_key)

    def to_domain(self) -> dom.Publisher:
        """The domain publisher; ``ValidationError`` for an unknown enum value."""
        try:
            policy = dom.ChoicePolicy(self.choice_policy)
            homonymy = dom.HomonymyPolicy(self.homonymy)
            fmt = dom.FeedFormat(self.format)
            numbers = dom.NumberFormat(self.numbers)
        except ValueError:
            raise ValidationError("input", "enum", "has an unknown policy or format") from None
        profile = dom.PublisherProfile(
            id=self.id,
            kind=dom.PublisherKind(self.kind.value),
            marketing_allowed=self.marketing_allowed,
            scope=dom.GeoScope(frozenset(self.departements), frozenset(self.communes)),
            fields=frozenset(self.fields)
            if self.fields is not None
            else frozenset(dom.PUBLISHABLE_FIELDS),
            choice_policy=policy,
            homonymy=homonymy,
        )
        return dom.Publisher(profile, self.legal_name, fmt, numbers, self.schedule, self.recipient)


@strawberry.type(description="The publisher as saved.")
class PublisherSaved:
    publisher: PublisherType


@strawberry.type(description="Someone changed the registration since it was read; nothing saved.")
class PublisherConflictProblem:
    message: str
    current: PublisherType = strawberry.field(description="The registration as it is now.")


PublisherResult = Annotated[
    PublisherSaved | ValidationProblem | PublisherConflictProblem | NotFoundProblem,
    strawberry.union("PublisherResult", description="Saved, or why not."),
]


@strawberry.type(description="One export run of a publisher.")
class ExportRun:
    sequence: int = strawberry.field(description="Sequence number (per publisher).")
    feed: str = strawberry.field(description="full or delta.")
    status: str = strawberry.field(description="running, succeeded, failed or interrupted.")
    started_at: datetime = strawberry.field(description="Start of the run.")
    finished_at: datetime | None = strawberry.field(description="End of the run.")
    folder: str | None = strawberry.field(description="Published folder.")
    upserts: int = strawberry.field(description="Records added or replaced.")
    deletes: int = strawberry.field(description="Entries removed.")

    @classmethod
    def from_domain(cls, r: DomainRun) -> ExportRun:
        """The GraphQL view of an export run."""
        return cls(
            sequence=r.seq,
            feed=r.kind.value,
            status=r.status.value,
            started_at=r.started_at,
            finished_at=r.finished_at,
            folder=r.folder,
            upserts=r.counts.get("upsert", 0),
            deletes=r.counts.get("delete", 0),
        )


@strawberry.type(description="A feed carrying opt-outs that its publisher has not acknowledged.")
class PendingOptOutsType:
    publisher_id: str
    sequence: int = strawberry.field(description="The feed's sequence number.")
    opt_outs: int = strawberry.field(description="Opt-outs the feed carries.")
    oldest_change_at: datetime = strawberry.field(description="When the oldest was made.")
    age_hours: float = strawberry.field(description="How long it has been waiting.")


@strawberry.type
class PublisherQueries:
    @strawberry.field(description="Every registered publisher.", permission_classes=[IsAdmin])
    async def publishers(self, info: Info[Context, None]) -> list[PublisherType]:
        found = await service.list_publishers(info.context.resources.services.publishers)
        return [PublisherType.from_domain(p) for p in found]

    @strawberry.field(
        description="Feeds carrying subscribers' opt-outs that their publisher has not "
        "acknowledged for at least `olderThanHours` (default 24): the operator's alert.",
        permission_classes=[IsAdmin],
    )
    async def unacknowledged_opt_outs(
        self, info: Info[Context, None], older_than_hours: float = 24.0
    ) -> list[PendingOptOutsType]:
        services = info.context.resources.services
        pending = await pending_optouts(
            publishers=services.publishers,
            runs=services.runs,
            acks=services.acks,
            now=clock.now(),
            older_than=timedelta(hours=max(0.0, older_than_hours)),
        )
        return [
            PendingOptOutsType(
                publisher_id=p.publisher_id,
                sequence=p.sequence,
                opt_outs=p.optouts,
                oldest_change_at=p.oldest_change_at,
                age_hours=round(p.age.total_seconds() / 3600, 2),
            )
            for p in pending
        ]

    @strawberry.field(description="A publisher's latest export runs.", permission_classes=[IsAdmin])
    async def export_runs(
        self, info: Info[Context, None], publisher_id: str, first: int = 20
    ) -> list[ExportRun]:
        runs = await service.export_runs(
            info.context.resources.services.runs, publisher_id=publisher_id, first=first
        )
        return [ExportRun.from_domain(r) for r in runs]


async def _save(info: Info[Context, None], new: bool, data: PublisherInput) -> PublisherResult:
    repo = info.context.resources.services.publishers
    try:
        if new:
            saved = await service.add_publisher(repo, data.to_domain())
        elif data.expected_version is None:
            raise ValidationError(
                "expectedVersion", "required", "give the version you read to change it"
            )
        else:
            saved = await service.update_publisher(repo, data.id, data.expected_version, data.onto)
    except ValidationError as exc:
        return ValidationProblem.from_error(exc)
    except AlreadyExists:
        return ValidationProblem(field="id", rule="taken", message="is already registered")
    except NotFound as exc:
        return NotFoundProblem.from_error(exc)
    except VersionConflict as exc:
        return _conflict(exc)
    return PublisherSaved(publisher=PublisherType.from_domain(saved))


def _conflict(exc: VersionConflict) -> PublisherConflictProblem:
    current = exc.current
    if not isinstance(current, dom.Publisher):
        raise exc
    return PublisherConflictProblem(message=str(exc), current=PublisherType.from_domain(current))


async def _switch(info: Info[Context, None], id: str, active: bool) -> PublisherResult:
    switch = service.enable_publisher if active else service.disable_publisher
    try:
        saved = await switch(info.context.resources.services.publishers, id)
    except NotFound as exc:
        return NotFoundProblem.from_error(exc)
    except VersionConflict as exc:
        return _conflict(exc)
    return PublisherSaved(publisher=PublisherType.from_domain(saved))


@strawberry.type
class PublisherMutations:
    @strawberry.mutation(description="Register a publisher.", permission_classes=[IsAdmin])
    async def add_publisher(
        self, info: Info[Context, None], input: PublisherInput
    ) -> PublisherResult:
        return await _save(info, True, input)

    @strawberry.mutation(description="Change a registration.", permission_classes=[IsAdmin])
    async def update_publisher(
        self, info: Info[Context, None], input: PublisherInput
    ) -> PublisherResult:
        return await _save(info, False, input)

    @strawberry.mutation(description="Stop exports to a publisher.", permission_classes=[IsAdmin])
    async def disable_publisher(self, info: Info[Context, None], id: str) -> PublisherResult:
        return await _switch(info, id, False)

    @strawberry.mutation(
        description="Export to a disabled publisher again.", permission_classes=[IsAdmin]
    )
    async def enable_publisher(self, info: Info[Context, None], id: str) -> PublisherResult:
        return await _switch(info, id, True)
