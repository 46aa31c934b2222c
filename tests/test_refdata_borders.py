"""Mapping municipality codes across border changes (samhandling.refdata.code_map)."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from importlib import resources

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samhandling.engine import Engine
from samhandling.errors import SamhandlingError
from samhandling.refdata import code_map, map_to_borders, valid_codes


def _targets(from_year: int, to_year: int, code: str) -> dict[str, float]:
    table = code_map(from_year, to_year)
    return {row["to_code"]: row["weight"] for row in table.to_pylist() if row["from_code"] == code}


def _data_rows(path: str) -> list[dict[str, str]]:
    resource = resources.files("samhandling.refdata").joinpath("data")
    for part in path.split("/"):
        resource = resource.joinpath(part)
    with resource.open("r", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("from_year", "to_year", "code", "expected"),
    [
        # 2013: Harstad and Bjarkøy merged into 1903 Harstad
        (2012, 2013, "1901", {"1903": 1.0}),
        (2012, 2013, "1915", {"1903": 1.0}),
        # 2017: Sandefjord, Andebu and Stokke became 0710 Sandefjord
        (2016, 2017, "0719", {"0710": 1.0}),
        # 2018: Trøndelag renumbering; Trondheim and Klæbu keep separate codes until 2020
        (2017, 2018, "1601", {"5001": 1.0}),
        (2017, 2018, "1662", {"5030": 1.0}),
        (2017, 2018, "1703", {"5005": 1.0}),
        # 2020: Trondheim + Klæbu, Flora -> Kinn, Bærum renumbered, Namsos merger
        (2018, 2020, "5030", {"5001": 1.0}),
        (2012, 2020, "1662", {"5001": 1.0}),
        (2019, 2020, "1401", {"4602": 1.0}),
        (2019, 2020, "0219", {"3024": 1.0}),
        (2019, 2020, "5005", {"5007": 1.0}),
        (2019, 2020, "5040", {"5007": 1.0}),
        (2012, 2020, "1703", {"5007": 1.0}),
        # 2020: Jevnaker renumbered twice in one year (0532 -> 3444 -> 3053)
        (2019, 2020, "0532", {"3053": 1.0}),
        # 2024: the Viken split renumbers Bærum
        (2020, 2024, "3024", {"3201": 1.0}),
        (2012, 2024, "0219", {"3201": 1.0}),
        (2012, 2024, "1401", {"4602": 1.0}),
        # splits, weights from kommune_delinger_vekter.csv
        (2019, 2020, "5012", {"5055": 0.35, "5056": 0.35, "5059": 0.3}),
        (2012, 2024, "1613", {"5055": 0.35, "5056": 0.35, "5059": 0.3}),
        (2019, 2024, "1850", {"1806": 0.5, "1875": 0.5}),
        (2020, 2024, "1507", {"1508": 0.862125, "1580": 0.137875}),
        # the 2024 split restored old Haram: its earlier codes follow ancestry, not weights
        (2019, 2024, "1534", {"1580": 1.0}),
        (2012, 2024, "1504", {"1508": 1.0}),
        (2019, 2023, "1534", {"1507": 1.0}),
        # unchanged
        (2012, 2024, "0301", {"0301": 1.0}),
    ],
)
def test_code_map_across_changes(
    from_year: int, to_year: int, code: str, expected: dict[str, float]
) -> None:
    assert _targets(from_year, to_year, code) == expected


def test_identity_within_a_year_and_after_2024() -> None:
    same = code_map(2012, 2012)
    assert same.num_rows == 429
    assert same["from_code"].to_pylist() == same["to_code"].to_pylist()
    # no change after 2024, so 2026 codes map back to 2024 one to one
    back = code_map(2026, 2024)
    assert back.num_rows == 357
    assert set(back["weight"].to_pylist()) == {1.0}


def test_mapping_back_across_a_change_is_a_user_error() -> None:
    with pytest.raises(SamhandlingError, match="fremover"):
        code_map(2024, 2020)


def test_schema() -> None:
    assert code_map(2019, 2020).schema == pa.schema(
        [("from_code", pa.string()), ("to_code", pa.string()), ("weight", pa.float64())]
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2006, max_value=2026), st.integers(min_value=0, max_value=20))
def test_every_code_maps_to_valid_codes_with_weights_summing_to_one(
    from_year: int, span: int
) -> None:
    to_year = min(from_year + span, 2026)
    table = code_map(from_year, to_year)
    totals: dict[str, float] = defaultdict(float)
    for row in table.to_pylist():
        totals[row["from_code"]] += row["weight"]
        assert 0.0 < row["weight"] <= 1.0
    assert set(totals) == valid_codes(from_year)
    assert set(table["to_code"].to_pylist()) == valid_codes(to_year)
    assert all(math.isclose(total, 1.0, abs_tol=1e-9) for total in totals.values())


@pytest.mark.parametrize(
    ("path", "from_year", "to_year"),
    [
        ("municipalities/ssb_endringer_2013_2017.csv", 2013, 2017),
        ("municipalities/ssb_endringer_2017_2018.csv", 2017, 2018),
        ("municipalities/ssb_endringer_2018_2019.csv", 2018, 2019),
        ("municipalities/ssb_endringer_2019_2020.csv", 2019, 2020),
    ],
)
def test_agrees_with_ssb_change_lists(path: str, from_year: int, to_year: int) -> None:
    rows = _data_rows(path)
    old_column, new_column = list(rows[0])[:2]
    ssb = {(r[old_column][:4], r[new_column][:4]) for r in rows}
    ours = {(r["from_code"], r["to_code"]) for r in code_map(from_year, to_year).to_pylist()}
    assert ssb <= ours
    # every code SSB lists as changed maps exactly where SSB says
    changed = {old for old, _ in ssb}
    assert {pair for pair in ours if pair[0] in changed} == ssb


def test_agrees_with_csdata_weights_except_where_ancestry_is_known() -> None:
    by_year: dict[int, dict[tuple[str, str], float]] = defaultdict(dict)
    for row in _data_rows("municipalities/kommune_til_2024_vekter_2006_2026.csv"):
        pair = (row["kommunenummer_aar"], row["kommunenummer_2024"])
        by_year[int(row["year"])][pair] = float(row["vekt"])
    alesund_family = {"1504", "1523", "1529", "1534", "1546", "1507"}
    for year in range(2006, 2025):
        ours = {
            (r["from_code"], r["to_code"]): r["weight"] for r in code_map(year, 2024).to_pylist()
        }
        theirs = by_year[year]
        for pair in set(ours) | set(theirs):
            if pair[0] in alesund_family:
                continue  # csdata splits these 50/50; ancestry and 2024 shares are used here
            assert ours.get(pair) == theirs.get(pair), (year, pair)


def test_map_to_borders_adds_successor_and_weight() -> None:
    deliveries = pa.table(
        {
            "year": pa.array([2012, 2012, 2019, 2023, 2012], pa.int16()),
            "kommune": ["1401", "1850", "1534", "1507", "9999"],
            "stays": [10, 4, 3, 8, 1],
        }
    )
    mapped = map_to_borders(deliveries, "kommune", "year", 2024)
    rows = sorted(
        (r["kommune"], r["municipality_2024"], r["weight"], r["stays"]) for r in mapped.to_pylist()
    )
    assert rows == [
        ("1401", "4602", 1.0, 10),
        ("1507", "1508", 0.862125, 8),
        ("1507", "1580", 0.137875, 8),
        ("1534", "1580", 1.0, 3),
        ("1850", "1806", 0.5, 4),
        ("1850", "1875", 0.5, 4),
        # an unknown code is kept, not dropped
        ("9999", None, None, 1),
    ]


def test_map_to_borders_rejects_missing_columns() -> None:
    table = pa.table({"year": [2012], "kommune": ["0301"]})
    with pytest.raises(SamhandlingError, match="komnr"):
        map_to_borders(table, "komnr", "year", 2024)
    with pytest.raises(SamhandlingError, match="fremover"):
        map_to_borders(pa.table({"year": [2024], "kommune": ["3201"]}), "kommune", "year", 2020)


def test_code_map_joins_in_sql_on_every_engine(engine: Engine) -> None:
    stays = pa.table(
        {
            "municipality": ["1601", "1662", "1662", "1850", "0301"],
            "stays": [5, 2, 1, 4, 7],
        }
    )
    engine.register_arrow("stays", stays)
    engine.register_arrow("code_map", code_map(2012, 2024))
    got = engine.query(
        "SELECT m.to_code AS municipality, SUM(s.stays * m.weight) AS stays "
        "FROM stays s JOIN code_map m ON m.from_code = s.municipality "
        "GROUP BY m.to_code ORDER BY m.to_code"
    )
    assert got.to_pylist() == [
        {"municipality": "0301", "stays": 7.0},
        {"municipality": "1806", "stays": 2.0},
        {"municipality": "1875", "stays": 2.0},
        {"municipality": "5001", "stays": 8.0},
    ]
