"""French telephone numbers: parsing any common writing into E.164 and classifying the line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberType

from directory_svc.domain.errors import ValidationError


class LineType(StrEnum):
    """What kind of line a number belongs to; it decides the listing default (R10, L34)."""

    FIXED_GEOGRAPHIC = "fixed_geographic"
    NON_GEOGRAPHIC = "non_geographic"
    MOBILE = "mobile"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A validated French number, stored as E.164 (``+33123456789``)."""

    e164: str
    line_type: LineType

    @property
    def national(self) -> str:
        """The number as printed in France: ``01 23 45 67 89``."""
        digits = "0" + self.e164.removeprefix("+33")
        return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))


_WRITTEN = re.compile(r"\+?[0-9(][0-9 .()/-]{0,29}", re.ASCII)
"""How a number may be written: ASCII digits, spaces, dots, hyphens, slashes, brackets."""


def parse_french_number(text: str, field: str = "number") -> PhoneNumber:
    """Parse ``0612345678``, ``06 12 34 56 78``, ``+33 6…`` or ``0033 6…`` into a French number.

    Raises ``ValidationError`` naming ``field`` when the text is not a valid number of the
    French numbering plan. The message never repeats the input (it is personal data).
    """
    cleaned = text.strip(" ")
    if not _WRITTEN.fullmatch(cleaned):
        # ASCII digits and the usual separators only: no extension (``ext. 12``,
        # ``;ext=12``), no other script's digits, nothing invisible, no NUL.
        raise ValidationError(field, "invalid_number", "is not a telephone number")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    try:
        parsed = phonenumbers.parse(cleaned, "FR")
    except phonenumbers.NumberParseException:
        raise ValidationError(field, "invalid_number", "is not a telephone number") from None
    if parsed.country_code != 33 or not phonenumbers.is_valid_number_for_region(parsed, "FR"):
        raise ValidationError(field, "not_french_plan", "is not a valid French number")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return PhoneNumber(e164=e164, line_type=classify(e164))


def classify(e164: str) -> LineType:
    """Classify a French E.164 number: 01–05 geographic, 09 non-geographic, 06/07 mobile."""
    prefix = e164.removeprefix("+33")[:1]
    if prefix in {"1", "2", "3", "4", "5"}:
        return LineType.FIXED_GEOGRAPHIC
    if prefix == "9":
        return LineType.NON_GEOGRAPHIC
    if prefix in {"6", "7"}:
        kind = phonenumbers.number_type(phonenumbers.parse(e164))
        if kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
            return LineType.MOBILE
    return LineType.OTHER
