"""Municipality lists per year, counties and tertials (samhandling.refdata)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from samhandling.errors import SamhandlingError
from samhandling.refdata import (
    counties,
    months_in_tertial,
    municipality_years,
    names,
    tertial,
    tertial_label,
    valid_codes,
)


@pytest.mark.parametrize(
    ("year", "count"),
    [
        (2006, 431),
        (2008, 430),
        (2012, 429),
        (2013, 428),
        (2017, 426),
        (2018, 422),
        (2019, 422),
        (2020, 356),
        (2023, 356),
        (2024, 357),
        (2026, 357),
    ],
)
def test_code_counts_per_year(year: int, count: int) -> None:
    assert len(valid_codes(year)) == count


def test_codes_are_four_digit_strings_with_leading_zeros() -> None:
    codes_2012 = valid_codes(2012)
    assert "0101" in codes_2012  # Halden
    assert "0301" in codes_2012  # Oslo
    assert all(len(code) == 4 and code.isdigit() for code in codes_2012)


def test_names_follow_the_year() -> None:
    assert names(2012)["1401"] == "Flora"
    assert names(2020)["4602"] == "Kinn"
    assert names(2012)["0219"] == "Bærum"
    assert names(2024)["3201"] == "Bærum"
    assert "1401" not in names(2020)


def test_municipality_years_schema_and_county() -> None:
    table = municipality_years()
    assert table.schema == pa.schema(
        [
            ("year", pa.int16()),
            ("municipality", pa.string()),
            ("name", pa.string()),
            ("county", pa.string()),
            ("county_name", pa.string()),
        ]
    )
    rows = {
        (r["year"], r["municipality"]): (r["county"], r["county_name"]) for r in table.to_pylist()
    }
    assert rows[(2012, "0219")] == ("02", "Akershus")
    assert rows[(2020, "3024")] == ("30", "Viken")
    assert rows[(2024, "3201")] == ("32", "Akershus")
    assert table.num_rows == 8488


def test_counties_per_year() -> None:
    assert counties(2012).num_rows == 19
    assert counties(2020).num_rows == 11
    assert counties(2024).num_rows == 15
    assert counties(2024).to_pylist()[0] == {"county": "03", "county_name": "Oslo"}


def test_year_outside_the_lists_is_a_user_error() -> None:
    with pytest.raises(SamhandlingError, match="2005"):
        valid_codes(2005)


@pytest.mark.parametrize(
    ("month", "expected"),
    [(1, 1), (4, 1), (5, 2), (8, 2), (9, 3), (12, 3)],
)
def test_tertial_of_month(month: int, expected: int) -> None:
    assert tertial(month) == expected


def test_tertial_labels_and_months() -> None:
    assert tertial_label(2012, 1) == "2012T1"
    assert tertial_label(2011, 2) == "2011T2"
    assert months_in_tertial(1) == (1, 2, 3, 4)
    assert months_in_tertial(2) == (5, 6, 7, 8)
    assert months_in_tertial(3) == (9, 10, 11, 12)


@pytest.mark.parametrize("bad", [0, 13, -1])
def test_bad_month_is_a_user_error(bad: int) -> None:
    with pytest.raises(SamhandlingError, match="måned"):
        tertial(bad)


def test_bad_tertial_is_a_user_error() -> None:
    with pytest.raises(SamhandlingError, match="tertial"):
        months_in_tertial(4)
    with pytest.raises(SamhandlingError, match="tertial"):
        tertial_label(2012, 0)


@given(st.integers(min_value=1, max_value=12))
def test_every_month_lies_in_its_tertial(month: int) -> None:
    assert month in months_in_tertial(tertial(month))
