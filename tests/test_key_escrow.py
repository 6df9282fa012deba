"""Keys that survive the loss of a machine (issue 22): the key directory sealed to two
officers' age keys, a copy of the database, the key directory lost, then restored from
escrow: every personal field decrypts, look-ups by number work, the history verifies.
Without the keys, or with other keys, every command says so in one line."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from directory_svc.config import Settings
from directory_svc.domain.listings import Listing
from directory_svc.services.listings import change_listing, find_by_number
from directory_svc.services.seed import seed_listings
from directory_svc.storage.setup import Storage, open_storage
from tests.test_applier import _age_keygen
from tests.test_cli_serve import run_cli
from tests.test_versioned_writes import _change


async def _copy_database(uri: str, source: str, target: str) -> None:
    """What a backup and its restore do with MongoDB's tools, document for document."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        for name in await client[source].list_collection_names():
            docs = await client[source][name].find({}).to_list()
            if docs:
                await client[target][name].insert_many(docs)
    finally:
        await client.close()


async def _all(storage: Storage) -> dict[str, Listing]:
    return {item.id: item async for batch in storage.listings.stream() for item in batch}


async def test_restore_drill(
    storage: Storage, settings: Settings, db_name: str, tmp_path: Path
) -> None:
    await seed_listings(storage.listings, 12, seed=90, accounts=storage.accounts)
    originals = await _all(storage)
    some = next(iter(originals.values()))
    edit = lambda i: replace(i, mention="Escrow")  # noqa: E731
    await change_listing(storage.listings, some.id, some.version, edit, _change("escrow"))
    originals = await _all(storage)
    keys = settings.keys_dir
    assert keys is not None
    officers = [tmp_path / "officer-1.txt", tmp_path / "officer-2.txt"]
    recipients = [_age_keygen(path) for path in officers]
    escrow = tmp_path / "keys.escrow.age"
    sealed, _ = run_cli({}, "keys", "escrow", "--recipient", recipients[0], "--recipient",
                        recipients[1], "--out", str(escrow), keys_dir=keys)  # fmt: skip
    assert sealed.returncode == 0, sealed.stderr
    assert escrow.read_bytes().startswith(b"age-encryption.org/v1")
    for secret in (keys / "index.key", keys / "history.key"):
        assert secret.read_text().strip().encode() not in escrow.read_bytes()

    copy = f"{db_name}_copy"
    await _copy_database(settings.mongodb_uri, db_name, copy)
    env = {"MONGODB_URI": settings.mongodb_uri, "DIRECTORY_DB": copy}
    try:
        lost = tmp_path / "new-machine" / "keys"  # the key directory is gone
        missing, _ = run_cli(env, "history", "verify", keys_dir=lost)
        assert missing.returncode == 4
        assert missing.stderr.strip().splitlines()[-1] == (
            f"directory-svc: keys: no keys in {lost}: restore them from escrow "
            "(`directory-svc keys restore FILE --identity KEY`), or create them for a new "
            "database (`directory-svc keys init`)"
        )
        other = tmp_path / "other-keys"
        run_cli({"DIRECTORY_ENV": "dev"}, "keys", "init", keys_dir=other)
        wrong, _ = run_cli(env, "history", "verify", keys_dir=other)
        assert wrong.returncode == 4
        assert "do not open this database's data" in wrong.stderr
        assert "Traceback" not in missing.stderr + wrong.stderr

        stranger = tmp_path / "stranger.txt"
        _age_keygen(stranger)
        refused, _ = run_cli({}, "keys", "restore", str(escrow), "--identity", str(stranger),
                             keys_dir=lost)  # fmt: skip
        assert refused.returncode == 1
        assert "does not open with" in refused.stderr
        restored, _ = run_cli({}, "keys", "restore", str(escrow), "--identity",
                              str(officers[1]), keys_dir=lost)  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        again, _ = run_cli({}, "keys", "restore", str(escrow), "--identity", str(officers[0]),
                           keys_dir=lost)  # fmt: skip
        assert "already holds keys" in again.stderr  # never overwrites keys

        verified, _ = run_cli(env, "history", "verify", keys_dir=lost)
        assert verified.returncode == 0, verified.stderr
        moved = Settings(
            mongodb_uri=settings.mongodb_uri, keys_dir=lost, db_name=copy, env=settings.env,
            jwks=settings.jwks,
        )  # fmt: skip
        restored_storage = await open_storage(moved)
        try:
            assert await _all(restored_storage) == originals  # every personal field
            for listing in originals.values():
                number = listing.numbers[0].e164
                found = await find_by_number(restored_storage.listings, number)
                assert listing.id in {f.id for f in found}  # the blind index key
        finally:
            await restored_storage.close()
    finally:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
        await client.drop_database(copy)
        await client.close()
    shutil.rmtree(lost)
