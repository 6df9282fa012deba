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
