"""Poliklinisk selvmating: admissions from the trust's own outpatient clinics.

Seed 000 (October 2012) asks to watch outpatient clinics referring to their own inpatient wards,
which triggers municipal co-financing. Share = stays with ``referred_from_outpatient`` / stays.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.indicators._common import group_columns
from samhandling.indicators.activity import START
from samhandling.indicators.definitions import IndicatorDefinition, register
from samhandling.indicators.facts import FACTS

__all__ = ["selvmating_share"]

SELVMATING = register(
    IndicatorDefinition(
        "selvmating_share",
        "Admissions from the trust's own outpatient clinics",
        "Andel innleggelser fra egen poliklinikk (poliklinisk selvmating)",
        "1",
        START,
        None,
        "somatic inpatient stays admitted from an outpatient visit at the same health trust",
        "somatic inpatient stays",
        "seed 000 (Nasjonal koordineringsgruppe 24.10.2012); interchange referred_from_outpatient",
        "andel",
    )
)


def selvmating_share(
    engine: Engine, *, by: Sequence[str] = ("health_trust", "year"), where: str = "TRUE"
) -> pa.Table:
    """stays, stays_from_own_outpatient and share per group (somatic inpatient stays)."""
    select, group = group_columns(by)
    group_by = f" GROUP BY {group} ORDER BY {group}" if group else ""
    return engine.query(
        f"SELECT {select}COUNT(*) AS stays, "
        "SUM(CASE WHEN f.referred_from_outpatient THEN 1 ELSE 0 END) AS from_own_outpatient, "
        "CAST(SUM(CASE WHEN f.referred_from_outpatient THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) "
        "AS share "
        f"FROM {FACTS} AS f WHERE f.is_stay = 1 AND f.sector = 'somatic' AND ({where}){group_by}"
    )
