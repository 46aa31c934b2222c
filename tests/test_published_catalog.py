"""The published catalogue is built once per warehouse state, stored, and read back unchanged."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from samhandling.engine import DuckDBEngine, Engine
from samhandling.indicators.facts import icd10_block_table
from samhandling.rules import load_rules
from samhandling.tables import published
from samhandling.tables.catalog import Catalog, build_catalog
from samhandling.tables.published import (
    MANIFEST,
    catalog_folder,
    load_catalog,
    published_catalog,
)
from samhandling.warehouse import Warehouse
from samhandling.web.tables import stored_catalog
from web_helpers import TINY, ingest_tiny

RULES = load_rules()
BORDERS = 2024


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return ingest_tiny(tmp_path_factory.mktemp("publisert"))


@pytest.fixture(scope="module")
def built(tiny: Warehouse) -> Catalog:
    return published_catalog(tiny, RULES, BORDERS)


def _no_build(*_args: object, **_kwargs: object) -> Catalog:
    raise AssertionError("the stored catalogue should have been read, not built")


def test_stored_catalogue_is_read_back_as_built(
    tiny: Warehouse, built: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(published, "build_catalog", _no_build)
    again = published_catalog(tiny, RULES, BORDERS)
    assert sorted(again.cubes) == sorted(built.cubes) == [f"SD{i:02d}" for i in range(1, 13)]
    for table_id, cube in built.cubes.items():
        stored = again.cube(table_id)
        assert stored.cells.equals(cube.cells), table_id
        assert stored.population == cube.population, table_id
        assert (stored.threshold, stored.rule_version, stored.built) == (
            cube.threshold,
            cube.rule_version,
            cube.built,
        )
        # Every published table is the same: slices of all codes of each dimension alone.
        for d in cube.spec.dimensions:
            codes = {d.id: [c for c, _ in d.codes]}
            mine, theirs = cube.slice(codes), stored.slice(codes)
            assert (mine.values, mine.reasons) == (theirs.values, theirs.reasons)
    assert again.peers == built.peers and again.peer_year == built.peer_year
    assert (again.years, again.districts, again.borders) == (
        built.years,
        built.districts,
        BORDERS,
    )
    # Money is published in kroner from the stored øre, as when built.
    money = {"region": ["1804"], "ContentsCode": ["medfinansiering"]}
    assert (
        again.cube("SD06").slice({"region": money["region"]}, money["ContentsCode"]).values
        == built.cube("SD06").slice({"region": money["region"]}, money["ContentsCode"]).values
    )


def test_a_new_delivery_or_other_rules_need_a_new_catalogue(
    tiny: Warehouse, built: Catalog, tmp_path: Path
) -> None:
    before = catalog_folder(tiny, RULES, BORDERS)
    assert (before / MANIFEST).is_file() and load_catalog(tiny, RULES, BORDERS) is not None
    # Other borders or a rule override name another folder: nothing stale is read.
    assert catalog_folder(tiny, RULES, 2020) != before
    override = tmp_path / "override.toml"
    override.write_text(
        '[[rules."disclosure.threshold".values]]\n'
        'valid_from = 2000-01-01\nvalue = "3"\nstatus = "unverified"\nsource = "test"\n'
    )
    assert load_catalog(tiny, RULES.with_override(override), BORDERS) is None
    # Loading the same delivery again changes nothing; a corrected delivery does.
    shutil.copytree(TINY, tmp_path / "same")
    tiny.ingest(tmp_path / "same", as_of=date(2014, 6, 30))
    assert catalog_folder(tiny, RULES, BORDERS) == before
    corrected = tmp_path / "corrected"
    shutil.copytree(TINY, corrected)
    lines = (corrected / "events.csv").read_text("utf-8").splitlines(keepends=True)
    (corrected / "events.csv").write_text("".join(lines[:-1]), "utf-8")
    tiny.ingest(corrected, as_of=date(2014, 6, 30))
    assert catalog_folder(tiny, RULES, BORDERS) != before
    assert load_catalog(tiny, RULES, BORDERS) is None


def test_the_portal_reads_the_stored_catalogue_on_either_engine(
    tiny: Warehouse, built: Catalog, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The portal's catalogue job given either engine reads what ``table-build`` stored."""
    # Stored for the warehouse as it is now (an earlier test ingests a corrected delivery).
    current = published_catalog(tiny, RULES, BORDERS)
    monkeypatch.setattr(published, "build_catalog", _no_build)
    again = stored_catalog(engine, RULES, tiny, BORDERS)
    assert sorted(again.cubes) == sorted(current.cubes) == sorted(built.cubes)
    for table_id, cube in current.cubes.items():
        assert again.cube(table_id).cells.equals(cube.cells), table_id


def test_half_written_folders_are_ignored(tmp_path: Path) -> None:
    warehouse = ingest_tiny(tmp_path)
    folder = catalog_folder(warehouse, RULES, BORDERS)
    folder.mkdir(parents=True)
    (folder / "SD01.parquet").write_bytes(b"half")
    assert load_catalog(warehouse, RULES, BORDERS) is None
    catalog = published_catalog(warehouse, RULES, BORDERS)
    assert len(catalog.cubes) == 12
    assert (folder / MANIFEST).is_file() and load_catalog(warehouse, RULES, BORDERS) is not None


def test_the_catalogue_builds_the_same_on_either_engine(tiny: Warehouse, engine: Engine) -> None:
    """The fact tables (contacts, payments, readmissions) derived and the tables counted on the
    engine, then linked and protected in this process: cell for cell what DuckDB gives.

    CI builds one table of each kind of facts (SD06 payments, SD08 readmissions, SD09 contacts and
    the standardised rates; the whole catalogue costs minutes on the test cluster);
    ``SAMHANDLING_TEST_CATALOGUE_TABLES=all`` builds every table.
    """
    chosen = os.environ.get("SAMHANDLING_TEST_CATALOGUE_TABLES", "SD06,SD08,SD09")
    only = None if chosen == "all" else [t.strip() for t in chosen.split(",")]
    blocks = icd10_block_table()
    tiny.register(engine)
    got = build_catalog(engine, RULES, borders=BORDERS, blocks=blocks, only=only, built="t")
    with DuckDBEngine() as reference:
        tiny.register(reference)
        expected = build_catalog(
            reference, RULES, borders=BORDERS, blocks=blocks, only=only, built="t"
        )
    assert sorted(got.cubes) == sorted(expected.cubes)
    assert len(got.cubes) == (12 if only is None else len(only))
    for table_id, cube in expected.cubes.items():
        mine = got.cube(table_id)
        order = [(d.id, "ascending") for d in cube.spec.dimensions]
        assert mine.cells.sort_by(order).equals(cube.cells.sort_by(order)), table_id
        assert mine.population == cube.population, table_id
    assert got.peers == expected.peers
    assert (got.years, got.districts) == (expected.years, expected.districts)
