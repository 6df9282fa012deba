"""Key rotation and history verification, as use cases for the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from directory_svc.domain.errors import DomainError
from directory_svc.storage.keys import add_data_key, remove_data_key
from directory_svc.storage.listings import ListingRepository
from directory_svc.storage.maintenance import broken_chains, reencrypt_all


class KeyInUse(DomainError):
    """A data key cannot be retired while it is active or still used."""


async def rotate_keys(
    repo: ListingRepository, keys_dir: Path, progress: Callable[[int], None] | None = None
) -> tuple[str, int]:
    """Add a new active data key and re-encrypt every listing under it; (kid, count)."""
    kid = add_data_key(keys_dir)
    repo.codec.cipher.keys.reload()
    return kid, await reencrypt_all(repo, progress=progress)


async def retire_key(repo: ListingRepository, keys_dir: Path, kid: str) -> None:
    """Delete data key ``kid`` once no listing uses it."""
    keys = repo.codec.cipher.keys
    keys.reload()
    if kid == keys.active_kid:
        raise KeyInUse(f"key {kid} is the active key; rotate first")
    if kid not in keys.kids:
        raise KeyInUse(f"key {kid} does not exist")
    if await repo.count_under(kid):
        raise KeyInUse(f"key {kid} is still used; run `keys rotate` to finish re-encryption")
    remove_data_key(keys_dir, kid)


async def verify_history(repo: ListingRepository) -> list[tuple[str, str]]:
    """Every listing whose history chain is broken, with what is wrong."""
    return [item async for item in broken_chains(repo)]
