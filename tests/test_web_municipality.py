"""Min kommune's comparison with peers and the country, and the public statistics page.

Hand-computed on the tiny warehouse (``tests/browser/tiny_warehouse``, see ``test_web.py``):
in 2013 Bodø (1804) has 8 contacts of 8 patients (E1, E3 and the six mental-health
consultations E5–E10), 2 inpatient stays of 2 patients (E1: 10.01–20.01 = 10 bed days; E3:
01.03–06.03 = 5 bed days; 15 in all), both emergency with a medical DRG, 7 overliggerdøgn
(E1 15.01–20.01 = 5, E3 04.03–06.03 = 2) and 13 818,24 kr of co-financing; no readmissions.
Both stays are in ICD-10 chapter X (J441 in block J40–J47, J189 in block J09–J18). Oslo (0301)
has one stay (E2, 01.02–08.02 = 7 bed days). With the disclosure threshold of 5 patients,
Bodø's contacts (8 patients) are published and its stays (2 patients) are suppressed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from samhandling.engine import DuckDBEngine, Engine
from samhandling.formatting import number
from samhandling.indicators.peers import PeerGroup
from samhandling.rules import load_rules
from samhandling.tables.catalog import Catalog
from samhandling.tables.published import published_catalog
from samhandling.warehouse import Warehouse
from samhandling.web.jobs import Computations, job
from samhandling.web.municipality import (
    SUPPRESSED,
    AreaColumn,
    YearIndicators,
    diagnosis_rows,
    key_rows,
    municipality_peers,
    pooled_standardised_rate,
    publish,
    year_indicators,
)
from samhandling.web.public import PUBLIC_INDICATORS, public_table
from web_helpers import http_client, ingest_tiny, kr, portal_store, serve_portal

RULES = load_rules()


# ----------------------------------------------------------------------------- by hand


def test_pooled_standardised_rate_by_hand() -> None:
    # Standard population: 600 men and 400 women (one age group). A: 100 men with 10 stays,
    # 100 women with none; B: 300 men with 6 stays, 100 women with 20.
    standard = {(1, 0): 600, (2, 0): 400}
    population = {("A", 1, 0): 100, ("A", 2, 0): 100, ("B", 1, 0): 300, ("B", 2, 0): 100}
    events = {("A", 1, 0): 10, ("B", 1, 0): 6, ("B", 2, 0): 20}
    # A: 0,6 × 10/100 + 0,4 × 0/100 = 0,06 → 60 per 1 000.
    assert pooled_standardised_rate(events, population, standard, {"A"}) == Decimal(60)
    # A and B: men 16/400 = 0,04, women 20/200 = 0,1: 0,6 × 0,04 + 0,4 × 0,1 = 0,064 → 64.
    assert pooled_standardised_rate(events, population, standard, {"A", "B"}) == Decimal(64)
    assert pooled_standardised_rate(events, population, standard, {"C"}) is None


def test_publish_suppresses_values_of_one_to_four_patients() -> None:
    assert publish(Decimal(7), 0, 5).mark == ""  # nobody: a published zero-patient value
    assert publish(Decimal(7), 4, 5).value is None and publish(Decimal(7), 4, 5).mark == ":"
    assert publish(Decimal(7), 5, 5).value == Decimal(7)
    assert publish(None, 9, 5).mark == ".."


def _indicators(**residences: dict[str, object]) -> YearIndicators:
    return YearIndicators(
        year=2013,
        threshold=5,
        residences=residences,
        tertials={},
        chapters={
            "A": {
                "X": {"stays": 30, "bed_days": 90, "patients": 20},
                "IX": {"stays": 6, "bed_days": 10, "patients": 3},
                "II": {"stays": 10, "bed_days": 50, "patients": 8},
            },
            "B": {"X": {"stays": 10, "bed_days": 40, "patients": 10}},
        },
        blocks={},
        chapter_labels={"X": "Kapittel X", "II": "Kapittel II", "IX": "Kapittel IX"},
        block_labels={},
        strata={"stays": ({}, {}), "contacts": ({}, {})},
        standard={(1, 0): 1},
        standardised={},
        cofinancing=True,
    )


def test_key_rows_take_the_rate_of_the_sum_and_suppress_small_groups() -> None:
    ind = _indicators(
        A={
            "population": 2000,
            "contacts": 300,
            "contacts_patients": 120,
            "stays": 40,
            "stays_patients": 4,
            "cofinancing": Decimal("50000.00"),
            "cofinancing_patients": 30,
            "readm_steering_index": 40,
            "readm_steering": 6,
            "readm_steering_patients": 6,
        },
        B={
            "population": 6000,
            "contacts": 500,
            "contacts_patients": 300,
            "stays": 20,
            "stays_patients": 15,
            "cofinancing": Decimal("10000.50"),
            "cofinancing_patients": 10,
            "readm_steering_index": 10,
            "readm_steering": 0,
            "readm_steering_patients": 0,
        },
    )
    columns = [
        AreaColumn("kommune", "A", "A", ("A",)),
        AreaColumn("county", "A og B", "Fylket", ("A", "B")),
    ]
    rows = {r.key: r for r in key_rows(ind, columns)}
    # Contacts: A 300 × 1 000 / 2 000 = 150; A+B 800 × 1 000 / 8 000 = 100.
    assert [c.value for c in rows["kontakter"].cells] == [Decimal(150), Decimal(100)]
    # Stays: A rests on 4 patients (suppressed); A+B on 19: 60 × 1 000 / 8 000 = 7,5.
    assert [c.mark for c in rows["opphold"].cells] == [SUPPRESSED, ""]
    assert rows["opphold"].cells[0].value is None
    assert rows["opphold"].cells[1].value == Decimal("7.5")
    # Co-financing per inhabitant: 50 000 / 2 000 = 25; 60 000,50 / 8 000 = 7,5000625.
    assert [c.value for c in rows["kmf"].cells] == [Decimal(25), Decimal("7.5000625")]
    # Readmissions: 6 of 40 = 15 %; 6 of 50 = 12 %.
    assert [c.value for c in rows["reinnlagt"].cells] == [Decimal(15), Decimal(12)]
    # A quality readmission nobody had: no index episodes, so no share ("..").
    assert [c.mark for c in rows["reinnlagt_67"].cells] == ["..", ".."]


def test_diagnosis_ranking_leaves_out_suppressed_groups() -> None:
    ind = _indicators(A={"population": 1000}, B={"population": 3000})
    own = AreaColumn("kommune", "A", "A", ("A",))
    country = AreaColumn("landet", "Landet", "Landet", ("A", "B"))
    rows = diagnosis_rows(ind, own, country)
    # IX has 3 patients: left out. X (90 bed days) before II (50); A's bed days 150 in all.
    assert [r.code for r in rows] == ["X", "II"]
    x = rows[0]
    assert (x.stays.value, x.bed_days.value) == (Decimal(30), Decimal(90))
    assert x.share_of_bed_days.value == Decimal(60)  # 90 / 150
    assert x.stays_per_1000.value == Decimal(30)  # 30 × 1 000 / 1 000
    assert x.country_stays_per_1000.value == Decimal(10)  # 40 × 1 000 / 4 000


# ----------------------------------------------------------------------------- tiny warehouse


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return ingest_tiny(tmp_path_factory.mktemp("kommune"))


@pytest.fixture(scope="module")
def computed(tiny: Warehouse) -> Iterator[tuple[YearIndicators, list[PeerGroup], Engine]]:
    with DuckDBEngine() as engine:
        tiny.register(engine)
        ind = year_indicators(engine, RULES, 2013)
        peers = municipality_peers(engine, RULES, "1804", 2013)
        yield ind, peers, engine


def test_year_indicators_count_the_tiny_warehouse(
    computed: tuple[YearIndicators, list[PeerGroup], Engine],
) -> None:
    ind, _peers, _engine = computed
    bodo = ind.residences["1804"]
    assert (bodo["contacts"], bodo["contacts_patients"]) == (8, 8)
    assert (bodo["stays"], bodo["stays_patients"], bodo["bed_days"]) == (2, 2, 15)
    assert (bodo["emergency"], bodo["emergency_patients"]) == (2, 2)
    assert (bodo["overligger"], bodo["overligger_patients"]) == (7, 2)
    assert bodo["cofinancing"] == Decimal("13818.24") and bodo["cofinancing_patients"] == 2
    assert (bodo["readm_steering_index"], bodo["readm_steering"]) == (2, 0)
    # Both stays are of patients 67+ with index diagnoses (J44 COPD, J12–J18 pneumonia).
    assert (bodo["readm_quality_index"], bodo["readm_quality"]) == (2, 0)
    oslo = ind.residences["0301"]
    assert (oslo["stays"], oslo["bed_days"], oslo["overligger"]) == (1, 7, 3)
    assert ind.chapters["1804"] == {"X": {"stays": 2, "bed_days": 15, "patients": 2}}
    assert set(ind.blocks["1804"]) == {"J40-J47", "J09-J18"}
    # Tertials: T1 (January–April) holds both stays, T2 (May–August) the six consultations.
    assert ind.tertials[(2013, 1)]["1804"]["stays"] == 2
    assert ind.tertials[(2013, 2)]["1804"]["contacts"] == 6
    assert ind.tertials[(2013, 2)]["1804"]["contacts_patients"] == 6
    assert sorted(ind.tertials) == [(2013, 1), (2013, 2), (2013, 3)]


def test_pooling_one_municipality_gives_the_indicator_librarys_rate(
    computed: tuple[YearIndicators, list[PeerGroup], Engine],
) -> None:
    ind, _peers, _engine = computed
    for measure in ("stays", "contacts"):
        events, population = ind.strata[measure]
        for code in ("1804", "0301"):
            pooled = pooled_standardised_rate(events, population, ind.standard, {code})
            assert pooled is not None
            assert float(pooled) == pytest.approx(ind.standardised[code][measure][0], rel=1e-12)


def test_year_indicators_agree_on_both_engines(
    engine: Engine, tiny: Warehouse, computed: tuple[YearIndicators, list[PeerGroup], Engine]
) -> None:
    """The same counts through the engine fixture (DuckDB and Spark) as on the portal's DuckDB."""
    reference, _peers, _duckdb = computed
    tiny.register(engine)
    ind = year_indicators(engine, RULES, 2013)
    assert ind.residences == reference.residences
    assert ind.tertials == reference.tertials
    assert (ind.chapters, ind.blocks) == (reference.chapters, reference.blocks)
    assert ind.strata == reference.strata
    for code, rates in reference.standardised.items():
        for measure, (rate, low, high) in rates.items():
            assert ind.standardised[code][measure] == pytest.approx((rate, low, high), rel=1e-9)


def test_peers_of_bodo_in_2013(computed: tuple[YearIndicators, list[PeerGroup], Engine]) -> None:
    _ind, peers, _engine = computed
    kinds = {p.kind: p for p in peers}
    assert sorted(kinds) == ["catchment", "county", "population_band"]
    assert kinds["catchment"].label == "Samme opptaksområde (Nordlandssykehuset HF)"
    assert all("1804" in p.members for p in peers)
    assert all(m.startswith("18") for m in kinds["county"].members)


# ----------------------------------------------------------------------------- the job pattern


def test_one_job_per_function_and_arguments(tiny: Warehouse) -> None:
    computations = Computations(tiny, workers=1)
    try:
        portal = SimpleNamespace(computations=computations, rules=RULES)

        def count(engine: Engine, rules: object, table: str, *, limit: int = 0) -> int:
            assert rules is RULES
            got = engine.query(f"SELECT COUNT(*) AS n FROM {table}")
            return int(got.column("n")[0].as_py()) + limit

        first = job(portal, "Teller", count, "episodes", limit=1)
        assert job(portal, "Teller igjen", count, "episodes", limit=1) is first
        other = job(portal, "Teller", count, "episodes", limit=2)
        assert other is not first
        assert computations.wait([first, other], 30)
        assert (first.result(), other.result()) == (10, 11)  # 9 episodes (+1, +2)
    finally:
        computations.close()


# ----------------------------------------------------------------------------- the pages


@pytest.fixture(scope="module")
def base_url(tiny: Warehouse) -> Iterator[str]:
    with (
        portal_store(tiny.path, ("bodo", "nasjonal", "publikum")) as store,
        serve_portal(tiny.path, store, wait_seconds=120) as url,
    ):
        yield url


def _row(page: str, row_id: str) -> list[str]:
    row = page.split(f'<tr id="{row_id}">')[1].split("</tr>", maxsplit=1)[0]
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r'<td class="num">(.*?)</td>', row)]


def test_min_kommune_compares_with_peers_and_the_country(
    base_url: str, computed: tuple[YearIndicators, list[PeerGroup], Engine]
) -> None:
    ind, _peers, _engine = computed
    population = ind.residences["1804"]["population"]
    country_population = sum(r.get("population", 0) for r in ind.residences.values())
    with http_client(base_url, "bodo", timeout=120) as client:
        page = client.get("/kommune/1804?aar=2013").text
        # A year without population, and one outside the municipality lists: a message, no 500.
        empty = client.get("/kommune/1804?aar=2009")
        assert empty.status_code == 200
        assert "Kommunenummer 1804 hadde ingen innbyggere i 2009." in empty.text
        outside = client.get("/kommune/1804?aar=2030")
        assert outside.status_code == 200
        assert "ikke for 2030" in outside.text
    assert "Nøkkeltall 2013: Bodø mot sammenlignbare kommuner og landet" in page
    for header in (
        "Bodø (1804)",
        "Samme opptaksområde (Nordlandssykehuset HF)",
        "Samme fylke (Nordland)",
        "Hele landet",
    ):
        assert f'<th scope="col" class="num">{header}</th>' in page
    contacts = _row(page, "nokkel-kontakter")
    assert contacts[0] == number(Decimal(8) * 1000 / population, 1)
    # The country: 9 contacts (E4 was quarantined) of 9 patients.
    assert contacts[-1] == number(Decimal(9) * 1000 / country_population, 1)
    # Stays, bed days, overliggerdøgn and co-financing of Bodø rest on 2 patients: suppressed
    # everywhere (the peers and the country have no other patients with stays).
    for key in ("opphold", "opphold_std", "liggedogn", "akutt_medisinsk", "overliggerdogn", "kmf"):
        assert set(_row(page, f"nokkel-{key}")) == {":"}, key
    assert _row(page, "nokkel-reinnlagt")[0] == number(0, 1)
    # Suppressed values draw no bar: the stays chart has only its two legend keys.
    chart = page.split('id="nokkel-chart-title"')[1].split("</svg>")[0]
    assert "<title>Rå rate" not in chart and "<title>Standardisert" not in chart
    assert ">Rå rate</text>" in chart  # the legend
    assert 'id="tabell-tertial"' in page and 'id="tabell-reinnlagt"' in page
    # Chapter X has 2 patients: under the threshold, so no diagnosis group is shown.
    assert "Ingen diagnosegrupper med minst 5 pasienter i 2013." in page
    # The tertial chart's numbers are one click away; the key and readmission tables are open.
    assert '<summary>Vis tallene<span class="sr-only"> per tertial</span></summary>' in page


@pytest.fixture(scope="module")
def catalog(tiny: Warehouse) -> Catalog:
    return published_catalog(tiny, RULES, 2024)


def test_public_statistics_are_published_cells_only(base_url: str, catalog: Catalog) -> None:
    rows, _threshold = public_table(catalog, 2013)
    expected = {
        row.code: [
            cell.mark or number(cell.value, indicator.decimals)
            for cell, indicator in zip(row.cells, PUBLIC_INDICATORS, strict=True)
        ]
        for row in rows
    }
    with http_client(base_url, timeout=120) as anonymous:
        page = anonymous.get("/statistikk?aar=2013")
        assert page.status_code == 200
        assert '<a href="/statistikk" aria-current="page">Statistikk for kommunene</a>' in page.text
        # Bodø's stays rest on 2 patients: primary suppression of stays, emergency medical
        # admissions and length of stay. (Contacts depend on the secondary suppression.)
        assert _row(page.text, "kommune-1804")[1:] == [":", ":", ":"]
        for code in ("0", "0301", "1804", "1101", "5001"):
            assert _row(page.text, f"kommune-{code}") == expected[code], code
        assert 'data-kommune="1804" class="prikket"' in page.text
        assert "© Kartverket" in page.text
        # The map shows somatic stays unless another indicator is chosen; the form says which.
        assert '<option value="opphold" selected>' in page.text
        chosen = anonymous.get("/statistikk?aar=2013&kart=kontakter").text
        assert '<option value="kontakter" selected>' in chosen
        assert "Kart: kontakter per 1 000 innbyggere (alle sektorer) 2013" in chosen
        data = anonymous.get("/json/statistikk?aar=2013").json()
    bodo = next(r for r in data["regioner"] if r["kode"] == "1804")
    for key in ("opphold", "akutt_medisinsk", "liggetid"):
        assert bodo["verdier"][key] is None and bodo["merker"][key] == ":"
    published = {row.code: row for row in rows}
    for region in data["regioner"]:
        cells = published[region["kode"]].cells
        assert region["verdier"] == {
            i.key: None if c.value is None else str(c.value)
            for i, c in zip(PUBLIC_INDICATORS, cells, strict=True)
        }
    # A municipality without any patients publishes its zero.
    eigersund = next(r for r in data["regioner"] if r["kode"] == "1101")
    assert eigersund["verdier"]["opphold"] == "0.0" and "opphold" not in eigersund["merker"]
    with http_client(base_url, "publikum", timeout=120) as public_user:
        home = public_user.get("/").text
        assert '<a href="/statistikk">Statistikk for kommunene</a>' in home
    with http_client(base_url, "nasjonal", timeout=120) as national:
        land = national.get("/land").text
        assert 'href="/statistikk"' not in land.split("</nav>")[0]


def test_the_unsuppressed_cell_exists_but_never_leaves_the_server(catalog: Catalog) -> None:
    """The protected cube holds Bodø's 2 stays as a withheld cell; the page shows only ':'."""
    cells = catalog.cube("SD02").cells
    bodo_2013 = [
        r
        for r in cells.to_pylist()
        if (r["region"], r["period"], r["sex"], r["age"]) == ("1804", "2013", "_T", "_T")
    ]
    assert [(r["opphold"], r["pasienter"]) for r in bodo_2013] == [(2, 2)]  # held, not shown
    stat = catalog.cube("SD02").slice({"region": ["1804"], "period": ["2013"]}, ["opphold"])
    assert stat.values == [None] and stat.reasons == {0: "primary"}
    rows, threshold = public_table(catalog, 2013)
    assert threshold == 5
    bodo = next(r for r in rows if r.code == "1804")
    assert [c.value for c in bodo.cells][1:] == [None] * 3
    assert [c.mark for c in bodo.cells][1:] == [":"] * 3


def test_bills_show_before_the_comparison_is_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow comparison never holds back the bills: its section says it is computing."""
    from samhandling.web import views

    release = threading.Event()

    def slow_year_indicators(engine: Engine, rules: object, year: int) -> YearIndicators:
        release.wait(120)
        return year_indicators(engine, RULES, year)

    monkeypatch.setattr(views, "year_indicators", slow_year_indicators)
    warehouse = ingest_tiny(tmp_path)
    try:
        with (
            portal_store(tmp_path, ("bodo",)) as store,
            serve_portal(warehouse.path, store, wait_seconds=2) as url,
            http_client(url, "bodo", timeout=120) as client,
        ):

            def until(done: Callable[[httpx.Response], bool]) -> httpx.Response:
                for _ in range(240):
                    response = client.get("/kommune/1804?aar=2013")
                    if done(response):
                        return response
                    threading.Event().wait(0.5)
                raise AssertionError("the page never got there")

            first = until(lambda r: r.status_code == 200)
            assert kr("13 818,24") in first.text  # the bills are there
            assert "Nøkkeltallene for alle kommuner beregnes" in first.text
            assert '<meta http-equiv="refresh" content="5">' in first.text
            assert 'id="tabell-nokkel"' not in first.text
            release.set()
            done = until(lambda r: 'id="tabell-nokkel"' in r.text)
            assert 'http-equiv="refresh"' not in done.text
    finally:
        release.set()
