"""Deterministic French demo listings (Faker fr_FR), for development and benchmarks.

Communes come from the official table, drawn in proportion to their population; numbers
start with the area digit of their region; choices follow plausible proportions.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from faker import Faker

from directory_svc.domain.accounts import Account, InformationRecord
from directory_svc.domain.choices import Actor, Channel, Choices, Consent, Provenance
from directory_svc.domain.errors import ValidationError
from directory_svc.domain.history import Change
from directory_svc.domain.listings import (
    Address,
    Civility,
    LineNumber,
    Listing,
    ListingKind,
    new_listing_id,
)
from directory_svc.domain.numbers import LineType, PhoneNumber, parse_french_number
from directory_svc.reference import communes
from directory_svc.services.listings import prepared
from directory_svc.storage.accounts import AccountRepository
from directory_svc.storage.listings import ListingRepository

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_BATCH = 500
NOTICE = "notice-2026-01"

_AREA = {
    "1": "75 77 78 91 92 93 94 95",
    "2": "14 18 22 27 28 29 35 36 37 41 44 45 49 50 53 56 61 72 76 85",
    "3": "02 08 10 21 25 39 51 52 54 55 57 58 59 60 62 67 68 70 71 80 88 89 90",
    "4": "01 03 04 05 06 07 11 13 15 26 2A 2B 30 34 38 42 43 48 63 66 69 73 74 83 84",
    "5": "09 12 16 17 19 23 24 31 32 33 40 46 47 64 65 79 81 82 86 87",
}
AREA_BY_DEPARTEMENT = {dep: digit for digit, deps in _AREA.items() for dep in deps.split()}


def _random_number(rng: random.Random, first_digits: str) -> PhoneNumber:
    """A valid French number starting ``0`` + ``first_digits`` (retries invalid ranges)."""
    while True:
        rest = "".join(rng.choice("0123456789") for _ in range(9 - len(first_digits)))
        try:
            return parse_french_number(f"0{first_digits}{rest}")
        except ValidationError:
            continue


def demo_listings(count: int, seed: int) -> Iterator[Listing]:
    """``count`` realistic listings; the same ``seed`` always gives the same listings."""
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    places = [c for c in communes().all() if c.departement in AREA_BY_DEPARTEMENT]
    weights = list(itertools.accumulate(max(c.population, 1) for c in places))
    for i in range(count):
        commune = rng.choices(places, cum_weights=weights)[0]
        at = _EPOCH + timedelta(seconds=i)
        professional = rng.random() < 0.12
        roll = rng.random()
        if roll < 0.55:
            number = _random_number(rng, AREA_BY_DEPARTEMENT[commune.departement])
        elif roll < 0.7:
            number = _random_number(rng, "9")
        else:
            number = _random_number(rng, rng.choice("67"))
        mobile = number.line_type is LineType.MOBILE
        consent = (
            Consent(at, Channel.WEB, f"consent-{i}") if mobile and rng.random() < 0.4 else None
        )
        consumer_facing = professional and rng.random() < 0.6
        female = rng.random() < 0.5
        listing = Listing(
            id=new_listing_id(int(at.timestamp() * 1000), rng.randbytes(10)),
            account_id=f"acc-{seed}-{i:08d}",
            kind=ListingKind.PROFESSIONAL if professional else ListingKind.RESIDENTIAL,
            surname=fake.last_name(),
            first_name=fake.first_name_female() if female else fake.first_name_male(),
            civility=Civility.MADAME if female else Civility.MONSIEUR,
            business_names=(fake.company()[:100],) if professional else (),
            address=Address(
                postcode=rng.choice(commune.postcodes),
                insee_code=commune.insee_code,
                commune=commune.name,
                number=str(rng.randint(1, 180)),
                repetition="bis" if rng.random() < 0.05 else None,
                street=fake.street_name()[:30],
            ),
            numbers=(LineNumber(number.e164, number.line_type, consent=consent),),
            choices=Choices(
                listed=(consent is not None) if mobile else rng.random() < 0.8,
                initial_only=rng.random() < 0.1,
                no_gender=rng.random() < 0.05,
                no_street=not consumer_facing and rng.random() < 0.1,
                no_reverse_lookup=rng.random() < 0.2,
                no_marketing=rng.random() < 0.4,
            ),
            provenance=Provenance(Actor.IMPORT, Channel.IMPORT, at, NOTICE),
            profession=fake.job()[:100] if professional else None,
            email=fake.email() if rng.random() < 0.3 else None,
            consumer_facing=consumer_facing,
        )
        a = listing.address  # Paris, Lyon, Marseille: stored by arrondissement
        code = communes().canonical("address", a.insee_code, a.postcode)
        yield replace(listing, address=replace(a, insee_code=code))


def _account_of(listing: Listing) -> Account:
    informed = InformationRecord(listing.provenance.at, Channel.MAIL, NOTICE)
    return Account(id=listing.account_id, kind=listing.kind, informed=(informed,))


async def seed_listings(
    repo: ListingRepository,
    count: int,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
    accounts: AccountRepository | None = None,
) -> int:
    """Store ``count`` demo listings (and their accounts, when given) in batches.

    Returns how many listings were new; re-seeding with the same seed adds nothing.
    """
    change = Change(f"seed-{seed}", Provenance(Actor.IMPORT, Channel.IMPORT, _EPOCH, NOTICE))
    added = 0
    batch: list[Listing] = []
    for listing in demo_listings(count, seed):
        batch.append(prepared(listing))
        if len(batch) == _BATCH:
            if accounts is not None:
                await accounts.create_missing([_account_of(item) for item in batch])
            added += await repo.insert_new(batch, change)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        if accounts is not None:
            await accounts.create_missing([_account_of(item) for item in batch])
        added += await repo.insert_new(batch, change)
        if progress:
            progress(len(batch))
    return added
