"""ICD-10 normalisation, validity and hierarchy (samhandling.refdata.icd10)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from samhandling.engine import DuckDBEngine
from samhandling.refdata.icd10 import blocks, chapters, codes, is_valid, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A00", "A00"),
        ("a00.0", "A000"),
        (" S72.00 ", "S7200"),
        ("E10.3†", "E103"),
        ("H36.0*", "H360"),
        ("J 44 9", "J449"),
        ("A0", None),
        ("A000000", None),
        ("1234", None),
        ("AB1", None),
        ("", None),
        ("I210a", None),
    ],
)
def test_normalise(raw: str, expected: str | None) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("E11.9", True),
        ("I21", True),
        ("U07.1", True),
        ("O80", True),  # in WHO 2019, not in the Norwegian list
        ("H60.0", True),
        ("A10", False),  # well formed, but no such category (A00-A09, then A15)
        ("Z9", False),
        ("X", False),
    ],
)
def test_is_valid(code: str, valid: bool) -> None:
    assert is_valid(code) is valid


@given(st.from_regex(r"[A-Z][0-9]{2}(\.[0-9]{1,2})?", fullmatch=True))
def test_normalise_accepts_every_well_formed_code(code: str) -> None:
    normalised = normalise(code)
    assert normalised == code.replace(".", "")
    assert normalise(code.lower()) == normalised


def test_codes_one_row_per_category() -> None:
    table = codes()
    assert table.num_rows == 2050
    assert table["category3"].to_pylist() == sorted(set(table["category3"].to_pylist()))
    rows = {r["category3"]: r for r in table.to_pylist()}
    assert rows["E11"] == {
        "category3": "E11",
        "block": "E10-E14",
        "chapter_roman": "IV",
        "chapter": 4,
        "text_no": None,
        "text_en": "Type 2 diabetes mellitus",
    }
    assert rows["I10"]["text_no"] == "Essensiell (primær) hypertensjon"
    assert rows["C15"]["block"] == "C15-C26"  # innermost of the nested neoplasm blocks
    assert rows["H60"]["chapter"] == 8


def test_chapters_have_norwegian_names() -> None:
    table = chapters().to_pylist()
    assert len(table) == 22
    assert table[0]["text_no"] == "Visse infeksjonssykdommer og parasittsykdommer"
    assert table[7] == {
        "chapter": 8,
        "chapter_roman": "VIII",
        "first_code": "H60",
        "last_code": "H95",
        "text_no": "Sykdommer i øre og ørebensknute",
        "text_en": "Diseases of the ear and mastoid process",
    }
    assert table[21]["first_code"] == "U00"
    assert table[21]["text_no"] == "Koder for spesielle formål"


def test_blocks() -> None:
    rows = {r["block"]: r for r in blocks().to_pylist()}
    assert len(rows) == 274
    assert rows["E10-E14"]["text_no"] == "Diabetes mellitus"
    assert rows["C15-C26"]["parent_block"] == "C00-C75"
    assert rows["E10-E14"]["parent_block"] is None


def test_codes_group_diagnoses_in_sql() -> None:
    diagnoses = pa.table({"main_diagnosis": ["E119", "E109", "I10", "J449", "Q999"]})
    with DuckDBEngine() as duck:
        duck.register_arrow("episodes", diagnoses)
        duck.register_arrow("icd10", codes())
        got = duck.query(
            "SELECT c.chapter, COUNT(*) AS n FROM episodes e "
            "JOIN icd10 c ON c.category3 = SUBSTRING(e.main_diagnosis, 1, 3) "
            "GROUP BY c.chapter ORDER BY c.chapter"
        )
    assert got.to_pylist() == [
        {"chapter": 4, "n": 2},
        {"chapter": 9, "n": 1},
        {"chapter": 10, "n": 1},
        {"chapter": 17, "n": 1},
    ]
