"""Rate limits, counted in the database so that every process enforces the same limit.

- Mutations: ``mutations_per_minute`` per authenticated subject, and per client address
  when the request came through a trusted proxy (``Settings.client_address``).
- Staff reads of personal data, per agent and hour: ``lookups_per_hour`` look-ups by number
  (the enumeration risk), and ``staff_reads_per_hour`` listings returned by every staff
  field together. An agent refused a look-up is refused every other read in that hour too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from directory_svc.domain.errors import DomainError
from directory_svc.storage.rate_counters import RateCounters

MINUTE, HOUR = 60, 3600


class RateLimited(DomainError):
    """Too many actions; ``retry_after_s`` says when to try again."""

    def __init__(self, retry_after_s: float, what: str = "look-ups") -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(f"too many {what}; retry in {self.retry_after_s} s")


@dataclass(frozen=True, slots=True)
class Allowance:
    """What an agent has left this hour: look-ups by number, and listings read by staff
    fields; ``refused``: a look-up was refused, so every read is refused until the reset."""

    lookups_left: int
    lookups_per_hour: int
    reads_left: int
    reads_per_hour: int
    refused: bool
    resets_in_s: float


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits of one deployment, and where they are counted."""

    counters: RateCounters
    mutations_per_minute: int
    lookups_per_hour: int
    staff_reads_per_hour: int

    async def take_mutation(self, *, subject: str, address: str | None) -> None:
        """Count one mutation of ``subject`` (and of ``address``), or raise ``RateLimited``."""
        keys = [f"mutation:sub:{subject}"] + ([f"mutation:addr:{address}"] if address else [])
        for key in keys:
            grant = await self.counters.take(key, window_s=MINUTE, limit=self.mutations_per_minute)
            if not grant.granted:
                raise RateLimited(grant.resets_in_s, "changes")

    async def open_staff_read(self, *, agent: str, lookup: bool) -> None:
        """Count one staff read (a look-up when ``lookup``), or raise ``RateLimited``.

        A refused look-up marks the agent for the hour; every read then checks the mark."""
        refused_key = f"refused:{agent}"
        if lookup:
            looked = await self.counters.take(
                f"lookup:{agent}", window_s=HOUR, limit=self.lookups_per_hour
            )
            if not looked.granted:
                await self.counters.add(refused_key, window_s=HOUR)
                raise RateLimited(looked.resets_in_s)
        else:
            refused = await self.counters.get(refused_key, window_s=HOUR)
            if refused.value:
                raise RateLimited(refused.resets_in_s)
        read = await self.counters.take(
            f"read:{agent}", window_s=HOUR, limit=self.staff_reads_per_hour
        )
        if not read.granted:
            raise RateLimited(read.resets_in_s, "reads")

    async def count_listings_read(self, *, agent: str, listings: int) -> None:
        """Add the listings a read returned beyond the one ``open_staff_read`` counted."""
        if listings > 1:
            await self.counters.use(f"read:{agent}", window_s=HOUR, amount=listings - 1)

    async def allowance(self, *, agent: str) -> Allowance:
        """What ``agent`` has left in the current hour (reading it counts nothing)."""
        looked = await self.counters.used(f"lookup:{agent}", window_s=HOUR)
        read = await self.counters.used(f"read:{agent}", window_s=HOUR)
        refused = await self.counters.get(f"refused:{agent}", window_s=HOUR)
        return Allowance(
            lookups_left=max(0, self.lookups_per_hour - looked.value),
            lookups_per_hour=self.lookups_per_hour,
            reads_left=max(0, self.staff_reads_per_hour - read.value),
            reads_per_hour=self.staff_reads_per_hour,
            refused=refused.value > 0,
            resets_in_s=read.resets_in_s,
        )
