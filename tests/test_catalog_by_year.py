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

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from samhandling.engine import DuckDBEngine, Engine
from samhandling.indicators.facts import fact_years, icd10_block_table
from samhandling.rules import load_rules
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


def test_a_year_at_a_time_gives_the_very_same_catalogue(both: tuple[Catalog, Catalog]) -> None:
    by_year, at_once = both
    assert sorted(by_year.cubes) == sorted(at_once.cubes) == [f"SD{i:02d}" for i in range(1, 13)]
    assert by_year.years == at_once.years
    assert by_year.districts == at_once.districts
    hidden = 0
    for table_id, cube in at_once.cubes.items():
        other = by_year.cube(table_id)
        assert other.cells.num_rows == cube.cells.num_rows, table_id
        assert other.cells.schema == cube.cells.schema, table_id
        for column in cube.cells.column_names:
            a, b = other.cells[column], cube.cells[column]
            differ = [
                i
                for i, (x, y) in enumerate(zip(a.to_pylist(), b.to_pylist(), strict=True))
                if x != y
            ]
            assert not differ, (table_id, column, len(differ), differ[:5])
        assert other.population == cube.population, table_id
        hidden += cube.suppressed_cells
    # A catalogue with nothing hidden would prove nothing about the protection.
    assert hidden > 1000


def test_the_build_leaves_no_facts_of_a_single_year_behind(
    engine: Engine, both: tuple[Catalog, Catalog]
) -> None:
    for relation in ("contact_facts", "payment_facts", "readmission_facts"):
        assert not engine.has_relation(relation), relation


def test_every_year_is_in_the_tables(both: tuple[Catalog, Catalog]) -> None:
    by_year, _ = both
    periods = set(by_year.cube("SD01").cells["period"].to_pylist())
    assert {str(y) for y in YEARS} <= periods
