"""Bearer tokens: verified with PyJWT against the identity provider's JWKS.

Checked: signature (EdDSA, ES256 or RS256 keys of the JWKS), issuer, audience, expiry and
not-before (30 s leeway), and the role claims. Every failure has a short, safe reason.
A verified token is remembered (by its SHA-256, never the token) until it expires, for at
most ``CACHE_SIZE`` tokens: a signature is checked once per token, not once per request.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt

from directory_svc.config import ConfigError, TokenSettings
from directory_svc.domain.access import Principal, Role

ALGORITHMS = ["EdDSA", "ES256", "RS256"]
LEEWAY_S = 30
CACHE_SIZE = 10_000


class Unauthenticated(Exception):
    """No valid token; ``reason`` is safe to return to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenVerifier:
    """Verifies bearer tokens; built once at start-up (the JWKS is read then, or fetched)."""

    def __init__(self, settings: TokenSettings, now: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._now = now  # PyJWT checks expiry against the system's time too
        self._verified: OrderedDict[bytes, tuple[Principal, float, float]] = OrderedDict()
        self._client: jwt.PyJWKClient | None = None
        self._keys: jwt.PyJWKSet | None = None
        if settings.jwks.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(settings.jwks, cache_keys=True, lifespan=300)
        else:
            try:
                self._keys = jwt.PyJWKSet.from_dict(json.loads(Path(settings.jwks).read_text()))
            except (OSError, ValueError, jwt.PyJWKSetError):
                raise ConfigError(
                    f"DIRECTORY_JWKS: cannot read a JWKS from {settings.jwks}"
                ) from None

    def _key(self, token: str) -> Any:
        try:
            if self._client is not None:
                return self._client.get_signing_key_from_jwt(token).key
            kid = jwt.get_unverified_header(token).get("kid")
        except (jwt.PyJWTError, jwt.PyJWKClientError):
            raise Unauthenticated("malformed token") from None
        assert self._keys is not None
        for key in self._keys.keys:
            if key.key_id == kid:
                return key.key
        raise Unauthenticated("unknown signing key")

    def verify(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization: Bearer …`` header, or ``Unauthenticated``."""
        if not authorization:
            raise Unauthenticated("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("expected Authorization: Bearer <token>")
        token = token.strip()
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None:
            principal, not_before, expires = known
            if not_before - LEEWAY_S <= self._now() < expires + LEEWAY_S:
                self._verified.move_to_end(digest)
                return principal
            del self._verified[digest]
        claims = self._decode(token)
        principal = _principal(claims)
        nbf = claims.get("nbf", 0)
        self._verified[digest] = (
            principal,
            float(nbf) if isinstance(nbf, int | float) else 0.0,
            float(claims["exp"]),
        )
        if len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key(token),
                algorithms=ALGORITHMS,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("token not meant for this service (audience)") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("token from an unknown issuer") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("bad token signature") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token") from None
        return claims


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise Unauthenticated("token has no known role") from None
    account = claims.get("account_id")
    publisher = claims.get("publisher_id")
    if role is Role.CUSTOMER and not isinstance(account, str):
        raise Unauthenticated("customer token without account_id")
    if role is Role.PUBLISHER and not isinstance(publisher, str):
        raise Unauthenticated("publisher token without publisher_id")
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        account_id=account if role is Role.CUSTOMER else None,
        publisher_id=publisher if role is Role.PUBLISHER else None,
    )


DEV_KID = "dev-1"


def create_dev_keys(directory: Path) -> Path:
    """A development signing key and its JWKS (``dev-jwt.pem``, ``dev-jwks.json``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    jwks_path = directory / "dev-jwks.json"
    pem_path = directory / "dev-jwt.pem"
    if jwks_path.exists() and pem_path.exists():
        return jwks_path
    key = Ed25519PrivateKey.generate()
    pem_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pem_path.chmod(0o600)
    public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": DEV_KID, "use": "sig", "alg": "EdDSA"})
    jwks_path.write_text(json.dumps({"keys": [public]}, indent=2) + "\n")
    return jwks_path


def mint_dev_token(
    directory: Path,
    settings: TokenSettings,
    role: Role,
    subject: str | None = None,
    account_id: str | None = None,
    publisher_id: str | None = None,
    ttl_s: int = 3600,
) -> str:
    """A token signed with the development key (for ``token mint`` and tests)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((directory / "dev-jwt.pem").read_bytes(), None)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject or f"dev-{role.value}-{uuid.uuid4().hex[:6]}",
        "role": role.value,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_s,
    }
    if account_id:
        claims["account_id"] = account_id
    if publisher_id:
        claims["publisher_id"] = publisher_id
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": DEV_KID})  # type: ignore[arg-type]
