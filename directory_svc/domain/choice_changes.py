"""What saving the six R10 choices does to a listing (pure: used to save and to preview).

Asking to be listed is the subscriber's recorded prior consent (L34) to list the mobile
numbers the listing shows; when it shows none, its main number is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from directory_svc.domain.choices import Consent
from directory_svc.domain.history import Change
from directory_svc.domain.listings import LineNumber, Listing
from directory_svc.domain.numbers import LineType


@dataclass(frozen=True, slots=True)
class ChoiceValues:
    """The six choices as the caller wants them."""

    listed: bool
    initial_only: bool
    no_gender: bool
    no_street: bool
    no_reverse_lookup: bool
    no_marketing: bool


def with_choices(item: Listing, values: ChoiceValues, change: Change) -> Listing:
    """The listing with ``values`` as its choices (see the module docstring)."""
    numbers = item.numbers
    if values.listed and not item.choices.listed:
        numbers = consent_to_list(item.numbers, change)
    return replace(
        item,
        numbers=numbers,
        choices=replace(
            item.choices,
            listed=values.listed,
            initial_only=values.initial_only,
            no_gender=values.no_gender,
            no_street=values.no_street,
            no_reverse_lookup=values.no_reverse_lookup,
            no_marketing=values.no_marketing,
        ),
    )


def consent_to_list(numbers: tuple[LineNumber, ...], change: Change) -> tuple[LineNumber, ...]:
    """The numbers once the subscriber asked to be listed: the main number is shown when
    none is, and each mobile number shown gets this change as its consent."""
    if not any(n.published for n in numbers):
        numbers = tuple(replace(n, published=i == 0) for i, n in enumerate(numbers))
    p = change.provenance
    return tuple(
        replace(n, consent=Consent(p.at, p.channel, change.change_id))
        if n.published and n.line_type is LineType.MOBILE and n.consent is None
        else n
        for n in numbers
    )
