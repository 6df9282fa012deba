"""Building the storage objects of a process from its settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient, monitoring

from directory_svc.config import Settings
from directory_svc.storage.access_log import AccessLog
from directory_svc.storage.accounts import AccountRepository
from directory_svc.storage.acks import FeedAcks
from directory_svc.storage.client import create_client, ping
from directory_svc.storage.crypto import Cipher
from directory_svc.storage.data_queries import DataQueries
from directory_svc.storage.documents import ListingCodec
from directory_svc.storage.export_runs import DownloadLog, ExportRuns, ExportSlots
from directory_svc.storage.feeds import PublisherRepository
from directory_svc.storage.keys import KeyRing
from directory_svc.storage.ledger import FeedLedger
from directory_svc.storage.listings import ListingRepository
from directory_svc.storage.rate_counters import RateCounters
from directory_svc.storage.versioned import choose


@dataclass(frozen=True, slots=True)
class Storage:
    """The client, the keys and the repositories of one process."""

    client: AsyncMongoClient[Any]
    keys: KeyRing
    listings: ListingRepository
    accounts: AccountRepository
    publishers: PublisherRepository
    ledger: FeedLedger
    runs: ExportRuns
    slots: ExportSlots
    downloads: DownloadLog
    access_log: AccessLog
    data_queries: DataQueries
    counters: RateCounters
    acks: FeedAcks

    async def close(self) -> None:
        """Close the database client."""
        await self.client.close()


async def open_storage(
    settings: Settings,
    *,
    indexes: bool = True,
    listeners: Sequence[monitoring._EventListener] = (),
) -> Storage:
    """Read the keys, connect, check the database answers, choose the versioned-write
    adapter (``storage.versioned``), create indexes. ``listeners``: PyMongo event
    listeners (command counts in tests and benchmarks)."""
    keys = KeyRing(settings.keys_dir, settings.key_env)
    client = create_client(settings, listeners)
    try:
        await ping(client, settings.db_timeout_s + 1)
        db = client[settings.db_name]
        versioned = await choose(db, settings.write_adapter)
        listings = ListingRepository(db, ListingCodec(Cipher(keys)), versioned)
        accounts = AccountRepository(db)
        ledger = FeedLedger(db)
        slots = ExportSlots(db)
        access_log = AccessLog(db)
        data_queries = DataQueries(db)
        acks = FeedAcks(db)
        if indexes:
            await listings.ensure_indexes()
            await accounts.ensure_indexes()
            await ledger.ensure_indexes()
            await slots.ensure_indexes()
            await access_log.ensure_indexes()
            await data_queries.ensure_indexes()
            await acks.ensure_indexes()
    except BaseException:
        await client.close()
        raise
    return Storage(
        client=client,
        keys=keys,
        listings=listings,
        accounts=accounts,
        publishers=PublisherRepository(db, versioned),
        ledger=ledger,
        runs=ExportRuns(db),
        slots=slots,
        downloads=DownloadLog(db),
        access_log=access_log,
        data_queries=data_queries,
        counters=RateCounters(db),
        acks=acks,
    )
