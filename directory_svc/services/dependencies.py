"""What the use cases need, built once at start-up: the edges (GraphQL, HTTP handlers) hold
one ``Services`` and hand its parts to service functions; they never import ``storage``."""

from __future__ import annotations

from dataclasses import dataclass

from directory_svc.config import Settings
from directory_svc.services.rate_limits import RateLimits
from directory_svc.storage.access_log import AccessLog
from directory_svc.storage.accounts import AccountRepository
from directory_svc.storage.acks import FeedAcks
from directory_svc.storage.data_queries import DataQueries
from directory_svc.storage.export_runs import DownloadLog, ExportRuns
from directory_svc.storage.feeds import PublisherRepository
from directory_svc.storage.ledger import FeedLedger
from directory_svc.storage.listings import ListingRepository
from directory_svc.storage.setup import Storage


@dataclass(frozen=True, slots=True)
class Services:
    """The repositories and limits of one process."""

    listings: ListingRepository
    accounts: AccountRepository
    publishers: PublisherRepository
    runs: ExportRuns
    ledger: FeedLedger
    access_log: AccessLog
    data_queries: DataQueries
    downloads: DownloadLog
    acks: FeedAcks
    limits: RateLimits

    @classmethod
    def of(cls, storage: Storage, settings: Settings) -> Services:
        """The services over ``storage`` with the limits of ``settings``."""
        return cls(
            listings=storage.listings,
            accounts=storage.accounts,
            publishers=storage.publishers,
            runs=storage.runs,
            ledger=storage.ledger,
            access_log=storage.access_log,
            data_queries=storage.data_queries,
            downloads=storage.downloads,
            acks=storage.acks,
            limits=RateLimits(
                counters=storage.counters,
                mutations_per_minute=settings.mutations_per_minute,
                lookups_per_hour=settings.lookups_per_hour,
                staff_reads_per_hour=settings.staff_reads_per_hour,
            ),
        )
