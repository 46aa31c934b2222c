"""Municipal co-financing (kommunal medfinansiering): hand-computed cases to the øre.

Rules of the standard set used in the arithmetic below: share 0.20 (2012–2014), cap 4 DRG
points, ISF unit price 37 448 (2012), 38 384 (2013), 39 344 (2014).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samhandling.engine import DuckDBEngine, Engine
from samhandling.instruments import (
    cofinancing_akonto,
    cofinancing_corrections,
    cofinancing_episodes,
    cofinancing_forecast,
    cofinancing_settlement,
    cofinancing_statement,
    national_cofinancing_total,
)
from samhandling.instruments.frames import contract_table
from samhandling.rules import RuleSet, load_rules

OUS = "993467049"  # Oslo universitetssykehus HF, in Helse Sør-Øst RHF
HSO = "991324968"
UNN = "983974899"  # Universitetssykehuset Nord-Norge HF, in Helse Nord RHF
HN = "883658752"

BASE: dict[str, Any] = {
    "patient_id": "p1",
    "birth_year": 1940,
    "sex": 2,
    "municipality": "0301",
    "health_trust": OUS,
    "provider_type": "public",
    "sector": "somatic",
    "care_level": "inpatient",
    "urgency": "emergency",
    "admitted_at": datetime(2012, 3, 1, 10),
    "discharged_at": datetime(2012, 3, 5, 12),
    "main_diagnosis": "J18",
    "drg": "89",
    "drg_type": "M",
    "drg_points": Decimal("1.234"),
}


def episode(episode_id: str, **changes: Any) -> dict[str, Any]:
    return {**BASE, "episode_id": episode_id, **changes}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture
def duck() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine()
    yield engine
    engine.close()


def load(
    engine: Engine, rows: list[dict[str, Any]], population: list[dict[str, Any]] | None = None
) -> None:
    engine.register_arrow("episodes", contract_table("episodes", rows))
    engine.register_arrow("population", contract_table("population", population or []))


REASON_CASES = [
    # (episode, reason, amount) with the arithmetic
    (episode("eligible"), "eligible", Decimal("9242.17")),  # 0.20 × 1.234 × 37 448 = 9 242.1664
    (episode("cap", drg_points=Decimal("5.5")), "eligible", Decimal("29958.40")),  # 0.2×4×37448
    (episode("at_cap", drg_points=Decimal("4.000")), "eligible", Decimal("29958.40")),
    (episode("surgical", drg="1A", drg_type="K"), "surgical_drg", Decimal("0.00")),
    (episode("birth_mdc", drg="373", mdc="14"), "childbirth", Decimal("0.00")),
    (episode("birth_lookup", drg="373"), "childbirth", Decimal("0.00")),  # MDC 14 from refdata
    (episode("newborn", drg="629", mdc="15"), "newborn", Decimal("0.00")),
    (episode("drug", drug_excluded=True), "expensive_drug", Decimal("0.00")),
    (episode("psych", sector="mental_health"), "sector", Decimal("0.00")),
    (episode("tsb", sector="substance_abuse"), "sector", Decimal("0.00")),
    (episode("specialist", provider_type="private_specialist"), "provider_type", Decimal("0.00")),
    (episode("rehab", provider_type="private_rehabilitation"), "provider_type", Decimal("0.00")),
    (episode("foreign", municipality="9999"), "not_resident", Decimal("0.00")),
    (
        episode("y2011", admitted_at=datetime(2011, 5, 1), discharged_at=datetime(2011, 5, 3)),
        "year_outside_scheme",
        Decimal("0.00"),
    ),
    (
        episode("y2015", admitted_at=datetime(2015, 5, 1), discharged_at=datetime(2015, 5, 3)),
        "year_outside_scheme",
        Decimal("0.00"),
    ),
    (episode("no_points", drg_points=None), "no_drg_points", Decimal("0.00")),
    # outpatient consultation: 0.20 × 0.055 × 37 448 = 411.928 -> 411.93
    (
        episode(
            "outpatient",
            care_level="outpatient",
            discharged_at=None,
            drg_points=Decimal("0.055"),
        ),
        "eligible",
        Decimal("411.93"),
    ),
    # 2013: 0.20 × 1.000 × 38 384 = 7 676.80
    (
        episode(
            "y2013",
            admitted_at=datetime(2013, 2, 1),
            discharged_at=datetime(2013, 2, 2),
            drg_points=Decimal("1.000"),
        ),
        "eligible",
        Decimal("7676.80"),
    ),
    # 2014: 0.20 × 2.000 × 39 344 = 15 737.60
    (
        episode(
            "y2014",
            admitted_at=datetime(2014, 6, 1),
            discharged_at=datetime(2014, 6, 4),
            drg_points=Decimal("2.000"),
        ),
        "eligible",
        Decimal("15737.60"),
    ),
    # over New Year: discharged in 2013, so 2013's price: 0.20 × 1.234 × 38 384 = 9 473.1712
    (
        episode(
            "new_year",
            admitted_at=datetime(2012, 12, 28),
            discharged_at=datetime(2013, 1, 2),
        ),
        "eligible",
        Decimal("9473.17"),
    ),
]


def test_each_reason_and_amount(duck: DuckDBEngine, rules: RuleSet) -> None:
    load(duck, [case[0] for case in REASON_CASES])
    got = {r["episode_id"]: r for r in cofinancing_episodes(duck, rules).to_pylist()}
    for row, reason, amount in REASON_CASES:
        assert got[row["episode_id"]]["reason"] == reason, row["episode_id"]
        assert got[row["episode_id"]]["amount"] == amount, row["episode_id"]
    assert got["cap"]["capped_points"] == Decimal("4.000")
    assert got["cap"]["drg_points"] == Decimal("5.500")
    assert got["eligible"]["rhf"] == HSO
    assert got["eligible"]["unverified"] is True  # the 2012 unit price is an estimate
    assert got["surgical"]["unverified"] is False
    assert got["eligible"]["rule_set"] == rules.label
    assert "isf.unit_price_somatic v1" in got["eligible"]["rule_versions"]


def test_statements_per_period_and_level(engine: Engine, rules: RuleSet) -> None:
    rows = [
        episode("a"),  # March, Oslo, OUS: 9 242.17
        episode("b", drg_points=Decimal("5.5"), municipality="1902", health_trust=UNN),
        # May, Tromsø at UNN: 29 958.40
        episode(
            "c",
            admitted_at=datetime(2012, 5, 2),
            discharged_at=datetime(2012, 5, 4),
            drg_points=Decimal("0.500"),
        ),  # May, Oslo: 0.2 × 0.5 × 37 448 = 3 744.80
        episode(
            "d",
            admitted_at=datetime(2012, 9, 2),
            discharged_at=datetime(2012, 9, 4),
            drg_points=Decimal("2.000"),
            municipality="1902",
        ),  # September, Tromsø at OUS: 14 979.20
        episode("e", drg_type="K"),  # excluded, counted as an episode
    ]
    load(engine, rows)
    month = cofinancing_statement(engine, rules, 2012, period="month", level="municipality")
    assert [(r["period"], r["municipality"], r["amount"]) for r in month.to_pylist()] == [
        ("2012-03", "0301", Decimal("9242.17")),
        ("2012-03", "1902", Decimal("29958.40")),
        ("2012-05", "0301", Decimal("3744.80")),
        ("2012-09", "1902", Decimal("14979.20")),
    ]
    march_oslo = month.to_pylist()[0]
    assert (march_oslo["episodes"], march_oslo["eligible_episodes"]) == (2, 1)
    tertial = cofinancing_statement(engine, rules, 2012, period="tertial", level="rhf")
    assert [(r["period"], r["rhf"], r["amount"]) for r in tertial.to_pylist()] == [
        ("2012-T1", HN, Decimal("29958.40")),
        ("2012-T1", HSO, Decimal("9242.17")),
        ("2012-T2", HSO, Decimal("3744.80")),
        ("2012-T3", HSO, Decimal("14979.20")),
    ]
    hf = cofinancing_statement(engine, rules, 2012, period="year", level="health_trust")
    assert {r["health_trust"]: r["amount"] for r in hf.to_pylist()} == {
        OUS: Decimal("27966.17"),  # 9 242.17 + 3 744.80 + 14 979.20
        UNN: Decimal("29958.40"),
    }
    assert national_cofinancing_total(engine, rules, 2012) == Decimal("57924.57")
    assert national_cofinancing_total(engine, rules, 2013) == Decimal("0.00")


def test_forecast_akonto_december_adjustment_and_settlement(engine: Engine, rules: RuleSet) -> None:
    rows = [
        # 2011 activity priced with 2012 rules: 0.20 × 1.234 × 37 448 = 9 242.17
        episode("base", admitted_at=datetime(2011, 6, 1), discharged_at=datetime(2011, 6, 3)),
        episode("mar"),  # March 2012: 9 242.17 (in the January–August revision window)
        episode(
            "oct",
            admitted_at=datetime(2012, 10, 1),
            discharged_at=datetime(2012, 10, 3),
            drg_points=Decimal("2.000"),
        ),  # October 2012: 14 979.20 (after the revision window)
    ]
    population = [
        {"year": 2011, "municipality": "0301", "sex": 1, "age": 40, "count": 1000},
        {"year": 2012, "municipality": "0301", "sex": 1, "age": 40, "count": 1010},
    ]
    load(engine, rows, population)
    forecast = cofinancing_forecast(engine, rules, 2012).to_pylist()
    # 9 242.17 × 1 010 / 1 000 = 9 334.5917 -> 9 334.59
    assert [(r["municipality"], r["rhf"], r["forecast"]) for r in forecast] == [
        ("0301", HSO, Decimal("9334.59"))
    ]
    akonto = cofinancing_akonto(engine, rules, 2012).to_pylist()
    monthly = [r["akonto"] for r in akonto]
    # January–November: 933 459 øre // 12 = 77 788 øre
    assert monthly[:11] == [Decimal("777.88")] * 11
    # revised: 9 242.17 × 12 / 8 = 13 863.255 -> 13 863.26; December 13 863.26 − 11 × 777.88
    assert akonto[11]["revised_forecast"] == Decimal("13863.26")
    assert monthly[11] == Decimal("5306.58")
    assert akonto[11]["december_adjusted"] is True
    settlement = cofinancing_settlement(engine, rules, 2012).to_pylist()
    assert len(settlement) == 1
    row = settlement[0]
    assert row["akonto_paid"] == Decimal("13863.26")
    assert row["actual"] == Decimal("24221.37")  # 9 242.17 + 14 979.20
    assert row["settlement"] == Decimal("10358.11")
    assert row["document"] == "faktura"


def test_settlement_credit_note_when_paid_more(duck: DuckDBEngine, rules: RuleSet) -> None:
    rows = [
        episode(
            "base",
            admitted_at=datetime(2011, 6, 1),
            discharged_at=datetime(2011, 6, 3),
            drg_points=Decimal("4.000"),
        ),  # forecast 29 958.40 (no population: no adjustment)
        episode(
            "sep",
            admitted_at=datetime(2012, 9, 10),
            discharged_at=datetime(2012, 9, 12),
            drg_points=Decimal("1.000"),
        ),  # 7 489.60, after August: the revision sees nothing, December pays back
    ]
    load(duck, rows)
    akonto = cofinancing_akonto(duck, rules, 2012).to_pylist()
    assert akonto[0]["forecast"] == Decimal("29958.40")
    assert akonto[0]["akonto"] == Decimal("2496.53")  # 2 995 840 // 12 = 249 653 øre
    assert akonto[11]["revised_forecast"] == Decimal("0.00")
    assert akonto[11]["akonto"] == Decimal("-27461.83")  # 0 − 11 × 2 496.53
    row = cofinancing_settlement(duck, rules, 2012).to_pylist()[0]
    assert row["akonto_paid"] == Decimal("0.00")
    assert row["actual"] == Decimal("7489.60")
    assert row["document"] == "faktura"


def test_correction_ledger(engine: Engine, rules: RuleSet) -> None:
    previous = [episode("a"), episode("b", drg_points=Decimal("2.000")), episode("same")]
    current = [
        episode("a", drg_points=Decimal("2.000"), delivery_id="d2"),  # 9 242.17 -> 14 979.20
        episode("c", drg_points=Decimal("0.500"), delivery_id="d2"),  # new: 3 744.80
        episode("same"),
    ]
    engine.register_arrow("episodes_previous", contract_table("episodes", previous))
    engine.register_arrow("episodes", contract_table("episodes", current))
    ledger = cofinancing_corrections(engine, rules, 2012).to_pylist()
    assert [(r["episode_id"], r["status"], r["old_amount"], r["new_amount"]) for r in ledger] == [
        ("a", "endret", Decimal("9242.17"), Decimal("14979.20")),
        ("b", "fjernet", Decimal("14979.20"), Decimal("0.00")),
        ("c", "ny", Decimal("0.00"), Decimal("3744.80")),
    ]
    assert ledger[0]["change"] == Decimal("5737.03")
    assert (ledger[0]["old_delivery_id"], ledger[0]["new_delivery_id"]) == ("d1", "d2")


def test_rerunning_changes_nothing(duck: DuckDBEngine, rules: RuleSet) -> None:
    load(duck, [case[0] for case in REASON_CASES])
    first = cofinancing_statement(duck, rules, 2012, period="tertial", level="municipality_rhf")
    second = cofinancing_statement(duck, rules, 2012, period="tertial", level="municipality_rhf")
    assert first.equals(second)


points = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("9.999"), places=3)
months = st.integers(min_value=1, max_value=12)
municipalities = st.sampled_from(["0301", "1902", "1201"])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(points, months, municipalities), min_size=1, max_size=12),
    st.lists(st.tuples(points, months, municipalities), min_size=0, max_size=8),
)
def test_statement_and_settlement_invariants(
    this_year: list[tuple[Decimal, int, str]], last_year: list[tuple[Decimal, int, str]]
) -> None:
    rules = load_rules()
    rows = [
        episode(
            f"y{i}",
            municipality=m,
            drg_points=p,
            admitted_at=datetime(2012, mo, 1),
            discharged_at=datetime(2012, mo, 2),
        )
        for i, (p, mo, m) in enumerate(this_year)
    ] + [
        episode(
            f"b{i}",
            municipality=m,
            drg_points=p,
            admitted_at=datetime(2011, mo, 1),
            discharged_at=datetime(2011, mo, 2),
        )
        for i, (p, mo, m) in enumerate(last_year)
    ]
    with DuckDBEngine() as engine:
        load(engine, rows)
        episodes = cofinancing_episodes(engine, rules, year=2012).to_pylist()
        for row in episodes:
            expected = (
                Decimal("0.20") * min(row["drg_points"], Decimal(4)) * Decimal(37448)
            ).quantize(Decimal("0.01"))
            assert row["amount"] == expected
        total = sum((r["amount"] for r in episodes), Decimal(0))
        for period in ("month", "tertial", "year"):
            statement = cofinancing_statement(engine, rules, 2012, period=period)
            assert sum((r["amount"] for r in statement.to_pylist()), Decimal(0)) == total
        assert national_cofinancing_total(engine, rules, 2012) == total
        akonto = cofinancing_akonto(engine, rules, 2012).to_pylist()
        paid: dict[str, Decimal] = {}
        for r in akonto:
            paid[r["municipality"]] = paid.get(r["municipality"], Decimal(0)) + r["akonto"]
            if r["month"] == 12:
                assert paid[r["municipality"]] == r["revised_forecast"]
        for r in cofinancing_settlement(engine, rules, 2012).to_pylist():
            assert r["settlement"] == r["actual"] - r["akonto_paid"]
            assert r["akonto_paid"] == paid.get(r["municipality"], Decimal(0))


def test_engine_parity(engine: Engine, rules: RuleSet) -> None:
    """The same co-financing computations give identical decimals on DuckDB and Spark."""
    rows = [case[0] for case in REASON_CASES] + [
        episode("base", admitted_at=datetime(2011, 6, 1), discharged_at=datetime(2011, 6, 3))
    ]
    population = [
        {"year": 2011, "municipality": "0301", "sex": 1, "age": 40, "count": 1000},
        {"year": 2012, "municipality": "0301", "sex": 1, "age": 40, "count": 1010},
    ]
    results: list[list[pa.Table]] = []
    with DuckDBEngine() as reference:
        for target in (engine, reference):
            load(target, rows, population)
            results.append(
                # Settlement runs the forecast and the à-konto too; Spark is slow, keep it to two.
                [cofinancing_episodes(target, rules), cofinancing_settlement(target, rules, 2012)]
            )
    for got, expected in zip(results[0], results[1], strict=True):
        assert got.to_pylist() == expected.to_pylist()
    # actual 9 242.17 + 29 958.40 + 29 958.40 + 411.93 = 69 570.90, all in March; paid: the
    # revised forecast 69 570.90 × 12 / 8 = 104 356.35; settlement 69 570.90 − 104 356.35
    settlement = [r for r in results[0][1].to_pylist() if r["municipality"] == "0301"]
    assert settlement[0]["settlement"] == Decimal("-34785.45")
