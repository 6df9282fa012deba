#!/usr/bin/env python3
"""Write an upgrade-test fixture: a database made by the code of an earlier commit.

    .venv/bin/python scripts/make-upgrade-fixture.py COMMIT NAME
    .venv/bin/python scripts/make-upgrade-fixture.py --all     # every fixture of FIXTURES

Extracts COMMIT (``git archive``) into a temporary folder, starts a throw-away FerretDB, and
runs *that* code (its own CLI and services, with this checkout's virtualenv): keys, a CRM
import, publishers, full exports, subscriber and support changes, a termination, a re-import,
delta exports (and, where the commit has the reference applier, the publisher's copies).
Then it dumps every collection (canonical extended JSON) with the key directory and the
feed folders into ``tests/fixtures/upgrade/NAME/``. The keys are test keys made for the
fixture; they protect nothing else. ``tests/test_upgrade.py`` migrates each fixture.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from localdb import LocalFerretDB  # noqa: E402

COLUMNS = [
    "id", "account_id", "kind", "civility", "surname", "first_name", "business_names",
    "numbers", "street_number", "street", "postcode", "insee_code", "commune", "profession",
    "email", "consumer_facing", "listed", "initial_only", "no_gender", "no_street",
    "no_reverse_lookup", "no_marketing", "mobile_consent_ref", "notice_version",
]  # fmt: skip
PEOPLE = [
    ("Martin", "Sophie", "01 44 55 66 01", "12", "rue de la Roquette", "75011", "75056", "Paris"),
    ("Bernard", "Luc", "02 99 11 22 02", "3", "place Sainte-Anne", "35000", "35238", "Rennes"),
    ("Dubois", "Élodie", "02 40 11 22 03", "8", "quai de la Fosse", "44000", "44109", "Nantes"),
    ("Thomas", "Noël", "03 20 11 22 04", "21", "rue Nationale", "59000", "59350", "Lille"),
    ("Robert", "Cécile", "05 56 11 22 05", "5", "cours Victor Hugo", "33000", "33063", "Bordeaux"),
    ("Richard", "Hugo", "06 12 34 56 06", "", "", "35000", "35238", "Rennes"),
    ("Petit", "Chloé", "06 12 34 56 07|07 81 23 45 07", "4", "rue Crébillon", "44000",
     "44109", "Nantes"),
    ("Durand", "Marc", "03 20 11 22 08", "9", "rue de Béthune", "59000", "59350", "Lille"),
    ("Leroy", "Anne", "05 56 11 22 09", "14", "rue Sainte-Catherine", "33000", "33063",
     "Bordeaux"),
    ("Moreau", "Paul", "02 99 11 22 10", "2", "rue d'Antrain", "35000", "35238", "Rennes"),
    ("Martin", "Sylvie", "02 99 11 22 11", "7", "rue de Paris", "35000", "35238", "Rennes"),
    ("Martin", "Serge", "02 99 11 22 12", "9", "rue de Paris", "35000", "35238", "Rennes"),
]  # fmt: skip


def crm_rows(changed: bool = False) -> list[dict[str, str]]:
    """The CRM file: twelve lines; ``changed``: the second import (a move, a new e-mail)."""
    rows = []
    for n, (surname, first, numbers, street_no, street, postcode, insee, commune) in enumerate(
        PEOPLE, 1
    ):
        mobile = numbers.startswith(("06", "07"))
        rows.append(
            {
                "id": f"crm-{n:04d}",
                "account_id": f"acc-{(n + 1) // 2:04d}",
                "kind": "residential",
                "civility": "mme" if n % 2 else "m",
                "surname": surname,
                "first_name": first,
                "business_names": "",
                "numbers": numbers,
                "street_number": street_no,
                "street": street,
                "postcode": postcode,
                "insee_code": insee,
                "commune": commune,
                "profession": "",
                "email": "nouvel@example.fr" if changed and n == 4 else f"abonne{n}@example.fr",
                "consumer_facing": "false",
                "listed": "true",
                "initial_only": "false",
                "no_gender": "false",
                "no_street": "false",
                "no_reverse_lookup": "false",
                "no_marketing": "true" if n % 3 == 0 else "false",
                "mobile_consent_ref": f"CONS-{n}" if mobile else "",
                "notice_version": "notice-2026-01",
            }
        )
    if changed:
        rows[1] |= {"street_number": "11", "street": "rue Saint-Malo"}  # crm-0002 moves
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


CHANGES = """
import asyncio, sys
from dataclasses import replace
from datetime import UTC, datetime
from directory_svc.config import Env, Settings
from directory_svc.domain.choices import Actor, Channel, Provenance
from directory_svc.domain.history import Change
from directory_svc.domain.listings import Status
from directory_svc.services.listings import change_listing
from directory_svc.storage.setup import open_storage

async def main(uri, db, keys, step):
    from pathlib import Path
    storage = await open_storage(Settings(mongodb_uri=uri, keys_dir=Path(keys), db_name=db,
                                          env=Env.DEV))
    repo = storage.listings
    at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    web = Provenance(Actor.SUBSCRIBER, Channel.WEB, at, "notice-2026-01")
    phone = Provenance(Actor.SUPPORT, Channel.PHONE, at, "notice-2026-01")

    async def edit(listing_id, change_id, how, provenance=web, reason=None):
        current = await repo.get(listing_id)
        await change_listing(repo, listing_id, current.version, how,
                             Change(change_id, provenance, reason=reason))

    def choose(**values):
        return lambda i: replace(i, choices=replace(i.choices, **values))

    if step == "pending":
        await edit("crm-0012", "fx-8", choose(listed=False))
        await edit("crm-0002", "fx-9", choose(no_street=True))
        await storage.close()
        return
    await edit("crm-0001", "fx-1", choose(initial_only=True, no_reverse_lookup=True))
    await edit("crm-0003", "fx-2", choose(listed=False))
    await edit("crm-0008", "fx-3", choose(no_street=True, no_gender=True))
    await edit("crm-0009", "fx-4", lambda i: replace(i, mention="Sur rendez-vous"))
    await edit("crm-0010", "fx-5", choose(no_marketing=True), phone, "appel du 20/11")
    for n in range(6):  # a longer history
        await edit("crm-0011", f"fx-6-{n}", choose(initial_only=n % 2 == 0))
    await edit("crm-0005", "fx-7", lambda i: replace(i, status=Status.TERMINATED),
               Provenance(Actor.SUPPORT, Channel.PHONE, at, "notice-2026-01"), "résiliation")
    await storage.close()

asyncio.run(main(*sys.argv[1:]))
"""


def dump(uri: str, db_name: str, out: Path) -> dict[str, int]:
    """Every collection of ``db_name`` as ``{"c": name, "d": document}`` lines, gzipped."""
    from bson import json_util
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(uri)
    counts: dict[str, int] = {}
    options = json_util.CANONICAL_JSON_OPTIONS
    with gzip.open(out, "wt", encoding="utf-8") as f:
        for name in sorted(client[db_name].list_collection_names()):
            docs = list(client[db_name][name].find().sort("_id", 1))
            counts[name] = len(docs)
            for doc in docs:
                f.write(json_util.dumps({"c": name, "d": doc}, json_options=options) + "\n")
    client.close()
    return counts


def main(commit: str, name: str) -> int:
    target = ROOT / "tests" / "fixtures" / "upgrade" / name
    with tempfile.TemporaryDirectory(prefix="upgrade-") as tmp_:
        tmp = Path(tmp_)
        code = tmp / "code"
        code.mkdir()
        archive = subprocess.run(
            ["git", "archive", commit], cwd=ROOT, check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(code, filter="data")
        sha = subprocess.run(
            ["git", "rev-parse", commit], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
        db = LocalFerretDB(tmp / "ferretdb")
        db.start()
        try:
            keys, feeds = tmp / "keys", tmp / "feeds"
            env = {
                "PATH": os.environ["PATH"],
                "PYTHONPATH": str(code),
                "MONGODB_URI": db.uri,
                "DIRECTORY_DB": "upgrade",
                "DIRECTORY_KEYS_DIR": str(keys),
                "DIRECTORY_ENV": "dev",
                "DIRECTORY_OPERATIONS_DIR": str(code / "graphql" / "operations"),
                "DIRECTORY_FEEDS_DIR": str(feeds),
            }

            def cli(*args: str) -> str:
                done = subprocess.run(
                    [sys.executable, "-c", "import sys; from directory_svc.cli import main; "
                     "sys.exit(main())", *args],
                    env=env, cwd=code, capture_output=True, text=True,
                )  # fmt: skip
                if done.returncode != 0:
                    raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
                return done.stdout

            cli("keys", "init")
            write_csv(tmp / "crm.csv", crm_rows())
            cli("import", str(tmp / "crm.csv"))
            cli("publisher", "add", "pagesjaunes", "--name", "Annuaire Exemple", "--kind",
                "directory")  # fmt: skip
            cli("publisher", "add", "inverse", "--name", "Inverse Exemple", "--kind",
                "reverse_lookup")  # fmt: skip
            for publisher in ("pagesjaunes", "inverse"):
                cli("export", "run", "--publisher", publisher, "--full", "--out", str(feeds))
            write_csv(tmp / "crm2.csv", crm_rows(changed=True))
            cli("import", str(tmp / "crm2.csv"))
            changes = [sys.executable, "-c", CHANGES, db.uri, "upgrade", str(keys)]
            subprocess.run([*changes, "exported"], env=env, cwd=code, check=True)
            for publisher in ("pagesjaunes", "inverse"):
                cli("export", "run", "--publisher", publisher, "--out", str(feeds))
            # Changes made after the last feed: the first delta after the upgrade carries them.
            subprocess.run([*changes, "pending"], env=env, cwd=code, check=True)
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            counts = dump(db.uri, "upgrade", target / "database.jsonl.gz")
        finally:
            db.stop()
        shutil.copytree(keys, target / "keys")
        shutil.copytree(feeds, target / "feeds")
        (target / "fixture.json").write_text(
            json.dumps({"commit": sha, "collections": counts}, indent=2) + "\n"
        )
    print(f"wrote {target.relative_to(ROOT)}: {sum(counts.values())} documents from {sha[:12]}")
    return 0


FIXTURES = {
    "before-versions": "325abef",  # publishers not versioned yet; one feed_ledger
    "round-1": "7c5ea29",  # the end of the first round of work
    "before-entry-hashes": "72c8b02",  # ledger by generation, rows without entry hashes
    "before-upgrades": "38384f4",  # the last commit before versioned migrations
}

if __name__ == "__main__":
    if sys.argv[1:] == ["--all"]:
        for fixture, at in FIXTURES.items():
            main(at, fixture)
        raise SystemExit(0)
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
