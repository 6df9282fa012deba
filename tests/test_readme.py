"""Every API call of the README and docs/ runs as written, against a served instance.

The console blocks that call ``/graphql`` are run by bash, with only the address, the
command's path and the key directory pointed at this test's instance.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_cli_serve import BIN

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def api_blocks() -> list[tuple[str, str]]:
    """(where, script) of every console block of the README and docs/ that calls the API."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for n, block in enumerate(BLOCK.findall(doc.read_text()), 1):
            if "/graphql" not in block or "curl" not in block:
                continue
            lines = [line.removeprefix("$ ") for line in block.splitlines()]
            found.append((f"{doc.name} block {n}", "\n".join(lines)))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(mongo_uri: str, db_name: str, keys_dir: Path) -> Iterator[int]:
    """``directory-svc serve`` on a free port, seeded, once it is ready."""
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "MONGODB_URI": mongo_uri,
        "DIRECTORY_DB": db_name,
        "DIRECTORY_KEYS_DIR": str(keys_dir),
        "DIRECTORY_ENV": "dev",
        "DIRECTORY_PORT": str(port),
    }
    subprocess.run([str(BIN), "seed", "--count", "20"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([str(BIN), "serve"], env=env, stderr=subprocess.DEVNULL)
    try:
        ready = f"http://127.0.0.1:{port}/readyz"
        while subprocess.run(["curl", "-sf", ready], capture_output=True).returncode != 0:
            assert server.poll() is None, "serve exited"
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_readme_has_api_calls() -> None:
    assert len(api_blocks()) >= 1


@pytest.mark.parametrize(("where", "script"), api_blocks())
def test_every_api_call_of_the_docs_runs_as_written(
    where: str, script: str, served: int, keys_dir: Path
) -> None:
    script = (
        script.replace("localhost:8080", f"127.0.0.1:{served}")
        .replace(".venv/bin/directory-svc", str(BIN))
        .replace("DIRECTORY_KEYS_DIR=.keys", f"DIRECTORY_KEYS_DIR={keys_dir}")
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": os.environ["PATH"]},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (where, done.stderr)
    answers = [json.loads(line) for line in done.stdout.replace("}{", "}\n{").splitlines()]
    assert answers, where
    for answer in answers:
        assert "errors" not in answer, (where, answer)
        assert answer["data"], (where, answer)
