#!/usr/bin/env python3
"""Profile each hot API path in process and count its database commands by name.

    python bench/profile_api.py [OUT_DIR]      (MONGODB_URI from the environment)

For each operation: ``CALLS`` calls through the whole app (aiohttp test server, real HTTP on
loopback, the same middlewares as ``serve``), database commands per call by command name
(the app's own counter, ``directory_db_commands_total``), and a pyinstrument profile saved
as ``OUT_DIR/<operation>.txt`` (wall time, awaits charged to their caller) and a cProfile
table as ``OUT_DIR/<operation>.cprofile.txt`` (CPU, by own time); OUT_DIR defaults to
``bench/profiles``. The client runs in the same process, so its frames appear too (under
``bench``/``aiohttp.client``); the service's are under ``directory_svc``, ``strawberry``.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp.test_utils import TestClient, TestServer
from pyinstrument import Profiler

from bench.calls import Calls
from directory_svc.api.auth import create_dev_keys
from directory_svc.app import METRICS, create_app
from directory_svc.config import Env, Settings
from directory_svc.services.seed import seed_listings
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import open_storage

CALLS = int(os.environ.get("PROFILE_CALLS", "60"))
LISTINGS = int(os.environ.get("PROFILE_LISTINGS", "300"))


def commands(client: TestClient) -> Counter[str]:
    """The app's database commands so far, by name."""
    counter: Counter[str] = Counter()
    for metric in client.server.app[METRICS].db_commands.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                counter[sample.labels["command"]] += int(sample.value)
    return counter


async def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    keys = ROOT / ".data" / "bench-keys"  # stable: its databases refuse other keys
    init_keys(keys)
    create_dev_keys(keys)
    settings = Settings(
        mongodb_uri=os.environ["MONGODB_URI"],
        keys_dir=keys,
        db_name=f"profile_api_{LISTINGS}",
        env=Env.DEV,
        jwks=str(keys / "dev-jwks.json"),
        lookups_per_hour=10**6,
        staff_reads_per_hour=10**7,
        mutations_per_minute=10**6,
        db_timeout_s=60,
        feeds_dir=Path(tempfile.mkdtemp(prefix="profile-feeds-")),
    )
    storage = await open_storage(settings)
    if await storage.listings.count() < LISTINGS:
        await seed_listings(storage.listings, LISTINGS, seed=3, accounts=storage.accounts)
    await storage.close()
    calls = Calls(settings, LISTINGS)
    await calls.prepare_feed()
    summary: dict[str, Any] = {}
    async with TestClient(TestServer(create_app(settings))) as client:
        base = str(client.make_url(""))
        for name in calls.names:
            call = calls.call(name, base)
            for n in range(5):  # warm-up: caches, connections, first-use imports
                await call(client.session, n)
            before = commands(client)
            with Profiler(async_mode="enabled", interval=0.0005) as profiler:
                for n in range(CALLS):
                    await call(client.session, 1000 + n)
            cpu = cProfile.Profile()
            cpu.enable()
            for n in range(CALLS):
                await call(client.session, 2000 + n)
            cpu.disable()
            text = io.StringIO()
            stats = pstats.Stats(cpu, stream=text).sort_stats("tottime")
            stats.print_stats(45)
            (out / f"{name}.cprofile.txt").write_text(text.getvalue())
            counted = commands(client) - before  # both loops
            per_call = {k: round(v / (2 * CALLS), 2) for k, v in counted.items() if v}
            summary[name] = {"commands_per_call": per_call, "total": sum(per_call.values())}
            (out / f"{name}.txt").write_text(profiler.output_text(color=False, show_all=False))
            print(f"{name:>16}: {sum(per_call.values()):5.2f} commands/call {per_call}")
    (out / "commands.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]) if sys.argv[1:] else ROOT / "bench/profiles")))
