"""Average length of stay (gjennomsnittlig liggetid) and emergency medical admissions."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.indicators._common import group_columns
from samhandling.indicators.activity import START
from samhandling.indicators.definitions import IndicatorDefinition, register
from samhandling.indicators.facts import FACTS

__all__ = ["EMERGENCY_MEDICAL", "average_length_of_stay"]

EMERGENCY_MEDICAL = "f.is_stay = 1 AND f.urgency = 'emergency' AND f.drg_type = 'M'"

AVG_LOS = register(
    IndicatorDefinition(
        "average_length_of_stay",
        "Average length of stay",
        "Gjennomsnittlig liggetid",
        "1",
        START,
        None,
        "bed days of inpatient stays",
        "inpatient stays",
        "NPR (episodes)",
        "døgn",
    )
)
EMERGENCY = register(
    IndicatorDefinition(
        "emergency_medical_admissions",
        "Emergency medical admissions",
        "Øyeblikkelig hjelp-innleggelser med medisinsk DRG",
        "1",
        START,
        None,
        "somatic inpatient stays with urgency emergency and a medical DRG (DRG type M)",
        "none (count); per 1 000: residents",
        "NPR (hastegrad, DRG-type)",
        "opphold",
    )
)


def average_length_of_stay(
    engine: Engine, *, by: Sequence[str] = ("residence", "year"), where: str = "TRUE"
) -> pa.Table:
    """stays, bed_days and their ratio per group (inpatient stays matching ``where``)."""
    select, group = group_columns(by)
    group_by = f" GROUP BY {group} ORDER BY {group}" if group else ""
    return engine.query(
        f"SELECT {select}COUNT(*) AS stays, SUM(f.bed_days) AS bed_days, "
        "CAST(SUM(f.bed_days) AS DOUBLE) / COUNT(*) AS average_length_of_stay "
        f"FROM {FACTS} AS f WHERE f.is_stay = 1 AND ({where}){group_by}"
    )
