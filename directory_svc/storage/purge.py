"""Erasing a terminated listing's personal data while keeping its proof (retention)."""

from __future__ import annotations

from dataclasses import replace

from directory_svc.domain.history import GENESIS, Change, HistoryEntry, chain_hash, redact_values
from directory_svc.domain.listings import redact
from directory_svc.storage.documents import now_ms
from directory_svc.storage.history_archive import KEEP
from directory_svc.storage.listings import ListingRepository


async def purge(repo: ListingRepository, listing_id: str, change: Change) -> bool:
    """Erase a terminated listing's personal data, in its state and its history.

    The history is re-chained over the redacted values and ends with a ``purged`` entry, so
    ``history verify`` still holds; choices, consents and provenance remain as proof.
    Returns False when the listing changed meanwhile (try again later).
    """
    doc = await repo.raw(listing_id)
    if doc is None or doc.get("purged"):
        return False
    version = int(doc["v"])
    codec = repo.codec
    current = codec.listing(doc)
    key = codec.cipher.keys.history_key
    stored = await repo.history_documents(listing_id, doc)
    entries = [codec.history_entry(listing_id, e) for e in stored]
    prev = GENESIS
    rewritten = []
    for e in entries:
        before, after = redact_values(e.before), redact_values(e.after)
        digest = chain_hash(key, prev, e.seq, codec.change_of(e), e.at, before, after)
        rewritten.append(replace(e, before=before, after=after, prev_hash=prev, hash=digest))
        prev = digest
    purged = replace(redact(current), version=version + 1, updated_at=now_ms())
    at = now_ms()
    marker = {"purged": True}
    digest = chain_hash(key, prev, version + 1, change, at, {}, marker)
    rewritten.append(
        HistoryEntry(
            version + 1,
            change.change_id,
            at,
            change.provenance,
            change.reason,
            False,
            {},
            marker,
            prev,
            digest,
        )
    )
    sealed = [codec.entry(listing_id, e) for e in rewritten]
    # The older entries go (back) to the archive first: if the write below loses to
    # another writer, the next purge re-chains everything again from the archive.
    older, kept = sealed[:-KEEP], sealed[-KEEP:]
    await repo.archive.put(listing_id, codec.cipher.keys.active_kid, older)
    new_doc = {
        "_id": listing_id,
        **codec.state(purged),
        "history": kept,
        "head": digest,
        "purged": True,
    }
    new_doc["idx"] = {"num": [], "sn": "", "hi": "", "hn": ""}
    return await repo.write_document(new_doc, version, change.change_id)
