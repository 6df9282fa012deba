"""The preferences form in a real browser (Playwright driving Debian's Chromium, headless).

Screenshots of each main state go to ``$TEST_OUTPUT/browser`` (default ``test-output``).
"""

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from directory_svc.config import Settings
from directory_svc.domain.access import Role
from directory_svc.domain.numbers import LineType
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage
from tests.browser import SHOTS, axe_violations, require_chromium
from tests.conftest import token

playwright_api = pytest.importorskip("playwright.async_api")
require_chromium()


async def _open(browser: Any, url: str) -> Any:
    page = await browser.new_page(viewport={"width": 1100, "height": 1300}, locale="fr-FR")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    await page.goto(url)
    await page.wait_for_selector(".listing")
    return page


def _card(page: Any, kind: str) -> Any:
    return page.locator(f'.kind[data-kind="{kind}"]')


async def test_form_saves_choices_shows_preview_and_conflicts(
    api: TestClient, storage: Storage, settings: Settings, browser: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await seed_listings(storage.listings, 30, seed=5, accounts=storage.accounts)
    target = next(
        i for i in demo_listings(30, seed=5)
        if i.line_type is LineType.FIXED_GEOGRAPHIC and i.kind.value == "residential"
        and i.address.street and not i.choices.no_street
    )  # fmt: skip
    bearer = token(settings, Role.CUSTOMER, account_id=target.account_id)
    url = str(api.server.make_url("/preferences")) + f"#token={bearer}"
    page = await _open(browser, url)
    section = page.locator(f"#listing-{target.id}")

    assert await page.evaluate("document.documentElement.lang") == "fr"
    assert "Mes choix pour l'annuaire" in await page.locator("h1").inner_text()
    assert "#token" not in page.url  # the token leaves the address bar
    directory = section.locator('.kind[data-kind="DIRECTORY"]')
    assert target.first_name in await directory.inner_text()
    await page.screenshot(path=SHOTS / "01-form-fr.png", full_page=True)
    assert await axe_violations(page) == []

    # Keyboard only: Tab reaches the first choice, Space ticks it.
    await page.locator("#lang").focus()
    for _ in range(4):
        await page.keyboard.press("Tab")
        if (await page.evaluate("document.activeElement.name")) == "listed":
            break
    assert await page.evaluate("document.activeElement.name") == "listed"

    # A stale second tab, opened before the first one saves.
    stale = await _open(browser, str(api.server.make_url("/preferences")) + f"#token={bearer}")

    await section.locator("input[name=initialOnly]").check()
    await section.locator("input[name=noStreet]").check()
    await section.locator("input[name=noReverseLookup]").check()
    initial = f"{target.first_name[0]}."
    await directory.get_by_text(initial, exact=True).wait_for()
    assert "adresse" not in await directory.inner_text()
    assert target.address.street not in await directory.inner_text()
    reverse = section.locator('.kind[data-kind="REVERSE_LOOKUP"]')
    await reverse.get_by_text("Vous n'apparaissez pas", exact=False).wait_for()
    await page.screenshot(path=SHOTS / "02-preview.png", full_page=True)
    assert await axe_violations(page) == []

    await section.get_by_role("button", name="Enregistrer mes choix").click()
    await page.locator("#status").get_by_text("C'est enregistré", exact=False).wait_for()
    saved = await storage.listings.get(target.id)
    assert saved is not None
    assert (saved.choices.initial_only, saved.choices.no_street) == (True, True)
    assert saved.choices.no_reverse_lookup is True

    await page.reload()
    await page.wait_for_selector(".listing")
    assert await section.locator("input[name=initialOnly]").is_checked()
    await directory.get_by_text(initial, exact=True).wait_for()

    # The stale tab saves what it had: refused, the current state is shown, nothing lost.
    stale_section = stale.locator(f"#listing-{target.id}")
    await stale_section.locator("input[name=noGender]").check()
    await stale_section.get_by_role("button", name="Enregistrer mes choix").click()
    await stale.locator("#alert").get_by_text("modifiées ailleurs", exact=False).wait_for()
    assert await stale_section.locator("input[name=initialOnly]").is_checked()
    assert not await stale_section.locator("input[name=noGender]").is_checked()
    stale_directory = stale_section.locator('.kind[data-kind="DIRECTORY"]')
    await stale_directory.get_by_text(initial, exact=True).wait_for()  # preview of the current
    await stale.screenshot(path=SHOTS / "03-conflict.png", full_page=True)
    assert await axe_violations(stale) == []
    after = await storage.listings.get(target.id)
    assert after is not None
    assert after.version == saved.version
    assert not after.choices.no_gender

    # Content needs the accuracy certificate; then it is stored with the change.
    await section.locator("input[name=profession]").fill("Luthier")
    await section.get_by_role("button", name="Enregistrer mes informations").click()
    await page.locator("#alert").get_by_text("certification", exact=False).wait_for()
    await section.locator(".attested").check()
    await section.get_by_role("button", name="Enregistrer mes informations").click()
    await page.locator("#status").get_by_text("C'est enregistré", exact=False).wait_for()
    stored = await storage.listings.get(target.id)
    assert stored is not None
    assert stored.profession == "Luthier"
    assert (await storage.listings.history(target.id))[-1].attested is True

    # My history and my data.
    await page.get_by_role("button", name="Voir l'historique de mes modifications").click()
    await page.locator("#history li").first.wait_for()
    assert "vous" in await page.locator("#history li").first.inner_text()
    assert await axe_violations(page) == []
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Télécharger toutes mes données (JSON)").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".json")

    # English on request.
    await page.locator("#lang").click()
    await page.get_by_role("heading", name="My directory choices").wait_for()
    assert await page.evaluate("document.documentElement.lang") == "en"
    await page.screenshot(path=SHOTS / "04-english.png", full_page=True)
    assert await axe_violations(page) == []
    assert page.errors == []
    assert stale.errors == []


async def test_the_form_shows_how_many_publishers_acknowledged_the_choices(
    api: TestClient, storage: Storage, settings: Settings, browser: Any, tmp_path: Path,
    keys_dir: Path,
) -> None:  # fmt: skip
    """Issue 15: after two publishers' feeds, one acknowledged, the subscriber reads "1 of 2"."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
    from directory_svc.services.acknowledgements import ReceivedAck, receive_ack
    from directory_svc.services.publishers import add_publisher, export_now
    from exporters.applier import apply_feed
    from exporters.manifest import load_public_key

    SHOTS.mkdir(parents=True, exist_ok=True)
    await seed_listings(storage.listings, 5, seed=8, accounts=storage.accounts)
    target = next(iter(demo_listings(5, seed=8)))
    key = Ed25519PrivateKey.generate()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    out = tmp_path / "feeds"
    for pid, kind in (("editeur-a", PublisherKind.DIRECTORY), ("editeur-b", PublisherKind.ENQUIRY)):
        profile = PublisherProfile(pid, kind)
        await add_publisher(storage.publishers, Publisher(profile, pid, ack_key=pem))
        feed = await export_now(storage, keys_dir, pid, out)
        if pid == "editeur-a":  # only this one applies its feed and acknowledges it
            applied = apply_feed(
                feed.folder, tmp_path / pid,
                operator_key=load_public_key(keys_dir / "signing.pub"), ack_key=key,
            )  # fmt: skip
            receipt = await receive_ack(
                publishers=storage.publishers, runs=storage.runs, acks=storage.acks,
                feeds_dir=out, received=ReceivedAck(pid, feed.folder.name, applied.ack),
            )  # fmt: skip
            assert receipt.ack.status.value == "matched"
    bearer = token(settings, Role.CUSTOMER, account_id=target.account_id)
    page = await _open(browser, str(api.server.make_url("/preferences")) + f"#token={bearer}")
    note = page.locator(f"#listing-{target.id} .acknowledged")
    await note.get_by_text("pris en compte par 1 éditeur sur 2", exact=False).wait_for()
    text = await note.inner_text()
    assert "Annuaires (papier et en ligne) : 1 sur 1" in text
    assert "Services de renseignements (118…) : 0 sur 1" in text
    assert "editeur" not in text  # no publisher is named
    await page.screenshot(path=SHOTS / "05-acknowledged.png", full_page=True)
    assert await axe_violations(page) == []
    assert page.errors == []
