"""The feed commands as an operator runs them."""

from pathlib import Path

from directory_svc.storage.keys import init_keys
from tests.test_cli_serve import run_cli


def test_register_export_and_verify_from_the_command_line(
    tmp_path: Path, mongo_uri: str, db_name: str, keys_dir: Path
) -> None:
    init_keys(keys_dir)
    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}
    done, _ = run_cli(env, "seed", "--count", "120", keys_dir=keys_dir)
    assert done.returncode == 0, done.stderr
    done, _ = run_cli(
        env, "publisher", "add", "pages-blanches", "--name", "Pages Exemple SA",
        "--kind", "directory", "--departements", "75,92", "--numbers", "national",
        keys_dir=keys_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pages-blanches\tdirectory\tactive\tcsv\t75,92" in done.stdout
    bad, _ = run_cli(env, "publisher", "add", "x", "--name", "X", "--kind", "directory",
                     "--schedule", "every day", keys_dir=keys_dir)  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.strip() == "directory-svc: schedule: is not a cron expression"
    off, _ = run_cli(env, "publisher", "disable", "pages-blanches", keys_dir=keys_dir)
    assert "pages-blanches\tdirectory\tdisabled\t" in off.stdout
    # An update changes only the options given: the publisher stays disabled.
    changed, _ = run_cli(env, "publisher", "update", "pages-blanches", "--schedule", "0 4 * * *",
                         keys_dir=keys_dir)  # fmt: skip
    assert "pages-blanches\tdirectory\tdisabled\tcsv\t75,92\t0 4 * * *" in changed.stdout
    on, _ = run_cli(env, "publisher", "enable", "pages-blanches", keys_dir=keys_dir)
    assert "pages-blanches\tdirectory\tactive\tcsv\t75,92\t0 4 * * *" in on.stdout

    out = tmp_path / "feeds"
    done, _ = run_cli(env, "export", "run", "--publisher", "pages-blanches", "--full",
                      "--out", str(out), keys_dir=keys_dir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.split()[0])
    assert folder.parent == out
    assert "full #1" in done.stdout
    # One progress bar per step, each complete: the keys pass, then the records.
    assert "export pages-blanches: homonymy keys: 100%" in done.stderr
    assert "export pages-blanches: records: 100%" in done.stderr
    verified, _ = run_cli({}, "export", "verify", str(folder), keys_dir=keys_dir)
    assert verified.returncode == 0
    assert "signature and checksum OK (full #1)" in verified.stdout
    feed = (folder / "feed.csv").read_text(encoding="utf-8")
    assert feed.startswith("entry_id;action;")
    assert "+33" not in feed  # national presentation asked

    # Without --out, the feeds go where the service publishes them (issue 16, item 13).
    done, _ = run_cli({**env, "DIRECTORY_FEEDS_DIR": str(out)}, "export", "run",
                      "--publisher", "pages-blanches", keys_dir=keys_dir)  # fmt: skip
    assert Path(done.stdout.split()[0]).parent == out, done.stdout
    assert "delta #2: no change" in done.stdout
    assert "export pages-blanches: changed listings" in done.stderr
    runs, _ = run_cli(env, "export", "runs", "--publisher", "pages-blanches", keys_dir=keys_dir)
    assert [line.split("\t")[:3] for line in runs.stdout.splitlines()] == [
        ["2", "delta", "succeeded"],
        ["1", "full", "succeeded"],
    ]


def test_kill_9_during_an_export_leaves_no_visible_feed(
    tmp_path: Path, mongo_uri: str, db_name: str, keys_dir: Path
) -> None:
    import os
    import signal
    import subprocess
    import time

    from tests.test_cli_serve import BIN

    init_keys(keys_dir)
    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}
    assert run_cli(env, "seed", "--count", "3000", keys_dir=keys_dir)[0].returncode == 0
    add = ["publisher", "add", "p9", "--name", "P9", "--kind", "directory"]
    assert run_cli(env, *add, keys_dir=keys_dir)[0].returncode == 0
    out = tmp_path / "feeds"
    proc = subprocess.Popen(
        [str(BIN), "export", "run", "--publisher", "p9", "--full", "--out", str(out)],
        env={"PATH": os.environ["PATH"], "DIRECTORY_KEYS_DIR": str(keys_dir), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (out.exists() and any(p.name.startswith(".partial") for p in out.iterdir())):
        assert time.monotonic() < deadline
        assert proc.poll() is None, "the export ended before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []

    done, _ = run_cli(env, "export", "run", "--publisher", "p9", "--full", "--out", str(out),
                      keys_dir=keys_dir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.split()[0])
    assert run_cli({}, "export", "verify", str(folder), keys_dir=keys_dir)[0].returncode == 0
    assert [p.name for p in out.iterdir()] == [folder.name]  # the stale partial is gone
    runs, _ = run_cli(env, "export", "runs", "--publisher", "p9", keys_dir=keys_dir)
    assert [line.split("\t")[:3] for line in runs.stdout.splitlines()] == [
        ["2", "full", "succeeded"],
        ["1", "full", "interrupted"],
    ]
