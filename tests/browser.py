"""Shared by the browser tests: Debian's Chromium driven by Playwright, screenshots, and
the axe-core audit (WCAG 2.1 A and AA rules, run in the page)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SHOTS = Path(os.environ.get("TEST_OUTPUT", "test-output")) / "browser"
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def require_chromium() -> None:
    """Skip the module without Debian's chromium (unless REQUIRE_BROWSER is set)."""
    if not shutil.which(CHROMIUM) and not os.environ.get("REQUIRE_BROWSER"):
        pytest.skip("Debian's chromium is missing (.ci/run installs it)", allow_module_level=True)


async def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 AA violations on the page as it is now, one line each."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options={**WCAG_AA, "resultTypes": ["violations"]})
    return [
        f"{v['id']}: {v['help']} ({', '.join(str(n['target']) for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]
