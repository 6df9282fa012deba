#!/usr/bin/env python3
"""Profile one delta export and count its database commands by name.

    python bench/profile_delta.py [OUT_DIR]     (MONGODB_URI from the environment)

Seeds PROFILE_LISTINGS (default 10,000) listings, runs a full export, changes
PROFILE_CHANGES (default 50) of them, then profiles the delta (pyinstrument, awaits charged
to their caller) and a second delta with cProfile; writes ``delta.txt``,
``delta.cprofile.txt`` and ``delta-commands.json`` in OUT_DIR (default bench/profiles).
After seeding it waits out the delta's overlap window (``PROFILE_OVERLAP=keep`` does not:
then the delta re-reads the whole fresh seed, which is what made the bench's delta cost
more than a full export).
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
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyinstrument import Profiler

from directory_svc.config import Env, Settings
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services import listings as listing_service
from directory_svc.services.publishers import add_publisher, export_now
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.command_counter import CommandCounter
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import Storage, open_storage
from exporters.pipeline import DELTA_OVERLAP

LISTINGS = int(os.environ.get("PROFILE_LISTINGS", "10000"))
CHANGES = int(os.environ.get("PROFILE_CHANGES", "50"))


async def change(storage: Storage, ids: list[str], tag: str) -> None:
    at = datetime.now(UTC)
    for n, listing_id in enumerate(ids):
        current = await listing_service.get_listing(storage.listings, listing_id)
        choices = replace(current.choices, no_marketing=not current.choices.no_marketing)
        await listing_service.change_listing(
            storage.listings,
            listing_id,
            current.version,
            lambda item, c=choices: replace(item, choices=c),
            Change(f"{tag}-{n}", Provenance(Actor.SUBSCRIBER, Channel.WEB, at, "b")),
        )


async def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    keys = ROOT / ".data" / "bench-keys"  # stable: its databases refuse other keys
    init_keys(keys)
    feeds = Path(tempfile.mkdtemp(prefix="profile-feeds-"))
    settings = Settings(
        mongodb_uri=os.environ["MONGODB_URI"],
        keys_dir=keys,
        db_name=f"profile_delta_{LISTINGS}",
        env=Env.TEST,
        db_timeout_s=60,
    )
    counter = CommandCounter()
    storage = await open_storage(settings, listeners=[counter])
    try:
        if await storage.listings.count() < LISTINGS:
            await seed_listings(storage.listings, LISTINGS, seed=7)
            if os.environ.get("PROFILE_OVERLAP", "wait") == "wait":  # see bench/run.py
                await asyncio.sleep(DELTA_OVERLAP.total_seconds() + 1)
        if await storage.publishers.get("bench") is None:
            profile = PublisherProfile("bench", PublisherKind.DIRECTORY)
            await add_publisher(storage.publishers, Publisher(profile, "Bench"))
        await export_now(storage, keys, "bench", feeds, True)
        ids = [i.id for i in demo_listings(LISTINGS, seed=7)][:: max(1, LISTINGS // CHANGES)]
        await change(storage, ids[:CHANGES], f"p{time.time_ns()}")
        before = counter.counts.copy()
        cpu = time.process_time()
        with Profiler(async_mode="enabled") as profiler:
            result = await export_now(storage, keys, "bench", feeds, False)
        used = time.process_time() - cpu
        commands = dict(counter.counts - before)
        (out / "delta.txt").write_text(profiler.output_text(color=False, show_all=False))
        summary = {"changes": CHANGES, "listings": LISTINGS, "cpu_s": used}
        summary |= {"commands": commands, "counts": dict(result.counts)}
        (out / "delta-commands.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps(summary))
        await change(storage, ids[:CHANGES], f"q{time.time_ns()}")
        stats = cProfile.Profile()
        stats.enable()
        await export_now(storage, keys, "bench", feeds, False)
        stats.disable()
        text = io.StringIO()
        pstats.Stats(stats, stream=text).sort_stats("tottime").print_stats(40)
        (out / "delta.cprofile.txt").write_text(text.getvalue())
    finally:
        await storage.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]) if sys.argv[1:] else ROOT / "bench/profiles")))
