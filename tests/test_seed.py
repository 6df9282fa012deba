import re
from dataclasses import replace

from directory_svc.domain.communes import MUNICIPAL_ARRONDISSEMENTS, commune_of
from directory_svc.domain.listings import ListingKind
from directory_svc.domain.numbers import LineType, parse_french_number
from directory_svc.reference import communes
from directory_svc.services.listings import check_listing
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.listings import ListingRepository


def test_same_seed_same_listings_other_seed_other_listings() -> None:
    assert list(demo_listings(50, seed=7)) == list(demo_listings(50, seed=7))
    assert list(demo_listings(50, seed=7)) != list(demo_listings(50, seed=8))


def test_demo_listings_look_french_and_valid() -> None:
    listings = list(demo_listings(300, seed=3))
    assert len({item.id for item in listings}) == 300
    for item in listings:
        check_listing(item)  # every rule, including the official commune list
        commune = communes().get(item.address.insee_code)
        assert commune is not None
        assert item.address.insee_code not in MUNICIPAL_ARRONDISSEMENTS  # by arrondissement
        city = communes().get(commune_of(item.address.insee_code))
        assert city is not None
        assert item.address.commune in (commune.name, city.name)
        assert re.fullmatch(r"\d{5}", item.address.postcode)
        number = parse_french_number(item.numbers[0].e164)
        assert number.line_type is item.line_type
        if item.kind is ListingKind.PROFESSIONAL:
            assert item.business_names
    kinds = {item.line_type for item in listings}
    assert {LineType.FIXED_GEOGRAPHIC, LineType.MOBILE, LineType.NON_GEOGRAPHIC} <= kinds


async def test_seeding_stores_listings_and_reseeding_adds_nothing(
    repo: ListingRepository,
) -> None:
    assert await seed_listings(repo, 620, seed=5) == 620
    assert await seed_listings(repo, 620, seed=5) == 0
    assert await repo.count() == 620
    stored = await repo.get(next(iter(demo_listings(1, seed=5))).id)
    assert stored == replace(next(iter(demo_listings(1, seed=5))), version=1)
