"""Expected failures returned as GraphQL types (union members), not as errors."""

from __future__ import annotations

import strawberry

from directory_svc.domain.errors import NotFound, ValidationError


@strawberry.type(description="An input broke a rule; nothing was stored.")
class ValidationProblem:
    field: str = strawberry.field(description="The input field concerned (dotted path).")
    rule: str = strawberry.field(description="Stable identifier of the rule.")
    message: str = strawberry.field(description="What is wrong, in words.")

    @classmethod
    def from_error(cls, error: ValidationError) -> ValidationProblem:
        """The problem for a domain validation error."""
        return cls(field=error.field, rule=error.rule, message=error.detail)


@strawberry.type(description="The object does not exist.")
class NotFoundProblem:
    message: str = strawberry.field(description="What was not found.")

    @classmethod
    def from_error(cls, error: NotFound) -> NotFoundProblem:
        """The problem for a domain not-found error."""
        return cls(message=str(error))
