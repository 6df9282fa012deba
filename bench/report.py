"""``docs/performance.md`` from ``bench/results.json``: figures, baselines, what limits them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _errors(fig: dict[str, Any]) -> str:
    """Failed requests of a measurement (database timeouts under load), when there were any."""
    return (
        f" ({fig['errors']} of {fig['errors'] + fig['requests']} failed)" if fig["errors"] else ""
    )


def report_lines(api: dict[str, Any] | None) -> list[str]:
    """Rows of the API figures for docs/performance.md."""
    if not api:
        return []
    rows = []
    for clients, fig in api["lookup"].items():
        f, b = fig["full"], fig["bare"]
        target, met = "≥ 0.5", fig["ratio"] >= 0.5
        if clients == "16":
            target, met = "≥ 0.5 and p99 ≤ 25 ms", met and f["p99_ms"] <= 25
        rows.append(
            f"| lookupByNumber, {clients} client(s) (req/s; p50/p99 ms) | {f['rps']:,.1f}; "
            f"{f['p50_ms']:.0f}/{f['p99_ms']:.0f}{_errors(f)} | bare handler {b['rps']:,.1f}; "
            f"{b['p50_ms']:.0f}/{b['p99_ms']:.0f}{_errors(b)} | {fig['ratio']:.2f} | {target} | "
            f"{'yes' if met and not f['errors'] else 'no'} |"
        )
    if "search" in api:
        fig = api["search"]
        f, b = fig["full"], fig["bare"]
        rows.append(
            f"| searchListings, 16 clients (req/s; p50/p99 ms) | {f['rps']:,.1f}; "
            f"{f['p50_ms']:.0f}/{f['p99_ms']:.0f} | bare handler {b['rps']:,.1f}; "
            f"{b['p50_ms']:.0f}/{b['p99_ms']:.0f} | {fig['ratio']:.2f} | (none set) | — |"
        )
    c = api["change"]
    rows.append(
        f"| preference change, {c['clients']} clients (writes/s) | {c['full']['rps']:,.0f} | "
        f"bare update_one {c['bare']['rps']:,.0f} | {c['ratio']:.2f} | ≥ 0.4 | "
        f"{'yes' if c['ratio'] >= 0.4 else 'no'} |"
    )
    m = api["me"]
    rows.append(
        f"| `me` with edge checks, 16 clients (req/s) | {m['checked']['rps']:,.1f} | "
        f"without checks {m['unchecked']['rps']:,.1f} | cost {m['cost']:.1%} | cost < 10% | "
        f"{'yes' if m['cost'] < 0.10 else 'no'} |"
    )
    x = api["mixed"]
    rows.append(
        f"| mixed load, 50 clients (req/s; p99 ms) | {x['rps']:,.1f}; {x['p99_ms']:.0f} | — | — | "
        f"0 errors, 0 lost updates | errors {x['errors']}, lost {x['lost_updates']} "
        f"({x['changes_acknowledged']} changes): "
        f"{'yes' if x['errors'] == 0 and x['lost_updates'] == 0 else 'no'} |"
    )
    return rows


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
        *([results["note"]] if results.get("note") else []),
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
        retried = (
            f", {d['change_retries']} retried after a database error"
            if d.get("change_retries")
            else ""
        )
        lines.append(
            f"| delta export, {d['changed']:,} changed ({d.get('fraction', 0.005):.2%}{retried}) "
            f"(s) | {d['seconds']:.1f} | "
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
        "  delta finds the listings changed since the last run, the ledger rows of those",
        "  entries (`_id` `$in`) and their homonymy groups (`$in` on the two keys) this way,",
        "  and FerretDB evaluates `$in` by walking the whole list for every document",
        '  (`internal/handler/common/filter.go`, `case "$in"`): the cost is the directory',
        "  size times the number of changes. With 1,000 changes at 200,000 listings the delta",
        "  took 3.3 times the full export (with 100 changes, in an earlier run, 1.07 times).",
        "  On MongoDB the same queries are index look-ups (`by_change_time`, `_id`,",
        "  `by_homonym_initial`, `by_homonym_name`) and the delta grows with the changes only.",
        "- **Profile of the slowest path** (the full export; `bench/profile_export.py`,",
        "  pyinstrument in async mode, 20,000 listings, after the changes below): 18.1 s wall,",
        "  2.2 s CPU in our process: decoding and decrypting the stream 1.0 s, projection, CSV",
        "  and keyed hashes 0.85 s, homonymy keys 0.33 s. The rest is waiting for FerretDB",
        "  (9.5 s in socket reads: the keys scan and the stream), plus the run's heartbeat",
        "  task asleep. The bare raw scan reads the same documents without decoding them.",
        "- Changed because of it. At 200,000 listings the export spent more than 19 minutes",
        "  before writing its first record: FerretDB's `$group` (used to find colliding",
        "  homonymy keys) compares each document with every group found so far",
        "  (`internal/handler/common/aggregations/stages/group.go`, `addOrAppend`), quadratic",
        "  in distinct keys, and holds every document. The keys now come from one projected",
        "  scan, counted in fixed memory by a Bloom filter (`storage/seen_twice.py`); the",
        "  stream no longer sorts by `_id` (FerretDB sorts in memory, reading the whole",
        "  collection before the first batch). A 50,000-listing export went from 98 s to",
        "  33–40 s, and 200,000 from over 20 minutes to 152–154 s. Earlier profiles led to",
        "  one cursor for the whole scan instead of keyset pages (9× faster at 5,000),",
        "  namesakes projected last instead of a second query for their groups, the delta",
        "  down to two listing and two ledger queries, and version updates filtered on `_id`",
        "  only under the version claim (3.2 s → 0.3 s per change at 20,000).",
        "- What is left is two scans (the keys and the stream) where MongoDB would read the",
        "  keys from the `idx.hi`/`idx.hn` indexes: on FerretDB the export's ratio to one bare",
        "  scan cannot pass 0.5, and decoding, decryption and projection take the rest.",
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
        "- **Errors under load.** Each look-up holds FerretDB for a whole scan, and FerretDB",
        "  runs them about one at a time, so latency grows with the queue (p99 of tens of",
        "  seconds at 64 clients). Past the 20 s socket timeout (`DIRECTORY_DB_TIMEOUT` × 4)",
        '  a request fails with "database unavailable": in an earlier run on a machine',
        "  shared with an export, 98 of the mixed load's 107 requests failed that way (the",
        "  bare handler failed the same way). No change was ever lost: every acknowledged",
        "  change of the mixed load is in the database. With an index each look-up is a seek",
        "  and the queue disappears; on FerretDB the fix would be to shed load early (a",
        "  bounded queue in front of the database) rather than time out late, not built.",
        "- `me` also reads the account's listings, their homonym groups (for the preview) and",
        "  the access log: three more scans. The edge checks (trusted document, limits,",
        "  rate limit) cost well under the noise of those scans.",
        "",
        "- **Changes at 200,000 listings.** Every `_id` look-up is a SQLite scan of the JSON",
        "  of every row on FerretDB (its `_id` index is on another expression than the one",
        "  its queries use). In the run above, the bench's changes made four look-ups each",
        "  (a GraphQL change five): the 1,000 changes (0.5%) took 116 minutes",
        "  (6 to 14 changes a minute, slowing as the run went on; part of the first half",
        "  hour shared the machine with a test run), before the delta was measured. Since",
        "  commit 4237db8 a change claims the version first and reads the listing once: three",
        "  look-ups either way. `BENCH_DELTA_FRACTION` asks for fewer changes, and the table",
        "  says which fraction was used.",
        "  FerretDB also answered `database is locked` to concurrent updates once their",
        "  scans outlasted SQLite's 10 s lock wait: the local server now waits 60 s",
        "  (`scripts/localdb.py`), and the bench's writers retry as a client would.",
        "",
    ]
    (ROOT / "docs" / "performance.md").write_text("\n".join(lines))
