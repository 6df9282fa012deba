"""The customer preferences form at ``/preferences``: static files, its operation ids, and
in dev a login page that mints a customer token.

The page talks to ``/graphql`` with the ids of ``graphql/operations/customer.graphql`` only.
"""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

from directory_svc.api.auth import mint_dev_token
from directory_svc.api.trusted import TrustedDocuments
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.validation import check_id

PAGES = Path(__file__).resolve().parent.parent / "web" / "preferences"
FILES = {
    "app.js": "text/javascript",
    "i18n.js": "text/javascript",
    "style.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
PREFIX = "/preferences"
TRUSTED = web.AppKey("trusted", TrustedDocuments)
PAGE_SETTINGS = web.AppKey("page_settings", Settings)


def content_security_policy(settings: Settings) -> str:
    """Strict CSP of the form: only its own script, style and API; framed by the portal."""
    ancestors = settings.portal_origin or "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )


def _page_headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "Cache-Control": "no-cache",
    }


def static_file(
    folder: Path, name: str, content_type: str, headers: dict[str, str]
) -> web.Response:
    """One file of a page's folder, as UTF-8 text with the page's headers."""
    return web.Response(
        body=(folder / name).read_bytes(),
        content_type=content_type,
        charset="utf-8",
        headers=headers,
    )


async def form(request: web.Request) -> web.Response:
    """The form's HTML."""
    headers = _page_headers(request.app[PAGE_SETTINGS])
    return static_file(PAGES, "index.html", "text/html", headers)


async def asset(request: web.Request) -> web.Response:
    """The form's script and style sheet."""
    name = request.match_info["file"]
    if name not in FILES:
        raise web.HTTPNotFound()
    return static_file(PAGES, name, FILES[name], _page_headers(request.app[PAGE_SETTINGS]))


async def config(request: web.Request) -> web.Response:
    """What the page needs: operation ids by name, the portal origin, whether dev."""
    settings = request.app[PAGE_SETTINGS]
    documents = request.app[TRUSTED].of_source("customer")
    return web.json_response(
        {
            "operations": {d.name: d.id.removeprefix("sha256:") for d in documents},
            "portalOrigin": settings.portal_origin,
            "dev": settings.is_dev,
        },
        headers={"Cache-Control": "no-cache"},
    )


DEV_LOGIN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dev login</title>
<link rel="stylesheet" href="/preferences/style.css">
<link rel="icon" href="/preferences/favicon.svg"></head>
<body><main><h1>Development login</h1>
<p>Only with <code>DIRECTORY_ENV=dev</code>: signs a customer token for an account.</p>
<form method="post" action="/preferences/dev-login">
<label for="account">Account id</label>
<input id="account" name="account" required value="{account}">
<button type="submit">Open the form</button></form></main></body></html>"""


async def dev_login(request: web.Request) -> web.Response:
    """A page to pick an account (dev only)."""
    settings = request.app[PAGE_SETTINGS]
    if not settings.is_dev:
        raise web.HTTPNotFound()
    account = html.escape(request.query.get("account", ""))
    return web.Response(
        text=DEV_LOGIN.format(account=account),
        content_type="text/html",
        headers=_page_headers(settings),
    )


async def dev_login_post(request: web.Request) -> web.Response:
    """Mint a customer token for the account and open the form with it (dev only)."""
    settings = request.app[PAGE_SETTINGS]
    if not settings.is_dev or settings.keys_dir is None:
        raise web.HTTPNotFound()
    form_data = await request.post()
    try:
        account = check_id("account", str(form_data.get("account", "")).strip())
    except ValidationError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    bearer = mint_dev_token(settings.keys_dir, settings.tokens, Role.CUSTOMER, account_id=account)
    raise web.HTTPSeeOther(f"{PREFIX}#token={bearer}")


def add_routes(app: web.Application, settings: Settings, trusted: TrustedDocuments) -> None:
    """Register the form's routes (open: the page itself needs no token)."""
    app[TRUSTED] = trusted
    app[PAGE_SETTINGS] = settings
    app.router.add_get(PREFIX, form)
    app.router.add_get(f"{PREFIX}/", form)
    app.router.add_get(f"{PREFIX}/config.json", config)
    app.router.add_get(f"{PREFIX}/dev-login", dev_login)
    app.router.add_post(f"{PREFIX}/dev-login", dev_login_post)
    app.router.add_get(f"{PREFIX}/{{file}}", asset)


def is_page(path: str) -> bool:
    """True for the form's own paths (served without a token)."""
    return path == PREFIX or path.startswith(f"{PREFIX}/")
