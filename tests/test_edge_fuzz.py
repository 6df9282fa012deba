"""Issue 16: random bodies, headers and variables never produce a 500 or a stack trace.

The service runs in a thread with its own event loop; hypothesis drives plain HTTP
requests at it, so each example is one real request through every middleware.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from directory_svc.app import create_app
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from tests.conftest import OPERATIONS, token

EXAMPLES = 2000


class _Server:
    """The app served on a free port from a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._failed: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the test thread
            self._failed = exc
            self._ready.set()

    async def _serve(self) -> None:
        runner = web.AppRunner(create_app(self.settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> _Server:
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            raise self._failed
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()


@pytest.fixture
def server(settings: Settings) -> Iterator[_Server]:
    with _Server(settings) as running:
        yield running


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
_known = [path.read_text() for path in sorted(OPERATIONS.glob("*.graphql"))]
queries = st.one_of(
    st.sampled_from(_known),
    st.sampled_from(
        [
            "{ __typename }",
            "{ me { accountId } }",
            "mutation { x }",
            "{",
            'query Q($a: Int!) { listing(id: $a, purpose: "p") { id } }',
        ]
    ),
    st.text(max_size=60),
    json_values,
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "query": queries,
            "operationName": st.one_of(st.text(max_size=12), json_values),
            "variables": json_values,
            "extensions": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {
                        "persistedQuery": st.fixed_dictionaries(
                            {
                                "version": json_values,
                                "sha256Hash": st.one_of(st.text(max_size=64), json_values),
                            }
                        )
                    }
                ),
            ),
        },
    ).map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "",
        "multipart/form-data",
        "application/graphql",
    ]
)
accepts = st.one_of(
    st.sampled_from(
        [
            "",
            "*/*",
            "application/json",
            "application/graphql-response+json",
            "application/graphql-response+json;q=0.9, application/json;q=0.1",
            "text/html",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)
methods = st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE"])
tokens = st.sampled_from(["support", "customer", "admin", "garbage", "none"])


@hsettings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(method=methods, body=bodies, content_type=content_types, accept=accepts, who=tokens)
def test_no_request_produces_a_500_or_a_trace(
    server: _Server, method: str, body: bytes, content_type: str, accept: str, who: str
) -> None:
    headers = {"Content-Type": content_type, "Accept": accept}
    headers = {k: v for k, v in headers.items() if v}
    bearer = _bearer(server.settings, who)
    if bearer:
        headers["Authorization"] = bearer
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request(method, "/graphql", body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
    finally:
        conn.close()
    assert resp.status < 500, (resp.status, text[:300])
    assert "Traceback" not in text
    assert 'File "' not in text
    assert resp.getheader("X-Content-Type-Options") == "nosniff"
    if resp.status >= 400 and "json" in (resp.getheader("Content-Type") or ""):
        assert isinstance(json.loads(text)["errors"][0]["message"], str)


_TOKENS: dict[str, str] = {}


def _bearer(settings: Settings, who: str) -> str | None:
    if who == "none":
        return None
    if who == "garbage":
        return "Bearer not-a-token"
    if who not in _TOKENS:
        claims: dict[str, Any] = {"account_id": "acc-fuzz"} if who == "customer" else {}
        _TOKENS[who] = token(settings, Role(who), subject=f"fuzz-{who}", **claims)
    return f"Bearer {_TOKENS[who]}"
