"""Publishers report wrong entries; support sees and closes them; each sees only its own."""

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.services.publishers import add_publisher, export_now
from directory_svc.services.seed import seed_listings
from directory_svc.storage.setup import Storage
from tests.conftest import operations, run_operation, token
from tests.test_feeds import _records

DOC = operations("publisher", "support")


async def test_report_then_resolve_and_each_publisher_sees_only_its_own(
    api: TestClient, storage: Storage, settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    await seed_listings(storage.listings, 20, seed=15)
    for pid in ("pj", "118"):
        profile = PublisherProfile(pid, PublisherKind.DIRECTORY)
        await add_publisher(storage.publishers, Publisher(profile, pid))
    feed = await export_now(storage, keys_dir, "pj", tmp_path, full=True)
    entry = _records(feed.folder)[0]["entry_id"]
    pj = token(settings, Role.PUBLISHER, publisher_id="pj")
    other = token(settings, Role.PUBLISHER, publisher_id="118")

    report = (await _op(api, "ReportEntry", {"entryId": entry, "message": "wrong street"},
                        pj))["data"]["reportEntry"]  # fmt: skip
    assert report["__typename"] == "DataQuery"
    assert report["status"] == "open"
    never_sent = await _op(api, "ReportEntry", {"entryId": entry, "message": "x"}, other)
    assert never_sent["data"]["reportEntry"]["__typename"] == "NotFoundProblem"
    empty = await _op(api, "ReportEntry", {"entryId": entry, "message": " "}, pj)
    assert empty["data"]["reportEntry"]["field"] == "message"

    assert [r["id"] for r in (await _op(api, "MyReports", {}, pj))["data"]["myReports"]] == [
        report["id"]
    ]
    assert (await _op(api, "MyReports", {}, other))["data"]["myReports"] == []

    support = token(settings, Role.SUPPORT)
    reports = {"listingId": entry, "purpose": "triage of publisher reports"}
    opened = (await _op(api, "OpenReports", reports, support))["data"]["openReports"]
    assert [r["message"] for r in opened] == ["wrong street"]
    logged = await storage.access_log.query(listing_id=entry)
    assert [(r.operation, r.purpose) for r in logged] == [
        ("openReports", "triage of publisher reports")
    ]
    unexplained = await _op(api, "OpenReports", {**reports, "purpose": " "}, support)
    assert "purpose" in unexplained["errors"][0]["message"]
    closed = (await _op(api, "CloseReport", {"id": report["id"], "resolution": "fixed"},
                        support))["data"]["closeReport"]  # fmt: skip
    assert (closed["status"], closed["resolution"]) == ("closed", "fixed")
    again = await _op(api, "CloseReport", {"id": report["id"], "resolution": "x"}, support)
    assert again["data"]["closeReport"]["__typename"] == "NotFoundProblem"
    assert (await _op(api, "OpenReports", reports, support))["data"]["openReports"] == []
    assert (await _op(api, "MyReports", {}, support))["errors"][0]["message"] == "Not allowed."


async def _op(api: TestClient, name: str, variables: dict[str, Any], bearer: str) -> Any:
    return await run_operation(api, DOC, name, variables, bearer)
