"""Bearer tokens: each failure is a 401 with a reason; roles are checked per field."""

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from directory_svc.api.auth import create_dev_keys, mint_dev_token
from directory_svc.config import Settings
from directory_svc.domain.access import Role

QUERY = {"query": "query Few { listings(first: 1) { edges { cursor } } }"}


def _claims(settings: Settings, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": "agent-7",
            "role": "support", "iat": now, "nbf": now, "exp": now + 600}  # fmt: skip
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _sign(keys_dir: Path, claims: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((keys_dir / "dev-jwt.pem").read_bytes(), None)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "dev-1"})  # type: ignore[arg-type]


async def _status(api: TestClient, bearer: str | None) -> tuple[int, str]:
    headers = {"Authorization": bearer} if bearer is not None else {"Authorization": ""}
    resp = await api.post("/graphql", json=QUERY, headers=headers)
    body = await resp.json()
    return resp.status, body["errors"][0]["message"] if resp.status != 200 else ""


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "missing bearer token"),
        ("scheme", "expected Authorization: Bearer <token>"),
        ("expired", "token expired"),
        ("future", "token not yet valid"),
        ("audience", "token not meant for this service (audience)"),
        ("issuer", "token from an unknown issuer"),
        ("signature", "bad token signature"),
        ("garbage", "malformed token"),
        ("role", "token has no known role"),
        ("customer", "customer token without account_id"),
    ],
)
async def test_every_bad_token_is_a_401_with_its_reason(
    api: TestClient, settings: Settings, keys_dir: Path, tmp_path: Path, case: str, reason: str
) -> None:
    now = int(time.time())
    other = tmp_path / "other"
    other.mkdir()
    create_dev_keys(other)
    bearer = {
        "missing": "",
        "scheme": "Basic dXNlcjpwdw==",
        "expired": "Bearer " + _sign(keys_dir, _claims(settings, exp=now - 120)),
        "future": "Bearer " + _sign(keys_dir, _claims(settings, nbf=now + 600)),
        "audience": "Bearer " + _sign(keys_dir, _claims(settings, aud="someone-else")),
        "issuer": "Bearer " + _sign(keys_dir, _claims(settings, iss="https://evil.example")),
        "signature": "Bearer " + _sign(other, _claims(settings)),
        "garbage": "Bearer not.a.jwt",
        "role": "Bearer " + _sign(keys_dir, _claims(settings, role="root")),
        "customer": "Bearer " + _sign(keys_dir, _claims(settings, role="customer")),
    }[case]
    status, message = await _status(api, bearer)
    assert (status, message) == (401, reason)


async def test_a_valid_token_passes_and_health_stays_open(
    api: TestClient, settings: Settings, keys_dir: Path
) -> None:
    token = mint_dev_token(keys_dir, settings.tokens, Role.ADMIN)
    assert (await _status(api, f"Bearer {token}"))[0] == 200
    for path in ("/healthz", "/readyz", "/metrics"):
        # open paths: never 401 (/readyz may say 503 while the indexes are being built)
        assert (await api.get(path, headers={"Authorization": ""})).status in (200, 503)


def test_a_token_is_verified_once_until_it_expires(
    settings: Settings, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the signature of a token is checked once, not on every request."""
    from directory_svc.api.auth import LEEWAY_S, TokenVerifier

    decoded: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    now = [time.time()]
    verifier = TokenVerifier(settings.tokens, now=lambda: now[0])
    token = mint_dev_token(keys_dir, settings.tokens, Role.SUPPORT, subject="agent-1")
    first = verifier.verify(f"Bearer {token}")
    assert verifier.verify(f"Bearer {token}") == first
    assert len(decoded) == 1
    other = mint_dev_token(keys_dir, settings.tokens, Role.SUPPORT, subject="agent-2")
    assert verifier.verify(f"Bearer {other}").subject == "agent-2"
    assert len(decoded) == 2
    now[0] += 3600 + LEEWAY_S + 1  # past the token's expiry: not taken from memory
    verifier.verify(f"Bearer {token}")  # (PyJWT, on the real clock, still accepts it)
    assert len(decoded) == 3
    assert token not in str(verifier._verified)  # only a hash of the token is kept
