"""The interchange contract (``INTERCHANGE.md`` v1) and the typed warehouse schema it maps to.

Interchange files are what users deliver; the warehouse holds the same columns, validated and
typed, plus ``delivery_id`` (which delivery a row came from). Enumerations here are part of the
published format (changing them is a format version bump), not rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

CONTRACT_VERSION = "1"

Kind = Literal["episodes", "events", "municipal_care", "population"]
KINDS: tuple[Kind, ...] = ("episodes", "events", "municipal_care", "population")

Required = Literal["yes", "no", "inpatient", "somatic"]

PROVIDER_TYPES = ("public", "private_contracted", "private_specialist", "private_rehabilitation")
SECTORS = ("somatic", "mental_health", "substance_abuse", "rehabilitation")
CARE_LEVELS = ("inpatient", "day", "outpatient")
URGENCIES = ("emergency", "elective")
DRG_TYPES = ("M", "K")
CAME_FROM = ("home", "nursing_home", "other_municipal", "kad", "other_hospital", "other")
DISCHARGED_TO = (*CAME_FROM, "died")
SEXES = (1, 2, 9)
EVENT_TYPES = (
    "admission_notified",
    "discharge_ready",
    "discharge_ready_notified",
    "withdrawn",
    "cannot_receive",
    "can_receive",
)
# NPR time-point code (list 8477) for each event type: documentation of the mapping.
EVENT_NPR_CODES = {
    "admission_notified": 1,
    "discharge_ready": 2,
    "discharge_ready_notified": 3,
    "withdrawn": 4,
    "cannot_receive": 6,
    "can_receive": 7,
}
EVENT_SOURCES = ("npr", "plo", "manual")
CARE_SERVICES = (
    "home_nursing",
    "practical_help",
    "short_term_institution",
    "long_term_institution",
    "kad",
    "rehabilitation",
)

MONEY = pa.decimal128(18, 2)
DRG_POINTS = pa.decimal128(9, 3)
TIMESTAMP = pa.timestamp("us")


@dataclass(frozen=True)
class Column:
    """One column of an interchange file and its typed warehouse form."""

    name: str
    type: pa.DataType
    required: Required
    enum: tuple[str, ...] | tuple[int, ...] | None = None
    doc: str = ""


EPISODES: tuple[Column, ...] = (
    Column("episode_id", pa.string(), "yes", doc="unique id of the contact"),
    Column("patient_id", pa.string(), "yes", doc="pseudonymous person id (løpenummer)"),
    Column("birth_year", pa.int16(), "yes"),
    Column("sex", pa.int8(), "yes", SEXES),
    Column("municipality", pa.string(), "yes", doc="komNrHjem, that year's code"),
    Column("stay_municipality", pa.string(), "no", doc="oppholdskommune"),
    Column("health_trust", pa.string(), "yes", doc="organisation number of the HF"),
    Column("institution", pa.string(), "no"),
    Column("provider_type", pa.string(), "yes", PROVIDER_TYPES),
    Column("sector", pa.string(), "yes", SECTORS),
    Column("care_level", pa.string(), "yes", CARE_LEVELS),
    Column("urgency", pa.string(), "yes", URGENCIES),
    Column("admitted_at", TIMESTAMP, "yes"),
    Column("discharged_at", TIMESTAMP, "inpatient"),
    Column("main_diagnosis", pa.string(), "yes", doc="ICD-10, stored without dot"),
    Column("other_diagnoses", pa.string(), "no"),
    Column("drg", pa.string(), "somatic"),
    Column("drg_type", pa.string(), "somatic", DRG_TYPES),
    Column("drg_points", DRG_POINTS, "somatic"),
    Column("mdc", pa.string(), "no"),
    Column("drug_excluded", pa.bool_(), "no"),
    Column("came_from", pa.string(), "no", CAME_FROM),
    Column("discharged_to", pa.string(), "no", DISCHARGED_TO),
    Column("referred_from_outpatient", pa.bool_(), "no"),
    Column("discharge_ready_at", pa.date32(), "no"),
)

EVENTS: tuple[Column, ...] = (
    Column("event_id", pa.string(), "yes"),
    Column("episode_id", pa.string(), "yes"),
    Column("type", pa.string(), "yes", EVENT_TYPES),
    Column("at", TIMESTAMP, "yes"),
    Column("source", pa.string(), "no", EVENT_SOURCES),
)

MUNICIPAL_CARE: tuple[Column, ...] = (
    Column("care_id", pa.string(), "yes"),
    Column("patient_id", pa.string(), "yes"),
    Column("municipality", pa.string(), "yes"),
    Column("service", pa.string(), "yes", CARE_SERVICES),
    Column("start", pa.date32(), "yes"),
    Column("end", pa.date32(), "no"),
)

POPULATION: tuple[Column, ...] = (
    Column("year", pa.int16(), "yes"),
    Column("municipality", pa.string(), "yes"),
    Column("sex", pa.int8(), "yes", (1, 2)),
    Column("age", pa.int16(), "yes"),
    Column("count", pa.int32(), "yes"),
)

COLUMNS: dict[Kind, tuple[Column, ...]] = {
    "episodes": EPISODES,
    "events": EVENTS,
    "municipal_care": MUNICIPAL_CARE,
    "population": POPULATION,
}

PRIMARY_KEY: dict[Kind, tuple[str, ...]] = {
    "episodes": ("episode_id",),
    "events": ("event_id",),
    "municipal_care": ("care_id",),
    "population": ("year", "municipality", "sex", "age"),
}

DELIVERY_COLUMN = "delivery_id"


def arrow_schema(kind: Kind, *, with_delivery: bool = False) -> pa.Schema:
    """The typed schema of a kind as stored in the warehouse."""
    fields = [pa.field(c.name, c.type, nullable=c.required != "yes") for c in COLUMNS[kind]]
    if with_delivery:
        fields.append(pa.field(DELIVERY_COLUMN, pa.string(), nullable=False))
    return pa.schema(fields)


def admitted_before(year: int, alias: str = "e") -> str:
    """SQL: episodes (``alias``) admitted before 1 January ``year``. Every contact whose period
    (its admission, or a stay's discharge) falls in an earlier year meets it, since no
    discharge precedes its admission (ingest quarantines that: ``discharge_before_admission``).
    It names a column as stored, so that the engine skips the files and row groups of later
    years (a year of a ten-year warehouse reads its own and earlier files only)."""
    return f"{alias}.admitted_at < TIMESTAMP '{int(year):04d}-01-01 00:00:00'"
