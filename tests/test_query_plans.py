"""Every hot query is an index scan on the index docs/indexes.md names (issue 23).

Runs on an engine with a query planner (MongoDB, DocumentDB): a query that loses its
index fails here. FerretDB 1.24 scans every query, so there it is skipped, saying so.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.hot_queries import hot_queries, scanned_indexes
from directory_svc.storage.setup import Storage

LISTINGS = 2000
"""Enough rows for a cost-based planner to prefer an index to a scan."""
INDEX_BUILD_S = 300
"""Engines that build indexes in the background (DocumentDB) get this long to finish."""


async def test_every_hot_query_scans_its_index(storage: Storage) -> None:
    build = await storage.db.command("buildInfo")
    if "ferretdbVersion" in build:
        pytest.skip("FerretDB 1.24 uses no secondary index (docs/indexes.md)")
    await seed_listings(storage.listings, LISTINGS, seed=3)
    target = list(demo_listings(LISTINGS, seed=3))[LISTINGS // 2]
    newest = await storage.db["listings"].find_one({}, {"updated_at": 1}, sort=[("updated_at", -1)])
    assert newest is not None
    queries = hot_queries(storage.listings.codec, target, newest["updated_at"])
    deadline = time.monotonic() + INDEX_BUILD_S
    while True:
        plans = {q.name: await storage.db.command("explain", q.command) for q in queries}
        wrong = {
            q.name: sorted(scanned_indexes(plans[q.name]))
            for q in queries
            if scanned_indexes(plans[q.name]) != set(q.indexes)
        }
        if not wrong or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)  # the engine is still building an index in the background
    assert wrong == {}, f"queries not served by their index (scanned instead): {wrong}"
