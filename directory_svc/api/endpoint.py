"""``/graphql``: read the request (``api.http``), admit it (``api.edge``), execute, answer.

POST only; in dev a GET without a query string serves GraphiQL (strawberry's page). The
answer is ``application/json`` or, when asked for, ``application/graphql-response+json``
with the GraphQL-over-HTTP status codes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from directory_svc.api.context import PRINCIPAL, RESOURCES, Context
from directory_svc.api.edge import Admission
from directory_svc.api.http import (
    JSON,
    BadRequest,
    is_request_error,
    read_request,
    refusal,
    response_media,
    status_of,
)
from directory_svc.api.schema import DirectorySchema

ALLOWED = (OperationType.QUERY, OperationType.MUTATION)


class GraphQLEndpoint:
    """The handler of ``/graphql``."""

    def __init__(
        self, schema: DirectorySchema, admission: Admission | None, *, graphiql: bool
    ) -> None:
        self.schema = schema
        self.admission = admission
        self.ide: GraphQLView[Any, None] | None = None
        if graphiql:
            self.ide = GraphQLView(schema=schema, graphql_ide="graphiql")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request (every refusal is GraphQL-shaped JSON)."""
        if request.method == "GET" and self.ide is not None and not request.query_string:
            return await self.ide(request)
        media = JSON
        try:
            media = response_media(request.headers.get("Accept"))
            if request.method != "POST":
                refused = BadRequest("METHOD_NOT_ALLOWED", "send GraphQL requests by POST", 405)
                refused.headers["Allow"] = "POST"
                raise refused
            if request.content_type != JSON:
                raise BadRequest("UNSUPPORTED_MEDIA_TYPE", f"send the body as {JSON}", 415)
            data = read_request(await request.read())
            resources = request.app[RESOURCES]
            principal = request.get(PRINCIPAL)
            if self.admission is not None:
                data = await self.admission.admit(
                    request, principal, data, resources.services.limits
                )
        except BadRequest as exc:
            return refusal(exc, media)
        context = Context(request=request, resources=resources, principal=principal)
        try:
            result = await self.schema.execute(
                data.query,
                variable_values=data.variables,
                context_value=context,
                operation_name=data.operation_name,
                allowed_operation_types=ALLOWED,
                operation_extensions=data.extensions,
            )
        except CannotGetOperationTypeError:
            return refusal(BadRequest("BAD_REQUEST", "no such operation in the document"), media)
        except InvalidOperationTypeError:
            return refusal(BadRequest("BAD_REQUEST", "only queries and mutations"), media)
        except MissingQueryError:
            return refusal(BadRequest("BAD_REQUEST", "no GraphQL query in the request"), media)
        body = process_result(result)
        if is_request_error(result):
            body.pop("data", None)  # nothing was executed: no `data` entry (GraphQL over HTTP)
        return web.json_response(body, status=status_of(result, media), content_type=media)
