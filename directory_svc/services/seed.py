"""Deterministic French demo listings (Faker fr_FR), for development and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from faker import Faker

from directory_svc.domain.errors import ValidationError
from directory_svc.domain.listings import Listing, ListingKind, new_listing_id
from directory_svc.domain.numbers import PhoneNumber, parse_french_number
from directory_svc.services.demo_places import PLACES, area_digit
from directory_svc.storage.listings import ListingRepository

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_BATCH = 1000


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
    for i in range(count):
        commune, insee, postcodes = rng.choice(PLACES)
        professional = rng.random() < 0.15
        if rng.random() < 0.55:
            number = _random_number(rng, area_digit(insee))
        elif rng.random() < 0.3:
            number = _random_number(rng, "9")
        else:
            number = _random_number(rng, rng.choice("67"))
        created = _EPOCH + timedelta(seconds=i)
        yield Listing(
            id=new_listing_id(int(created.timestamp() * 1000), rng.randbytes(10)),
            kind=ListingKind.PROFESSIONAL if professional else ListingKind.RESIDENTIAL,
            surname=fake.last_name(),
            first_name=fake.first_name(),
            business_name=fake.company() if professional else None,
            postcode=rng.choice(postcodes),
            commune=commune,
            insee_code=insee,
            number=number.e164,
            line_type=number.line_type,
            listed=rng.random() < 0.8,
            version=1,
            updated_at=created,
        )


async def seed_listings(
    repo: ListingRepository,
    count: int,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Store ``count`` demo listings in batches; returns how many were new.

    Re-seeding with the same seed adds nothing.
    """
    added = 0
    batch: list[Listing] = []
    for listing in demo_listings(count, seed):
        batch.append(listing)
        if len(batch) == _BATCH:
            added += await repo.insert_new(batch)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        added += await repo.insert_new(batch)
        if progress:
            progress(len(batch))
    return added
