"""Patient timelines and pathways (pasientforløp, "hjem til hjem"), as SQL on the engine.

Four relations are built, each from the one before:

``pathway_stays``
    The inpatient stays (care levels from ``pathways.settings``) numbered into episodes of care
    (sammenhengende sykehusopphold): a stay that begins less than ``merge_gap_hours``
    (``readmission.steering``) after the latest discharge so far continues the episode.
``pathway_episodes``
    One row per episode of care, with the admission state (urgency of its first stay), the
    discharge-ready time (the first ``discharge_ready`` event after the last ``withdrawn`` event
    of its stays, or, for an episode without such events, its earliest ``discharge_ready_at``
    date) and the destination of its last discharge.
``pathway_timeline``
    Each patient's time cut into *islands*: maximal runs in one state. Hospital episodes,
    discharge-ready waits, deaths and municipal care spells are segments; a sweep over each
    patient's segment boundaries (running sums per state, window functions over patient + time)
    gives the state of every interval as the covering state of highest priority
    (``pathways.state_priority``), or the uncovered state (home) where nothing covers it.
    Consecutive intervals in the same state (and, in hospital, the same episode of care) are one
    island.
``pathways``
    A pathway is a run of islands that holds at least one hospital admission and ends with the
    first island in which the patient is back in a baseline state (home, home services, own
    long-term place) for at least ``end_gap_days``, or has died. Its start state is the island
    before it. Its pattern is the start state and the states of its islands, joined by ``>``.

Municipality and year of a pathway are those of its first admission (registered municipality
of the first stay, in that year's codes).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.engine.sql import sql_string
from samhandling.pathways.definition import PathwayDefinition

__all__ = [
    "EPISODES",
    "PATHWAYS",
    "STAYS",
    "TIMELINE",
    "build_pathways",
    "build_timeline",
    "discharge_destinations",
    "pathways_sql",
    "timeline_sql",
]

STAYS = "pathway_stays"
EPISODES = "pathway_episodes"
TIMELINE = "pathway_timeline"
PATHWAYS = "pathways"

# An open end (still in hospital, a service still running) sorts after every real time.
FAR = "TIMESTAMP '9999-12-31 00:00:00'"
FAR_TIME = datetime(9999, 12, 31)
SEPARATOR = ">"
ELLIPSIS = "..."


def _in_list(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(sql_string(v) for v in values) if values else "NULL"


def _patient_filter(column: str, patient_id: str | None) -> str:
    return "TRUE" if patient_id is None else f"{column} = {sql_string(patient_id)}"


def stays_sql(d: PathwayDefinition, patient_id: str | None = None) -> str:
    """Inpatient stays with their episode-of-care number per patient."""
    gap = int(d.merge_gap_hours)
    return f"""
WITH stays AS (
    SELECT e.patient_id, e.episode_id, e.admitted_at,
        COALESCE(e.discharged_at, {FAR}) AS end_at,
        e.urgency, e.municipality, e.health_trust,
        COALESCE(e.discharged_to, 'unknown') AS discharged_to,
        e.discharge_ready_at,
        MAX(COALESCE(e.discharged_at, {FAR})) OVER (
            PARTITION BY e.patient_id ORDER BY e.admitted_at, e.episode_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_before
    FROM episodes AS e
    WHERE e.care_level IN ({_in_list(d.hospital_care_levels)})
        AND {_patient_filter("e.patient_id", patient_id)}
),
numbered AS (
    SELECT s.*, SUM(CASE WHEN s.latest_before IS NULL
                OR s.admitted_at - INTERVAL {gap} HOUR >= s.latest_before THEN 1 ELSE 0 END)
            OVER (PARTITION BY s.patient_id ORDER BY s.admitted_at, s.episode_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS episode_no
    FROM stays AS s
)
SELECT n.patient_id, n.episode_id, n.episode_no, n.admitted_at, n.end_at, n.urgency,
    n.municipality, n.health_trust, n.discharged_to, n.discharge_ready_at,
    ROW_NUMBER() OVER (PARTITION BY n.patient_id, n.episode_no
                       ORDER BY n.admitted_at, n.episode_id) AS pos,
    ROW_NUMBER() OVER (PARTITION BY n.patient_id, n.episode_no
                       ORDER BY n.end_at DESC, n.episode_id DESC) AS pos_last
FROM numbered AS n
"""


def episodes_sql() -> str:
    """Episodes of care with their discharge-ready time, from ``pathway_stays`` and ``events``."""
    return f"""
WITH ev AS (
    SELECT s.patient_id, s.episode_no, x.type, x."at"
    FROM events AS x JOIN {STAYS} AS s ON s.episode_id = x.episode_id
    WHERE x.type IN ('discharge_ready', 'withdrawn')
),
ev_summary AS (
    SELECT ev.patient_id, ev.episode_no,
        MAX(CASE WHEN ev.type = 'withdrawn' THEN ev."at" END) AS withdrawn_at
    FROM ev GROUP BY ev.patient_id, ev.episode_no
),
ready_event AS (
    SELECT ev.patient_id, ev.episode_no, MIN(ev."at") AS ready_at
    FROM ev JOIN ev_summary AS w
        ON w.patient_id = ev.patient_id AND w.episode_no = ev.episode_no
    WHERE ev.type = 'discharge_ready' AND (w.withdrawn_at IS NULL OR ev."at" > w.withdrawn_at)
    GROUP BY ev.patient_id, ev.episode_no
),
ready_date AS (
    SELECT s.patient_id, s.episode_no,
        MIN(CAST(s.discharge_ready_at AS TIMESTAMP)) AS ready_at
    FROM {STAYS} AS s LEFT JOIN ev_summary AS w
        ON w.patient_id = s.patient_id AND w.episode_no = s.episode_no
    WHERE s.discharge_ready_at IS NOT NULL AND w.patient_id IS NULL
    GROUP BY s.patient_id, s.episode_no
),
episodes_of_care AS (
    SELECT s.patient_id, s.episode_no,
        MIN(s.admitted_at) AS start_at, MAX(s.end_at) AS end_at,
        MAX(CASE WHEN s.pos = 1 THEN s.episode_id END) AS first_episode_id,
        MAX(CASE WHEN s.pos = 1 THEN s.urgency END) AS urgency,
        MAX(CASE WHEN s.pos = 1 THEN s.municipality END) AS municipality,
        MAX(CASE WHEN s.pos = 1 THEN s.health_trust END) AS health_trust,
        MAX(CASE WHEN s.pos_last = 1 THEN s.discharged_to END) AS discharged_to,
        COUNT(*) AS stays
    FROM {STAYS} AS s
    GROUP BY s.patient_id, s.episode_no
)
SELECT c.*, COALESCE(re.ready_at, rd.ready_at) AS ready_at,
    CASE WHEN COALESCE(re.ready_at, rd.ready_at) < c.end_at
         THEN GREATEST(COALESCE(re.ready_at, rd.ready_at), c.start_at) END AS wait_from
FROM episodes_of_care AS c
LEFT JOIN ready_event AS re ON re.patient_id = c.patient_id AND re.episode_no = c.episode_no
LEFT JOIN ready_date AS rd ON rd.patient_id = c.patient_id AND rd.episode_no = c.episode_no
"""


def _case(column: str, mapping: dict[str, str]) -> str:
    whens = " ".join(
        f"WHEN {sql_string(k)} THEN {sql_string(v)}" for k, v in sorted(mapping.items())
    )
    return f"CASE {column} {whens} END"


def _column(state: str) -> str:
    return f"n_{state}"


def timeline_sql(d: PathwayDefinition, patient_id: str | None = None) -> str:
    """Islands (patient_id, seq, state, start_at, end_at, episode_no) from the segments."""
    states = d.states_by_priority
    hospital = d.hospital_states
    days = int(d.care_end_days_added)
    services = sorted(d.care_states)
    deltas = ",\n        ".join(
        f"SUM(CASE WHEN b.state = {sql_string(s)} THEN b.delta ELSE 0 END) AS {_column(s)}"
        for s in states
        if s != d.uncovered_state
    )
    window = (
        "OVER (PARTITION BY p.patient_id ORDER BY p.t "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    running = ",\n        ".join(
        f"SUM(p.{_column(s)}) {window} AS {_column(s)}" for s in states if s != d.uncovered_state
    )
    classify = " ".join(
        f"WHEN r.{_column(s)} > 0 THEN {sql_string(s)}" for s in states if s != d.uncovered_state
    )
    care_window = "TRUE" if not services else f"c.service IN ({_in_list(services)})"
    lag = "OVER (PARTITION BY k.patient_id ORDER BY k.t)"
    return f"""
WITH seg AS (
    SELECT e.patient_id, {_case("e.urgency", d.admission_states)} AS state, e.start_at,
        COALESCE(e.wait_from, e.end_at) AS end_at, e.episode_no AS hosp
    FROM {EPISODES} AS e
    UNION ALL
    SELECT e.patient_id, {sql_string(d.discharge_ready_state)} AS state, e.wait_from AS start_at,
        e.end_at, e.episode_no AS hosp
    FROM {EPISODES} AS e WHERE e.wait_from IS NOT NULL
    UNION ALL
    SELECT e.patient_id, {sql_string(d.died_state)} AS state, e.end_at AS start_at, {FAR} AS end_at,
        CAST(NULL AS BIGINT) AS hosp
    FROM {EPISODES} AS e WHERE e.discharged_to = 'died' AND e.end_at < {FAR}
    UNION ALL
    SELECT c.patient_id, {_case("c.service", d.care_states)} AS state,
        CAST(c.start AS TIMESTAMP) AS start_at,
        COALESCE(CAST(c."end" AS TIMESTAMP) + INTERVAL {days} DAY, {FAR}) AS end_at,
        CAST(NULL AS BIGINT) AS hosp
    FROM municipal_care AS c
    WHERE {care_window} AND {_patient_filter("c.patient_id", patient_id)}
),
valid AS (
    SELECT s.* FROM seg AS s WHERE s.end_at > s.start_at
),
bounds AS (
    SELECT v.patient_id, v.start_at AS t, v.state, 1 AS delta, v.hosp FROM valid AS v
    UNION ALL
    SELECT v.patient_id, v.end_at AS t, v.state, -1 AS delta, CAST(NULL AS BIGINT) AS hosp
    FROM valid AS v WHERE v.end_at < {FAR}
),
points AS (
    SELECT b.patient_id, b.t,
        {deltas},
        MAX(b.hosp) AS hosp_started
    FROM bounds AS b
    GROUP BY b.patient_id, b.t
),
running AS (
    SELECT p.patient_id, p.t,
        LEAD(p.t) OVER (PARTITION BY p.patient_id ORDER BY p.t) AS next_t,
        {running},
        MAX(p.hosp_started) {window} AS hosp
    FROM points AS p
),
classified AS (
    SELECT r.patient_id, r.t, r.next_t,
        CASE {classify} ELSE {sql_string(d.uncovered_state)} END AS state, r.hosp
    FROM running AS r
),
keyed AS (
    SELECT c.patient_id, c.t, c.next_t, c.state,
        CASE WHEN c.state IN ({_in_list(hospital)}) THEN c.hosp ELSE 0 END AS hosp_key
    FROM classified AS c
),
flagged AS (
    SELECT k.*,
        CASE WHEN LAG(k.state) {lag} = k.state AND LAG(k.hosp_key) {lag} = k.hosp_key
             THEN 0 ELSE 1 END AS new_island
    FROM keyed AS k
),
islands AS (
    SELECT f.*, SUM(f.new_island) OVER (
        PARTITION BY f.patient_id ORDER BY f.t
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seq
    FROM flagged AS f
)
SELECT i.patient_id, CAST(i.seq AS BIGINT) AS seq, i.state, MIN(i.t) AS start_at,
    CASE WHEN COUNT(i.next_t) = COUNT(*) THEN MAX(i.next_t) END AS end_at,
    CAST(NULLIF(MAX(i.hosp_key), 0) AS BIGINT) AS episode_no
FROM islands AS i
GROUP BY i.patient_id, i.seq, i.state
"""


def pathways_sql(d: PathwayDefinition) -> str:
    """Pathways from ``pathway_timeline`` and ``pathway_episodes`` (see the module docstring)."""
    gap = int(d.end_gap_days)
    steps = int(d.max_steps)
    admissions = sorted(set(d.admission_states.values()))
    step_columns = ",\n        ".join(
        f"MAX(CASE WHEN s.step = {k} THEN s.state END) AS s{k}" for k in range(1, steps + 1)
    )
    pattern_parts = ", ".join(
        [
            "g.start_state",
            *[f"g.s{k}" for k in range(1, steps + 1)],
            f"CASE WHEN g.n_steps > {steps} THEN {sql_string(ELLIPSIS)} END",
        ]
    )
    order = "PARTITION BY t.patient_id ORDER BY t.seq"
    return f"""
WITH marked AS (
    SELECT t.*,
        CASE WHEN t.state = {sql_string(d.died_state)} THEN 1
             WHEN t.state IN ({_in_list(d.baseline_states)})
                 AND (t.end_at IS NULL OR t.end_at >= t.start_at + INTERVAL {gap} DAY) THEN 1
             ELSE 0 END AS closes,
        CASE WHEN t.state IN ({_in_list(admissions)}) THEN 1 ELSE 0 END AS is_admission,
        LAG(t.state) OVER ({order}) AS before_state
    FROM {TIMELINE} AS t
),
grouped AS (
    SELECT m.*, COALESCE(SUM(m.closes) OVER (
        PARTITION BY m.patient_id ORDER BY m.seq
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS pathway_no
    FROM marked AS m
),
stepped AS (
    SELECT g.*, ROW_NUMBER() OVER (
        PARTITION BY g.patient_id, g.pathway_no ORDER BY g.seq) AS step
    FROM grouped AS g
),
firsts AS (
    SELECT s.patient_id, s.pathway_no, MIN(s.seq) AS admission_seq
    FROM stepped AS s WHERE s.is_admission = 1
    GROUP BY s.patient_id, s.pathway_no
),
gathered AS (
    SELECT s.patient_id, s.pathway_no,
        MAX(CASE WHEN s.step = 1 THEN COALESCE(s.before_state, {sql_string(d.uncovered_state)}) END)
            AS start_state,
        MIN(s.start_at) AS start_at,
        CASE WHEN COUNT(s.end_at) = COUNT(*) THEN MAX(s.end_at) END AS end_at,
        COUNT(*) AS n_steps,
        SUM(s.is_admission) AS admissions,
        MAX(CASE WHEN s.seq = f.admission_seq THEN s.episode_no END) AS first_episode_no,
        MAX(CASE WHEN s.state = {sql_string(d.died_state)} THEN 1 ELSE 0 END) AS died,
        MAX(s.closes) AS closed,
        {step_columns}
    FROM stepped AS s
    JOIN firsts AS f ON f.patient_id = s.patient_id AND f.pathway_no = s.pathway_no
    GROUP BY s.patient_id, s.pathway_no
)
SELECT g.patient_id, CAST(g.pathway_no AS BIGINT) AS pathway_no,
    e.municipality, e.health_trust,
    CAST(EXTRACT(YEAR FROM e.start_at) AS INTEGER) AS year,
    e.start_at AS admitted_at, g.start_at, g.end_at,
    CAST(g.n_steps AS BIGINT) AS n_steps, CAST(g.admissions AS BIGINT) AS admissions,
    CAST(g.died AS INTEGER) AS died,
    CAST(1 - g.closed AS INTEGER) AS open_end,
    CONCAT_WS({sql_string(SEPARATOR)}, {pattern_parts}) AS pattern
FROM gathered AS g
JOIN {EPISODES} AS e ON e.patient_id = g.patient_id AND e.episode_no = g.first_episode_no
"""


def discharge_destinations_sql(d: PathwayDefinition) -> str:
    """Each finished episode of care: where the patient went and whether readmitted in time.

    Readmitted: the patient's next episode of care begins as an emergency admission
    ``window_min_days``–``window_max_days`` calendar days after the discharge (steering data).
    """
    lo, hi = int(d.readmission_min_days), int(d.readmission_max_days)
    order = "PARTITION BY e.patient_id ORDER BY e.episode_no"
    return f"""
WITH linked AS (
    SELECT e.*, LEAD(e.start_at) OVER ({order}) AS next_start,
        LEAD(e.urgency) OVER ({order}) AS next_urgency
    FROM {EPISODES} AS e
)
SELECT l.patient_id, CAST(l.episode_no AS BIGINT) AS episode_no, l.first_episode_id,
    l.municipality, l.health_trust,
    CAST(EXTRACT(YEAR FROM l.end_at) AS INTEGER) AS year, l.end_at AS discharged_at,
    t.state AS destination_state,
    {_case("t.state", d.groups)} AS destination,
    CASE WHEN l.next_urgency = 'emergency' AND l.next_start IS NOT NULL
        AND DATEDIFF('day', CAST(l.end_at AS DATE), CAST(l.next_start AS DATE))
            BETWEEN {lo} AND {hi}
        THEN 1 ELSE 0 END AS readmitted
FROM linked AS l
JOIN {TIMELINE} AS t ON t.patient_id = l.patient_id AND t.start_at = l.end_at
WHERE l.end_at < {FAR}
"""


def build_timeline(engine: Engine, d: PathwayDefinition, patient_id: str | None = None) -> None:
    """Materialise ``pathway_stays``, ``pathway_episodes`` and ``pathway_timeline``."""
    engine.create_table(STAYS, stays_sql(d, patient_id))
    engine.create_table(EPISODES, episodes_sql())
    engine.create_table(TIMELINE, timeline_sql(d, patient_id))


def build_pathways(engine: Engine, d: PathwayDefinition, patient_id: str | None = None) -> None:
    """Materialise the timeline relations and ``pathways``."""
    build_timeline(engine, d, patient_id)
    engine.create_table(PATHWAYS, pathways_sql(d))


def discharge_destinations(engine: Engine, d: PathwayDefinition) -> pa.Table:
    """Finished episodes of care with destination and readmission (needs the timeline built)."""
    return engine.query(discharge_destinations_sql(d) + " ORDER BY l.patient_id, l.episode_no")
