"""Data for the compliance views: two publishers, each with a full feed and a delta that
carries opt-outs; one acknowledged both, the other only the full feed."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from directory_svc import clock
from directory_svc.domain.access import Principal, Role
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.domain.requests import ChangeRequest
from directory_svc.services.acknowledgements import ReceivedAck, receive_ack
from directory_svc.services.choices import ChoiceValues, change_choices
from directory_svc.services.publishers import add_publisher, export_now
from directory_svc.services.seed import seed_listings
from directory_svc.storage.setup import Storage
from exporters.applier import apply_feed
from exporters.manifest import load_public_key

PUBLISHERS = (("editeur-a", PublisherKind.DIRECTORY), ("editeur-b", PublisherKind.ENQUIRY))


async def publishers_with_acknowledged_optouts(
    storage: Storage, keys_dir: Path, tmp_path: Path
) -> None:
    """``editeur-a`` acknowledged its full feed and its delta of 3 opt-outs; ``editeur-b``
    only its full feed."""
    await seed_listings(storage.listings, 12, seed=9, accounts=storage.accounts)
    key = Ed25519PrivateKey.generate()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    out = tmp_path / "feeds"
    operator = load_public_key(keys_dir / "signing.pub")

    async def export_and_ack(pid: str, ack: bool) -> None:
        feed = await export_now(storage, keys_dir, pid, out)
        applied = apply_feed(feed.folder, tmp_path / pid, operator_key=operator, ack_key=key)
        if ack:
            await receive_ack(
                publishers=storage.publishers, runs=storage.runs, acks=storage.acks,
                feeds_dir=out, received=ReceivedAck(pid, feed.folder.name, applied.ack),
            )  # fmt: skip

    for pid, kind in PUBLISHERS:
        await add_publisher(
            storage.publishers, Publisher(PublisherProfile(pid, kind), pid, ack_key=pem)
        )
        await export_and_ack(pid, ack=True)
    listed = [
        item for item in (await storage.listings.page(100, None)).items if item.choices.listed
    ]
    for item in listed[:3]:
        c = item.choices
        who = Principal("sub", Role.CUSTOMER, account_id=item.account_id)
        await change_choices(
            storage.listings, request=ChangeRequest(who, f"out-{item.id}", clock.now(), "n-1"),
            listing_id=item.id, expected_version=item.version,
            values=ChoiceValues(False, c.initial_only, c.no_gender, c.no_street,
                                c.no_reverse_lookup, c.no_marketing),
        )  # fmt: skip
    await export_and_ack("editeur-a", ack=True)
    await export_and_ack("editeur-b", ack=False)
