#!/usr/bin/env python3
"""``make bench``: feed-export figures next to their baselines, measured in one run.

Started by ``make bench`` with MONGODB_URI pointing at a throw-away FerretDB. Writes
``bench/results.json`` and ``docs/performance.md``. Sizes: BENCH_LISTINGS (default 200,000)
and BENCH_SMALL (default 50,000) listings, in two databases.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymongo

from bench.api import api_figures
from bench.report import results_path, write_report
from directory_svc.config import Env, Settings
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services import listings as listing_service
from directory_svc.services.publishers import add_publisher
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import Storage, open_storage
from exporters.pipeline import DELTA_OVERLAP

BIN = Path(sys.executable).parent / "directory-svc"


def step(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


async def seeded(settings: Settings, count: int) -> Storage:
    storage = await open_storage(settings)
    have = await storage.listings.count()
    if have < count:
        step(f"seeding {count:,} listings into {settings.db_name} (once)")
        done = have

        def progress(n: int) -> None:
            nonlocal done
            done += n
            if done % 20_000 < n:
                step(f"  {done:,}/{count:,}")

        await seed_listings(storage.listings, count, seed=7, progress=progress)
        # A delta re-reads what was written up to DELTA_OVERLAP before the last run's scan
        # (a write in flight then is caught next time). Seeding just before the full export
        # would put the whole directory in the delta's window: wait it out, as a directory
        # that was not bulk-written a minute before its full export is.
        step(f"waiting {DELTA_OVERLAP.total_seconds():.0f} s: the seed leaves the delta window")
        await asyncio.sleep(DELTA_OVERLAP.total_seconds() + 1)
    if await storage.publishers.get("bench") is None:
        await add_publisher(
            storage.publishers,
            Publisher(PublisherProfile("bench", PublisherKind.DIRECTORY), "Bench"),
        )
    return storage


def count_documents(batch: bytes) -> int:
    """How many BSON documents a raw batch holds (walks the length prefixes only)."""
    position = count = 0
    while position < len(batch):
        position += int.from_bytes(batch[position : position + 4], "little")
        count += 1
    return count


async def raw_scan(storage: Storage) -> tuple[int, float, float]:
    """Baseline: every document of the collection as raw BSON batches, no decoding.
    Returns (documents, wall seconds, CPU seconds of this process)."""
    col = storage.client[storage.listings._col.database.name]["listings"]
    start, cpu = time.perf_counter(), time.process_time()
    total = 0
    async for batch in col.find_raw_batches({}, batch_size=1000):
        total += count_documents(batch)
    return total, time.perf_counter() - start, time.process_time() - cpu


COST = re.compile(r"cost: (\d+) database commands, ([0-9.]+) s CPU")


def export_process(env: dict[str, str], out: Path, full: bool) -> dict[str, Any]:
    """One export in a child process: wall time, that child's peak RSS and CPU seconds, and
    the database commands it reported."""
    args = [str(BIN), "export", "run", "--publisher", "bench", "--out", str(out)]
    if full:
        args.append("--full")
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        output = proc.stdout.read().decode() if proc.stdout else ""
        errors.seek(0)
        err = errors.read().decode(errors="replace")
        if status != 0:
            raise RuntimeError(f"export failed: {output}\n{err[-1500:]}")
    cost = COST.search(err)
    return {
        "seconds": elapsed,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "commands": int(cost.group(1)) if cost else None,
        "output": output.strip(),
    }


async def change_some(storage: Storage, count: int, fraction: float) -> tuple[int, int]:
    """Flip the no-marketing choice of ``fraction`` of the listings (8 writers at a time).

    A writer that gets a database error retries with the same change id, as a client does
    (the service makes that retry idempotent). Returns (changes, retries).
    """
    ids = [item.id for item in demo_listings(count, seed=7)][:: int(1 / fraction)]
    at = datetime.now(UTC)
    todo = iter(enumerate(ids))
    retries = 0
    done: list[int] = []

    async def writer() -> None:
        nonlocal retries
        for n, listing_id in todo:
            change = Change(
                f"bench-{at.timestamp()}-{n}", Provenance(Actor.SUBSCRIBER, Channel.WEB, at, "b")
            )
            current = None  # a retry sends the version first read, as a client does
            for attempt in range(5):
                try:
                    if current is None:
                        current = await listing_service.get_listing(storage.listings, listing_id)
                    choices = replace(
                        current.choices, no_marketing=not current.choices.no_marketing
                    )
                    await listing_service.change_listing(
                        storage.listings, listing_id, current.version,
                        lambda item, c=choices: replace(item, choices=c), change,
                    )  # fmt: skip
                    done.append(n)
                    if len(done) % 100 == 0:
                        step(f"  {len(done):,}/{len(ids):,} changes")
                    break
                except pymongo.errors.PyMongoError:
                    if attempt == 4:
                        raise
                    retries += 1
                    await asyncio.sleep(1)

    with pymongo.timeout(6 * 3600):
        await asyncio.gather(*(writer() for _ in range(8)))
    return len(ids), retries


async def engine_note(uri: str) -> str:
    """Which engine the figures measured: BENCH_ENGINE_NOTE, else what the server says."""
    if os.environ.get("BENCH_ENGINE_NOTE"):
        return os.environ["BENCH_ENGINE_NOTE"]
    client: pymongo.AsyncMongoClient[dict[str, Any]] = pymongo.AsyncMongoClient(uri)
    try:
        info = await client.admin.command("buildInfo")
    finally:
        await client.close()
    if "ferretdbVersion" in info:
        return f"FerretDB {info['ferretdbVersion']} (no index use: every query scans)"
    return f"MongoDB-compatible server {info.get('version', '?')}"


async def main() -> int:
    big = int(os.environ.get("BENCH_LISTINGS", "200000"))
    small = int(os.environ.get("BENCH_SMALL", "50000"))
    api_count = int(os.environ.get("BENCH_API_LISTINGS", "2000"))
    mixed_s = float(os.environ.get("BENCH_MIXED_SECONDS", "60"))
    only = os.environ.get("BENCH_ONLY", "")  # "api" or "export": the other figures are kept
    # 0.5% by default; each change costs three `_id` scans on FerretDB (one to two hours
    # for 1,000 changes at 200,000 listings), so a shorter run may ask for fewer.
    delta_fraction = float(os.environ.get("BENCH_DELTA_FRACTION", "0.005"))
    uri = os.environ["MONGODB_URI"]
    note = await engine_note(uri)
    engine = os.environ.get("BENCH_ENGINE") or ("ferretdb" if "FerretDB" in note else "mongodb")
    results_file = results_path(engine)
    keys = ROOT / ".data" / "bench-keys"  # stable: its databases refuse other keys
    init_keys(keys)
    kept = json.loads(results_file.read_text())["figures"] if only and results_file.exists() else {}
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "database": note,
        "engine": engine,
        # With a planner a delta reads what changed only (issue 23); FerretDB scans.
        "delta_target": 0.10 if engine == "ferretdb" else 0.05,
        "listings": big,
        "figures": {},
    }
    figures = results["figures"]

    def save() -> None:
        """Write what is measured so far: a run stopped later keeps it."""
        results_file.write_text(json.dumps(results, indent=2) + "\n")

    if only == "export":
        figures["api"] = kept.get("api")
    else:
        figures["api"] = await api_figures(uri, keys, api_count, step, mixed_s)
        if not only:  # kept even if the export half fails later
            save()
    if only == "api":
        for name, value in kept.items():
            figures.setdefault(name, value)
        results["listings"] = max(
            (int(k.split("_")[-1]) for k in kept if k.startswith("full_export_")), default=0
        )
    for count in (small, big) if only != "api" else ():
        settings = Settings(mongodb_uri=uri, keys_dir=keys, db_name=f"bench_{count}", env=Env.TEST)
        storage = await seeded(settings, count)
        env = {**os.environ, "DIRECTORY_KEYS_DIR": str(keys), "DIRECTORY_DB": settings.db_name}
        out = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
        step(f"bare raw scan of {count:,} documents")
        raw_scan_rounds = [await raw_scan(storage) for _ in range(3)]
        docs, scan_s, scan_cpu = min(raw_scan_rounds, key=lambda r: r[1])
        step(f"full export of {count:,} listings (child process)")
        rounds = 2 if count < 100_000 else 1
        full = min(
            (export_process(env, out, True) for _ in range(rounds)), key=lambda r: r["seconds"]
        )
        figures[f"full_export_{count}"] = {
            "records_per_s": count / full["seconds"],
            "baseline_raw_scan_per_s": docs / scan_s,
            "ratio": (count / full["seconds"]) / (docs / scan_s),
            "target_ratio": 0.5,
            "peak_rss_mb": full["peak_rss_mb"],
            "seconds": full["seconds"],
            "cpu_ms_per_record": full["cpu_s"] * 1000 / count,
            "raw_scan_cpu_ms_per_record": scan_cpu * 1000 / max(1, docs),
            "commands": full["commands"],
        }
        if f"full_export_{small}" in figures and f"full_export_{big}" in figures:
            small_rss = figures[f"full_export_{small}"]["peak_rss_mb"]
            big_rss = figures[f"full_export_{big}"]["peak_rss_mb"]
            figures["memory_growth"] = {"ratio": big_rss / small_rss, "target_max": 1.2}
        save()
        if count == big:
            step(f"changing {delta_fraction:.2%} of {count:,} listings")
            changed, retries = await change_some(storage, count, delta_fraction)
            step("delta export")
            delta = export_process(env, out, False)
            figures["delta_export"] = {
                "changed": changed,
                "fraction": delta_fraction,
                "change_retries": retries,
                "seconds": delta["seconds"],
                "full_seconds": full["seconds"],
                "time_ratio": delta["seconds"] / full["seconds"],
                "cpu_s": delta["cpu_s"],
                "full_cpu_s": full["cpu_s"],
                "cpu_ratio": delta["cpu_s"] / full["cpu_s"],
                "commands": delta["commands"],
                "commands_per_change": (delta["commands"] or 0) / max(1, changed),
                "target_ratio_max": results["delta_target"],
                "output": delta["output"],
            }
        await storage.close()
    save()
    write_report(results)
    step(f"wrote {results_file.relative_to(ROOT)} and docs/performance.md")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--report-only"]:
        write_report()
        sys.exit(0)
    sys.exit(asyncio.run(main()))
