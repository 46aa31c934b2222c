"""Municipalities (kommuner) and counties (fylker) valid in each year 2006–2026.

Source: SSB KLASS 131/104 via niphr/csdata (see ``data/municipalities/PROVENANCE.md``). A year's
set is the municipalities in force on 1 January of that year.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from samhandling.errors import SamhandlingError
from samhandling.refdata._files import read_csv, schema, texts

FIRST_YEAR = 2006
LAST_YEAR = 2026

_SCHEMA = schema(
    year=pa.int16(),
    municipality=pa.string(),
    name=pa.string(),
    county=pa.string(),
    county_name=pa.string(),
)


@cache
def municipality_years() -> pa.Table:
    """Every municipality valid in each year 2006–2026.

    Columns: year int16, municipality (4-digit code), name, county (2-digit code), county_name.
    """
    raw = read_csv(
        "municipalities/kommuner_per_aar_2006_2026.csv", strings=("kommunenummer", "fylkesnummer")
    )
    table = pa.table(
        [
            raw["year"],
            raw["kommunenummer"],
            raw["kommunenavn"],
            raw["fylkesnummer"],
            raw["fylkesnavn"],
        ],
        names=_SCHEMA.names,
    ).cast(_SCHEMA)
    return table.sort_by([("year", "ascending"), ("municipality", "ascending")])


def check_year(year: int) -> None:
    """Raise a user error unless ``year`` is covered by the municipality lists."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise SamhandlingError(
            f"Kommunelister finnes for {FIRST_YEAR}–{LAST_YEAR}, ikke for {year}"
        )


def _year_rows(year: int) -> pa.Table:
    check_year(year)
    table = municipality_years()
    return table.filter(pc.equal(table["year"], pa.scalar(year, pa.int16())))


@cache
def valid_codes(year: int) -> frozenset[str]:
    """Municipality codes valid on 1 January of ``year``."""
    return frozenset(texts(_year_rows(year)["municipality"]))


@cache
def _names(year: int) -> tuple[tuple[str, str], ...]:
    rows = _year_rows(year)
    return tuple(zip(texts(rows["municipality"]), texts(rows["name"]), strict=True))


def names(year: int) -> dict[str, str]:
    """Municipality code -> name as it was in ``year``."""
    return dict(_names(year))


def counties(year: int) -> pa.Table:
    """Counties (fylker) that had municipalities on 1 January of ``year``: county, county_name."""
    rows = _year_rows(year).select(["county", "county_name"])
    return rows.group_by(["county", "county_name"]).aggregate([]).sort_by("county")
