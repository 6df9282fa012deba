"""Text rules shared by every field: allowed characters, lengths and name normalisation."""

from __future__ import annotations

import re
import unicodedata

from directory_svc.domain.errors import ValidationError

_FOLD = re.compile(r"[\s\-‐‑‒–—'’`.]+")


def check_text(field: str, value: str, max_len: int, *, required: bool = False) -> str:
    """Validate one text value: no control characters or NUL, at most ``max_len`` characters.

    Returns the value with surrounding spaces removed (stored as entered otherwise).
    """
    stripped = value.strip()
    if required and not stripped:
        raise ValidationError(field, "required", "is required")
    if len(stripped) > max_len:
        raise ValidationError(field, "too_long", f"must be at most {max_len} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in stripped):
        raise ValidationError(field, "forbidden_character", "contains control characters")
    return stripped


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, CSV injection)."""


def check_plain_text(field: str, value: str, max_len: int, *, required: bool = False) -> str:
    """``check_text``, and the value must not start like a spreadsheet formula.

    Every free text of a listing reaches publishers' files, which they open in
    spreadsheets: ``=``, ``+``, ``-``, ``@``, tab or carriage return first is refused.
    """
    if value.startswith(FORMULA_STARTS) or value.lstrip(" ").startswith(FORMULA_STARTS):
        raise ValidationError(
            field,
            "formula",
            "must not start with =, +, -, @, a tab or a carriage return (spreadsheet formula)",
        )
    return check_text(field, value, max_len, required=required)


def normalise_name(value: str) -> str:
    """Fold a name for comparison: case, accents, spaces, hyphens and apostrophes.

    ``Hélène``, ``HELENE`` and ``helene`` give ``helene``; ``Le Gall-Durand`` gives
    ``legalldurand``.
    """
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _FOLD.sub("", bare)


def initial_of(first_name: str) -> str:
    """The initial as published: ``Jean-Pierre`` → ``J.``; empty when there is no first name."""
    stripped = first_name.strip()
    return f"{stripped[0].upper()}." if stripped else ""
