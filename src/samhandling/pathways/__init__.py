"""Patient pathways (pasientforløp): timelines "home to home" and protected pathway patterns.

See ``docs/pathways.md``. :func:`pathway_report` gives the published (suppressed) pattern and
readmission figures of a year; :func:`patient_timeline` one patient's timeline (patient-level
data: check access and audit before showing it).
"""

from __future__ import annotations

from samhandling.pathways.definition import PATHWAY_RULES, PathwayDefinition, pathway_definition
from samhandling.pathways.patient import (
    Island,
    PatientNotFoundError,
    PatientTimeline,
    patient_timeline,
    timeline_table,
)
from samhandling.pathways.patterns import (
    OTHER,
    Flow,
    PathwayReport,
    ProtectedCounts,
    flows,
    pathway_report,
    pattern_label,
    pattern_states,
)
from samhandling.pathways.timeline import build_pathways, build_timeline, discharge_destinations

__all__ = [
    "OTHER",
    "PATHWAY_RULES",
    "Flow",
    "Island",
    "PathwayDefinition",
    "PathwayReport",
    "PatientNotFoundError",
    "PatientTimeline",
    "ProtectedCounts",
    "build_pathways",
    "build_timeline",
    "discharge_destinations",
    "flows",
    "pathway_definition",
    "pathway_report",
    "patient_timeline",
    "pattern_label",
    "pattern_states",
    "timeline_table",
]
