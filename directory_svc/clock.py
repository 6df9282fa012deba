"""The service's one clock: every time the service stamps or compares comes from here.

``now()`` asks the installed clock (the system's, unless a test or a replay installs
another with ``using``). Pure domain code takes times as arguments instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time (timezone-aware)."""

    def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


_installed: Clock = SystemClock()


def now() -> datetime:
    """The current time of the installed clock."""
    return _installed.now()


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Install ``clock`` for the duration of the block (tests, replays)."""
    global _installed
    previous, _installed = _installed, clock
    try:
        yield clock
    finally:
        _installed = previous
