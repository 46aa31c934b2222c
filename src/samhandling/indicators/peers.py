"""Peer municipalities (sammenlignbare kommuner): whom a municipality compares itself with.

Three peer groups, each a set of municipality codes in one chosen year's borders (the
municipality itself included):

* ``catchment``: the municipalities of the same catchment area (opptaksområde, one health trust),
  from :func:`samhandling.refdata.catchment`;
* ``county``: the municipalities of the same county (fylke) in those borders;
* ``population_band``: the municipalities whose population on 1 January of the year falls in the
  same band of rule ``indicators.population_bands``. Population is the engine's ``population``
  relation of that year (in that year's codes) mapped forward to the borders exactly as
  :mod:`samhandling.indicators.facts` maps residence (a municipality split later goes whole to
  the successor with the largest share), so that a peer's denominator is the one its rates use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from samhandling.engine import Engine
from samhandling.errors import SamhandlingError
from samhandling.indicators.facts import residence_map
from samhandling.refdata import catchment, municipality_years
from samhandling.rules import RuleSet

__all__ = [
    "PEER_KINDS",
    "PeerGroup",
    "all_peer_groups",
    "peer_groups",
    "population_band",
    "population_in_borders",
]

PEER_KINDS = ("catchment", "county", "population_band")
POPULATION_BANDS = "indicators.population_bands"


@dataclass(frozen=True)
class PeerGroup:
    """One peer group of a municipality: its kind, a Norwegian label and the member codes."""

    kind: str  # "catchment" | "county" | "population_band"
    label: str  # Norwegian, e.g. "Samme opptaksområde (Nordlandssykehuset HF)"
    members: tuple[str, ...]  # municipality codes in `borders`, incl. the municipality itself


def population_in_borders(engine: Engine, year: int, *, borders: int) -> dict[str, int]:
    """Inhabitants 1 January ``year`` per municipality code of ``borders`` (engine relation)."""
    engine.register_arrow("peer_residence", residence_map([int(year)], int(borders)))
    got = engine.query(
        "SELECT COALESCE(r.residence, p.municipality) AS municipality, "
        "CAST(SUM(p.count) AS BIGINT) AS n "
        "FROM population AS p LEFT JOIN peer_residence AS r "
        "ON r.municipality = p.municipality AND r.year = p.year "
        f"WHERE p.year = {int(year)} GROUP BY COALESCE(r.residence, p.municipality)"
    )
    return {
        str(m): int(n)
        for m, n in zip(got["municipality"].to_pylist(), got["n"].to_pylist(), strict=True)
        if m is not None and n is not None
    }


def _bands(rules: RuleSet, year: int) -> list[tuple[int, str]]:
    rows = rules[POPULATION_BANDS].keys_on(date(int(year), 1, 1))
    if not rows:
        raise SamhandlingError(f"Regelen {POPULATION_BANDS} har ingen innbyggergrupper for {year}")
    return sorted((int(key), row.value) for key, row in rows.items())


def population_band(rules: RuleSet, year: int, inhabitants: int) -> tuple[int, str]:
    """(lowest inhabitants, label) of the band that ``inhabitants`` falls in, in ``year``."""
    chosen: tuple[int, str] | None = None
    for low, label in _bands(rules, year):
        if inhabitants >= low:
            chosen = (low, label)
    if chosen is None:
        raise SamhandlingError(
            f"{inhabitants} innbyggere ligger under laveste innbyggergruppe i {POPULATION_BANDS}"
        )
    return chosen


def _texts(column: pa.ChunkedArray[Any] | pa.Array[Any]) -> list[str]:
    return ["" if v is None else str(v) for v in column.to_pylist()]


def _index(
    engine: Engine, year: int, rules: RuleSet, borders: int, only: str | None
) -> dict[str, list[PeerGroup]]:
    years = municipality_years()
    rows = years.filter(pc.equal(years["year"], pa.scalar(int(borders), pa.int16())))
    codes = _texts(rows["municipality"])
    if only is not None and only not in codes:
        raise SamhandlingError(
            f"Kommunenummer {only} finnes ikke i kommunegrensene per 1. januar {borders}"
        )
    county_of = dict(zip(codes, _texts(rows["county"]), strict=True))
    county_name = dict(zip(_texts(rows["county"]), _texts(rows["county_name"]), strict=True))
    try:
        areas = catchment(int(borders))
    except SamhandlingError:
        areas = None  # no catchment areas for these borders: no catchment peers
    hf_of = (
        {}
        if areas is None
        else dict(zip(_texts(areas["municipality"]), _texts(areas["hf_code"]), strict=True))
    )
    hf_name = (
        {}
        if areas is None
        else dict(zip(_texts(areas["hf_code"]), _texts(areas["hf_name"]), strict=True))
    )
    inhabitants = population_in_borders(engine, year, borders=borders)
    if only is not None and only not in inhabitants:
        raise SamhandlingError(f"Mangler folketall for kommune {only} per 1. januar {year}")
    band_of = {m: population_band(rules, year, n) for m, n in inhabitants.items() if m in codes}
    by_area: dict[str, tuple[str, ...]] = {}
    by_county: dict[str, tuple[str, ...]] = {}
    by_band: dict[int, tuple[str, ...]] = {}
    for m in sorted(codes):
        if m in hf_of:
            by_area[hf_of[m]] = (*by_area.get(hf_of[m], ()), m)
        by_county[county_of[m]] = (*by_county.get(county_of[m], ()), m)
        if m in band_of:
            low = band_of[m][0]
            by_band[low] = (*by_band.get(low, ()), m)
    out: dict[str, list[PeerGroup]] = {}
    for m in [only] if only is not None else sorted(codes):
        groups: list[PeerGroup] = []
        if m in hf_of:
            area = hf_of[m]
            groups.append(
                PeerGroup("catchment", f"Samme opptaksområde ({hf_name[area]})", by_area[area])
            )
        county = county_of[m]
        groups.append(
            PeerGroup("county", f"Samme fylke ({county_name[county]})", by_county[county])
        )
        if m in band_of:
            low, label = band_of[m]
            groups.append(
                PeerGroup("population_band", f"Samme innbyggergruppe ({label})", by_band[low])
            )
        out[m] = groups
    return out


def peer_groups(
    engine: Engine, municipality: str, year: int, rules: RuleSet, *, borders: int
) -> list[PeerGroup]:
    """The catchment, county and population-band peers of ``municipality`` (code in ``borders``).

    ``year`` is the year whose population decides the band. Raises :class:`SamhandlingError`
    when the code is not a municipality in ``borders`` or the engine has no population for it.
    """
    return _index(engine, year, rules, borders, municipality)[municipality]


def all_peer_groups(
    engine: Engine, year: int, rules: RuleSet, *, borders: int
) -> dict[str, list[PeerGroup]]:
    """:func:`peer_groups` of every municipality in ``borders`` at once.

    A municipality without population in ``year`` has no population-band group and is in no
    other municipality's band.
    """
    return _index(engine, year, rules, borders, None)
