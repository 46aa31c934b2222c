"""Age/sex standardised rates (aldersstandardiserte rater) per 1 000 inhabitants.

* Direct: each municipality's rates per 5-year age group x sex, weighted by the standard
  population (Norway 1 January of the year in rule ``indicators.standard_population``); 95 %
  interval by the gamma method of Fay & Feuer (1997).
* Indirect: observed / expected x 100, expected from the country's rates per stratum applied to
  the municipality's population (country = 100); exact Poisson interval.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import pyarrow as pa
from scipy.stats import chi2, gamma  # type: ignore[import-untyped]

from samhandling.engine import Engine
from samhandling.indicators._common import population_sql, rule_int
from samhandling.indicators.activity import START
from samhandling.indicators.definitions import IndicatorDefinition, register
from samhandling.indicators.facts import FACTS
from samhandling.rules import RuleSet

__all__ = ["direct_standardised_rates", "indirect_standardised_ratios", "standard_population"]

DIRECT = register(
    IndicatorDefinition(
        "direct_standardised_rate",
        "Directly age/sex standardised rate per 1 000",
        "Direkte alders- og kjønnsstandardisert rate per 1 000",
        "1",
        START,
        None,
        "stays (or contacts, patients) per 5-year age group and sex",
        "residents per stratum, weighted by the standard population",
        "Fay & Feuer 1997; SSB population",
        "per 1 000",
        ("indicators.standard_population", "indicators.confidence_level"),
    )
)
INDIRECT = register(
    IndicatorDefinition(
        "indirect_standardised_ratio",
        "Indirectly standardised ratio (country = 100)",
        "Indirekte standardisert forholdstall (landet = 100)",
        "1",
        START,
        None,
        "observed stays",
        "expected stays at the country's rates per age group and sex",
        "Breslow & Day 1987 (SMR, exact Poisson interval); SSB population",
        "indeks",
        ("indicators.confidence_level",),
    )
)

_AGGREGATES = {
    "stays": "SUM(f.is_stay)",
    "contacts": "COUNT(*)",
    "patients": "COUNT(DISTINCT f.patient_id)",
}


def _group(age_sql: str, width: int, open_from: int) -> str:
    return (
        f"CASE WHEN {age_sql} >= {open_from} THEN {open_from} "
        f"ELSE CAST(FLOOR({age_sql} / {width}.0) AS INTEGER) * {width} END"
    )


def _strata(
    engine: Engine,
    rules: RuleSet,
    measure: str,
    year: int,
    where: str,
    *,
    population: str = "population",
) -> tuple[dict[tuple[str, int, int], int], dict[tuple[str, int, int], int]]:
    on = date(year, 12, 31)
    width = rule_int(rules, "indicators.age_band_width", "width", on=on)
    open_from = rule_int(rules, "indicators.age_band_width", "open_from", on=on)
    agg = _AGGREGATES[measure]
    events = engine.query(
        f"SELECT f.residence AS m, CAST(f.sex AS INTEGER) AS s, "
        f"CAST({_group('f.age', width, open_from)} AS INTEGER) AS g, {agg} AS n "
        f"FROM {FACTS} AS f WHERE f.year = {int(year)} AND ({where}) GROUP BY 1, 2, 3"
    )
    pop = engine.query(
        f"SELECT p.municipality AS m, CAST(p.sex AS INTEGER) AS s, "
        f"CAST({_group('p.age', width, open_from)} AS INTEGER) AS g, SUM(p.count) AS n "
        f"FROM ({population_sql(f'p.year = {int(year)}', population)}) AS p GROUP BY 1, 2, 3"
    )

    def as_dict(t: pa.Table) -> dict[tuple[str, int, int], int]:
        return {
            (str(m), int(s), int(g)): int(n)
            for m, s, g, n in zip(*(t[c].to_pylist() for c in ("m", "s", "g", "n")), strict=True)
        }

    return as_dict(events), as_dict(pop)


def _collapse(
    strata: dict[tuple[str, int, int], int], code: str
) -> dict[tuple[str, int, int], int]:
    out: dict[tuple[str, int, int], int] = defaultdict(int)
    for (_, s, g), n in strata.items():
        out[(code, s, g)] += n
    return dict(out)


def standard_population(rules: RuleSet, on: date) -> dict[tuple[int, int], int]:
    """(sex, age group start) -> inhabitants of Norway in the standard year of the rules in
    force on ``on``."""
    from samhandling.refdata import population

    width = rule_int(rules, "indicators.age_band_width", "width", on=on)
    open_from = rule_int(rules, "indicators.age_band_width", "open_from", on=on)
    year = rule_int(rules, "indicators.standard_population", on=on)
    table = population([year])
    out: dict[tuple[int, int], int] = defaultdict(int)
    for s, a, n in zip(*(table[c].to_pylist() for c in ("sex", "age", "count")), strict=True):
        out[(int(s), min(open_from, (int(a) // width) * width))] += int(n)
    return dict(out)


def direct_standardised_rates(
    engine: Engine,
    rules: RuleSet,
    *,
    year: int,
    measure: str = "stays",
    where: str = "TRUE",
    standard: dict[tuple[int, int], int] | None = None,
    country: str | None = None,
    population: str = "population",
) -> pa.Table:
    """residence, events, population, crude and standardised rate per 1 000 with interval.

    ``country`` (a code, e.g. ``"0"``) gives one row for all residences together instead.
    ``population``: the relation of inhabitants (default ``population``, in each year's codes).
    """
    events, pop = _strata(engine, rules, measure, year, where, population=population)
    if country is not None:
        events, pop = _collapse(events, country), _collapse(pop, country)
    on = date(year, 12, 31)
    weights = standard if standard is not None else standard_population(rules, on)
    total_w = sum(weights.values())
    level = float(rules["indicators.confidence_level"].value_on(on).decimal)
    alpha = 1 - level
    rows: dict[str, list[float]] = defaultdict(list)
    for m in sorted({k[0] for k in pop}):
        strata = [(k, n) for k, n in pop.items() if k[0] == m and n > 0]
        d = np.array([events.get(k, 0) for k, _ in strata], dtype=float)
        n = np.array([n for _, n in strata], dtype=float)
        w = np.array([weights.get((k[1], k[2]), 0) for k, _ in strata], dtype=float) / total_w
        rate = float(np.sum(w * d / n))
        var = float(np.sum((w / n) ** 2 * d))
        wm = float(np.max(w / n)) if len(n) else 0.0
        low = 0.0 if var == 0 else float(gamma.ppf(alpha / 2, rate**2 / var, scale=var / rate))
        high = float(
            gamma.ppf(
                1 - alpha / 2, (rate + wm) ** 2 / (var + wm**2), scale=(var + wm**2) / (rate + wm)
            )
        )
        rows["residence"].append(m)  # type: ignore[arg-type]
        rows["events"].append(float(d.sum()))
        rows["population"].append(float(n.sum()))
        rows["crude_per_1000"].append(float(d.sum() / n.sum() * 1000))
        rows["standardised_per_1000"].append(rate * 1000)
        rows["ci_low"].append(low * 1000)
        rows["ci_high"].append(high * 1000)
    return pa.table(rows)


def indirect_standardised_ratios(
    engine: Engine, rules: RuleSet, *, year: int, measure: str = "stays", where: str = "TRUE"
) -> pa.Table:
    """residence, observed, expected, ratio (country = 100) with exact Poisson interval."""
    events, pop = _strata(engine, rules, measure, year, where)
    level = float(rules["indicators.confidence_level"].value_on(date(year, 12, 31)).decimal)
    alpha = 1 - level
    country_events: dict[tuple[int, int], int] = defaultdict(int)
    country_pop: dict[tuple[int, int], int] = defaultdict(int)
    for (_, s, g), n in events.items():
        country_events[(s, g)] += n
    for (_, s, g), n in pop.items():
        country_pop[(s, g)] += n
    rows: dict[str, list[object]] = defaultdict(list)
    for m in sorted({k[0] for k in pop}):
        observed = sum(n for k, n in events.items() if k[0] == m)
        expected = sum(
            n * country_events[(s, g)] / country_pop[(s, g)]
            for (mm, s, g), n in pop.items()
            if mm == m and country_pop[(s, g)]
        )
        low = chi2.ppf(alpha / 2, 2 * observed) / 2 if observed else 0.0
        high = chi2.ppf(1 - alpha / 2, 2 * observed + 2) / 2
        rows["residence"].append(m)
        rows["observed"].append(observed)
        rows["expected"].append(expected)
        rows["ratio"].append(100 * observed / expected if expected else None)
        rows["ci_low"].append(100 * low / expected if expected else None)
        rows["ci_high"].append(100 * high / expected if expected else None)
    return pa.table(rows)
