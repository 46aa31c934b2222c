"""Money per inhabitant: co-financing and discharge-ready payments (betaling for utskrivningsklare).

Amounts come from the instruments, the one place that computes them:
:func:`samhandling.instruments.cofinancing.cofinancing_episodes` (what each episode costs the
municipality) and :func:`samhandling.instruments.discharge_ready.discharge_ready_lines` (what each
billed day costs the paying municipality). This module only sums them per municipality and
divides by the population, keeping DECIMAL money (exact to the øre until the final rounding of
the per-inhabitant figure to the øre, half up).

:func:`prepare_payment_facts` and :func:`payment_facts_of_years` build the ``payment_facts``
relation the payment table (SD06) counts from: one row per co-financed episode and one per
billed discharge-ready line, dated by activity date (co-financing) or invoice month
(discharge-ready days), placed by the paying municipality mapped to one chosen year's borders
like :mod:`samhandling.indicators.facts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.engine.sql import round_half_up_div
from samhandling.indicators.definitions import IndicatorDefinition, register
from samhandling.indicators.facts import (
    UNKNOWN_RESIDENCE,
    episode_years,
    in_years,
    residence_map,
)
from samhandling.rules import RuleSet

__all__ = [
    "PAYMENT_FACTS",
    "cofinancing_per_inhabitant",
    "discharge_ready_payments_per_inhabitant",
    "payment_facts_of_years",
    "prepare_payment_facts",
]

PAYMENT_FACTS = "payment_facts"

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
DISCHARGE_READY_PAYMENT = register(
    IndicatorDefinition(
        "discharge_ready_payment_per_inhabitant",
        "Discharge-ready payments per inhabitant",
        "Betaling for utskrivningsklare pasienter per innbygger",
        "1",
        date(2012, 1, 1),
        None,
        "billed discharge-ready days × daily rate (instruments.discharge_ready), by invoice "
        "month and paying municipality",
        "residents 1 January",
        "forskrift 18.11.2011 nr. 1115 om kommunal betaling for utskrivningsklare pasienter; "
        "samhandling.instruments",
        "kroner",
        ("discharge_ready.daily_rate",),
    )
)


def _per_inhabitant(engine: Engine, amounts: str, year: int) -> pa.Table:
    return engine.query(
        f"WITH a AS ({amounts}), "
        f"p AS (SELECT municipality, SUM(count) AS population FROM population WHERE year = {year} "
        "GROUP BY municipality)"
        ", o AS (SELECT a.municipality, a.amount, p.population, "
        "CAST(ROUND(a.amount * 100, 0) AS BIGINT) AS ore FROM a "
        "JOIN p ON p.municipality = a.municipality) "
        # øre per inhabitant rounded half up (away from zero) in integer arithmetic, so that
        # nothing passes through DOUBLE.
        "SELECT o.municipality, CAST(o.amount AS DECIMAL(18,2)) AS amount, o.population, "
        f"CAST(CAST({round_half_up_div('o.ore', 'o.population')} "
        "AS DECIMAL(18, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2)) AS per_inhabitant "
        "FROM o ORDER BY o.municipality"
    )


def cofinancing_per_inhabitant(engine: Engine, rules: RuleSet, *, year: int) -> pa.Table:
    """municipality, amount (DECIMAL(18,2)), population, per_inhabitant (DECIMAL(18,2))."""
    from samhandling.instruments.cofinancing import cofinancing_episodes

    engine.register_arrow("kmf_episodes", cofinancing_episodes(engine, rules, year=year))
    return _per_inhabitant(
        engine,
        "SELECT municipality, SUM(amount) AS amount FROM kmf_episodes GROUP BY municipality",
        int(year),
    )


def discharge_ready_payments_per_inhabitant(
    engine: Engine, rules: RuleSet, *, year: int
) -> pa.Table:
    """paying municipality, billed amount of invoice months in ``year``, population, per inh."""
    from samhandling.instruments.discharge_ready import discharge_ready_lines

    engine.register_arrow("dr_payment_lines", discharge_ready_lines(engine, rules))
    return _per_inhabitant(
        engine,
        "SELECT paying_municipality AS municipality, SUM(amount) AS amount "
        f"FROM dr_payment_lines WHERE billed AND EXTRACT(YEAR FROM invoice_month) = {int(year)} "
        "GROUP BY paying_municipality",
        int(year),
    )


def _has_dr(engine: Engine) -> bool:
    return engine.has_relation("events")


def prepare_payment_facts(
    engine: Engine, rules: RuleSet, *, borders: int, residence_years: Sequence[int] | None = None
) -> None:
    """What every year's payment facts share: the discharge-ready lines of all stays (a stay's
    lines fall in the invoice months of several years) as ``pay_dr``, and the residence mapping
    of every year of the data (``pay_residence``, ``pay_residence_any``; ``residence_years``:
    the episodes' years when the caller has them, :func:`episode_years`)."""
    from samhandling.instruments.discharge_ready import discharge_ready_lines

    years = set(episode_years(engine) if residence_years is None else residence_years)
    if _has_dr(engine):
        # The lines (discharge-ready stays only: few) pass through Arrow, so that what is made
        # from them does not carry their long query along (Spark plans it again on every use).
        engine.register_arrow(
            "pay_dr_lines",
            discharge_ready_lines(engine, rules).select(
                ["patient_id", "paying_municipality", "invoice_month", "days", "amount", "billed"]
            ),
        )
        engine.create_table(
            "pay_dr",
            "SELECT d.patient_id, d.paying_municipality AS municipality, "
            "CAST(EXTRACT(YEAR FROM d.invoice_month) AS INTEGER) AS year, "
            "CAST(EXTRACT(MONTH FROM d.invoice_month) AS INTEGER) AS month, "
            "CAST(0 AS BIGINT) AS kmf_ore, CAST(ROUND(d.amount * 100, 0) AS BIGINT) AS dr_ore, "
            "CAST(d.days AS BIGINT) AS dr_days FROM pay_dr_lines AS d "
            "WHERE d.billed AND d.days > 0",
        )
        found = engine.query("SELECT DISTINCT year FROM pay_dr")["year"].to_pylist()
        years |= {int(y) for y in found if y is not None}
    mapping = residence_map(sorted(years), borders)
    engine.register_arrow("pay_residence", mapping)
    # A code of the year before (an invoice month of January for a December stay) falls back to
    # its mapping in the latest year that knew it.
    engine.register_arrow(
        "pay_residence_any",
        engine.query(
            "SELECT municipality, MAX_BY(residence, year) AS residence FROM pay_residence "
            "GROUP BY municipality"
        ),
    )


def payment_facts_of_years(
    engine: Engine, rules: RuleSet, years: Sequence[int] | None = None
) -> None:
    """``payment_facts`` of ``years`` (all when None), after :func:`prepare_payment_facts`:
    the co-financing of each episode of those years (made inside the engine: every episode's
    amount never comes into Python) and the discharge-ready lines of their invoice months."""
    from samhandling.instruments.cofinancing import cofinancing_episodes_sql

    engine.create_table(
        "pay_kmf",
        "SELECT k.patient_id, k.municipality, k.year, k.month, k.amount "
        f"FROM ({cofinancing_episodes_sql(engine, rules, years=years)}) AS k "
        "WHERE k.amount <> 0",
    )
    parts = [
        "SELECT k.patient_id, k.municipality, CAST(k.year AS INTEGER) AS year, "
        "CAST(k.month AS INTEGER) AS month, "
        "CAST(ROUND(k.amount * 100, 0) AS BIGINT) AS kmf_ore, CAST(0 AS BIGINT) AS dr_ore, "
        "CAST(0 AS BIGINT) AS dr_days FROM pay_kmf AS k"
    ]
    if engine.has_relation("pay_dr"):
        parts.append(f"SELECT * FROM pay_dr AS d WHERE {in_years('d.year', years)}")
    engine.create_table(
        PAYMENT_FACTS,
        "SELECT u.patient_id, u.year, u.month, u.kmf_ore, u.dr_ore, u.dr_days, "
        f"COALESCE(r.residence, a.residence, '{UNKNOWN_RESIDENCE}') AS residence "
        "FROM (" + " UNION ALL ".join(parts) + ") AS u "
        "LEFT JOIN pay_residence AS r ON r.year = u.year AND r.municipality = u.municipality "
        "LEFT JOIN pay_residence_any AS a ON a.municipality = u.municipality",
    )
    engine.drop("pay_kmf")
