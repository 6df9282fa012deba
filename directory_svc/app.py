"""The aiohttp application factory: routes, middleware, and the resources' life cycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from strawberry.aiohttp.views import GraphQLView
from strawberry.http import GraphQLRequestData

from directory_svc.api.auth import TokenVerifier, Unauthenticated
from directory_svc.api.context import OPERATION, PRINCIPAL, Context, Resources
from directory_svc.api.edge import Admission
from directory_svc.api.feed_downloads import (
    DOWNLOADS,
    FEEDS_DIR,
    RUNS,
    get_feed_file,
    list_feeds,
)
from directory_svc.api.pages import add_routes, is_page
from directory_svc.api.schema import build_schema
from directory_svc.api.trusted import TrustedDocuments
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.observability import Metrics, monotonic_ms
from directory_svc.services.publishers import may_act
from directory_svc.services.support import LookupLimiter
from directory_svc.storage.client import DatabaseUnreachable, ping
from directory_svc.storage.setup import Storage, open_storage

log = logging.getLogger("directory_svc.http")
UNAVAILABLE = "DATABASE_UNAVAILABLE"

RESOURCES = web.AppKey("resources", Resources)
CLIENT = web.AppKey("client", AsyncMongoClient)
SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)

VERIFIER = web.AppKey("verifier", TokenVerifier)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_BODY_BYTES = 1024 * 1024
READY_TIMEOUT_S = 2.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DirectoryGraphQLView(GraphQLView[Context, None]):
    """strawberry's aiohttp view with our typed context and the edge's admission."""

    def __init__(self, admission: Admission | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.admission = admission

    async def execute_operation(
        self,
        request: web.Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: web.Response,
    ) -> Any:
        if self.admission is not None and isinstance(request_data, GraphQLRequestData):
            request_data = self.admission.admit(request, context.principal, request_data)
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    async def get_context(self, request: web.Request, response: web.StreamResponse) -> Context:
        return Context(
            request=request,
            response=response,
            resources=request.app[RESOURCES],
            principal=request.get(PRINCIPAL),  # None only for the dev GraphiQL page
        )


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API call needs a valid bearer token (401 with a reason otherwise).

    Open: health, readiness, metrics, and in dev the GraphiQL page (GET /graphql).
    """
    graphiql = (
        request.method == "GET"
        and request.path == "/graphql"
        and not request.query_string
        and request.app[SETTINGS].is_dev
    )
    if request.path in OPEN_PATHS or graphiql or is_page(request.path):
        return await handler(request)
    try:
        principal = request.app[VERIFIER].verify(request.headers.get("Authorization"))
    except Unauthenticated as exc:
        return web.json_response(
            {"errors": [{"message": exc.reason, "extensions": {"code": "UNAUTHENTICATED"}}]},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="directory-svc"'},
        )
    if principal.role is Role.PUBLISHER:
        # A disabled (or unknown) publisher is cut off at once, whatever its token says.
        message, code, status = "this publisher is not active", "FORBIDDEN", 403
        try:
            active = await may_act(request.app[RESOURCES].publishers, principal.publisher_id)
        except PyMongoError:
            active = False
            message, code, status = "The directory database is unavailable.", UNAVAILABLE, 503
        if not active:
            return web.json_response(
                {"errors": [{"message": message, "extensions": {"code": code}}]}, status=status
            )
    request[PRINCIPAL] = principal
    return await handler(request)


@web.middleware
async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One JSON line per request: method, path, status, latency (no query string, no body)."""
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "latency_ms": monotonic_ms(start),
                "operation": request.get(OPERATION),
            },
        )


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers on every response; API answers carry personal data, so nothing is cached."""
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    if request.path in ("/graphql", "/feeds") or request.path.startswith("/feeds/"):
        response.headers["Cache-Control"] = "no-store"
    return response


async def healthz(request: web.Request) -> web.Response:
    """The process is alive (says nothing about the database)."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the database answers a ping quickly; else 503 with the reason."""
    try:
        await ping(request.app[CLIENT], min(READY_TIMEOUT_S, request.app[SETTINGS].db_timeout_s))
    except DatabaseUnreachable as exc:
        request.app[METRICS].db_errors.labels("readiness").inc()
        return web.json_response(
            {"status": "unavailable", "reason": f"database unreachable ({exc})"}, status=503
        )
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this process's metrics."""
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _database(app: web.Application) -> AsyncIterator[None]:
    """Open the client at start-up (fail fast if the database is unreachable); close it last."""
    settings = app[SETTINGS]
    storage = await open_storage(settings)
    log.info("versioned writes", extra={"adapter": storage.listings.versioned.name})
    try:
        app[VERIFIER] = TokenVerifier(settings.tokens)
    except BaseException:
        await storage.close()
        raise
    try:
        app[CLIENT] = storage.client
        app[RUNS], app[DOWNLOADS] = storage.runs, storage.downloads
        app[RESOURCES] = Resources(
            settings=settings,
            metrics=app[METRICS],
            listings=storage.listings,
            accounts=storage.accounts,
            publishers=storage.publishers,
            runs=storage.runs,
            ledger=storage.ledger,
            access_log=storage.access_log,
            data_queries=storage.data_queries,
            limiter=LookupLimiter(settings.lookups_per_hour),
        )
        scheduler = _start_scheduler(settings, storage)
        yield
        if scheduler is not None:
            scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scheduler
    finally:
        await storage.close()


def _start_scheduler(settings: Settings, storage: Storage) -> asyncio.Task[None] | None:
    """The export scheduler, when ``DIRECTORY_SCHEDULER=on``."""
    if not settings.scheduler or settings.keys_dir is None:
        return None
    from directory_svc.services.scheduler import Scheduler

    scheduler = Scheduler(storage, settings.keys_dir, settings.feeds_dir)
    return asyncio.create_task(scheduler.run_forever(settings.scheduler_tick_s))


def create_app(settings: Settings, edge_checks: bool = True) -> web.Application:
    """A new application; nothing connects until it starts.

    ``edge_checks=False`` drops trusted documents, rate and query limits: only for
    ``make bench`` to measure what they cost.
    """
    app = web.Application(
        middlewares=[request_log, security_headers, authenticate], client_max_size=MAX_BODY_BYTES
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    trusted = TrustedDocuments.load(settings.operations_dir)
    view = DirectoryGraphQLView(
        Admission(trusted, settings.mutations_per_minute) if edge_checks else None,
        schema=build_schema(introspection=settings.is_dev, limits=edge_checks),
        graphql_ide="graphiql" if settings.is_dev else None,
        allow_queries_via_get=False,
        subscription_protocols=(),
    )
    app.router.add_route("*", "/graphql", view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app[FEEDS_DIR] = settings.feeds_dir
    app.router.add_get("/feeds", list_feeds)
    app.router.add_get("/feeds/{folder}/{file}", get_feed_file)
    add_routes(app, settings, trusted)
    app.cleanup_ctx.append(_database)
    return app
