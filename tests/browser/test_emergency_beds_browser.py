"""Emergency beds (KAD) in a real browser: a municipality registers its unit, changes the bed
count and reads the unit's occupancy per month, with the chart and its table.

The portal runs on the tiny warehouse plus KAD stays of Bodø residents in 2013 (six one-night
stays in March, as in ``tests/test_web_emergency_beds.py``): a unit with 2 beds from
1 January 2013 has 62 bed days of capacity in March and 6 occupied, 9,7 %.
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
from samhandling.store import Store
from samhandling.warehouse import Warehouse
from samhandling.web import create_app

TINY = Path(__file__).parent / "tiny_warehouse"
NBSP = "\u00a0"


@pytest.fixture(scope="module")
def kad_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("kadbrowser")
    shutil.copytree(TINY, base / "delivery")
    rows = ["care_id,patient_id,municipality,service,start,end"] + [
        f"K{i},KP{i},1804,kad,2013-03-{1 + 2 * i:02d},2013-03-{2 + 2 * i:02d}" for i in range(6)
    ]
    (base / "delivery" / "municipal_care.csv").write_text("\n".join(rows) + "\n", "utf-8")
    wh = Warehouse(base / "warehouse")
    wh.ingest(base / "delivery", as_of=date(2014, 6, 30))
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    store = Store(f"sqlite:///{wh.path / 'portal.sqlite3'}", password_hasher=hasher)
    store.add_user("bodo", "pw-bodo", "municipality", "1804")
    app = create_app(wh.path, store=store, wait_seconds=60)
    try:
        with serve(app) as url:
            yield url
    finally:
        store.close()


@pytest.fixture
def kad_page(browser: Browser, kad_portal: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=kad_portal, locale="nb-NO", viewport={"width": 1366, "height": 900}
    )
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def test_municipality_registers_unit_and_reads_occupancy(kad_page: Page, screenshots: Path) -> None:
    page = kad_page
    page.goto("/logg-inn")
    page.get_by_label("Brukernavn").fill("bodo")
    page.get_by_label("Passord").fill("pw-bodo")
    page.get_by_role("button", name="Logg inn").click()
    page.get_by_role("link", name="Akutte døgnplasser (KAD)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Akutte døgnplasser (KAD)")
    page.get_by_role("link", name="Registrer ny enhet").click()
    page.get_by_label("Navn").fill("Bodø ØHD")
    expect(page.get_by_label("Vertskommune (kommunenummer)")).to_have_value("1804")
    page.get_by_label("Helseforetak (organisasjonsnummer)").fill("983974910")
    page.get_by_label("Åpnet (ÅÅÅÅ-MM-DD)").fill("2013-01-01")
    page.get_by_label("Antall senger ved åpning").fill("0")
    page.get_by_label("Observasjon og behandling", exact=False).check()
    page.get_by_role("button", name="Registrer enheten").click()
    # Server-side validation: the form comes back with the reason and the values kept.
    expect(page.get_by_role("alert")).to_contain_text("minst én seng")
    expect(page.get_by_label("Navn")).to_have_value("Bodø ØHD")
    page.get_by_label("Antall senger ved åpning").fill("2")
    page.get_by_role("button", name="Registrer enheten").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bodø ØHD")
    march = page.locator("#tabell-belegg tr", has_text="mars 2013")
    expect(march).to_contain_text(f"9,7{NBSP}%")
    expect(page.locator("svg.chart")).to_be_visible()
    page.get_by_label("Gjelder fra (ÅÅÅÅ-MM-DD)").fill("2013-07-01")
    page.get_by_label("Antall senger", exact=True).fill("3")
    page.get_by_role("button", name="Lagre sengetall").click()
    expect(page.locator("#tabell-senger tbody tr")).to_have_count(2)
    expect(page.locator("#tabell-belegg tr", has_text="juli 2013")).to_contain_text("93")
    page.screenshot(path=str(screenshots / "kad-enhet.png"), full_page=True)
    page.get_by_role("link", name="Akutte døgnplasser (KAD)").click()
    expect(page.locator("#fordeling")).to_be_visible()
    page.screenshot(path=str(screenshots / "kad-enheter.png"), full_page=True)
