"""The municipality map (choropleth): class breaks, colours, suppression marks, the country page.

Hand-checked case for the colours: five municipalities with values 1, 2, 4, 7 and 9 and Bodø
(value 4) suppressed. The drawn values are then 1, 2, 7, 9 (n = 4); the quantile breaks in five
classes sit at positions k × 4 // 5 = 0, 1, 2, 3, i.e. 1, 2, 7, 9, and the break at the smallest
value is dropped (it would leave the first class empty): breaks 2, 7, 9, four classes. Four
classes spread over the five-colour palette take colours round(i × 4 / 3) = 0, 1, 3, 4.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from samhandling.engine import Engine
from samhandling.formatting import number
from samhandling.refdata import valid_codes
from samhandling.rules import load_rules
from samhandling.tables.stay_rates import stay_rates
from samhandling.warehouse import Warehouse
from samhandling.web.maps import (
    ATTRIBUTION,
    MISSING_FILL,
    PALETTE,
    basemap,
    borders_for,
    choropleth_svg,
    class_breaks,
    class_of,
    discharge_ready_map,
    stay_rate_map,
)
from web_helpers import http_client, ingest_tiny, portal_store, serve_portal

SVG = "{http://www.w3.org/2000/svg}"


def fills(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    return {p.get("data-kommune", ""): p.get("fill", "") for p in root.iter(f"{SVG}path")}


def titles(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    found = {}
    for path in root.iter(f"{SVG}path"):
        title = path.find(f"{SVG}title")
        assert title is not None and title.text
        found[path.get("data-kommune", "")] = title.text
    return found


def test_quantile_breaks_by_hand() -> None:
    ten = [Decimal(v) for v in range(1, 11)]
    assert class_breaks(ten) == (Decimal(3), Decimal(5), Decimal(7), Decimal(9))
    # Two values per class: 1–2, 3–4, 5–6, 7–8, 9–10.
    assert [class_of(v, class_breaks(ten)) for v in ten] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    # Ties merge classes: positions 1, 2, 3, 4 of 1, 1, 1, 1, 2 are 1, 1, 1, 2; 1 is the minimum.
    assert class_breaks([Decimal(1)] * 4 + [Decimal(2)]) == (Decimal(2),)
    assert class_breaks([]) == ()


def test_choropleth_colours_and_suppression_by_hand() -> None:
    values: dict[str, Decimal | None] = {
        "0301": Decimal(1),  # Oslo
        "5001": Decimal(2),  # Trondheim
        "1804": Decimal(4),  # Bodø, suppressed below
        "1103": Decimal(7),  # Stavanger
        "4601": Decimal(9),  # Bergen
        "3401": None,  # Kongsvinger: no value
    }
    svg = str(
        choropleth_svg("t", "Døgn & rater", values, {"1804"}, borders=2024, decimals=0, threshold=5)
    )
    fill = fills(svg)
    assert fill["0301"] == PALETTE[0]
    assert fill["5001"] == PALETTE[1]
    assert fill["1103"] == PALETTE[3]
    assert fill["4601"] == PALETTE[4]
    assert fill["1804"] == "url(#t-prikk)"
    assert fill["3401"] == MISSING_FILL and fill["1856"] == MISSING_FILL  # Røst: not in values
    title = titles(svg)
    assert title["1804"] == "Bodø (1804): prikket, færre enn 5 pasienter"
    assert title["3401"] == "Kongsvinger (3401): ingen data"
    assert title["4601"] == f"Bergen (4601): {number(9)}"
    # The legend: the four classes, the suppression and the missing keys, and the attribution.
    for label in ("under 2", "2 til under 7", "7 til under 9", "9 eller mer", "ingen data"):
        assert f">{label}</text>" in svg
    assert ">prikket (færre enn 5 pasienter)</text>" in svg
    assert f">{ATTRIBUTION}</text>" in svg
    assert '<title id="t-title">Døgn &amp; rater</title>' in svg


def test_classes_are_taken_on_the_values_as_shown() -> None:
    # 1,04 and 1,06 show as 1,0 and 1,1: positions 0, 0, 1, 1 of two values give the break 1,1.
    svg = str(
        choropleth_svg(
            "r", "R", {"0301": Decimal("1.04"), "4601": Decimal("1.06")}, set(), borders=2024
        )
    )
    assert (fills(svg)["0301"], fills(svg)["4601"]) == (PALETTE[0], PALETTE[-1])
    assert f">under {number(Decimal('1.1'), 1)}</text>" in svg
    assert titles(svg)["4601"] == f"Bergen (4601): {number(Decimal('1.1'), 1)}"
    # 1,04 and 1,02 both show as 1,0: one class, the palette's middle colour.
    same = {"0301": Decimal("1.04"), "4601": Decimal("1.02")}
    svg = str(choropleth_svg("s", "S", same, set(), borders=2024))
    assert fills(svg)["0301"] == fills(svg)["4601"] == PALETTE[2]
    assert ">alle verdier</text>" in svg
    # Nothing drawn: no colour keys in the legend at all.
    assert ">alle verdier</text>" not in str(choropleth_svg("n", "N", {}, set(), borders=2024))


def test_every_municipality_is_drawn_once() -> None:
    for borders in (2020, 2024):
        svg = str(choropleth_svg("m", "Kart", {}, set(), borders=borders))
        root = ET.fromstring(svg)
        codes = [p.get("data-kommune") for p in root.iter(f"{SVG}path")]
        assert len(codes) == len(set(codes))
        assert set(codes) == valid_codes(borders)
        assert all(p.get("d", "").startswith("M") for p in root.iter(f"{SVG}path"))
    assert len(basemap(2024).shapes) == 357
    assert (borders_for(2013), borders_for(2023), borders_for(2024), borders_for(2026)) == (
        2020,
        2020,
        2024,
        2024,
    )


def test_discharge_ready_map_moves_counts_to_the_map_borders() -> None:
    # 2019: Asker (0220), Røyken (0627) and Hurum (0628) merge into Asker (3025) in 2020, so
    # 3025's rate is (10 + 5 + 0) × 1 000 / (1 000 + 1 000 + 500) = 6 overliggerdøgn per 1 000
    # and its 6 + 2 + 0 = 8 patients are enough to publish; Tromsø (1902 → 5401) has 3
    # patients (suppressed under 5), Bodø (1804) 0 patients (published as 0).
    stats = pa.table(
        {
            "year": [2019] * 5,
            "municipality": ["0220", "0627", "0628", "1902", "1804"],
            "patients": [6, 2, 0, 3, 0],
            "stays": [7, 2, 0, 3, 0],
            "overligger_days": [10, 5, 0, 4, 0],
            "population": [1000, 1000, 500, 800, 52000],
        }
    )
    result = discharge_ready_map(stats, 2019, "overliggerdogn", 5)
    assert result.borders == 2020
    rows = {r.code: r for r in result.rows}
    assert rows["3025"].value == Decimal(6) and rows["3025"].mark == ""
    assert rows["5401"].suppressed and rows["5401"].value is None and rows["5401"].mark == ":"
    assert rows["1804"].value == Decimal(0)
    assert rows["0301"].value is None and rows["0301"].mark == ".."
    assert len(rows) == 356
    fill = fills(str(result.svg))
    assert fill["5401"] == "url(#kart-overliggerdogn-prikk)"
    # Drawn values 0 and 6: one break (6), two classes at the palette's two ends.
    assert (fill["1804"], fill["3025"]) == (PALETTE[0], PALETTE[-1])
    stays = discharge_ready_map(stats, 2019, "opphold", 5)
    # (7 + 2 + 0) stays × 1 000 / 2 500 inhabitants = 3,6 per 1 000.
    assert {r.code: r.value for r in stays.rows}["3025"] == Decimal("3.6")


def test_stay_rate_map_crude_and_standardised_by_hand() -> None:
    rates = pa.table(
        {
            "residence": ["3025", "5401", "1804"],
            "events": [12.0, 2.0, 0.0],
            "population": [2500.0, 800.0, 52000.0],
            "crude_per_1000": [4.8, 2.5, 0.0],
            "standardised_per_1000": [5.25, 3.0, 0.0],
            "patients": [9, 2, 0],
            "suppressed": [False, True, False],
        }
    )
    crude = {r.code: r for r in stay_rate_map(rates, 2019, "innleggelser_raa", 5).rows}
    std = {r.code: r for r in stay_rate_map(rates, 2019, "innleggelser_std", 5).rows}
    assert (crude["3025"].value, std["3025"].value) == (Decimal("4.8"), Decimal("5.25"))
    assert crude["5401"].suppressed and std["5401"].value is None  # 2 patients, under 5
    assert crude["1804"].value == std["1804"].value == Decimal(0)
    assert crude["0301"].mark == ".."


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return ingest_tiny(tmp_path_factory.mktemp("map"))


def test_stay_rates_use_one_set_of_borders(tiny_warehouse: Warehouse, engine: Engine) -> None:
    tiny_warehouse.register(engine)
    before = {
        str(r["municipality"]): int(r["n"])
        for r in engine.query(
            "SELECT municipality, SUM(count) AS n FROM population WHERE year = 2013 "
            "GROUP BY municipality"
        ).to_pylist()
    }
    got = stay_rates(engine, load_rules(), 2013, borders=borders_for(2013))
    rates = {str(r["residence"]): r for r in got.to_pylist()}
    # 2013 is drawn on the 2020 borders: Asker, Røyken and Hurum count as Asker (3025).
    assert rates["3025"]["population"] == before["0220"] + before["0627"] + before["0628"]
    assert set(rates) <= valid_codes(2020)
    # Bodø: two stays (E1 of P1, E3 of P3); Oslo one (E2): crude = stays × 1 000 / population.
    assert (rates["1804"]["events"], rates["1804"]["patients"]) == (2.0, 2)
    assert rates["1804"]["crude_per_1000"] == pytest.approx(2 * 1000 / before["1804"])
    assert rates["0301"]["crude_per_1000"] == pytest.approx(1000 / before["0301"])
    assert rates["3025"]["events"] == 0.0
    # Two and one patients with a stay: under the threshold of 5, withheld; none: shown (0).
    assert rates["1804"]["suppressed"] and rates["0301"]["suppressed"]
    assert not rates["3025"]["suppressed"]
    # The engine's own population is left in each year's codes (Røyken and Hurum still there).
    after = engine.query("SELECT DISTINCT municipality FROM population WHERE year = 2013")
    assert {"0627", "0628"} <= {str(m) for m in after["municipality"].to_pylist()}


@pytest.fixture(scope="module")
def base_url(tiny_warehouse: Warehouse) -> Iterator[str]:
    path: Path = tiny_warehouse.path
    with portal_store(path, ("nasjonal", "bodo")) as store, serve_portal(path, store) as url:
        yield url


def test_country_page_has_the_map_for_a_national_user(base_url: str) -> None:
    with http_client(base_url, "nasjonal") as client:
        page = client.get("/land?aar=2013").text
        svg = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 560') :]
        svg = svg[: svg.index("</svg>") + len("</svg>")]
        fill = fills(svg)
        assert set(fill) == valid_codes(2020)  # 2013 is drawn on the 2020 borders
        # The tiny warehouse has two discharge-ready patients in Bodø and one in Oslo: both
        # under the threshold of 5, so both are suppressed; nobody else has data.
        assert fill["1804"] == fill["0301"] == "url(#kart-overliggerdogn-prikk)"
        assert fill["5001"] == MISSING_FILL
        assert "Vis tallene" in page and "© Kartverket" in page
        assert '<th scope="row">Bodø (1804)</th><td class="num">:</td>' in page
        other = client.get("/land?aar=2013&kart=opphold").text
        assert "Kart: opphold med overliggerdøgn per 1 000 innbyggere 2013" in other
        # The standardised/crude switch: each stay-rate map links to the other.
        std = client.get("/land?aar=2013&kart=innleggelser_std").text
        assert "alders- og kjønnsstandardisert 2013" in std
        assert 'href="/land?aar=2013&amp;kart=innleggelser_raa" id="kart-bytt">Vis rå rate' in std
        assert '<th scope="row">Bodø (1804)</th><td class="num">:</td>' in std
        crude = client.get("/land?aar=2013&kart=innleggelser_raa").text
        assert 'kart=innleggelser_std" id="kart-bytt">Vis alders- og kjønnsstandardisert' in crude
    with http_client(base_url, "bodo") as client:
        assert client.get("/land").status_code == 403
