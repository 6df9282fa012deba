"""Settings from environment variables, validated once at start-up.

Every problem is reported as one line that names the variable (``ConfigError``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Env(StrEnum):
    """Where the service runs: ``dev`` enables GraphiQL and demo conveniences."""

    DEV = "dev"
    TEST = "test"
    PROD = "prod"


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """Where token keys come from (JWKS file or URL) and what tokens must say."""

    jwks: str
    issuer: str
    audience: str


_CHECKOUT_OPERATIONS = Path(__file__).resolve().parent.parent / "graphql" / "operations"
_PACKAGED_OPERATIONS = Path(__file__).resolve().parent / "operations"
OPERATIONS_DIR = _CHECKOUT_OPERATIONS if _CHECKOUT_OPERATIONS.is_dir() else _PACKAGED_OPERATIONS
"""The trusted documents: ``graphql/operations`` of the checkout, or the copy an installed
package carries (``setup.py`` copies it at build time)."""


def _folder(env_vars: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env_vars.get(name, "").strip()
    return Path(raw) if raw else default


def _choice(env_vars: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env_vars.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


def _issuer(env_vars: Mapping[str, str]) -> tuple[str, str]:
    issuer = env_vars.get("DIRECTORY_OIDC_ISSUER", "").strip().rstrip("/")
    client = env_vars.get("DIRECTORY_OIDC_CLIENT_ID", "").strip()
    if issuer and not issuer.startswith(("https://", "http://")):
        raise ConfigError(
            "DIRECTORY_OIDC_ISSUER: expected a URL such as https://idp.example.fr/realms/staff"
        )
    if bool(issuer) != bool(client):
        raise ConfigError("DIRECTORY_OIDC_ISSUER and DIRECTORY_OIDC_CLIENT_ID: set both or neither")
    if client and (len(client) > 200 or not client.isprintable()):
        raise ConfigError("DIRECTORY_OIDC_CLIENT_ID: expected a client id")
    return issuer, client


def _origin(env_vars: Mapping[str, str], name: str) -> str:
    raw = env_vars.get(name, "").strip().rstrip("/")
    if raw and (not raw.startswith(("https://", "http://")) or "/" in raw.split("://", 1)[1]):
        raise ConfigError(f"{name}: expected an origin such as https://portal.example.fr")
    return raw


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated configuration of one service process."""

    mongodb_uri: str
    keys_dir: Path | None
    db_name: str = "annuaire"
    env: Env = Env.PROD
    host: str = "127.0.0.1"
    port: int = 8080
    db_timeout_s: float = 5.0
    max_in_flight: int = 64
    """Requests at the database at once per process (``DIRECTORY_MAX_IN_FLIGHT``)."""
    max_queued: int = 64
    """Requests waiting for one of those (``DIRECTORY_MAX_QUEUED``); beyond, 503."""
    index_timeout_s: float = 3600.0
    """The deadline of the start-up index builds (``DIRECTORY_INDEX_TIMEOUT``)."""
    log_level: str = "INFO"
    key_env: dict[str, str] | None = None
    scheduler: bool = False
    scheduler_tick_s: float = 30.0
    feeds_dir: Path = Path("feeds")
    jwks: str = ""
    jwt_issuer: str = "annuaire-dev"
    jwt_audience: str = "directory-svc"
    lookups_per_hour: int = 300
    staff_reads_per_hour: int = 2000
    mutations_per_minute: int = 30
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    """Reverse proxies whose ``X-Forwarded-For`` names the client (rate limits by address)."""
    operations_dir: Path = OPERATIONS_DIR
    portal_origin: str = ""
    oidc_issuer: str = ""
    """The staff identity provider (``DIRECTORY_OIDC_ISSUER``): the console signs in there."""
    oidc_client_id: str = ""
    """The console's client id at that provider (``DIRECTORY_OIDC_CLIENT_ID``)."""
    write_adapter: str = "auto"
    """``auto`` (asked of the server), ``conditional`` (MongoDB) or ``claims`` (FerretDB)."""

    def require_tokens(self) -> None:
        """Raise unless bearer tokens can be verified (needed to serve)."""
        if not self.jwks:
            raise ConfigError("DIRECTORY_JWKS: not set (file or URL of the token signing keys)")

    @property
    def tokens(self) -> TokenSettings:
        """What bearer tokens are checked against."""
        return TokenSettings(jwks=self.jwks, issuer=self.jwt_issuer, audience=self.jwt_audience)

    def client_address(self, remote: str | None, forwarded_for: str | None) -> str | None:
        """The client's address when the request came through a trusted proxy (the last
        ``X-Forwarded-For`` hop that is not a trusted proxy), else None."""
        if not self.trusted_proxies or not remote or not self._trusted(remote):
            return None
        for hop in reversed((forwarded_for or "").split(",")):
            hop = hop.strip()
            if hop and not self._trusted(hop):
                return hop
        return None

    def _trusted(self, address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    @property
    def oidc_origin(self) -> str:
        """The identity provider's origin (the console's only other connection), or ""."""
        if not self.oidc_issuer:
            return ""
        scheme, rest = self.oidc_issuer.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"

    @property
    def is_dev(self) -> bool:
        """True when running on a developer's machine (``DIRECTORY_ENV=dev``)."""
        return self.env is Env.DEV


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
KEY_VARIABLES = (
    "DIRECTORY_DATA_KEYS",
    "DIRECTORY_ACTIVE_KEY",
    "DIRECTORY_INDEX_KEY",
    "DIRECTORY_HISTORY_KEY",
)


def _number(environ: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: must be between {lo:g} and {hi:g}, got {raw!r}")
    return value


def _networks(environ: Mapping[str, str], name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    out = []
    for raw in environ.get(name, "").replace(" ", "").split(","):
        if raw:
            try:
                out.append(ip_network(raw, strict=False))
            except ValueError:
                raise ConfigError(f"{name}: not an address or network: {raw!r}") from None
    return tuple(out)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings from ``environ`` (default: the process environment)."""
    env_vars = os.environ if environ is None else environ
    uri = env_vars.get("MONGODB_URI", "").strip()
    if not uri:
        raise ConfigError("MONGODB_URI: not set (e.g. mongodb://127.0.0.1:27017/)")
    if not uri.startswith(("mongodb://", "mongodb+srv://")):
        raise ConfigError("MONGODB_URI: must start with mongodb:// or mongodb+srv://")
    db_name = env_vars.get("DIRECTORY_DB", "annuaire").strip()
    if not db_name or any(c in db_name for c in '/\\. "$') or len(db_name) > 63:
        raise ConfigError(f"DIRECTORY_DB: not a valid database name: {db_name!r}")
    raw_env = env_vars.get("DIRECTORY_ENV", "prod").strip().lower()
    try:
        env = Env(raw_env)
    except ValueError:
        raise ConfigError(f"DIRECTORY_ENV: expected dev, test or prod, got {raw_env!r}") from None
    port = _number(env_vars, "DIRECTORY_PORT", 8080, 0, 65535)
    if port != int(port):
        raise ConfigError("DIRECTORY_PORT: expected a whole number")
    log_level = env_vars.get("DIRECTORY_LOG_LEVEL", "INFO").strip().upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(f"DIRECTORY_LOG_LEVEL: expected one of {', '.join(_LOG_LEVELS)}")
    keys_raw = env_vars.get("DIRECTORY_KEYS_DIR", "").strip()
    key_env = {k: env_vars[k] for k in KEY_VARIABLES if env_vars.get(k)}
    if not keys_raw and not key_env:
        raise ConfigError("DIRECTORY_KEYS_DIR: not set (the key directory; see `keys init`)")
    if keys_raw and key_env:
        raise ConfigError("DIRECTORY_KEYS_DIR: set together with DIRECTORY_*_KEY variables")
    scheduler_raw = env_vars.get("DIRECTORY_SCHEDULER", "off").strip().lower()
    if scheduler_raw not in ("on", "off"):
        raise ConfigError(f"DIRECTORY_SCHEDULER: expected on or off, got {scheduler_raw!r}")
    if scheduler_raw == "on" and not keys_raw:
        raise ConfigError("DIRECTORY_SCHEDULER: on needs DIRECTORY_KEYS_DIR (the signing key)")
    oidc_issuer, oidc_client_id = _issuer(env_vars)
    jwks = env_vars.get("DIRECTORY_JWKS", "").strip()
    if not jwks and env is Env.DEV and keys_raw:
        jwks = str(Path(keys_raw) / "dev-jwks.json")
    return Settings(
        mongodb_uri=uri,
        jwks=jwks,
        lookups_per_hour=int(_number(env_vars, "DIRECTORY_LOOKUPS_PER_HOUR", 300, 1, 1_000_000)),
        staff_reads_per_hour=int(
            _number(env_vars, "DIRECTORY_STAFF_READS_PER_HOUR", 2000, 1, 10_000_000)
        ),
        trusted_proxies=_networks(env_vars, "DIRECTORY_TRUSTED_PROXIES"),
        mutations_per_minute=int(
            _number(env_vars, "DIRECTORY_MUTATIONS_PER_MINUTE", 30, 1, 1_000_000)
        ),
        operations_dir=_folder(env_vars, "DIRECTORY_OPERATIONS_DIR", OPERATIONS_DIR),
        portal_origin=_origin(env_vars, "DIRECTORY_PORTAL_ORIGIN"),
        oidc_issuer=oidc_issuer,
        oidc_client_id=oidc_client_id,
        jwt_issuer=env_vars.get("DIRECTORY_JWT_ISSUER", "").strip() or "annuaire-dev",
        jwt_audience=env_vars.get("DIRECTORY_JWT_AUDIENCE", "").strip() or "directory-svc",
        scheduler=scheduler_raw == "on",
        scheduler_tick_s=_number(env_vars, "DIRECTORY_SCHEDULER_TICK", 30.0, 0.1, 3600),
        feeds_dir=Path(env_vars.get("DIRECTORY_FEEDS_DIR", "").strip() or "feeds"),
        keys_dir=Path(keys_raw) if keys_raw else None,
        key_env=key_env or None,
        db_name=db_name,
        env=env,
        host=env_vars.get("DIRECTORY_HOST", "127.0.0.1").strip() or "127.0.0.1",
        port=int(port),
        db_timeout_s=_number(env_vars, "DIRECTORY_DB_TIMEOUT", 5.0, 0.1, 120),
        index_timeout_s=_number(env_vars, "DIRECTORY_INDEX_TIMEOUT", 3600.0, 1, 86400),
        max_in_flight=int(_number(env_vars, "DIRECTORY_MAX_IN_FLIGHT", 64, 1, 100_000)),
        max_queued=int(_number(env_vars, "DIRECTORY_MAX_QUEUED", 64, 0, 100_000)),
        log_level=log_level,
        write_adapter=_choice(
            env_vars, "DIRECTORY_WRITE_ADAPTER", ("auto", "conditional", "claims"), "auto"
        ),
    )
