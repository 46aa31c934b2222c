"""Planted edge cases: fixed patients (ids ``EDGE-…``) with exact timestamps, every year.

They exist so that tests and demos can check definitions at their boundaries; each is listed in
docs/synthetic-data.md. They are added to every generated year (whatever the fraction), except
the merger cases, which belong to 2019 and 2020 only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from samhandling.contract import arrow_schema
from samhandling.errors import SamhandlingError
from samhandling.refdata import catchment, valid_codes
from samhandling.synth._catalog import catalog

OSLO = "0301"
MEDICAL_DRG = ("127", "I50")  # Hjertesvikt og sjokk, heart failure
COPD_DRG = ("88", "J44")  # Kronisk obstruktiv lungesykdom, COPD

# Municipalities merged on 1 January 2020 (code in 2019 -> code in 2020).
MERGERS = (("EDGE-MERGE-DRAMMEN", "0625", "3005"), ("EDGE-MERGE-KINN", "1401", "4602"))


def _trust(code: str, borders: int) -> str:
    rows = catchment(max(borders, 2020)).to_pylist()
    for row in rows:
        if row["municipality"] == code:
            return str(row["hf_orgnr"])
    raise SamhandlingError(f"ingen helseforetak for kommune {code}")


class _Builder:
    def __init__(self, year: int) -> None:
        self.year = year
        self.cat = catalog(year)
        self.episodes: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.care: list[dict[str, Any]] = []

    def stay(
        self,
        name: str,
        patient: str,
        admitted: datetime,
        discharged: datetime,
        *,
        emergency: bool = True,
        municipality: str = OSLO,
        drg: tuple[str, str] = MEDICAL_DRG,
        discharged_to: str = "home",
        ready: date | None = None,
        birth_year: int = 1935,
        sex: int = 2,
        trust_of: str | None = None,
    ) -> str:
        if municipality not in valid_codes(self.year):
            raise SamhandlingError(f"kommune {municipality} er ikke gyldig i {self.year}")
        index = self.cat.drg(drg[0])
        episode_id = f"EDGE-{self.year}-{name}"
        self.episodes.append(
            {
                "episode_id": episode_id,
                "patient_id": patient,
                "birth_year": birth_year,
                "sex": sex,
                "municipality": municipality,
                "health_trust": _trust(trust_of or municipality, self.year),
                "provider_type": "public",
                "sector": "somatic",
                "care_level": "inpatient",
                "urgency": "emergency" if emergency else "elective",
                "admitted_at": admitted,
                "discharged_at": discharged,
                "main_diagnosis": drg[1],
                "drg": drg[0],
                "drg_type": self.cat.drg_type[index],
                "drg_points": Decimal(int(self.cat.drg_points_milli[index])) / 1000,
                "mdc": self.cat.drg_mdc[index],
                "drug_excluded": False,
                "came_from": "home",
                "discharged_to": discharged_to,
                "referred_from_outpatient": False,
                "discharge_ready_at": ready,
            }
        )
        return episode_id

    def event(self, episode_id: str, kind: str, at: datetime) -> None:
        number = sum(1 for e in self.events if e["episode_id"] == episode_id) + 1
        self.events.append(
            {
                "event_id": f"{episode_id}-{number}",
                "episode_id": episode_id,
                "type": kind,
                "at": at,
                "source": "plo",
            }
        )

    def tables(self) -> tuple[pa.Table, pa.Table, pa.Table]:
        return (
            pa.Table.from_pylist(self.episodes, schema=arrow_schema("episodes")),
            pa.Table.from_pylist(self.events, schema=arrow_schema("events")),
            pa.Table.from_pylist(self.care, schema=arrow_schema("municipal_care")),
        )


def _at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute)


def _discharge_ready_cases(b: _Builder) -> None:
    """One discharge-ready stay per protocol lapse (September of the year)."""
    y = b.year
    ready = date(y, 9, 5)
    cases = (
        "COMPLETE",
        "NO-ADMISSION-NOTICE",
        "LATE-ADMISSION-NOTICE",
        "LATE-READY-NOTICE",
        "NO-ANSWER",
        "CAN-RECEIVE",
        "WITHDRAWN",
    )
    for case in cases:
        patient = f"EDGE-UK-{case}"
        episode = b.stay(
            f"UK-{case}",
            patient,
            _at(y, 9, 1, 10),
            _at(y, 9, 8, 12),
            discharged_to="nursing_home",
            ready=ready,
        )
        if case == "LATE-ADMISSION-NOTICE":
            b.event(episode, "admission_notified", _at(y, 9, 3, 11))
        elif case != "NO-ADMISSION-NOTICE":
            b.event(episode, "admission_notified", _at(y, 9, 1, 15))
        if case == "WITHDRAWN":
            b.event(episode, "discharge_ready", _at(y, 9, 3, 9))
            b.event(episode, "discharge_ready_notified", _at(y, 9, 3, 9, 15))
            b.event(episode, "withdrawn", _at(y, 9, 4, 10))
        b.event(episode, "discharge_ready", _at(y, 9, 5, 9))
        if case == "LATE-READY-NOTICE":
            b.event(episode, "discharge_ready_notified", _at(y, 9, 6, 8, 30))
        else:
            b.event(episode, "discharge_ready_notified", _at(y, 9, 5, 9, 20))
        if case == "CAN-RECEIVE":
            b.event(episode, "can_receive", _at(y, 9, 5, 10))
        elif case != "NO-ANSWER":
            b.event(episode, "cannot_receive", _at(y, 9, 5, 10))
        b.care.append(
            {
                "care_id": f"EDGE-{y}-CARE-{case}",
                "patient_id": patient,
                "municipality": OSLO,
                "service": "short_term_institution",
                "start": date(y, 9, 8),
                "end": date(y, 9, 29),
            }
        )


def edge_cases(year: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Episodes, events and municipal care of the planted cases for ``year``."""
    b = _Builder(year)
    y = year
    # Two stays 7 h 59 min apart (merged into one episode of care) and 8 h 01 min apart (not).
    b.stay("GAP0759-A", "EDGE-GAP0759", _at(y, 3, 2, 8), _at(y, 3, 5, 10))
    b.stay("GAP0759-B", "EDGE-GAP0759", _at(y, 3, 5, 17, 59), _at(y, 3, 8, 12))
    b.stay("GAP0801-A", "EDGE-GAP0801", _at(y, 4, 7, 8), _at(y, 4, 10, 10))
    b.stay("GAP0801-B", "EDGE-GAP0801", _at(y, 4, 10, 18, 1), _at(y, 4, 12, 12))
    # Emergency readmission on day 30 (counts) and day 31 (does not) after discharge.
    for gap in (30, 31):
        patient = f"EDGE-READM{gap}"
        out = _at(y, 5, 6, 12)
        back = datetime.combine(out.date() + timedelta(days=gap), datetime.min.time())
        b.stay(f"READM{gap}-A", patient, _at(y, 5, 2, 9), out, emergency=False, drg=COPD_DRG)
        b.stay(
            f"READM{gap}-B",
            patient,
            back + timedelta(hours=14),
            back + timedelta(days=3, hours=11),
            drg=COPD_DRG,
        )
    # A discharge-ready stay over New Year (belongs to the year of admission).
    episode = b.stay(
        "NEWYEAR",
        "EDGE-NEWYEAR",
        _at(y, 12, 30, 10),
        _at(y + 1, 1, 3, 12),
        discharged_to="nursing_home",
        ready=date(y, 12, 31),
    )
    b.event(episode, "admission_notified", _at(y, 12, 30, 14))
    b.event(episode, "discharge_ready", _at(y, 12, 31, 9))
    b.event(episode, "discharge_ready_notified", _at(y, 12, 31, 9, 30))
    b.event(episode, "cannot_receive", _at(y, 12, 31, 11))
    _discharge_ready_cases(b)
    # Residents of municipalities merged in 2020: a stay in 2019 and one in 2020.
    for patient, old, new in MERGERS:
        if year == 2019:
            b.stay(
                "MERGE-" + old,
                patient,
                _at(y, 6, 10, 11),
                _at(y, 6, 14, 12),
                municipality=old,
                trust_of=new,
            )
        if year == 2020:
            b.stay("MERGE-" + new, patient, _at(y, 2, 3, 11), _at(y, 2, 6, 12), municipality=new)
    return b.tables()
