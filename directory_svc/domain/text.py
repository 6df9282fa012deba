"""Text rules shared by every field: allowed characters, lengths and name normalisation."""

from __future__ import annotations

import re
import unicodedata

from directory_svc.domain.errors import ValidationError

_FOLD = re.compile(r"[\s\-‐‑‒–—'’`.]+")


_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (zero-width, bidi overrides and isolates, BOM), surrogate, private,
unassigned, line and paragraph separators."""
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
"""Characters classed as letters or symbols that print as nothing (Hangul fillers, the
blank Braille pattern)."""


def clean_text(value: str) -> str:
    """The form a text is stored in: NFC, every kind of space a plain space, no spaces at
    the ends. Anything else (a newline, a tab, an invisible character) stays, for
    ``check_text`` to refuse."""
    nfc = unicodedata.normalize("NFC", value)
    spaced = "".join(" " if unicodedata.category(c) == "Zs" else c for c in nfc)
    return spaced.strip(" ")


def forbidden_character(value: str) -> bool:
    """Whether ``value`` holds a control, invisible or bidirectional-override character."""
    return any(
        unicodedata.category(c) in _FORBIDDEN_CATEGORIES or c in _INVISIBLE_LETTERS for c in value
    )


def check_text(field: str, value: str, max_len: int, *, required: bool = False) -> str:
    """Validate one text value and return it as stored (``clean_text``): no control,
    invisible or bidirectional-control character anywhere, at most ``max_len`` characters."""
    cleaned = clean_text(value)
    if required and not cleaned:
        raise ValidationError(field, "required", "is required")
    if len(cleaned) > max_len:
        raise ValidationError(field, "too_long", f"must be at most {max_len} characters")
    if forbidden_character(cleaned):
        raise ValidationError(
            field, "forbidden_character", "contains control or invisible characters"
        )
    return cleaned


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, CSV injection)."""


def check_plain_text(field: str, value: str, max_len: int, *, required: bool = False) -> str:
    """``check_text``, and the value must not start like a spreadsheet formula.

    Every free text of a listing reaches publishers' files, which they open in
    spreadsheets: ``=``, ``+``, ``-``, ``@``, tab or carriage return first is refused.
    """
    if value.startswith(FORMULA_STARTS) or clean_text(value).startswith(FORMULA_STARTS):
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
