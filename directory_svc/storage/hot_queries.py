"""The hot queries the service sends, each with the index that must serve it.

``make explain`` prints their plans and ``tests/test_query_plans.py`` fails when one of them
is not an index scan on its index (docs/indexes.md): a query that loses its index is caught
on an engine with a planner. The filters are the repositories' own (blind indexes computed
by the codec, as the look-ups compute them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from directory_svc.domain.listings import Listing
from directory_svc.storage.documents import Document, ListingCodec

STATE = {"history": 0}


@dataclass(frozen=True, slots=True)
class HotQuery:
    """One query: a name, the ``find`` command, and the indexes its plan must scan."""

    name: str
    command: Document
    indexes: tuple[str, ...]


def hot_queries(codec: ListingCodec, target: Listing, latest: datetime) -> list[HotQuery]:
    """The hot queries about ``target``; ``latest``: the newest ``updated_at`` (a delta
    selects the listings written since the last run, a few of them)."""
    hi, hn = codec.homonym_keys(target)
    surname = codec.surname_index(target.surname)
    a = target.address

    def find(collection: str, filter: Document, **rest: Any) -> Document:
        return {"find": collection, "filter": filter, **rest}

    return [
        HotQuery(
            "lookupByNumber",
            find(
                "listings",
                {"idx.num": codec.number_index(target.numbers[0].e164)},
                projection=STATE,
            ),
            ("by_number",),
        ),
        HotQuery(
            "searchListings by commune",
            find(
                "listings",
                {"idx.sn": surname, "geo.insee": a.insee_code},
                projection=STATE,
                sort={"_id": 1},
                limit=21,
            ),
            ("by_surname_commune_id",),
        ),
        HotQuery(
            "searchListings by postcode",
            find(
                "listings",
                {"idx.sn": surname, "geo.postcode": a.postcode},
                projection=STATE,
                sort={"_id": 1},
                limit=21,
            ),
            ("by_surname_postcode_id",),
        ),
        HotQuery(
            "me, account",
            find("listings", {"acc": target.account_id}, projection=STATE, sort={"_id": 1}),
            ("by_account",),
        ),
        HotQuery(
            "delta selection",
            find(
                "listings",
                {"updated_at": {"$gte": latest - timedelta(seconds=1)}},
                projection=STATE,
            ),
            ("by_change_time",),
        ),
        HotQuery(
            "homonymy group",
            find(
                "listings",
                {"$or": [{"idx.hi": {"$in": [hi]}}, {"idx.hn": {"$in": [hn]}}]},
                projection=STATE,
            ),
            ("by_homonym_initial", "by_homonym_name"),
        ),
        HotQuery(
            "key rotation",
            find("listings", {"kid": {"$ne": "none"}}, projection={"_id": 1}, limit=200),
            ("by_key",),
        ),
        HotQuery(
            "archived history",
            find("listing_history", {"l": target.id}, sort={"seq": 1}),
            ("by_listing",),
        ),
    ]


def scanned_indexes(plan: Document) -> set[str]:
    """The indexes an ``explain`` answer's winning plan scans (MongoDB's plan shape)."""
    found: set[str] = set()
    todo: list[Any] = [plan.get("queryPlanner", {}).get("winningPlan", {})]
    while todo:
        stage = todo.pop()
        if isinstance(stage, dict):
            if stage.get("stage") == "IXSCAN" and "indexName" in stage:
                found.add(str(stage["indexName"]))
            todo.extend(stage.values())
        elif isinstance(stage, list):
            todo.extend(stage)
    return found
