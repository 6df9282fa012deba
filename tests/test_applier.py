"""Issue 15: the reference applier ends with exactly what a fresh full feed gives, and
refuses tampered, replayed and out-of-order feeds without touching its copy."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from directory_svc.app import create_app
from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.publishers import FeedFormat, Publisher, PublisherKind, PublisherProfile
from directory_svc.services.acknowledgements import ReceivedAck, receive_ack
from directory_svc.services.publishers import add_publisher, export_now
from directory_svc.storage.setup import Storage
from exporters.applier import ApplyRefused, apply_feed, sign_ack
from exporters.digest import copy_digest, record_hash
from exporters.formats import columns
from exporters.manifest import canonical, load_public_key
from tests.conftest import operations, run_operation, token
from tests.r10_helpers import crm_row, fresh_full, import_rows
from tests.test_cli_serve import run_cli
from tests.test_r10_findings import _subscriber_choices


async def expected_digest(storage: Storage, publisher: Publisher) -> str:
    """The digest of what a fresh full feed would give the publisher now."""
    cols = columns(publisher.profile.fields)
    held = await fresh_full(storage, publisher)
    return copy_digest((e, record_hash(values, cols)) for e, values in held.items())


def _apply(folder: Path, state: Path, keys_dir: Path, **kwargs: Any) -> Any:
    return apply_feed(folder, state, operator_key=load_public_key(keys_dir / "signing.pub"),
                      **kwargs)  # fmt: skip


@pytest.mark.parametrize("fmt", [FeedFormat.CSV, FeedFormat.JSONL])
async def test_full_then_deltas_end_with_a_fresh_full_feeds_digest(
    storage: Storage, keys_dir: Path, tmp_path: Path, fmt: FeedFormat
) -> None:
    identity = pyrage.x25519.Identity.generate()
    publisher = Publisher(
        PublisherProfile("pub", PublisherKind.DIRECTORY), "Éditeur", feed_format=fmt,
        recipient=str(identity.to_public()),
    )  # fmt: skip
    await add_publisher(storage.publishers, publisher)
    await import_rows(storage, [crm_row(n, listed="true") for n in range(6)])
    out, state = tmp_path / "feeds", tmp_path / "state"
    ack_key = Ed25519PrivateKey.generate()

    full = await export_now(storage, keys_dir, "pub", out)
    applied = _apply(full.folder, state, keys_dir, identity=str(identity), ack_key=ack_key)
    assert applied.copy_digest == await expected_digest(storage, publisher)
    assert applied.entries == 6

    await _subscriber_choices(storage, "crm-0001", listed=False)
    await _subscriber_choices(storage, "crm-0002", initial_only=True)
    await import_rows(storage, [crm_row(n, listed="true") for n in range(8)])
    delta = await export_now(storage, keys_dir, "pub", out)
    applied = _apply(delta.folder, state, keys_dir, identity=str(identity), ack_key=ack_key)
    assert (applied.upserts, applied.deletes) == (3, 1)
    assert applied.copy_digest == await expected_digest(storage, publisher)

    # The acknowledgement names the feed and verifies with the publisher's public key.
    ack, signature = applied.ack["ack"], applied.ack["signature"]
    assert (ack["publisher"], ack["sequence"], ack["copy_digest"]) == (
        "pub",
        delta.seq,
        applied.copy_digest,
    )
    ack_key.public_key().verify(base64.b64decode(signature), canonical(ack))


async def test_tampered_replayed_and_out_of_order_feeds_are_refused(
    storage: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    publisher = Publisher(PublisherProfile("pub", PublisherKind.DIRECTORY), "Éditeur")
    await add_publisher(storage.publishers, publisher)
    await import_rows(storage, [crm_row(n, listed="true") for n in range(4)])
    out, state = tmp_path / "feeds", tmp_path / "state"
    full = await export_now(storage, keys_dir, "pub", out)
    await _subscriber_choices(storage, "crm-0001", listed=False)
    first = await export_now(storage, keys_dir, "pub", out)
    await _subscriber_choices(storage, "crm-0002", listed=False)
    second = await export_now(storage, keys_dir, "pub", out)

    with pytest.raises(ApplyRefused, match="needs a copy"):
        _apply(first.folder, state, keys_dir)  # a delta before any full feed
    before = _apply(full.folder, state, keys_dir).copy_digest
    with pytest.raises(ApplyRefused, match="follows feed"):
        _apply(second.folder, state, keys_dir)  # the first delta was skipped
    with pytest.raises(ApplyRefused, match="already applied"):
        _apply(full.folder, state, keys_dir)  # a replay

    tampered = tmp_path / "tampered" / first.folder.name
    shutil.copytree(first.folder, tampered)
    payload = tampered / "feed.csv"
    payload.write_text(payload.read_text().replace("delete", "upsert"))
    with pytest.raises(ApplyRefused, match="SHA-256"):
        _apply(tampered, state, keys_dir)
    signed = json.loads((tampered / "manifest.json").read_text())
    signed["manifest"]["sequence"] += 1
    (tampered / "manifest.json").write_text(json.dumps(signed))
    with pytest.raises(ApplyRefused, match="signature"):
        _apply(tampered, state, keys_dir)

    # Every refusal left the copy as it was; the feeds in order apply.
    assert _apply(first.folder, state, keys_dir).copy_digest != before
    assert _apply(second.folder, state, keys_dir).copy_digest == await expected_digest(
        storage, publisher
    )


async def test_acknowledgements_are_checked_against_the_ledger(
    aiohttp_client: Any, storage: Storage, settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    """The CLI applies a feed and writes the signed acknowledgement; the service checks it."""
    out, state = tmp_path / "feeds", tmp_path / "state"
    keyfile = tmp_path / "ack.pem"
    assert run_cli({}, "feed", "keygen", "--out", str(keyfile))[0].returncode == 0
    publisher = Publisher(
        PublisherProfile("pub", PublisherKind.DIRECTORY), "Éditeur",
        ack_key=(tmp_path / "ack.pem.pub").read_text(),
    )  # fmt: skip
    await add_publisher(storage.publishers, publisher)
    other_profile = PublisherProfile("other", PublisherKind.DIRECTORY)
    await add_publisher(storage.publishers, Publisher(other_profile, "Autre"))
    await import_rows(storage, [crm_row(n, listed="true") for n in range(5)])
    full = await export_now(storage, keys_dir, "pub", out)
    await _subscriber_choices(storage, "crm-0003", listed=False)
    delta = await export_now(storage, keys_dir, "pub", out)
    api = await aiohttp_client(create_app(replace(settings, feeds_dir=out)))
    bearer = {"Authorization": f"Bearer {token(settings, Role.PUBLISHER, publisher_id='pub')}"}

    acks = {}
    for feed in (full, delta):
        ack_file = tmp_path / f"ack-{feed.seq}.json"
        done, _ = run_cli(
            {}, "feed", "apply", str(feed.folder), "--state", str(state), "--operator-key",
            str(keys_dir / "signing.pub"), "--ack-key", str(keyfile), "--ack-out", str(ack_file),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        acks[feed.seq] = json.loads(ack_file.read_text())
    resp = await api.post(f"/feeds/{delta.folder.name}/ack", json=acks[delta.seq], headers=bearer)
    assert (resp.status, await resp.json()) == (200, {"sequence": delta.seq, "status": "matched"})
    # An older feed acknowledged after a newer one: recorded as late.
    resp = await api.post(f"/feeds/{full.folder.name}/ack", json=acks[full.seq], headers=bearer)
    assert (await resp.json())["status"] == "late"

    # A copy that differs from the ledger: re-signed by the publisher, still a mismatch.
    wrong = dict(acks[delta.seq]["ack"], copy_digest="0" * 64)
    key = serialization.load_pem_private_key(keyfile.read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    resp = await api.post(
        f"/feeds/{delta.folder.name}/ack", json=sign_ack(wrong, key), headers=bearer
    )
    assert (await resp.json())["status"] == "mismatch"
    # Not signed by the publisher's key, or for another feed: refused.
    forged = sign_ack(acks[delta.seq]["ack"], Ed25519PrivateKey.generate())
    resp = await api.post(f"/feeds/{delta.folder.name}/ack", json=forged, headers=bearer)
    assert resp.status == 400
    assert "signature" in (await resp.json())["errors"][0]["message"]
    resp = await api.post(f"/feeds/{full.folder.name}/ack", json=acks[delta.seq], headers=bearer)
    assert resp.status == 400
    other = {"Authorization": f"Bearer {token(settings, Role.PUBLISHER, publisher_id='other')}"}
    resp = await api.post(f"/feeds/{delta.folder.name}/ack", json=acks[delta.seq], headers=other)
    assert resp.status == 404
    recorded = await storage.acks.for_publisher("pub")
    assert [(a.sequence, a.status) for a in recorded] == [(delta.seq, "mismatch"), (1, "late")]


async def test_an_unlisting_waits_in_the_alert_until_its_feed_is_acknowledged(
    aiohttp_client: Any, storage: Storage, settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    out, state = tmp_path / "feeds", tmp_path / "state"
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    profile = PublisherProfile("pub", PublisherKind.DIRECTORY)
    await add_publisher(storage.publishers, Publisher(profile, "Éditeur", ack_key=public.decode()))
    await import_rows(storage, [crm_row(n, listed="true") for n in range(3)])
    api = await aiohttp_client(create_app(replace(settings, feeds_dir=out)))
    bearer = {"Authorization": f"Bearer {token(settings, Role.PUBLISHER, publisher_id='pub')}"}
    admin = token(settings, Role.ADMIN)
    query = operations("admin")

    async def acknowledge(folder: Path) -> str:
        applied = _apply(folder, state, keys_dir, ack_key=key)
        resp = await api.post(f"/feeds/{folder.name}/ack", json=applied.ack, headers=bearer)
        return str((await resp.json())["status"])

    async def pending() -> tuple[list[Any], str]:
        body = await run_operation(
            api, query, "UnacknowledgedOptOuts", {"olderThanHours": 0}, admin
        )
        metrics = await (await api.get("/metrics")).text()
        gauge = next(
            line for line in metrics.splitlines()
            if line.startswith('directory_unacknowledged_optout_age_seconds{publisher="pub"}')
        )  # fmt: skip
        return body["data"]["unacknowledgedOptOuts"], gauge

    assert await acknowledge((await export_now(storage, keys_dir, "pub", out)).folder) == "matched"
    assert (await pending())[0] == []

    await _subscriber_choices(storage, "crm-0001", listed=False)
    delta = await export_now(storage, keys_dir, "pub", out)
    waiting, gauge = await pending()
    assert [(p["publisherId"], p["sequence"], p["optOuts"]) for p in waiting] == [
        ("pub", delta.seq, 1)
    ]
    assert float(gauge.rsplit(" ", 1)[1]) > 0

    assert await acknowledge(delta.folder) == "matched"
    waiting, gauge = await pending()
    assert waiting == []
    assert float(gauge.rsplit(" ", 1)[1]) == 0
    metrics = await (await api.get("/metrics")).text()
    assert 'directory_optout_propagation_seconds_count{publisher="pub"} 1.0' in metrics


async def test_the_audit_bundle_verifies_with_openssl(
    storage: Storage, mongo_uri: str, db_name: str, keys_dir: Path, tmp_path: Path
) -> None:
    """`directory-svc audit listing` writes a bundle signed by the operator; openssl checks
    it, and the publisher's acknowledgement inside verifies with the publisher's key."""
    out, state = tmp_path / "feeds", tmp_path / "state"
    key = Ed25519PrivateKey.generate()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    profile = PublisherProfile("pub", PublisherKind.DIRECTORY)
    await add_publisher(storage.publishers, Publisher(profile, "Éditeur", ack_key=pem))
    await import_rows(storage, [crm_row(n, listed="true") for n in range(2)])
    await _subscriber_choices(storage, "crm-0001", listed=False)
    feed = await export_now(storage, keys_dir, "pub", out)
    applied = _apply(feed.folder, state, keys_dir, ack_key=key)
    await receive_ack(
        publishers=storage.publishers, runs=storage.runs, acks=storage.acks, feeds_dir=out,
        received=ReceivedAck("pub", feed.folder.name, applied.ack),
    )  # fmt: skip

    bundle = tmp_path / "audit.json"
    env = {"MONGODB_URI": mongo_uri, "DIRECTORY_DB": db_name}
    done, _ = run_cli(
        env, "audit", "listing", "crm-0001", "--out", str(bundle), "--purpose", "CNIL request",
        keys_dir=keys_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    signature = tmp_path / "audit.json.sig"
    assert _openssl_verifies(keys_dir / "signing.pub", bundle, signature)
    content = json.loads(bundle.read_text())
    assert content["choices"]["listed"] is False
    assert [e["seq"] for e in content["history"]] == [1, 2]
    assert content["history"][1]["prev_hash"] == content["history"][0]["hash"]
    (publisher,) = content["publishers"]
    assert publisher["included"] is False
    assert publisher["reasons"][0]["code"] == "unlisted"
    ack = publisher["acknowledgement"]
    assert (ack["status"], ack["holds_current_state"]) == ("matched", True)
    (tmp_path / "ack.bin").write_bytes(base64.b64decode(ack["ack_canonical_b64"]))
    (tmp_path / "ack.sig").write_bytes(base64.b64decode(ack["signature_b64"]))
    (tmp_path / "pub.pem").write_text(ack["publisher_key_pem"])
    assert _openssl_verifies(tmp_path / "pub.pem", tmp_path / "ack.bin", tmp_path / "ack.sig")
    bundle.write_bytes(bundle.read_bytes().replace(b'"listed":false', b'"listed":true'))
    assert not _openssl_verifies(keys_dir / "signing.pub", bundle, signature)
    logged = await storage.access_log.query(listing_id="crm-0001")
    assert [(r.operation, r.purpose) for r in logged] == [("audit", "CNIL request")]


def _openssl_verifies(public_key: Path, data: Path, signature: Path) -> bool:
    """``openssl pkeyutl -verify`` of an Ed25519 signature, as docs/feed-format.md says."""
    check = [
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public_key), "-rawin",
        "-in", str(data), "-sigfile", str(signature),
    ]  # fmt: skip
    return subprocess.run(check, capture_output=True, check=False).returncode == 0


def _age_keygen(path: Path) -> str:
    """An identity file as ``age-keygen -o`` writes it (comment lines, then the key); with
    the real tool when installed. Returns the public key."""
    if shutil.which("age-keygen"):
        subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
        return path.read_text().split("# public key: ")[1].split()[0]
    identity = pyrage.x25519.Identity.generate()
    path.write_text(
        f"# created: 2026-12-04T10:00:00Z\n# public key: {identity.to_public()}\n{identity}\n"
    )
    return str(identity.to_public())


async def test_feed_apply_takes_an_age_keygen_file_and_names_a_wrong_key_file(
    storage: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    """Issue 24: ``feed apply --identity key.txt`` with the file age-keygen wrote decrypts
    (as ``age -d -i key.txt`` does); a wrong key file is named, with what was expected."""
    key_file = tmp_path / "key.txt"
    recipient = _age_keygen(key_file)
    other = tmp_path / "others.txt"  # several identities, comments and blank lines
    other.write_text(f"# mine\n{pyrage.x25519.Identity.generate()}\n\n{key_file.read_text()}")
    publisher = Publisher(
        PublisherProfile("pub", PublisherKind.DIRECTORY), "Éditeur", recipient=recipient
    )
    await add_publisher(storage.publishers, publisher)
    await import_rows(storage, [crm_row(n, listed="true") for n in range(3)])
    full = await export_now(storage, keys_dir, "pub", tmp_path / "feeds")
    operator = str(keys_dir / "signing.pub")
    for identities in (key_file, other):
        state = tmp_path / f"state-{identities.stem}"
        done, _ = run_cli({}, "feed", "apply", str(full.folder), "--state", str(state),
                          "--operator-key", operator, "--identity", str(identities))  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "applied feed 1 of pub" in done.stderr

    state = tmp_path / "state-bad"
    garbled = tmp_path / "garbled.txt"
    garbled.write_text("# created: today\nAGE-SECRET-KEY-1NOTAKEY\n")
    wrong_operator = tmp_path / "wrong.pub"
    wrong_operator.write_text("not a key\n")
    cases = [
        (["--operator-key", str(key_file)], f"{key_file}: not a PEM public key"),
        (["--operator-key", str(wrong_operator)], f"{wrong_operator}: not a PEM public key"),
        (["--operator-key", operator, "--identity", str(garbled)], f"{garbled}:2: not an age"),
        (["--operator-key", operator, "--identity", operator], f"{operator}:1: not an age"),
    ]
    for args, message in cases:
        done, _ = run_cli({}, "feed", "apply", str(full.folder), "--state", str(state), *args)
        assert done.returncode == 1
        assert message in done.stderr, done.stderr
        assert "http" not in done.stderr
        assert "NOTAKEY" not in done.stderr  # a key file's lines are never echoed
        assert key_file.read_text().split()[-1] not in done.stderr
    assert not state.exists() or not any(state.iterdir())
