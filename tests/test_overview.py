"""The warehouse overview: hand-counted on five contacts, on both engines."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from samhandling.contract import arrow_schema
from samhandling.engine import Engine
from samhandling.overview import activity_by_year_sector


def _episodes() -> pa.Table:
    schema = arrow_schema("episodes", with_delivery=True)
    rows = [
        # id, patient, sector, care_level, admitted, discharged
        ("e1", "p1", "somatic", "inpatient", datetime(2012, 1, 1, 10), datetime(2012, 1, 4, 9)),
        ("e2", "p1", "somatic", "outpatient", datetime(2012, 2, 1, 10), None),
        ("e3", "p2", "somatic", "inpatient", datetime(2012, 12, 30, 22), datetime(2013, 1, 2, 8)),
        ("e4", "p2", "mental_health", "outpatient", datetime(2012, 3, 1, 9), None),
        ("e5", "p3", "somatic", "day", datetime(2013, 5, 5, 8), datetime(2013, 5, 5, 15)),
    ]
    columns: dict[str, list[object]] = {f.name: [] for f in schema}
    for eid, pid, sector, level, admitted, discharged in rows:
        values: dict[str, object] = {
            "episode_id": eid,
            "patient_id": pid,
            "birth_year": 1950,
            "sex": 1,
            "municipality": "0301",
            "health_trust": "993467049",
            "provider_type": "public",
            "sector": sector,
            "care_level": level,
            "urgency": "elective",
            "admitted_at": admitted,
            "discharged_at": discharged,
            "main_diagnosis": "J44",
            "delivery_id": "d1",
        }
        for name, column in columns.items():
            column.append(values.get(name))
    return pa.table(columns, schema=schema)


def test_activity_by_year_sector(engine: Engine) -> None:
    engine.register_arrow("episodes", _episodes())
    got = activity_by_year_sector(engine).to_pylist()
    rows = {(r["year"], r["sector"]): r for r in got}
    assert set(rows) == {(2012, "somatic"), (2012, "mental_health"), (2013, "somatic")}
    somatic_2012 = rows[(2012, "somatic")]
    # e1: 1 Jan → 4 Jan = 3 bed days; e3: 30 Dec → 2 Jan = 3 bed days (counted in admission year)
    assert somatic_2012["contacts"] == 3
    assert somatic_2012["inpatient_stays"] == 2
    assert somatic_2012["outpatient_contacts"] == 1
    assert somatic_2012["bed_days"] == 6
    assert somatic_2012["patients"] == 2
    assert rows[(2012, "mental_health")]["patients"] == 1
    assert rows[(2013, "somatic")]["bed_days"] == 0
