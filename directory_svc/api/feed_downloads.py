"""Publishers fetch their own feeds over HTTP(S) with their token; every download is logged.

``GET /feeds`` lists the caller's published feed folders; ``GET /feeds/{folder}/{file}``
returns one file. A publisher sees only folders named after itself. (TLS is terminated by
the operator's reverse proxy in front of the service.)
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from directory_svc.api.context import PRINCIPAL
from directory_svc.domain.access import Role
from directory_svc.domain.publishers import is_feed_folder_of
from directory_svc.storage.documents import now_ms
from directory_svc.storage.export_runs import DownloadLog, ExportRuns

FEEDS_DIR = web.AppKey("feeds_dir", Path)
RUNS = web.AppKey("runs", ExportRuns)
DOWNLOADS = web.AppKey("downloads", DownloadLog)
_FILE = re.compile(r"^(manifest\.json|feed\.(csv|jsonl)(\.age)?)$")


def _publisher_of(request: web.Request) -> str:
    principal = request[PRINCIPAL]
    if principal.role is not Role.PUBLISHER or principal.publisher_id is None:
        raise web.HTTPForbidden(text="only publishers download feeds")
    return principal.publisher_id


async def list_feeds(request: web.Request) -> web.Response:
    """The caller's successful export runs, newest first."""
    publisher_id = _publisher_of(request)
    runs = await request.app[RUNS].list(publisher_id, limit=100)
    return web.json_response(
        [
            {"sequence": r["seq"], "feed": r["kind"], "folder": r["folder"],
             "counts": r.get("counts", {}), "files": f"/feeds/{r['folder']}/"}
            for r in runs
            if r["status"] == "succeeded"
        ]
    )  # fmt: skip


async def get_feed_file(request: web.Request) -> web.StreamResponse:
    """One file of one of the caller's feed folders."""
    publisher_id = _publisher_of(request)
    folder, name = request.match_info["folder"], request.match_info["file"]
    if not is_feed_folder_of(publisher_id, folder) or not _FILE.match(name):
        raise web.HTTPNotFound(text="no such feed")
    path = request.app[FEEDS_DIR] / folder / name
    if not path.is_file():
        raise web.HTTPNotFound(text="no such feed")
    await request.app[DOWNLOADS].record(
        publisher_id, request[PRINCIPAL].subject, folder, name, now_ms()
    )
    return web.FileResponse(path)
