"""The text of a CRM file, whichever way a spreadsheet saved it.

Excel's "CSV UTF-8" starts with a byte-order mark; French Excel's plain "CSV (séparateur :
point-virgule)" is Windows-1252. A file is read as UTF-8 (its BOM dropped), else, when
nothing in it is UTF-8 beyond ASCII, as Windows-1252; ``--encoding`` names it instead. A
UTF-8 file with a few damaged bytes stays UTF-8: its damaged rows are refused one by one
(never re-read as Windows-1252, which would garble every accent of the file). Errors say
the line, never the text.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from directory_svc.domain.errors import DomainError

BOM = codecs.BOM_UTF8
_UTF8_BEYOND_ASCII = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
NAMES = {"utf-8": "UTF-8", "cp1252": "Windows-1252"}


class UnreadableFile(DomainError):
    """The file is in no encoding the import reads; nothing of it was imported."""


@dataclass(frozen=True, slots=True)
class FileText:
    """A file's text and how it was read (said to the operator)."""

    text: str
    encoding: str


def _line_of(raw: bytes, position: int) -> int:
    return raw.count(b"\n", 0, position) + 1


def _strict(raw: bytes, codec: str, name: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        where = _line_of(raw, exc.start)
        raise UnreadableFile(
            f"{name} is not valid {NAMES.get(codec, codec)} (line {where})"
        ) from None


def file_text(name: str, raw: bytes, encoding: str | None = None) -> FileText:
    """The text of file ``name`` (content ``raw``), decoded as the module docstring says."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile(f'{name} is UTF-16 (Excel\'s "Unicode text"); save it as "CSV UTF-8"')
    bom = raw.startswith(BOM)
    body = raw[len(BOM) :] if bom else raw
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise UnreadableFile(f"unknown encoding: {encoding}") from None
        text = _strict(body, codec, name)
        return FileText(text, NAMES.get(codec, codec))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if bom or _UTF8_BEYOND_ASCII.search(body):  # damaged UTF-8: rows refused one by one
            return FileText(body.decode("utf-8", errors="surrogateescape"), "UTF-8")
        try:
            return FileText(body.decode("cp1252"), "Windows-1252")
        except UnicodeDecodeError as bad:
            where = _line_of(body, bad.start)
            raise UnreadableFile(
                f"{name} is neither UTF-8 nor Windows-1252 (line {where}); "
                'save it as "CSV UTF-8" or give --encoding'
            ) from exc
    return FileText(text, "UTF-8 (with a byte-order mark)" if bom else "UTF-8")
