"""Inpatient stays per 1 000 inhabitants for every municipality of one set of borders: the
figures of the country map (crude and age/sex-standardised), protected like every table.

A year of data comes in that year's municipality codes and a map is drawn on one set of
borders, so the numerator (the residents' stays, mapped by the contact facts) and the
denominator (the inhabitants) are both moved to ``borders``: a split municipality's inhabitants
shared by the population weights of :func:`samhandling.refdata.code_map`, rounded per stratum,
into a relation of their own (``population_in_borders``; the engine's ``population`` is left as
it is). A rate is withheld when its municipality's patients with a stay number at least one and
fewer than the disclosure threshold of the year: it would tell of a handful of people.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from samhandling.engine import Engine
from samhandling.indicators import FACTS, register_contact_facts
from samhandling.indicators.standardisation import direct_standardised_rates
from samhandling.refdata import map_to_borders
from samhandling.rules import RuleSet
from samhandling.tables.disclosure import disclosure_threshold

__all__ = ["POPULATION_IN_BORDERS", "stay_rates"]

POPULATION_IN_BORDERS = "population_in_borders"


def _population_in_borders(engine: Engine, year: int, borders: int) -> pa.Table:
    population = engine.query(
        "SELECT p.year, p.municipality, p.sex, p.age, p.count FROM population AS p "
        f"WHERE p.year = {int(year)}"
    )
    mapped = map_to_borders(population, "municipality", "year", borders)
    share = pc.multiply(pc.cast(mapped["count"], pa.float64()), mapped["weight"])
    grouped = (
        mapped.append_column("share", share)
        .filter(pc.is_valid(mapped[f"municipality_{borders}"]))
        .group_by(["year", f"municipality_{borders}", "sex", "age"])
        .aggregate([("share", "sum")])
    )
    return pa.table(
        {
            "year": grouped["year"],
            "municipality": grouped[f"municipality_{borders}"],
            "sex": grouped["sex"],
            "age": grouped["age"],
            "count": pc.cast(pc.round(grouped["share_sum"]), pa.int64()),
        }
    )


def stay_rates(engine: Engine, rules: RuleSet, year: int, *, borders: int) -> pa.Table:
    """Inpatient stays of ``year`` per 1 000 in ``borders``: the columns of
    :func:`~samhandling.indicators.standardisation.direct_standardised_rates`, ``patients``
    (distinct patients with a stay) and ``suppressed`` (True where the rates must not be shown:
    1 to threshold - 1 patients, the threshold in force on the year's last day)."""
    engine.register_arrow(POPULATION_IN_BORDERS, _population_in_borders(engine, year, borders))
    register_contact_facts(engine, borders=borders)
    rates = direct_standardised_rates(
        engine, rules, year=year, measure="stays", population=POPULATION_IN_BORDERS
    )
    patients = engine.query(
        "SELECT f.residence AS residence, COUNT(DISTINCT f.patient_id) AS patients "
        f"FROM {FACTS} AS f WHERE f.year = {int(year)} AND f.is_stay = 1 GROUP BY f.residence"
    )
    counts = dict(
        zip(
            [str(c) for c in patients["residence"].to_pylist()],
            [int(n or 0) for n in patients["patients"].to_pylist()],
            strict=True,
        )
    )
    threshold, _version = disclosure_threshold(rules, date(year, 12, 31))
    found = [counts.get(str(c), 0) for c in rates["residence"].to_pylist()]
    return rates.append_column("patients", pa.array(found, pa.int64())).append_column(
        "suppressed", pa.array([0 < n < threshold for n in found], pa.bool_())
    )
