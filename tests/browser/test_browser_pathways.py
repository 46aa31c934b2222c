"""Patient pathways in a real browser: the public pattern page and one patient's timeline.

The tiny warehouse (``tests/test_web.py``) has three inpatient stays: P1 and P3 in Bodø (1804),
P2 in Oslo (0301), each with a discharge-ready wait. Every count is under the threshold, so the
public pattern page shows suppressed cells only and no flow to draw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

LogIn = Callable[[str], None]


def test_public_pattern_page_is_suppressed(page: Page, screenshots: Path) -> None:
    page.goto("/forlop?aar=2013", timeout=120_000)
    expect(page.get_by_role("heading", level=1)).to_have_text("Pasientforløp: Hele landet")
    table = page.locator("#tabell-monstre")
    expect(table).to_be_visible()
    # Bodø and Oslo each have fewer than 5 patients: hidden whole, so the country sums nothing.
    expect(table.locator("tr.total td")).to_have_text("0")
    expect(page.locator("svg.pathway-flow")).to_be_visible()
    expect(page.get_by_label("Pasient-id (løpenummer)")).to_have_count(0)
    page.screenshot(path=str(screenshots / "pasientforlop.png"), full_page=True)


def test_municipality_opens_own_resident_but_not_another(
    page: Page, log_in: LogIn, screenshots: Path
) -> None:
    log_in("bodo")
    page.goto("/forlop", timeout=120_000)
    page.get_by_label("Pasient-id (løpenummer)").fill("P1")
    page.get_by_role("button", name="Åpne").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pasientforløp for pasient P1")
    rows = page.locator("#tabell-tidslinje tbody tr")
    expect(rows.first).to_contain_text("Øyeblikkelig hjelp-innleggelse")
    expect(page.locator("svg.pathway-timeline")).to_be_visible()
    page.screenshot(path=str(screenshots / "pasientforlop-pasient.png"), full_page=True)
    response = page.goto("/forlop/pasient/P2")
    assert response is not None and response.status == 404
