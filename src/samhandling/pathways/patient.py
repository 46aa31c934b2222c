"""One patient's timeline (forløp for én pasient), traced back to the rows it was built from.

Patient-level data: callers check who may see it (:func:`may_view_patient`) and record each
opening in the audit log; this module only computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from samhandling.engine import Engine
from samhandling.engine.sql import sql_string
from samhandling.errors import SamhandlingError
from samhandling.indicators.facts import episode_years
from samhandling.pathways.definition import PathwayDefinition, pathway_definition
from samhandling.pathways.timeline import FAR_TIME, PATHWAYS, STAYS, TIMELINE, build_pathways
from samhandling.rules import RuleSet, rules_day

__all__ = [
    "Island",
    "PatientNotFoundError",
    "PatientTimeline",
    "patient_timeline",
    "timeline_table",
]


class PatientNotFoundError(SamhandlingError):
    """No hospital stay or municipal service of that patient in the data."""


@dataclass(frozen=True)
class Island:
    """One stretch of time in one state, with the rows behind it."""

    seq: int
    state: str
    label: str
    start_at: datetime
    end_at: datetime | None
    pathway_no: int | None
    episode_ids: tuple[str, ...]
    care_ids: tuple[str, ...]

    @property
    def days(self) -> float | None:
        """Length in days (``None`` while the state lasts at the end of the data)."""
        if self.end_at is None:
            return None
        return (self.end_at - self.start_at) / timedelta(days=1)


@dataclass(frozen=True)
class PatientTimeline:
    """A patient's islands, pathways and the organisations the rows belong to."""

    patient_id: str
    islands: list[Island]
    pathways: list[dict[str, Any]]
    municipalities: frozenset[str]
    health_trusts: frozenset[str]
    definition: PathwayDefinition


def _plain(table: pa.Table) -> list[dict[str, Any]]:
    """Rows with naive timestamps: Spark returns them zoned (its session time zone is UTC)."""
    return [
        {
            k: v.astimezone(UTC).replace(tzinfo=None)
            if isinstance(v, datetime) and v.tzinfo is not None
            else v
            for k, v in row.items()
        }
        for row in table.to_pylist()
    ]


def _pathway_of_island(pathways: list[dict[str, Any]], start: datetime) -> int | None:
    for p in pathways:
        end = p["end_at"] or FAR_TIME
        if p["start_at"] <= start < end:
            return int(p["pathway_no"])
    return None


def patient_timeline(
    engine: Engine, rules: RuleSet, patient_id: str, *, on: date | None = None
) -> PatientTimeline:
    """Build the timeline of one patient (all years in the data), with the pathway rules in
    force on ``on`` (by default the last day of the latest year of the episodes)."""
    d = pathway_definition(rules, on or rules_day(episode_years(engine)))
    build_pathways(engine, d, patient_id)
    pid = sql_string(patient_id)
    islands = engine.query(f"SELECT * FROM {TIMELINE} WHERE patient_id = {pid} ORDER BY seq")
    if islands.num_rows == 0:
        raise PatientNotFoundError(f"fant ingen opphold eller tjenester for pasient {patient_id}")
    stays = engine.query(
        f"SELECT episode_id, episode_no, municipality, health_trust FROM {STAYS} "
        f"WHERE patient_id = {pid} ORDER BY episode_no, admitted_at, episode_id"
    )
    care = engine.query(
        'SELECT care_id, municipality, service, start, "end" FROM municipal_care '
        f"WHERE patient_id = {pid} ORDER BY start, care_id"
    )
    pathways = _plain(
        engine.query(f"SELECT * FROM {PATHWAYS} WHERE patient_id = {pid} ORDER BY pathway_no")
    )
    by_episode: dict[int, list[str]] = {}
    for row in stays.to_pylist():
        by_episode.setdefault(int(row["episode_no"]), []).append(str(row["episode_id"]))
    care_rows = care.to_pylist()
    extra = timedelta(days=d.care_end_days_added)
    result: list[Island] = []
    for row in _plain(islands):
        start, end = row["start_at"], row["end_at"]
        ids: list[str] = []
        for c in care_rows:
            if d.care_states.get(str(c["service"])) != row["state"]:
                continue
            c_start = datetime.combine(c["start"], datetime.min.time())
            c_end = (
                FAR_TIME
                if c["end"] is None
                else (datetime.combine(c["end"], datetime.min.time()) + extra)
            )
            if c_start < (end or FAR_TIME) and start < c_end:
                ids.append(str(c["care_id"]))
        episode_no = row["episode_no"]
        result.append(
            Island(
                seq=int(row["seq"]),
                state=str(row["state"]),
                label=d.label(str(row["state"])),
                start_at=start,
                end_at=end,
                pathway_no=_pathway_of_island(pathways, start),
                episode_ids=tuple(by_episode.get(int(episode_no), [])) if episode_no else (),
                care_ids=tuple(ids),
            )
        )
    return PatientTimeline(
        patient_id=patient_id,
        islands=result,
        pathways=pathways,
        municipalities=frozenset(
            [str(v) for v in stays.column("municipality").to_pylist()]
            + [str(v) for v in care.column("municipality").to_pylist()]
        ),
        health_trusts=frozenset(str(v) for v in stays.column("health_trust").to_pylist()),
        definition=d,
    )


def timeline_table(timeline: PatientTimeline) -> pa.Table:
    """The islands as a table (for the CLI and exports)."""
    return pa.table(
        {
            "seq": pa.array([i.seq for i in timeline.islands], pa.int64()),
            "pathway_no": pa.array([i.pathway_no for i in timeline.islands], pa.int64()),
            "state": pa.array([i.label for i in timeline.islands], pa.string()),
            "start_at": pa.array([i.start_at for i in timeline.islands], pa.timestamp("us")),
            "end_at": pa.array([i.end_at for i in timeline.islands], pa.timestamp("us")),
            "days": pa.array([i.days for i in timeline.islands], pa.float64()),
            "rows": pa.array(
                [" ".join((*i.episode_ids, *i.care_ids)) for i in timeline.islands], pa.string()
            ),
        }
    )
