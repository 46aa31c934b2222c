"""Activity: contacts, stays, bed days and patients, absolute and per 1 000 inhabitants (crude)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.indicators._common import group_columns, population_sql
from samhandling.indicators.definitions import IndicatorDefinition, register
from samhandling.indicators.facts import FACTS

__all__ = ["activity_counts", "crude_rates"]

_NPR = "Norsk pasientregister (NPR) aktivitetsdata, as delivered in the interchange 'episodes'"
START = date(2012, 1, 1)

CONTACTS = register(
    IndicatorDefinition(
        "contacts",
        "Contacts",
        "Kontakter",
        "1",
        START,
        None,
        "hospital contacts (stays, day treatments, outpatient consultations) of residents",
        "none (count); per 1 000: residents 1 January",
        _NPR,
    )
)
STAYS = register(
    IndicatorDefinition(
        "stays",
        "Inpatient stays",
        "Døgnopphold",
        "1",
        START,
        None,
        "inpatient stays (omsorgsnivå døgn) of residents, by discharge date",
        "none (count); per 1 000: residents 1 January",
        _NPR,
        "opphold",
    )
)
BED_DAYS = register(
    IndicatorDefinition(
        "bed_days",
        "Bed days",
        "Liggedøgn",
        "1",
        START,
        None,
        "calendar days from admission to discharge, summed over inpatient stays",
        "none (sum)",
        _NPR,
        "døgn",
    )
)
PATIENTS = register(
    IndicatorDefinition(
        "patients",
        "Patients",
        "Pasienter",
        "1",
        START,
        None,
        "distinct patients (pseudonymous id) with at least one contact",
        "none (count); per 1 000: residents 1 January",
        _NPR,
        "personer",
    )
)
PER_1000 = register(
    IndicatorDefinition(
        "per_1000",
        "Crude rate per 1 000 inhabitants",
        "Rate per 1 000 innbyggere",
        "1",
        START,
        None,
        "contacts, stays or patients",
        "residents 1 January of the year (SSB) / 1 000",
        "NPR and SSB population (refdata/population)",
        "per 1 000",
    )
)


def activity_counts(
    engine: Engine, *, by: Sequence[str] = ("residence", "year"), where: str = "TRUE"
) -> pa.Table:
    """contacts, stays, day_treatments, outpatient, bed_days and patients per group."""
    select, group = group_columns(by)
    group_by = f" GROUP BY {group} ORDER BY {group}" if group else ""
    return engine.query(
        f"SELECT {select}COUNT(*) AS contacts, SUM(f.is_stay) AS stays, "
        "SUM(f.is_day) AS day_treatments, SUM(f.is_outpatient) AS outpatient, "
        "SUM(f.bed_days) AS bed_days, COUNT(DISTINCT f.patient_id) AS patients "
        f"FROM {FACTS} AS f WHERE {where}{group_by}"
    )


def crude_rates(engine: Engine, *, measure: str = "stays", where: str = "TRUE") -> pa.Table:
    """Per residence and year: count, population and count per 1 000 inhabitants."""
    if measure not in ("contacts", "stays", "patients"):
        raise ValueError("measure must be contacts, stays or patients")
    agg = {
        "contacts": "COUNT(*)",
        "stays": "SUM(f.is_stay)",
        "patients": "COUNT(DISTINCT f.patient_id)",
    }[measure]
    return engine.query(
        f"WITH c AS (SELECT f.residence, f.year, {agg} AS n FROM {FACTS} AS f WHERE {where} "
        "GROUP BY f.residence, f.year), "
        f"p AS (SELECT municipality, year, SUM(count) AS population FROM ({population_sql()}) "
        "AS q GROUP BY municipality, year) "
        "SELECT c.residence, c.year, c.n AS count, p.population, "
        "CAST(c.n AS DOUBLE) * 1000 / p.population AS per_1000 "
        "FROM c JOIN p ON p.municipality = c.residence AND p.year = c.year "
        "ORDER BY c.residence, c.year"
    )
