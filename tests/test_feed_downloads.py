"""Publishers download only their own feeds, with their token; every download is logged."""

from dataclasses import replace
from pathlib import Path
from typing import Any

from directory_svc.app import create_app
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services.publishers import add_publisher, export_now
from directory_svc.services.seed import seed_listings
from directory_svc.storage.setup import Storage
from tests.conftest import token


async def test_a_publisher_gets_its_feeds_and_nobody_elses(
    aiohttp_client: Any, storage: Storage, settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    feeds = tmp_path / "feeds"
    await seed_listings(storage.listings, 30, seed=6)
    for pid in ("alpha", "beta", "alpha-1"):  # alpha-1: an id alpha is a prefix of
        await add_publisher(
            storage.publishers, Publisher(PublisherProfile(pid, PublisherKind.DIRECTORY), pid)
        )
        await export_now(storage, keys_dir, pid, feeds, full=True)
    api = await aiohttp_client(create_app(replace(settings, feeds_dir=feeds)))
    alpha = {"Authorization": f"Bearer {token(settings, Role.PUBLISHER, publisher_id='alpha')}"}

    listing = await (await api.get("/feeds", headers=alpha)).json()
    assert [f["folder"] for f in listing] == ["alpha-000001-full"]
    resp = await api.get("/feeds/alpha-000001-full/feed.csv", headers=alpha)
    assert resp.status == 200
    assert (await resp.text()).startswith("entry_id;action;")
    for path in ("/feeds/beta-000001-full/feed.csv", "/feeds/alpha-1-000001-full/feed.csv",
                 "/feeds/alpha-000001-full/..%2fkeys",
                 "/feeds/alpha-000001-full/other.txt"):  # fmt: skip
        assert (await api.get(path, headers=alpha)).status == 404
    support = {"Authorization": f"Bearer {token(settings, Role.SUPPORT)}"}
    assert (await api.get("/feeds", headers=support)).status == 403
    assert (await api.get("/feeds")).status == 401
    log = await storage.downloads.for_publisher("alpha")
    assert [(d.folder, d.file) for d in log] == [("alpha-000001-full", "feed.csv")]
    assert await storage.downloads.for_publisher("beta") == []


async def test_a_disabled_publisher_is_cut_off_at_once(
    aiohttp_client: Any, storage: Storage, settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    """Issue 16, item 8: a disabled publisher's token still listed, downloaded and reported."""
    from directory_svc.services.publishers import disable_publisher, enable_publisher
    from tests.conftest import operations, run_operation

    feeds = tmp_path / "feeds"
    await seed_listings(storage.listings, 10, seed=7)
    await add_publisher(
        storage.publishers, Publisher(PublisherProfile("gamma", PublisherKind.DIRECTORY), "g")
    )
    done = await export_now(storage, keys_dir, "gamma", feeds, full=True)
    lines = (done.folder / "feed.csv").read_text().splitlines()
    entry = lines[1].split(";")[0]
    api = await aiohttp_client(create_app(replace(settings, feeds_dir=feeds)))
    bearer = token(settings, Role.PUBLISHER, publisher_id="gamma")
    gamma = {"Authorization": f"Bearer {bearer}"}
    assert (await api.get("/feeds", headers=gamma)).status == 200
    await disable_publisher(storage.publishers, "gamma")
    assert (await api.get("/feeds", headers=gamma)).status == 403
    assert (await api.get("/feeds/gamma-000001-full/feed.csv", headers=gamma)).status == 403
    report = {"entryId": entry, "message": "wrong street"}
    body = await run_operation(api, operations("publisher"), "ReportEntry", report, bearer)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await enable_publisher(storage.publishers, "gamma")
    assert (await api.get("/feeds", headers=gamma)).status == 200
    unknown = {"Authorization": f"Bearer {token(settings, Role.PUBLISHER, publisher_id='zeta')}"}
    assert (await api.get("/feeds", headers=unknown)).status == 403
