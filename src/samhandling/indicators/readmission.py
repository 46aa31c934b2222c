"""Readmissions (reinnleggelser) under both definitions, after merging stays into episodes of care.

* Steering data (styringsdata): an emergency inpatient admission 1–30 calendar days after the
  previous discharge; every inpatient episode of care is an index (rehabilitation excluded).
* National quality indicator: patients 67+, an emergency admission from 8 hours to 30 days after
  discharge from an index episode whose main diagnosis is in one of the 11 index groups.

Before counting, a patient's inpatient stays that begin less than ``merge_gap_hours`` after the
latest discharge so far are merged into one episode of care (sammenhengende sykehusopphold):
transfers between hospitals are not readmissions. All parameters are rule tables.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.indicators._common import code_prefixes, facts_day, prefix_case, rule_int
from samhandling.indicators.activity import START
from samhandling.indicators.definitions import IndicatorDefinition, register
from samhandling.indicators.facts import FACTS
from samhandling.rules import RuleSet

__all__ = [
    "READMISSION_FACTS",
    "episodes_of_care_sql",
    "readmissions",
    "register_readmission_facts",
]

READMISSION_FACTS = "readmission_facts"

STEERING = register(
    IndicatorDefinition(
        "readmission_steering",
        "Readmissions (steering data)",
        "Reinnleggelser (styringsdata)",
        "1",
        START,
        None,
        "index episodes followed by an emergency inpatient admission 1-30 days after discharge",
        "inpatient episodes of care (rehabilitation excluded)",
        "Helsedirektoratet styringsdata; MISSION.md §2.3 [C]",
        "andel",
        ("readmission.steering",),
    )
)
QUALITY = register(
    IndicatorDefinition(
        "readmission_quality",
        "30-day readmission of patients 67+ (national quality indicator)",
        "Reinnleggelse av eldre (nasjonal kvalitetsindikator)",
        "1",
        START,
        None,
        "index episodes followed by an emergency admission 8 hours to 30 days after discharge",
        "episodes of patients 67+ with a main diagnosis in the 11 index groups",
        "FHI kvalitetsindikator 30 dagers reinnleggelse (Hansen et al. 2016); MISSION.md §2.3",
        "andel",
        ("readmission.quality", "readmission.quality_index_groups"),
    )
)


def episodes_of_care_sql(merge_gap_hours: int, where: str = "TRUE") -> str:
    """SQL for episodes of care: one row per merged run of a patient's inpatient stays."""
    gap = int(merge_gap_hours)
    return f"""
        WITH stays AS (
            SELECT f.patient_id, f.episode_id, f.admitted_at, f.discharged_at, f.urgency,
                   f.main_diagnosis, f.residence, f.birth_year,
                   MAX(f.discharged_at) OVER (
                       PARTITION BY f.patient_id ORDER BY f.admitted_at, f.episode_id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_before
            FROM {FACTS} AS f
            WHERE f.is_stay = 1 AND f.discharged_at IS NOT NULL AND ({where})
        ),
        flagged AS (
            SELECT s.*, CASE WHEN s.latest_before IS NULL
                    OR s.admitted_at >= s.latest_before + INTERVAL {gap} HOUR
                    THEN 1 ELSE 0 END AS starts_episode
            FROM stays AS s
        ),
        numbered AS (
            SELECT g.*, SUM(g.starts_episode) OVER (
                PARTITION BY g.patient_id ORDER BY g.admitted_at, g.episode_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS episode_no,
                ROW_NUMBER() OVER (
                    PARTITION BY g.patient_id, g.admitted_at ORDER BY g.episode_id) AS tie
            FROM flagged AS g
        ),
        firsts AS (
            SELECT n.*, ROW_NUMBER() OVER (
                PARTITION BY n.patient_id, n.episode_no ORDER BY n.admitted_at, n.episode_id) AS pos
            FROM numbered AS n
        )
        SELECT patient_id, episode_no,
               MIN(admitted_at) AS episode_start, MAX(discharged_at) AS episode_end,
               MAX(CASE WHEN pos = 1 THEN urgency END) AS urgency,
               MAX(CASE WHEN pos = 1 THEN main_diagnosis END) AS main_diagnosis,
               MAX(CASE WHEN pos = 1 THEN residence END) AS residence,
               MAX(CASE WHEN pos = 1 THEN birth_year END) AS birth_year,
               COUNT(*) AS stays
        FROM firsts
        GROUP BY patient_id, episode_no
    """


def readmissions(
    engine: Engine,
    rules: RuleSet,
    *,
    definition: Literal["steering", "quality"] = "steering",
    detail: bool = False,
) -> pa.Table:
    """Index episodes and readmissions per residence and discharge year (or per episode)."""
    episodes = _index_episodes_sql(rules, definition, facts_day(engine))
    if detail:
        return engine.query(episodes + " ORDER BY e.patient_id, e.episode_no")
    return engine.query(
        f"SELECT residence, year, COUNT(*) AS index_episodes, SUM(readmitted) AS readmissions, "
        f"CAST(SUM(readmitted) AS DOUBLE) / COUNT(*) AS share FROM ({episodes}) AS x "
        "GROUP BY residence, year ORDER BY residence, year"
    )


def _index_episodes_sql(
    rules: RuleSet, definition: Literal["steering", "quality"], on: date
) -> str:
    """One row per index episode of ``definition`` (patient_id, episode_no, episode_start,
    episode_end, residence, year, stays, readmitted), from the contact facts' stays, with the
    definition's rules in force on ``on``."""
    if definition == "steering":
        rule = "readmission.steering"
        merge = rule_int(rules, rule, "merge_gap_hours", on=on)
        lo = rule_int(rules, rule, "window_min_days", on=on)
        hi = rule_int(rules, rule, "window_max_days", on=on)
        base = episodes_of_care_sql(merge, "f.sector <> 'rehabilitation'")
        index_filter = "TRUE"
        window = (
            f"DATEDIFF('day', CAST(e.episode_end AS DATE), CAST(e.next_start AS DATE)) "
            f"BETWEEN {lo} AND {hi}"
        )
    elif definition == "quality":
        rule = "readmission.quality"
        merge = rule_int(rules, rule, "merge_gap_hours", on=on)
        min_age = rule_int(rules, rule, "min_age", on=on)
        lo_h = rule_int(rules, rule, "window_min_hours", on=on)
        hi_d = rule_int(rules, rule, "window_max_days", on=on)
        base = episodes_of_care_sql(merge, "f.sector = 'somatic'")
        groups = code_prefixes(rules, "readmission.quality_index_groups", on=on)
        index_filter = (
            f"CAST(EXTRACT(YEAR FROM e.episode_end) AS INTEGER) - e.birth_year >= {min_age} "
            f"AND ({prefix_case('e.main_diagnosis', groups)}) IS NOT NULL"
        )
        window = (
            f"e.next_start >= e.episode_end + INTERVAL {lo_h} HOUR "
            f"AND e.next_start <= e.episode_end + INTERVAL {hi_d} DAY"
        )
    else:
        raise ValueError("definition must be steering or quality")
    return f"""
        WITH ep AS ({base}),
        linked AS (
            SELECT ep.*,
                LEAD(ep.episode_start) OVER (
                    PARTITION BY ep.patient_id ORDER BY ep.episode_start) AS next_start,
                LEAD(ep.urgency) OVER (
                    PARTITION BY ep.patient_id ORDER BY ep.episode_start) AS next_urgency
            FROM ep
        )
        SELECT e.patient_id, e.episode_no, e.episode_start, e.episode_end, e.residence,
               CAST(EXTRACT(YEAR FROM e.episode_end) AS INTEGER) AS year, e.stays,
               CASE WHEN e.next_urgency = 'emergency' AND e.next_start IS NOT NULL AND {window}
                    THEN 1 ELSE 0 END AS readmitted
        FROM linked AS e
        WHERE {index_filter}
    """


def register_readmission_facts(
    engine: Engine, rules: RuleSet, *, name: str = READMISSION_FACTS
) -> None:
    """Materialise ``readmission_facts`` (or ``name``): one row per index episode of either
    definition, made inside the engine from the contact facts' stays of every year there.

    Columns: patient_id, residence, year, month (of the index episode's discharge),
    idx_steering, re_steering, idx_quality, re_quality (0/1). The readmission table (SD08)
    counts index episodes and readmissions of both definitions from it; an episode that is an
    index under both definitions is one row per definition.
    """
    parts = []
    on = facts_day(engine)
    names: tuple[Literal["steering", "quality"], ...] = ("steering", "quality")
    for definition in names:
        steering = definition == "steering"
        # Each definition's episodes apart (one query holding both would repeat the names of
        # their common table expressions: Spark refuses that), through Arrow, so that what is
        # made from them does not carry their window functions along.
        engine.register_arrow(
            f"readm_{definition}",
            engine.query(_index_episodes_sql(rules, definition, on)).select(
                ["patient_id", "episode_end", "residence", "readmitted"]
            ),
        )
        parts.append(
            "SELECT x.patient_id, x.residence, x.episode_end, "
            f"{1 if steering else 0} AS idx_steering, "
            f"{'x.readmitted' if steering else '0'} AS re_steering, "
            f"{0 if steering else 1} AS idx_quality, "
            f"{'0' if steering else 'x.readmitted'} AS re_quality "
            f"FROM readm_{definition} AS x"
        )
    engine.create_table(
        name,
        "SELECT u.patient_id, u.residence, "
        "CAST(EXTRACT(YEAR FROM u.episode_end) AS INTEGER) AS year, "
        "CAST(EXTRACT(MONTH FROM u.episode_end) AS INTEGER) AS month, "
        "CAST(u.idx_steering AS BIGINT) AS idx_steering, "
        "CAST(u.re_steering AS BIGINT) AS re_steering, "
        "CAST(u.idx_quality AS BIGINT) AS idx_quality, "
        "CAST(u.re_quality AS BIGINT) AS re_quality "
        "FROM (" + " UNION ALL ".join(parts) + ") AS u",
    )
    for definition in names:
        engine.drop(f"readm_{definition}")
