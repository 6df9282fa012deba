"""Mobile numbers published without a consent of their own.

Before consent was held per number, a line's one consent covered its main number only; a
second mobile number could be stored as published without any. Such a listing was refused
on its next change until someone unticked the number. The migration unticks it, through the
ordinary versioned change with its history entry (channel ``migration``), so the subscriber
sees why and the next delta withdraws the number from every publisher.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.errors import VersionConflict
from directory_svc.domain.history import Change
from directory_svc.domain.listings import LineNumber, Listing, Status
from directory_svc.domain.numbers import LineType
from directory_svc.storage.documents import now_ms
from directory_svc.storage.migrations.context import MigrationContext

NUMBER = 5
REASON = "a mobile number is published only with its own consent (migration)"


def _unconsented(n: LineNumber) -> bool:
    return n.published and n.line_type is LineType.MOBILE and n.consent is None


def fixed(listing: Listing) -> Listing | None:
    """The listing with its unconsented mobile numbers unpublished; None if it has none."""
    if listing.status is Status.TERMINATED or not any(_unconsented(n) for n in listing.numbers):
        return None
    numbers = tuple(replace(n, published=False) if _unconsented(n) else n for n in listing.numbers)
    return replace(listing, numbers=numbers)


async def unconsented_mobiles(ctx: MigrationContext) -> Counter[str]:
    """Untick every published mobile number without a consent (see the module docstring)."""
    counts = Counter[str]()
    after: str | None = None
    while True:
        # Pages by id, each its own query: no cursor stays open across the writes (on
        # DocumentDB a cursor whose current batch is written to serves that batch again).
        page = await ctx.listings.page(ctx.batch, after)
        for listing in page.items:
            if fixed(listing) is None:
                continue
            counts["mobile numbers unpublished"] += sum(_unconsented(n) for n in listing.numbers)
            counts["listings changed"] += 1
            if not ctx.dry_run:
                await _untick(ctx, listing)
        ctx.progress(len(page.items))
        if not page.has_next:
            return counts
        after = page.last_key


async def _untick(ctx: MigrationContext, listing: Listing) -> None:
    """One versioned change; a retry (same change id) after a crash is recognised."""
    change = Change(
        f"migration:{NUMBER}:{listing.id}",
        Provenance(Actor.OPERATOR, Channel.MIGRATION, now_ms(), "migration"),
        reason=REASON,
    )
    current: Listing | None = listing
    for _ in range(5):  # the service may be writing too: read again and retry
        if current is None or (edited := fixed(current)) is None:
            return
        try:
            await ctx.listings.apply(current.version, edited, change, current)
            return
        except VersionConflict as exc:
            current = exc.current if isinstance(exc.current, Listing) else None
    raise VersionConflict(current)
