"""The white paper's co-financing designs (St.meld. 47 ch. 9.4), computed by hand.

2012 rules: ISF unit price 37 448; scenario shares 0.20 (lower_share 0.10); caps: kmf 4,
capped 2 DRG points; age_limited from 80; mental-health bed day 6 000; pooling weights 1 / 3 / 6
for ages 0–66 / 67–79 / 80+ (in tenths: 10 / 30 / 60).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from samhandling.engine import DuckDBEngine, Engine
from samhandling.errors import ConfigError
from samhandling.instruments import scenario_costs, scenario_names, scenario_variation
from samhandling.instruments.frames import contract_table
from samhandling.rules import RuleSet, load_rules

OUS = "993467049"
BASE: dict[str, Any] = {
    "patient_id": "p1",
    "birth_year": 1930,  # 82 in 2012
    "sex": 1,
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


ROWS = [
    episode("a"),  # Oslo, 82, medical, J18, 1.234 points
    episode("b", municipality="0219", drg_points=Decimal("5.5"), main_diagnosis="C50"),
    episode("c", drg_type="K", birth_year=1990, main_diagnosis="S72"),  # surgical, 22, hip
    # mental health, 4 bed days (1–5 March), 82, J18 on purpose (diagnosis list)
    episode("d", sector="mental_health", drg=None, drg_type=None, drg_points=None),
]
POPULATION = [
    {"year": 2012, "municipality": "0301", "sex": 1, "age": 50, "count": 1000},
    {"year": 2012, "municipality": "0301", "sex": 1, "age": 85, "count": 100},
    {"year": 2012, "municipality": "0219", "sex": 2, "age": 30, "count": 500},
]


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture
def duck() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine()
    engine.register_arrow("episodes", contract_table("episodes", ROWS))
    engine.register_arrow("population", contract_table("population", POPULATION))
    yield engine
    engine.close()


def costs(table: pa.Table) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    return {
        (r["scenario"], r["municipality"]): (r["cost"], r["pooled_cost"]) for r in table.to_pylist()
    }


def test_each_design_by_hand(duck: DuckDBEngine, rules: RuleSet) -> None:
    got = costs(scenario_costs(duck, rules, 2012))
    a = Decimal("9242.17")  # 0.2 × 1.234 × 37 448 (9 242.1664)
    b_capped4 = Decimal("29958.40")  # 0.2 × 4 × 37 448
    b_uncapped = Decimal("41192.80")  # 0.2 × 5.5 × 37 448
    c = Decimal("9242.17")  # surgical, same points as a
    d = Decimal("4800.00")  # 0.2 × 6 000 × 4 bed days
    assert got[("kmf", "0301")][0] == a  # the 2012 scheme: c surgical, d mental health out
    assert got[("kmf", "0219")][0] == b_capped4
    assert got[("general", "0301")][0] == a + c + d
    assert got[("general", "0219")][0] == b_uncapped
    assert got[("age_limited", "0301")][0] == a + d  # c is 22 years old
    assert got[("diagnosis_limited", "0301")][0] == a + c + d  # J18 and S72 are on the list
    assert got[("diagnosis_limited", "0219")] == (Decimal("0.00"), Decimal("0.00"))  # C50 not
    # lower share: 0.1 × 1.234 × 37 448 = 4 621.0832; 0.1 × 24 000 = 2 400
    assert got[("lower_share", "0301")][0] == Decimal("4621.08") * 2 + Decimal("2400.00")
    # cap 2 points: 0.2 × 2 × 37 448 = 14 979.20 for b; d capped at 2 × 37 448 = 74 896 (no bite)
    assert got[("capped", "0219")][0] == Decimal("14979.20")
    assert got[("capped", "0301")][0] == a + c + d


def test_pooling_by_age_structure(duck: DuckDBEngine, rules: RuleSet) -> None:
    got = {
        r["municipality"]: r
        for r in scenario_costs(duck, rules, 2012, scenarios=["pooled"]).to_pylist()
    }
    # Both municipalities are mostly treated at OUS: one pool. Total 23 284.34 + 41 192.80.
    # Weights (tenths): Oslo 1 000 × 10 + 100 × 60 = 16 000; Bærum 500 × 10 = 5 000.
    # Bærum: 6 447 714 øre × 5 000 / 21 000 = 1 535 170.0 -> 15 351.70; Oslo 49 125.44
    assert got["0219"]["pool"] == OUS
    assert got["0219"]["pooled_cost"] == Decimal("15351.70")
    assert got["0301"]["pooled_cost"] == Decimal("49125.44")
    assert got["0301"]["cost"] == Decimal("23284.34")


def test_agreed_pools_override_default(duck: DuckDBEngine, rules: RuleSet) -> None:
    duck.register_arrow(
        "cooperation", pa.table({"municipality": ["0301", "0219"], "pool": ["x", "y"]})
    )
    got = scenario_costs(duck, rules, 2012, scenarios=["pooled"], pools="cooperation")
    for row in got.to_pylist():  # each alone in its pool: pooled = own cost
        assert row["pooled_cost"] == row["cost"]


def test_unknown_scenario_is_a_user_error(duck: DuckDBEngine, rules: RuleSet) -> None:
    with pytest.raises(ConfigError, match="ukjent scenario"):
        scenario_costs(duck, rules, 2012, scenarios=["no_such"])
    assert "general" in scenario_names(rules, 2012)


def test_variation_curve_by_size(engine: Engine, rules: RuleSet) -> None:
    # Oslo 1 100 inhabitants both years; cost 9 242.17 in 2012, 2013 at 2013 prices for 2 points
    rows = [
        episode("a"),
        episode(
            "z",
            admitted_at=datetime(2013, 4, 1),
            discharged_at=datetime(2013, 4, 2),
            drg_points=Decimal("2.000"),
        ),
    ]
    population = [
        {"year": y, "municipality": "0301", "sex": 1, "age": 50, "count": 1100}
        for y in (2012, 2013)
    ]
    engine.register_arrow("episodes", contract_table("episodes", rows))
    engine.register_arrow("population", contract_table("population", population))
    curve = scenario_variation(engine, rules, [2012, 2013], scenarios=["kmf"]).to_pylist()
    # 2013: 0.2 × 2 × 38 384 = 15 353.60; change |15 353.60 − 9 242.17| / 9 242.17 = 66.13 %
    assert [(r["size_class"], r["municipalities"], r["mean_change_pct"]) for r in curve] == [
        ("under 2 000", 1, 66.13)
    ]
    with pytest.raises(ConfigError):
        scenario_variation(engine, rules, [2012])


def test_engine_parity(engine: Engine, rules: RuleSet) -> None:
    """Every design gives identical decimals on DuckDB and Spark (the `engine` fixture)."""
    results: list[list[dict[str, Any]]] = []
    with DuckDBEngine() as reference:
        for target in (engine, reference):
            target.register_arrow("episodes", contract_table("episodes", ROWS))
            target.register_arrow("population", contract_table("population", POPULATION))
            results.append(scenario_costs(target, rules, 2012).to_pylist())
    key = lambda r: (r["scenario"], r["municipality"])  # noqa: E731
    assert sorted(results[0], key=key) == sorted(results[1], key=key)
    assert costs(pa.Table.from_pylist(results[0]))[("kmf", "0219")][0] == Decimal("29958.40")
