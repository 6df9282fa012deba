"""The in-service scheduler: runs each publisher's due export once, retries with back-off.

Every process may run a scheduler; slots are claimed by unique inserts (``ExportSlots``), so
a due export runs exactly once whatever the number of processes. A process that dies
mid-export stops its heartbeat; after ``STALE_AFTER`` another process takes the slot over
with the next attempt number.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter

from directory_svc import clock as service_clock
from directory_svc.domain.errors import Busy
from directory_svc.domain.exports import AttemptStatus, SlotAttempt
from directory_svc.domain.publishers import Publisher
from directory_svc.services.acknowledgements import collect_sftp_acks
from directory_svc.services.publishers import deliver_pending, export_now
from directory_svc.storage.setup import Storage
from exporters.delivery import DeliveryFailed

log = logging.getLogger("directory_svc.scheduler")

PARIS = ZoneInfo("Europe/Paris")
HEARTBEAT = timedelta(seconds=10)
STALE_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 5


def last_due(schedule: str, now: datetime) -> datetime:
    """The latest time at or before ``now`` when ``schedule`` (Europe/Paris) was due, in UTC."""
    local = now.astimezone(PARIS)
    prev = croniter(schedule, local + timedelta(microseconds=1)).get_prev(datetime)
    due: datetime = prev.astimezone(UTC)
    return due.replace(microsecond=0)


def backoff(attempt: int) -> timedelta:
    """Wait before attempt ``attempt + 1``: 1, 2, 4, 8 minutes."""
    return timedelta(minutes=2 ** (attempt - 1))


class Scheduler:
    """Runs due exports for one process."""

    def __init__(
        self,
        storage: Storage,
        keys_dir: Path,
        out_dir: Path,
        clock: Callable[[], datetime] = service_clock.now,
    ) -> None:
        self.storage = storage
        self.slots = storage.slots
        self.keys_dir = keys_dir
        self.out_dir = out_dir
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    async def tick(self) -> list[str]:
        """Run every export due now that no process has run; returns the published folders."""
        done = []
        for publisher in await self.storage.publishers.all():
            if publisher.active:
                folder = await self._maybe_run(publisher)
                if folder:
                    done.append(folder)
                elif publisher.sftp is not None:
                    await self._redeliver(publisher)
                if publisher.sftp is not None:
                    await self._collect_acks(publisher)
        return done

    async def _collect_acks(self, publisher: Publisher) -> None:
        try:
            await collect_sftp_acks(
                publishers=self.storage.publishers,
                runs=self.storage.runs,
                acks=self.storage.acks,
                keys_dir=self.keys_dir,
                feeds_dir=self.out_dir,
                publisher=publisher,
            )
        except DeliveryFailed:
            log.warning("acknowledgements not collected", extra={"reason": publisher.id})

    async def _redeliver(self, publisher: Publisher) -> None:
        try:
            await deliver_pending(self.storage, self.keys_dir, publisher, self.out_dir)
        except DeliveryFailed:
            log.warning("delivery still failing", extra={"reason": publisher.id})

    async def _next_attempt(self, publisher: Publisher, due: datetime) -> int | None:
        attempts = await self.slots.attempts(publisher.id, due)
        if not attempts:
            return 1
        last = attempts[-1]
        now = self.clock()
        if last.status is AttemptStatus.SUCCEEDED or last.attempt >= MAX_ATTEMPTS:
            return None
        if last.status is AttemptStatus.RUNNING and now - last.heartbeat < STALE_AFTER:
            return None
        ended = last.finished_at or last.heartbeat
        if last.status is AttemptStatus.FAILED and now - ended < backoff(last.attempt):
            return None
        return last.attempt + 1

    async def _maybe_run(self, publisher: Publisher) -> str | None:
        due = last_due(publisher.schedule, self.clock())
        attempt = await self._next_attempt(publisher, due)
        if attempt is None:
            return None
        if not await self.slots.claim(publisher.id, due, attempt, self.owner, self.clock()):
            return None
        claimed = SlotAttempt(
            publisher.id,
            due,
            attempt,
            AttemptStatus.RUNNING,
            self.owner,
            self.clock(),
            self.clock(),
        )
        beat = asyncio.create_task(self._heartbeat(publisher.id, due, attempt))
        try:
            result = await export_now(self.storage, self.keys_dir, publisher.id, self.out_dir)
        except Exception as exc:
            await self.slots.end(
                claimed, status=AttemptStatus.FAILED, at=self.clock(), error=type(exc).__name__
            )
            if isinstance(exc, Busy):  # a manual run of this publisher holds the lease
                log.warning("export busy; retried after back-off", extra={"reason": publisher.id})
            else:
                log.error("export failed", extra={"error_type": type(exc).__name__})
            return None
        finally:
            beat.cancel()
        await self.slots.end(
            claimed, status=AttemptStatus.SUCCEEDED, at=self.clock(), folder=result.folder.name
        )
        log.info("export published", extra={"count": sum(result.counts.values())})
        return result.folder.name

    async def _heartbeat(self, publisher_id: str, due: datetime, attempt: int) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT.total_seconds())
            await self.slots.beat(publisher_id, due, attempt, self.clock())

    async def run_forever(self, every_s: float) -> None:
        """Tick every ``every_s`` seconds until cancelled; errors are logged, not fatal."""
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("scheduler tick failed", extra={"error_type": type(exc).__name__})
            await asyncio.sleep(every_s)
