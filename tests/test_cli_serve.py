import os
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "directory-svc"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run(
        [str(BIN), *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - start


def test_serve_exits_quickly_naming_the_masked_uri_when_the_database_is_closed() -> None:
    uri = f"mongodb://annuaire:s3cret@127.0.0.1:{_closed_port()}/"
    done, elapsed = _run({"MONGODB_URI": uri, "DIRECTORY_PORT": "0"}, "serve")
    assert done.returncode != 0
    assert elapsed < 15
    errors = [line for line in done.stderr.splitlines() if line.startswith("directory-svc:")]
    assert len(errors) == 1, done.stderr
    assert "cannot reach the database at mongodb://annuaire:***@127.0.0.1" in errors[0]
    assert "s3cret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_bad_setting_is_one_line_naming_the_variable() -> None:
    done, _ = _run({"MONGODB_URI": "mongodb://127.0.0.1:1/", "DIRECTORY_PORT": "x"}, "serve")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "directory-svc: configuration error: DIRECTORY_PORT: expected a number, got 'x'"
    ]


def test_seed_command_seeds_once(mongo_uri: str, db_name: str) -> None:
    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}
    done, _ = _run(env, "seed", "--count", "40", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert "seeded 40 new listings" in done.stdout
    done, _ = _run(env, "seed", "--count", "40", "--if-empty")
    assert done.returncode == 0
    assert "not seeding" in done.stderr


def test_no_serving_banner_when_start_up_fails() -> None:
    uri = f"mongodb://127.0.0.1:{_closed_port()}/"
    done, _ = _run(
        {"MONGODB_URI": uri, "DIRECTORY_PORT": "0", "DIRECTORY_DB_TIMEOUT": "1"}, "serve"
    )
    assert done.returncode == 3
    assert "serving on" not in done.stdout
