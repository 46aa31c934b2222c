"""Population 1 January (folkemengde) by municipality, sex and single year of age.

Source: SSB table 07459 via niphr/csdata, shipped in 2024 municipality borders for 2010–2026,
plus SSB totals in the borders of their time for the municipalities merged later, used to
divide merged 2024 municipalities in older borders (see ``data/population/PROVENANCE.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

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
ORIGINAL_TOTALS_FILE = "population/befolkning_kommune_opprinnelige_grenser_2012_2019.csv"
# before the 2020 reform csdata's estimated parts (Ålesund/Haram) are divided anew with the rest
SPLIT_FAMILIES_POOLED_BEFORE = 2020

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
def _original_totals() -> dict[int, tuple[int, dict[str, int]]]:
    """Population year -> (year whose borders the codes follow, code -> persons).

    Real SSB totals (table 07459, both sexes, all ages) in the borders of their own time, for the
    municipalities later merged (see ``data/population/PROVENANCE.md``).
    """
    raw = read_csv(ORIGINAL_TOTALS_FILE, strings=("kommunenummer", "kilde"))
    totals: dict[int, tuple[int, dict[str, int]]] = {}
    for year, borders, code, persons in zip(
        raw["aar"].to_pylist(),
        raw["grenser"].to_pylist(),
        texts(raw["kommunenummer"]),
        raw["personer"].to_pylist(),
        strict=True,
    ):
        if not (isinstance(year, int) and isinstance(borders, int) and isinstance(persons, int)):
            raise ValueError(f"{ORIGINAL_TOTALS_FILE}: bad row for {code}")
        vintage, by_code = totals.setdefault(year, (borders, {}))
        if vintage != borders:
            raise ValueError(f"{ORIGINAL_TOTALS_FILE}: {year} mixes borders {vintage}/{borders}")
        by_code[code] = persons
    return totals


@cache
def _totals_in_borders(borders: int, data_year: int) -> dict[str, int]:
    """The SSB totals of ``data_year`` for the municipalities of ``borders`` they determine.

    Codes of an older border set are summed into their successors when every predecessor is
    present and moved whole; codes of a newer border set are used when they correspond one to
    one. Anything else (a split, a missing predecessor, a later merger) leaves the unit out.
    """
    vintage, by_code = _original_totals()[data_year]
    result: dict[str, int] = {}
    if vintage <= borders:
        mapping = code_map(vintage, borders)
        broken: set[str] = set()
        for old, new, weight in zip(
            texts(mapping["from_code"]),
            texts(mapping["to_code"]),
            mapping["weight"].to_pylist(),
            strict=True,
        ):
            if old in by_code and weight == 1.0:
                result[new] = result.get(new, 0) + by_code[old]
            else:
                broken.add(new)
        return {code: persons for code, persons in result.items() if code not in broken}
    mapping = code_map(borders, vintage)
    targets: dict[str, list[tuple[str, float]]] = {}
    sources: dict[str, int] = {}
    for old, new, weight in zip(
        texts(mapping["from_code"]),
        texts(mapping["to_code"]),
        mapping["weight"].to_pylist(),
        strict=True,
    ):
        targets.setdefault(old, []).append((new, float(weight or 0.0)))
        sources[new] = sources.get(new, 0) + 1
    for old, successors in targets.items():
        if len(successors) == 1:
            new, weight = successors[0]
            if weight == 1.0 and sources[new] == 1 and new in by_code:
                result[old] = by_code[new]
    return result


@dataclass(frozen=True)
class _Pool:
    """2024 municipalities whose summed figures are divided among municipalities of ``borders``."""

    units_2024: tuple[str, ...]
    parts: tuple[tuple[str, float], ...]  # (municipality in borders, share of the pool)
    source_year: int | None  # year of the SSB totals behind the shares; None = weight estimate
    approximate: bool


@cache
def _pools(borders: int, year: int) -> tuple[_Pool, ...]:
    """The 2024 municipalities of ``year`` grouped so that each group's sum is exact in borders.

    A group joins the 2024 municipalities and the municipalities of ``borders`` linked by the
    border changes between them. Before 2020 borders it also joins the members of a csdata
    split family whose figures for ``year`` are estimates (Ålesund 1508 / Haram 1580 before
    2024): only their sum is real. A group with several municipalities of ``borders`` is
    divided in proportion to their real SSB totals of the nearest year that has them all
    (``_totals_in_borders``), else in proportion to the weights of the border changes.
    """
    mapping = code_map(borders, SHIPPED_BORDERS)
    links = list(
        zip(
            texts(mapping["from_code"]),
            texts(mapping["to_code"]),
            [float(w or 0.0) for w in mapping["weight"].to_pylist()],
            strict=True,
        )
    )
    base = _year_b2024(year)
    flagged = {
        code
        for code, flag in zip(
            texts(base["municipality"]), base["approximate"].to_pylist(), strict=True
        )
        if flag
    }
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(node: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    def join(a: tuple[str, str], b: tuple[str, str]) -> None:
        parent[root(a)] = root(b)

    for old, new, _ in links:
        join(("b", old), ("n", new))
    families = _split_families()
    if borders < SPLIT_FAMILIES_POOLED_BEFORE:
        for family in families:
            ordered = sorted(family)
            if any(code in flagged for code in ordered):
                for code in ordered[1:]:
                    join(("n", ordered[0]), ("n", code))
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for node in list(parent):
        groups.setdefault(root(node), []).append(node)
    unit_totals: dict[str, int] = {}
    for code, count in zip(texts(base["municipality"]), base["count"].to_pylist(), strict=True):
        unit_totals[code] = unit_totals.get(code, 0) + int(count or 0)
    pools = []
    for nodes in groups.values():
        units_2024 = tuple(sorted(code for kind, code in nodes if kind == "n"))
        units = tuple(sorted(code for kind, code in nodes if kind == "b"))
        members = set(units_2024)
        estimated_source = any(
            code in flagged and not any(code in f and f <= members for f in families)
            for code in units_2024
        )
        if len(units) == 1:
            pools.append(_Pool(units_2024, ((units[0], 1.0),), None, estimated_source))
            continue
        source_year, weights = _shares(borders, year, units)
        if source_year is None:
            # no SSB totals cover every unit: divide each 2024 municipality by link weights
            weights = _weight_estimate(links, members, unit_totals)
        total = sum(weights.values())
        parts = tuple(
            (code, weights[code] / total if total else 1.0 / len(units)) for code in units
        )
        pools.append(_Pool(units_2024, parts, source_year, True))
    return tuple(sorted(pools, key=lambda pool: pool.units_2024))


def _shares(borders: int, year: int, units: tuple[str, ...]) -> tuple[int | None, dict[str, float]]:
    """SSB totals of ``units`` from the data year nearest ``year`` (earlier on a tie)."""
    for data_year in sorted(_original_totals(), key=lambda d: (abs(d - year), d)):
        totals = _totals_in_borders(borders, data_year)
        if all(code in totals for code in units) and sum(totals[c] for c in units) > 0:
            return data_year, {code: float(totals[code]) for code in units}
    return None, {}


def _weight_estimate(
    links: list[tuple[str, str, float]], members: set[str], unit_totals: dict[str, int]
) -> dict[str, float]:
    """Each 2024 municipality divided among its predecessors by the weights of the links."""
    weight_sum: dict[str, float] = {}
    for _, new, weight in links:
        if new in members:
            weight_sum[new] = weight_sum.get(new, 0.0) + weight
    estimate: dict[str, float] = {}
    for old, new, weight in links:
        if new in members and weight_sum[new] > 0:
            share = weight / weight_sum[new] * unit_totals.get(new, 0)
            estimate[old] = estimate.get(old, 0.0) + share
    return estimate


@cache
def _population_in_borders(borders: int, year: int) -> pa.Table:
    """One year in the borders of ``borders`` (cached per year: callers go year by year)."""
    base = _year_b2024(year)
    if borders == SHIPPED_BORDERS:
        return base
    cells = 2 * (OLDEST_AGE + 1)  # both sexes, ages 0..105, in the order of ``base``
    codes_2024 = texts(base["municipality"])[::cells]
    counts = base["count"].to_numpy().astype(np.int64).reshape(len(codes_2024), cells)
    pools = _pools(borders, year)
    pool_of = {code: p for p, pool in enumerate(pools) for code in pool.units_2024}
    pooled = np.zeros((len(pools), cells), dtype=np.int64)
    np.add.at(pooled, np.array([pool_of[c] for c in codes_2024]), counts)
    source_parts: list[np.ndarray[Any, Any]] = []
    count_parts: list[np.ndarray[Any, Any]] = []
    share_parts: list[np.ndarray[Any, Any]] = []
    units: list[str] = []
    approximate: list[bool] = []
    for p, pool in enumerate(pools):
        size = len(pool.parts)
        source_parts.append(np.repeat(np.arange(cells) + p * cells, size))
        count_parts.append(np.repeat(pooled[p], size))
        share_parts.append(np.tile(np.array([share for _, share in pool.parts]), cells))
        units.extend(code for code, _ in pool.parts)
        approximate.extend([pool.approximate] * size)
    split = _largest_remainder(
        np.concatenate(source_parts), np.concatenate(count_parts), np.concatenate(share_parts)
    )
    # back to one row of cells per municipality of ``borders``
    matrix = np.zeros((len(units), cells), dtype=np.int64)
    offset = 0
    row = 0
    for pool in pools:
        size = len(pool.parts)
        block = split[offset : offset + size * cells].reshape(cells, size)
        matrix[row : row + size] = block.T
        offset += size * cells
        row += size
    order = sorted(range(len(units)), key=lambda i: units[i])
    ages = OLDEST_AGE + 1
    table = pa.table(
        {
            "year": pa.array(np.full(len(units) * cells, year), pa.int16()),
            "municipality": pa.array(np.repeat([units[i] for i in order], cells), pa.string()),
            "sex": pa.array(np.tile(np.repeat([1, 2], ages), len(units)), pa.int8()),
            "age": pa.array(np.tile(np.arange(ages), 2 * len(units)), pa.int16()),
            "count": pa.array(matrix[order].ravel(), pa.int32()),
            "approximate": pa.array(np.repeat([approximate[i] for i in order], cells), pa.bool_()),
        }
    )
    return table.cast(POPULATION_SCHEMA)


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
    figure rests on a divided total: the municipality's share of a merged 2024 municipality
    comes from SSB totals, its sex and age profile is the merged one's; see
    :func:`border_shares` and ``docs/refdata.md``). Years 2010–2026; borders 2006–2026.
    Summed over municipalities, every borders give the same national figure.
    """
    wanted = _check_years(years)
    check_year(borders)
    # no municipality changed after 2024: later borders are the 2024 borders
    effective = min(borders, SHIPPED_BORDERS)
    parts = [_population_in_borders(effective, year) for year in wanted]
    return pa.concat_tables(parts) if parts else POPULATION_SCHEMA.empty_table()


SHARES_SCHEMA = schema(
    year=pa.int16(),
    municipality=pa.string(),
    municipalities_2024=pa.string(),
    share=pa.float64(),
    source_year=pa.int16(),
    approximate=pa.bool_(),
)


def border_shares(year: int, borders: int) -> pa.Table:
    """How :func:`population` divides the 2024 figures of ``year`` among ``borders``' units.

    One row per municipality of ``borders``: the 2024 municipalities whose summed cells it
    shares (``municipalities_2024``, '+'-joined), its ``share`` of them, and ``source_year``,
    the year of the SSB totals behind the share (null where the share is a border-weight
    estimate or where nothing is divided, share 1). Every (sex, age) cell gets the same share.
    """
    _check_years([year])
    check_year(borders)
    effective = min(borders, SHIPPED_BORDERS)
    rows = [
        (code, "+".join(pool.units_2024), share, pool.source_year, pool.approximate)
        for pool in _pools(effective, year)
        for code, share in pool.parts
    ]
    rows.sort()
    return pa.table(
        {
            "year": pa.array([year] * len(rows), pa.int16()),
            "municipality": pa.array([r[0] for r in rows], pa.string()),
            "municipalities_2024": pa.array([r[1] for r in rows], pa.string()),
            "share": pa.array([r[2] for r in rows], pa.float64()),
            "source_year": pa.array([r[3] for r in rows], pa.int16()),
            "approximate": pa.array([r[4] for r in rows], pa.bool_()),
        },
        schema=SHARES_SCHEMA,
    )


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
