"""Pushing published feed folders to a publisher's SFTP server (asyncssh).

The folder is uploaded as ``.<name>.partial`` and renamed once complete, so the publisher
never picks up half a feed. The server is pinned by the host key in the registration.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh

from directory_svc.domain.publishers import SftpTarget

CONNECT_TIMEOUT_S = 20


class DeliveryFailed(Exception):
    """The push did not complete; the message names the server, never a secret."""


async def push_sftp(folder: Path, target: SftpTarget, client_key: Path) -> None:
    """Upload ``folder`` into the target directory, atomically (upload, then rename)."""
    known = asyncssh.import_known_hosts(f"[{target.host}]:{target.port} {target.host_key}\n")
    files = await asyncio.to_thread(lambda: sorted(folder.iterdir()))
    try:
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
