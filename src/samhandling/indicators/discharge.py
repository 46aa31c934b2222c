"""Discharge destination (utskrevet til) and discharge-ready patients (utskrivningsklare).

Overliggerdøgn are the calendar days from the discharge-ready date to the discharge date: the
statistic Helsedirektoratet publishes, not the billed days of the discharge-ready payment (those
come from :mod:`samhandling.instruments`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.indicators._common import group_columns
from samhandling.indicators.activity import START
from samhandling.indicators.definitions import IndicatorDefinition, register
from samhandling.indicators.facts import FACTS

__all__ = ["discharge_destinations", "discharge_ready"]

DESTINATION = register(
    IndicatorDefinition(
        "discharge_destination",
        "Stays by discharge destination",
        "Opphold etter utskrivningssted",
        "1",
        START,
        None,
        "inpatient stays discharged to a destination (nursing home, KAD, ...)",
        "inpatient stays",
        "NPR tilsted (interchange discharged_to)",
        "opphold",
        ("indicators.discharge_destinations",),
    )
)
READY = register(
    IndicatorDefinition(
        "discharge_ready_patients",
        "Discharge-ready stays and overliggerdøgn",
        "Utskrivningsklare pasienter og overliggerdøgn",
        "1",
        START,
        None,
        "inpatient stays with a discharge-ready date; days from that date to discharge",
        "inpatient stays",
        "NPR utskrklardato (interchange discharge_ready_at)",
        "opphold / døgn",
    )
)


def discharge_destinations(
    engine: Engine, *, by: Sequence[str] = ("residence", "year"), where: str = "TRUE"
) -> pa.Table:
    """Stays per discharge destination with the share of all stays in the group."""
    select, group = group_columns(by)
    part = f"PARTITION BY {group}" if group else ""
    inner_group = f"{group}, f.discharged_to" if group else "f.discharged_to"
    return engine.query(
        f"SELECT {select}f.discharged_to, COUNT(*) AS stays, "
        f"CAST(COUNT(*) AS DOUBLE) / SUM(COUNT(*)) OVER ({part}) AS share "
        f"FROM {FACTS} AS f WHERE f.is_stay = 1 AND ({where}) "
        f"GROUP BY {inner_group} ORDER BY {inner_group}"
    )


def discharge_ready(
    engine: Engine, *, by: Sequence[str] = ("residence", "year"), where: str = "TRUE"
) -> pa.Table:
    """Discharge-ready stays, their patients and overliggerdøgn per group."""
    select, group = group_columns(by)
    group_by = f" GROUP BY {group} ORDER BY {group}" if group else ""
    return engine.query(
        f"SELECT {select}COUNT(*) AS discharge_ready_stays, "
        "COUNT(DISTINCT f.patient_id) AS patients, "
        "SUM(CASE WHEN CAST(f.discharged_at AS DATE) > f.discharge_ready_at "
        "THEN DATEDIFF('day', f.discharge_ready_at, CAST(f.discharged_at AS DATE)) ELSE 0 END) "
        "AS overliggerdogn "
        f"FROM {FACTS} AS f WHERE f.is_stay = 1 AND f.discharge_ready_at IS NOT NULL "
        f"AND ({where}){group_by}"
    )
