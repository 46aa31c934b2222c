"""The agreement pages in a real browser: Bodø's user opens the monitoring and registers a revision.

Runs its own portal (same tiny warehouse as the other browser tests) with the demo agreements
(``seed_demo``): agreement 1 is Bodø's single agreement with Nordlandssykehuset HF in two
revisions. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, expect

from portal_server import serve
from samhandling.registries.agreements import agreement
from samhandling.registries.agreements.demo import seed_demo
from samhandling.store import Store
from samhandling.warehouse import Warehouse
from samhandling.web import create_app

TINY = Path(__file__).parent / "tiny_warehouse"
POINT_12 = "Punkt 12: Beskrivelse av hvordan partene sammen skal planlegge og utvikle tjenester"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    base = tmp_path_factory.mktemp("browser-agreements")
    shutil.copytree(TINY, base / "delivery")
    wh = Warehouse(base / "warehouse")
    wh.ingest(base / "delivery", as_of=date(2014, 6, 30))
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    store = Store(f"sqlite:///{wh.path / 'portal.sqlite3'}", password_hasher=hasher)
    store.add_user("bodo", "pw-bodo", "municipality", "1804")
    seed_demo(wh, store)
    app = create_app(wh.path, store=store, wait_seconds=60)
    try:
        with serve(app) as url:
            yield url, store
    finally:
        store.close()


@pytest.fixture
def agreements_page(browser: Browser, portal: tuple[str, Store]) -> Iterator[Page]:
    context = browser.new_context(
        base_url=portal[0], locale="nb-NO", viewport={"width": 1366, "height": 900}
    )
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def test_bodo_opens_the_monitoring_and_registers_a_revision(
    agreements_page: Page, portal: tuple[str, Store], screenshots: Path
) -> None:
    page = agreements_page
    store = portal[1]
    page.goto("/logg-inn")
    page.get_by_label("Brukernavn").fill("bodo")
    page.get_by_label("Passord").fill("pw-bodo")
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_load_state()

    page.get_by_role("link", name="Samarbeidsavtaler", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Samarbeidsavtaler")
    page.get_by_role("link", name="Oppfølging per RHF og HF").click()
    page.get_by_label("Dato").fill("2012-12-31")
    page.get_by_role("button", name="Vis").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Oppfølging av samarbeidsavtalene per 31.12.2012"
    )
    page.get_by_role("link", name="Nordlandssykehuset HF").click()
    moskenes = page.locator("#per-kommune tbody tr", has_text="Moskenes (1874)")
    expect(moskenes.locator("td").nth(1)).to_have_text("nei")
    expect(page.locator("#per-kommune tbody tr")).to_have_count(20)
    page.screenshot(path=str(screenshots / "samarbeidsavtaler-oppfolging.png"), full_page=True)

    page.goto("/samarbeidsavtaler/1")
    page.get_by_role("link", name="Registrer ny revisjon").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ny revisjon av avtale 1")
    page.get_by_label("Endringsnotat").fill("Punkt 5 reforhandlet i 2014")
    page.get_by_label(
        "Punkt 5: Retningslinjer for samarbeid om utskrivningsklare pasienter: signert"
    ).fill("2014-02-01")
    page.get_by_label(POINT_12, exact=True).check()
    page.get_by_label(f"{POINT_12}: signert").fill("2014-02-01")
    page.get_by_role("button", name="Registrer revisjon").click()
    # Point 12 did not exist in 2014: the form comes back with the reason.
    expect(page.get_by_role("alert")).to_contain_text("punkt 12 fantes ikke")
    page.screenshot(path=str(screenshots / "samarbeidsavtaler-feil.png"), full_page=True)
    page.get_by_label(POINT_12, exact=True).uncheck()
    page.get_by_role("button", name="Registrer revisjon").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("(avtale 1, revisjon 3 av 3)")
    expect(page.locator("ol.history")).to_contain_text("Endringsnotat: Punkt 5 reforhandlet i 2014")
    expect(page.locator("ol.history")).to_contain_text("Signert: 20.01.2012 → 01.02.2014")
    page.screenshot(path=str(screenshots / "samarbeidsavtale-revisjon.png"), full_page=True)
    current = agreement(store, 1).current
    assert (current.revision_no, current.recorded_by) == (3, "bodo")
    point5 = current.part("5")
    assert point5 is not None and point5.signed_on == date(2014, 2, 1)
