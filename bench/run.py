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

from bench.api import api_figures, report_lines
from directory_svc.config import Env, Settings
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services import listings as listing_service
from directory_svc.services.publishers import add_publisher
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import Storage, open_storage

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


async def raw_scan(storage: Storage) -> tuple[int, float]:
    """Baseline: every document of the collection as raw BSON batches, no decoding."""
    col = storage.client[storage.listings._col.database.name]["listings"]
    start = time.perf_counter()
    total = 0
    async for batch in col.find_raw_batches({}, batch_size=1000):
        total += count_documents(batch)
    return total, time.perf_counter() - start


def export_process(env: dict[str, str], out: Path, full: bool) -> dict[str, Any]:
    """One export in a child process: wall time and that child's peak RSS."""
    args = [str(BIN), "export", "run", "--publisher", "bench", "--out", str(out)]
    if full:
        args.append("--full")
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    output = proc.stdout.read().decode() if proc.stdout else ""
    if status != 0:
        raise RuntimeError(f"export failed: {output}")
    return {"seconds": elapsed, "peak_rss_mb": usage.ru_maxrss / 1024, "output": output.strip()}


async def change_some(storage: Storage, count: int, fraction: float) -> int:
    ids = [item.id for item in demo_listings(count, seed=7)][:: int(1 / fraction)]
    at = datetime.now(UTC)
    for n, listing_id in enumerate(ids):
        current = await listing_service.get_listing(storage.listings, listing_id)
        choices = replace(current.choices, no_marketing=not current.choices.no_marketing)
        await listing_service.change_listing(
            storage.listings, listing_id, current.version,
            lambda item, c=choices: replace(item, choices=c),
            Change(f"bench-{at.timestamp()}-{n}",
                   Provenance(Actor.SUBSCRIBER, Channel.WEB, at, "b")),
        )  # fmt: skip
    return len(ids)


async def main() -> int:
    big = int(os.environ.get("BENCH_LISTINGS", "200000"))
    small = int(os.environ.get("BENCH_SMALL", "50000"))
    api_count = int(os.environ.get("BENCH_API_LISTINGS", "2000"))
    mixed_s = float(os.environ.get("BENCH_MIXED_SECONDS", "60"))
    only = os.environ.get("BENCH_ONLY", "")  # "api" or "export": the other figures are kept
    uri = os.environ["MONGODB_URI"]
    keys = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    init_keys(keys)
    previous = ROOT / "bench" / "results.json"
    kept = json.loads(previous.read_text())["figures"] if only and previous.exists() else {}
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "database": "FerretDB 1.24.2 (SQLite) on loopback",
        "listings": big,
        "figures": {},
    }
    figures = results["figures"]
    if only == "export":
        figures["api"] = kept.get("api")
    else:
        figures["api"] = await api_figures(uri, keys, api_count, step, mixed_s)
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
        docs, scan_s = min(raw_scan_rounds, key=lambda r: r[1])
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
        }
        if count == big:
            step(f"changing 0.5% of {count:,} listings")
            changed = await change_some(storage, count, 0.005)
            step("delta export")
            delta = export_process(env, out, False)
            figures["delta_export"] = {
                "changed": changed,
                "seconds": delta["seconds"],
                "full_seconds": full["seconds"],
                "time_ratio": delta["seconds"] / full["seconds"],
                "target_ratio_max": 0.10,
                "output": delta["output"],
            }
        await storage.close()
    if only != "api":
        small_rss = figures[f"full_export_{small}"]["peak_rss_mb"]
        big_rss = figures[f"full_export_{big}"]["peak_rss_mb"]
        figures["memory_growth"] = {"ratio": big_rss / small_rss, "target_max": 1.2}
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_report(results)
    step("wrote bench/results.json and docs/performance.md")
    return 0


def write_report(results: dict[str, Any]) -> None:
    f = results["figures"]
    sizes = sorted(int(k.split("_")[-1]) for k in f if k.startswith("full_export_"))
    lines = [
        "# Performance",
        "",
        f"Measured by `make bench` on {results['date']} — {results['machine']};",
        f"{results['database']}. Every figure is next to its baseline from the same run",
        "(absolute numbers on a shared 2-core machine are noise; ratios are what we track).",
        "Numbers come from `bench/results.json`.",
        "",
        "| figure | value | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    api = f.get("api")
    if api:
        lines[-2:-2] = [
            f"API figures on {api['listings']:,} listings (see below why not more).",
            "",
        ]
    lines += report_lines(api)
    for size in sizes:
        fig = f[f"full_export_{size}"]
        lines.append(
            f"| full export, {size:,} listings (records/s) | {fig['records_per_s']:,.0f} | "
            f"raw scan {fig['baseline_raw_scan_per_s']:,.0f}/s | {fig['ratio']:.2f} | ≥ 0.5 | "
            f"{'yes' if fig['ratio'] >= 0.5 else 'no'} |"
        )
    if "memory_growth" in f and len(sizes) == 2:
        small, big = sizes
        fs, fb, m = f[f"full_export_{small}"], f[f"full_export_{big}"], f["memory_growth"]
        lines.append(
            f"| peak memory of a full export (MB) | {fb['peak_rss_mb']:.0f} at {big:,} | "
            f"{fs['peak_rss_mb']:.0f} at {small:,} | {m['ratio']:.2f} | ≤ 1.2 | "
            f"{'yes' if m['ratio'] <= 1.2 else 'no'} |"
        )
    if "delta_export" in f:
        d = f["delta_export"]
        lines.append(
            f"| delta export, {d['changed']:,} changed (0.5%) (s) | {d['seconds']:.1f} | "
            f"full {d['full_seconds']:.1f} s | {d['time_ratio']:.3f} | ≤ 0.10 | "
            f"{'yes' if d['time_ratio'] <= 0.10 else 'no'} |"
        )
    lines += [
        "",
        "## What limits these numbers (profiled)",
        "",
        "- **FerretDB 1.24 on SQLite uses no index.** `explain` shows `SCAN` for every query;",
        "  only `_id` equality is pushed down to SQL (0.27 s at 20,000 listings) and any other",
        "  filter is evaluated in Go after reading the whole collection (3–4 s at 20,000). A",
        "  delta therefore costs a few full scans whatever the number of changes; on MongoDB",
        "  the same queries use the indexes created at start-up.",
        "- **Profile of the slowest path** (the full export; `bench/profile_export.py`,",
        "  pyinstrument in async mode, 5,000 listings): 7.1 s wall, of which 0.5 s CPU in our",
        "  process (decrypting and decoding 0.14 s, projection and CSV the rest); the rest is",
        "  waiting for FerretDB: the two aggregations that find colliding homonym keys (3.2 s,",
        "  each a scan that decodes every document), the query for the members of those groups",
        "  (1.6 s) and the stream itself (1.9 s). The bare raw scan takes 1.1 s.",
        "- Changed because of it: group members are no longer fetched by a separate query;",
        "  listings whose keys collide are set aside during the stream and projected at the",
        "  end, once their group is complete (memory holds only those); the two aggregations",
        "  run side by side. Earlier profiles led to one cursor for the whole scan instead of",
        "  keyset pages (9× faster at 5,000), the delta down to two listing and two ledger",
        "  queries, and version updates filtered on `_id` only under the version claim",
        "  (3.2 s → 0.3 s per change at 20,000).",
        "- What is left is three scans where MongoDB would use the `idx.hi`/`idx.hn` indexes",
        "  for the aggregations (covered) and one scan for the stream: the export's ratio to",
        "  a bare scan cannot pass about 0.33 on FerretDB.",
        "- **Look-ups, `me` and the mixed load are bound by the same scans.** A look-up by",
        "  number is one `idx.num` query: on FerretDB it reads and decodes every listing",
        "  document (about 0.2 ms each, history included), so the bare handler itself manages",
        "  only a few look-ups per second and its latency grows with the directory size; the",
        "  full stack (token, GraphQL, decryption, access-log insert) stays close to it, which",
        "  is what the ratio shows. The p99 target (25 ms at 16 clients) needs the index:",
        "  `_id` equality is the one query FerretDB pushes to SQL, and even that is a `SCAN`",
        "  (22 ms at 20,000 documents against 216 ms for another field). This is why the API",
        "  figures use `BENCH_API_LISTINGS` (default 2,000) listings: at 200,000 one look-up",
        "  takes seconds on FerretDB, on MongoDB it is an index seek.",
        "- `me` also reads the account's listings, their homonym groups (for the preview) and",
        "  the access log: three more scans. The edge checks (trusted document, limits,",
        "  rate limit) cost well under the noise of those scans.",
        "",
        "The default run (`BENCH_LISTINGS=200000`) takes about an hour on FerretDB: each of",
        "the 1,000 changes of the delta step costs `_id` scans of 200,000 documents.",
        "",
    ]
    (ROOT / "docs" / "performance.md").write_text("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:] == ["--report-only"]:
        write_report(json.loads((ROOT / "bench" / "results.json").read_text()))
        sys.exit(0)
    sys.exit(asyncio.run(main()))
