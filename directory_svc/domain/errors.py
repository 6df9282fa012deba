"""Typed errors of the domain: each names the field and the rule, never the value."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure that a caller may show to a user."""


class ValidationError(DomainError):
    """A value breaks a rule; ``field`` and ``rule`` are stable identifiers for clients."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = rule
        self.detail = message


class NotFound(DomainError):
    """The requested object does not exist (or the caller may not know that it does)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class VersionConflict(DomainError):
    """The object changed since the caller read it; ``current`` is its state now.

    ``retry_shortly``: it has not changed yet, but another change of it is being written
    (the caller may send the same change again in a moment)."""

    def __init__(self, current: object, what: str = "listing", retry_shortly: bool = False) -> None:
        super().__init__(
            f"another change of the {what} is being written; retry shortly"
            if retry_shortly
            else f"the {what} was changed by someone else; reload and try again"
        )
        self.current = current
        self.retry_shortly = retry_shortly


class AlreadyExists(DomainError):
    """An object with this id exists already (and this is not a retry of its creation)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} already exists")
        self.what = what


class Busy(DomainError):
    """Another process is doing this right now; the caller may try again when it ends."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is already running; try again when it has ended")
        self.what = what
