"""Creating, checking and closing the database client."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import PyMongoError, ServerSelectionTimeoutError

from directory_svc.config import Settings


class DatabaseUnreachable(Exception):
    """The database did not answer; the message names the (masked) URI, never a password."""


def mask_uri(uri: str) -> str:
    """The URI with any password replaced by ``***``, safe to log or print."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def create_client(
    settings: Settings, listeners: Sequence[monitoring._EventListener] = ()
) -> AsyncMongoClient[dict[str, Any]]:
    """A client tuned for fast failure: the service must say it is not ready, not hang."""
    timeout_ms = int(settings.db_timeout_s * 1000)
    return AsyncMongoClient(
        settings.mongodb_uri,
        event_listeners=list(listeners),
        appname="directory-svc",
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 4, 20_000),
    )


async def ping(client: AsyncMongoClient[Any], timeout_s: float) -> None:
    """Raise ``DatabaseUnreachable`` unless the server answers ``ping`` within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            await client.admin.command("ping")
    except (TimeoutError, ServerSelectionTimeoutError):
        raise DatabaseUnreachable("no server answered in time; is it running?") from None
    except PyMongoError as exc:
        raise DatabaseUnreachable(type(exc).__name__) from None
