"""Maintenance over every stored listing: key rotation and history-chain verification."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from directory_svc.domain.history import GENESIS, HistoryEntry, chain_hash
from directory_svc.storage.crypto import DecryptionFailed
from directory_svc.storage.documents import PII
from directory_svc.storage.listings import ListingRepository


async def reencrypt_all(
    repo: ListingRepository,
    batch: int = 200,
    progress: Callable[[int], None] | None = None,
    max_passes: int = 50,
) -> int:
    """Re-encrypt, in batches, every listing not under the active key; returns how many.

    Each document is rewritten only if its version did not change meanwhile; a document
    changed concurrently is picked up again by the next pass.
    """
    cipher = repo.codec.cipher
    done = 0
    for _ in range(max_passes):
        active = cipher.keys.active_kid
        ids = await repo.ids_not_under(active, batch)
        if not ids:
            await _reencrypt_archive(repo, batch)
            return done
        for listing_id in ids:
            doc = await repo.raw(listing_id)
            if doc is None:
                continue
            pii = cipher.decrypt(doc[PII], listing_id, PII)
            doc[PII] = cipher.encrypt(pii, listing_id, PII)
            doc["kid"] = active
            doc["history"] = repo.reencrypt_entries(listing_id, doc.get("history", []))
            # Written only if nobody changed the listing meanwhile (storage.versioned);
            # otherwise the next pass takes it.
            if await repo.rewrite(doc, doc["v"]):
                done += 1
                if progress:
                    progress(1)
    raise RuntimeError("listings keep changing under the old key; run the rotation again")


async def _reencrypt_archive(repo: ListingRepository, batch: int) -> None:
    """Re-seal archived history entries under the active key (they never change
    otherwise, so no version check is needed)."""
    active = repo.codec.cipher.keys.active_kid
    while ids := await repo.archive.listings_not_under(active, batch):
        for listing_id in ids:
            entries = await repo.archive.entries(listing_id)
            await repo.archive.put(listing_id, active, repo.reencrypt_entries(listing_id, entries))


async def broken_chains(repo: ListingRepository) -> AsyncIterator[tuple[str, str]]:
    """``(listing id, what is wrong)`` for every listing whose history fails verification
    (archived entries included)."""
    key = repo.codec.cipher.keys.history_key
    async for doc in repo.raw_documents():
        entries = None
        if isinstance(doc.get("history"), list):
            entries = await repo.history_documents(str(doc["_id"]), doc)
        problem = _check(repo, key, doc, entries)
        if problem:
            yield doc["_id"], problem


async def checked_history(
    repo: ListingRepository, listing_id: str
) -> tuple[list[HistoryEntry], str | None]:
    """One listing's history, oldest first, and what is wrong with its chain (None: it
    verifies), from one read of its document (so the version and head match the entries)."""
    doc = await repo.raw_document(listing_id)
    if doc is None:
        return [], "listing missing"
    if not isinstance(doc.get("history"), list):
        return [], "history missing"
    raw = await repo.history_documents(listing_id, doc)
    entries = [repo.codec.history_entry(listing_id, e) for e in raw]
    return entries, _verify(repo, repo.codec.cipher.keys.history_key, doc, entries)


def _check(
    repo: ListingRepository, key: bytes, doc: dict[str, object], raw_entries: list[Any] | None
) -> str | None:
    listing_id = str(doc["_id"])
    if raw_entries is None:
        return "history missing"
    entries = []
    for position, raw in enumerate(raw_entries, start=1):
        try:
            entries.append(repo.codec.history_entry(listing_id, raw))
        except (DecryptionFailed, KeyError, TypeError, ValueError):
            return f"entry {position} unreadable"
    return _verify(repo, key, doc, entries)


def _verify(
    repo: ListingRepository, key: bytes, doc: dict[str, object], entries: list[HistoryEntry]
) -> str | None:
    """What is wrong with a document's decoded history chain (None: it verifies)."""
    prev = GENESIS
    for position, entry in enumerate(entries, start=1):
        if entry.seq != position:
            return f"entry {position} out of sequence"
        if entry.prev_hash != prev:
            return f"entry {position} does not follow the previous one"
        change = repo.codec.change_of(entry)
        expected = chain_hash(key, prev, entry.seq, change, entry.at, entry.before, entry.after)
        if expected != entry.hash:
            return f"entry {position} was altered"
        prev = entry.hash
    if len(entries) != doc.get("v"):
        return "entries missing (count differs from the version)"
    if doc.get("head") != prev:
        return "last entry missing or replaced"
    return None
