#!/usr/bin/env python3
"""Run a command against a local FerretDB, started here and stopped when the command ends.

    python scripts/localdb.py [--data-dir DIR | --temp] -- COMMAND [ARGS...]

When MONGODB_URI is already set, the command simply runs against that server. Otherwise a
FerretDB 1.24.2 (SQLite backend) is started on a free loopback port, with telemetry and the
debug listener off; the command gets MONGODB_URI pointing at it. FerretDB runs in its own
process group so that Ctrl-C reaches the command first; it is stopped after the command
exits, whatever the exit status, and also on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / ".tools" / "bin" / "ferretdb"
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_binary() -> Path:
    """Build FerretDB once (scripts/build-ferretdb.sh reuses an existing binary)."""
    subprocess.run([str(ROOT / "scripts" / "build-ferretdb.sh")], check=True)
    return BINARY


class LocalFerretDB:
    """A FerretDB process on a SQLite folder; ``uri`` is valid between ``start`` and ``stop``."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers ``ping``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "ferretdb.log").open("ab")
        self.proc = subprocess.Popen(
            [
                str(ensure_binary()),
                "--handler=sqlite",
                # SQLite has one writer at a time; FerretDB waits 10 s for the lock by
                # default, which concurrent writers on a large collection exceed (seen at
                # 200,000 listings: "database is locked"). Wait up to 60 s instead.
                f"--sqlite-url=file:{self.data_dir}/?_pragma=busy_timeout(60000)",
                f"--state-dir={self.data_dir}",
                f"--listen-addr=127.0.0.1:{self.port}",
                "--telemetry=disable",
                "--debug-addr=-",
                "--log-level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"FerretDB exited at start; see {self.data_dir}/ferretdb.log")
            try:
                with MongoClient(self.uri, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("ping")
                return
            except PyMongoError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"FerretDB did not answer within {START_TIMEOUT_S:g} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def scan_limit() -> str:
    """What the embedded engine can do, from ``make bench``'s last FerretDB figures: the
    directory size up to which a look-up answers within a second (every query scans)."""
    try:
        results = json.loads((ROOT / "bench" / "results.json").read_text())
        api = results["figures"]["api"]
        p50_ms = api["operations"]["lookup"]["1"]["full"]["p50_ms"]
        size = int(api["listings"] * 1000 / p50_ms // 100 * 100)
    except (OSError, ValueError, KeyError, ZeroDivisionError):
        return "FerretDB scans every query: fine for a demo, not for production"
    return (
        f"FerretDB scans every query: a look-up answers within 1 s up to about {size:,} "
        f"listings ({p50_ms:.0f} ms at {api['listings']:,}, make bench); production runs "
        "MongoDB 6+ or a compatible server with a query planner"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data-dir", default=str(ROOT / ".data" / "ferretdb"))
    where.add_argument("--temp", action="store_true", help="throw-away data folder")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    if os.environ.get("MONGODB_URI"):
        return subprocess.call(command)

    (ROOT / ".data").mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="test-ferretdb-", dir=ROOT / ".data") if args.temp else None
    db = LocalFerretDB(Path(tmp or args.data_dir))
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    try:
        db.start()
        print(f"local FerretDB on {db.uri} (data in {db.data_dir})", file=sys.stderr, flush=True)
        if not args.temp:
            print(scan_limit(), file=sys.stderr, flush=True)
        child = subprocess.Popen(command, env={**os.environ, "MONGODB_URI": db.uri})
        # Ctrl-C reaches the command directly (same process group); we wait for it to finish.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGHUP, forward)
        return child.wait()
    finally:
        db.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
