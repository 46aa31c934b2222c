"""Table generator: slicing protected cubes, JSON-stat 2.0 validity, CSV/XLSX/Parquet outputs."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from samhandling.tables.cube import TableError, cube_lines
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
