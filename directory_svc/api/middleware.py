"""Middleware every response goes through: the request log line, the security headers and
error shape, and the per-request database deadline."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pymongo
from aiohttp import web
from aiohttp.typedefs import Middleware
from pymongo.errors import PyMongoError

from directory_svc.api.context import METRICS, OPERATION
from directory_svc.api.errors import DATABASE_UNAVAILABLE
from directory_svc.api.http import error_body
from directory_svc.observability import monotonic_ms

log = logging.getLogger("directory_svc.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SERVER = "directory-svc"
"""The ``Server`` header: no library or language version."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Location")


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


def _from_exception(exc: web.HTTPException) -> web.StreamResponse:
    """An HTTP error raised anywhere becomes a JSON error response (headers kept)."""
    if exc.status < 400:
        response = web.Response(status=exc.status, reason=exc.reason)
    else:
        code = exc.reason.upper().replace(" ", "_").replace("-", "_")
        response = web.json_response(error_body(code, exc.reason), status=exc.status)
    for name in _KEPT_HEADERS:
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers on every response, errors included; API answers carry personal data, so
    nothing is cached. No exception leaves as aiohttp's plain-text 500."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = _from_exception(exc)
    except PyMongoError as exc:
        # Any stage before or after execution (authentication, the mutation rate limit,
        # the access log) that meets a failing database answers as the resolvers do.
        request.app[METRICS].db_errors.labels(type(exc).__name__).inc()
        response = web.json_response(
            error_body("DATABASE_UNAVAILABLE", DATABASE_UNAVAILABLE),
            status=503,
            headers={"Retry-After": "1"},
        )
    except Exception as exc:
        log.error("unhandled error", extra={"error_type": type(exc).__name__})
        response = web.json_response(error_body("INTERNAL", "Unexpected error."), status=500)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Server"] = SERVER
    if request.path in ("/graphql", "/feeds") or request.path.startswith("/feeds/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def db_deadline(seconds: float) -> Middleware:
    """Every database call of a request runs under one deadline of ``seconds`` from the
    request's start (PyMongo's ``timeout()``): a frozen database fails the request in time."""

    @web.middleware
    async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        with pymongo.timeout(seconds):
            return await handler(request)

    return deadline


class LoadShedder:
    """At most ``limit`` requests at the database at once, ``queue`` more waiting; beyond,
    a request is refused at once (503, ``Retry-After``) instead of timing out late."""

    def __init__(
        self,
        limit: int,
        queue: int,
        refused: Callable[[], None],
        queued: Callable[[], None] | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._waiting = 0
        self._queue = queue
        self._refused = refused
        self._queued = queued

    def middleware(self, paths: tuple[str, ...]) -> Middleware:
        """The middleware that applies it to requests whose path starts with ``paths``."""

        @web.middleware
        async def shed(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not request.path.startswith(paths):
                return await handler(request)
            if self._slots.locked() and self._waiting >= self._queue:
                self._refused()
                return web.json_response(
                    error_body("OVERLOADED", "The service is busy; retry in a moment."),
                    status=503,
                    headers={"Retry-After": "1"},
                )
            self._waiting += 1
            try:
                if self._slots.locked() and self._queued:
                    self._queued()
                await self._slots.acquire()
            finally:
                self._waiting -= 1
            try:
                return await handler(request)
            finally:
                self._slots.release()

        return shed
