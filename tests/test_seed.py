import re

from directory_svc.domain.listings import ListingKind
from directory_svc.domain.numbers import LineType, parse_french_number
from directory_svc.services.demo_places import PLACES
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.listings import ListingRepository


def test_same_seed_same_listings_other_seed_other_listings() -> None:
    assert list(demo_listings(50, seed=7)) == list(demo_listings(50, seed=7))
    assert list(demo_listings(50, seed=7)) != list(demo_listings(50, seed=8))


def test_demo_listings_look_french_and_valid() -> None:
    listings = list(demo_listings(300, seed=3))
    communes = {name: (insee, postcodes) for name, insee, postcodes in PLACES}
    assert len({item.id for item in listings}) == 300
    for item in listings:
        insee, postcodes = communes[item.commune]
        assert item.insee_code == insee
        assert item.postcode in postcodes
        assert re.fullmatch(r"\d{5}", item.postcode)
        number = parse_french_number(item.number)
        assert number.e164 == item.number
        assert number.line_type is item.line_type
        if item.kind is ListingKind.PROFESSIONAL:
            assert item.business_name
    kinds = {item.line_type for item in listings}
    assert {LineType.FIXED_GEOGRAPHIC, LineType.MOBILE, LineType.NON_GEOGRAPHIC} <= kinds


async def test_seeding_stores_listings_and_reseeding_adds_nothing(
    repo: ListingRepository,
) -> None:
    assert await seed_listings(repo, 120, seed=5) == 120
    assert await seed_listings(repo, 120, seed=5) == 0
    assert await repo.count() == 120
