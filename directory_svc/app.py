"""The aiohttp application factory: routes, middleware, and the resources' life cycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from directory_svc import clock
from directory_svc.api.auth import TokenVerifier, Unauthenticated
from directory_svc.api.console_pages import add_console_routes, is_console
from directory_svc.api.context import METRICS, PRINCIPAL, RESOURCES, Resources
from directory_svc.api.edge import Admission
from directory_svc.api.endpoint import GraphQLEndpoint
from directory_svc.api.feed_downloads import (
    FEEDS_DIR,
    get_feed_file,
    list_feeds,
    post_ack,
)
from directory_svc.api.middleware import (
    LoadShedder,
    db_deadline,
    request_log,
    security_headers,
)
from directory_svc.api.pages import add_routes, is_page
from directory_svc.api.schema import build_schema
from directory_svc.api.trusted import TrustedDocuments
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.observability import Metrics
from directory_svc.services.dependencies import Services
from directory_svc.services.propagation import oldest_pending_ages
from directory_svc.services.publishers import may_act
from directory_svc.storage.client import DatabaseUnreachable, ping
from directory_svc.storage.command_counter import CommandCounter
from directory_svc.storage.setup import Storage, open_storage

log = logging.getLogger("directory_svc.http")
UNAVAILABLE = "DATABASE_UNAVAILABLE"

CLIENT = web.AppKey("client", AsyncMongoClient)
SETTINGS = web.AppKey("settings", Settings)

VERIFIER = web.AppKey("verifier", TokenVerifier)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_BODY_BYTES = 1024 * 1024
READY_TIMEOUT_S = 2.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    if request.path in OPEN_PATHS or graphiql or is_page(request.path) or is_console(request.path):
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
            active = await may_act(
                request.app[RESOURCES].services.publishers, principal.publisher_id
            )
        except PyMongoError:
            active = False
            message, code, status = "The directory database is unavailable.", UNAVAILABLE, 503
        if not active:
            return web.json_response(
                {"errors": [{"message": message, "extensions": {"code": code}}]}, status=status
            )
    request[PRINCIPAL] = principal
    return await handler(request)


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
    indexes = request.app[INDEXES]
    if not indexes.ready:
        reason = (
            f"index build failed ({indexes.error}); see the log"
            if indexes.error
            else f"indexes are being built ({indexes.current or 'starting'})"
        )
        return web.json_response({"status": "starting", "reason": reason}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of this process's metrics (the unacknowledged opt-out
    ages are read from the database at each scrape)."""
    await _refresh_optout_ages(request.app)
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _refresh_optout_ages(app: web.Application) -> None:
    """Set the oldest unacknowledged opt-out age of every active publisher."""
    services, gauge = app[RESOURCES].services, app[METRICS].unacknowledged_optout_age
    try:
        ages = await oldest_pending_ages(
            publishers=services.publishers, runs=services.runs, acks=services.acks, now=clock.now()
        )
    except PyMongoError:
        app[METRICS].db_errors.labels("metrics").inc()
        return
    gauge.clear()
    for publisher_id, age in ages.items():
        gauge.labels(publisher_id).set(age)


@dataclass
class IndexBuild:
    """Where the start-up index build stands (``/readyz`` says it)."""

    ready: bool = False
    current: str | None = None
    """The collection whose indexes are being built."""
    error: str | None = None
    """Why the build failed (the error type), if it did."""


INDEXES = web.AppKey("indexes", IndexBuild)


async def _build_indexes(storage: Storage, settings: Settings, build: IndexBuild) -> None:
    """Create the indexes in the background, under their own deadline, with progress in
    the log; requests are served meanwhile (every index is a non-unique speed-up)."""

    def step(name: str) -> None:
        build.current = name
        log.info("building indexes", extra={"reason": name})

    try:
        await storage.ensure_indexes(deadline_s=settings.index_timeout_s, progress=step)
    except PyMongoError as exc:
        build.error = type(exc).__name__
        log.error("index build failed", extra={"error_type": type(exc).__name__})
        return
    build.ready, build.current = True, None
    log.info("indexes ready")


async def _database(app: web.Application) -> AsyncIterator[None]:
    """Open the client at start-up (fail fast if the database is unreachable); close it last."""
    settings = app[SETTINGS]
    counter = CommandCounter(app[METRICS].count_db_command)
    storage = await open_storage(settings, indexes=False, listeners=[counter])
    log.info("versioned writes", extra={"adapter": storage.listings.versioned.name})
    indexes = asyncio.create_task(_build_indexes(storage, settings, app[INDEXES]))
    try:
        app[VERIFIER] = TokenVerifier(settings.tokens)
    except BaseException:
        await storage.close()
        raise
    try:
        app[CLIENT] = storage.client
        app[RESOURCES] = Resources(
            settings=settings, metrics=app[METRICS], services=Services.of(storage, settings)
        )
        scheduler = _start_scheduler(settings, storage)
        yield
        if scheduler is not None:
            scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scheduler
    finally:
        indexes.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await indexes
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
    metrics_ = Metrics()
    shedder = LoadShedder(settings.max_in_flight, settings.max_queued, metrics_.shed.inc)
    app = web.Application(
        middlewares=[
            request_log,
            security_headers,
            shedder.middleware(("/graphql", "/feeds")),
            db_deadline(settings.db_timeout_s),
            authenticate,
        ],
        client_max_size=MAX_BODY_BYTES,
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics_
    app[INDEXES] = IndexBuild()
    trusted = TrustedDocuments.load(settings.operations_dir)
    endpoint = GraphQLEndpoint(
        build_schema(introspection=settings.is_dev, limits=edge_checks),
        Admission(trusted, settings) if edge_checks else None,
        graphiql=settings.is_dev,
    )
    app.router.add_route("*", "/graphql", endpoint.handle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app[FEEDS_DIR] = settings.feeds_dir
    app.router.add_get("/feeds", list_feeds)
    app.router.add_get("/feeds/{folder}/{file}", get_feed_file)
    app.router.add_post("/feeds/{folder}/ack", post_ack)
    add_routes(app, settings, trusted)
    add_console_routes(app, settings, trusted)
    app.cleanup_ctx.append(_database)
    return app
