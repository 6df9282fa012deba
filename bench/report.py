"""``docs/performance.md`` from ``bench/results*.json`` (one per engine): figures, baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _errors(fig: dict[str, Any]) -> str:
    """Failed requests of a measurement (database timeouts under load), when there were any."""
    return (
        f" ({fig['errors']} of {fig['errors'] + fig['requests']} failed)" if fig["errors"] else ""
    )


# Per call, from issue 14: server CPU milliseconds and database commands.
CPU_TARGET_MS = {
    "lookup": 1.5,
    "search": 2.5,
    "me": 4.0,
    "changeChoices": 3.0,
    "changeListing": 3.0,
}
COMMAND_TARGET = {
    "lookup": "1 read + ≤ 1 shared log write",
    "changeChoices": "1 read + 1 write",
    "changeListing": "1 read + 1 write",
    "me": "constant",
}
GRAPHQL_NAME = {
    "lookup": "lookupByNumber",
    "search": "searchListings (a page)",
    "me": "me",
    "myHistory": "myHistory",
    "changeChoices": "changeChoices",
    "changeListing": "changeListing",
    "feedDownload": "feed download (GET /feeds/…)",
}


def _cell(fig: dict[str, Any] | None, key: str, fmt: str) -> str:
    return "—" if not fig or fig.get(key) is None else format(fig[key], fmt)


def report_lines(api: dict[str, Any] | None) -> list[str]:
    """The per-operation table of docs/performance.md."""
    if not api or "operations" not in api:
        return []
    rows = [
        "| operation | clients | req/s; p99 ms | server CPU ms/call (target) | "
        "commands/call (target) | bare handler: req/s; CPU ms; commands | ratio to bare |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, levels in api["operations"].items():
        for clients, row in levels.items():
            f, b = row["full"], row.get("bare")
            target = CPU_TARGET_MS.get(name)
            cpu = f"{f['cpu_ms']:.2f}" + (
                f" (≤ {target}: {'met' if f['cpu_ms'] <= target else 'not met'})" if target else ""
            )
            commands = f"{f['commands']:.2f}" + (
                f" ({COMMAND_TARGET[name]})" if name in COMMAND_TARGET else ""
            )
            bare = f"{b['rps']:,.1f}; {b['cpu_ms']:.2f}; {b['commands']:.2f}" if b else "—"
            ratio = f"{row['ratio']:.2f}" if "ratio" in row else "—"
            rows.append(
                f"| {GRAPHQL_NAME.get(name, name)} | {clients} | {f['rps']:,.1f}; "
                f"{f['p99_ms']:.0f}{_errors(f)} | {cpu} | {commands} | {bare} | {ratio} |"
            )
    m = api.get("me_edge")
    x = api.get("mixed")
    rows += ["", "| figure | value | baseline | target | met |", "|---|---|---|---|---|"]
    if m:
        rows.append(
            f"| `me` with edge checks, 16 clients (req/s; CPU ms) | {m['checked']['rps']:,.1f}; "
            f"{_cell(m['checked'], 'cpu_ms', '.2f')} | without checks "
            f"{m['unchecked']['rps']:,.1f}; {_cell(m['unchecked'], 'cpu_ms', '.2f')} | "
            f"cost < 10% | {m['cost']:.1%}: {'yes' if m['cost'] < 0.10 else 'no'} |"
        )
    if x:
        ok = x["errors"] == 0 and x["lost_updates"] == 0
        rows.append(
            f"| mixed load, 50 clients (req/s; p99 ms) | {x['rps']:,.1f}; {x['p99_ms']:.0f} | — | "
            f"0 errors but 503s, 0 lost updates | errors {x['errors']}, 503 "
            f"{x.get('shed_503', 0)}, lost {x['lost_updates']} "
            f"({x['changes_acknowledged']} changes): {'yes' if ok else 'no'} |"
        )
    cli = api.get("cli")
    if cli:
        for label, key in (
            ("directory-svc --help", "help_s"),
            ("export verify", "export_verify_s"),
        ):
            rows.append(
                f"| CLI start: `{label}` (s, median of 5) | {cli[key]:.2f} | — | < 0.5 | "
                f"{'yes' if cli[key] < 0.5 else 'no'} |"
            )
    return rows


RESULTS_GLOB = "results*.json"
"""One file per engine: ``results.json`` (FerretDB, the embedded default), and
``results-<engine>.json`` (``BENCH_ENGINE``, e.g. ``documentdb``)."""


def results_path(engine: str) -> Path:
    """Where the figures of ``engine`` are kept."""
    name = "results.json" if engine == "ferretdb" else f"results-{engine}.json"
    return ROOT / "bench" / name


def engine_lines(results: dict[str, Any]) -> list[str]:
    """The section of one engine's run."""
    f = results["figures"]
    sizes = sorted(int(k.split("_")[-1]) for k in f if k.startswith("full_export_"))
    delta_target = results.get("delta_target", 0.10)
    lines = [
        f"## {results['database']}",
        "",
        f"Measured by `make bench` on {results['date']} — {results['machine']}.",
        *([results["note"]] if results.get("note") else []),
        "",
    ]
    api = f.get("api")
    if api:
        lines += [
            "### Per operation",
            "",
            f"On {api['listings']:,} listings. Server CPU is the",
            "server process's CPU time over the measured calls (psutil), divided by the calls;",
            "commands are its database commands (`directory_db_commands_total`) per call; one",
            "`/metrics` scrape's own cost is subtracted from both.",
            "",
            *report_lines(api),
            "",
        ]
    lines += [
        "### Exports",
        "",
        "| figure | value | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for size in sizes:
        fig = f[f"full_export_{size}"]
        lines.append(
            f"| full export, {size:,} listings (records/s) | {fig['records_per_s']:,.0f} | "
            f"raw scan {fig['baseline_raw_scan_per_s']:,.0f}/s | {fig['ratio']:.2f} | ≥ 0.5 | "
            f"{'yes' if fig['ratio'] >= 0.5 else 'no'} |"
        )
        if fig.get("cpu_ms_per_record") is not None:
            per = fig["cpu_ms_per_record"]
            lines.append(
                f"| full export, {size:,}: exporter CPU per record (ms); commands | "
                f"{per:.3f}; {fig['commands']:,} | "
                f"raw scan {fig['raw_scan_cpu_ms_per_record']:.3f} "
                f"| — | ≤ 0.15 | {'yes' if per <= 0.15 else 'no'} |"
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
            f"full {d['full_seconds']:.1f} s | {d['time_ratio']:.3f} | ≤ {delta_target} | "
            f"{'yes' if d['time_ratio'] <= delta_target else 'no'} |"
        )
        if d.get("commands") is not None:
            lines.append(
                f"| delta export: commands per changed listing; CPU s | "
                f"{d['commands_per_change']:.2f}; {d['cpu_s']:.1f} | full CPU "
                f"{d['full_cpu_s']:.1f} s | {d['cpu_ratio']:.3f} | commands ∝ changes | see below |"
            )
    return [*lines, ""]


def write_report(results: dict[str, Any] | None = None) -> None:
    """``docs/performance.md``: one section per engine measured (every results file), then
    ``bench/analysis.md``. ``results``: the run just measured (already saved)."""
    del results  # every engine's figures are read back from their files
    runs = [json.loads(p.read_text()) for p in sorted((ROOT / "bench").glob(RESULTS_GLOB))]
    lines = [
        "# Performance",
        "",
        "Every figure is next to its baseline from the same run (absolute numbers on a shared",
        "2-core machine are noise; ratios are what we track). One section per engine, from",
        "`bench/results*.json`: FerretDB, the embedded default (every query scans), and the",
        "engines with a query planner that production runs.",
        "",
    ]
    for run in runs:
        lines += engine_lines(run)
    lines += [(ROOT / "bench" / "analysis.md").read_text()]
    (ROOT / "docs" / "performance.md").write_text("\n".join(lines))
