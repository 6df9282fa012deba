"""What a client may learn from an error: expected messages pass, everything else is masked."""

from __future__ import annotations

import logging

from pymongo.errors import PyMongoError
from strawberry.extensions import MaskErrors

from directory_svc.domain.errors import DomainError
from graphql import GraphQLError

log = logging.getLogger("directory_svc.api")

DATABASE_UNAVAILABLE = "The directory database is unavailable. Please retry in a moment."
UNEXPECTED = "Unexpected error."


def _is_public(error: GraphQLError) -> bool:
    original = error.original_error
    # No original error: GraphQL syntax/validation errors, which only echo the query.
    # A GraphQLError raised on purpose (permission denied, input coercion) is public too.
    return original is None or isinstance(original, DomainError | GraphQLError)


class PublicErrors(MaskErrors):
    """Masks unexpected errors; a database outage gets its own clear, safe message."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda e: not _is_public(e))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        database = isinstance(error.original_error, PyMongoError)
        return GraphQLError(
            message=DATABASE_UNAVAILABLE if database else UNEXPECTED,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "DATABASE_UNAVAILABLE" if database else "INTERNAL"},
        )


def log_errors(errors: list[GraphQLError]) -> None:
    """Log errors by type and path only: messages may quote personal data."""
    for error in errors:
        original = error.original_error
        if original is None or isinstance(original, DomainError | GraphQLError):
            continue
        log.error(
            "resolver failed",
            extra={"error_type": type(original).__name__, "path": error.path or []},
        )
