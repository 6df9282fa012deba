"""The public edge of ``/graphql``: trusted documents and the mutation rate limit.

Decided once per request, before strawberry parses anything:

- a persisted-document id (``extensions.persistedQuery.sha256Hash``) is replaced by its
  trusted text; an unknown id is refused;
- customer tokens may send trusted documents only;
- mutations are rate-limited per token subject and per client address (429, Retry-After).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from functools import lru_cache

from aiohttp import web
from graphql.utilities import get_operation_ast
from strawberry.http import GraphQLRequestData

from directory_svc.api.trusted import TrustedDocuments, document_id
from directory_svc.domain.access import Principal, Role
from graphql import GraphQLError, OperationType, parse

MAX_TOKENS = 2000
"""Largest document accepted (graphql-core parser tokens)."""


class RateLimiter:
    """Token buckets: ``per_minute`` actions per key, refilled continuously."""

    MAX_KEYS = 100_000

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """Use one action; 0 when allowed, else the seconds to wait before the next."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
            self._buckets.clear()  # bounded memory; a full reset only forgives
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0


def _refuse(status: type[web.HTTPException], code: str, message: str) -> web.HTTPException:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    return status(text=body, content_type="application/json")


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

    def __init__(self, trusted: TrustedDocuments, mutations_per_minute: int) -> None:
        self.trusted = trusted
        self.limiter = RateLimiter(mutations_per_minute)

    def admit(
        self, request: web.Request, who: Principal | None, data: GraphQLRequestData
    ) -> GraphQLRequestData:
        """The request data to execute; raises an HTTP error response when refused."""
        doc = None
        persisted = (data.extensions or {}).get("persistedQuery")
        if isinstance(persisted, dict):
            digest = persisted.get("sha256Hash")
            doc = self.trusted.by_id(f"sha256:{digest}") if isinstance(digest, str) else None
            if doc is None:
                raise _refuse(
                    web.HTTPBadRequest, "PERSISTED_QUERY_NOT_FOUND",
                    "Unknown document id: send the id of an operation of graphql/operations.",
                )  # fmt: skip
            if data.query and document_id(data.query) != doc.id:
                raise _refuse(
                    web.HTTPBadRequest, "DOCUMENT_ID_MISMATCH",
                    "The query text does not match the document id.",
                )  # fmt: skip
            data = replace(data, query=doc.text)
        elif data.query is not None:
            doc = self.trusted.by_text(data.query)
        if doc is None and who is not None and who.role is Role.CUSTOMER:
            raise _refuse(
                web.HTTPBadRequest, "UNTRUSTED_DOCUMENT",
                "With a customer token only the operations of graphql/operations are accepted.",
            )  # fmt: skip
        kind: OperationType | None = doc.kind if doc is not None else None
        if doc is None and data.query:
            kind = _kind(data.query, data.operation_name)
        if kind is OperationType.MUTATION and who is not None:
            self._limit(request, who)
        return data

    def _limit(self, request: web.Request, who: Principal) -> None:
        wait = max(
            self.limiter.take(f"token:{who.subject}"),
            self.limiter.take(f"addr:{request.remote or '-'}"),
        )
        if wait > 0:
            error = _refuse(
                web.HTTPTooManyRequests, "RATE_LIMITED",
                "Too many changes in a short time; try again in a moment.",
            )  # fmt: skip
            error.headers["Retry-After"] = str(max(1, round(wait + 0.5)))
            raise error
