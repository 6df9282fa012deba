"""The staff console in a real browser (Playwright driving Debian's Chromium), signing in
through a real OpenID Connect provider (tests/oidc_provider.py), against the real service
and database. Each workflow writes ``test-output/browser/console-*.png``; axe-core audits
every screen (WCAG 2.1 AA)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from directory_svc import clock
from directory_svc.api.trusted import TrustedDocuments
from directory_svc.app import VERIFIER, create_app
from directory_svc.config import Settings
from directory_svc.domain.access import AccessRecord, Principal, Role
from directory_svc.domain.numbers import LineType
from directory_svc.domain.publishers import Publisher, PublisherKind, PublisherProfile
from directory_svc.domain.requests import ChangeRequest
from directory_svc.services.choices import ChoiceValues, change_choices
from directory_svc.services.publishers import add_publisher
from directory_svc.services.seed import demo_listings, seed_listings
from directory_svc.storage.setup import Storage
from tests.browser import SHOTS, axe_violations, require_chromium
from tests.oidc_provider import oidc_provider
from tests.r10_helpers import crm_row, import_rows

playwright_api = pytest.importorskip("playwright.async_api")
require_chromium()

CLIENT_ID = "directory-console"
CONSOLE_SOURCES = ("support", "admin", "console")


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with oidc_provider(tmp_path_factory.mktemp("idp") / "provider.log") as issuer:
        yield issuer


async def _serve(aiohttp_client: Any, settings: Settings) -> TestClient:
    return await aiohttp_client(TestServer(create_app(settings), host="127.0.0.1"))


@pytest.fixture
async def sso(aiohttp_client: Any, settings: Settings, idp: str) -> TestClient:
    """The service trusting the provider's tokens, its console signing in there."""
    return await _serve(
        aiohttp_client,
        replace(
            settings, jwks=f"{idp}/jwks", jwt_issuer=idp, oidc_issuer=idp, oidc_client_id=CLIENT_ID
        ),
    )


async def _open(browser: Any, api: TestClient) -> Any:
    page = await browser.new_page(viewport={"width": 1200, "height": 1000}, locale="fr-FR")
    page.errors = []
    page.graphql = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on(
        "request",
        lambda r: page.graphql.append(r.post_data) if r.url.endswith("/graphql") else None,
    )
    await page.goto(str(api.server.make_url("/console")))
    await page.locator("#signin").wait_for()
    return page


async def _sso_sign_in(page: Any, subject: str, role: str) -> None:
    """Through the provider's own sign-in page, in the window the console opens."""
    async with page.expect_popup() as opened:
        await page.get_by_role("button", name="Se connecter avec le compte de l'entreprise").click()
    popup = await opened.value
    await popup.locator("input[name=username]").fill(subject)
    await popup.locator("textarea[name=claims]").fill(
        json.dumps({"role": role, "aud": "directory-svc"})
    )
    await popup.locator("input[type=submit]").click()
    await page.locator("#agent").get_by_text(subject, exact=False).wait_for()


async def _dev_sign_in(page: Any, agent: str, role: str = "support") -> None:
    await page.locator("#dev-agent").fill(agent)
    await page.locator("#dev-role").select_option(role)
    await page.get_by_role("button", name="Se connecter (dev)").click()
    await page.locator("#agent").get_by_text(agent, exact=False).wait_for()


async def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"console-{name}.png", full_page=True)
    assert await axe_violations(page) == [], name


def _written(e164: str) -> str:
    """A French writing of the number other than E.164 (+33 2 99 … → 02 99 …)."""
    national = "0" + e164.removeprefix("+33")
    return " ".join(national[i : i + 2] for i in range(0, 10, 2))


async def _records(storage: Storage, agent: str) -> list[Any]:
    return await storage.access_log.query(agent=agent)


async def test_support_workflows_through_single_sign_on(
    sso: TestClient, storage: Storage, browser: Any, tmp_path: Path
) -> None:
    await seed_listings(storage.listings, 30, seed=5, accounts=storage.accounts)
    for pid, kind in (("annu", PublisherKind.DIRECTORY), ("inverse", PublisherKind.REVERSE_LOOKUP)):
        await add_publisher(storage.publishers, Publisher(PublisherProfile(pid, kind), pid.title()))
    target = next(
        i for i in demo_listings(30, seed=5)
        if i.line_type is LineType.FIXED_GEOGRAPHIC and i.kind.value == "residential"
        and i.choices.listed and not i.choices.no_reverse_lookup
    )  # fmt: skip
    page = await _open(browser, sso)
    assert await page.evaluate("document.documentElement.lang") == "fr"
    assert await page.locator("#who").is_hidden()  # no sign-out, no screens before sign-in
    assert await page.locator("#nav").is_hidden()
    await _shot(page, "01-sign-in")

    # 1. Sign-in through the provider (authorization code + PKCE); nothing in web storage.
    await _sso_sign_in(page, "agent-7", "support")
    assert await page.evaluate("[localStorage.length, sessionStorage.length]") == [0, 0]
    await page.locator("#meter").get_by_text("Il vous reste", exact=False).wait_for()

    # 2. A caller on the phone: look-up by number (a French writing), one record per listing.
    await page.locator("#purpose").fill("appel du client, dossier 4242")
    await page.locator("#lookup-number").fill(_written(target.numbers[0].e164))
    assert await _records(storage, "agent-7") == []  # signing in read nothing
    await page.get_by_role("button", name="Rechercher le numéro").click()
    await page.locator("#results-list li").first.wait_for()
    shown = await page.locator("#results-list li").count()
    looked = await _records(storage, "agent-7")
    assert len(looked) == shown >= 1
    assert {(r.operation, r.purpose) for r in looked} == {
        ("lookupByNumber", "appel du client, dossier 4242")
    }
    assert target.id in {r.listing_id for r in looked}
    await _shot(page, "02-lookup")

    # The listing, its six choices, and per publisher what it receives and why.
    await page.get_by_role("button", name=f"Ouvrir : {target.display_name}").first.click()
    listing = page.locator("#listing")
    await listing.get_by_text("Chaîne de l'historique vérifiée", exact=False).wait_for()
    assert "Figurer dans l'annuaire" in await listing.inner_text()
    await listing.locator('[data-publisher="annu"]').get_by_text("reçoit la fiche").wait_for()
    opened = await _records(storage, "agent-7")
    assert [(r.operation, r.listing_id, r.purpose) for r in opened[: len(opened) - shown]] == [
        ("explainListing", target.id, "appel du client, dossier 4242")
    ]  # opening the listing is one more read of it, and only one
    await _shot(page, "03-explain")

    # 3. Act on the subscriber's behalf: the preview follows, reason and channel required.
    await page.locator("#act-noReverseLookup").check()
    reverse = page.locator('#act-preview .kind[data-kind="REVERSE_LOOKUP"]')
    await reverse.get_by_text("recherche inversée", exact=False).wait_for()
    await page.get_by_role("button", name="Enregistrer pour le client").click()
    await page.locator("#alert").get_by_text("motif et le canal", exact=False).wait_for()
    await page.locator("#act-reason").fill("demande du client au téléphone")
    await page.locator("#act-channel").select_option("PHONE")
    await page.get_by_role("button", name="Enregistrer pour le client").click()
    await page.locator("#status").get_by_text("Enregistré", exact=False).wait_for()
    saved = await storage.listings.get(target.id)
    assert saved is not None
    assert saved.choices.no_reverse_lookup
    last = (await storage.listings.history(target.id))[-1]
    assert (last.provenance.actor.value, last.reason) == (
        "support",
        "demande du client au téléphone",
    )
    await _shot(page, "04-act-on-behalf")

    # The history says who changed what (staff by role).
    history = page.locator("#listing ol.history li").first
    assert "le service client (téléphone)" in await history.inner_text()
    await listing.locator(".history-block").screenshot(path=SHOTS / "console-05-history.png")

    # The subscriber changes something meanwhile: the agent's save is refused and shown.
    who = Principal("subscriber", Role.CUSTOMER, account_id=target.account_id)
    c = saved.choices
    await change_choices(
        storage.listings, request=ChangeRequest(who, "form-1", clock.now(), "notice-1"),
        listing_id=target.id, expected_version=saved.version,
        values=ChoiceValues(c.listed, True, c.no_gender, c.no_street, True, c.no_marketing),
    )  # fmt: skip
    await page.locator("#act-noGender").check()
    await page.locator("#act-reason").fill("le client veut masquer son sexe")
    await page.locator("#act-channel").select_option("PHONE")
    await page.get_by_role("button", name="Enregistrer pour le client").click()
    await (
        page.locator("#alert").get_by_text("pendant que vous la consultiez", exact=False).wait_for()
    )
    current = await storage.listings.get(target.id)
    assert current is not None
    assert current.choices.initial_only
    assert not current.choices.no_gender
    assert await page.locator("#act-initialOnly").is_checked()  # the current state is shown
    assert await page.locator("#act-reason").input_value() == "le client veut masquer son sexe"
    await _shot(page, "06-conflict")

    # Content on the subscriber's behalf: the certification, reason and channel required.
    await page.locator("#content-profession").fill("Luthière")
    await page.locator("#content-reason").fill("nouvelle activité, au téléphone")
    await page.locator("#content-channel").select_option("PHONE")
    await page.get_by_role("button", name="Enregistrer les informations").click()
    await page.locator("#alert").get_by_text("certifier", exact=False).wait_for()
    await page.get_by_label("Le client certifie que ces informations sont exactes").check()
    await page.get_by_role("button", name="Enregistrer les informations").click()
    await page.locator("#status").get_by_text("Enregistré", exact=False).wait_for()
    changed = await storage.listings.get(target.id)
    assert changed is not None
    assert changed.profession == "Luthière"
    assert (await storage.listings.history(target.id))[-1].attested is True
    await _shot(page, "07-content")

    # 4. Search by surname and postcode; the account view with paging and a filter.
    trunk = [
        crm_row(900 + n, account_id="acc-trunk", kind="professional", business_names="Trunk SA",
                surname=f"Poste{n:02d}", listed="true")
        for n in range(25)
    ]  # fmt: skip
    assert (await import_rows(storage, trunk)).rejected == []
    await page.locator("#search-surname").fill("Poste07")
    await page.locator("#search-place").fill("35000")
    await page.get_by_role("button", name="Rechercher", exact=True).click()
    await page.locator("#results-list li").first.wait_for()
    assert await page.locator("#results-list li").count() == 1
    await _shot(page, "08-search")
    await page.locator("#results-list button").first.click()
    await page.get_by_role("heading", name="Fiche : Trunk SA").wait_for()
    await page.get_by_role(
        "button", name="Voir le compte et toutes ses lignes", exact=False
    ).click()
    account = page.locator("#account")
    await account.get_by_text("25 lignes sur 25").wait_for()
    await account.get_by_text("Page 1 sur 3").wait_for()
    await account.get_by_role("button", name="Suivantes").click()
    await account.get_by_text("Page 2 sur 3").wait_for()
    await account.get_by_label("Filtrer les lignes").fill("crm-091")
    await account.get_by_text("10 lignes sur 25").wait_for()
    await _shot(page, "09-account")

    # 5. Publisher reports about the entry, to triage.
    await storage.data_queries.open("annu", target.id, "Le prénom semble erroné", clock.now())
    await page.locator("#lookup-number").fill(target.numbers[0].e164)
    await page.get_by_role("button", name="Rechercher le numéro").click()
    await page.get_by_role("button", name=f"Ouvrir : {target.display_name}").first.click()
    await page.get_by_role("heading", name=f"Fiche : {target.display_name}").wait_for()
    await page.get_by_role("button", name="Voir les signalements").click()
    reports = page.locator("#reports")
    await reports.get_by_text("Le prénom semble erroné", exact=False).wait_for()
    await _shot(page, "10-reports")
    await reports.get_by_label("Résolution").fill("vérifié avec le client : correct")
    await reports.get_by_role("button", name="Clore").click()
    await reports.get_by_text("Aucun signalement ouvert").wait_for()

    # 6. Terminate the line, after a confirmation saying what will happen.
    await page.locator("#end-reason").fill("résiliation du contrat")
    await page.locator("#end-channel").select_option("MAIL")
    await page.get_by_role("button", name="Résilier la ligne…").click()
    dialog = page.locator("#confirm")
    await dialog.get_by_text("prochain envoi de chaque éditeur", exact=False).wait_for()
    await _shot(page, "11-terminate-confirm")
    await dialog.get_by_role("button", name="Résilier").click()
    await page.locator("#status").get_by_text("Ligne résiliée", exact=False).wait_for()
    ended = await storage.listings.get(target.id)
    assert ended is not None
    assert ended.status.value == "terminated"
    await _shot(page, "12-terminated")

    # The compliance views are not for support: the API refuses, the screen says so.
    await page.get_by_role("button", name="Conformité").click()
    await page.locator("#compliance-refused").wait_for()
    await _shot(page, "13-compliance-refused")

    # The console sent only trusted documents, by id: replayed against the manifest.
    trusted = TrustedDocuments.load(Settings.__dataclass_fields__["operations_dir"].default)
    allowed = {d.id.removeprefix("sha256:") for s in CONSOLE_SOURCES for d in trusted.of_source(s)}
    sent = [json.loads(body) for body in page.graphql]
    assert len(sent) > 10
    for body in sent:
        assert "query" not in body
        assert body["extensions"]["persistedQuery"]["sha256Hash"] in allowed
        assert trusted.by_id("sha256:" + body["extensions"]["persistedQuery"]["sha256Hash"])

    # Signing out forgets the token and ends the session at the provider too.
    async with page.expect_request(lambda r: "/endsession" in r.url) as ended:
        await page.get_by_role("button", name="Se déconnecter").click()
    assert "id_token_hint=" in (await ended.value).url
    await page.wait_for_url(str(sso.server.make_url("/console")))
    await page.locator("#sso").wait_for()
    assert await page.locator("#who").is_hidden()
    assert page.errors == []


async def test_a_refused_read_says_until_when_and_an_expired_session_keeps_the_typing(
    aiohttp_client: Any, settings: Settings, storage: Storage, browser: Any
) -> None:
    """Dev sign-in; two look-ups an hour: the third says why and until when; then the
    service stops accepting the token: back to sign-in, nothing typed is lost."""
    api = await _serve(aiohttp_client, replace(settings, lookups_per_hour=2))
    await seed_listings(storage.listings, 5, seed=6, accounts=storage.accounts)
    number = next(iter(demo_listings(5, seed=6))).numbers[0].e164
    page = await _open(browser, api)
    await _dev_sign_in(page, "agent-9")
    await page.locator("#purpose").fill("appel entrant")
    await page.locator("#lookup-number").fill(number)
    for _ in range(2):
        await page.get_by_role("button", name="Rechercher le numéro").click()
        await page.locator("#status").get_by_text("trouvée", exact=False).wait_for()
        await page.locator("#status").evaluate("e => e.textContent = ''")
    await page.get_by_role("button", name="Rechercher le numéro").click()
    await (
        page.locator("#alert")
        .get_by_text("nouvelle consultation possible à", exact=False)
        .wait_for()
    )
    await page.locator("#meter").get_by_text("suspendues jusqu'à", exact=False).wait_for()
    flagged = [r for r in await _records(storage, "agent-9") if r.flagged]
    assert len(flagged) == 1
    await _shot(page, "14-refused")

    # The service no longer accepts the token (as when it expires).
    verifier = api.app[VERIFIER]
    kept = verifier.settings
    verifier.settings = replace(kept, issuer="another-issuer")
    verifier._verified.clear()
    await page.locator("#search-surname").fill("Dupont-Moretti")
    await page.locator("#search-place").fill("75001")
    await page.get_by_role("button", name="Rechercher", exact=True).click()
    await page.locator("#signin-expired").wait_for()
    verifier.settings = kept
    await _dev_sign_in(page, "agent-9")
    assert await page.locator("#search-surname").input_value() == "Dupont-Moretti"
    assert await page.locator("#purpose").input_value() == "appel entrant"
    assert page.errors == []


async def _tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until ``selector`` has the focus."""
    for _ in range(limit):
        if await page.evaluate(f"document.activeElement.matches({json.dumps(selector)})"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


async def test_keyboard_alone_looks_up_explains_and_changes_with_a_reason(
    api: TestClient, storage: Storage, browser: Any
) -> None:
    await seed_listings(storage.listings, 10, seed=7, accounts=storage.accounts)
    target = next(i for i in demo_listings(10, seed=7) if not i.choices.no_marketing)
    page = await _open(browser, api)
    await _tab_to(page, "#dev-agent")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("agent-kb")
    await _tab_to(page, "#dev-signin button[type=submit]")
    await page.keyboard.press("Enter")
    await page.locator("#agent").get_by_text("agent-kb", exact=False).wait_for()
    await _tab_to(page, "#purpose")
    await page.keyboard.type("appel du client")
    await _tab_to(page, "#lookup-number")
    await page.keyboard.type(target.numbers[0].e164)
    await page.keyboard.press("Enter")
    await page.locator("#results-list li").first.wait_for()
    await _tab_to(page, "#results-list button")
    await page.keyboard.press("Enter")
    await page.locator("#listing .chain").wait_for()
    await _tab_to(page, "#act-noMarketing")
    await page.keyboard.press("Space")
    await _tab_to(page, "#act-reason")
    await page.keyboard.type("le client refuse la prospection")
    await _tab_to(page, "#act-channel")
    await page.keyboard.press("ArrowDown")  # téléphone
    await _tab_to(page, "#act button[type=submit]")
    await page.keyboard.press("Enter")
    await page.locator("#status").get_by_text("Enregistré", exact=False).wait_for()
    saved = await storage.listings.get(target.id)
    assert saved is not None
    assert saved.choices.no_marketing
    assert (await storage.listings.history(target.id))[-1].provenance.channel.value == "phone"
    # The focus is visible: the next control reached by Tab draws an outline.
    await page.keyboard.press("Tab")
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    assert page.errors == []


async def test_the_compliance_officer_sees_publishers_plots_and_the_access_log(
    sso: TestClient, storage: Storage, browser: Any, tmp_path: Path, keys_dir: Path
) -> None:
    from tests.console_data import publishers_with_acknowledged_optouts

    await publishers_with_acknowledged_optouts(storage, keys_dir, tmp_path)
    await storage.access_log.record(
        [AccessRecord(clock.now(), "agent-3", "support", "lookupByNumber", "appel")]
    )
    page = await _open(browser, sso)
    await _sso_sign_in(page, "officer-1", "admin")
    await page.get_by_role("button", name="Conformité").click()
    body = page.locator("#compliance-body")
    await body.locator("#publishers tbody tr").first.wait_for()
    assert await body.locator("#publishers tbody tr").count() == 2
    assert "conforme" in await body.locator("#publishers").inner_text()
    await body.locator("#plot-propagation svg").wait_for()
    await body.locator("#plot-weekly svg").wait_for()
    await _shot(page, "15-compliance")
    await page.locator("#log-agent").fill("agent-3")
    await page.get_by_role("button", name="Afficher").click()
    await page.locator("#log tbody tr").first.wait_for()
    assert await page.locator("#log tbody tr").count() == 1
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Exporter (CSV)").click()
    download = await download_info.value
    csv_text = (await download.path()).read_text(encoding="utf-8-sig")
    assert csv_text.splitlines()[0] == "at;agent;role;operation;purpose;listing;account;flagged"
    assert ";agent-3;support;lookupByNumber;appel;" in csv_text
    await _shot(page, "16-access-log")
    await page.emulate_media(media="print")
    await page.screenshot(path=SHOTS / "console-17-print.png", full_page=True)
    await page.emulate_media(media="screen")
    await page.locator("#lang").click()
    await page.get_by_role("heading", name="Compliance", exact=True).wait_for()
    await _shot(page, "18-english")
    assert page.errors == []
