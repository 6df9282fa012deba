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


def run_cli(
    env: dict[str, str], *args: str, keys_dir: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``directory-svc`` with only PATH, the keys and ``env`` in its environment."""
    start = time.monotonic()
    keys = (
        {"DIRECTORY_KEYS_DIR": str(keys_dir), "DIRECTORY_JWKS": str(keys_dir / "dev-jwks.json")}
        if keys_dir
        else {}
    )
    done = subprocess.run(
        [str(BIN), *args],
        env={"PATH": os.environ["PATH"], **keys, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, time.monotonic() - start


def test_serve_exits_quickly_naming_the_masked_uri_when_the_database_is_closed(
    keys_dir: Path,
) -> None:
    uri = f"mongodb://annuaire:s3cret@127.0.0.1:{_closed_port()}/"
    done, elapsed = run_cli({"MONGODB_URI": uri, "DIRECTORY_PORT": "0"}, "serve", keys_dir=keys_dir)
    assert done.returncode != 0
    assert elapsed < 15
    errors = [line for line in done.stderr.splitlines() if line.startswith("directory-svc:")]
    assert len(errors) == 1, done.stderr
    assert "cannot reach the database at mongodb://annuaire:***@127.0.0.1" in errors[0]
    assert "s3cret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_bad_setting_is_one_line_naming_the_variable(keys_dir: Path) -> None:
    env = {"MONGODB_URI": "mongodb://127.0.0.1:1/", "DIRECTORY_PORT": "x"}
    done, _ = run_cli(env, "serve", keys_dir=keys_dir)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "directory-svc: configuration error: DIRECTORY_PORT: expected a number, got 'x'"
    ]


def test_missing_key_directory_is_one_line(tmp_path: Path, mongo_uri: str) -> None:
    done, _ = run_cli({"MONGODB_URI": mongo_uri}, "serve", keys_dir=tmp_path / "none")
    assert done.returncode == 4
    assert done.stderr.strip().startswith(f"directory-svc: keys: no keys in {tmp_path / 'none'}")
    assert len(done.stderr.strip().splitlines()) == 1


def test_seed_command_seeds_once(mongo_uri: str, db_name: str, keys_dir: Path) -> None:
    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}
    done, _ = run_cli(env, "seed", "--count", "40", "--seed", "3", keys_dir=keys_dir)
    assert done.returncode == 0, done.stderr
    assert "seeded 40 new listings" in done.stdout
    done, _ = run_cli(env, "seed", "--count", "40", "--if-empty", keys_dir=keys_dir)
    assert done.returncode == 0
    assert "not seeding" in done.stderr


def test_no_serving_banner_when_start_up_fails(keys_dir: Path) -> None:
    uri = f"mongodb://127.0.0.1:{_closed_port()}/"
    env = {"MONGODB_URI": uri, "DIRECTORY_PORT": "0", "DIRECTORY_DB_TIMEOUT": "1"}
    done, _ = run_cli(env, "serve", keys_dir=keys_dir)
    assert done.returncode == 3
    assert "serving on" not in done.stdout


def test_serve_without_token_keys_is_one_line(keys_dir: Path) -> None:
    env = {"MONGODB_URI": "mongodb://127.0.0.1:1/", "DIRECTORY_JWKS": ""}
    done, _ = run_cli(env, "serve", keys_dir=keys_dir)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "directory-svc: configuration error: DIRECTORY_JWKS: not set "
        "(file or URL of the token signing keys)"
    )


def test_token_mint_needs_no_database_and_only_works_in_dev(keys_dir: Path) -> None:
    done, _ = run_cli({"DIRECTORY_ENV": "dev"}, "token", "mint", "--role", "support",
                      keys_dir=keys_dir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(".") == 2  # a JWT
    done, _ = run_cli({"DIRECTORY_ENV": "prod"}, "token", "mint", "--role", "admin",
                      keys_dir=keys_dir)  # fmt: skip
    assert done.returncode == 2
    assert "development only" in done.stderr
    done, _ = run_cli({"DIRECTORY_ENV": "dev"}, "token", "mint", "--role", "customer",
                      keys_dir=keys_dir)  # fmt: skip
    assert "needs --account" in done.stderr
