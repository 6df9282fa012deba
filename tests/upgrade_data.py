"""Databases written by earlier releases (``tests/fixtures/upgrade/``, made by
``scripts/make-upgrade-fixture.py``), restored for the upgrade tests."""

from __future__ import annotations

import gzip
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from bson import json_util
from pymongo import AsyncMongoClient

from directory_svc.config import Env, Settings

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures" / "upgrade"
FIXTURES = sorted(p for p in FIXTURES_DIR.iterdir() if (p / "database.jsonl.gz").is_file())


async def restore(uri: str, db_name: str, fixture: Path) -> None:
    """Drop ``db_name`` and fill it with the fixture's documents, as they were stored."""
    docs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with gzip.open(fixture / "database.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json_util.loads(line)
            docs[row["c"]].append(row["d"])
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        await client.drop_database(db_name)
        for name, items in docs.items():
            if items:
                await client[db_name][name].insert_many(items)
            else:
                await client[db_name].create_collection(name)
    finally:
        await client.close()


def fixture_settings(uri: str, db_name: str, fixture: Path, tmp_path: Path) -> Settings:
    """Settings on ``db_name`` with a copy of the fixture's keys (the test may change them)."""
    keys = tmp_path / f"keys-{fixture.name}"
    if not keys.exists():
        shutil.copytree(fixture / "keys", keys)
    return Settings(
        mongodb_uri=uri,
        keys_dir=keys,
        db_name=db_name,
        env=Env.DEV,
        db_timeout_s=60.0,
        jwks=str(keys / "dev-jwks.json"),
    )
