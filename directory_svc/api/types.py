"""GraphQL types of listings (built from domain objects, never from stored documents)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import Enum

import strawberry

from directory_svc.domain.errors import ValidationError
from directory_svc.domain.listings import Listing
from directory_svc.domain.listings import ListingKind as DomainListingKind
from directory_svc.domain.numbers import LineType as DomainLineType
from directory_svc.domain.pagination import Page
from directory_svc.domain.projection import publishable_numbers


@strawberry.enum(description="Residential or professional subscriber.")
class ListingKind(Enum):
    RESIDENTIAL = DomainListingKind.RESIDENTIAL.value
    PROFESSIONAL = DomainListingKind.PROFESSIONAL.value


@strawberry.enum(
    description="Kind of line: fixed geographic (01–05), non-geographic (09), mobile, other."
)
class LineType(Enum):
    FIXED_GEOGRAPHIC = DomainLineType.FIXED_GEOGRAPHIC.value
    NON_GEOGRAPHIC = DomainLineType.NON_GEOGRAPHIC.value
    MOBILE = DomainLineType.MOBILE.value
    OTHER = DomainLineType.OTHER.value


@strawberry.type(name="Address", description="Where the subscriber is (BAN parts).")
class AddressType:
    postcode: str = strawberry.field(description="Postcode.")
    commune: str = strawberry.field(description="Commune name.")
    insee_code: str = strawberry.field(description="INSEE commune code.")
    street: str | None = strawberry.field(description="Number, repetition index and street.")
    locality: str | None = strawberry.field(description="Locality (lieu-dit).")
    complement: str | None = strawberry.field(description="Address complement.")


@strawberry.type(name="LineNumber", description="A number of the line.")
class LineNumberType:
    number: str = strawberry.field(description="The number in E.164 form.")
    line_type: LineType = strawberry.field(description="Kind of line.")
    published: bool = strawberry.field(description="Whether the subscriber shows it.")
    consent: bool = strawberry.field(description="Consent to list this mobile number recorded.")
    in_directories: bool = strawberry.field(
        description="Whether directories receive it: shown and, for a mobile, consented."
    )


@strawberry.type(name="ExtraUser", description="Another user of the line, listed with consent.")
class ExtraUserType:
    surname: str = strawberry.field(description="Surname.")
    first_name: str = strawberry.field(description="First name.")
    consent: bool = strawberry.field(description="Their consent to be listed is recorded.")


@strawberry.type(name="Choices", description="The subscriber's R10 choices for this line.")
class ChoicesType:
    listed: bool = strawberry.field(description="Appears in directories.")
    initial_only: bool = strawberry.field(description="First name as initial only.")
    no_gender: bool = strawberry.field(description="No civility/gender.")
    no_street: bool = strawberry.field(description="No street address.")
    no_reverse_lookup: bool = strawberry.field(description="Not in reverse look-up.")
    no_marketing: bool = strawberry.field(description="No direct marketing.")
    mobile_consent: bool = strawberry.field(
        description="Consent recorded for every mobile number shown (and at least one)."
    )


@strawberry.type(name="Listing", description="A directory entry for one line of a subscriber.")
class ListingType:
    id: strawberry.ID = strawberry.field(description="Stable entry id.")
    account_id: str = strawberry.field(description="The subscriber's account.")
    kind: ListingKind = strawberry.field(description="Residential or professional.")
    display_name: str = strawberry.field(description="Name as a directory shows it.")
    civility: str | None = strawberry.field(description="Civility (mme, m), if given.")
    surname: str = strawberry.field(description="Surname, as entered.")
    first_name: str = strawberry.field(description="First name, as entered.")
    business_names: list[str] = strawberry.field(description="Business names (professionals).")
    address: AddressType = strawberry.field(description="Address.")
    numbers: list[LineNumberType] = strawberry.field(description="Numbers of the line.")
    profession: str | None = strawberry.field(description="Profession or activity.")
    mention: str | None = strawberry.field(description="Complementary mention (30 max).")
    email: str | None = strawberry.field(description="E-mail address to publish.")
    extra_users: list[ExtraUserType] = strawberry.field(description="Other users listed.")
    line_type: LineType = strawberry.field(description="Kind of line (its main number's).")
    choices: ChoicesType = strawberry.field(description="Current R10 choices.")
    status: str = strawberry.field(description="active or terminated.")
    version: int = strawberry.field(description="Version, increased by every change.")
    updated_at: datetime | None = strawberry.field(description="Time of the last change.")

    @classmethod
    def from_domain(cls, listing: Listing) -> ListingType:
        """The GraphQL view of a domain listing."""
        a, c = listing.address, listing.choices
        shown = publishable_numbers(listing)
        mobiles = [
            n for n in listing.numbers if n.line_type is DomainLineType.MOBILE and n.published
        ]
        return cls(
            id=strawberry.ID(listing.id),
            account_id=listing.account_id,
            kind=ListingKind(listing.kind.value),
            display_name=listing.display_name,
            civility=listing.civility.value if listing.civility else None,
            surname=listing.surname,
            first_name=listing.first_name,
            business_names=list(listing.business_names),
            address=AddressType(
                postcode=a.postcode,
                commune=a.commune,
                insee_code=a.insee_code,
                street=a.street_line,
                locality=a.locality,
                complement=a.complement,
            ),
            numbers=[
                LineNumberType(
                    number=n.e164,
                    line_type=LineType(n.line_type.value),
                    published=n.published,
                    consent=n.consent is not None,
                    in_directories=n.e164 in shown,
                )
                for n in listing.numbers
            ],
            profession=listing.profession,
            mention=listing.mention,
            email=listing.email,
            extra_users=[
                ExtraUserType(surname=u.surname, first_name=u.first_name, consent=bool(u.consent))
                for u in listing.extra_users
            ],
            line_type=LineType(listing.line_type.value),
            choices=ChoicesType(
                listed=c.listed,
                initial_only=c.initial_only,
                no_gender=c.no_gender,
                no_street=c.no_street,
                no_reverse_lookup=c.no_reverse_lookup,
                no_marketing=c.no_marketing,
                mobile_consent=bool(mobiles) and all(n.consent for n in mobiles),
            ),
            status=listing.status.value,
            version=listing.version,
            updated_at=listing.updated_at,
        )


@strawberry.type(description="Where a page of results stands in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more results follow.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")


@strawberry.type(description="One listing and its position in the list.")
class ListingEdge:
    node: ListingType = strawberry.field(description="The listing.")
    cursor: str = strawberry.field(description="Position of this listing.")


@strawberry.type(description="A page of listings (Relay-style connection).")
class ListingConnection:
    edges: list[ListingEdge] = strawberry.field(description="The listings of this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")

    @classmethod
    def from_page(cls, page: Page[Listing]) -> ListingConnection:
        """A connection from a domain page."""
        return cls(
            edges=[
                ListingEdge(node=ListingType.from_domain(item), cursor=encode_cursor(item.id))
                for item in page.items
            ],
            page_info=PageInfo(
                has_next_page=page.has_next,
                end_cursor=encode_cursor(page.last_key) if page.last_key else None,
            ),
        )


def encode_cursor(key: str) -> str:
    """An opaque cursor for a position."""
    return base64.urlsafe_b64encode(f"k:{key}".encode()).decode()


def decode_cursor(cursor: str, field: str = "after") -> str:
    """The position behind an opaque cursor; ``ValidationError`` when it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise ValidationError(field, "invalid_cursor", "is not a valid cursor") from None
    if not raw.startswith("k:"):
        raise ValidationError(field, "invalid_cursor", "is not a valid cursor")
    return raw[2:]
