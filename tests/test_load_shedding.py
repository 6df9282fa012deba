"""Issue 14: beyond the requests a process lets at the database and its short queue, a
request is refused at once with 503 and Retry-After, and counted."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from directory_svc.api.middleware import LoadShedder


async def test_beyond_the_limit_and_the_queue_requests_are_refused_at_once(
    aiohttp_client: Any,
) -> None:
    release = asyncio.Event()
    entered = asyncio.Semaphore(0)
    refused: list[int] = []

    async def slow(request: web.Request) -> web.Response:
        entered.release()
        await release.wait()
        return web.json_response({"ok": True})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    waiting = asyncio.Event()
    shedder = LoadShedder(limit=2, queue=1, refused=lambda: refused.append(1), queued=waiting.set)
    app = web.Application(middlewares=[shedder.middleware(("/graphql",))])
    app.router.add_get("/graphql", slow)
    app.router.add_get("/healthz", health)
    client = await aiohttp_client(app)

    running = [asyncio.create_task(client.get("/graphql")) for _ in range(2)]
    for _ in range(2):
        await entered.acquire()  # both are inside, holding the two slots
    queued = asyncio.create_task(client.get("/graphql"))
    await waiting.wait()  # the third waits in the queue
    over = await client.get("/graphql")  # the fourth: no slot, no room in the queue
    assert over.status == 503
    assert over.headers["Retry-After"] == "1"
    assert (await over.json())["errors"][0]["extensions"]["code"] == "OVERLOADED"
    assert refused == [1]
    assert (await client.get("/healthz")).status == 200  # other paths are not limited

    release.set()
    for done in [*running, queued]:
        assert (await done).status == 200
    assert refused == [1]


async def test_shed_requests_are_counted_in_metrics(api: Any) -> None:
    text = await (await api.get("/metrics")).text()
    assert "directory_shed_requests_total 0.0" in text
