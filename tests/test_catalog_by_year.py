"""The catalogue built a year at a time is the catalogue built from all years at once.

``build_catalog`` takes a warehouse a year at a time (its facts, its cells counted, its
protection on a thread while the engine counts the next year), so that ten national years fit
a laptop. That rests on a claim: no fact, cell, line or linked cell of one year depends on
another year's rows, except the readmissions and the discharge-ready lines, which are made
once from every year. This test checks the claim where it could fail: three synthetic years
of two municipalities with stays across the new year (readmissions in January, discharge-ready
lines billed in the next year's months), every table, every cell, measure and reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from samhandling.engine import DuckDBEngine, Engine
from samhandling.indicators.facts import fact_years, icd10_block_table
from samhandling.rules import RuleSet, load_rules
from samhandling.synth import generate
from samhandling.tables.catalog import Catalog, build_catalog
from samhandling.warehouse import Warehouse

YEARS = (2012, 2013, 2014)
BORDERS = 2024
# Bodø and Vefsn: a town and a smaller municipality (tables with both large and small cells).
MUNICIPALITIES = ["1804", "1824"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    root = tmp_path_factory.mktemp("by_year")
    generate(root / "inbox", YEARS, 0.02, 7, progress=False, municipalities=MUNICIPALITIES)
    warehouse = Warehouse(root / "warehouse")
    warehouse.ingest_all(root / "inbox")
    duck = DuckDBEngine()
    warehouse.register(duck)
    yield duck
    duck.close()


def _blocks() -> pa.Table:
    # Two ICD-10 chapters keep SD04/SD12 small; the rest fall under "ukjent" in both builds.
    blocks = icd10_block_table()
    return blocks.filter(pc.is_in(blocks["icd_chapter"], pa.array(["IV", "IX"])))


@pytest.fixture(scope="module")
def both(engine: Engine) -> tuple[Catalog, Catalog]:
    rules = load_rules()
    blocks = _blocks()
    by_year = build_catalog(engine, rules, borders=BORDERS, blocks=blocks, built="t")
    at_once = build_catalog(engine, rules, borders=BORDERS, blocks=blocks, built="t", by_year=False)
    return by_year, at_once


def test_the_data_cross_the_new_year(engine: Engine) -> None:
    """The claim is only tested if stays run from one year into the next."""
    assert fact_years(engine)[:3] == list(YEARS)
    crossing = engine.query(
        "SELECT COUNT(*) AS n FROM episodes WHERE care_level = 'inpatient' "
        "AND EXTRACT(YEAR FROM admitted_at) < EXTRACT(YEAR FROM discharged_at)"
    )["n"][0].as_py()
    assert crossing > 0


def _differences(a: Catalog, b: Catalog, table_id: str) -> list[tuple[str, int]]:
    """(column, rows that differ) for every column of one table's cells that differ."""
    left, right = a.cube(table_id).cells, b.cube(table_id).cells
    assert left.num_rows == right.num_rows, table_id
    assert left.schema == right.schema, table_id
    out = []
    for column in left.column_names:
        pairs = zip(left[column].to_pylist(), right[column].to_pylist(), strict=True)
        differ = sum(1 for x, y in pairs if x != y)
        if differ:
            out.append((column, differ))
    return out


def test_a_year_at_a_time_gives_the_very_same_catalogue(both: tuple[Catalog, Catalog]) -> None:
    by_year, at_once = both
    assert sorted(by_year.cubes) == sorted(at_once.cubes) == [f"SD{i:02d}" for i in range(1, 13)]
    assert by_year.years == at_once.years
    assert by_year.districts == at_once.districts
    hidden = 0
    for table_id, cube in at_once.cubes.items():
        assert not _differences(by_year, at_once, table_id), table_id
        assert by_year.cube(table_id).population == cube.population, table_id
        hidden += cube.suppressed_cells
    # A catalogue with nothing hidden would prove nothing about the protection.
    assert hidden > 1000


# Rule versions that start on ``{start}``: a higher threshold and another confidence level for
# SD09's intervals.
_LATER_RULES = """
[[rules."disclosure.threshold".values]]
valid_from = 2000-01-01
valid_to = {before}
value = "5"
status = "confirmed"
source = "test"

[[rules."disclosure.threshold".values]]
valid_from = {start}
value = "9"
status = "unverified"
source = "test"

[[rules."indicators.confidence_level".values]]
valid_from = 2000-01-01
valid_to = {before}
value = "0.95"
status = "confirmed"
source = "test"

[[rules."indicators.confidence_level".values]]
valid_from = {start}
value = "0.99"
status = "unverified"
source = "test"
"""

_RULE_TABLES = ["SD01", "SD02", "SD08", "SD09"]


def _with_rules_from(tmp_path: Path, start: dt.date) -> RuleSet:
    path = tmp_path / f"later-{start.isoformat()}.toml"
    before = start - dt.timedelta(days=1)
    path.write_text(_LATER_RULES.format(start=start, before=before), "utf-8")
    return load_rules().with_override(path)


def test_the_catalogue_reads_its_rules_for_the_data_not_the_clock(
    engine: Engine, tmp_path: Path
) -> None:
    """A rule version that starts on 1 January 2020 (after the data's last year, before the day
    the test runs) leaves the catalogue exactly as it is; one that starts inside the data's
    period changes it. Rules read for the clock would have taken the first, so the catalogue
    would depend on the day it was built, not on the period its data cover."""
    last = max(fact_years(engine))
    assert last < 2020 < dt.date.today().year
    blocks = _blocks()
    # The same tables linked the same way (a subset links differently from the whole).
    reference = build_catalog(
        engine, load_rules(), borders=BORDERS, blocks=blocks, built="t", only=_RULE_TABLES
    )
    later = build_catalog(
        engine,
        _with_rules_from(tmp_path, dt.date(2020, 1, 1)),
        borders=BORDERS,
        blocks=blocks,
        built="t",
        only=_RULE_TABLES,
    )
    for table_id in _RULE_TABLES:
        assert not _differences(later, reference, table_id), table_id
        assert later.cube(table_id).threshold == reference.cube(table_id).threshold == 5
    inside = build_catalog(
        engine,
        _with_rules_from(tmp_path, dt.date(YEARS[1], 1, 1)),
        borders=BORDERS,
        blocks=blocks,
        built="t",
        only=_RULE_TABLES,
    )
    assert inside.cube("SD01").threshold == 9
    # More patients needed per cell: more cells hidden in every table; SD09's intervals of
    # 2013 and 2014 are 99 % intervals (each year's rates read the rules of that year).
    for table_id in _RULE_TABLES:
        assert inside.cube(table_id).suppressed_cells > reference.cube(table_id).suppressed_cells
    assert {"reason", "ki_nedre", "ki_ovre"} <= set(dict(_differences(inside, reference, "SD09")))


def test_the_build_leaves_no_facts_of_a_single_year_behind(
    engine: Engine, both: tuple[Catalog, Catalog]
) -> None:
    for relation in ("contact_facts", "payment_facts", "readmission_facts"):
        assert not engine.has_relation(relation), relation


def test_every_year_is_in_the_tables(both: tuple[Catalog, Catalog]) -> None:
    by_year, _ = both
    periods = set(by_year.cube("SD01").cells["period"].to_pylist())
    assert {str(y) for y in YEARS} <= periods
