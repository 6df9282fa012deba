"""The GraphQL schema: built once at start-up, shared by every request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import strawberry
from pymongo.errors import PyMongoError
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.types import ExecutionContext

from directory_svc.api.changes import ChangeMutations
from directory_svc.api.context import OPERATION, Context
from directory_svc.api.data_queries import DataQueryMutations
from directory_svc.api.errors import PublicErrors, log_errors
from directory_svc.api.publishers import PublisherMutations
from directory_svc.api.queries import Query
from directory_svc.api.support import OneLookupPerRequest
from graphql import GraphQLError


class OperationMetrics(SchemaExtension):
    """Counts each operation and its latency, labelled by (bounded) operation name."""

    def on_operation(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        ctx = self.execution_context
        context = ctx.context
        if not isinstance(context, Context):
            return
        metrics = context.resources.metrics
        label = metrics.operation_label(ctx.operation_name)
        result = ctx.result
        failed = bool(ctx.pre_execution_errors) or bool(getattr(result, "errors", None))
        metrics.graphql_requests.labels(label, "error" if failed else "ok").inc()
        metrics.graphql_latency.labels(label).observe(time.perf_counter() - start)
        context.request[OPERATION] = label


class DirectorySchema(strawberry.Schema):
    """Our schema: errors are logged without personal data and database errors are counted."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)
        context: Any = execution_context.context if execution_context else None
        if isinstance(context, Context):
            for error in errors:
                if isinstance(error.original_error, PyMongoError):
                    kind = type(error.original_error).__name__
                    context.resources.metrics.db_errors.labels(kind).inc()


class ServiceRules(AddValidationRules):
    """Our extra validation rules, the same list for every request (keeps caches effective)."""

    def __init__(self) -> None:
        super().__init__([OneLookupPerRequest])


@strawberry.type
class Mutation(PublisherMutations, ChangeMutations, DataQueryMutations):
    """Every mutation of the service."""


def build_schema() -> DirectorySchema:
    """The service's schema with its extensions."""
    return DirectorySchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            OperationMetrics,
            ServiceRules,
            PublicErrors,
        ],
    )
