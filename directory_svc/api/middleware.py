"""Middleware every response goes through: the request log line, the security headers and
error shape, and the per-request database deadline."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import pymongo
from aiohttp import web
from aiohttp.typedefs import Middleware

from directory_svc.api.context import OPERATION
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
