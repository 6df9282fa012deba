#!/usr/bin/env python3
"""Print the server's ``explain`` of the support look-ups (``make explain``).

Seeds ``EXPLAIN_LISTINGS`` (default 2,000) demo listings into database ``explain`` when it
holds fewer, then explains the exact queries ``lookupByNumber`` and ``searchListings`` send.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory_svc.config import Env, Settings
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import open_storage


async def main() -> None:
    count = int(os.environ.get("EXPLAIN_LISTINGS", "2000"))
    keys = Path(os.environ.get("DIRECTORY_KEYS_DIR") or tempfile.mkdtemp(prefix="explain-"))
    init_keys(keys)
    settings = Settings(mongodb_uri=os.environ["MONGODB_URI"], keys_dir=keys,
                        db_name="explain", env=Env.TEST)  # fmt: skip
    storage = await open_storage(settings)
    if await storage.listings.count() < count:
        await seed_listings(storage.listings, count, seed=3)
    target = list(demo_listings(count, seed=3))[count // 2]
    codec = storage.listings.codec
    db = storage.client["explain"]
    queries = {
        "lookupByNumber": {"find": "listings",
                           "filter": {"idx.num": codec.number_index(target.numbers[0].e164)},
                           "projection": {"history": 0}},
        "searchListings": {"find": "listings",
                           "filter": {"idx.sn": codec.surname_index(target.surname),
                                      "geo.insee": target.address.insee_code},
                           "projection": {"history": 0}, "sort": {"_id": 1}, "limit": 21},
    }  # fmt: skip
    build = await db.command("buildInfo")
    ferret = any("ferretdb" in str(key).lower() for key in build)
    print(f"# server {build.get('version')} ({'FerretDB' if ferret else 'MongoDB'})")
    indexes = sorted(await storage.listings._col.index_information())
    print(f"# {count:,} listings; indexes: {', '.join(indexes)}")
    for name, command in queries.items():
        plan = await db.command("explain", command, verbosity="executionStats")
        shown = {k: plan[k] for k in ("queryPlanner", "executionStats", "filterPushdown",
                                      "sortPushdown", "limitPushdown") if k in plan}  # fmt: skip
        print(f"\n## {name}\n")
        print(json.dumps(shown, indent=2, default=str))
    await storage.close()


if __name__ == "__main__":
    asyncio.run(main())
