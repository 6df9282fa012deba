"""What a publisher is allowed to receive: its kind, scope, fields and policies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from directory_svc.domain.communes import commune_of, departement_of


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
        """Whether a commune is inside the scope; a scope naming Paris, Lyon or Marseille
        holds each of its arrondissements."""
        if self.all_france:
            return True
        return (
            insee_code in self.communes
            or commune_of(insee_code) in self.communes
            or departement_of(insee_code) in self.departements
        )


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


class FeedFormat(StrEnum):
    """File format of a feed (both documented in docs/feed-format.md)."""

    CSV = "csv"
    JSONL = "jsonl"


class NumberFormat(StrEnum):
    """How numbers are written in a feed: ``+33123456789`` or ``01 23 45 67 89``."""

    E164 = "e164"
    NATIONAL = "national"


@dataclass(frozen=True, slots=True)
class SftpTarget:
    """Where feeds are pushed: the publisher's SFTP server, pinned by its host key."""

    host: str
    port: int
    username: str
    directory: str
    host_key: str

    @property
    def address(self) -> str:
        """``user@host:port/dir``, as given on the command line."""
        return f"{self.username}@{self.host}:{self.port}{self.directory}"


@dataclass(frozen=True, slots=True)
class Publisher:
    """A registered publisher: its contract profile plus how its feed is built and sent."""

    profile: PublisherProfile
    legal_name: str
    feed_format: FeedFormat = FeedFormat.CSV
    number_format: NumberFormat = NumberFormat.E164
    schedule: str = "0 3 * * *"
    recipient: str | None = None
    active: bool = True
    sftp: SftpTarget | None = None
    ack_key: str | None = None
    """The publisher's Ed25519 public key (PEM) that signs its acknowledgements."""
    version: int = 1
    """Bumped by every saved change of the registration (admins edit against a version)."""

    @property
    def id(self) -> str:
        """The publisher's id (that of its profile)."""
        return self.profile.id


def feed_folder(publisher_id: str, seq: int, kind: str) -> str:
    """The name of a published feed folder: ``<publisher>-<sequence>-<full|delta>``."""
    return f"{publisher_id}-{seq:06d}-{kind}"


def is_feed_folder_of(publisher_id: str, name: str) -> bool:
    """True when ``name`` is one of this publisher's feed folders.

    Exact, not a prefix test: publisher ids may share a prefix (``alpha``, ``alpha-1``).
    """
    return re.fullmatch(rf"{re.escape(publisher_id)}-\d{{6,}}-(full|delta)", name) is not None
