"""Pushing published feed folders to a publisher's SFTP server (asyncssh).

The folder is uploaded as ``.<name>.partial`` and renamed once complete, so the publisher
never picks up half a feed. The server is pinned by the host key in the registration.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncssh
from asyncssh import SFTPClient

from directory_svc.domain.publishers import SftpTarget

CONNECT_TIMEOUT_S = 20


class DeliveryFailed(Exception):
    """The push did not complete; the message names the server, never a secret."""


@asynccontextmanager
async def _sftp_client(target: SftpTarget, client_key: Path) -> AsyncIterator[SFTPClient]:
    """An SFTP session with the publisher's server, pinned to its registered host key."""
    known = asyncssh.import_known_hosts(f"[{target.host}]:{target.port} {target.host_key}\n")
    async with (
        asyncssh.connect(
            target.host,
            port=target.port,
            username=target.username,
            client_keys=[str(client_key)],
            known_hosts=known,
            connect_timeout=CONNECT_TIMEOUT_S,
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        yield sftp


async def push_sftp(folder: Path, target: SftpTarget, client_key: Path) -> None:
    """Upload ``folder`` into the target directory, atomically (upload, then rename)."""
    files = await asyncio.to_thread(lambda: sorted(folder.iterdir()))
    try:
        async with _sftp_client(target, client_key) as sftp:
            partial = f"{target.directory.rstrip('/')}/.{folder.name}.partial"
            final = f"{target.directory.rstrip('/')}/{folder.name}"
            if await sftp.exists(final):
                return  # delivered before (a retry after a lost acknowledgement)
            if await sftp.exists(partial):
                await sftp.rmtree(partial)
            await sftp.mkdir(partial)
            for path in files:
                await sftp.put(str(path), f"{partial}/{path.name}")
            await sftp.rename(partial, final)
    except (OSError, asyncssh.Error) as exc:
        raise DeliveryFailed(
            f"SFTP push to {target.address} failed: {type(exc).__name__}"
        ) from None


ACKS_DIR = "acks"
"""Where a push publisher drops its acknowledgements, under its feed directory."""


async def collect_acks(
    target: SftpTarget,
    client_key: Path,
    handle: Callable[[str, bytes], Awaitable[str | None]],
) -> list[str]:
    """Fetch each ``<directory>/acks/*.json`` the publisher dropped and hand it to
    ``handle``, which returns None when recorded, else why it was refused. Recorded files
    move to ``acks/received/``; refused ones to ``acks/refused/`` with ``<name>.error``
    saying why. Returns the names handled."""
    base = f"{target.directory.rstrip('/')}/{ACKS_DIR}"
    handled = []
    try:
        async with _sftp_client(target, client_key) as sftp:
            if not await sftp.isdir(base):
                return []
            for sub in ("received", "refused"):
                if not await sftp.isdir(f"{base}/{sub}"):
                    await sftp.mkdir(f"{base}/{sub}")
            for name in sorted(await sftp.listdir(base)):
                if not name.endswith(".json") or not await sftp.isfile(f"{base}/{name}"):
                    continue
                async with sftp.open(f"{base}/{name}", "rb") as f:
                    data = await f.read(MAX_ACK_BYTES + 1)
                body = data if isinstance(data, bytes) else data.encode()
                why = "too large" if len(body) > MAX_ACK_BYTES else await handle(name, body)
                folder = "received" if why is None else "refused"
                await sftp.rename(f"{base}/{name}", f"{base}/{folder}/{name}")
                if why is not None:
                    async with sftp.open(f"{base}/refused/{name}.error", "w") as f:
                        await f.write(why + "\n")
                handled.append(name)
    except (OSError, asyncssh.Error) as exc:
        raise DeliveryFailed(
            f"SFTP acknowledgements from {target.address} failed: {type(exc).__name__}"
        ) from None
    return handled


MAX_ACK_BYTES = 64 * 1024
