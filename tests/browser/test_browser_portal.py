"""The portal in a real browser: every role logs in, follows a bill, and meets its limits.

Numbers are the hand-computed ones of ``tests/test_web.py`` (same tiny warehouse).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

NBSP = "\u00a0"


def kr(text: str) -> str:
    return text.replace(" ", NBSP)


LogIn = Callable[[str], None]


LANDING = {
    # username: (heading of the page the role lands on, screenshot name)
    "bodo": ("Min kommune: Bodø (1804)", "min-kommune"),
    "nlsh": ("Nordlandssykehuset HF (983974910)", "helseforetak"),
    "nasjonal": ("Landet", "landet"),
    "publikum": ("Samhandlingsportalen", "forside-publikum"),
}


@pytest.mark.parametrize("username", sorted(LANDING))
def test_each_role_logs_in_and_lands_on_its_page(
    page: Page, log_in: LogIn, screenshots: Path, username: str
) -> None:
    heading, shot = LANDING[username]
    log_in(username)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("button", name="Logg ut")).to_be_visible()
    page.screenshot(path=str(screenshots / f"{shot}.png"), full_page=True)


def test_login_page_and_wrong_password(page: Page, screenshots: Path) -> None:
    page.goto("/logg-inn")
    page.screenshot(path=str(screenshots / "logg-inn.png"), full_page=True)
    page.get_by_label("Brukernavn").fill("bodo")
    page.get_by_label("Passord").fill("feil")
    page.get_by_role("button", name="Logg inn").click()
    expect(page.get_by_role("alert")).to_have_text("Feil brukernavn eller passord.")


def test_municipality_follows_a_bill_to_its_line_items_and_explanation(
    page: Page, log_in: LogIn, screenshots: Path
) -> None:
    log_in("bodo")
    page.get_by_role("link", name="Vis linjer for Nordlandssykehuset HF, januar 2013").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Faktura fra Nordlandssykehuset HF til Bodø, januar 2013"
    )
    rows = page.locator("#linjer tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td")).to_have_text(
        [
            "P1",
            "Somatikk",
            "15.01.2013",
            "19.01.2013",
            "5",
            re.compile(rf"^{kr('4 125,00')}"),
            kr("20 625,00"),
        ]
    )
    expect(page.locator("#linjer tfoot")).to_contain_text(kr("20 625,00"))
    page.screenshot(path=str(screenshots / "fakturalinjer.png"), full_page=True)
    page.get_by_role("link", name="E1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Forklaring av episode E1")
    expect(page.locator("main")).to_contain_text(kr("7 676,80"))
    expect(page.locator("#forklar-regler")).to_contain_text("Døgnpris for utskrivningsklare")
    page.screenshot(path=str(screenshots / "forklaring.png"), full_page=True)


def test_downloaded_line_items_equal_the_api(page: Page, log_in: LogIn) -> None:
    log_in("bodo")
    page.goto("/kommune/1804/utskrivningsklare/983974910/2013-03")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    download = info.value
    assert download.suggested_filename == "utskrivningsklare-1804-983974910-2013-03.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8"))))
    api = page.request.get("/json/kommune/1804/utskrivningsklare/983974910/2013-03").json()
    assert [(r["episode_id"], int(r["days"]), Decimal(r["amount"])) for r in rows] == [
        (line["episode_id"], line["days"], Decimal(line["amount"])) for line in api["lines"]
    ]
    # E3: 4 and 5 March, 2 days × 4 125 kr.
    assert api["amount"] == "8250.00" and [r["episode_id"] for r in rows] == ["E3"]


def test_municipality_cannot_reach_another_municipalitys_line_items(
    page: Page, log_in: LogIn
) -> None:
    log_in("bodo")
    # By the UI: no link to Oslo's bills anywhere on Min kommune.
    assert page.locator('a[href*="/kommune/0301"]').count() == 0
    # By direct URL and by the API.
    response = page.goto("/kommune/0301/utskrivningsklare/993467049/2013-02")
    assert response is not None and response.status == 403
    expect(page.get_by_role("alert")).to_have_text("Du har ikke tilgang til disse fakturalinjene.")
    assert kr("12 375,00") not in page.content()
    api = page.request.get("/json/kommune/0301/utskrivningsklare/993467049/2013-02")
    assert api.status == 403
    download = page.request.get("/kommune/0301/utskrivningsklare/993467049/2013-02/linjer.csv")
    assert download.status == 403
    explain = page.goto("/forklar/E2")
    assert explain is not None and explain.status == 404


def test_chart_numbers_are_one_keypress_away(page: Page, log_in: LogIn) -> None:
    log_in("bodo")
    table = page.locator("#tabell-kmf")
    expect(table).to_be_hidden()
    summary = page.locator('section[aria-labelledby="kmf"] summary')
    summary.focus()
    page.keyboard.press("Enter")
    expect(table).to_be_visible()
    expect(table.locator("tfoot")).to_contain_text(kr("13 818,24"))
    expect(page.get_by_role("img", name="Kommunal medfinansiering per måned 2013")).to_be_visible()


def test_keyboard_user_can_skip_to_content(page: Page) -> None:
    page.goto("/regler")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Hopp til innholdet")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_rules_and_data_pages(page: Page, log_in: LogIn, screenshots: Path) -> None:
    page.goto("/regler")
    expect(page.get_by_role("heading", level=1)).to_have_text("Regler")
    row = page.get_by_role("row").filter(has_text="discharge_ready.daily_rate")
    expect(row).to_contain_text("ikke verifisert")
    page.screenshot(path=str(screenshots / "regler.png"), full_page=True)
    page.get_by_role("link", name="Indikatorer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Indikatorer")
    page.screenshot(path=str(screenshots / "indikatorer.png"), full_page=True)
    log_in("nasjonal")
    page.get_by_role("link", name="Data", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Data")
    expect(page.locator("main")).to_contain_text("kommunenummeret fantes ikke det året")
    page.screenshot(path=str(screenshots / "data.png"), full_page=True)


def test_tablet_layout_keeps_tables_reachable(page: Page, log_in: LogIn, screenshots: Path) -> None:
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in("nlsh")
    table = page.locator("#tabell-fakturaer")
    expect(table).to_be_visible()
    # Wide tables scroll inside themselves instead of widening the page.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768
    page.screenshot(path=str(screenshots / "helseforetak-nettbrett.png"), full_page=True)


def test_table_generator_builds_a_table_from_the_form(page: Page, screenshots: Path) -> None:
    page.goto("/tabeller")
    sd01 = re.compile("^Kontakter, døgnopphold.* etter bosted, periode")
    page.get_by_role("link", name=sd01).click()
    page.get_by_label("Region").select_option(["1804"])
    page.get_by_label("Sektor").select_option(["_T", "mental_health", "somatic"])
    page.get_by_role("button", name="Vis tabellen").click()
    rows = page.locator("#tabell tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("ol.footnotes")).to_contain_text("primærprikking")
    # The address holds the choices: opening it again gives the same table.
    expect(page).to_have_url(re.compile("region=1804"))
    shared = page.url
    assert "region=1804" in shared and "sector=mental_health" in shared
    page.goto(shared)
    expect(page.locator("#tabell tbody tr")).to_have_count(3)
    page.screenshot(path=str(screenshots / "tabellgenerator.png"), full_page=True)


def test_min_kommune_compares_with_peers_and_the_country(
    page: Page, log_in: LogIn, screenshots: Path
) -> None:
    log_in("bodo")
    expect(
        page.get_by_role("heading", level=2, name=re.compile("^Nøkkeltall 2013"))
    ).to_be_visible()
    # A keyboard user jumps there from the page's own table of contents.
    page.get_by_role("navigation", name="Innhold på siden").get_by_role(
        "link", name="Nøkkeltall"
    ).focus()
    page.keyboard.press("Enter")
    # Following the link is asynchronous: wait for the address to change.
    expect(page).to_have_url(re.compile("#nokkeltall$"))
    key_table = page.locator("#tabell-nokkel")
    expect(key_table).to_be_visible()
    expect(key_table.locator("thead th")).to_contain_text(
        [
            "Indikator",
            "Måltall",
            "Bodø (1804)",
            "Samme opptaksområde (Nordlandssykehuset HF)",
            "Samme fylke (Nordland)",
            re.compile("^Samme innbyggergruppe"),
            "Hele landet",
            "Tabell",
        ]
    )
    # Bodø's somatic stays rest on 2 patients: withheld in the table, no bar in the chart.
    expect(page.locator("#nokkel-somatikk td").nth(1)).to_have_text(":")
    expect(
        page.get_by_role("img", name=re.compile("^Somatiske døgnopphold per 1 000 innbyggere 2013"))
    ).to_be_visible()
    # Each indicator leads to its table in the table generator, with the same cells.
    expect(page.locator("#nokkel-somatikk a")).to_have_attribute(
        "href", re.compile(r"^/tabeller/SD02\?region=1804&")
    )
    # The tertial chart's numbers: one key press on its "Vis tallene".
    expect(page.locator("#tabell-tertial")).to_be_hidden()
    page.locator('section[aria-labelledby="tertial"] summary').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#tabell-tertial")).to_be_visible()
    page.locator('section[aria-labelledby="nokkeltall"] summary').click()
    expect(page.locator("#tabell-nokkel + details li")).to_have_count(3)
    expect(page.locator("#tabell-tertial tbody tr")).to_have_count(3)
    expect(page.locator("#tabell-reinnlagt tbody tr")).to_have_count(2)
    page.screenshot(path=str(screenshots / "min-kommune-nokkeltall.png"), full_page=True)


def test_min_kommune_on_a_tablet(page: Page, log_in: LogIn, screenshots: Path) -> None:
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in("bodo")
    for summary in page.locator("summary").all():
        summary.click()
    expect(page.locator("#tabell-nokkel")).to_be_visible()
    # Wide tables scroll inside themselves; the page itself never gets wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    page.screenshot(path=str(screenshots / "min-kommune-nettbrett.png"), full_page=True)


def test_public_statistics_without_logging_in(page: Page, screenshots: Path) -> None:
    page.goto("/")
    page.get_by_role("navigation", name="Hovedmeny").get_by_role(
        "link", name="Statistikk for kommunene"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Statistikk for kommunene")
    expect(page.get_by_role("img", name=re.compile("^Somatiske døgnopphold"))).to_be_visible()
    # Bodø's stays (2 patients) are withheld (:) in the table and hatched on the map.
    for column in (1, 2, 3):
        expect(page.locator("#kommune-1804 td").nth(column)).to_have_text(":")
    expect(page.locator('path[data-kommune="1804"]')).to_have_class("prikket")
    page.screenshot(path=str(screenshots / "statistikk.png"), full_page=False)
    # Another indicator on the map, chosen with the keyboard-operable form.
    page.get_by_label("Indikator").select_option("kontakter")
    page.get_by_role("button", name="Vis").last.click()
    expect(page).to_have_url(re.compile("kart=kontakter"))
    expect(page.get_by_role("img", name=re.compile("^Kontakter per 1 000"))).to_be_visible()
    api = page.request.get("/json/statistikk?aar=2013").json()
    bodo = next(r for r in api["regioner"] if r["kode"] == "1804")
    assert bodo["verdier"]["opphold"] is None and bodo["merker"]["opphold"] == ":"


def test_public_statistics_on_a_tablet(page: Page, screenshots: Path) -> None:
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto("/statistikk")
    expect(page.locator("#tabell-offentlig")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    page.screenshot(path=str(screenshots / "statistikk-nettbrett.png"), full_page=False)
