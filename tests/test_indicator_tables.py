"""Payment, discharge-ready and readmission tables (SD06-SD08), computed by hand to the øre.

Residents of Oslo (0301) in 2012, 9 inhabitants (hand-made population):

* co-financing: 6 patients, one emergency medical stay each, 1.234 DRG points in March 2012:
  0.20 × 1.234 × 37 448 = 9 242.1664 -> 9 242.17 per episode (rounded per episode by the
  instrument), 55 453.02 in all; per inhabitant 55 453.02 / 9 = 6 161.446… -> 6 161.45;
* discharge-ready payments: 5 other patients, each discharge-ready 10 March, discharged
  15 March, events in order: 5 days × 4 000 = 20 000 each, 100 000.00 in all (25 days);
  per inhabitant 100 000 / 9 = 11 111.11;
* overliggerdøgn (statistics): the same 5 stays, 5 days each = 25; 5.00 per stay,
  25 / 9 × 1 000 = 2 777.8 per 1 000 inhabitants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from samhandling.contract import arrow_schema
from samhandling.engine import DuckDBEngine, Engine
from samhandling.indicators.facts import register_contact_facts
from samhandling.indicators.payments import (
    cofinancing_per_inhabitant,
    discharge_ready_payments_per_inhabitant,
)
from samhandling.indicators.standardisation import direct_standardised_rates
from samhandling.instruments import cofinancing_statement
from samhandling.instruments.frames import contract_table
from samhandling.rules import RuleSet, load_rules
from samhandling.tables.catalog import build_catalog, destination_dimension
from samhandling.tables.cube import ProtectedCube
from samhandling.tables.output import render
from test_acceptance_questions import BLOCKS
from test_indicators import _stay

OUS = "993467049"
BUILT = "2026-11-23T12:00:00+00:00"

KMF: dict[str, Any] = {
    "birth_year": 1940,
    "sex": 2,
    "municipality": "0301",
    "health_trust": OUS,
    "provider_type": "public",
    "sector": "somatic",
    "care_level": "inpatient",
    "urgency": "emergency",
    "admitted_at": dt.datetime(2012, 3, 1, 10),
    "discharged_at": dt.datetime(2012, 3, 5, 12),
    "main_diagnosis": "J18",
    "drg": "89",
    "drg_type": "M",
    "drg_points": Decimal("1.234"),
}
READY = dt.datetime(2012, 3, 10, 9)


def _payment_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    episodes = [{**KMF, "episode_id": f"k{i}", "patient_id": f"k{i}"} for i in range(6)]
    events: list[dict[str, Any]] = []
    for i in range(5):
        eid = f"u{i}"
        episodes.append(
            {
                **KMF,
                "episode_id": eid,
                "patient_id": eid,
                "birth_year": 1930,
                "admitted_at": dt.datetime(2012, 3, 1, 8),
                "discharged_at": dt.datetime(2012, 3, 15, 12),
                "main_diagnosis": "S72",
                "drg": None,
                "drg_type": None,
                "drg_points": None,
                "discharge_ready_at": READY.date(),
            }
        )
        for j, (kind, at) in enumerate(
            [
                ("admission_notified", dt.datetime(2012, 3, 1, 12)),
                ("discharge_ready", READY),
                ("discharge_ready_notified", READY + dt.timedelta(hours=1)),
                ("cannot_receive", READY + dt.timedelta(hours=3)),
            ]
        ):
            events.append({"event_id": f"{eid}-{j}", "episode_id": eid, "type": kind, "at": at})
    return episodes, events


POPULATION = [{"year": 2012, "municipality": "0301", "sex": 2, "age": 80, "count": 9}]


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


def _load(engine: Engine) -> None:
    episodes, events = _payment_rows()
    engine.register_arrow("episodes", contract_table("episodes", episodes))
    engine.register_arrow("events", contract_table("events", events))
    engine.register_arrow("population", contract_table("population", POPULATION))


@pytest.fixture(scope="module")
def payments_catalog(rules: RuleSet) -> Iterator[dict[str, ProtectedCube]]:
    engine = DuckDBEngine()
    _load(engine)
    catalog = build_catalog(
        engine, rules, borders=2012, blocks=BLOCKS, only=["SD06", "SD07"], built=BUILT
    )
    engine.close()
    yield catalog.cubes


def test_money_per_inhabitant_to_the_ore(engine: Engine, rules: RuleSet) -> None:
    _load(engine)
    kmf = cofinancing_per_inhabitant(engine, rules, year=2012)
    assert kmf.to_pylist() == [
        {
            "municipality": "0301",
            "amount": Decimal("55453.02"),
            "population": 9,
            "per_inhabitant": Decimal("6161.45"),
        }
    ]
    dr = discharge_ready_payments_per_inhabitant(engine, rules, year=2012)
    assert dr.to_pylist() == [
        {
            "municipality": "0301",
            "amount": Decimal("100000.00"),
            "population": 9,
            "per_inhabitant": Decimal("11111.11"),
        }
    ]


def test_payment_table_sd06(payments_catalog: dict[str, ProtectedCube], rules: RuleSet) -> None:
    cube = payments_catalog["SD06"]
    table = cube.slice({"region": ["0301", "0"], "period": ["2012", "2012M03", "2012T1"]})
    measures = [c[0] for c in cube.spec.contents]
    assert measures == [
        "medfinansiering",
        "utskrivningsklar_betaling",
        "utskrivningsklar_dogn",
        "pasienter",
        "medfinansiering_per_innbygger",
        "utskrivningsklar_betaling_per_innbygger",
    ]
    expected = [55453.02, 100000.0, 25, 11, 6161.45, 11111.11]
    # Oslo and the country, year / March / 1st tertial: the same money (all in March 2012).
    assert table.values == expected * 6
    assert table.reasons == {}
    assert table.units["medfinansiering"] == ("kroner", 2)
    assert any("forskrift 18.11.2011 nr. 1115" in n for n in table.notes)
    csv_text = render(
        cube.slice({"region": ["0301"], "period": ["2012"]}, ["utskrivningsklar_betaling"]), "csv"
    ).decode("utf-8")
    assert csv_text.splitlines()[1].endswith(",100000.00,")
    # A month without payments is a published zero.
    april = cube.slice({"region": ["0301"], "period": ["2012M04"]}, ["medfinansiering"])
    assert april.values == [0]


def test_payment_table_matches_the_instruments_statement(
    payments_catalog: dict[str, ProtectedCube], rules: RuleSet
) -> None:
    engine = DuckDBEngine()
    _load(engine)
    statement = cofinancing_statement(engine, rules, 2012, period="month")
    engine.close()
    cube = payments_catalog["SD06"]
    for row in statement.to_pylist():
        month = "2012M" + row["period"][-2:]
        got = cube.slice({"region": [row["municipality"]], "period": [month]}, ["medfinansiering"])
        assert Decimal(str(got.values[0])) == row["amount"]


def test_discharge_ready_table_sd07(payments_catalog: dict[str, ProtectedCube]) -> None:
    cube = payments_catalog["SD07"]
    table = cube.slice(
        {"region": ["0301"], "period": ["2012", "2012T1"], "sector": ["somatic", "_T"]},
        [
            "utskrivningsklare_opphold",
            "overliggerdogn",
            "pasienter",
            "gj_overliggerdogn",
            "overliggerdogn_per_1000",
        ],
    )
    # per 1 000 inhabitants only where the population is defined: all sectors together
    assert table.values == [5, 25, 5, 5.0, None, 5, 25, 5, 5.0, 2777.8] * 2
    assert table.reasons == {}


def test_readmission_table_sd08(rules: RuleSet) -> None:
    # Five copies of the two patients of test_indicators: per copy P has 3 steering index
    # episodes (one readmitted), Q 2 steering (none) and 2 quality index episodes (one
    # readmitted 10 hours after discharge).
    t = dt.datetime
    rows = []
    for n in range(5):
        p, q = f"P{n}", f"Q{n}"
        rows += [
            _stay(f"{p}a", p, 1980, t(2012, 1, 1, 8), t(2012, 1, 5, 10), "emergency"),
            _stay(f"{p}b", p, 1980, t(2012, 1, 5, 14), t(2012, 1, 7, 10), "emergency"),
            _stay(f"{p}c", p, 1980, t(2012, 1, 20, 9), t(2012, 1, 22, 9), "emergency"),
            _stay(f"{p}d", p, 1980, t(2012, 3, 1, 9), t(2012, 3, 2, 9), "elective"),
            _stay(f"{q}a", q, 1942, t(2012, 2, 1, 8), t(2012, 2, 3, 12), "emergency"),
            _stay(f"{q}b", q, 1942, t(2012, 2, 3, 22), t(2012, 2, 6, 10), "emergency"),
        ]
    engine = DuckDBEngine()
    engine.register_arrow(
        "episodes", pa.Table.from_pylist(rows, schema=arrow_schema("episodes", with_delivery=True))
    )
    catalog = build_catalog(engine, rules, borders=2012, blocks=BLOCKS, only=["SD08"], built=BUILT)
    engine.close()
    table = catalog.cube("SD08").slice({"region": ["1401"], "period": ["2012", "2012T1"]})
    assert [c[0] for c in catalog.cube("SD08").spec.contents] == [
        "indeks_styring",
        "reinnlagt_styring",
        "indeks_kvalitet",
        "reinnlagt_kvalitet",
        "pasienter",
        "andel_reinnlagt_styring",
        "andel_reinnlagt_kvalitet",
    ]
    assert table.values == [25, 5, 10, 5, 10, 20.0, 50.0] * 2
    assert any("8 timer" in n for n in table.notes)


def test_destination_labels_and_groups_come_from_the_rule_tables(rules: RuleSet) -> None:
    d = destination_dimension(rules, dt.date(2013, 1, 1))
    labels = d.labels
    assert labels["nursing_home"] == "Sykehjem"
    assert labels["kad"] == "Kommunalt akutt døgnopphold (KAD)"
    assert labels["G_municipal"].startswith("Kommunale tilbud")
    assert ("G_municipal", ("nursing_home", "other_municipal", "kad")) in d.lines
    assert ("nursing_home", "G_municipal") in d.mapping
    # A stay counts once in the total whatever its group.
    assert [c for k, c in d.mapping if k == "kad"] == ["kad", "_T", "G_municipal"]


def test_city_districts_where_the_data_have_them(rules: RuleSet) -> None:
    # Oslo 2012: 6 residents of Gamle Oslo (030101), 5 of Grünerløkka (030102) and 2 without a
    # district, one somatic stay each; 7 residents of Flora (no districts there).
    rows: list[dict[str, Any]] = []
    districts: list[str | None] = []
    for i, (municipality, district) in enumerate(
        [("0301", "030101")] * 6
        + [("0301", "030102")] * 5
        + [("0301", None)] * 2
        + [("1401", None)] * 7
    ):
        rows.append(
            {**KMF, "episode_id": f"d{i}", "patient_id": f"d{i}", "municipality": municipality}
        )
        districts.append(district)
    episodes = contract_table("episodes", rows)
    episodes = episodes.append_column("city_district", pa.array(districts, pa.string()))
    engine = DuckDBEngine()
    engine.register_arrow("episodes", episodes)
    catalog = build_catalog(engine, rules, borders=2012, blocks=BLOCKS, only=["SD03"], built=BUILT)
    engine.close()
    cube = catalog.cube("SD03")
    labels = cube.spec.dimension("region").labels
    assert labels["B030101"] == "030101 Gamle Oslo"
    assert labels["B0301U"] == "Oslo: uoppgitt bydel"
    assert not any(code.startswith("B1401") for code in labels)
    expected = {"B030101": 6, "B030102": 5, "B0301U": 2, "0301": 13, "1401": 7, "0": 20}
    table = cube.slice({"region": list(expected), "period": ["2012"]}, ["opphold"])
    for (code, want), got, i in zip(expected.items(), table.values, range(6), strict=True):
        assert got is None or got == want, code
        if got is None:
            assert table.reasons[i] in {"primary", "secondary"}
    assert table.reasons[2] == "primary"  # 2 patients without a district
    # Oslo is the sum of its districts: a line that disclosure control protects.
    region = cube.spec.dimension("region")
    assert ("0301", ("B030101", "B030102", "B0301U")) in region.lines


def test_no_city_districts_without_the_field() -> None:
    from test_acceptance_questions import acceptance_catalog

    labels = acceptance_catalog().cube("SD03").spec.dimension("region").labels
    assert not any(code.startswith("B") for code in labels)


def test_standardised_rates_table_sd09(rules: RuleSet) -> None:
    # 2012 men: Flora (1401) 10 stays aged 2 and 30 aged 7, Bærum (0219) 30 stays aged 2, Bodø
    # (1804) 3 stays aged 2 (3 patients: primary suppression); 1 000 inhabitants per stratum.
    t = dt.datetime
    rows = []
    for i, (muni, born, n) in enumerate(
        (("1401", 2010, 10), ("1401", 2005, 30), ("0219", 2010, 30), ("1804", 2010, 3))
    ):
        for k in range(n):
            row = _stay(f"E{i}-{k}", f"P{i}-{k}", born, t(2012, 3, 1), t(2012, 3, 2), "emergency")
            row["municipality"] = muni
            rows.append(row)
    population = [
        {"year": 2012, "municipality": m, "sex": 1, "age": a, "count": 1000}
        for m, a in (("1401", 2), ("1401", 7), ("0219", 2), ("1804", 2))
    ]
    engine = DuckDBEngine()
    engine.register_arrow(
        "episodes", pa.Table.from_pylist(rows, schema=arrow_schema("episodes", with_delivery=True))
    )
    engine.register_arrow(
        "population", pa.Table.from_pylist(population, schema=arrow_schema("population"))
    )
    catalog = build_catalog(engine, rules, borders=2012, blocks=BLOCKS, only=["SD09"], built=BUILT)
    # The build drops its own facts (it takes them a year at a time): the rates from ours.
    register_contact_facts(engine, borders=2012, blocks=BLOCKS)
    direct = {
        r["residence"]: r["standardised_per_1000"]
        for r in direct_standardised_rates(
            engine, rules, year=2012, where="f.sector = 'somatic'"
        ).to_pylist()
    }
    engine.close()
    cube = catalog.cube("SD09")
    measures = ["opphold", "ra_rate", "standardisert_rate", "indirekte_indeks"]
    # crude: 40 / 2 000, 30 / 1 000, 3 / 1 000, 73 / 4 000; indirect (country = 100): country
    # rates age 0-4 43 / 3 000, 5-9 30 / 1 000 -> expected Flora 14.33 + 30, Bærum 14.33.
    expected = {
        "1401": [40, 20.0, round(direct["1401"], 1), 90.2],
        "0219": [30, 30.0, round(direct["0219"], 1), 209.3],
        "1804": [3, 3.0, round(direct["1804"], 1), 20.9],
        "0": [73, 18.3, None, 100.0],
    }
    table = cube.slice({"region": list(expected), "period": ["2012"]}, measures)
    assert table.reasons[8] == "primary"  # Bodø's count: 3 patients
    # the country line (country = Flora + Bærum + Bodø) needs a second hidden cell
    assert [table.reasons.get(i) for i in (0, 4)].count("secondary") == 1
    assert 12 not in table.reasons  # the country is shown
    for r, (code, want) in enumerate(expected.items()):
        got = table.values[r * 4 : r * 4 + 4]
        if r * 4 in table.reasons:
            assert got == [None] * 4, code  # a hidden count hides its rates
            assert {table.reasons[r * 4 + k] for k in range(4)} <= {"primary", "secondary"}
        elif code == "0":
            assert got[0] == 73 and got[1] == 18.3 and got[3] == 100.0
            assert got[2] is not None
        else:
            assert got == want, code
    assert any("standardbefolkningen" in n for n in table.notes)
