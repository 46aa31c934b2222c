"""Peer municipalities: catchment, county and population band, on hand-made population."""

from __future__ import annotations

import pyarrow as pa
import pytest

from samhandling.contract import arrow_schema
from samhandling.engine import Engine
from samhandling.errors import SamhandlingError
from samhandling.indicators.peers import PeerGroup, peer_groups, population_band
from samhandling.rules import load_rules

RULES = load_rules()

# Nordlandssykehuset HF's catchment area in 2020 borders (SKDE boområde 3), from refdata.
NORDLANDSSYKEHUSET_2020 = [
    "1804",
    "1837",
    "1838",
    "1839",
    "1840",
    "1841",
    "1845",
    "1848",
    "1856",
    "1857",
    "1859",
    "1860",
    "1865",
    "1866",
    "1867",
    "1868",
    "1870",
    "1871",
    "1874",
    "1875",
]


def _population(year: int, totals: dict[str, int]) -> pa.Table:
    """Each municipality's total split over two rows (men 0 years, women 40 years)."""
    rows = []
    for code, total in totals.items():
        men = total // 2
        rows.append({"year": year, "municipality": code, "sex": 1, "age": 0, "count": men})
        rows.append({"year": year, "municipality": code, "sex": 2, "age": 40, "count": total - men})
    return pa.Table.from_pylist(rows, schema=arrow_schema("population"))


def _by_kind(groups: list[PeerGroup]) -> dict[str, PeerGroup]:
    return {g.kind: g for g in groups}


def test_peer_groups_of_bodo(engine: Engine) -> None:
    engine.register_arrow(
        "population",
        _population(
            2020,
            {
                "1804": 52_357,  # Bodø: 50 000 and over
                "0301": 693_494,  # Oslo: 50 000 and over
                "4601": 285_911,  # Bergen: 50 000 and over
                "1833": 26_000,  # Rana: 20 000-49 999
                "1837": 10_000,  # Meløy: exactly on the 10 000 boundary
                "1838": 1_999,  # Gildeskål: under 2 000
                "1806": 49_999,  # Narvik (made up): just under 50 000
            },
        ),
    )
    groups = peer_groups(engine, "1804", 2020, RULES, borders=2020)
    assert [g.kind for g in groups] == ["catchment", "county", "population_band"]
    kinds = _by_kind(groups)
    assert kinds["catchment"].label == "Samme opptaksområde (Nordlandssykehuset HF)"
    assert kinds["catchment"].members == tuple(NORDLANDSSYKEHUSET_2020)
    assert kinds["county"].label == "Samme fylke (Nordland)"
    county = kinds["county"].members
    assert "1804" in county and "1833" in county and "1806" in county
    assert all(m.startswith("18") for m in county)
    assert kinds["population_band"].label == "Samme innbyggergruppe (50 000 innbyggere og over)"
    assert kinds["population_band"].members == ("0301", "1804", "4601")
    # boundaries: a key is the lowest population of its band
    assert population_band(RULES, 2020, 10_000)[1] == "10 000–19 999 innbyggere"
    assert population_band(RULES, 2020, 9_999)[1] == "5 000–9 999 innbyggere"
    meloy = _by_kind(peer_groups(engine, "1837", 2020, RULES, borders=2020))
    assert meloy["population_band"].members == ("1837",)


def test_population_is_mapped_forward_to_the_borders(engine: Engine) -> None:
    # 2014 codes: Narvik 1805 and Ballangen 1854 are one municipality (1806) in 2020 borders;
    # neither alone reaches 20 000, together they do.
    engine.register_arrow(
        "population",
        _population(2014, {"1805": 18_500, "1854": 2_500, "1833": 26_000, "1804": 48_000}),
    )
    rana = _by_kind(peer_groups(engine, "1833", 2014, RULES, borders=2020))
    assert rana["population_band"].members == ("1804", "1806", "1833")
    assert rana["population_band"].label == "Samme innbyggergruppe (20 000–49 999 innbyggere)"
    # in 2014 borders Narvik (1805) is below 20 000 and not a peer
    rana_2014 = _by_kind(peer_groups(engine, "1833", 2014, RULES, borders=2014))
    assert rana_2014["population_band"].members == ("1804", "1833")


def test_peer_groups_refuse_unknown_codes_and_missing_population(engine: Engine) -> None:
    engine.register_arrow("population", _population(2020, {"1804": 52_357}))
    with pytest.raises(SamhandlingError, match="finnes ikke"):
        peer_groups(engine, "1805", 2020, RULES, borders=2020)
    with pytest.raises(SamhandlingError, match="Mangler folketall"):
        peer_groups(engine, "1833", 2020, RULES, borders=2020)
