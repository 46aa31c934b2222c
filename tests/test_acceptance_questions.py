"""The five acceptance questions of MISSION.md §2.3, each answered by one API request.

The data are hand-made so that every answer can be computed by hand (written out below). The
same requests and answers are in docs/acceptance-questions.md.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from typing import Any

import pyarrow as pa
import pytest

from samhandling.api import ApiLimits, create_app
from samhandling.contract import arrow_schema
from samhandling.engine import DuckDBEngine
from samhandling.rules import load_rules
from samhandling.tables.catalog import Catalog, build_catalog

with warnings.catch_warnings():
    # starlette deprecates its httpx-based test client in favour of httpx2 (not installed).
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BLOCKS = pa.table(
    {
        "icd_block": ["E10-E14", "F30-F39", "I30-I52", "J09-J18", "Z00-Z13"],
        "icd_chapter": ["IV", "V", "IX", "X", "XXI"],
        "first_category": ["E10", "F30", "I30", "J09", "Z00"],
        "last_category": ["E14", "F39", "I52", "J18", "Z13"],
    }
)

_rows: list[dict[str, Any]] = []


def _contact(
    pid: str,
    municipality: str,
    born: int,
    start: dt.datetime,
    *,
    days: int | None = None,
    care: str = "inpatient",
    sector: str = "somatic",
    urgency: str = "emergency",
    drg_type: str = "M",
    diagnosis: str = "I509",
    to: str | None = "home",
) -> dict[str, Any]:
    return {
        "episode_id": f"e{len(_rows)}",
        "patient_id": pid,
        "birth_year": born,
        "sex": 1,
        "municipality": municipality,
        "stay_municipality": None,
        "health_trust": "983974791",
        "institution": None,
        "provider_type": "public",
        "sector": sector,
        "care_level": care,
        "urgency": urgency,
        "admitted_at": start,
        "discharged_at": start + dt.timedelta(days=days) if care == "inpatient" else None,
        "main_diagnosis": diagnosis,
        "other_diagnoses": None,
        "drg": "127",
        "drg_type": drg_type,
        "drg_points": Decimal("1.000"),
        "mdc": None,
        "drug_excluded": None,
        "came_from": None,
        "discharged_to": to if care == "inpatient" else None,
        "referred_from_outpatient": None,
        "discharge_ready_at": None,
        "delivery_id": "test",
    }


def _add(**kwargs: Any) -> None:
    _rows.append(_contact(**kwargs))


def acceptance_episodes() -> pa.Table:
    """Residents of Flora, Bærum, Namsos, Bodø and Grimstad, 2009-2011 (2011 codes)."""
    _rows.clear()
    t = dt.datetime
    # Q1 Flora 1401, 2010: F1-F12 (born 1950) and S1-S3 (born 2000) an outpatient
    # consultation, F1-F5 also a stay; F13 only mental health care (not somatic).
    # Answer: 15 residents. (All residents here are men.)
    for i in range(1, 13):
        _add(pid=f"F{i}", municipality="1401", born=1950, start=t(2010, 3, 10), care="outpatient")
    for i in range(1, 6):
        _add(pid=f"F{i}", municipality="1401", born=1950, start=t(2010, 6, 1), days=3)
    for i in range(1, 4):
        _add(pid=f"S{i}", municipality="1401", born=2000, start=t(2010, 3, 11), care="outpatient")
    _add(
        pid="F13",
        municipality="1401",
        born=1950,
        start=t(2010, 6, 1),
        days=3,
        sector="mental_health",
        diagnosis="F329",
    )
    # Q2 Bærum 0219, 2011: B1-B7 (born 1925, 86 years) a stay in February, B1-B5 one more in
    # July and one in October (after the 2nd tertial); B8-B15 (born 1980) a stay in March.
    # Answer: 7 + 5 = 12 stays; per 1 000: 12 / 5 000 inhabitants 80+ * 1 000 = 2.4.
    for i in range(1, 8):
        _add(pid=f"B{i}", municipality="0219", born=1925, start=t(2011, 2, 1), days=2)
    for i in range(1, 6):
        _add(pid=f"B{i}", municipality="0219", born=1925, start=t(2011, 7, 1), days=2)
    for i in range(1, 6):
        _add(pid=f"B{i}", municipality="0219", born=1925, start=t(2011, 10, 1), days=2)
    for i in range(8, 16):
        _add(pid=f"B{i}", municipality="0219", born=1980, start=t(2011, 3, 1), days=1)
    # Q3 Namsos 1703, 2010: N1-N6 discharged to a nursing home, N7-N12 home. Answer: 6.
    for i in range(1, 13):
        _add(
            pid=f"N{i}",
            municipality="1703",
            born=1935,
            start=t(2010, 4, 1),
            days=5,
            to="nursing_home" if i <= 6 else "home",
        )
    # Q4 Bodø 1804, 2011: D1-D6 a diabetes stay (E11.9) in May, D1-D9 a diabetes consultation
    # in April, D1-D5 one more consultation in October. Answer per 2nd tertial: 6 stays, 9
    # consultations (15 in all).
    for i in range(1, 7):
        _add(
            pid=f"D{i}",
            municipality="1804",
            born=1960,
            start=t(2011, 5, 2),
            days=2,
            diagnosis="E11.9",
        )
    for i in range(1, 10):
        _add(
            pid=f"D{i}",
            municipality="1804",
            born=1960,
            start=t(2011, 4, 4),
            care="outpatient",
            diagnosis="E119",
            urgency="elective",
        )
    for i in range(1, 6):
        _add(
            pid=f"D{i}",
            municipality="1804",
            born=1960,
            start=t(2011, 10, 3),
            care="outpatient",
            diagnosis="E119",
            urgency="elective",
        )
    # Q5 Grimstad 0904: emergency medical stays. 2009: G1-G5 4 days each -> 4.00; 2010: G1-G6
    # 3 days -> 3.00; 2011 T1: G1-G5 2 days, T2: G6-G10 5 days -> per T2: 35 / 10 = 3.50.
    # G11-G15 elective medical stays of 10 days in 2010 do not count.
    for i in range(1, 6):
        _add(pid=f"G{i}", municipality="0904", born=1940, start=t(2009, 5, 4), days=4)
    for i in range(1, 7):
        _add(pid=f"G{i}", municipality="0904", born=1940, start=t(2010, 5, 3), days=3)
    for i in range(11, 16):
        _add(
            pid=f"G{i}",
            municipality="0904",
            born=1940,
            start=t(2010, 9, 6),
            days=10,
            urgency="elective",
        )
    for i in range(1, 6):
        _add(pid=f"G{i}", municipality="0904", born=1940, start=t(2011, 2, 7), days=2)
    for i in range(6, 11):
        _add(pid=f"G{i}", municipality="0904", born=1940, start=t(2011, 6, 6), days=5)
    return pa.Table.from_pylist(_rows, schema=arrow_schema("episodes", with_delivery=True))


def acceptance_population() -> pa.Table:
    rows = []
    for year in (2009, 2010, 2011):
        for muni in ("1401", "0219", "1703", "1804", "0904"):
            rows.append({"year": year, "municipality": muni, "sex": 1, "age": 31, "count": 20000})
            rows.append({"year": year, "municipality": muni, "sex": 1, "age": 85, "count": 2000})
            rows.append({"year": year, "municipality": muni, "sex": 2, "age": 85, "count": 3000})
    return pa.Table.from_pylist(rows, schema=arrow_schema("population"))


@cache
def acceptance_catalog() -> Catalog:
    engine = DuckDBEngine()
    engine.register_arrow("episodes", acceptance_episodes())
    engine.register_arrow("population", acceptance_population())
    catalog = build_catalog(
        engine,
        load_rules(),
        borders=2011,
        blocks=BLOCKS,
        only=["SD02", "SD03", "SD04", "SD05"],
        built="2026-11-23T12:00:00+00:00",
    )
    engine.close()
    return catalog


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(acceptance_catalog(), limits=ApiLimits(max_calls_per_time_window=1000))
    with TestClient(app) as c:
        yield c


def _values(client: TestClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def test_q1_flora_residents_with_somatic_contact_2010(client: TestClient) -> None:
    doc = _values(
        client,
        "/api/v2/tables/SD04/data?valuecodes[region]=1401"
        "&valuecodes[period]=2010&valuecodes[ContentsCode]=pasienter",
    )
    assert doc["value"] == [15]
    assert doc["status"] == {}


def test_q2_baerum_stays_80_plus_per_2nd_tertial_2011(client: TestClient) -> None:
    doc = _values(
        client,
        "/api/v2/tables/SD02/data?valuecodes[region]=0219"
        "&valuecodes[period]=2011P2&valuecodes[age]=A80%2B"
        "&valuecodes[ContentsCode]=opphold,opphold_per_1000",
    )
    assert doc["value"] == [12, 2.4]


def test_q3_namsos_stays_discharged_to_nursing_home_2010(client: TestClient) -> None:
    doc = _values(
        client,
        "/api/v2/tables/SD03/data?valuecodes[region]=1703"
        "&valuecodes[period]=2010&valuecodes[discharged_to]=nursing_home"
        "&valuecodes[ContentsCode]=opphold",
    )
    assert doc["value"] == [6]


def test_q4_bodo_diabetes_stays_and_consultations_per_2nd_tertial_2011(client: TestClient) -> None:
    doc = _values(
        client,
        "/api/v2/tables/SD04/data?valuecodes[region]=1804"
        "&valuecodes[period]=2011P2&valuecodes[diagnosis]=E10-E14"
        "&valuecodes[ContentsCode]=opphold,polikliniske",
    )
    assert doc["value"] == [6, 9]


def test_q5_grimstad_length_of_stay_emergency_medical(client: TestClient) -> None:
    doc = _values(
        client,
        "/api/v2/tables/SD05/data?valuecodes[region]=0904"
        "&valuecodes[period]=2009,2010,2011P2&valuecodes[urgency]=emergency"
        "&valuecodes[drg_type]=M&valuecodes[ContentsCode]=gj_liggetid",
    )
    assert doc["value"] == [4.0, 3.0, 3.5]
    assert doc["id"] == ["region", "period", "urgency", "drg_type", "ContentsCode"]
