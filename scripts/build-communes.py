#!/usr/bin/env python3
"""Regenerate directory_svc/reference/communes.tsv.gz from Etalab's official commune list.

Source: the npm package @etalab/decoupage-administratif (data/communes.json), itself built
from INSEE's Code officiel géographique and La Poste's postcode base. Run:

    python scripts/build-communes.py            # fetches the pinned version with `npm pack`
    python scripts/build-communes.py FILE.json  # or from an already downloaded communes.json

Kept: current communes and the municipal arrondissements of Paris, Lyon and Marseille.
Columns: INSEE code, name, département, postcodes (space-separated), population.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@etalab/decoupage-administratif"
VERSION = "6.0.0"
OUT = Path(__file__).resolve().parent.parent / "directory_svc" / "reference" / "communes.tsv.gz"
KEPT = {"commune-actuelle", "arrondissement-municipal"}


def fetch() -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=tmp, check=True)
        tgz = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/data/communes.json")
            assert member is not None
            return json.load(member)  # type: ignore[no-any-return]


def main() -> int:
    rows = json.loads(Path(sys.argv[1]).read_text()) if len(sys.argv) > 1 else fetch()
    lines = [f"# source: npm {PACKAGE}@{VERSION} data/communes.json (INSEE COG, La Poste)"]
    lines.append("# code\tname\tdepartement\tpostcodes\tpopulation")
    kept = 0
    for c in sorted(rows, key=lambda c: str(c["code"])):
        if c["type"] not in KEPT:
            continue
        postcodes = " ".join(sorted(set(c.get("codesPostaux") or [])))  # type: ignore[arg-type]
        lines.append(
            f"{c['code']}\t{c['nom']}\t{c['departement']}\t{postcodes}\t{c.get('population') or 0}"
        )
        kept += 1
    OUT.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    print(f"wrote {kept} communes to {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
