"""Building the storage objects of a process from its settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pymongo
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

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
from directory_svc.storage.migrations import SCHEMA_VERSION
from directory_svc.storage.rate_counters import RateCounters
from directory_svc.storage.schema import check_keys, check_schema
from directory_svc.storage.versioned import choose


class HasIndexes(Protocol):
    """A repository that creates its indexes."""

    async def ensure_indexes(self) -> None:
        """Create the indexes it needs (idempotent)."""
        ...


@dataclass(frozen=True, slots=True)
class Storage:
    """The client, the keys and the repositories of one process."""

    client: AsyncMongoClient[Any]
    db: AsyncDatabase[Any]
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

    async def ensure_indexes(
        self, *, deadline_s: float, progress: Callable[[str], None] | None = None
    ) -> None:
        """Create every index (idempotent), all under one deadline of ``deadline_s`` (an
        index build on a large production collection takes minutes, far beyond a request's
        deadline); ``progress`` is told the name of each collection as it starts."""
        owners: dict[str, HasIndexes] = {
            "listings": self.listings,
            "accounts": self.accounts,
            "feed ledger": self.ledger,
            "export slots": self.slots,
            "access log": self.access_log,
            "data queries": self.data_queries,
            "acknowledgements": self.acks,
        }

        # One command per collection (``ensure_indexes``), one collection after the other:
        # FerretDB drops connections when several build at once.
        with pymongo.timeout(deadline_s):
            for name, owner in owners.items():
                if progress:
                    progress(name)
                await owner.ensure_indexes()


async def open_storage(
    settings: Settings,
    *,
    indexes: bool = True,
    listeners: Sequence[monitoring._EventListener] = (),
    schema: bool = True,
) -> Storage:
    """Read the keys, connect, check the database answers and holds the stored format this
    code reads (``storage.schema``: ``SchemaMismatch``; ``schema=False`` for ``migrate``),
    choose the versioned-write adapter (``storage.versioned``), create indexes
    (``indexes=False``: the caller builds them, as ``serve`` does in the background).
    ``listeners``: PyMongo event listeners (command counts in tests and benchmarks)."""
    keys = KeyRing(settings.keys_dir, settings.key_env)
    client = create_client(settings, listeners)
    try:
        await ping(client, settings.db_timeout_s + 1)
        db = client[settings.db_name]
        if schema:
            await check_schema(db, SCHEMA_VERSION)
        cipher = Cipher(keys)
        codec = ListingCodec(cipher)
        await check_keys(db, keys.fingerprint(), str(keys.directory), codec.listing)
        versioned = await choose(db, settings.write_adapter)
        listings = ListingRepository(db, codec, versioned)
        accounts = AccountRepository(db)
        ledger = FeedLedger(db, cipher)
        slots = ExportSlots(db)
        access_log = AccessLog(db, timeout_s=settings.db_timeout_s)
        data_queries = DataQueries(db)
        acks = FeedAcks(db)
    except BaseException:
        await client.close()
        raise
    storage = Storage(
        client=client,
        db=db,
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
    if indexes:
        try:
            await storage.ensure_indexes(deadline_s=settings.index_timeout_s)
        except BaseException:
            await client.close()
            raise
    return storage
