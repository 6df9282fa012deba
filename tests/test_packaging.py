"""Issue 13: an installed service works without the checkout (trusted documents and the
form's files ship in the wheel)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK = """
import json
from pathlib import Path
from directory_svc.api.pages import PAGES
from directory_svc.api.trusted import TrustedDocuments
from directory_svc.app import create_app
from directory_svc.config import OPERATIONS_DIR, Settings
docs = TrustedDocuments.load(OPERATIONS_DIR)
create_app(Settings(mongodb_uri="mongodb://127.0.0.1:1/", keys_dir=Path("."), jwks="x"))
print(json.dumps({"operations": str(OPERATIONS_DIR), "pages": str(PAGES),
                  "form": (PAGES / "index.html").is_file(),
                  "documents": len(docs.of_source("customer"))}))
"""


@pytest.mark.timeout(900)  # building a wheel: a few seconds, more on a loaded machine
def test_an_installed_wheel_works_without_the_checkout(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("directory_svc", "exporters", "graphql"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (wheel,) = wheels.glob("directory_svc-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["operations"].startswith(str(site))  # the packaged copy, not the checkout
    assert found["pages"].startswith(str(site))
    assert found["form"] is True
    checkout = (ROOT / "graphql" / "operations" / "customer.graphql").read_text()
    assert found["documents"] == checkout.count("\nquery ") + checkout.count("\nmutation ")
