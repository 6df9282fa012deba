"""One export of a publisher at a time: manual, scheduled, killed or on another machine."""

import asyncio
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from directory_svc.domain.errors import Busy
from directory_svc.domain.exports import FeedKind
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services.publishers import add_publisher, export_now
from directory_svc.services.seed import seed_listings
from directory_svc.storage.documents import now_ms
from directory_svc.storage.export_runs import RUN_STALE_AFTER
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import Storage
from exporters.manifest import load_public_key, verify_folder


@pytest.fixture
async def ready(storage: Storage, keys_dir: Path) -> Storage:
    init_keys(keys_dir)
    await seed_listings(storage.listings, 60, seed=12)
    for pid in ("pub", "pub-1"):  # "pub" is a prefix of "pub-1"
        await add_publisher(
            storage.publishers, Publisher(PublisherProfile(pid, PublisherKind.DIRECTORY), pid)
        )
    return storage


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


async def test_two_exports_of_one_publisher_at_once_one_is_refused(
    ready: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    feeds = tmp_path / "feeds"
    outcomes = await asyncio.gather(
        export_now(ready, keys_dir, "pub", feeds, full=True),
        export_now(ready, keys_dir, "pub", feeds, full=True),
        export_now(ready, keys_dir, "pub-1", feeds, full=True),
        return_exceptions=True,
    )
    refused = [o for o in outcomes[:2] if isinstance(o, Busy)]
    assert len(refused) == 1, outcomes
    assert "an export of publisher pub (#1) is already running" in str(refused[0])
    assert not isinstance(outcomes[2], BaseException)  # another publisher is not held up
    assert [r.status for r in await ready.runs.list("pub")] == ["succeeded"]
    assert sorted(p.name for p in feeds.iterdir()) == ["pub-000001-full", "pub-1-000001-full"]


async def test_a_live_run_elsewhere_holds_the_lease_a_silent_one_does_not(
    ready: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    await ready.runs.start("pub", FeedKind.FULL, now_ms(), "other-host:4242")
    with pytest.raises(Busy):
        await export_now(ready, keys_dir, "pub", tmp_path, full=True)
    assert [r.status for r in await ready.runs.list("pub")] == ["running"]

    # The same run, silent for longer than RUN_STALE_AFTER: taken over.
    await ready.runs.beat("pub", 1, now_ms() - RUN_STALE_AFTER - timedelta(seconds=1))
    assert [r.status for r in await ready.runs.list("pub")] == ["interrupted"]
    result = await export_now(ready, keys_dir, "pub", tmp_path, full=True)
    assert result.seq == 2
    verify_folder(result.folder, load_public_key(keys_dir / "signing.pub"))
    runs = await ready.runs.list("pub")
    assert [(r.seq, r.status) for r in runs] == [(2, "succeeded"), (1, "interrupted")]


async def test_a_run_whose_process_died_here_is_taken_over_at_once(
    ready: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    await ready.runs.start("pub", FeedKind.FULL, now_ms(), f"{socket.gethostname()}:{_dead_pid()}")
    # What the killed run left, and what another publisher is writing right now.
    feeds = tmp_path / "feeds"
    for name in (".partial-pub-000001-full", ".partial-pub-1-000001-full"):
        (feeds / name).mkdir(parents=True)
    (feeds / ".ledger-pub-000001-full.jsonl").write_text("")
    result = await export_now(ready, keys_dir, "pub", feeds, full=True)
    assert result.seq == 2
    assert sorted(p.name for p in feeds.iterdir()) == [
        ".partial-pub-1-000001-full",
        "pub-000002-full",
    ]
