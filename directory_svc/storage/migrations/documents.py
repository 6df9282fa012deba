"""Versions on publisher registrations saved before they were versioned (listings carried
their version and history head from the first stored format on, 4bc9686)."""

from __future__ import annotations

from collections import Counter

from directory_svc.storage.migrations.context import MigrationContext


async def publisher_versions(ctx: MigrationContext) -> Counter[str]:
    """Publishers saved before registrations were versioned: version 1 (a versioned save
    filters on ``v``, which such a document never matched)."""
    col, counts = ctx.db["publishers"], Counter[str]()
    unversioned = {"v": {"$exists": False}}
    if ctx.dry_run:
        counts["publishers versioned"] = await col.count_documents(unversioned)
        return counts
    while ids := [d["_id"] async for d in col.find(unversioned, {"_id": 1}).limit(ctx.batch)]:
        done = await col.update_many({"_id": {"$in": ids}, **unversioned}, {"$set": {"v": 1}})
        counts["publishers versioned"] += done.modified_count
        ctx.progress(len(ids))
    return counts
