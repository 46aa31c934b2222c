"""Population 1 January (folkemengde) by municipality, sex and single year of age.

Source: SSB table 07459 via niphr/csdata, shipped in 2024 municipality borders for 2010–2026
(see ``data/population/PROVENANCE.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from samhandling.errors import SamhandlingError
from samhandling.refdata._files import read_csv, schema, texts
from samhandling.refdata.borders import code_map
from samhandling.refdata.municipalities import check_year

FIRST_YEAR = 2010
LAST_YEAR = 2026
SHIPPED_BORDERS = 2024
OLDEST_AGE = 105  # 105 stands for 105 years and older

_SEX_CODE = {"M": 1, "K": 2}  # SSB kjønn: menn, kvinner

POPULATION_SCHEMA = schema(
    year=pa.int16(),
    municipality=pa.string(),
    sex=pa.int8(),
    age=pa.int16(),
    count=pa.int32(),
    approximate=pa.bool_(),
)


@cache
def _population_b2024() -> pa.Table:
    """All shipped years in 2024 borders, long format, with the source's approximation flag."""
    raw = read_csv(
        "population/befolkning_kommune_b2024_kjonn_alder1_2010_2026_bred.csv",
        strings=("kommunenummer", "kjonn"),
    )
    age_columns = [f"a{age:03d}" for age in range(OLDEST_AGE)] + [f"a{OLDEST_AGE}pluss"]
    counts = np.column_stack([raw[name].to_numpy() for name in age_columns])
    ages = len(age_columns)
    sexes = np.array([_SEX_CODE[s] for s in texts(raw["kjonn"])], dtype=np.int8)
    table = pa.table(
        {
            "year": pa.array(np.repeat(raw["aar"].to_numpy(), ages), pa.int16()),
            "municipality": pa.array(np.repeat(texts(raw["kommunenummer"]), ages), pa.string()),
            "sex": pa.array(np.repeat(sexes, ages), pa.int8()),
            "age": pa.array(np.tile(np.arange(ages), raw.num_rows), pa.int16()),
            "count": pa.array(counts.ravel(), pa.int32()),
            "approximate": pa.array(
                np.repeat(raw["delt_kommune_tilnaerming"].to_numpy(zero_copy_only=False), ages),
                pa.bool_(),
            ),
        }
    )
    return table.cast(POPULATION_SCHEMA).sort_by(
        [("year", "ascending"), ("municipality", "ascending"), ("sex", "ascending")]
    )


@cache
def _split_families() -> tuple[frozenset[str], ...]:
    """Groups of 2024 municipalities whose pre-split figures are csdata weight splits.

    Their sum is exact, each member alone is not (``delt_kommune_tilnaerming``).
    """
    weights = read_csv(
        "municipalities/kommune_til_2024_vekter_2006_2026.csv",
        strings=("kommunenummer_aar", "kommunenummer_2024"),
    )
    members: dict[tuple[object, str], set[str]] = {}
    for year, code, code_2024 in zip(
        weights["year"].to_pylist(),
        texts(weights["kommunenummer_aar"]),
        texts(weights["kommunenummer_2024"]),
        strict=True,
    ):
        members.setdefault((year, code), set()).add(code_2024)
    return tuple(sorted({frozenset(m) for m in members.values() if len(m) > 1}, key=sorted))


@cache
def _year_b2024(year: int) -> pa.Table:
    table = _population_b2024()
    return table.filter(pc.equal(table["year"], pa.scalar(year, pa.int16())))


@cache
def _population_in_borders(borders: int, year: int) -> pa.Table:
    """One year in the borders of ``borders`` (cached per year: callers go year by year)."""
    base = _year_b2024(year)
    if borders == SHIPPED_BORDERS:
        return base
    parts = _parts_of_2024_units(borders)
    families = _split_families()
    members: dict[str, set[str]] = {}
    for unit_2024, pieces in parts.items():
        for unit, _ in pieces:
            members.setdefault(unit, set()).add(unit_2024)
    # flatten the parts: part k of 2024 unit u sits at starts[u] + k
    codes_2024 = sorted(parts)
    part_units: list[str] = []
    part_shares: list[float] = []
    part_approximate: list[bool] = []  # estimated share, whatever the source says
    part_family_whole: list[bool] = []  # a csdata split family lies wholly in the unit
    sizes = []
    for code in codes_2024:
        pieces = parts[code]
        sizes.append(len(pieces))
        for unit, share in pieces:
            part_units.append(unit)
            part_shares.append(share)
            part_approximate.append(len(pieces) > 1)
            part_family_whole.append(any(code in f and f <= members[unit] for f in families))
    size = np.array(sizes)
    starts = np.r_[0, np.cumsum(size)[:-1]]
    position = {code: i for i, code in enumerate(codes_2024)}
    encoded = cast(
        "pa.DictionaryArray[Any, Any]", pc.dictionary_encode(base["municipality"]).combine_chunks()
    )
    dictionary_index = np.array([position[c] for c in texts(encoded.dictionary)])
    code_index = dictionary_index[encoded.indices.to_numpy()]
    index = np.repeat(np.arange(base.num_rows), size[code_index])
    ordinal = np.arange(index.size) - np.repeat(
        np.cumsum(size[code_index]) - size[code_index], size[code_index]
    )
    part = starts[code_index[index]] + ordinal
    counts = base["count"].to_numpy()
    flagged = base["approximate"].to_numpy(zero_copy_only=False)
    approximate = np.array(part_approximate)[part] | (
        flagged[index] & ~np.array(part_family_whole)[part]
    )
    shares = np.array(part_shares)[part]
    split_counts = _largest_remainder(index, counts[index], shares)
    expanded = (
        base.select(["year", "sex", "age"])
        .take(pa.array(index, pa.int64()))
        .append_column("municipality", pa.array(part_units, pa.string()).take(part))
        .append_column("count", pa.array(split_counts, pa.int32()))
        .append_column("approximate", pa.array(approximate, pa.bool_()))
    )
    grouped = expanded.group_by(["year", "municipality", "sex", "age"]).aggregate(
        [("count", "sum"), ("approximate", "any")]
    )
    table = pa.table(
        {
            "year": grouped["year"],
            "municipality": grouped["municipality"],
            "sex": grouped["sex"],
            "age": grouped["age"],
            "count": grouped["count_sum"],
            "approximate": grouped["approximate_any"],
        }
    )
    return table.cast(POPULATION_SCHEMA).sort_by(
        [
            ("year", "ascending"),
            ("municipality", "ascending"),
            ("sex", "ascending"),
            ("age", "ascending"),
        ]
    )


def _parts_of_2024_units(borders: int) -> dict[str, list[tuple[str, float]]]:
    """2024 municipality -> the municipalities of ``borders`` it is made of, with shares.

    A 2024 municipality made of several older ones is divided in proportion to the share of
    each older one that went into it, i.e. as if the merged municipalities were equally large:
    no population by older borders is shipped (see docs/refdata.md). Such rows are approximate.
    """
    pieces: dict[str, list[tuple[str, float]]] = {}
    for older, unit_2024, weight in zip(
        texts(code_map(borders, SHIPPED_BORDERS)["from_code"]),
        texts(code_map(borders, SHIPPED_BORDERS)["to_code"]),
        code_map(borders, SHIPPED_BORDERS)["weight"].to_pylist(),
        strict=True,
    ):
        pieces.setdefault(unit_2024, []).append((older, float(weight or 0.0)))
    return {
        unit_2024: [(older, weight / sum(w for _, w in parts)) for older, weight in parts]
        for unit_2024, parts in pieces.items()
    }


def _largest_remainder(
    source: np.ndarray[Any, Any], counts: np.ndarray[Any, Any], shares: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Split integer ``counts`` by ``shares`` so that each source row's parts sum to it exactly.

    ``source`` groups consecutive parts of one source row (as produced above, ascending).
    """
    exact = counts * shares
    floors = np.floor(exact).astype(np.int64)
    remainders = exact - floors
    starts = np.flatnonzero(np.r_[True, source[1:] != source[:-1]])
    group = np.cumsum(np.r_[True, source[1:] != source[:-1]]) - 1
    deficit = counts[starts] - np.add.reduceat(floors, starts)
    # order parts within each source row by remainder, largest first
    order = np.lexsort((-remainders, group))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - starts[group[order]]
    result: np.ndarray[Any, Any] = floors + (rank < deficit[group]).astype(np.int64)
    return result


def _check_years(years: Iterable[int]) -> list[int]:
    wanted = sorted(set(years))
    outside = [y for y in wanted if not FIRST_YEAR <= y <= LAST_YEAR]
    if outside:
        raise SamhandlingError(
            f"Folketall finnes for {FIRST_YEAR}–{LAST_YEAR}, ikke for "
            + ", ".join(str(y) for y in outside)
        )
    return wanted


def population(years: Iterable[int], borders: int = SHIPPED_BORDERS) -> pa.Table:
    """Population 1 January (folkemengde) of each of ``years`` in the borders of ``borders``.

    Columns: year int16, municipality str (code valid in ``borders``), sex int8 (1 male,
    2 female), age int16 (0..105, 105 = 105 and older), count int32, approximate bool (the
    figure rests on an estimated split, see ``docs/refdata.md``). Years 2010–2026; borders
    2006–2026. Summed over municipalities, every borders give the same national figure.
    """
    wanted = _check_years(years)
    check_year(borders)
    # no municipality changed after 2024: later borders are the 2024 borders
    effective = min(borders, SHIPPED_BORDERS)
    parts = [_population_in_borders(effective, year) for year in wanted]
    return pa.concat_tables(parts) if parts else POPULATION_SCHEMA.empty_table()


OPEN_AGE_GROUP_FROM = 90  # the five-year groups end with 90+, as SSB's published tables do

POPULATION_5YR_SCHEMA = schema(
    year=pa.int16(),
    municipality=pa.string(),
    sex=pa.int8(),
    age_group=pa.string(),
    count=pa.int32(),
    approximate=pa.bool_(),
)


def age_group_5yr(age: int) -> str:
    """The five-year age group of ``age``: '00-04', '05-09', …, '85-89', '90+'."""
    if age < 0:
        raise SamhandlingError(f"Ugyldig alder: {age}")
    if age >= OPEN_AGE_GROUP_FROM:
        return f"{OPEN_AGE_GROUP_FROM}+"
    first = age // 5 * 5
    return f"{first:02d}-{first + 4:02d}"


def population_5yr(years: Iterable[int], borders: int = SHIPPED_BORDERS) -> pa.Table:
    """As :func:`population`, summed to five-year age groups (``age_group`` '00-04' … '90+')."""
    single = population(years, borders)
    labels = [age_group_5yr(age) for age in range(OLDEST_AGE + 1)]
    with_group = single.append_column(
        "age_group", pa.array(labels, pa.string()).take(single["age"].cast(pa.int32()))
    )
    grouped = with_group.group_by(["year", "municipality", "sex", "age_group"]).aggregate(
        [("count", "sum"), ("approximate", "any")]
    )
    table = pa.table(
        {
            "year": grouped["year"],
            "municipality": grouped["municipality"],
            "sex": grouped["sex"],
            "age_group": grouped["age_group"],
            "count": grouped["count_sum"],
            "approximate": grouped["approximate_any"],
        }
    )
    return table.cast(POPULATION_5YR_SCHEMA).sort_by(
        [(name, "ascending") for name in ("year", "municipality", "sex", "age_group")]
    )


DISTRICT_SCHEMA = schema(
    year=pa.int16(),
    district=pa.string(),
    district_name=pa.string(),
    municipality=pa.string(),
    sex=pa.int8(),
    age_group=pa.string(),
    count=pa.int32(),
)


@cache
def _districts() -> pa.Table:
    raw = read_csv(
        "population/befolkning_bydel_kjonn_alder5_2010_2026.csv",
        strings=("bydelsnummer", "bydelsnavn", "kjonn", "aldersgruppe"),
    )
    districts = texts(raw["bydelsnummer"])
    table = pa.table(
        {
            "year": raw["aar"],
            "district": pa.array(districts, pa.string()),
            "district_name": raw["bydelsnavn"],
            "municipality": pa.array([d[:4] for d in districts], pa.string()),
            "sex": pa.array([_SEX_CODE[s] for s in texts(raw["kjonn"])], pa.int8()),
            "age_group": raw["aldersgruppe"],
            "count": raw["personer"],
        }
    )
    return table.cast(DISTRICT_SCHEMA)


def district_population(years: Iterable[int]) -> pa.Table:
    """Population 1 January of the city districts (bydeler) of Oslo, Bergen, Stavanger, Trondheim.

    Columns: year, district (6 digits, 2024 numbering), district_name, municipality (2024
    code), sex, age_group ('00-04' … '90+'), count. Oslo includes Sentrum (030116) and Marka
    (030117). A district appears from the year it existed with that number.
    """
    wanted = _check_years(years)
    table = _districts()
    return table.filter(pc.is_in(table["year"], pa.array(wanted, pa.int16())))
