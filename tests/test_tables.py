"""Table generator: slicing protected cubes, JSON-stat 2.0 validity, CSV/XLSX/Parquet outputs."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from samhandling.indicators.facts import UNKNOWN_RESIDENCE, icd10_block_table
from samhandling.rules import load_rules
from samhandling.tables.catalog import catalog_specs
from samhandling.tables.cube import TableError, cube_lines
from samhandling.tables.dimensions import COUNTRY, Dimension, region_dimension
from samhandling.tables.disclosure import PUBLISHED, attack_intervals
from samhandling.tables.output import render, to_jsonstat, validate_jsonstat
from test_acceptance_questions import acceptance_catalog


def test_slice_eliminates_unselected_dimensions_and_orders_cells() -> None:
    cube = acceptance_catalog().cube("SD03")
    table = cube.slice(
        {"region": ["1703"], "period": ["2010"], "discharged_to": ["home", "nursing_home"]},
        ["opphold", "liggedogn"],
    )
    # 6 stays home and 6 to a nursing home, 5 days each.
    assert table.values == [6, 30, 6, 30]
    assert table.shape == [1, 1, 2, 2]
    flipped = table.reordered(["discharged_to"])
    assert [d[0] for d in flipped.dimensions] == [
        "discharged_to",
        "region",
        "period",
        "ContentsCode",
    ]
    assert flipped.values == [6, 30, 6, 30]


def test_unknown_code_is_a_user_error() -> None:
    cube = acceptance_catalog().cube("SD03")
    with pytest.raises(TableError, match="Ukjent kode"):
        cube.slice({"region": ["4242"]})


def test_suppressed_cells_hide_value_and_give_reason() -> None:
    cube = acceptance_catalog().cube("SD02")
    # Flora 2010: S1-S3 (age 10) are 3 patients -> primary; then either F1-F12 (age 60) or
    # the Flora total of 15 is hidden as well (secondary), or the total would give them away.
    table = cube.slice(
        {"region": ["1401"], "period": ["2010"], "age": ["A0-17", "A50-66", "_T"]},
        ["pasienter"],
    )
    assert table.values[0] is None
    assert table.reasons[0] == "primary"
    assert table.values[1] is None or table.values[2] is None
    assert set(table.reasons.values()) - {"primary"} == {"secondary"}
    # Women: no Flora contacts at all; a published zero.
    women = cube.slice({"region": ["1401"], "period": ["2010"], "sex": ["2"]}, ["pasienter"])
    assert women.values == [0]


def test_no_published_cell_describes_one_to_four_patients() -> None:
    for cube in acceptance_catalog().cubes.values():
        patients = np.asarray(cube.cells["pasienter"].to_pylist())
        reasons = np.asarray(cube.cells["reason"].to_pylist())
        assert not np.any((patients >= 1) & (patients < 5) & (reasons == PUBLISHED))


@pytest.mark.parametrize("table_id", ["SD02"])
def test_attacker_cannot_narrow_hidden_cells_of_a_published_cube(table_id: str) -> None:
    cube = acceptance_catalog().cube(table_id)
    lines = cube_lines(cube.spec, cube.cells)
    reasons = cube.cells["reason"].to_pylist()
    counts = cube.cells[cube.spec.measures[0].id].to_pylist()
    got = attack_intervals(counts, lines, reasons)
    assert got, "the cube has hidden cells"
    for low, high in got.values():
        assert high - low >= 5


def test_jsonstat_is_valid_with_status_and_notes() -> None:
    cube = acceptance_catalog().cube("SD02")
    table = cube.slice(
        {"region": ["1401", "0219"], "period": ["2010", "2010T2"], "age": ["A80+", "A50-66"]},
        ["pasienter", "opphold_per_1000"],
    )
    doc = to_jsonstat(table)
    assert validate_jsonstat(doc) == []
    assert doc["size"] == [2, 2, 2, 2]
    assert set(doc["status"].values()) <= {":"}
    assert doc["extension"]["suppression"]["threshold"] == 5
    assert any("prikket" in n for n in doc["note"])
    assert json.loads(render(table, "json-stat2")) == doc


def test_jsonstat_validator_rejects_a_broken_dataset() -> None:
    doc = to_jsonstat(acceptance_catalog().cube("SD03").slice({}, ["opphold"]))
    doc["updated"] = "yesterday"
    assert validate_jsonstat(doc) != []


def test_csv_xlsx_parquet_carry_the_marks() -> None:
    cube = acceptance_catalog().cube("SD02")
    table = cube.slice(
        {"region": ["1401"], "period": ["2010"], "age": ["A0-17", "A50-66", "_T"]},
        ["pasienter"],
    )
    rows = list(csv.reader(io.StringIO(render(table, "csv").decode("utf-8"))))
    assert rows[0][-2:] == ["verdi", "prikking"]
    assert rows[1][-2:] == [":", "primary"]
    book = load_workbook(io.BytesIO(render(table, "xlsx")))
    cells = [c.value for row in book.active.iter_rows() for c in row if c.value is not None]
    assert ": (1)" in cells
    assert ": (2)" in cells
    assert any(str(c).startswith("(1) : = færre enn 5 pasienter") for c in cells)
    parquet = pq.read_table(io.BytesIO(render(table, "parquet")))
    assert parquet["verdi"].to_pylist() == table.values
    assert parquet["prikking"].to_pylist() == [table.reasons.get(i, "") for i in range(3)]
    assert parquet["prikking"].to_pylist()[0] == "primary"


# ----------------------------------------------------------------------------- design by level


def _keys(d: Dimension, code: str) -> set[str]:
    return {k for k, c in d.mapping if c == code}


def _lines_add_up(d: Dimension) -> None:
    """Every line's parts are disjoint and together hold exactly the keys of its total."""
    for total, parts in d.lines:
        held = [_keys(d, p) for p in parts]
        assert sum(len(h) for h in held) == len(set().union(*held)), (d.id, total)
        assert set().union(*held) == _keys(d, total), (d.id, total)


def test_the_upper_levels_have_no_municipality_and_their_lines_add_up() -> None:
    upper = region_dimension(2024, [("0301", "030101", "Gamle Oslo")], municipalities=False)
    codes = [c for c, _ in upper.codes]
    assert not [c for c in codes if c.isdigit() and c not in (COUNTRY, UNKNOWN_RESIDENCE)]
    assert not [c for c in codes if c.startswith("B")] and upper.key_sql == "f.residence"
    assert {c[0] for c in codes} == {"0", "R", "H", "F", "9"}
    lines = {(total, parts[0][0]) for total, parts in upper.lines}
    assert lines == {(COUNTRY, "F"), (COUNTRY, "R")} | {
        (c, "H") for c in codes if c.startswith("R")
    }
    _lines_add_up(upper)
    # The same keys as the full region: every level counts the same facts.
    whole = region_dimension(2024)
    for code in codes:
        assert _keys(upper, code) == _keys(whole, code), code


def test_each_table_has_the_detail_of_its_levels() -> None:
    specs = {
        s.id: s
        for s in catalog_specs(
            load_rules(), borders=2024, years=[2012, 2013], blocks=icd10_block_table()
        )
    }
    assert sorted(specs) == [f"SD{i:02d}" for i in range(1, 13)]

    def codes(table: str, dim: str) -> set[str]:
        return {c for c, _ in specs[table].dimension(dim).codes}

    municipal = {"SD01", "SD02", "SD03", "SD04", "SD05", "SD06", "SD07", "SD08", "SD09"}
    for table in specs:
        assert ("1804" in codes(table, "region")) == (table in municipal), table
    # Months: SD10 (upper levels) and SD06 (money is billed per month), not SD01.
    assert "2013M03" in codes("SD10", "period") and "2013M03" in codes("SD06", "period")
    assert "2013M03" not in codes("SD01", "period")
    assert codes("SD01", "period") <= codes("SD10", "period")
    # 5-year age groups: SD11, not SD02 (steering-data bands and all ages).
    assert codes("SD02", "age") == {"_T", "A0-17", "A18-49", "A50-66", "A67-79", "A80+"}
    assert codes("SD11", "age") - codes("SD02", "age") >= {"00-04", "85-89", "90+"}
    # ICD-10: SD04 the chapters and diabetes (with the rest of chapter IV), SD12 every block.
    sd04 = specs["SD04"].dimension("diagnosis")
    assert dict(sd04.lines)["KIV"] == ("KIV_annet", "E10-E14")
    assert {c for c in codes("SD04", "diagnosis") if not c.startswith("K")} == {
        "_T",
        "E10-E14",
        "ukjent",
    }
    assert "I20-I25" in codes("SD12", "diagnosis")
    assert codes("SD04", "diagnosis") - codes("SD12", "diagnosis") == {"KIV_annet"}
    for table, dim in (("SD04", "diagnosis"), ("SD12", "diagnosis"), ("SD02", "age")):
        _lines_add_up(specs[table].dimension(dim))
    assert _keys(sd04, "KIV") == _keys(specs["SD12"].dimension("diagnosis"), "KIV")


def test_municipal_five_year_age_groups_are_not_offered() -> None:
    """SD02 has the steering-data bands only: a 5-year group is a user error (SD11 has it for
    the counties, catchment areas, RHFs and the country)."""
    cube = acceptance_catalog().cube("SD02")
    with pytest.raises(TableError, match="Ukjent kode"):
        cube.slice({"region": ["1804"], "age": ["80-84"]})
