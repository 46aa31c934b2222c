"""Occupancy (belegg) of emergency-bed units and the indicators built on it, as SQL on the engine.

Stays are the ``municipal_care`` rows of service ``kad``. A stay's bed days are counted by
``emergency_beds.bed_day_definition`` (midnights: one per night from the admission day up to,
not including, the discharge day, like hospital bed days). The period ends at the data
cut-off, 1 January after the latest year with data (or ``as_of``): an open stay counts up to it and
nights after it are not counted. Each night is attributed to the unit serving the resident's
municipality that day (an inter-municipal unit serves its participants); nights with no unit
are kept apart as unattributed, never dropped. Occupancy per unit and month:

    occupancy % = bed days × 100 / capacity, capacity = Σ over the month's open days of the
    beds in force that day

so a unit opening mid-month, closing, or changing its bed count mid-month is weighed by day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from samhandling.engine import Engine
from samhandling.engine.sql import sql_string
from samhandling.instruments._relations import register_days
from samhandling.registries.emergency_beds.units import Unit
from samhandling.rules import RuleSet

__all__ = [
    "OCCUPANCY_RULES",
    "Spread",
    "data_cutoff",
    "occupancy_by_month",
    "occupancy_by_year",
    "occupancy_spread",
    "period_end",
    "register_units",
    "stays_vs_admissions",
    "unattributed_stays",
]

OCCUPANCY_RULES: tuple[str, ...] = ("emergency_beds.bed_day_definition",)
# Hospital admissions the units are meant to relieve: emergency, medical DRG, somatic stays.
EMERGENCY_MEDICAL = (
    "f.is_stay = 1 AND f.urgency = 'emergency' AND f.drg_type = 'M' AND f.sector = 'somatic'"
)


def register_units(engine: Engine, units: Sequence[Unit]) -> None:
    """Register ``kad_units``, ``kad_unit_municipalities`` and ``kad_bed_periods``."""
    engine.register_arrow(
        "kad_units",
        pa.table(
            {
                "unit_id": pa.array([u.id for u in units], pa.int64()),
                "name": pa.array([u.name for u in units], pa.string()),
                "host_municipality": pa.array([u.host_municipality for u in units], pa.string()),
            }
        ),
    )
    pairs = [(u.id, m) for u in units for m in u.municipalities]
    engine.register_arrow(
        "kad_unit_municipalities",
        pa.table(
            {
                "unit_id": pa.array([p[0] for p in pairs], pa.int64()),
                "municipality": pa.array([p[1] for p in pairs], pa.string()),
            }
        ),
    )
    periods = [(u.id, *p) for u in units for p in u.bed_periods()]
    # Open-ended periods stop at the calendar's end (2040), far beyond any data.
    last = date(2040, 12, 31)
    engine.register_arrow(
        "kad_bed_periods",
        pa.table(
            {
                "unit_id": pa.array([p[0] for p in periods], pa.int64()),
                "valid_from": pa.array([p[1] for p in periods], pa.date32()),
                "valid_until": pa.array([min(p[2], last) for p in periods], pa.date32()),
                "beds": pa.array([p[3] for p in periods], pa.int64()),
            }
        ),
    )


def period_end(years: Sequence[int]) -> date | None:
    """1 January after the latest of the warehouse's years: the ``as_of`` callers pass.

    Deliveries come per year; spells that follow a late-December discharge can start in the
    next January, which must not open a year of (nearly empty) months.
    """
    return date(max(years) + 1, 1, 1) if years else None


def data_cutoff(engine: Engine, care: str = "municipal_care") -> date | None:
    """The end of the data's period: 1 January after the latest year with a care spell.

    Deliveries come per year, so the period ends with the latest year that has any
    ``municipal_care`` row; nights are counted up to it (an open stay runs to it, a longer
    stay is cut there). ``as_of`` in the functions below sets another end.
    """
    got = engine.query(f"SELECT MAX(c.start) AS last_day FROM {care} AS c")
    last = got.column("last_day")[0].as_py()
    return None if last is None else date(last.year + 1, 1, 1)


def _stop_expression(rules: RuleSet, cutoff: date) -> str:
    definition = rules["emergency_beds.bed_day_definition"].value_on(cutoff).value
    end = 'c."end"'
    if definition == "calendar_days":
        end = 'CAST(c."end" + INTERVAL 1 DAY AS DATE)'
    elif definition != "midnights":
        from samhandling.errors import RuleError

        raise RuleError(f"emergency_beds.bed_day_definition: unknown method {definition!r}")
    return f"CASE WHEN c.\"end\" IS NULL THEN DATE '{cutoff.isoformat()}' ELSE {end} END"


def _prepare(
    engine: Engine, rules: RuleSet, units: Sequence[Unit], as_of: date | None, care: str
) -> date:
    register_units(engine, units)
    days = register_days(engine)
    cutoff = as_of or data_cutoff(engine, care) or date(2012, 1, 1)
    stop = _stop_expression(rules, cutoff)
    engine.create_table(
        "kad_stays",
        f"""
SELECT c.care_id, c.patient_id, c.municipality, c.start,
    CASE WHEN {stop} < c.start THEN c.start
        WHEN {stop} > DATE '{cutoff.isoformat()}' THEN DATE '{cutoff.isoformat()}'
        ELSE {stop} END AS stop
FROM {care} AS c
WHERE c.service = 'kad' AND c.start < DATE '{cutoff.isoformat()}'
""",
    )
    engine.create_table(
        "kad_open_days",
        f"""
SELECT p.unit_id, d.day, p.beds
FROM kad_bed_periods AS p
JOIN {days} AS d ON d.day >= p.valid_from AND d.day < p.valid_until
""",
    )
    engine.create_table(
        "kad_nights",
        f"""
WITH nights AS (
    SELECT s.care_id, s.patient_id, s.municipality, d.day
    FROM kad_stays AS s
    JOIN {days} AS d ON d.day >= s.start AND d.day < s.stop
),
attributed AS (
    SELECT n.care_id, n.day, um.unit_id
    FROM nights AS n
    JOIN kad_unit_municipalities AS um ON um.municipality = n.municipality
    JOIN kad_open_days AS o ON o.unit_id = um.unit_id AND o.day = n.day
)
SELECT n.care_id, n.patient_id, n.municipality, n.day, a.unit_id
FROM nights AS n
LEFT JOIN attributed AS a ON a.care_id = n.care_id AND a.day = n.day
""",
    )
    return cutoff


_MONTHLY = """
WITH capacity AS (
    SELECT o.unit_id, CAST(DATE_TRUNC('month', o.day) AS DATE) AS month,
        COUNT(*) AS days_open, SUM(o.beds) AS capacity_days
    FROM kad_open_days AS o
    WHERE o.day < DATE '{cutoff}'
    GROUP BY o.unit_id, CAST(DATE_TRUNC('month', o.day) AS DATE)
),
used AS (
    SELECT n.unit_id, CAST(DATE_TRUNC('month', n.day) AS DATE) AS month,
        COUNT(*) AS bed_days, COUNT(DISTINCT n.patient_id) AS patients
    FROM kad_nights AS n
    WHERE n.unit_id IS NOT NULL
    GROUP BY n.unit_id, CAST(DATE_TRUNC('month', n.day) AS DATE)
),
admitted AS (
    SELECT o.unit_id, CAST(DATE_TRUNC('month', s.start) AS DATE) AS month,
        COUNT(*) AS stays
    FROM kad_stays AS s
    JOIN kad_unit_municipalities AS um ON um.municipality = s.municipality
    JOIN kad_open_days AS o ON o.unit_id = um.unit_id AND o.day = s.start
    GROUP BY o.unit_id, CAST(DATE_TRUNC('month', s.start) AS DATE)
)
SELECT c.unit_id, u.name, u.host_municipality, c.month,
    CAST(EXTRACT(YEAR FROM c.month) AS INTEGER) AS year,
    CAST(c.days_open AS BIGINT) AS days_open,
    CAST(c.capacity_days AS BIGINT) AS capacity_days,
    CAST(COALESCE(x.bed_days, 0) AS BIGINT) AS bed_days,
    CAST(COALESCE(a.stays, 0) AS BIGINT) AS stays,
    CAST(COALESCE(x.patients, 0) AS BIGINT) AS patients,
    CASE WHEN c.capacity_days > 0
        THEN CAST(COALESCE(x.bed_days, 0) AS DOUBLE) * 100 / CAST(c.capacity_days AS DOUBLE)
    END AS occupancy_pct,
    {rule_set} AS rule_set
FROM capacity AS c
JOIN kad_units AS u ON u.unit_id = c.unit_id
LEFT JOIN used AS x ON x.unit_id = c.unit_id AND x.month = c.month
LEFT JOIN admitted AS a ON a.unit_id = c.unit_id AND a.month = c.month
"""


def _monthly_sql(
    engine: Engine, rules: RuleSet, units: Sequence[Unit], as_of: date | None, care: str
) -> str:
    """The monthly occupancy query (unordered), on relations prepared for ``units``."""
    cutoff = _prepare(engine, rules, units, as_of, care)
    return _MONTHLY.format(cutoff=cutoff.isoformat(), rule_set=sql_string(rules.label))


def occupancy_by_month(
    engine: Engine,
    rules: RuleSet,
    units: Sequence[Unit],
    *,
    as_of: date | None = None,
    care: str = "municipal_care",
) -> pa.Table:
    """One row per unit and month it was open (up to the data cut-off or ``as_of``).

    Columns: unit_id, name, host_municipality, month (first day), year, days_open,
    capacity_days (Σ beds over open days), bed_days (occupied, attributed nights), stays
    (admissions that month), patients (distinct), occupancy_pct (null without capacity),
    rule_set.
    """
    sql = _monthly_sql(engine, rules, units, as_of, care)
    return engine.query(sql + " ORDER BY c.unit_id, c.month")


def occupancy_by_year(
    engine: Engine,
    rules: RuleSet,
    units: Sequence[Unit],
    *,
    as_of: date | None = None,
    care: str = "municipal_care",
) -> pa.Table:
    """The monthly figures summed per unit and calendar year (same columns but month)."""
    monthly = _monthly_sql(engine, rules, units, as_of, care)
    return engine.query(
        f"""
WITH m AS ({monthly})
SELECT m.unit_id, MIN(m.name) AS name, MIN(m.host_municipality) AS host_municipality, m.year,
    CAST(SUM(m.days_open) AS BIGINT) AS days_open,
    CAST(SUM(m.capacity_days) AS BIGINT) AS capacity_days,
    CAST(SUM(m.bed_days) AS BIGINT) AS bed_days,
    CAST(SUM(m.stays) AS BIGINT) AS stays,
    CASE WHEN SUM(m.capacity_days) > 0
        THEN CAST(SUM(m.bed_days) AS DOUBLE) * 100 / CAST(SUM(m.capacity_days) AS DOUBLE)
    END AS occupancy_pct,
    MIN(m.rule_set) AS rule_set
FROM m
GROUP BY m.unit_id, m.year
ORDER BY m.unit_id, m.year
"""
    )


def unattributed_stays(
    engine: Engine,
    rules: RuleSet,
    units: Sequence[Unit],
    *,
    as_of: date | None = None,
    care: str = "municipal_care",
) -> pa.Table:
    """KAD nights no registered unit served, per municipality and year (kept, not dropped).

    Columns: municipality, year, stays (distinct stays with such nights), bed_days.
    """
    _prepare(engine, rules, units, as_of, care)
    return engine.query(
        """
SELECT n.municipality, CAST(EXTRACT(YEAR FROM n.day) AS INTEGER) AS year,
    COUNT(DISTINCT n.care_id) AS stays, COUNT(*) AS bed_days
FROM kad_nights AS n
WHERE n.unit_id IS NULL
GROUP BY n.municipality, CAST(EXTRACT(YEAR FROM n.day) AS INTEGER)
ORDER BY n.municipality, year
"""
    )


@dataclass(frozen=True)
class Spread:
    """Distribution of yearly occupancy across units: min, quartiles, max (linear quartiles)."""

    year: int
    units: int
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float


def occupancy_spread(yearly: pa.Table, year: int) -> Spread | None:
    """The spread of ``occupancy_by_year`` rows of ``year`` (units with capacity only)."""
    values = [
        float(v)
        for y, v in zip(
            yearly["year"].to_pylist(), yearly["occupancy_pct"].to_pylist(), strict=True
        )
        if y == year and v is not None
    ]
    if not values:
        return None
    q = np.percentile(np.array(values), [0, 25, 50, 75, 100])
    return Spread(year, len(values), *(float(x) for x in q))


def stays_vs_admissions(
    engine: Engine,
    units: Sequence[Unit],
    years: Sequence[int],
    *,
    care: str = "municipal_care",
) -> pa.Table:
    """Per year and municipality: KAD stays and emergency medical hospital stays per 1 000.

    ``served`` says whether an open unit served the municipality at some day of the year.
    Hospital stays come from :mod:`samhandling.indicators` (contact facts in the year's borders,
    inpatient stays by discharge date, urgency emergency, DRG type M, somatic). KAD stays are
    counted by admission date in the providing municipality's code of that year. Columns: year,
    municipality, served, population, kad_stays, kad_patients, kad_per_1000, emergency_stays,
    emergency_patients, emergency_per_1000 (patients: distinct, for disclosure control).
    """
    from samhandling.indicators.activity import crude_rates
    from samhandling.indicators.facts import register_contact_facts

    out: dict[str, list[object]] = {
        k: []
        for k in (
            "year",
            "municipality",
            "served",
            "population",
            "kad_stays",
            "kad_patients",
            "kad_per_1000",
            "emergency_stays",
            "emergency_patients",
            "emergency_per_1000",
        )
    }
    for year in sorted(set(years)):
        first, until = date(year, 1, 1), date(year + 1, 1, 1)
        served = {m for u in units if u.days_open(first, until) > 0 for m in u.municipalities}
        register_contact_facts(engine, borders=year)
        hospital = crude_rates(
            engine, measure="stays", where=f"{EMERGENCY_MEDICAL} AND f.year = {int(year)}"
        )
        emergency = {str(r["residence"]): int(r["count"] or 0) for r in hospital.to_pylist()}
        people = crude_rates(
            engine, measure="patients", where=f"{EMERGENCY_MEDICAL} AND f.year = {int(year)}"
        )
        emergency_patients = {str(r["residence"]): int(r["count"] or 0) for r in people.to_pylist()}
        pop_rows = engine.query(
            "SELECT p.municipality, CAST(SUM(p.count) AS BIGINT) AS population "
            "FROM population AS p "
            f"WHERE p.year = {int(year)} GROUP BY p.municipality"
        ).to_pylist()
        kad_rows = engine.query(
            "SELECT c.municipality, COUNT(*) AS n, COUNT(DISTINCT c.patient_id) AS patients "
            f"FROM {care} AS c WHERE c.service = 'kad' "
            f"AND c.start >= DATE '{first.isoformat()}' "
            f"AND c.start < DATE '{until.isoformat()}' "
            "GROUP BY c.municipality"
        ).to_pylist()
        kad = {str(r["municipality"]): int(r["n"]) for r in kad_rows}
        kad_patients = {str(r["municipality"]): int(r["patients"]) for r in kad_rows}
        for row in sorted(pop_rows, key=lambda r: str(r["municipality"])):
            code = str(row["municipality"])
            population = int(row["population"] or 0)
            if population <= 0:
                continue
            out["year"].append(year)
            out["municipality"].append(code)
            out["served"].append(code in served)
            out["population"].append(population)
            out["kad_stays"].append(kad.get(code, 0))
            out["kad_patients"].append(kad_patients.get(code, 0))
            out["kad_per_1000"].append(kad.get(code, 0) * 1000 / population)
            out["emergency_stays"].append(emergency.get(code, 0))
            out["emergency_patients"].append(emergency_patients.get(code, 0))
            out["emergency_per_1000"].append(emergency.get(code, 0) * 1000 / population)
    return pa.table(
        {
            "year": pa.array(out["year"], pa.int32()),
            "municipality": pa.array(out["municipality"], pa.string()),
            "served": pa.array(out["served"], pa.bool_()),
            "population": pa.array(out["population"], pa.int64()),
            "kad_stays": pa.array(out["kad_stays"], pa.int64()),
            "kad_patients": pa.array(out["kad_patients"], pa.int64()),
            "kad_per_1000": pa.array(out["kad_per_1000"], pa.float64()),
            "emergency_stays": pa.array(out["emergency_stays"], pa.int64()),
            "emergency_patients": pa.array(out["emergency_patients"], pa.int64()),
            "emergency_per_1000": pa.array(out["emergency_per_1000"], pa.float64()),
        }
    )


def relief_summary(table: pa.Table) -> list[dict[str, Any]]:
    """:func:`stays_vs_admissions` summed per year for served and not served municipalities.

    Patients are summed over municipalities (a person counted in two is counted twice), an
    upper bound used only to decide whether a cell is too small to publish.
    """
    groups: dict[tuple[int, bool], dict[str, int]] = {}
    for row in table.to_pylist():
        agg = groups.setdefault(
            (int(row["year"]), bool(row["served"])),
            dict.fromkeys(
                (
                    "municipalities",
                    "population",
                    "kad_stays",
                    "kad_patients",
                    "emergency_stays",
                    "emergency_patients",
                ),
                0,
            ),
        )
        agg["municipalities"] += 1
        agg["population"] += int(row["population"])
        agg["kad_stays"] += int(row["kad_stays"])
        agg["emergency_stays"] += int(row["emergency_stays"])
        agg["kad_patients"] += int(row["kad_patients"])
        agg["emergency_patients"] += int(row["emergency_patients"])
    result: list[dict[str, Any]] = []
    for (year, served), agg in sorted(groups.items(), key=lambda kv: (kv[0][0], not kv[0][1])):
        pop = agg["population"]
        result.append(
            {
                "year": year,
                "served": served,
                **agg,
                "kad_per_1000": agg["kad_stays"] * 1000 / pop if pop else None,
                "emergency_per_1000": agg["emergency_stays"] * 1000 / pop if pop else None,
            }
        )
    return result
