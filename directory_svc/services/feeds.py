"""What a publisher may fetch of its own feeds, and the log of what it fetched."""

from __future__ import annotations

from directory_svc import clock
from directory_svc.domain.exports import ExportRun, RunStatus
from directory_svc.domain.publishers import is_feed_folder_of
from directory_svc.storage.export_runs import DownloadLog, ExportRuns


async def published_feeds(runs: ExportRuns, *, publisher_id: str) -> list[ExportRun]:
    """The publisher's successful runs (their folders are published), newest first."""
    return [r for r in await runs.list(publisher_id, limit=100) if r.status is RunStatus.SUCCEEDED]


def may_fetch(*, publisher_id: str, folder: str) -> bool:
    """Whether ``folder`` is one of this publisher's feed folders."""
    return is_feed_folder_of(publisher_id, folder)


async def record_download(
    downloads: DownloadLog, *, publisher_id: str, subject: str, folder: str, file: str
) -> None:
    """Log one download (before the file is sent)."""
    await downloads.record(publisher_id, subject, folder, file, clock.now())
