"""Terminated lines leave every feed; their personal data is purged after the retention."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from directory_svc.domain.history import PURGED
from directory_svc.domain.listings import Status
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services import listings as listing_service
from directory_svc.services.lines import TerminateLine, purge_terminated, terminate_line
from directory_svc.services.maintenance import verify_history
from directory_svc.services.publishers import add_publisher, export_now
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import Storage
from tests.test_feeds import _records
from tests.test_storage_encryption import _strings

AT = datetime(2026, 6, 1, tzinfo=UTC)


async def test_terminated_line_is_deleted_from_feeds_then_purged(
    storage: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    init_keys(keys_dir)
    await seed_listings(storage.listings, 80, seed=12)
    for pid, kind in (("dir", PublisherKind.DIRECTORY), ("enq", PublisherKind.ENQUIRY)):
        await add_publisher(storage.publishers, Publisher(PublisherProfile(pid, kind), pid))
        await export_now(storage, keys_dir, pid, tmp_path, full=True)
    sent = {r["entry_id"] for r in _records(next(tmp_path.glob("dir-000001-full")))}
    target = next(i for i in demo_listings(80, seed=12) if i.id in sent)
    current = await listing_service.get_listing(storage.listings, target.id)
    await terminate_line(
        storage.listings,
        TerminateLine(
            listing_id=target.id,
            expected_version=current.version,
            change_id="end-1",
            reason="contract ended",
            at=AT,
        ),
    )

    for pid in ("dir", "enq"):
        delta = await export_now(storage, keys_dir, pid, tmp_path)
        assert [(r["entry_id"], r["action"], r["reason"]) for r in _records(delta.folder)] == [
            (target.id, "delete", "terminated")
        ]

    now = datetime.now(UTC)
    assert await purge_terminated(storage.listings, timedelta(days=365), now) == 0  # too recent
    assert (
        await purge_terminated(storage.listings, timedelta(days=365), now + timedelta(days=366))
        == 1
    )
    purged = await listing_service.get_listing(storage.listings, target.id)
    assert purged.status is Status.TERMINATED
    assert (purged.surname, purged.numbers, purged.address.street) == ("", (), None)
    assert purged.choices == current.choices  # the proof stays
    history = await storage.listings.history(target.id)
    assert history[0].after["surname"] == PURGED
    assert history[-1].after == {"purged": True}
    assert await verify_history(storage.listings) == []
    raw = await storage.listings.raw(target.id)
    assert raw is not None
    plain = [v for _, v in _strings(raw)]
    assert target.surname not in plain
    assert await listing_service.find_by_number(storage.listings, target.numbers[0].e164) == []
