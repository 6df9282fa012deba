#!/usr/bin/env python3
"""Print the server's ``explain`` of every hot query (``make explain``).

Seeds ``EXPLAIN_LISTINGS`` (default 2,000) demo listings into database ``explain`` when it
holds fewer, then explains the exact queries the service sends: the support look-ups,
``me``'s read, delta selection, homonymy groups, key rotation, archived history. Against
``MONGODB_URI`` when it is set (``make explain`` starts a throw-away FerretDB otherwise).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory_svc.config import Env, Settings
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.hot_queries import hot_queries
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import open_storage


async def main() -> None:
    count = int(os.environ.get("EXPLAIN_LISTINGS", "2000"))
    # Stable keys: the database outlives a run on a server that keeps its data, and it
    # refuses keys that are not its own.
    keys = Path(os.environ.get("DIRECTORY_KEYS_DIR") or ROOT / ".data" / "bench-keys")
    init_keys(keys)
    settings = Settings(mongodb_uri=os.environ["MONGODB_URI"], keys_dir=keys,
                        db_name="explain", env=Env.TEST)  # fmt: skip
    storage = await open_storage(settings)
    if await storage.listings.count() < count:
        await seed_listings(storage.listings, count, seed=3)
    target = list(demo_listings(count, seed=3))[count // 2]
    db = storage.client["explain"]
    newest = await db["listings"].find_one({}, {"updated_at": 1}, sort=[("updated_at", -1)])
    assert newest is not None
    queries = hot_queries(storage.listings.codec, target, newest["updated_at"])
    build = await db.command("buildInfo")
    ferret = any("ferretdb" in str(key).lower() for key in build)
    print(f"# server {build.get('version')} ({'FerretDB' if ferret else 'MongoDB'})")
    indexes = sorted(await storage.listings._col.index_information())
    print(f"# {count:,} listings; indexes: {', '.join(indexes)}")
    for query in queries:
        name = f"{query.name} ({', '.join(query.indexes)})"
        try:
            plan = await db.command("explain", query.command, verbosity="executionStats")
        except Exception as exc:  # an engine that cannot explain one query: say so, go on
            print(f"\n## {name}\n\nexplain refused: {type(exc).__name__}")
            continue
        shown = {k: plan[k] for k in ("queryPlanner", "executionStats", "filterPushdown",
                                      "sortPushdown", "limitPushdown") if k in plan}  # fmt: skip
        print(f"\n## {name}\n")
        print(json.dumps(shown, indent=2, default=str))
    await storage.close()


if __name__ == "__main__":
    asyncio.run(main())
