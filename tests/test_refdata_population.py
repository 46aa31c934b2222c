"""Population 1 January in any municipality borders (samhandling.refdata.population)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samhandling.errors import SamhandlingError
from samhandling.refdata import (
    age_group_5yr,
    district_population,
    population,
    population_5yr,
    valid_codes,
)
from samhandling.refdata._files import read_csv
from samhandling.refdata.borders import code_map
from samhandling.refdata.population import (
    ORIGINAL_TOTALS_FILE,
    _largest_remainder,
    _pools,
    border_shares,
)


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


def _cells(table: pa.Table) -> dict[tuple[str, int, int], int]:
    return {
        (code, sex, age): count
        for code, sex, age, count in zip(
            table["municipality"].to_pylist(),
            table["sex"].to_pylist(),
            table["age"].to_pylist(),
            table["count"].to_pylist(),
            strict=True,
        )
    }


def _imported(year: int, code: str) -> int:
    table = read_csv(ORIGINAL_TOTALS_FILE, strings=("kommunenummer", "kilde"))
    rows = [
        r["personer"] for r in table.to_pylist() if r["aar"] == year and r["kommunenummer"] == code
    ]
    assert len(rows) == 1
    return int(rows[0])


@pytest.mark.parametrize(
    ("borders", "year", "trondheim", "klaebu"),
    [
        # SSB totals copied into befolkning_kommune_opprinnelige_grenser_2012_2019.csv:
        # 2016 (2016 borders) 1601 Trondheim 187 353, 1662 Klæbu 6 067
        (2012, 2016, ("1601", 187_353), ("1662", 6_067)),
        # 2019 (2019 borders) 5001 Trondheim 196 159, 5030 Klæbu 6 076
        (2019, 2019, ("5001", 196_159), ("5030", 6_076)),
    ],
)
def test_merged_units_follow_the_real_ssb_totals(
    borders: int, year: int, trondheim: tuple[str, int], klaebu: tuple[str, int]
) -> None:
    assert _imported(year, trondheim[0]) == trondheim[1]
    assert _imported(year, klaebu[0]) == klaebu[1]
    table = population([year], borders=borders)
    got_trondheim = _total(table, year, trondheim[0])[0]
    got_klaebu = _total(table, year, klaebu[0])[0]
    # the pooled 2024 cells are split cell by cell, so rounding moves a few persons at most
    assert abs(got_trondheim - trondheim[1]) <= 10
    assert abs(got_klaebu - klaebu[1]) <= 10
    assert got_trondheim + got_klaebu == trondheim[1] + klaebu[1]


def test_klaebu_in_2012_is_no_longer_half_of_trondheim() -> None:
    # 2012 borders, population 2012: 5001 Trondheim (182 278) is divided by the nearest SSB
    # totals covering both (2016: 187 353 and 6 067), so Klæbu gets about 3.1 %, not 50 %
    b2012 = population([2012], borders=2012)
    klaebu = _total(b2012, 2012, "1662")[0]
    expected = 182_278 * 6_067 / (187_353 + 6_067)  # 5 717.7
    assert abs(klaebu - expected) <= 10
    shares = border_shares(2012, 2012)
    row = shares.filter(pc.equal(shares["municipality"], "1662")).to_pylist()
    assert [(r["municipalities_2024"], r["source_year"], r["approximate"]) for r in row] == [
        ("5001", 2016, True)
    ]


def test_harstad_and_bjarkoy_in_2012_come_from_the_2012_figures() -> None:
    # 1901 Harstad 23 640 and 1915 Bjarkøy 455 on 1.1.2012 (sum 24 095 = 5503 Harstad in the
    # b2024 totals file for 2012)
    b2012 = population([2012], borders=2012)
    harstad = _total(b2012, 2012, "1901")[0]
    bjarkoy = _total(b2012, 2012, "1915")[0]
    assert harstad + bjarkoy == 24_095
    assert abs(harstad - 23_640) <= 5
    assert abs(bjarkoy - 455) <= 5


def test_haram_before_2020_is_real_not_half_of_alesund() -> None:
    # csdata gives 1580 Haram for 2013 as 50 % of Ålesund 2020 (30 946); the pool 1508 + 1580
    # is divided by the SSB 2013 totals instead: 1534 Haram 9 020 of 61 893
    b2013 = population([2013], borders=2013)
    haram, flag = _total(b2013, 2013, "1534")
    assert abs(haram - 61_892 * 9_020 / 61_893) <= 10
    assert flag
    # from 2024 Haram 1580 has exactly the old borders of 1534: exact, not approximate
    assert _total(population([2024], borders=2013), 2024, "1534") == (
        _total(population([2024]), 2024, "1580")[0],
        False,
    )


def test_imported_totals_add_up_to_the_b2024_families() -> None:
    # every 2024 municipality whose predecessors are all in the imported file must get the same
    # sum as the shipped b2024 totals (except csdata's estimated split families)
    imported = read_csv(ORIGINAL_TOTALS_FILE, strings=("kommunenummer", "kilde"))
    b2024 = read_csv(
        "population/befolkning_kommune_b2024_total_2010_2026.csv", strings=("kommunenummer",)
    )
    shipped = {(r["aar"], r["kommunenummer"]): r["personer"] for r in b2024.to_pylist()}
    checked = 0
    for year in sorted(set(imported["aar"].to_pylist())):
        rows = [r for r in imported.to_pylist() if r["aar"] == year]
        vintage = rows[0]["grenser"]
        persons = {r["kommunenummer"]: r["personer"] for r in rows}
        mapping = code_map(vintage, 2024).to_pylist()
        members: dict[str, list[tuple[str, float]]] = {}
        successors: dict[str, int] = {}
        for link in mapping:
            members.setdefault(link["to_code"], []).append((link["from_code"], link["weight"]))
            successors[link["from_code"]] = successors.get(link["from_code"], 0) + 1
        for code_2024, parts in members.items():
            whole = all(w == 1.0 and successors[c] == 1 for c, w in parts)
            if whole and all(c in persons for c, _ in parts) and code_2024 not in ("1508", "1580"):
                assert sum(persons[c] for c, _ in parts) == shipped[(year, code_2024)]
                checked += 1
    assert checked > 1_000


def test_national_totals_of_the_complete_imported_years() -> None:
    # SSB's national figures on 1 January: 2016 5 213 985, 2018 5 295 619, 2019 5 328 212
    imported = read_csv(ORIGINAL_TOTALS_FILE, strings=("kommunenummer", "kilde"))
    sums: dict[int, int] = {}
    for r in imported.to_pylist():
        sums[r["aar"]] = sums.get(r["aar"], 0) + r["personer"]
    assert (sums[2016], sums[2018], sums[2019]) == (5_213_985, 5_295_619, 5_328_212)


@pytest.mark.parametrize("borders", [2010, 2013, 2017, 2018])
def test_each_merged_family_keeps_its_exact_sum(borders: int) -> None:
    year = 2015
    older = population([year], borders=borders)
    shipped = population([year])
    by_older: dict[str, int] = {}
    for code, count in zip(
        older["municipality"].to_pylist(), older["count"].to_pylist(), strict=True
    ):
        by_older[code] = by_older.get(code, 0) + count
    by_2024: dict[str, int] = {}
    for code, count in zip(
        shipped["municipality"].to_pylist(), shipped["count"].to_pylist(), strict=True
    ):
        by_2024[code] = by_2024.get(code, 0) + count
    assert all(share > 0 for share in border_shares(year, borders)["share"].to_pylist())
    pools = _pools(borders, year)
    for pool in pools:
        assert sum(by_older[c] for c, _ in pool.parts) == sum(by_2024[c] for c in pool.units_2024)
    # cell by cell too: each (sex, age) of a pool adds up
    older_cells = _cells(older)
    shipped_cells = _cells(shipped)
    for pool in pools:
        for sex, age in ((1, 0), (2, 80), (1, 105)):
            assert sum(older_cells[(c, sex, age)] for c, _ in pool.parts) == sum(
                shipped_cells[(c, sex, age)] for c in pool.units_2024
            )


def test_only_documented_pools_fall_back_to_weights() -> None:
    # no SSB totals cover Mosvik/Inderøy (merged 2012) or Frei/Kristiansund (merged 2008)
    fallback = {
        tuple(code for code, _ in pool.parts)
        for borders in (2007, 2011, 2012, 2016, 2019)
        for pool in _pools(borders, 2014)
        if len(pool.parts) > 1 and pool.source_year is None
    }
    assert fallback == {("1503", "1556"), ("1723", "1729")}


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


@settings(max_examples=8, deadline=None)
@given(borders=st.integers(2006, 2026), year=st.integers(2010, 2026))
def test_any_borders_keep_the_national_total_and_the_pool_sums(borders: int, year: int) -> None:
    shipped = population([year])
    older = population([year], borders=borders)
    assert pc.sum(older["count"]).as_py() == pc.sum(shipped["count"]).as_py()
    assert pc.min(older["count"]).as_py() >= 0
    shares = border_shares(year, borders)
    assert set(shares["municipality"].to_pylist()) == valid_codes(borders)
    per_pool: dict[str, float] = {}
    for pool, share in zip(
        shares["municipalities_2024"].to_pylist(), shares["share"].to_pylist(), strict=True
    ):
        per_pool[pool] = per_pool.get(pool, 0.0) + share
    assert all(abs(total - 1.0) < 1e-9 for total in per_pool.values())
