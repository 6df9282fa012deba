"""The public edge of ``/graphql``: trusted documents and the mutation rate limit.

Decided once per request, before strawberry parses anything:

- a persisted-document id (``extensions.persistedQuery.sha256Hash``) is replaced by its
  trusted text; an unknown id is refused;
- customer tokens may send trusted documents only;
- mutations are rate-limited per token subject, and per client address when the request
  came through a trusted proxy (429, Retry-After), counted in the database
  (``services.rate_limits``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from aiohttp import web
from graphql.utilities import get_operation_ast
from strawberry.http import GraphQLRequestData

from directory_svc.api.http import BadRequest
from directory_svc.api.trusted import TrustedDocuments, document_id
from directory_svc.config import Settings
from directory_svc.domain.access import Principal, Role
from directory_svc.services.rate_limits import RateLimited, RateLimits
from graphql import GraphQLError, OperationType, parse

MAX_TOKENS = 2000
"""Largest document accepted (graphql-core parser tokens)."""


def _refuse(code: str, message: str, status: int = 400) -> BadRequest:
    return BadRequest(code, message, status)


@lru_cache(maxsize=256)
def _kind(query: str, operation_name: str | None) -> OperationType | None:
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None  # strawberry reports the syntax error
    operation = get_operation_ast(document, operation_name)
    return operation.operation if operation else None


class Admission:
    """What the edge lets through (see the module docstring)."""

    def __init__(self, trusted: TrustedDocuments, settings: Settings) -> None:
        self.trusted = trusted
        self.settings = settings

    async def admit(
        self,
        request: web.Request,
        who: Principal | None,
        data: GraphQLRequestData,
        limits: RateLimits,
    ) -> GraphQLRequestData:
        """The request data to execute; raises ``BadRequest`` when refused."""
        doc = None
        persisted = (data.extensions or {}).get("persistedQuery")
        if isinstance(persisted, dict):
            digest = persisted.get("sha256Hash")
            doc = self.trusted.by_id(f"sha256:{digest}") if isinstance(digest, str) else None
            if doc is None:
                raise _refuse(
                    "PERSISTED_QUERY_NOT_FOUND",
                    "Unknown document id: send the id of an operation of graphql/operations.",
                )
            if data.query and document_id(data.query) != doc.id:
                raise _refuse(
                    "DOCUMENT_ID_MISMATCH", "The query text does not match the document id."
                )
            data = replace(data, query=doc.text)
        elif data.query is not None:
            doc = self.trusted.by_text(data.query)
        if doc is None and who is not None and who.role is Role.CUSTOMER:
            raise _refuse(
                "UNTRUSTED_DOCUMENT",
                "With a customer token only the operations of graphql/operations are accepted.",
            )
        kind: OperationType | None = doc.kind if doc is not None else None
        if doc is None and data.query:
            kind = _kind(data.query, data.operation_name)
        if kind is OperationType.MUTATION and who is not None:
            address = self.settings.client_address(
                request.remote, request.headers.get("X-Forwarded-For")
            )
            try:
                await limits.take_mutation(subject=who.subject, address=address)
            except RateLimited as exc:
                refused = _refuse(
                    "RATE_LIMITED", "Too many changes in a short time; try again in a moment.", 429
                )
                refused.headers["Retry-After"] = str(exc.retry_after_s)
                raise refused from None
        return data
