"""Helpers for the R10 operation tests: CRM files, feed replay, fresh full feeds."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from directory_svc.domain.publishers import Publisher
from directory_svc.services.importer import ImportReport, import_file
from directory_svc.storage.setup import Storage
from exporters.digest import copy_digest, record_hash
from exporters.formats import columns
from exporters.selection import expected_records


def crm_row(n: int, **over: str) -> dict[str, str]:
    """One CRM row (a residential fixed line in Rennes unless overridden)."""
    row = {
        "id": f"crm-{n:04d}",
        "account_id": f"acc-{n:04d}",
        "kind": "residential",
        "civility": "mme",
        "surname": f"Nom{n}",
        "first_name": "Jeanne",
        "business_names": "",
        "numbers": f"0299{n:06d}",
        "street_number": str(n),
        "street": "rue de la Paix",
        "postcode": "35000",
        "insee_code": "35238",
        "commune": "Rennes",
        "profession": "",
        "mention": "",
        "email": f"n{n}@example.fr",
        "listed": "",
        "initial_only": "",
        "no_reverse_lookup": "",
        "mobile_consent_ref": "",
        "notice_version": "notice-2026-01",
    }
    row.update(over)
    return row


def crm_file(rows: list[dict[str, str]]) -> bytes:
    """A CRM CSV file (``;``, header) holding ``rows`` (columns: every row's, first seen
    first; a row without a column leaves it empty)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, delimiter=";", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def import_rows(storage: Storage, rows: list[dict[str, str]]) -> ImportReport:
    """Import ``rows`` through the import service, as ``directory-svc import`` does."""
    return await import_file(storage.listings, storage.accounts, "crm.csv", crm_file(rows))


def records(folder: Path) -> list[dict[str, Any]]:
    """The records of one published feed folder (plain payloads only)."""
    manifest = json.loads((folder / "manifest.json").read_text())["manifest"]
    payload = folder / manifest["payload"]["file"]
    if manifest["format"] == "jsonl":
        return [json.loads(line) for line in payload.read_text().splitlines()]
    with payload.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=";"))


def replayed(out_dir: Path, publisher_id: str) -> dict[str, dict[str, Any]]:
    """What a publisher holds after applying every published feed of its own, in order
    (a full feed replaces everything, a delta upserts and deletes)."""
    state: dict[str, dict[str, Any]] = {}
    folders = sorted(
        (p for p in out_dir.iterdir() if p.is_dir() and p.name.startswith(f"{publisher_id}-")),
        key=lambda p: int(p.name.rsplit("-", 2)[1]),
    )
    for folder in folders:
        if folder.name.rsplit("-", 2)[0] != publisher_id:
            continue
        if folder.name.endswith("-full"):
            state.clear()
        for record in records(folder):
            if record["action"] == "delete":
                state.pop(record["entry_id"], None)
            else:
                state[record["entry_id"]] = record
    return state


async def fresh_full(storage: Storage, publisher: Publisher) -> dict[str, dict[str, Any]]:
    """What a fresh full feed would give ``publisher`` now (nothing is written anywhere)."""
    return {
        values["entry_id"]: values async for values in expected_records(storage.listings, publisher)
    }


def as_text(record: dict[str, Any]) -> dict[str, str]:
    """A record with every value as its CSV text (to compare JSONL and CSV alike)."""
    return {
        k: "" if v is None else ("true" if v is True else "false" if v is False else str(v))
        for k, v in record.items()
    }


def comparable(state: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Records keyed by entry id, as text, without the delete-only ``reason`` column."""
    return {
        entry: {k: v for k, v in as_text(record).items() if k != "reason"}
        for entry, record in state.items()
    }


def digest_of(state: dict[str, dict[str, Any]], publisher: Publisher) -> str:
    """The copy digest (``exporters.digest``) of records keyed by entry id (e.g. a fresh
    full feed's): what an acknowledgement of that copy says."""
    cols = columns(publisher.profile.fields)
    return copy_digest((entry, record_hash(values, cols)) for entry, values in state.items())
