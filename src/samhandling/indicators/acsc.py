"""Avoidable admissions for ambulatory-care-sensitive conditions (ACSC, unngåelige innleggelser).

The ICD-10 list lives in the rule table ``acsc.conditions`` (source: Purdy et al. 2009, the
English NHS ACSC groups without procedure criteria); docs/indicators.md prints it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.indicators._common import code_prefixes, facts_day, group_columns, prefix_case
from samhandling.indicators.activity import START
from samhandling.indicators.definitions import IndicatorDefinition, register
from samhandling.indicators.facts import FACTS
from samhandling.rules import RuleSet

__all__ = ["avoidable_admissions"]

ACSC = register(
    IndicatorDefinition(
        "avoidable_admissions",
        "Emergency admissions for ambulatory-care-sensitive conditions",
        "Innleggelser for ambulant-sensitive tilstander",
        "1",
        START,
        None,
        "emergency somatic inpatient stays whose main diagnosis is in the ACSC list",
        "none (count); per 1 000: residents",
        "rule table acsc.conditions (Purdy et al. 2009)",
        "opphold",
        ("acsc.conditions",),
    )
)


def avoidable_admissions(
    engine: Engine, rules: RuleSet, *, by: Sequence[str] = ("residence", "year")
) -> pa.Table:
    """Emergency somatic stays per group and ACSC condition group."""
    select, group = group_columns(by, alias="a")
    conditions = code_prefixes(rules, "acsc.conditions", on=facts_day(engine))
    case = prefix_case("f.main_diagnosis", conditions)
    inner = ", ".join(f"f.{c}" for c in by)
    inner_sel = (inner + ", ") if inner else ""
    grouping = f"{group}, a.condition" if group else "a.condition"
    return engine.query(
        f"SELECT {select}a.condition, COUNT(*) AS stays, COUNT(DISTINCT a.patient_id) AS patients "
        f"FROM (SELECT {inner_sel}f.patient_id, {case} AS condition FROM {FACTS} AS f "
        "WHERE f.is_stay = 1 AND f.urgency = 'emergency' AND f.sector = 'somatic') AS a "
        f"WHERE a.condition IS NOT NULL GROUP BY {grouping} ORDER BY {grouping}"
    )
