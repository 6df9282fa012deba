"""The typed per-request context handed to every resolver."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from directory_svc.config import Settings
from directory_svc.domain.access import Principal
from directory_svc.observability import Metrics
from directory_svc.services.rate_limits import RateLimits
from directory_svc.storage.access_log import AccessLog
from directory_svc.storage.accounts import AccountRepository
from directory_svc.storage.data_queries import DataQueries
from directory_svc.storage.export_runs import ExportRuns
from directory_svc.storage.feeds import PublisherRepository
from directory_svc.storage.ledger import FeedLedger
from directory_svc.storage.listings import ListingRepository

PRINCIPAL = web.RequestKey("principal", Principal)
"""The authenticated caller of a request (set by the auth middleware)."""

OPERATION = web.RequestKey("graphql_operation", str)
"""The (bounded) GraphQL operation label of a request, for the request log line."""


@dataclass(frozen=True, slots=True)
class Resources:
    """What the process creates at start-up and closes at shutdown."""

    settings: Settings
    metrics: Metrics
    listings: ListingRepository
    accounts: AccountRepository
    publishers: PublisherRepository
    runs: ExportRuns
    ledger: FeedLedger
    access_log: AccessLog
    data_queries: DataQueries
    limits: RateLimits


@dataclass(slots=True)
class Context:
    """One request's context: the shared resources plus the request itself."""

    request: web.Request
    resources: Resources
    principal: Principal | None


RESOURCES = web.AppKey("resources", Resources)
"""The process's resources, on the application."""
