"""The staff console at ``/console``: static files, the operation ids it may send, the
identity provider it signs in with, and in dev a sign-in that mints a staff token.

The console talks to ``/graphql`` with the ids of the ``support``, ``admin`` and
``console`` documents of ``graphql/operations/`` only, and to the identity provider.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from directory_svc.api.auth import mint_dev_token
from directory_svc.api.pages import static_file
from directory_svc.api.trusted import TrustedDocuments
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.validation import check_id

PAGES = Path(__file__).resolve().parent.parent / "web" / "console"
FILES = {
    "app.js": "text/javascript",
    "api.js": "text/javascript",
    "charts.js": "text/javascript",
    "compliance.js": "text/javascript",
    "i18n.js": "text/javascript",
    "oidc.js": "text/javascript",
    "support.js": "text/javascript",
    "ui.js": "text/javascript",
    "callback.js": "text/javascript",
    "style.css": "text/css",
}
PREFIX = "/console"
SOURCES = ("support", "admin", "console")
"""The documents of ``graphql/operations/`` the console may send."""
CONSOLE_TRUSTED = web.AppKey("console_trusted", TrustedDocuments)
CONSOLE_SETTINGS = web.AppKey("console_settings", Settings)
DEV_ROLES = {"support": Role.SUPPORT, "admin": Role.ADMIN}


def content_security_policy(settings: Settings) -> str:
    """Only its own scripts and styles; connections to the API and the identity provider."""
    connect = " ".join(filter(None, ["'self'", settings.oidc_origin]))
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {connect}; "
        "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def _headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "Cache-Control": "no-cache",
        "Referrer-Policy": "no-referrer",
    }


def _html(settings: Settings, name: str) -> web.Response:
    return static_file(PAGES, name, "text/html", _headers(settings))


async def console(request: web.Request) -> web.Response:
    """The console's HTML."""
    return _html(request.app[CONSOLE_SETTINGS], "index.html")


async def callback(request: web.Request) -> web.Response:
    """Where the identity provider sends the sign-in window back (it hands the code to the
    console that opened it, and closes)."""
    return _html(request.app[CONSOLE_SETTINGS], "callback.html")


async def asset(request: web.Request) -> web.Response:
    """The console's scripts and style sheet."""
    name = request.match_info["file"]
    if name not in FILES:
        raise web.HTTPNotFound()
    return static_file(PAGES, name, FILES[name], _headers(request.app[CONSOLE_SETTINGS]))


async def config(request: web.Request) -> web.Response:
    """What the console needs: operation ids by name, the identity provider, whether dev."""
    settings = request.app[CONSOLE_SETTINGS]
    trusted = request.app[CONSOLE_TRUSTED]
    operations = {
        d.name: d.id.removeprefix("sha256:")
        for source in SOURCES
        for d in trusted.of_source(source)
    }
    oidc = (
        {"issuer": settings.oidc_issuer, "clientId": settings.oidc_client_id}
        if settings.oidc_issuer
        else None
    )
    return web.json_response(
        {"operations": operations, "oidc": oidc, "dev": settings.is_dev},
        headers={"Cache-Control": "no-cache"},
    )


async def dev_token(request: web.Request) -> web.Response:
    """Mint a support or admin token for an agent name (dev only): the dev sign-in."""
    settings = request.app[CONSOLE_SETTINGS]
    if not settings.is_dev or settings.keys_dir is None:
        raise web.HTTPNotFound()
    data = await request.post()
    role = DEV_ROLES.get(str(data.get("role", "")))
    if role is None:
        raise web.HTTPBadRequest(text="role: expected support or admin")
    try:
        agent = check_id("agent", str(data.get("agent", "")).strip())
    except ValidationError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    bearer = mint_dev_token(settings.keys_dir, settings.tokens, role, subject=agent)
    return web.json_response({"token": bearer}, headers={"Cache-Control": "no-store"})


def add_console_routes(app: web.Application, settings: Settings, trusted: TrustedDocuments) -> None:
    """Register the console's routes (open: the page itself needs no token)."""
    app[CONSOLE_TRUSTED] = trusted
    app[CONSOLE_SETTINGS] = settings
    app.router.add_get(PREFIX, console)
    app.router.add_get(f"{PREFIX}/", console)
    app.router.add_get(f"{PREFIX}/callback", callback)
    app.router.add_get(f"{PREFIX}/config.json", config)
    app.router.add_post(f"{PREFIX}/dev-token", dev_token)
    app.router.add_get(f"{PREFIX}/{{file}}", asset)


def is_console(path: str) -> bool:
    """True for the console's own paths (served without a token)."""
    return path == PREFIX or path.startswith(f"{PREFIX}/")
