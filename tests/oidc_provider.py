"""A real OpenID Connect provider for the console's browser tests: mock-oauth2-server
(Maven Central; scripts/oidc-provider.sh resolves it), started per test session.

Its interactive sign-in page takes a subject and the claims to put in the tokens (the
``role`` and the audience the service checks); it implements discovery, JWKS, the
authorization code flow and PKCE (a wrong ``code_verifier`` is refused).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAIN = "no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt"
ISSUER_ID = "staff"
START_DEADLINE_S = 180.0  # a JVM on a loaded two-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _missing(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def oidc_provider(log_path: Path) -> Iterator[str]:
    """Start the provider; yield its issuer URL; stop it."""
    if shutil.which("java") is None:
        _missing("java is missing (.ci/run installs Debian's default-jre-headless)")
    resolved = subprocess.run(
        [str(ROOT / "scripts" / "oidc-provider.sh")], capture_output=True, text=True, check=False
    )
    if resolved.returncode != 0:
        _missing(f"mock-oauth2-server could not be resolved: {resolved.stderr.strip()[-300:]}")
    port = _free_port()
    env = {**os.environ, "SERVER_PORT": str(port), "JSON_CONFIG": '{"interactiveLogin": true}'}
    issuer = f"http://localhost:{port}/{ISSUER_ID}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["java", "-cp", resolved.stdout.strip(), MAIN], env=env, stdout=log, stderr=log
        )
        try:
            _wait_ready(process, f"{issuer}/.well-known/openid-configuration")
            yield issuer
        finally:
            process.terminate()
            process.wait(30)


def _wait_ready(process: subprocess.Popen[bytes], url: str) -> None:
    """Until the discovery document answers (or the process ends, or the deadline)."""
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the OpenID provider exited ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling a starting JVM for readiness, not timing a behaviour
    raise RuntimeError("the OpenID provider did not start in time")
