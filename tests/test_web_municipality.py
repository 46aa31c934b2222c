"""Min kommune's comparison with peers and the country, and the public statistics page.

Every number of Min kommune's comparison is read from the protected cubes of the table
catalogue (the cells of the table generator and the public statistics page), so the page
can never show a value that the catalogue withholds, nor a sum the catalogue does not publish.

Hand-computed on the tiny warehouse (``tests/browser/tiny_warehouse``, see ``test_web.py``):
in 2013 Bodø (1804) has 8 contacts of 8 patients (E1, E3 and the six mental-health
consultations E5–E10) and 2 somatic inpatient stays of 2 patients (E1, E3), and 13 818,24 kr of
co-financing. With the disclosure threshold of 5 patients, Bodø's somatic cell of table SD02
(2 patients) is withheld.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import httpx
import pyarrow as pa
import pytest

from samhandling.engine import Engine
from samhandling.errors import SamhandlingError
from samhandling.formatting import number
from samhandling.indicators.facts import icd10_block_table
from samhandling.indicators.peers import PeerGroup
from samhandling.rules import RuleSet, load_rules
from samhandling.tables.catalog import MUNICIPAL_BLOCKS, Catalog, diagnosis_dimension
from samhandling.tables.comparison import (
    MISSING,
    POPULATION,
    SUPPRESSED,
    AreaColumn,
    Comparison,
    Ratio,
    catalogue_code,
    comparison,
    comparison_columns,
    diagnosis_rows,
    ratio_cell,
)
from samhandling.tables.cube import CubeSpec, Measure, ProtectedCube, TableError
from samhandling.tables.dimensions import Dimension
from samhandling.tables.disclosure import PRIMARY, PUBLISHED, SECONDARY
from samhandling.tables.public_figures import PUBLIC_INDICATORS, public_table
from samhandling.tables.published import published_catalog
from samhandling.warehouse import Warehouse
from samhandling.web.jobs import Computations, job
from samhandling.web.municipality import key_rows
from web_helpers import http_client, ingest_tiny, kr, portal_store, serve_portal

RULES = load_rules()


# ----------------------------------------------------------------------------- by hand

# A hand-made table SD01: the country (0), one catchment area H1 = A + B, and A, B, C.
REGION = Dimension(
    id="region",
    label="region",
    key_sql="f.residence",
    mapping=(
        *[(m, m) for m in "ABC"],
        ("A", "H1"),
        ("B", "H1"),
        *[(m, "0") for m in "ABC"],
    ),
    codes=(("0", "Hele landet"), ("H1", "Helse 1"), ("A", "A"), ("B", "B"), ("C", "C")),
    lines=(("0", ("A", "B", "C")), ("H1", ("A", "B"))),
    total="0",
)
PERIOD = Dimension(
    id="period",
    label="periode",
    key_sql="f.year",
    mapping=(("2013", "2013"),),
    codes=(("2013", "2013"),),
    lines=(),
    total="2013",
)
SPEC = CubeSpec(
    id="SD01",
    title="test",
    description="test",
    dimensions=(REGION, PERIOD),
    measures=(
        Measure("kontakter", "Kontakter", "COUNT(*)", "kontakter"),
        Measure("indeks", "Indeksepisoder", "SUM(f.idx)", "episoder"),
        Measure("reinnlagt", "Reinnlagte", "SUM(f.re)", "episoder"),
        Measure("kroner", "Beløp", "SUM(f.ore)", "kroner", 2),
    ),
)
# region: contacts, index episodes, readmitted, øre, patients, reason, inhabitants
CELLS = {
    "0": (803, 60, 9, 6_000_050, 423, PUBLISHED, 9000),
    "H1": (303, 50, 6, 5_000_000, 123, PUBLISHED, 8000),
    "A": (300, 40, 6, 4_000_000, 120, PUBLISHED, 2000),
    "B": (3, 10, 0, 1_000_000, 3, PRIMARY, 6000),
    "C": (500, 10, 3, 1_000_050, 300, SECONDARY, 1000),
}


def _catalog(cells: dict[str, tuple[int, ...]] = CELLS) -> Catalog:
    regions = list(cells)
    table = pa.table(
        {
            "region": regions,
            "period": ["2013"] * len(regions),
            "kontakter": [cells[r][0] for r in regions],
            "indeks": [cells[r][1] for r in regions],
            "reinnlagt": [cells[r][2] for r in regions],
            "kroner": [cells[r][3] for r in regions],
            "pasienter": [cells[r][4] for r in regions],
            "reason": pa.array([cells[r][5] for r in regions], pa.int8()),
        }
    )
    population = {(r, "2013"): cells[r][6] for r in regions}
    cube = ProtectedCube(SPEC, table, population, 5, "disclosure.threshold v1", "2026-12-04")
    return Catalog({"SD01": cube}, 2024, years=[2013])


def _scope_of(municipalities: set[str] | None) -> tuple[str | None, str]:
    """The catalogue's scope and its last comparison column when the population holds
    ``municipalities`` (None: every municipality of the borders)."""
    from samhandling.tables.catalog import catalog_specs
    from samhandling.tables.dimensions import region_dimension

    region = region_dimension(2024)
    all_codes = {c for c, _ in region.codes if len(c) == 4 and c.isdigit()}
    spec = next(
        s
        for s in catalog_specs(RULES, borders=2024, years=[2013], blocks=icd10_block_table())
        if s.id == "SD01"
    )
    fields = [pa.field(d.id, pa.string()) for d in spec.dimensions]
    fields += [pa.field(m.id, pa.int64()) for m in spec.measures]
    fields += [pa.field("pasienter", pa.int64()), pa.field("reason", pa.int8())]
    chosen = all_codes if municipalities is None else municipalities
    population = {(m, "2013"): 100 for m in chosen} | {("0", "2013"): 100 * len(chosen)}
    cube = ProtectedCube(spec, pa.schema(fields).empty_table(), population, 5, "v1", "2026-12-07")
    catalog = Catalog({"SD01": cube}, 2024, years=[2013])
    return catalog.scope, comparison_columns(catalog, "1804", "Bodø")[-1].label


def test_a_catalogue_of_one_health_region_says_its_country_is_that_region() -> None:
    """The demo holds Helse Nord only: its "Hele landet" cells are the region's sum, and the
    pages say so (scope); the whole country, or no data, keeps "Hele landet"."""
    from samhandling.synth.generate import health_region

    _, nord = health_region("nord")
    assert _scope_of(set(nord)) == (
        "Helse Nord RHF",
        "Hele datagrunnlaget (Helse Nord RHF)",
    )
    assert _scope_of({"1804", "1806", "0301"}) == (
        "3 av 357 kommuner",
        "Hele datagrunnlaget (3 av 357 kommuner)",
    )
    assert _scope_of(None) == (None, "Hele landet")


CONTACTS = Ratio("kontakter", "Kontakter", "rå rate", "SD01", "kontakter", POPULATION, 1000, 1)
SHARE = Ratio("reinnlagt", "Reinnlagt", "prosent", "SD01", "reinnlagt", "indeks", 100, 1)
MONEY = Ratio("kr", "Kroner per innbygger", "kroner", "SD01", "kroner", POPULATION, 1, 2)
OWN = AreaColumn("kommune", "A", "A", ("A",), "A")
AREA = AreaColumn("catchment", "Helse 1", "Opptaksområdet", ("A", "B"), "H1")
BAND = AreaColumn("population_band", "Gruppe", "Innbyggergruppen", ("A", "B", "C"), None)
COUNTRY = AreaColumn("landet", "Hele landet", "Landet", (), "0")


def test_a_published_cell_gives_its_exact_value_and_a_withheld_one_only_its_reason() -> None:
    cube = _catalog().cube("SD01")
    assert cube.published_value({"region": "A"}, "kroner") == (Decimal("40000.00"), None)
    assert cube.published_value({"region": "B"}, "kontakter") == (None, "primary")
    assert cube.published_value({"region": "C", "period": "2013"}, "pasienter") == (
        None,
        "secondary",
    )
    with pytest.raises(TableError, match="Ukjent kode «D»"):
        cube.published_value({"region": "D"}, "kontakter")
    with pytest.raises(TableError, match="har ikke målet «reason»"):
        cube.published_value({"region": "A"}, "reason")


def test_cube_areas_read_their_own_cell() -> None:
    catalog = _catalog()
    cells = [ratio_cell(catalog, CONTACTS, c, "2013") for c in (OWN, AREA, COUNTRY)]
    # A: 300 × 1 000 / 2 000 = 150; H1: 303 × 1 000 / 8 000 = 37,875 (its own published cell,
    # although its member B is withheld); the country: 803 × 1 000 / 9 000 = 89,22…
    assert [c.value for c in cells] == [
        Decimal(150),
        Decimal("37.875"),
        Decimal(803) * 1000 / Decimal(9000),
    ]
    assert all(c.mark == "" and c.note == "" for c in cells)
    # Shares divide by a measure of the same cell: A 6 of 40 = 15 %; the country 9 of 60 = 15 %.
    assert ratio_cell(catalog, SHARE, OWN, "2013").value == Decimal(15)
    # Money is exact to the øre: 60 000,50 kr / 9 000 = 6,667 kr (unrounded).
    assert ratio_cell(catalog, MONEY, COUNTRY, "2013").value == Decimal("60000.50") / 9000
    # A withheld cell is ":" (B primary, C secondary), never a number.
    b = AreaColumn("kommune", "B", "B", ("B",), "B")
    c = AreaColumn("kommune", "C", "C", ("C",), "C")
    assert ratio_cell(catalog, CONTACTS, b, "2013") == ratio_cell(catalog, CONTACTS, c, "2013")
    assert ratio_cell(catalog, CONTACTS, b, "2013").mark == SUPPRESSED
    assert ratio_cell(catalog, CONTACTS, b, "2013").value is None


def test_a_band_pools_only_its_published_members_and_says_how_many() -> None:
    catalog = _catalog()
    # Only A of A, B, C is published: the band's rate is A's, 150, resting on 1 of 3.
    band = ratio_cell(catalog, CONTACTS, BAND, "2013")
    assert (band.value, band.mark, band.note) == (Decimal(150), "", "1 av 3 kommuner")
    # With C published too: (300 + 500) × 1 000 / (2 000 + 1 000) = 266,66…, 2 of 3.
    opened = dict(CELLS, C=(500, 10, 3, 1_000_050, 300, PUBLISHED, 1000))
    band = ratio_cell(_catalog(opened), CONTACTS, BAND, "2013")
    assert band.value == Decimal(800) * 1000 / Decimal(3000)
    assert band.note == "2 av 3 kommuner"
    # All members published: no note. Shares pool numerators and denominators: (6 + 0 + 3) of
    # (40 + 10 + 10) = 15 %.
    all_open = dict(opened, B=(3, 10, 0, 1_000_000, 5, PUBLISHED, 6000))
    share = ratio_cell(_catalog(all_open), SHARE, BAND, "2013")
    assert (share.value, share.note) == (Decimal(15), "")
    # Every member withheld: ":".
    closed = AreaColumn("population_band", "G", "G", ("B", "C"), None)
    assert ratio_cell(catalog, CONTACTS, closed, "2013").mark == SUPPRESSED


def test_a_rate_without_a_denominator_is_missing_not_zero() -> None:
    no_index = dict(CELLS, A=(300, 0, 0, 4_000_000, 120, PUBLISHED, 2000))
    cell = ratio_cell(_catalog(no_index), SHARE, OWN, "2013")
    assert (cell.value, cell.mark) == (None, MISSING)


DIAGNOSIS = Dimension(
    id="diagnosis",
    label="hovedtilstand",
    key_sql="f.icd_block",
    mapping=(),
    codes=(
        ("_T", "Alle diagnoser"),
        ("KII", "Svulster"),
        ("KX", "Sykdommer i åndedrettssystemet"),
        ("C00-C14", "C00-C14 Ondartede svulster i munnhule og svelg"),
        ("J09-J18", "J09-J18 Influensa og lungebetennelse"),
        ("J40-J47", "J40-J47 Kroniske sykdommer i nedre luftveier"),
        ("ukjent", "Ukjent eller ugyldig diagnose"),
    ),
    lines=(("_T", ("KII", "KX", "ukjent")), ("KII", ("C00-C14",)), ("KX", ("J09-J18", "J40-J47"))),
    total="_T",
)


def test_diagnosis_groups_rank_published_cells_by_bed_days() -> None:
    # Region A (2 000 inhabitants) and the country (9 000) in 2013, somatic stays and bed days.
    # (region, diagnosis): stays, bed days, patients, reason
    cells = {
        ("A", "_T"): (40, 200, 30, PUBLISHED),
        ("A", "KII"): (10, 120, 8, PUBLISHED),
        ("A", "KX"): (26, 70, 18, PUBLISHED),
        ("A", "ukjent"): (4, 10, 4, PRIMARY),
        ("A", "C00-C14"): (10, 120, 8, PUBLISHED),
        ("A", "J09-J18"): (20, 40, 14, SECONDARY),
        ("A", "J40-J47"): (6, 30, 5, PUBLISHED),
        ("0", "KII"): (30, 300, 25, PUBLISHED),
        ("0", "KX"): (90, 250, 60, SECONDARY),
    }
    keys = list(cells)
    table = pa.table(
        {
            "region": [r for r, _ in keys],
            "period": ["2013"] * len(keys),
            "diagnosis": [d for _, d in keys],
            "opphold": [cells[k][0] for k in keys],
            "liggedogn": [cells[k][1] for k in keys],
            "pasienter": [cells[k][2] for k in keys],
            "reason": pa.array([cells[k][3] for k in keys], pa.int8()),
        }
    )
    spec = CubeSpec(
        id="SD04",
        title="test",
        description="test",
        dimensions=(REGION, PERIOD, DIAGNOSIS),
        measures=(
            Measure("opphold", "Døgnopphold", "SUM(f.is_stay)", "opphold"),
            Measure("liggedogn", "Liggedøgn", "SUM(f.bed_days)", "døgn"),
        ),
    )
    catalog = _catalog()
    catalog.cubes["SD04"] = ProtectedCube(spec, table, {}, 5, "v1", "2026-12-04")
    compared = Comparison(catalog, "A", 2013, (OWN, COUNTRY))
    chapters = diagnosis_rows(compared, level="chapter")
    # "ukjent" is withheld (4 patients): left out. II (120 bed days) before X (70).
    assert [(r.code, r.label) for r in chapters] == [
        ("II", "Svulster"),
        ("X", "Sykdommer i åndedrettssystemet"),
    ]
    tumours, lungs = chapters
    assert (tumours.stays.value, tumours.bed_days.value) == (Decimal(10), Decimal(120))
    assert tumours.share_of_bed_days.value == Decimal(60)  # 120 of 200 bed days
    assert tumours.stays_per_1000.value == Decimal(5)  # 10 × 1 000 / 2 000
    assert tumours.country_stays_per_1000.value == Decimal(30) * 1000 / Decimal(9000)
    assert lungs.share_of_bed_days.value == Decimal(35)  # 70 of 200
    assert lungs.country_stays_per_1000.mark == SUPPRESSED  # the country's X is withheld
    # Blocks: J09-J18 is withheld (secondary); C00-C14 (120) before J40-J47 (30).
    blocks = diagnosis_rows(compared, level="block")
    assert [(r.code, r.label) for r in blocks] == [
        ("C00-C14", "Ondartede svulster i munnhule og svelg"),
        ("J40-J47", "Kroniske sykdommer i nedre luftveier"),
    ]
    assert blocks[1].share_of_bed_days.value == Decimal(15)  # 30 of 200
    # The country has no cell for C00-C14: an absent cell of a cube is a published zero.
    assert blocks[0].country_stays_per_1000.value == Decimal(0)
    assert diagnosis_rows(compared, limit=1) == chapters[:1]


def test_municipal_diagnosis_groups_are_the_chapters_and_diabetes() -> None:
    """SD04 (every region level) has the ICD-10 chapters and the diabetes block; the rest of
    chapter IV is no group of its own and the other blocks are in SD12 (upper levels only)."""
    dimension = diagnosis_dimension(icd10_block_table(), kept=MUNICIPAL_BLOCKS)
    # (diagnosis): stays, bed days, patients of region A in 2013
    cells = {
        "_T": (60, 300, 40),
        "KIV": (30, 150, 20),
        "E10-E14": (12, 50, 9),
        "KIV_annet": (18, 100, 11),
        "KIX": (30, 150, 20),
    }
    table = pa.table(
        {
            "region": ["A"] * len(cells),
            "period": ["2013"] * len(cells),
            "diagnosis": list(cells),
            "opphold": [v[0] for v in cells.values()],
            "liggedogn": [v[1] for v in cells.values()],
            "pasienter": [v[2] for v in cells.values()],
            "reason": pa.array([PUBLISHED] * len(cells), pa.int8()),
        }
    )
    spec = CubeSpec(
        id="SD04",
        title="test",
        description="test",
        dimensions=(REGION, PERIOD, dimension),
        measures=(
            Measure("opphold", "Døgnopphold", "SUM(f.is_stay)", "opphold"),
            Measure("liggedogn", "Liggedøgn", "SUM(f.bed_days)", "døgn"),
        ),
    )
    catalog = _catalog()
    catalog.cubes["SD04"] = ProtectedCube(spec, table, {}, 5, "v1", "2026-12-04")
    compared = Comparison(catalog, "A", 2013, (OWN, COUNTRY))
    assert [r.code for r in diagnosis_rows(compared, level="chapter")] == ["IV", "IX"]
    blocks = diagnosis_rows(compared, level="block")
    assert [(r.code, r.label) for r in blocks] == [("E10-E14", "Diabetes mellitus")]


def test_key_rows_link_each_indicator_to_its_table(catalog: Catalog) -> None:
    compared = comparison(catalog, "1804", "Bodø", 2013, cofinancing=True)
    rows = {r.key: r for r in key_rows(compared)}
    codes = [c.code for c in compared.columns]
    assert codes[0] == "1804" and codes[-1] == "0"
    assert codes[1].startswith("H") and codes[2] == "F18" and codes[3] is None
    assert rows["akutt_medisinsk"].link == (
        f"/tabeller/SD05?region=1804&region={codes[1]}&region=F18&region=0&period=2013"
        "&urgency=emergency&drg_type=M"
    )
    # SD09 has municipalities and the country only.
    assert rows["somatikk_std"].link == "/tabeller/SD09?region=1804&region=0&period=2013"
    assert [c.mark for c in rows["somatikk_std"].cells[1:4]] == [MISSING] * 3


# ----------------------------------------------------------------------------- tiny warehouse


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return ingest_tiny(tmp_path_factory.mktemp("kommune"))


@pytest.fixture(scope="module")
def catalog(tiny: Warehouse) -> Catalog:
    return published_catalog(tiny, RULES, 2024)


def _published(catalog: Catalog, table: str, region: str, period: str, measure: str) -> str:
    """A number the way the page shows it, computed through the table generator's slice."""
    stat = catalog.cube(table).slice({"region": [region], "period": [period]}, [measure])
    if stat.reasons:
        return SUPPRESSED
    population = catalog.cube("SD01").population[(region, period[:4])]
    return number(Decimal(str(stat.values[0])) * 1000 / population, 1)


def test_every_value_of_min_kommune_is_a_published_cell(catalog: Catalog) -> None:
    compared = comparison(catalog, "1804", "Bodø", 2013)
    rows = {r.key: r for r in key_rows(compared)}
    for column, cell in zip(compared.columns, rows["kontakter"].cells, strict=True):
        if column.code is not None:
            expected = _published(catalog, "SD01", column.code, "2013", "kontakter")
            assert (cell.mark or number(cell.value, 1)) == expected, column.key
    # Bodø's somatic cell rests on 2 patients: withheld, crude and standardised.
    assert rows["somatikk"].cells[0].mark == SUPPRESSED
    assert rows["somatikk_std"].cells[0].mark == SUPPRESSED
    # 8 contacts of 8 patients: the cell of SD01 is published unless it protects another.
    contacts = rows["kontakter"].cells[0]
    if not contacts.mark:
        assert (
            contacts.value == Decimal(8) * 1000 / catalog.cube("SD01").population[("1804", "2013")]
        )


def test_codes_of_earlier_borders_are_compared_as_the_municipality_they_became(
    catalog: Catalog,
) -> None:
    # Trondheim was 1601 in 2013 and is 5001 in the 2024 borders of the catalogue.
    assert catalogue_code(catalog, "1601", 2013) == "5001"
    assert catalogue_code(catalog, "1804", 2013) == "1804"
    with pytest.raises(SamhandlingError, match="Kommunenummer 5001 fantes ikke i 2013"):
        catalogue_code(catalog, "5001", 2013)
    with pytest.raises(SamhandlingError, match="Tabellene har ingen tall for 2009"):
        comparison(catalog, "1804", "Bodø", 2009)


def test_peers_of_bodo(catalog: Catalog) -> None:
    peers: list[PeerGroup] = catalog.peers["1804"]
    kinds = {p.kind: p for p in peers}
    assert sorted(kinds) == ["catchment", "county", "population_band"]
    assert kinds["catchment"].label == "Samme opptaksområde (Nordlandssykehuset HF)"
    assert all("1804" in p.members for p in peers)
    assert all(m.startswith("18") for m in kinds["county"].members)
    compared: Comparison = comparison(catalog, "1804", "Bodø", 2013)
    assert [c.key for c in compared.columns] == [
        "kommune",
        "catchment",
        "county",
        "population_band",
        "landet",
    ]


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


def test_min_kommune_compares_with_peers_and_the_country(base_url: str, catalog: Catalog) -> None:
    with http_client(base_url, "bodo", timeout=120) as client:
        page = client.get("/kommune/1804?aar=2013").text
        # Years the tables do not have (one outside the municipality lists too): a message.
        empty = client.get("/kommune/1804?aar=2009")
        assert empty.status_code == 200
        assert "Tabellene har ingen tall for 2009." in empty.text
        outside = client.get("/kommune/1804?aar=2030")
        assert outside.status_code == 200
        assert "Tabellene har ingen tall for 2030." in outside.text
    assert "Nøkkeltall 2013: Bodø mot sammenlignbare kommuner og landet" in page
    compared = comparison(catalog, "1804", "Bodø", 2013)
    for column in compared.columns:
        assert f'<th scope="col" class="num">{column.label}</th>' in page
    for header in ("Bodø (1804)", "Samme opptaksområde (Nordlandssykehuset HF)", "Hele landet"):
        assert f'<th scope="col" class="num">{header}</th>' in page
    # Every number of the key table is the table generator's published cell.
    contacts = _row(page, "nokkel-kontakter")
    stays = _row(page, "nokkel-opphold")
    for n, column in enumerate(compared.columns):
        if column.code is None:
            continue
        assert contacts[n] == _published(catalog, "SD01", column.code, "2013", "kontakter")
        assert stays[n] == _published(catalog, "SD01", column.code, "2013", "opphold")
    # Bodø's somatic stays rest on 2 patients: withheld, and so is everything resting on them.
    for key in ("somatikk", "somatikk_std", "akutt_medisinsk"):
        assert _row(page, f"nokkel-{key}")[0] == ":", key
    # The band is pooled from published members only and says so.
    assert 'id="innbyggergruppe-merknad"' in page
    # Each indicator links to its table in the table generator.
    assert 'href="/tabeller/SD02?region=1804&amp;region=' in page
    # Suppressed values draw no bar: Bodø's somatic stays have none in the chart.
    chart = page.split('id="nokkel-chart-title"')[1].split("</svg>")[0]
    assert "<title>Rå rate, Bodø" not in chart
    assert ">Rå rate</text>" in chart  # the legend
    assert 'id="tabell-tertial"' in page and 'id="tabell-reinnlagt"' in page
    # Every ICD-10 chapter of Bodø in SD04 rests on 2 patients: none is shown.
    assert "Ingen diagnosegrupper med publiserte tall for Bodø i 2013." in page
    # The tertial chart's numbers are one click away; the key and readmission tables are open.
    assert '<summary>Vis tallene<span class="sr-only"> per tertial</span></summary>' in page


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
    from samhandling.web import tables

    release = threading.Event()
    build = tables.stored_catalog

    def slow_catalog(engine: Engine, rules: RuleSet, warehouse: Warehouse, borders: int) -> Catalog:
        release.wait(120)
        return build(engine, rules, warehouse, borders)

    monkeypatch.setattr(tables, "stored_catalog", slow_catalog)
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
            assert "Nøkkeltallene hentes fra tabellene med prikking, som bygges nå" in first.text
            assert '<meta http-equiv="refresh" content="5">' in first.text
            assert 'id="tabell-nokkel"' not in first.text
            release.set()
            done = until(lambda r: 'id="tabell-nokkel"' in r.text)
            assert 'http-equiv="refresh"' not in done.text
    finally:
        release.set()
