"""The typed per-request context handed to every resolver."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from directory_svc.config import Settings
from directory_svc.domain.access import Principal
from directory_svc.observability import Metrics
from directory_svc.services.dependencies import Services

PRINCIPAL = web.RequestKey("principal", Principal)
"""The authenticated caller of a request (set by the auth middleware)."""

OPERATION = web.RequestKey("graphql_operation", str)
"""The (bounded) GraphQL operation label of a request, for the request log line."""


@dataclass(frozen=True, slots=True)
class Resources:
    """What the process creates at start-up and closes at shutdown."""

    settings: Settings
    metrics: Metrics
    services: Services


@dataclass(slots=True)
class Context:
    """One request's context: the shared resources plus the request itself."""

    request: web.Request
    resources: Resources
    principal: Principal | None


RESOURCES = web.AppKey("resources", Resources)
METRICS = web.AppKey("metrics", Metrics)
"""The process's resources, on the application."""
