"""Validation of a whole listing: every rule names the field it protects (brief §2–3)."""

from __future__ import annotations

import re
from dataclasses import replace

from directory_svc.domain.communes import check_insee_code, check_postcode
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.listings import Listing, ListingKind
from directory_svc.domain.numbers import LineType, parse_french_number
from directory_svc.domain.text import check_plain_text, check_text, clean_text

DISPLAY_NAME_MAX = 100
FULL_NAME_MAX = 130
MENTION_MAX = 30
ADDRESS_LINE_MAX = 38  # NF Z10-011
COMMUNE_MAX = 60  # official names reach 45 characters; the postal line abbreviates them
PROFESSION_MAX = 100
EMAIL_MAX = 254
CONSENT_REF_MAX = 100
MAX_BUSINESS_NAMES = 5
"""Trading names shown for one line (a company name and a few brands)."""
MAX_EXTRA_USERS = 10
"""Other people listed on one line (a household, a small office)."""
MAX_NUMBERS = 10
"""Numbers held on one listing: a switchboard and a handful of direct lines. A SIP trunk's
block of direct-dial numbers is not published number by number."""
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_id(field: str, value: str) -> str:
    """Ids are 1–64 letters, digits, ``_`` or ``-``."""
    if not ID_PATTERN.match(value):
        raise ValidationError(field, "id_format", "must be 1–64 letters, digits, _ or -")
    return value


def _clean_optional(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


def clean_listing(listing: Listing) -> Listing:
    """The listing with every text in its stored form (``clean_text``: NFC, plain spaces,
    none at the ends); ``validate_listing`` then refuses what cleaning cannot fix."""
    a = listing.address
    address = replace(
        a,
        commune=clean_text(a.commune),
        number=_clean_optional(a.number),
        repetition=_clean_optional(a.repetition),
        street=_clean_optional(a.street),
        locality=_clean_optional(a.locality),
        complement=_clean_optional(a.complement),
    )
    users = tuple(
        replace(u, surname=clean_text(u.surname), first_name=clean_text(u.first_name))
        for u in listing.extra_users
    )
    cleaned = replace(
        listing,
        surname=clean_text(listing.surname),
        first_name=clean_text(listing.first_name),
        business_names=tuple(clean_text(n) for n in listing.business_names),
        profession=_clean_optional(listing.profession),
        mention=_clean_optional(listing.mention),
        email=_clean_optional(listing.email),
        category=_clean_optional(listing.category),
        address=address,
        extra_users=users,
    )
    return listing if cleaned == listing else cleaned


def validate_listing(listing: Listing) -> None:
    """Raise ``ValidationError`` for the first rule the listing breaks; silent when valid."""
    check_id("id", listing.id)
    check_id("account_id", listing.account_id)
    _check_names(listing)
    _check_address(listing)
    _check_numbers(listing)
    _check_optional_texts(listing)
    _check_choices(listing)


def _check_names(listing: Listing) -> None:
    residential = listing.kind is ListingKind.RESIDENTIAL
    surname = check_plain_text("surname", listing.surname, FULL_NAME_MAX, required=residential)
    first = check_plain_text("first_name", listing.first_name, FULL_NAME_MAX)
    if len(surname) + len(first) > FULL_NAME_MAX:
        raise ValidationError(
            "first_name", "too_long", f"surname and first name exceed {FULL_NAME_MAX} characters"
        )
    _check_count("business_names", len(listing.business_names), MAX_BUSINESS_NAMES)
    _check_count("extra_users", len(listing.extra_users), MAX_EXTRA_USERS)
    if not residential and not listing.business_names:
        raise ValidationError("business_names", "required", "a professional needs a name")
    for i, name in enumerate(listing.business_names):
        check_plain_text(f"business_names.{i}", name, DISPLAY_NAME_MAX, required=True)
    if len(listing.display_name) > DISPLAY_NAME_MAX:
        raise ValidationError(
            "surname", "too_long", f"the display name exceeds {DISPLAY_NAME_MAX} characters"
        )
    for i, user in enumerate(listing.extra_users):
        check_plain_text(f"extra_users.{i}.surname", user.surname, FULL_NAME_MAX, required=True)
        check_plain_text(f"extra_users.{i}.first_name", user.first_name, FULL_NAME_MAX)
        if user.consent is None:
            raise ValidationError(
                f"extra_users.{i}.consent", "consent_required", "the user's consent is required"
            )
        check_text(f"extra_users.{i}.consent", user.consent.reference, CONSENT_REF_MAX)


def _check_address(listing: Listing) -> None:
    a = listing.address
    check_postcode("address.postcode", a.postcode)
    check_insee_code("address.insee_code", a.insee_code)
    check_plain_text("address.commune", a.commune, COMMUNE_MAX, required=True)
    for name in ("number", "repetition", "street", "locality", "complement"):
        value = getattr(a, name)
        if value is not None:
            check_plain_text(f"address.{name}", value, ADDRESS_LINE_MAX)
    if a.street_line and len(a.street_line) > ADDRESS_LINE_MAX:
        raise ValidationError(
            "address.street", "too_long", f"the street line exceeds {ADDRESS_LINE_MAX} characters"
        )


def _check_count(field: str, count: int, most: int) -> None:
    if count > most:
        raise ValidationError(field, "too_many", f"at most {most} allowed")


def _check_numbers(listing: Listing) -> None:
    if not listing.numbers:
        raise ValidationError("numbers", "required", "a line needs at least one number")
    _check_count("numbers", len(listing.numbers), MAX_NUMBERS)
    seen: set[str] = set()
    for i, number in enumerate(listing.numbers):
        parsed = parse_french_number(number.e164, field=f"numbers.{i}")
        if parsed.e164 != number.e164 or parsed.line_type is not number.line_type:
            raise ValidationError(f"numbers.{i}", "not_e164", "must be stored in E.164 form")
        if number.e164 in seen:
            raise ValidationError(f"numbers.{i}", "duplicate", "appears twice")
        if number.consent is not None:
            check_text(f"numbers.{i}.consent", number.consent.reference, CONSENT_REF_MAX)
        seen.add(number.e164)
    if listing.choices.listed and not listing.published_numbers:
        raise ValidationError("numbers", "none_published", "a listed line must show a number")


def _check_optional_texts(listing: Listing) -> None:
    if listing.profession is not None:
        check_plain_text("profession", listing.profession, PROFESSION_MAX)
    if listing.mention is not None:
        check_plain_text("mention", listing.mention, MENTION_MAX)
    if listing.category is not None:
        check_plain_text("category", listing.category, PROFESSION_MAX)
    if listing.email is not None:
        email = check_plain_text("email", listing.email, EMAIL_MAX)
        if email and not _EMAIL.match(email):
            raise ValidationError("email", "email_format", "is not an e-mail address")


def _check_choices(listing: Listing) -> None:
    choices = listing.choices
    if choices.no_street and listing.kind is ListingKind.PROFESSIONAL and listing.consumer_facing:
        raise ValidationError(
            "choices.no_street",
            "consumer_facing_professional",
            "is not available to a professional who serves consumers (R10)",
        )
    if not choices.listed:
        return
    for i, number in enumerate(listing.numbers):
        if number.published and number.line_type is LineType.MOBILE and number.consent is None:
            raise ValidationError(
                f"numbers.{i}",
                "mobile_consent_required",
                "a mobile number is listed only with the subscriber's recorded consent",
            )
