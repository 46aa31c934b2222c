"""SD09: somatic stays per 1 000 inhabitants, crude and age/sex standardised, by residence and year.

Standardised rates are not sums, so they cannot be counted by the cube SQL. The table is built in
two steps that keep disclosure control where it is everywhere else:

1. the stays are counted and protected as an ordinary cube (municipalities and the country ×
   years, with the catalogue's other tables in :func:`samhandling.tables.catalog.build_catalog`),
   which decides which cells are published;
2. the rates of each municipality and of the country come from
   :mod:`samhandling.indicators.standardisation` (direct: the standard population of rule
   ``indicators.standard_population``, gamma interval; indirect: country = 100, exact Poisson
   interval) and are attached to those protected cells. A rate is published exactly when its
   count is; a suppressed count hides every measure of its cell.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.indicators.standardisation import (
    direct_standardised_rates,
    indirect_standardised_ratios,
)
from samhandling.rules import RuleSet
from samhandling.tables.cube import NOT_SQL, CubeSpec, Measure, ProtectedCube
from samhandling.tables.dimensions import COUNTRY, Dimension

__all__ = [
    "RATE_MEASURES",
    "SOMATIC_STAYS",
    "Rates",
    "counting_spec",
    "standardised_rates",
    "standardised_spec",
    "with_standardised_rates",
]

SOMATIC_STAYS = "f.sector = 'somatic' AND f.is_stay = 1"
# Computed outside SQL (see the module docstring): ``sql`` names where the value comes from.
RATE_MEASURES = (
    Measure("ra_rate", "Døgnopphold per 1 000 innbyggere (rå rate)", NOT_SQL, "per 1 000", 1),
    Measure(
        "standardisert_rate",
        "Døgnopphold per 1 000, direkte alders- og kjønnsstandardisert",
        NOT_SQL,
        "per 1 000",
        1,
    ),
    Measure("ki_nedre", "Standardisert rate, 95 % KI nedre", NOT_SQL, "per 1 000", 1),
    Measure("ki_ovre", "Standardisert rate, 95 % KI øvre", NOT_SQL, "per 1 000", 1),
    Measure(
        "indirekte_indeks",
        "Indirekte standardisert forholdstall (landet = 100)",
        NOT_SQL,
        "indeks",
        1,
    ),
)
_STAYS = Measure("opphold", "Døgnopphold", "SUM(f.is_stay)", "opphold")


def _municipal_region(region: Dimension) -> Dimension:
    """The region variable reduced to municipalities, unknown residence and the country."""
    codes = tuple((c, label) for c, label in region.codes if c.isdigit())
    keep = {c for c, _ in codes}
    return dataclasses.replace(
        region,
        key_sql="f.residence",
        mapping=tuple((k, c) for k, c in region.mapping if c in keep and ":" not in k),
        codes=codes,
        lines=((COUNTRY, tuple(c for c, _ in codes if c != COUNTRY)),),
    )


def _years(years: Sequence[int]) -> Dimension:
    mapping = tuple((f"{y}{m:02d}", f"{y}") for y in sorted(years) for m in range(1, 13))
    return Dimension(
        id="period",
        label="periode",
        key_sql="CAST(f.year * 100 + f.month AS VARCHAR)",
        mapping=mapping,
        codes=tuple((f"{y}", f"{y}") for y in sorted(years)),
        lines=(),
        total=f"{max(years)}" if years else "",
        role="time",
        notes={"definition": "Døgnopphold telles etter utskrivningsdato."},
    )


def standardised_spec(region: Dimension, years: Sequence[int]) -> CubeSpec:
    """The table SD09 (its dimensions and measures: the catalogue counts :func:`counting_spec`
    with the other tables; :func:`standardised_rates` and :func:`with_standardised_rates` add
    the rates)."""
    return CubeSpec(
        id="SD09",
        title="Somatiske døgnopphold per 1 000 innbyggere, rå og standardisert, etter bosted og år",
        description="Crude, directly age/sex standardised (with 95 % interval) and indirectly "
        "standardised (country = 100) rates of somatic inpatient stays.",
        dimensions=(_municipal_region(region), _years(years)),
        measures=(_STAYS, *RATE_MEASURES),
        where=SOMATIC_STAYS,
        notes=(
            "Rå rate: døgnopphold / innbyggere 1. januar × 1 000.",
            "Direkte standardisert: ratene per femårig aldersgruppe og kjønn vektet med "
            "standardbefolkningen (regel indicators.standard_population); 95 % intervall etter "
            "Fay og Feuer (1997).",
            "Indirekte standardisert: observerte / forventede opphold × 100, forventet ut fra "
            "landets rater per aldersgruppe og kjønn (landet = 100); eksakt Poisson-intervall.",
            "En rate vises bare når antallet døgnopphold i cellen vises.",
        ),
    )


def counting_spec(spec: CubeSpec) -> CubeSpec:
    """What disclosure control counts and protects of SD09: the stays alone."""
    return dataclasses.replace(spec, measures=(_STAYS,))


Rates = dict[tuple[str, str], tuple[float | None, ...]]


def standardised_rates(
    engine: Engine, rules: RuleSet, spec: CubeSpec, years: Sequence[int] | None = None
) -> Rates:
    """(region, year) → SD09's rates, from the contact facts on ``engine``, for the years of the
    period dimension (those of ``years`` only, when given: the facts hold those)."""
    rates: Rates = {}
    where = SOMATIC_STAYS.replace("f.is_stay = 1", "TRUE")
    for year_code, _ in spec.dimension("period").codes:
        year = int(year_code)
        if years is not None and year not in years:
            continue
        indirect = {
            str(r["residence"]): r["ratio"]
            for r in indirect_standardised_ratios(engine, rules, year=year, where=where).to_pylist()
        }
        direct_rows = direct_standardised_rates(engine, rules, year=year, where=where).to_pylist()
        direct_rows += direct_standardised_rates(
            engine, rules, year=year, where=where, country=COUNTRY
        ).to_pylist()
        indirect[COUNTRY] = 100.0
        for r in direct_rows:
            code = str(r["residence"])
            rates[(code, year_code)] = (
                r["crude_per_1000"],
                r["standardised_per_1000"],
                r["ci_low"],
                r["ci_high"],
                indirect.get(code),
            )
    return rates


def with_standardised_rates(
    spec: CubeSpec, protected: ProtectedCube, rates: Rates
) -> ProtectedCube:
    """SD09 (``spec``): the protected stays of :func:`counting_spec` with ``rates`` attached
    (a withheld cell hides every measure)."""
    threshold, rule_version = protected.threshold, protected.rule_version
    cells = protected.cells
    keys = zip(cells["region"].to_pylist(), cells["period"].to_pylist(), strict=True)
    columns: list[list[Any]] = [[] for _ in RATE_MEASURES]
    for region, period in keys:
        values = rates.get((str(region), str(period)), (None,) * len(RATE_MEASURES))
        for column, value in zip(columns, values, strict=True):
            column.append(
                None
                if value is None
                else float(Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP))
            )
    for measure, column in zip(RATE_MEASURES, columns, strict=True):
        cells = cells.append_column(measure.id, pa.array(column, pa.float64()))
    return ProtectedCube(
        spec, cells, protected.population, threshold, rule_version, protected.built
    )
