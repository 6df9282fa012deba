"""Publishers fetch their own feeds over HTTP(S) with their token; every download is logged.

``GET /feeds`` lists the caller's published feed folders; ``GET /feeds/{folder}/{file}``
returns one file; ``POST /feeds/{folder}/ack`` takes the publisher's signed acknowledgement
of a feed it applied. A publisher sees only folders named after itself. (TLS is terminated by
the operator's reverse proxy in front of the service.)
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from directory_svc.api.context import PRINCIPAL, RESOURCES
from directory_svc.api.http import error_body
from directory_svc.domain.access import Role
from directory_svc.domain.errors import NotFound
from directory_svc.services.acknowledgements import AckRejected, ReceivedAck, receive_ack
from directory_svc.services.feeds import may_fetch, published_feeds, record_download

FEEDS_DIR = web.AppKey("feeds_dir", Path)
_FILE = re.compile(r"^(manifest\.json|feed\.(csv|jsonl)(\.age)?)$")


def _publisher_of(request: web.Request) -> str:
    principal = request[PRINCIPAL]
    if principal.role is not Role.PUBLISHER or principal.publisher_id is None:
        raise web.HTTPForbidden(text="only publishers download feeds")
    return principal.publisher_id


async def list_feeds(request: web.Request) -> web.Response:
    """The caller's successful export runs, newest first."""
    publisher_id = _publisher_of(request)
    runs = await published_feeds(request.app[RESOURCES].services.runs, publisher_id=publisher_id)
    return web.json_response(
        [
            {
                "sequence": r.seq,
                "feed": r.kind.value,
                "folder": r.folder,
                "counts": dict(r.counts),
                "files": f"/feeds/{r.folder}/",
            }
            for r in runs
        ]
    )


async def get_feed_file(request: web.Request) -> web.StreamResponse:
    """One file of one of the caller's feed folders."""
    publisher_id = _publisher_of(request)
    folder, name = request.match_info["folder"], request.match_info["file"]
    if not may_fetch(publisher_id=publisher_id, folder=folder) or not _FILE.match(name):
        raise web.HTTPNotFound(text="no such feed")
    path = request.app[FEEDS_DIR] / folder / name
    if not path.is_file():
        raise web.HTTPNotFound(text="no such feed")
    await record_download(
        request.app[RESOURCES].services.downloads,
        publisher_id=publisher_id,
        subject=request[PRINCIPAL].subject,
        folder=folder,
        file=name,
    )
    return web.FileResponse(path)


async def post_ack(request: web.Request) -> web.Response:
    """Check and record the caller's acknowledgement of one of its feeds."""
    publisher_id = _publisher_of(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    services = request.app[RESOURCES].services
    received = ReceivedAck(publisher_id, request.match_info["folder"], body)
    try:
        receipt = await receive_ack(
            publishers=services.publishers,
            runs=services.runs,
            acks=services.acks,
            feeds_dir=request.app[FEEDS_DIR],
            received=received,
        )
    except NotFound:
        raise web.HTTPNotFound(text="no such feed") from None
    except AckRejected as exc:
        return web.json_response(error_body("ACK_REJECTED", str(exc)), status=400)
    metrics = request.app[RESOURCES].metrics
    for seconds in receipt.propagation_s:
        metrics.optout_propagation.labels(receipt.ack.publisher_id).observe(seconds)
    ack = receipt.ack
    return web.json_response({"sequence": ack.sequence, "status": ack.status.value})
