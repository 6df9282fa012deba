"""`directory-svc import`: every bad row reported, the rest imported, re-runs add nothing."""

import csv
import io
import json
from functools import cache
from pathlib import Path

import pytest

from directory_svc.services.importer import COLUMNS
from directory_svc.services.seed import demo_listings
from tests.test_cli_serve import run_cli


@cache
def _row(n: int) -> dict[str, str]:
    item = next(iter(demo_listings(1, seed=1000 + n)))
    a, c = item.address, item.choices
    return {
        "id": f"crm-{n:06d}",
        "account_id": f"acc-{n:06d}",
        "kind": item.kind.value,
        "civility": item.civility.value if item.civility else "",
        "surname": item.surname,
        "first_name": item.first_name,
        "business_names": "|".join(item.business_names),
        "numbers": item.numbers[0].e164,
        "street_number": a.number or "",
        "street": a.street or "",
        "postcode": a.postcode,
        "insee_code": a.insee_code,
        "commune": a.commune,
        "profession": item.profession or "",
        "email": item.email or "",
        "consumer_facing": str(item.consumer_facing).lower(),
        "listed": str(c.listed).lower(),
        "mobile_consent_ref": item.numbers[0].consent.reference if item.numbers[0].consent else "",
        "notice_version": "notice-2026-01",
    }


BAD = [
    ("numbers", "06 12"),
    ("insee_code", "7505"),
    ("mention", "x" * 31),
    ("surname", "Nul\x00"),
    ("postcode", "ABCDE"),
    ("listed", "maybe"),
]


@pytest.mark.timeout(900)  # two CLI imports of 10,000 rows: 70 to 220 s depending on the machine
def test_ten_thousand_rows_with_three_percent_bad(
    tmp_path: Path, mongo_uri: str, db_name: str, keys_dir: Path
) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), delimiter=";")
    writer.writeheader()
    bad_lines: set[int] = set()
    for n in range(10_000):
        row = _row(n % 400) | {"id": f"crm-{n:06d}", "account_id": f"acc-{n:06d}"}
        if n % 100 < 3:  # 3 %
            field, value = BAD[n % len(BAD)]
            row[field] = value
            bad_lines.add(n + 2)  # header is line 1
        writer.writerow(row)
    data = out.getvalue().encode()
    # One row with bytes that are not UTF-8.
    data = data.replace(b"crm-000050;", b"crm-000050\xff\xfe;", 1)
    bad_lines.add(52)
    path = tmp_path / "crm.csv"
    path.write_bytes(data)
    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}

    done, _ = run_cli(env, "import", str(path), keys_dir=keys_dir)
    assert done.returncode == 1  # some rows were rejected
    rejected = [line for line in done.stderr.splitlines() if ": rejected: " in line]
    assert {int(line.split(":")[1]) for line in rejected} == bad_lines
    assert f"{10_000 - len(bad_lines)} new, 0 changed, 0 unchanged" in done.stdout
    assert "Nul" not in done.stderr

    again, _ = run_cli(env, "import", str(path), keys_dir=keys_dir)
    assert f"0 new, 0 changed, {10_000 - len(bad_lines)} unchanged" in again.stdout


def test_json_lines_with_forbidden_keys_are_rejected(
    tmp_path: Path, mongo_uri: str, db_name: str, keys_dir: Path
) -> None:
    rows = [
        _row(1),
        _row(2) | {"$where": "1"},
        _row(3) | {"address.street": "x"},
        _row(4) | {"surname": "x" * 10_000_000},
    ]
    path = tmp_path / "crm.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}
    done, _ = run_cli(env, "import", str(path), keys_dir=keys_dir)
    lines = [line for line in done.stderr.splitlines() if "rejected" in line]
    reasons = {int(line.split(":")[1]): line for line in lines}
    assert set(reasons) == {2, 3, 4, 5}
    assert "$where: is not an import column" in reasons[2]
    assert "address.street: is not an import column" in reasons[3]
    assert "surname: must be at most 1000 characters" in reasons[4]
    assert "1 new" in done.stdout


def _excel_csv(rows: list[dict[str, str]]) -> str:
    """The text Excel writes for these rows: `;`-separated, CRLF line ends."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_files_saved_by_excel_import_alike(
    tmp_path: Path, mongo_uri: str, db_name: str, keys_dir: Path
) -> None:
    """Issue 24: Excel's "CSV UTF-8" (a byte-order mark) and French Excel's plain "CSV
    (séparateur : point-virgule)" (Windows-1252) store the same listings; the import says
    which encoding it read; a file that is neither is refused whole, with one clear line."""
    rows = [_row(n) for n in range(5)]
    rows[0] |= {"surname": "Lefèvre", "first_name": "Cécile", "profession": "Cœur d'œuvre"}
    rows[1] |= {"surname": "Çelik", "first_name": "Noël"}
    text = _excel_csv(rows)
    files = {
        "utf8-bom.csv": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "windows.csv": text.encode("cp1252"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}

    first, _ = run_cli(env, "import", str(tmp_path / "utf8-bom.csv"), keys_dir=keys_dir)
    assert first.returncode == 0, first.stderr
    assert "5 new, 0 changed, 0 unchanged, 0 rejected" in first.stdout
    assert "read utf8-bom.csv as UTF-8 (with a byte-order mark)" in first.stderr
    # The same rows from the Windows-1252 file are the rows already imported, to the byte.
    second, _ = run_cli(env, "import", str(tmp_path / "windows.csv"), keys_dir=keys_dir)
    assert second.returncode == 0, second.stderr
    assert "0 new, 0 changed, 5 unchanged, 0 rejected" in second.stdout
    assert "read windows.csv as Windows-1252" in second.stderr
    forced, _ = run_cli(
        env, "import", "--encoding", "windows-1252", str(tmp_path / "windows.csv"),
        keys_dir=keys_dir,
    )  # fmt: skip
    assert "0 new, 0 changed, 5 unchanged" in forced.stdout

    neither = tmp_path / "neither.csv"  # 0x81 and 0x8D mean nothing in Windows-1252
    neither.write_bytes(text.encode("cp1252").replace(b"Lef\xe8vre", b"Lef\x81\x8dvre"))
    refused, _ = run_cli(env, "import", str(neither), keys_dir=keys_dir)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "directory-svc: import: neither.csv is neither UTF-8 nor Windows-1252 (line 2); "
        'save it as "CSV UTF-8" or give --encoding'
    )
    wrong, _ = run_cli(env, "import", "--encoding", "utf-8", str(tmp_path / "windows.csv"),
                       keys_dir=keys_dir)  # fmt: skip
    assert wrong.returncode == 1
    assert "windows.csv is not valid UTF-8 (line 2)" in wrong.stderr
    unknown, _ = run_cli(env, "import", "--encoding", "klingon", str(neither), keys_dir=keys_dir)
    assert "unknown encoding: klingon" in unknown.stderr
