"""Indicator library: hand-computed readmissions, length of stay, discharge-ready days."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from samhandling.contract import arrow_schema
from samhandling.engine import Engine
from samhandling.indicators import all_definitions, register_contact_facts
from samhandling.indicators.acsc import avoidable_admissions
from samhandling.indicators.activity import activity_counts, crude_rates
from samhandling.indicators.discharge import discharge_destinations, discharge_ready
from samhandling.indicators.length_of_stay import EMERGENCY_MEDICAL, average_length_of_stay
from samhandling.indicators.readmission import readmissions
from samhandling.indicators.selvmating import selvmating_share
from samhandling.indicators.standardisation import (
    direct_standardised_rates,
    indirect_standardised_ratios,
)
from samhandling.rules import load_rules
from test_acceptance_questions import BLOCKS


def _stay(  # noqa: PLR0917
    eid: str,
    pid: str,
    born: int,
    start: dt.datetime,
    end: dt.datetime,
    urgency: str,
    diagnosis: str = "I509",
    ready: dt.date | None = None,
) -> dict[str, Any]:
    return {
        "episode_id": eid,
        "patient_id": pid,
        "birth_year": born,
        "sex": 1,
        "municipality": "1401",
        "stay_municipality": None,
        "health_trust": "983974791",
        "institution": None,
        "provider_type": "public",
        "sector": "somatic",
        "care_level": "inpatient",
        "urgency": urgency,
        "admitted_at": start,
        "discharged_at": end,
        "main_diagnosis": diagnosis,
        "other_diagnoses": None,
        "drg": "127",
        "drg_type": "M",
        "drg_points": Decimal("1.000"),
        "mdc": None,
        "drug_excluded": None,
        "came_from": None,
        "discharged_to": "home",
        "referred_from_outpatient": None,
        "discharge_ready_at": ready,
        "delivery_id": "t",
    }


def _episodes() -> pa.Table:
    t = dt.datetime
    rows = [
        # P: S1 and S2 are 4 hours apart -> one episode of care (1 Jan - 7 Jan).
        _stay("S1", "P", 1980, t(2012, 1, 1, 8), t(2012, 1, 5, 10), "emergency"),
        _stay("S2", "P", 1980, t(2012, 1, 5, 14), t(2012, 1, 7, 10), "emergency"),
        # S3: emergency 13 days after the episode -> a steering readmission.
        _stay(
            "S3",
            "P",
            1980,
            t(2012, 1, 20, 9),
            t(2012, 1, 22, 9),
            "emergency",
            ready=dt.date(2012, 1, 21),
        ),
        # S4: elective, not a readmission.
        _stay("S4", "P", 1980, t(2012, 3, 1, 9), t(2012, 3, 2, 9), "elective"),
        # Q (70 years, heart failure): back 10 hours after discharge, same calendar day:
        # a quality-indicator readmission (8 h - 30 d) but not a steering one (1-30 days).
        _stay(
            "Q1",
            "Q",
            1942,
            t(2012, 2, 1, 8),
            t(2012, 2, 3, 12),
            "emergency",
            ready=dt.date(2012, 2, 1),
        ),
        _stay("Q2", "Q", 1942, t(2012, 2, 3, 22), t(2012, 2, 6, 10), "emergency"),
    ]
    return pa.Table.from_pylist(rows, schema=arrow_schema("episodes", with_delivery=True))


def _prepare(engine: Engine) -> None:
    engine.register_arrow("episodes", _episodes())
    register_contact_facts(engine, borders=2012, blocks=BLOCKS)


def test_readmissions_both_definitions(engine: Engine) -> None:
    _prepare(engine)
    rules = load_rules()
    steering = readmissions(engine, rules, definition="steering")
    # Episodes: P (S1+S2), P (S3), P (S4), Q (Q1), Q (Q2); readmitted: only P's first.
    assert steering.to_pylist() == [
        {"residence": "1401", "year": 2012, "index_episodes": 5, "readmissions": 1, "share": 0.2}
    ]
    quality = readmissions(engine, rules, definition="quality")
    # Index: Q1 and Q2 (67+, I50 heart failure); Q1 is followed by Q2 10 hours later.
    assert quality.to_pylist() == [
        {"residence": "1401", "year": 2012, "index_episodes": 2, "readmissions": 1, "share": 0.5}
    ]


def test_episode_merging_detail(duckdb_engine: Engine) -> None:
    _prepare(duckdb_engine)
    detail = readmissions(duckdb_engine, load_rules(), definition="steering", detail=True)
    assert detail["stays"].to_pylist() == [2, 1, 1, 1, 1]
    assert detail["readmitted"].to_pylist() == [1, 0, 0, 0, 0]


def test_length_of_stay_and_discharge_ready(engine: Engine) -> None:
    _prepare(engine)
    los = average_length_of_stay(engine, where=EMERGENCY_MEDICAL)
    # Emergency stays: S1 4 days, S2 2, S3 2, Q1 2, Q2 3 -> 13 bed days / 5 stays = 2.6.
    assert los.to_pylist() == [
        {
            "residence": "1401",
            "year": 2012,
            "stays": 5,
            "bed_days": 13,
            "average_length_of_stay": 2.6,
        }
    ]
    ready = discharge_ready(engine)
    # S3 ready 21 Jan, out 22 Jan: 1 day; Q1 ready 1 Feb, out 3 Feb: 2 days.
    assert ready.to_pylist() == [
        {
            "residence": "1401",
            "year": 2012,
            "discharge_ready_stays": 2,
            "patients": 2,
            "overliggerdogn": 3,
        }
    ]


def test_activity_destinations_avoidable_and_selvmating(engine: Engine) -> None:
    rows = _episodes().to_pylist()
    by_id = {r["episode_id"]: r for r in rows}
    by_id["S2"]["discharged_to"] = "nursing_home"
    by_id["S3"]["main_diagnosis"] = "J441"  # KOLS: an ACSC condition of its own
    by_id["Q1"]["referred_from_outpatient"] = True
    by_id["Q2"]["main_diagnosis"] = "S720"  # a hip fracture: not ambulatory-care-sensitive
    by_id["Q2"]["discharged_to"] = "died"
    outpatient = _stay(
        "O1", "Q", 1942, dt.datetime(2012, 4, 2, 10), dt.datetime(2012, 4, 2, 11), "elective"
    )
    rows.append({**outpatient, "care_level": "outpatient"})
    engine.register_arrow(
        "episodes", pa.Table.from_pylist(rows, schema=arrow_schema("episodes", with_delivery=True))
    )
    register_contact_facts(engine, borders=2012, blocks=BLOCKS)
    # Seven contacts; six stays; bed days S1 4 + S2 2 + S3 2 + S4 1 + Q1 2 + Q2 3 = 14.
    assert activity_counts(engine).to_pylist() == [
        {
            "residence": "1401",
            "year": 2012,
            "contacts": 7,
            "stays": 6,
            "day_treatments": 0,
            "outpatient": 1,
            "bed_days": 14,
            "patients": 2,
        }
    ]
    # Six stays: four home, S2 to a nursing home, Q2 died.
    assert discharge_destinations(engine).to_pylist() == [
        {"residence": "1401", "year": 2012, "discharged_to": "died", "stays": 1, "share": 1 / 6},
        {"residence": "1401", "year": 2012, "discharged_to": "home", "stays": 4, "share": 4 / 6},
        {
            "residence": "1401",
            "year": 2012,
            "discharged_to": "nursing_home",
            "stays": 1,
            "share": 1 / 6,
        },
    ]
    # Emergency somatic stays S1, S2, S3, Q1, Q2: heart failure S1, S2 (P) and Q1 (Q); KOLS S3;
    # Q2 is no ACSC condition; S4 is elective.
    assert avoidable_admissions(engine, load_rules()).to_pylist() == [
        {"residence": "1401", "year": 2012, "condition": "hjertesvikt", "stays": 3, "patients": 2},
        {"residence": "1401", "year": 2012, "condition": "kols", "stays": 1, "patients": 1},
    ]
    # Six somatic stays, one (Q1) admitted from the trust's own outpatient clinic.
    assert selvmating_share(engine).to_pylist() == [
        {
            "health_trust": "983974791",
            "year": 2012,
            "stays": 6,
            "from_own_outpatient": 1,
            "share": 1 / 6,
        }
    ]


def test_every_indicator_has_definition_metadata() -> None:
    ids = {d.id for d in all_definitions()}
    assert {
        "readmission_steering",
        "readmission_quality",
        "avoidable_admissions",
        "selvmating_share",
        "direct_standardised_rate",
        "indirect_standardised_ratio",
        "average_length_of_stay",
        "discharge_destination",
    } <= ids
    for d in all_definitions():
        assert d.name_no and d.numerator and d.denominator and d.source and d.version


def test_standardised_rates_hand_computed(duckdb_engine: Engine) -> None:
    t = dt.datetime
    rows = []
    # 1401: 10 stays aged 2, 30 stays aged 7; 0219: 30 stays aged 2 (all men, 2012).
    for i, (muni, born, n) in enumerate(
        (("1401", 2010, 10), ("1401", 2005, 30), ("0219", 2010, 30))
    ):
        for k in range(n):
            row = _stay(f"E{i}-{k}", f"P{i}-{k}", born, t(2012, 3, 1), t(2012, 3, 2), "emergency")
            row["municipality"] = muni
            rows.append(row)
    duckdb_engine.register_arrow(
        "episodes", pa.Table.from_pylist(rows, schema=arrow_schema("episodes", with_delivery=True))
    )
    population = [
        {"year": 2012, "municipality": "1401", "sex": 1, "age": 2, "count": 1000},
        {"year": 2012, "municipality": "1401", "sex": 1, "age": 7, "count": 1000},
        {"year": 2012, "municipality": "0219", "sex": 1, "age": 2, "count": 1000},
    ]
    duckdb_engine.register_arrow(
        "population", pa.Table.from_pylist(population, schema=arrow_schema("population"))
    )
    register_contact_facts(duckdb_engine, borders=2012, blocks=BLOCKS)
    rules = load_rules()
    direct = direct_standardised_rates(
        duckdb_engine, rules, year=2012, standard={(1, 0): 3000, (1, 5): 1000}
    ).to_pylist()[1]
    # 1401: 0.75 * 10/1000 + 0.25 * 30/1000 = 0.015 -> 15.0 per 1 000; crude 40/2000 -> 20.0.
    assert direct["residence"] == "1401"
    assert direct["standardised_per_1000"] == pytest.approx(15.0)
    assert direct["crude_per_1000"] == pytest.approx(20.0)
    assert direct["ci_low"] < 15.0 < direct["ci_high"]
    indirect = indirect_standardised_ratios(duckdb_engine, rules, year=2012).to_pylist()
    # Country rates: age 0-4 40/2000, age 5-9 30/1000. Expected 1401 = 20 + 30 = 50 -> 80;
    # expected 0219 = 20 -> 150.
    assert [(r["residence"], r["observed"], r["ratio"]) for r in indirect] == [
        ("0219", 30, pytest.approx(150.0)),
        ("1401", 40, pytest.approx(80.0)),
    ]


def test_rates_map_the_population_to_the_facts_borders(engine: Engine) -> None:
    # 2014 codes, 2020 borders: Narvik 1805 and Ballangen 1854 are both Narvik 1806. 20 stays of
    # 1805 residents and 10 of 1854 residents over 1 500 + 500 inhabitants -> 30 / 2 000 = 15.0
    # per 1 000 for 1806 (before, the 2014 population codes did not meet the 2020 residence).
    t = dt.datetime
    rows = []
    for muni, n in (("1805", 20), ("1854", 10)):
        for k in range(n):
            row = _stay(
                f"{muni}-{k}", f"{muni}-{k}", 1980, t(2014, 3, 1), t(2014, 3, 2), "elective"
            )
            row["municipality"] = muni
            rows.append(row)
    engine.register_arrow(
        "episodes", pa.Table.from_pylist(rows, schema=arrow_schema("episodes", with_delivery=True))
    )
    population = [
        {"year": 2014, "municipality": "1805", "sex": 1, "age": 34, "count": 1500},
        {"year": 2014, "municipality": "1854", "sex": 1, "age": 34, "count": 500},
    ]
    engine.register_arrow(
        "population", pa.Table.from_pylist(population, schema=arrow_schema("population"))
    )
    register_contact_facts(engine, borders=2020, blocks=BLOCKS)
    crude = crude_rates(engine).to_pylist()
    assert crude == [
        {"residence": "1806", "year": 2014, "count": 30, "population": 2000, "per_1000": 15.0}
    ]
    direct = direct_standardised_rates(
        engine, load_rules(), year=2014, standard={(1, 30): 1}
    ).to_pylist()
    assert [(r["residence"], r["events"], r["population"]) for r in direct] == [
        ("1806", 30.0, 2000.0)
    ]
    assert direct[0]["standardised_per_1000"] == pytest.approx(15.0)
