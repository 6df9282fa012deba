"""The R10 invariant across operations, as a hypothesis state machine on a real server.

A small directory (imported from a CRM file), three publishers, and any sequence of:
import (new rows, re-imports, CRM edits, explicit newer choices, terminations), subscriber
and support choice changes, content changes, terminations, publisher profile changes, full
and delta exports, and failures injected inside an export (while writing the feed) or at
any write of the ledger swap. After every successful export, the publisher's copy (every
feed it received, applied in order) equals a fresh full feed, and holds no unlisted,
terminated, out-of-scope, reverse-excluded or unconsented entry, checked against the
listings themselves, not through the projection. At the end every publisher gets one more
delta and the same holds for all of them.

``R10_EXAMPLES`` and ``R10_STEPS`` (default 200 and 30) set the run length; nightly runs
raise them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import AutoReconnect

from directory_svc import clock
from directory_svc.config import Env, Settings
from directory_svc.domain.access import Principal, Role
from directory_svc.domain.choices import Channel
from directory_svc.domain.communes import commune_of, departement_of
from directory_svc.domain.errors import DomainError
from directory_svc.domain.exports import AckStatus
from directory_svc.domain.listings import Listing, Status
from directory_svc.domain.numbers import LineType
from directory_svc.domain.publishers import (
    PUBLISHABLE_FIELDS,
    ChoicePolicy,
    FeedFormat,
    GeoScope,
    HomonymyPolicy,
    Publisher,
    PublisherKind,
    PublisherProfile,
    is_feed_folder_of,
)
from directory_svc.domain.requests import ChangeRequest
from directory_svc.services.acknowledgements import ReceivedAck, receive_ack
from directory_svc.services.choices import ChoiceValues, change_choices
from directory_svc.services.content import ContentValues, ExtraUserValues, change_content
from directory_svc.services.lines import TerminateLine, terminate_line
from directory_svc.services.publishers import add_publisher, export_now, update_publisher
from directory_svc.storage.keys import init_keys
from directory_svc.storage.setup import Storage, open_storage
from exporters import formats
from exporters.applier import apply_feed
from exporters.manifest import load_public_key
from tests.r10_helpers import comparable, crm_row, digest_of, fresh_full, import_rows, replayed

EXAMPLES = int(os.environ.get("R10_EXAMPLES", "200"))
STEPS = int(os.environ.get("R10_STEPS", "30"))
RUN = {"examples": 0, "steps": 0, "exports": 0, "faults": 0}
"""What the run did (printed at the end of the session by conftest)."""

AT = datetime(2026, 6, 1, tzinfo=UTC)
ROWS = 8
PUBLISHERS = ("dir", "enq", "rev")

# Places: Rennes (35), Brest (29), Paris 11e given with the city's code or its own.
PLACES = [
    {"postcode": "35000", "insee_code": "35238", "commune": "Rennes"},
    {"postcode": "29200", "insee_code": "29019", "commune": "Brest"},
    {"postcode": "75011", "insee_code": "75056", "commune": "Paris"},
    {"postcode": "75011", "insee_code": "75111", "commune": "Paris"},
]


def _row(n: int, variant: int = 0, **over: str) -> dict[str, str]:
    """CRM row ``n``: namesakes (Martin Jeanne/Jean), fixed, mobile and mixed lines."""
    place = PLACES[n % len(PLACES)]
    numbers = {
        0: f"0299{n:06d}",
        1: f"0612{n:06d}",  # a mobile line: listed only with consent
        2: f"0299{n:06d}|0612{n:06d}",  # fixed first, then a mobile number
    }[n % 3]
    consent = "crm-consent" if n % 4 == 1 else ""
    return crm_row(
        n,
        surname="Martin" if n % 2 else f"Nom{n}",
        first_name=("Jeanne", "Jean", "Jeannine")[n % 3],
        numbers=numbers,
        mobile_consent_ref=consent,
        street_number=str(10 + variant),
        **{**place, **over},
    )


def _profile(pid: str, version: int) -> Publisher:
    """The publishers' profiles; ``version`` walks through what a profile change can do."""
    kind = {
        "dir": PublisherKind.DIRECTORY,
        "enq": PublisherKind.ENQUIRY,
        "rev": PublisherKind.REVERSE_LOOKUP,
    }[pid]
    scopes = [GeoScope(), GeoScope(departements=frozenset({"35"})),
              GeoScope(communes=frozenset({"75056", "29019"}))]  # fmt: skip
    fields = [frozenset(PUBLISHABLE_FIELDS), frozenset(PUBLISHABLE_FIELDS) - {"email", "street"}]
    profile = PublisherProfile(
        pid,
        kind,
        scope=scopes[version % 3],
        fields=fields[version % 2],
        choice_policy=ChoicePolicy.FLAGS if version % 5 == 4 else ChoicePolicy.MASK,
        homonymy=HomonymyPolicy.LENIENT if version % 2 else HomonymyPolicy.STRICT,
    )
    fmt = FeedFormat.JSONL if pid == "enq" else FeedFormat.CSV
    return Publisher(profile, f"Éditeur {pid}", feed_format=fmt)


class Faults:
    """Failures injected inside exports: at the n-th ledger write, or in the feed writer."""

    def __init__(self) -> None:
        self.ledger_at: int | None = None
        self.writer_at: int | None = None
        self.count = 0
        self._saved: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        for name in ("insert_many", "update_one", "bulk_write", "drop"):
            self._patch(AsyncCollection, name, self._ledger_write(getattr(AsyncCollection, name)))
        self._patch(formats.FeedWriter, "_write", self._feed_write(formats.FeedWriter._write))

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def _patch(self, owner: Any, name: str, wrapper: Any) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, wrapper)

    def _ledger_write(self, original: Any) -> Any:
        faults = self

        async def write(col: AsyncCollection[Any], *args: Any, **kwargs: Any) -> Any:
            if faults.ledger_at is not None and col.name.startswith("feed_ledger"):
                faults.count += 1
                if faults.count == faults.ledger_at:
                    raise AutoReconnect("injected: the database went away")
            return await original(col, *args, **kwargs)

        return write

    def _feed_write(self, original: Any) -> Any:
        faults = self

        def write(writer: Any, values: dict[str, Any]) -> None:
            if faults.writer_at is not None:
                faults.count += 1
                if faults.count == faults.writer_at:
                    raise OSError("injected: disk full while writing the feed")
            original(writer, values)

        return write


class SteppingClock:
    """The service's clock during a run: two minutes pass at every step, so that deltas
    must follow the changes (their safety overlap is one minute), as on a real day."""

    def __init__(self) -> None:
        self.at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def tick(self) -> None:
        self.at += timedelta(minutes=2)


class R10Machine(RuleBasedStateMachine):
    """See the module docstring."""

    mongo_uri = ""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = SteppingClock()
        self.stack = contextlib.ExitStack()
        self.stack.enter_context(clock.using(self.clock))
        self.tmp = Path(tempfile.mkdtemp(prefix="r10-"))
        self.keys = self.tmp / "keys"
        init_keys(self.keys)
        self.out = self.tmp / "feeds"
        self.db = f"t_r10_{uuid.uuid4().hex[:16]}"
        settings_ = Settings(mongodb_uri=self.mongo_uri, keys_dir=self.keys, db_name=self.db,
                             env=Env.TEST, db_timeout_s=10.0)  # fmt: skip
        self.storage: Storage = self.run(open_storage(settings_))
        self.rows = {n: _row(n) for n in range(ROWS)}
        self.variant = 0
        self.profiles = dict.fromkeys(PUBLISHERS, 0)
        self.exported: set[str] = set()
        self.faults = Faults()
        self.changes = 0
        # The simulated publishers: each applies its feeds with the reference applier and
        # acknowledges them (issue 15).
        self.ack_key = Ed25519PrivateKey.generate()
        self.applied: dict[str, int] = {}
        RUN["examples"] += 1

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def teardown(self) -> None:
        try:
            if not self.faults._saved and self.exported:
                for pid in sorted(self.exported):  # one more delta each: all converge
                    self._export(pid, full=False)
        finally:
            self.faults.uninstall()
            client: AsyncMongoClient[Any] = self.storage.client
            try:
                self.run(client.drop_database(self.db))
            finally:
                self.run(self.storage.close())
                self.loop.close()
                self.stack.close()
                shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- set-up

    @initialize()
    def start(self) -> None:
        report = self.run(import_rows(self.storage, list(self.rows.values())))
        assert report.rejected == []
        public = self.ack_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for pid in PUBLISHERS:
            publisher = replace(_profile(pid, 0), ack_key=public.decode())
            self.run(add_publisher(self.storage.publishers, publisher))

    # ---- the CRM

    @rule(n=st.integers(0, ROWS - 1))
    def crm_edits_a_row(self, n: int) -> None:
        """The CRM changes a row's address, then the file is imported again."""
        self.variant += 1
        self.rows[n] = {**self.rows[n], "street_number": str(10 + self.variant)}
        self._import()

    @rule()
    def reimport_unchanged(self) -> None:
        """The same file again: nothing changes, no choice moves."""
        report = self._import()
        assert report.changed == 0
        assert report.choice_changes == 0

    @rule(n=st.integers(0, ROWS - 1), listed=st.booleans(), newer=st.booleans())
    def crm_sends_a_choice(self, n: int, listed: bool, newer: bool) -> None:
        """A row states a choice, dated (newer than any, or older than every) or not."""
        when = (AT + timedelta(days=3650)) if newer else (AT - timedelta(days=3650))
        before = self.rows[n]
        self.rows[n] = {**before, "listed": str(listed).lower(), "choices_at": when.isoformat()}
        report = self._import(strict=False)
        # Only a mobile line listed without its consent reference, or a line listed while
        # the subscriber hides every number, may be refused; the CRM then keeps its row.
        allowed = ("mobile_consent_ref", "a listed line must show a number")
        assert all(any(a in reason for a in allowed) for _, reason in report.rejected)
        if report.rejected:
            self.rows[n] = before

    @rule(n=st.integers(0, ROWS - 1))
    def crm_terminates(self, n: int) -> None:
        self.rows[n] = {**self.rows[n], "status": "terminated"}
        self._import()

    @rule(n=st.integers(ROWS, ROWS + 3))
    def crm_adds_a_line(self, n: int) -> None:
        self.rows[n] = _row(n)
        self._import()

    def _import(self, *, strict: bool = True) -> Any:
        report = self.run(import_rows(self.storage, list(self.rows.values())))
        assert report.rejected == [] or not strict
        return report

    # ---- subscribers and support

    @rule(n=st.integers(0, ROWS - 1), values=st.lists(st.booleans(), min_size=6, max_size=6),
          support=st.booleans())  # fmt: skip
    def choices_change(self, n: int, values: list[bool], support: bool) -> None:
        listing = self._listing(n)
        if listing is None:
            return
        who = Principal("agent-1", Role.SUPPORT) if support else Principal(
            "sub", Role.CUSTOMER, account_id=listing.account_id
        )  # fmt: skip
        self.changes += 1
        self._tolerate(
            change_choices(
                self.storage.listings,
                request=ChangeRequest(
                    who, f"c{self.changes}", AT + timedelta(seconds=self.changes), "notice-1",
                    "à sa demande" if support else None, Channel.PHONE if support else None,
                ),
                listing_id=listing.id, expected_version=listing.version,
                values=ChoiceValues(*values),
            )
        )  # fmt: skip

    @rule(n=st.integers(0, ROWS - 1), show=st.lists(st.booleans(), min_size=2, max_size=2),
          extra=st.booleans())  # fmt: skip
    def content_change(self, n: int, show: list[bool], extra: bool) -> None:
        listing = self._listing(n)
        if listing is None:
            return
        who = Principal("sub", Role.CUSTOMER, account_id=listing.account_id)
        numbers = tuple(x.e164 for x, s in zip(listing.numbers, show, strict=False) if s)
        values = ContentValues(
            first_name=listing.first_name, business_names=listing.business_names,
            profession=listing.profession, mention="Notaire" if extra else None,
            email=listing.email, published_numbers=numbers,
            extra_users=(ExtraUserValues("Martin", "Léa", True),) if extra else (),
        )  # fmt: skip
        self.changes += 1
        self._tolerate(
            change_content(
                self.storage.listings,
                request=ChangeRequest(who, f"c{self.changes}", AT, "notice-1"),
                listing_id=listing.id, expected_version=listing.version, values=values,
                attested=True,
            )
        )  # fmt: skip

    @rule(n=st.integers(0, ROWS - 1))
    def support_terminates(self, n: int) -> None:
        listing = self._listing(n)
        if listing is None:
            return
        self.changes += 1
        command = TerminateLine(
            listing_id=listing.id, expected_version=listing.version,
            change_id=f"c{self.changes}", reason="résiliation", at=AT,
            by=Principal("agent-1", Role.SUPPORT), channel=Channel.MAIL,
        )  # fmt: skip
        self._tolerate(terminate_line(self.storage.listings, command))

    def _listing(self, n: int) -> Listing | None:
        listing: Listing | None = self.run(self.storage.listings.get(f"crm-{n:04d}"))
        return listing

    def _tolerate(self, work: Any) -> None:
        """Expected refusals (a rule of the domain) are part of the game; nothing else is."""
        with contextlib.suppress(DomainError):
            self.run(work)

    # ---- publishers

    @rule(pid=st.sampled_from(PUBLISHERS))
    def profile_change(self, pid: str) -> None:
        self.profiles[pid] += 1
        wanted = _profile(pid, self.profiles[pid])
        self.run(
            update_publisher(
                self.storage.publishers, pid, None,
                lambda p: replace(p, profile=wanted.profile),
            )
        )  # fmt: skip

    @rule(pid=st.sampled_from(PUBLISHERS), full=st.booleans())
    def export(self, pid: str, full: bool) -> None:
        self._export(pid, full)

    @rule(pid=st.sampled_from(PUBLISHERS))
    def scheduled_delta(self, pid: str) -> None:
        """What the scheduler runs (the first one of a publisher is a full feed)."""
        self._export(pid, full=False)

    @rule(pid=st.sampled_from(PUBLISHERS), at=st.integers(1, 4), in_ledger=st.booleans(),
          full=st.booleans())  # fmt: skip
    def export_fails(self, pid: str, at: int, in_ledger: bool, full: bool) -> None:
        """A failure inside an export: while writing the feed, or at a ledger write."""
        self.faults.count = 0
        if in_ledger:
            self.faults.ledger_at = at
        else:
            self.faults.writer_at = at
        self.faults.install()
        try:
            self.run(export_now(self.storage, self.keys, pid, self.out, full=full))
        except (AutoReconnect, OSError):
            RUN["faults"] += 1
        finally:
            self.faults.uninstall()
            self.faults.ledger_at = self.faults.writer_at = None
        self.exported.add(pid)

    def _export(self, pid: str, full: bool) -> None:
        self.run(export_now(self.storage, self.keys, pid, self.out, full=full))
        RUN["exports"] += 1
        self.exported.add(pid)
        self._check(pid)

    def _check(self, pid: str) -> None:
        """The publisher holds exactly a fresh full feed, and nothing it must not hold."""
        publisher = self.run(self.storage.publishers.get(pid))
        assert publisher is not None
        held = replayed(self.out, pid)
        fresh = self.run(fresh_full(self.storage, publisher))
        assert comparable(held) == comparable(fresh)
        for entry, record in held.items():
            listing = self.run(self.storage.listings.get(entry))
            assert listing is not None, "a publisher holds an entry that does not exist"
            _allowed(listing, publisher, record)
        self._apply_and_acknowledge(pid, digest_of(fresh, publisher))

    def _apply_and_acknowledge(self, pid: str, expected: str) -> None:
        """The publisher applies every new feed with the reference applier; its copy's
        digest is a fresh full feed's, and its acknowledgement of the last one matches."""
        folders = sorted(
            (p for p in self.out.iterdir() if p.is_dir() and is_feed_folder_of(pid, p.name)),
            key=lambda p: int(p.name.rsplit("-", 2)[1]),
        )
        last = None
        for folder in folders:
            if int(folder.name.rsplit("-", 2)[1]) > self.applied.get(pid, 0):
                last = apply_feed(
                    folder, self.tmp / "copies" / pid,
                    operator_key=load_public_key(self.keys / "signing.pub"), ack_key=self.ack_key,
                )  # fmt: skip
                self.applied[pid] = last.sequence
        assert last is not None, "a successful export published no folder"
        assert last.copy_digest == expected, "the applier's copy is not a fresh full feed"
        received = ReceivedAck(pid, folders[-1].name, last.ack)
        receipt = self.run(
            receive_ack(
                publishers=self.storage.publishers, runs=self.storage.runs,
                acks=self.storage.acks, feeds_dir=self.out, received=received,
            )
        )  # fmt: skip
        assert receipt.ack.status is AckStatus.MATCHED, receipt.ack.status

    @invariant()
    def count_steps(self) -> None:
        RUN["steps"] += 1
        self.clock.tick()


def _allowed(listing: Listing, publisher: Publisher, record: dict[str, Any]) -> None:
    """The law, said independently of the projection."""
    profile = publisher.profile
    assert listing.status is Status.ACTIVE, "terminated line published"
    assert listing.choices.listed, "unlisted entry published"
    consented = {
        n.e164
        for n in listing.numbers
        if n.published and (n.line_type is not LineType.MOBILE or n.consent is not None)
    }
    assert consented, "no consented number, yet published"
    if "numbers" in profile.fields and record.get("numbers"):
        assert set(str(record["numbers"]).split("|")) <= consented, "mobile without consent"
    scope, code = profile.scope, listing.address.insee_code
    assert scope.all_france or (
        code in scope.communes
        or commune_of(code) in scope.communes
        or departement_of(code) in scope.departements
    ), "out of scope"
    if profile.kind is PublisherKind.REVERSE_LOOKUP and profile.choice_policy is ChoicePolicy.MASK:
        assert not listing.choices.no_reverse_lookup, "reverse look-up opt-out published"


@pytest.mark.timeout(3600)
def test_every_publisher_holds_exactly_a_fresh_full_feed(mongo_uri: str) -> None:
    R10Machine.mongo_uri = mongo_uri
    run_state_machine_as_test(
        R10Machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
    assert RUN["examples"] >= EXAMPLES
