#!/usr/bin/env python3
"""Servers for ``make bench`` (child processes): the service with or without its edge checks,
and the bare baseline handler.

    python bench/servers.py full|unchecked|bare     (settings from the environment)

``bare`` answers the same look-up with the same driver, blind index and decryption, and the
same JSON as the service's LookupByNumber, but with no auth, GraphQL, access log or limits;
and does one plain ``update_one`` of a listing's state for the write baseline.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web

from directory_svc.app import create_app
from directory_svc.config import load_settings
from directory_svc.domain.listings import LineType, Listing
from directory_svc.domain.numbers import parse_french_number
from directory_svc.domain.projection import publishable_numbers
from directory_svc.observability import configure_logging
from directory_svc.storage.command_counter import CommandCounter
from directory_svc.storage.setup import Storage, open_storage

STORAGE = web.AppKey("storage", Storage)
STATES = web.AppKey("states", dict)
COUNTER = web.AppKey("counter", CommandCounter)


def listing_json(item: Listing) -> dict[str, Any]:
    """The fields of the LookupByNumber operation, as the service answers them."""
    a, c = item.address, item.choices
    shown = publishable_numbers(item)
    mobiles = [n for n in item.numbers if n.line_type is LineType.MOBILE and n.published]
    return {
        "id": item.id,
        "kind": item.kind.value.upper(),
        "displayName": item.display_name,
        "surname": item.surname,
        "firstName": item.first_name,
        "address": {
            "postcode": a.postcode,
            "commune": a.commune,
            "inseeCode": a.insee_code,
            "street": a.street_line,
        },
        "numbers": [
            {
                "number": n.e164,
                "lineType": n.line_type.value.upper(),
                "published": n.published,
                "inDirectories": n.e164 in shown,
            }
            for n in item.numbers
        ],
        "choices": {
            "listed": c.listed,
            "initialOnly": c.initial_only,
            "noGender": c.no_gender,
            "noStreet": c.no_street,
            "noReverseLookup": c.no_reverse_lookup,
            "noMarketing": c.no_marketing,
            "mobileConsent": bool(mobiles) and all(n.consent for n in mobiles),
        },
        "status": item.status.value,
        "version": item.version,
    }


async def lookup(request: web.Request) -> web.Response:
    storage = request.app[STORAGE]
    e164 = parse_french_number(request.query["number"]).e164
    found = await storage.listings.find_by_number(e164)
    return web.json_response(
        {"data": {"lookupByNumber": {"__typename": "ListingsFound",
                                     "listings": [listing_json(i) for i in found]}}}
    )  # fmt: skip


async def search(request: web.Request) -> web.Response:
    """The first page of a surname search in a commune, as SearchListings answers it."""
    storage = request.app[STORAGE]
    page = await storage.listings.find_by_surname(
        request.query["surname"], request.query["commune"], None, 20, None
    )
    edges = [{"cursor": i.id, "node": listing_json(i)} for i in page.items]
    return web.json_response(
        {"data": {"searchListings": {"__typename": "ListingConnection", "edges": edges,
                                     "pageInfo": {"hasNextPage": page.has_next,
                                                  "endCursor": page.last_key}}}}
    )  # fmt: skip


async def update(request: web.Request) -> web.Response:
    """One plain ``update_one`` of a listing's whole state (same shape as a change writes)."""
    storage, listing_id = request.app[STORAGE], request.query["id"]
    col = storage.listings._col
    cached = request.app[STATES].get(listing_id)
    if cached is None:
        cached = await col.find_one({"_id": listing_id}, {"history": 0, "_id": 0})
        request.app[STATES][listing_id] = cached
    cached["v"] += 1
    await col.update_one({"_id": listing_id}, {"$set": cached})
    return web.json_response({"ok": True, "version": cached["v"]})


async def ready(request: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """The commands counted, in the service's metric name (``bench/load.Server.snapshot``)."""
    total = request.app[COUNTER].total
    return web.Response(text=f'directory_db_commands_total{{command="all"}} {total}\n')


def bare_app() -> web.Application:
    settings = load_settings()

    async def lifecycle(app: web.Application) -> Any:
        app[STORAGE] = await open_storage(settings, listeners=[app[COUNTER]])
        yield
        await app[STORAGE].close()

    app = web.Application()
    app.router.add_get("/lookup", lookup)
    app.router.add_get("/search", search)
    app.router.add_post("/update", update)
    app.router.add_get("/readyz", ready)
    app.router.add_get("/metrics", metrics)
    app[STATES] = {}
    app[COUNTER] = CommandCounter()
    app.cleanup_ctx.append(lifecycle)
    return app


def main() -> None:
    mode = sys.argv[1]
    settings = load_settings()
    if mode == "bare":
        app = bare_app()
    else:
        configure_logging(settings.log_level)  # one JSON line per request, as `serve` does
        app = create_app(settings, edge_checks=mode == "full")
    web.run_app(app, host="127.0.0.1", port=settings.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
