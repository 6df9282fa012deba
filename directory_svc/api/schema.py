"""The GraphQL schema: built once at start-up, shared by every request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import strawberry
from pymongo.errors import PyMongoError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.types import ExecutionContext

from directory_svc.api.changes import ChangeMutations
from directory_svc.api.context import OPERATION, Context
from directory_svc.api.data_queries import DataQueryMutations
from directory_svc.api.edge import MAX_TOKENS
from directory_svc.api.errors import PublicErrors, log_errors
from directory_svc.api.publishers import PublisherMutations
from directory_svc.api.queries import Query
from directory_svc.api.subscriber import ContentMutations
from directory_svc.api.support import OneLookupPerRequest
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule


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


MAX_DEPTH = 10
MAX_ALIASES = 15
CACHE_SIZE = 512

# Built once: strawberry builds extensions per request, and a rule class created per request
# makes every validation-cache key new (strawberry issue 4635).
DepthLimit = depth_validator(MAX_DEPTH, None)
AliasLimit = alias_validator(MAX_ALIASES)
RULES: tuple[type[ASTValidationRule], ...] = (OneLookupPerRequest, DepthLimit, AliasLimit)
RULES_NO_INTROSPECTION = (*RULES, NoSchemaIntrospectionCustomRule)


class ServiceRules(AddValidationRules):
    """Our extra rules (depth, aliases, one look-up), the same classes for every request."""

    def __init__(self) -> None:
        super().__init__(list(RULES))


class ServiceRulesNoIntrospection(AddValidationRules):
    """The same rules, and no introspection (outside dev)."""

    def __init__(self) -> None:
        super().__init__(list(RULES_NO_INTROSPECTION))


@strawberry.type
class Mutation(PublisherMutations, ChangeMutations, ContentMutations, DataQueryMutations):
    """Every mutation of the service."""


def build_schema(introspection: bool = True, limits: bool = True) -> DirectorySchema:
    """The service's schema with its extensions (``limits=False`` only to measure them)."""
    rules: list[type[SchemaExtension]] = []
    if limits:
        rules = [ServiceRules if introspection else ServiceRulesNoIntrospection]
    return DirectorySchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            lambda: ParserCache(CACHE_SIZE),
            lambda: MaxTokensLimiter(MAX_TOKENS),
            lambda: ValidationCache(CACHE_SIZE),
            OperationMetrics,
            *rules,
            PublicErrors,
        ],
    )
