"""The projection: the one place that decides what a publisher may see of a listing.

Queries, resolvers and exporters never re-implement these rules; a database filter is only a
pre-filter before ``project``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from directory_svc.domain.listings import Listing, ListingKind, Status
from directory_svc.domain.numbers import LineType
from directory_svc.domain.publishers import (
    ChoicePolicy,
    HomonymyPolicy,
    PublisherKind,
    PublisherProfile,
)
from directory_svc.domain.text import initial_of, normalise_name

PublishedValue = str | tuple[str, ...] | None


class ReasonCode(StrEnum):
    """Why an entry was left out, or why a choice was or was not applied."""

    TERMINATED = "terminated"
    UNLISTED = "unlisted"
    MOBILE_WITHOUT_CONSENT = "mobile_without_consent"
    OUT_OF_SCOPE = "out_of_scope"
    REVERSE_LOOKUP_EXCLUDED = "reverse_lookup_excluded"
    MASKED = "masked"
    FLAGGED = "flagged"
    HOMONYM = "homonym"
    CONSUMER_FACING_PROFESSIONAL = "consumer_facing_professional"


@dataclass(frozen=True, slots=True)
class Reason:
    """One decision: ``choice`` is the R10 choice concerned (None for exclusions)."""

    code: ReasonCode
    choice: str | None = None
    applied: bool = True


@dataclass(frozen=True, slots=True)
class Flags:
    """Opposition flags; they travel with every transmitted record (R10-3)."""

    no_marketing: bool
    no_reverse_lookup: bool
    initial_only: bool
    no_gender: bool
    no_street: bool


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """Exactly what one publisher receives for one entry."""

    entry_id: str
    fields: dict[str, PublishedValue]
    flags: Flags


@dataclass(frozen=True, slots=True)
class Projection:
    """The record for this publisher (``None`` when excluded) and the reasons."""

    record: PublishedRecord | None
    reasons: tuple[Reason, ...]


class HomonymyContext(Protocol):
    """Counts of listed entries of the same list sharing a name in a commune."""

    def same_initial(self, insee_code: str, surname: str, first_name: str) -> int:
        """Entries with the same normalised surname and the same initial (self included)."""
        ...

    def same_name(self, insee_code: str, surname: str, first_name: str) -> int:
        """Entries with the same normalised surname and first name (self included)."""
        ...


class HomonymIndex:
    """A ``HomonymyContext`` counted from the listings of one list (pure, in memory)."""

    def __init__(self, listings: Iterable[Listing] = ()) -> None:
        self._initials: Counter[tuple[str, str, str]] = Counter()
        self._names: Counter[tuple[str, str, str]] = Counter()
        for listing in listings:
            self.add(listing)

    def add(self, listing: Listing) -> None:
        """Count one listed entry of the list."""
        code, surname, first = listing.address.insee_code, listing.surname, listing.first_name
        self._initials[initial_key(code, surname, first)] += 1
        self._names[name_key(code, surname, first)] += 1

    def same_initial(self, insee_code: str, surname: str, first_name: str) -> int:
        return self._initials[initial_key(insee_code, surname, first_name)]

    def same_name(self, insee_code: str, surname: str, first_name: str) -> int:
        return self._names[name_key(insee_code, surname, first_name)]


def initial_key(insee_code: str, surname: str, first_name: str) -> tuple[str, str, str]:
    """Commune, normalised surname and normalised initial."""
    return insee_code, normalise_name(surname), normalise_name(first_name)[:1]


def name_key(insee_code: str, surname: str, first_name: str) -> tuple[str, str, str]:
    """Commune, normalised surname and normalised first name."""
    return insee_code, normalise_name(surname), normalise_name(first_name)


def publishable_numbers(listing: Listing) -> tuple[str, ...]:
    """The numbers a directory may show: those the subscriber shows and, for each mobile
    number, only with that number's own recorded consent (L34), whatever its position."""
    return tuple(
        n.e164
        for n in listing.numbers
        if n.published and (n.line_type is not LineType.MOBILE or n.consent is not None)
    )


def exclusion(listing: Listing, profile: PublisherProfile) -> ReasonCode | None:
    """Why the entry must not reach this publisher at all, or ``None``."""
    choices = listing.choices
    if listing.status is Status.TERMINATED:
        return ReasonCode.TERMINATED
    if not choices.listed:
        return ReasonCode.UNLISTED
    if not publishable_numbers(listing):
        shown = [n for n in listing.numbers if n.published]
        return ReasonCode.MOBILE_WITHOUT_CONSENT if shown else ReasonCode.UNLISTED
    if not profile.scope.contains(listing.address.insee_code):
        return ReasonCode.OUT_OF_SCOPE
    if (
        profile.kind is PublisherKind.REVERSE_LOOKUP
        and choices.no_reverse_lookup
        and profile.choice_policy is ChoicePolicy.MASK
    ):
        return ReasonCode.REVERSE_LOOKUP_EXCLUDED
    return None


def homonyms_in_list(members: Iterable[Listing], profile: PublisherProfile) -> HomonymIndex:
    """The homonymy context of ``profile``'s list: the members that list lets in count, and
    so do namesakes kept out of a reverse look-up list only by their own reverse-look-up
    choice. Otherwise a subscriber's outcome there (and their preview) would change when
    a namesake opts out, revealing that namesake's choice."""
    return HomonymIndex(m for m in members if _namesake_counts(m, profile))


def _namesake_counts(member: Listing, profile: PublisherProfile) -> bool:
    excluded = exclusion(member, profile)
    return excluded is None or excluded is ReasonCode.REVERSE_LOOKUP_EXCLUDED


def project(listing: Listing, profile: PublisherProfile, homonyms: HomonymyContext) -> Projection:
    """What ``profile``'s publisher may receive of ``listing``, with the reasons."""
    excluded = exclusion(listing, profile)
    if excluded is not None:
        return Projection(record=None, reasons=(Reason(excluded),))
    choices = listing.choices
    masking = profile.choice_policy is ChoicePolicy.MASK
    strict = profile.homonymy is HomonymyPolicy.STRICT
    reasons: list[Reason] = []
    code, surname, first = listing.address.insee_code, listing.surname, listing.first_name

    def decide(choice: str, blocked_by: ReasonCode | None) -> bool:
        if not masking:
            reasons.append(Reason(ReasonCode.FLAGGED, choice, applied=False))
            return False
        if blocked_by is not None:
            reasons.append(Reason(blocked_by, choice, applied=False))
            return False
        reasons.append(Reason(ReasonCode.MASKED, choice))
        return True

    first_name: str = first
    if choices.initial_only:
        collides = strict and homonyms.same_initial(code, surname, first) > 1
        if decide("initial_only", ReasonCode.HOMONYM if collides else None):
            first_name = initial_of(first)
    civility = listing.civility.value if listing.civility else None
    if choices.no_gender:
        collides = strict and homonyms.same_name(code, surname, first) > 1
        if decide("no_gender", ReasonCode.HOMONYM if collides else None):
            civility = None
    address = listing.address
    street, locality, complement = address.street_line, address.locality, address.complement
    if choices.no_street:
        consumer_pro = listing.kind is ListingKind.PROFESSIONAL and listing.consumer_facing
        if decide("no_street", ReasonCode.CONSUMER_FACING_PROFESSIONAL if consumer_pro else None):
            street = locality = complement = None
    if profile.kind is PublisherKind.REVERSE_LOOKUP and choices.no_reverse_lookup:
        reasons.append(Reason(ReasonCode.FLAGGED, "no_reverse_lookup", applied=False))
    if choices.effective_no_marketing:
        reasons.append(Reason(ReasonCode.FLAGGED, "no_marketing", applied=False))

    values: dict[str, PublishedValue] = {
        "kind": listing.kind.value,
        "civility": civility,
        "surname": surname,
        "first_name": first_name,
        "business_names": listing.business_names,
        "street": street,
        "locality": locality,
        "complement": complement,
        "postcode": address.postcode,
        "commune": address.commune,
        "insee_code": code,
        "numbers": publishable_numbers(listing),
        "profession": listing.profession,
        "mention": listing.mention,
        "email": listing.email,
        "category": listing.category,
        "extra_users": tuple(
            f"{u.surname.upper()} {u.first_name}".strip() for u in listing.extra_users
        ),
    }
    record = PublishedRecord(
        entry_id=listing.id,
        fields={name: value for name, value in values.items() if name in profile.fields},
        flags=Flags(
            no_marketing=choices.effective_no_marketing,
            no_reverse_lookup=choices.no_reverse_lookup,
            initial_only=choices.initial_only,
            no_gender=choices.no_gender,
            no_street=choices.no_street,
        ),
    )
    return Projection(record=record, reasons=tuple(reasons))


RULES_VERSION = 3
"""Bumped whenever ``project`` changes what a publisher receives (2: consent per number;
3: namesakes count in a reverse look-up list whatever their reverse-look-up choice);
a publisher whose copy was built under other rules gets a reconciling delta."""


def profile_fingerprint(profile: PublisherProfile, number_format: str) -> str:
    """What decides every record a publisher receives: its profile, how its numbers are
    written and the rules version. Equal fingerprints, equal records."""
    content = {
        "rules": RULES_VERSION,
        "kind": profile.kind.value,
        "marketing": profile.marketing_allowed,
        "departements": sorted(profile.scope.departements),
        "communes": sorted(profile.scope.communes),
        "fields": sorted(profile.fields),
        "policy": profile.choice_policy.value,
        "homonymy": profile.homonymy.value,
        "numbers": number_format,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
