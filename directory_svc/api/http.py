"""GraphQL over HTTP: what a POST body must be, which media type answers, which status.

Every refusal is a GraphQL-shaped JSON error (``{"errors": [{message, extensions.code}]}``)
with a 4xx status; nothing a client sends can reach the resolvers malformed or produce a 500.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
MAX_JSON_DEPTH = 32
"""Deepest nesting accepted in ``variables`` and ``extensions`` (objects and arrays)."""


class BadRequest(Exception):
    """A request the endpoint refuses before GraphQL sees it."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.headers: dict[str, str] = {}


def error_body(code: str, message: str) -> dict[str, Any]:
    """The GraphQL-shaped body of a refusal."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def refusal(exc: BadRequest, media: str = JSON) -> web.Response:
    """The response to a refused request."""
    return web.json_response(
        error_body(exc.code, exc.message),
        status=exc.status,
        content_type=media,
        headers=exc.headers,
    )


def response_media(accept: str | None) -> str:
    """The media type of the answer: ``application/graphql-response+json`` when the client
    prefers it, else ``application/json`` (also for no or a wildcard ``Accept``)."""
    best, best_q = None, 0.0
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media in (GRAPHQL_RESPONSE, JSON) and q > best_q:
            best, best_q = media, q
    if (
        best is None
        and accept
        and not any(m.split(";")[0].strip() in ("*/*", "application/*") for m in accept.split(","))
    ):
        raise BadRequest("NOT_ACCEPTABLE", f"answers are {GRAPHQL_RESPONSE} or {JSON}", 406)
    return best or JSON


def _depth(value: object) -> int:
    """Nesting depth of a JSON value, without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            children = item.values() if isinstance(item, dict) else item
            todo.extend((child, depth + 1) for child in children)
    return deepest


def read_request(body: bytes) -> GraphQLRequestData:
    """The request data of a POST body, or ``BadRequest`` saying what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, absurd nesting
        raise BadRequest("BAD_REQUEST", "the body is not a JSON document") from None
    if not isinstance(data, dict):
        raise BadRequest("BAD_REQUEST", "the body must be a JSON object (no batches)")
    query, name = data.get("query"), data.get("operationName")
    variables, extensions = data.get("variables"), data.get("extensions")
    if not isinstance(query, str | None) or not isinstance(name, str | None):
        raise BadRequest("BAD_REQUEST", "`query` and `operationName` must be strings")
    if not isinstance(variables, dict | None) or not isinstance(extensions, dict | None):
        raise BadRequest("BAD_REQUEST", "`variables` and `extensions` must be objects")
    if _depth(variables) > MAX_JSON_DEPTH or _depth(extensions) > MAX_JSON_DEPTH:
        raise BadRequest("BAD_REQUEST", f"values nest deeper than {MAX_JSON_DEPTH} levels")
    if query is None and not (extensions or {}).get("persistedQuery"):
        raise BadRequest("BAD_REQUEST", "no `query` and no persisted document id")
    return GraphQLRequestData(
        query=query, variables=variables, operation_name=name, extensions=extensions
    )


def is_request_error(result: ExecutionResult) -> bool:
    """A request error: parse, validation or variables (no data and no error with a path)."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(not e.path for e in errors)


def status_of(result: ExecutionResult, media: str) -> int:
    """200, except a request error answered as ``application/graphql-response+json``,
    which is 400."""
    return 400 if media == GRAPHQL_RESPONSE and is_request_error(result) else 200
