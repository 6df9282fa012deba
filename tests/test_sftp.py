"""SFTP push against a real SFTP server (asyncssh) on loopback."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile, SftpTarget
from directory_svc.services.publishers import add_publisher, deliver_pending, export_now
from directory_svc.services.seed import seed_listings
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import Storage
from exporters.manifest import load_public_key, verify_folder


@dataclass
class SftpServer:
    root: Path
    port: int
    host_key: str
    server: Any


async def _start(root: Path, keys_dir: Path, port: int = 0) -> SftpServer:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = asyncssh.import_authorized_keys((keys_dir / "sftp_client.pub").read_text())
    server = await asyncssh.listen(
        "127.0.0.1",
        port,
        server_host_keys=[host_key],
        authorized_client_keys=authorized,
        sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root)),
        allow_scp=False,
    )
    bound = server.sockets[0].getsockname()[1]
    public = host_key.export_public_key().decode().strip()
    return SftpServer(root, bound, public, server)


@pytest.fixture
async def sftp(tmp_path: Path, keys_dir: Path) -> AsyncIterator[SftpServer]:
    init_keys(keys_dir)
    root = tmp_path / "sftp-root"
    (root / "incoming").mkdir(parents=True)
    server = await _start(root, keys_dir)
    yield server
    server.server.close()
    await server.server.wait_closed()


def _publisher(server: SftpServer, host_key: str | None = None) -> Publisher:
    target = SftpTarget("127.0.0.1", server.port, "annuaire", "/incoming",
                        host_key or server.host_key)  # fmt: skip
    return Publisher(PublisherProfile("pub-sftp", PublisherKind.DIRECTORY), "SFTP SA", sftp=target)


async def test_feeds_are_pushed_whole_and_verify_on_the_server(
    storage: Storage, keys_dir: Path, tmp_path: Path, sftp: SftpServer
) -> None:
    await seed_listings(storage.listings, 40, seed=4)
    await add_publisher(storage.publishers, _publisher(sftp))
    out = tmp_path / "feeds"
    result = await export_now(storage, keys_dir, "pub-sftp", out, full=True)
    assert result.delivery_error is None
    assert result.delivered == [result.folder.name]
    remote = sftp.root / "incoming" / result.folder.name
    manifest = verify_folder(remote, load_public_key(keys_dir / "signing.pub"))
    assert manifest["sequence"] == 1
    assert [p.name for p in (sftp.root / "incoming").iterdir()] == [result.folder.name]
    runs = await storage.runs.list("pub-sftp")
    assert runs[0].delivered_at is not None
    assert json.loads((remote / "manifest.json").read_text())["manifest"]["publisher"] == "pub-sftp"


async def test_a_failed_push_is_retried_in_order_and_a_wrong_host_key_is_refused(
    storage: Storage, keys_dir: Path, tmp_path: Path, sftp: SftpServer
) -> None:
    await seed_listings(storage.listings, 20, seed=4)
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    publisher = _publisher(sftp, host_key=impostor)
    await add_publisher(storage.publishers, publisher)
    out = tmp_path / "feeds"
    first = await export_now(storage, keys_dir, "pub-sftp", out, full=True)
    second = await export_now(storage, keys_dir, "pub-sftp", out)
    assert first.delivery_error is not None
    assert "127.0.0.1" in first.delivery_error
    assert second.delivery_error is not None
    assert list((sftp.root / "incoming").iterdir()) == []  # nothing sent to an unknown host

    await storage.publishers.save(_publisher(sftp))  # the right host key
    delivered = await deliver_pending(storage, keys_dir, _publisher(sftp), out)
    assert delivered == [first.folder.name, second.folder.name]
    assert await deliver_pending(storage, keys_dir, _publisher(sftp), out) == []


async def test_a_push_publisher_drops_its_acknowledgements_on_its_server(
    storage: Storage, keys_dir: Path, tmp_path: Path, sftp: SftpServer
) -> None:
    """Issue 15: acknowledgements left in acks/ are taken, checked, and filed by outcome."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from directory_svc.services.acknowledgements import collect_sftp_acks
    from exporters.applier import apply_feed

    key = Ed25519PrivateKey.generate()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    await seed_listings(storage.listings, 10, seed=4)
    await add_publisher(storage.publishers, replace(_publisher(sftp), ack_key=pem))
    out = tmp_path / "feeds"
    result = await export_now(storage, keys_dir, "pub-sftp", out, full=True)
    remote = sftp.root / "incoming" / result.folder.name
    applied = apply_feed(
        remote, tmp_path / "copy", operator_key=load_public_key(keys_dir / "signing.pub"),
        ack_key=key,
    )  # fmt: skip
    drop = sftp.root / "incoming" / "acks"
    drop.mkdir()
    (drop / "ack-000001.json").write_text(json.dumps(applied.ack))
    (drop / "garbage.json").write_text("{not json")
    publisher = await storage.publishers.get("pub-sftp")
    assert publisher is not None
    receipts = await collect_sftp_acks(
        publishers=storage.publishers, runs=storage.runs, acks=storage.acks,
        keys_dir=keys_dir, feeds_dir=out, publisher=publisher,
    )  # fmt: skip
    assert [r.ack.status.value for r in receipts] == ["matched"]
    assert (drop / "received" / "ack-000001.json").is_file()
    assert (drop / "refused" / "garbage.json").is_file()
    assert "not an acknowledgement" in (drop / "refused" / "garbage.json.error").read_text()
    assert [p.name for p in drop.iterdir() if p.is_file()] == []
