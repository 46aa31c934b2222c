"""Money per inhabitant: municipal co-financing (kommunal medfinansiering) per inhabitant.

Amounts come from :func:`samhandling.instruments.cofinancing.cofinancing_episodes` (the one
function that computes them); this module only divides by the population, keeping DECIMAL money.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.indicators.definitions import IndicatorDefinition, register
from samhandling.rules import RuleSet

__all__ = ["cofinancing_per_inhabitant"]

COFINANCING = register(
    IndicatorDefinition(
        "cofinancing_per_inhabitant",
        "Municipal co-financing per inhabitant",
        "Kommunal medfinansiering per innbygger",
        "1",
        date(2012, 1, 1),
        date(2014, 12, 31),
        "co-financing amount (instruments.cofinancing) of the municipality's residents",
        "residents 1 January",
        "forskrift 18.11.2011 nr. 1115; samhandling.instruments",
        "kroner",
    )
)


def cofinancing_per_inhabitant(engine: Engine, rules: RuleSet, *, year: int) -> pa.Table:
    """municipality, amount (DECIMAL(18,2)), population, per_inhabitant (DECIMAL(18,2))."""
    from samhandling.instruments.cofinancing import cofinancing_episodes

    engine.register_arrow("kmf_episodes", cofinancing_episodes(engine, rules, year=year))
    return engine.query(
        "WITH a AS (SELECT municipality, SUM(amount) AS amount FROM kmf_episodes "
        "GROUP BY municipality), "
        f"p AS (SELECT municipality, SUM(count) AS population FROM population WHERE year = {year} "
        "GROUP BY municipality) "
        "SELECT a.municipality, CAST(a.amount AS DECIMAL(18,2)) AS amount, p.population, "
        "CAST(a.amount / p.population AS DECIMAL(18,2)) AS per_inhabitant "
        "FROM a JOIN p ON p.municipality = a.municipality ORDER BY a.municipality"
    )
