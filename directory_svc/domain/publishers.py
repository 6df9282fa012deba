"""What a publisher is allowed to receive: its kind, scope, fields and policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from directory_svc.domain.communes import departement_of


class PublisherKind(StrEnum):
    """Printed/online directory, directory-enquiry service (118 xxx) or reverse look-up."""

    DIRECTORY = "directory"
    ENQUIRY = "enquiry"
    REVERSE_LOOKUP = "reverse_lookup"


class ChoicePolicy(StrEnum):
    """Apply the masking choices here (``mask``) or send full data with flags (``flags``)."""

    MASK = "mask"
    FLAGS = "flags"


class HomonymyPolicy(StrEnum):
    """``strict`` unmasks on a collision (what the texts say); ``lenient`` always masks."""

    STRICT = "strict"
    LENIENT = "lenient"


PUBLISHABLE_FIELDS: tuple[str, ...] = (
    "kind",
    "civility",
    "surname",
    "first_name",
    "business_names",
    "street",
    "locality",
    "complement",
    "postcode",
    "commune",
    "insee_code",
    "numbers",
    "profession",
    "mention",
    "email",
    "category",
    "extra_users",
)


@dataclass(frozen=True, slots=True)
class GeoScope:
    """Where a publisher's list is drawn from; both sets empty means all of France."""

    departements: frozenset[str] = frozenset()
    communes: frozenset[str] = frozenset()

    @property
    def all_france(self) -> bool:
        """True when the scope is the whole country."""
        return not self.departements and not self.communes

    def contains(self, insee_code: str) -> bool:
        """Whether a commune is inside the scope."""
        if self.all_france:
            return True
        return insee_code in self.communes or departement_of(insee_code) in self.departements


@dataclass(frozen=True, slots=True)
class PublisherProfile:
    """The part of a publisher's contract that decides what each record may contain."""

    id: str
    kind: PublisherKind
    marketing_allowed: bool = False
    scope: GeoScope = GeoScope()
    fields: frozenset[str] = field(default_factory=lambda: frozenset(PUBLISHABLE_FIELDS))
    choice_policy: ChoicePolicy = ChoicePolicy.MASK
    homonymy: HomonymyPolicy = HomonymyPolicy.STRICT
