"""Counting the database commands a process sends (PyMongo command monitoring).

``/metrics`` exposes the count by command name (``directory_db_commands_total``), and
``export run`` prints an export's total: the cost of an operation in round trips, which
does not depend on how fast the engine is (``make bench`` divides it by operations).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from pymongo import monitoring

# Command names are chosen by the driver, not by clients; still, bound the label set.
_KNOWN = frozenset(
    {
        "find",
        "getMore",
        "insert",
        "update",
        "delete",
        "findAndModify",
        "aggregate",
        "count",
        "distinct",
        "createIndexes",
        "listIndexes",
        "listCollections",
        "ping",
        "killCursors",
        "drop",
        "endSessions",
        "explain",
        "hello",
        "isMaster",
        "buildInfo",
        "dropIndexes",
        "collStats",
        "dbStats",
        "renameCollection",
        "create",
    }
)


def command_label(name: str) -> str:
    """The command's name when known, else ``other``."""
    return name if name in _KNOWN else "other"


class CommandCounter(monitoring.CommandListener):
    """Counts every command started; ``on_command`` (if given) hears each name too."""

    def __init__(self, on_command: Callable[[str], None] | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self._on_command = on_command

    @property
    def total(self) -> int:
        """Commands sent so far, handshakes and monitoring excluded."""
        return sum(self.counts.values())

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = command_label(event.command_name)
        self.counts[name] += 1
        if self._on_command is not None:
            self._on_command(name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
