"""Load generation for ``make bench``: child-process servers and timed concurrent calls."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from directory_svc.api.trusted import TrustedDocuments
from directory_svc.config import OPERATIONS_DIR

HERE = Path(__file__).resolve().parent
DOCS = TrustedDocuments.load(OPERATIONS_DIR)
Call = Callable[[aiohttp.ClientSession, int], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One child-process server (see bench/servers.py), ready when started."""

    def __init__(self, mode: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.idle: tuple[float, int] = (0.0, 0)
        self.background = 0.0
        # The service logs one line per request: to a file, never to a pipe nobody reads
        # (a full pipe blocks the server).
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{mode}-", suffix=".log")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "servers.py"), mode],
            env={**env, "DIRECTORY_PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    async def snapshot(self) -> tuple[float, int]:
        """(CPU seconds of the server process so far, database commands it sent so far).

        The scrape is counted first, then the CPU read: two snapshots bracket exactly one
        scrape, whose cost ``idle_cost`` measures."""
        async with aiohttp.ClientSession() as s, s.get(f"{self.url}/metrics") as r:
            text = await r.text()
        commands = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("directory_db_commands_total{")
        )
        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system, int(commands)

    async def idle_cost(self) -> tuple[float, int]:
        """What one snapshot costs the server (CPU seconds, commands): the least of five."""
        costs = []
        for _ in range(5):
            a = await self.snapshot()
            b = await self.snapshot()
            costs.append((b[0] - a[0], b[1] - a[1]))
        return min(c[0] for c in costs), min(c[1] for c in costs)

    async def idle_rate(self, seconds: float = 5.0) -> float:
        """CPU seconds per second the server spends doing nothing for anyone (the driver's
        monitors and periodic tasks): subtracted from a measurement's CPU per its length."""
        a = await self.snapshot()
        await asyncio.sleep(seconds)
        b = await self.snapshot()
        return max(0.0, (b[0] - a[0] - self.idle[0]) / seconds)

    async def __aenter__(self) -> Server:
        async with aiohttp.ClientSession() as s:
            for _ in range(300):
                try:
                    async with s.get(f"{self.url}/readyz") as r:
                        if r.status == 200:
                            self.idle = await self.idle_cost()
                            self.background = await self.idle_rate()
                            return self
                except aiohttp.ClientError:
                    pass
                if self.proc.poll() is not None:
                    err = Path(self.log.name).read_text(errors="replace")
                    raise RuntimeError(f"bench server exited: {err[-500:]}")
                await asyncio.sleep(0.1)
        raise RuntimeError("bench server did not become ready")

    async def __aexit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def summary(latencies: list[float], seconds: float, errors: int) -> dict[str, float]:
    """Requests per second and latency percentiles (ms)."""
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return {
        "rps": len(latencies) / seconds if seconds else 0.0,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "requests": len(latencies),
        "errors": errors,
    }


async def load(
    call: Call, clients: int, total: int, warmup: int = 10, meter: Server | None = None
) -> dict[str, float]:
    """``total`` calls spread over ``clients`` concurrent workers (after a warm-up).

    With ``meter``: the server's CPU milliseconds and database commands per call too."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        for n in range(warmup):
            await call(session, n)
        queue = iter(range(total))

        async def worker() -> None:
            nonlocal errors
            for n in queue:
                start = time.perf_counter()
                try:
                    await call(session, n)
                except Exception:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)

        before = await meter.snapshot() if meter else (0.0, 0)
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - start
        after = await meter.snapshot() if meter else (0.0, 0)
    result = summary(latencies, elapsed, errors)
    if meter is not None:
        idle_cpu, idle_commands = meter.idle
        calls = max(1, len(latencies) + errors)
        busy = after[0] - before[0] - idle_cpu - meter.background * elapsed
        result["cpu_ms"] = max(0.0, busy) * 1000 / calls
        result["commands"] = max(0, after[1] - before[1] - idle_commands) / calls
    return result


async def post_graphql(
    session: aiohttp.ClientSession, url: str, name: str, variables: dict[str, Any], bearer: str
) -> dict[str, Any]:
    """Send a trusted operation; raise on anything but a data answer."""
    body = {"query": DOCS.by_name(name).text, "operationName": name, "variables": variables}
    headers = {"Authorization": f"Bearer {bearer}"}
    async with session.post(f"{url}/graphql", json=body, headers=headers) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{name}: HTTP {resp.status}")
        data: dict[str, Any] = await resp.json()
    if data.get("errors"):
        raise RuntimeError(f"{name}: {data['errors'][0]['message']}")
    return data["data"]
