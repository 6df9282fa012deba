"""Keyset pagination shared by every list: items after a position, and whether more follow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A slice of an ordered list; ``last_key`` positions the next slice."""

    items: list[T]
    has_next: bool
    last_key: str | None
