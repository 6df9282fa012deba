"""Personal data is stored only encrypted; blind indexes find it without decryption."""

from typing import Any

from directory_svc.domain.numbers import parse_french_number
from directory_svc.services import listings as service
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.listings import ListingRepository


def _strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string value of a document with its path (``geo.commune``, ``history.seq``…)."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{path}.{k}".lstrip("."))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v, path)]
    return []


def _secrets(count: int) -> tuple[set[str], set[str]]:
    """(names, which must not be stored as a value; texts, which must not appear anywhere).

    Names are compared whole: commune names legitimately contain first names (Luc-sur-Mer).
    """
    names: set[str] = set()
    texts: set[str] = set()
    for item in demo_listings(count, seed=4):
        names |= {item.surname, item.first_name, *item.business_names}
        texts |= {item.address.street or "", item.email or ""}
        for n in item.numbers:
            texts |= {n.e164, n.e164.removeprefix("+"), "0" + n.e164[3:]}
            texts.add(parse_french_number(n.e164).national)
    return names, {s for s in texts if len(s) >= 5}


async def test_no_plaintext_personal_data_in_any_stored_string(repo: ListingRepository) -> None:
    await seed_listings(repo, 200, seed=4)
    names, texts = _secrets(200)
    assert any("@" in s for s in texts)  # the sample does contain e-mails
    found = [s async for doc in repo.raw_documents() for s in _strings(doc)]
    assert len(found) > 200 * 10
    # The commune name is public geography (and sometimes equals a surname: Brunet, 04).
    stored = [value for path, value in found if path != "geo.commune"]
    assert [s for s in stored if s in names] == []
    assert [s for s in stored for text in texts if text in s] == []


async def test_every_writing_of_a_number_finds_the_listing(repo: ListingRepository) -> None:
    await seed_listings(repo, 30, seed=4)
    target = list(demo_listings(30, seed=4))[7]
    e164 = target.numbers[0].e164
    national = parse_french_number(e164).national
    for writing in (e164, national, national.replace(" ", ""), "0033" + e164[3:]):
        found = await service.find_by_number(repo, writing)
        assert [item.id for item in found] == [target.id]
    assert await service.find_by_number(repo, "01 99 99 99 99") == []


async def test_surname_search_ignores_case_accents_and_hyphens(repo: ListingRepository) -> None:
    await seed_listings(repo, 60, seed=4)
    target = list(demo_listings(60, seed=4))[3]
    shouted = target.surname.upper().replace("-", " ")
    found = await repo.find_by_surname(shouted, insee_code=target.address.insee_code)
    assert target.id in [item.id for item in found.items]
