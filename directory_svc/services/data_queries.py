"""Publisher data queries (the OSIS-style "data query" workflow)."""

from __future__ import annotations

from directory_svc import clock
from directory_svc.domain.access import Principal
from directory_svc.domain.data_queries import DataQuery
from directory_svc.domain.errors import NotFound
from directory_svc.domain.text import check_text
from directory_svc.storage.data_queries import DataQueries
from directory_svc.storage.ledger import FeedLedger


async def report_entry(
    queries: DataQueries, ledger: FeedLedger, who: Principal, entry_id: str, message: str
) -> DataQuery:
    """A publisher reports a wrong entry it holds (``NotFound`` for entries it never got)."""
    assert who.publisher_id is not None
    text = check_text("message", message, 1000, required=True)
    if entry_id not in await ledger.get(who.publisher_id, [entry_id]):
        raise NotFound("entry")
    return await queries.open(who.publisher_id, entry_id, text, clock.now())


async def close_report(
    queries: DataQueries, who: Principal, query_id: str, resolution: str
) -> DataQuery:
    """Support closes a report with what was done."""
    text = check_text("resolution", resolution, 1000, required=True)
    if not await queries.close(query_id, text, who.subject, clock.now()):
        raise NotFound("open report")
    found = await queries.get(query_id)
    assert found is not None
    return found


async def reports_of(queries: DataQueries, *, publisher_id: str) -> list[DataQuery]:
    """A publisher's own reports, newest first."""
    return await queries.for_publisher(publisher_id)
