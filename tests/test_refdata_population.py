"""Population 1 January in any municipality borders (samhandling.refdata.population)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from samhandling.errors import SamhandlingError
from samhandling.refdata import (
    age_group_5yr,
    district_population,
    population,
    population_5yr,
    valid_codes,
)
from samhandling.refdata.population import _largest_remainder


def _total(table: pa.Table, year: int, municipality: str) -> tuple[int, bool]:
    rows = table.filter(
        pc.and_(
            pc.equal(table["year"], pa.scalar(year, pa.int16())),
            pc.equal(table["municipality"], pa.scalar(municipality)),
        )
    )
    return sum(rows["count"].to_pylist()), any(rows["approximate"].to_pylist())


def _cell(table: pa.Table, municipality: str, sex: int, age: int) -> int:
    rows = [
        r["count"]
        for r in table.to_pylist()
        if r["municipality"] == municipality and r["sex"] == sex and r["age"] == age
    ]
    assert len(rows) == 1
    return int(rows[0])


def test_schema_and_ages() -> None:
    table = population([2012])
    assert table.schema == pa.schema(
        [
            ("year", pa.int16()),
            ("municipality", pa.string()),
            ("sex", pa.int8()),
            ("age", pa.int16()),
            ("count", pa.int32()),
            ("approximate", pa.bool_()),
        ]
    )
    assert pc.min(table["age"]).as_py() == 0
    assert pc.max(table["age"]).as_py() == 105
    assert set(table["sex"].to_pylist()) == {1, 2}
    assert set(table["municipality"].to_pylist()) == valid_codes(2024)
    # 357 municipalities x 2 sexes x 106 ages
    assert table.num_rows == 357 * 2 * 106


def test_single_ages_from_the_wide_file() -> None:
    # befolkning_kommune_b2024_kjonn_alder1_2010_2026_bred.csv, row "2012,3201,M":
    # a000 = 683, a001 = 709, a103 = 1, a104 = 0, a105pluss = 1 (M = men = sex 1)
    table = population([2012])
    assert _cell(table, "3201", 1, 0) == 683
    assert _cell(table, "3201", 1, 1) == 709
    assert _cell(table, "3201", 1, 103) == 1
    assert _cell(table, "3201", 1, 104) == 0
    assert _cell(table, "3201", 1, 105) == 1


@pytest.mark.parametrize("borders", [2012, 2019, 2020, 2024, 2026])
def test_national_total_is_the_same_in_any_borders(borders: int) -> None:
    # befolkning_kommune_b2024_total_2010_2026.csv summed over 2012: 4 985 817 (SSB's national
    # figure is 4 985 870; the 53 are csdata's rounding of weighted splits and Svalbard)
    table = population([2012, 2024], borders=borders)
    totals = {
        year: sum(
            table.filter(pc.equal(table["year"], pa.scalar(year, pa.int16())))["count"].to_pylist()
        )
        for year in (2012, 2024)
    }
    assert totals == {2012: 4_985_817, 2024: 5_550_203}
    assert set(table["municipality"].to_pylist()) == valid_codes(borders)


def test_unchanged_municipality_in_old_borders_equals_b2024_figure() -> None:
    # Bærum: 0219 in 2012, 3201 in 2024; total 2012 = 114 489 in the b2024 totals file
    assert _total(population([2012], borders=2012), 2012, "0219") == (114_489, False)
    assert _total(population([2012]), 2012, "3201") == (114_489, False)


def test_a_2020_unit_is_the_sum_of_its_2024_parts() -> None:
    # 1507 Ålesund (2020-2023) = 1508 Ålesund + 1580 Haram; csdata's 50/50 split of the
    # parts before 2024 cancels out in the sum, so 1507 is exact while its parts are not.
    # Wide file, 2020: 1508 K a000 153, M a000 168; 1580 the same (a 50/50 split)
    b2020 = population([2020], borders=2020)
    assert _cell(b2020, "1507", 2, 0) == 153 + 153
    assert _cell(b2020, "1507", 1, 0) == 168 + 168
    assert _total(b2020, 2020, "1507")[1] is False
    b2024 = population([2020])
    assert _total(b2024, 2020, "1508")[1] is True
    assert (
        _total(b2020, 2020, "1507")[0]
        == _total(b2024, 2020, "1508")[0] + _total(b2024, 2020, "1580")[0]
    )


def test_merged_units_in_older_borders_are_flagged_approximate() -> None:
    # 5001 Trondheim (2024) = 1601 Trondheim + 1662 Klæbu (2012); total 2012 = 182 278
    b2012 = population([2012], borders=2012)
    trondheim, trondheim_flag = _total(b2012, 2012, "1601")
    klaebu, klaebu_flag = _total(b2012, 2012, "1662")
    assert trondheim + klaebu == 182_278
    assert trondheim_flag and klaebu_flag


def test_years_before_2010_are_a_user_error() -> None:
    with pytest.raises(SamhandlingError, match="2009"):
        population([2009, 2010])


def test_borders_outside_the_lists_are_a_user_error() -> None:
    with pytest.raises(SamhandlingError, match="2030"):
        population([2012], borders=2030)


def test_largest_remainder_keeps_each_source_total() -> None:
    # rows 0 and 1 split 7 people 50/50 and 5 people 35/35/30:
    # 7 -> 3.5 + 3.5 -> 4 + 3; 5 -> 1.75 + 1.75 + 1.5 -> 2 + 2 + 1 (remainders .75 .75 .5)
    source = pa.array([0, 0, 1, 1, 1]).to_numpy()
    counts = pa.array([7, 7, 5, 5, 5]).to_numpy()
    shares = pa.array([0.5, 0.5, 0.35, 0.35, 0.3]).to_numpy()
    assert _largest_remainder(source, counts, shares).tolist() == [4, 3, 2, 2, 1]


def test_five_year_groups() -> None:
    assert [age_group_5yr(a) for a in (0, 4, 5, 89, 90, 105)] == [
        "00-04",
        "00-04",
        "05-09",
        "85-89",
        "90+",
        "90+",
    ]
    grouped = population_5yr([2012])
    rows = [
        r
        for r in grouped.to_pylist()
        if r["municipality"] == "3201" and r["sex"] == 1 and r["age_group"] == "00-04"
    ]
    single = population([2012])
    expected = sum(_cell(single, "3201", 1, age) for age in range(5))
    assert [r["count"] for r in rows] == [expected]
    assert grouped.num_rows == 357 * 2 * 19


def test_city_districts() -> None:
    table = district_population([2024])
    assert set(table["municipality"].to_pylist()) == {"0301", "4601", "1103", "5001"}
    # befolkning_bydel_kjonn_alder5_2010_2026.csv: 2010,030101,Gamle Oslo,wardoslo,K,00-04,1741
    first = district_population([2010]).to_pylist()[0]
    assert first == {
        "year": 2010,
        "district": "030101",
        "district_name": "Gamle Oslo",
        "municipality": "0301",
        "sex": 2,
        "age_group": "00-04",
        "count": 1741,
    }


def test_no_years_give_an_empty_table_with_the_schema() -> None:
    empty = population([], borders=2019)
    assert empty.num_rows == 0
    assert empty.schema == population([2012]).schema
