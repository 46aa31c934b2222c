"""A user rule file replaces parameters for a run; it changes exactly what it overrides."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samhandling.engine import DuckDBEngine, Engine
from samhandling.instruments import (
    cofinancing_episodes,
    discharge_ready_lines,
    national_cofinancing_total,
)
from samhandling.instruments.frames import contract_table
from samhandling.rules import RuleSet, load_rules

BASE: dict[str, Any] = {
    "patient_id": "p1",
    "birth_year": 1940,
    "sex": 2,
    "municipality": "0301",
    "health_trust": "993467049",
    "provider_type": "public",
    "sector": "somatic",
    "care_level": "inpatient",
    "urgency": "emergency",
    "main_diagnosis": "J18",
    "drg": "89",
    "drg_type": "M",
    "drg_points": Decimal("1.234"),
}


def episode(episode_id: str, year: int) -> dict[str, Any]:
    return {
        **BASE,
        "episode_id": episode_id,
        "patient_id": episode_id,
        "admitted_at": datetime(year, 3, 1, 8),
        "discharged_at": datetime(year, 3, 15, 12),
    }


def ready_events(episode_id: str, year: int) -> list[dict[str, Any]]:
    ready = datetime(year, 3, 10, 9)
    return [
        {"event_id": f"{episode_id}-{i}", "episode_id": episode_id, "type": t, "at": at}
        for i, (t, at) in enumerate(
            [
                ("admission_notified", datetime(year, 3, 1, 12)),
                ("discharge_ready", ready),
                ("discharge_ready_notified", ready + timedelta(hours=1)),
            ]
        )
    ]


def load(engine: Engine) -> None:
    rows = [episode("e2012", 2012), episode("e2013", 2013), episode("e2014", 2014)]
    events = [e for r in rows for e in ready_events(r["episode_id"], r["admitted_at"].year)]
    engine.register_arrow("episodes", contract_table("episodes", rows))
    engine.register_arrow("events", contract_table("events", events))
    engine.register_arrow("population", contract_table("population", []))


SHARE_OVERRIDE = """
[[rules."cofinancing.share".values]]
valid_from = 2012-01-01
valid_to = 2012-12-31
value = "{share}"
status = "unverified"
source = "what-if: lower share in 2012"

[[rules."cofinancing.share".values]]
valid_from = 2013-01-01
valid_to = 2014-12-31
value = "0.20"
status = "confirmed"
source = "unchanged"
"""

RATE_OVERRIDE = """
[[rules."discharge_ready.daily_rate".values]]
valid_from = 2012-01-01
valid_to = 2024-12-31
value = "5000"
status = "unverified"
source = "what-if: one flat rate"
"""


def amounts(engine: Engine, rules: RuleSet) -> dict[str, Decimal]:
    return {r["episode_id"]: r["amount"] for r in cofinancing_episodes(engine, rules).to_pylist()}


def line_amounts(engine: Engine, rules: RuleSet) -> dict[str, Decimal]:
    return {r["episode_id"]: r["amount"] for r in discharge_ready_lines(engine, rules).to_pylist()}


def test_share_override_changes_only_2012_cofinancing(tmp_path: Path) -> None:
    path = tmp_path / "lower.toml"
    path.write_text(SHARE_OVERRIDE.format(share="0.10"), "utf-8")
    standard = load_rules()
    override = load_rules(path)
    with DuckDBEngine() as engine:
        load(engine)
        before, after = amounts(engine, standard), amounts(engine, override)
        assert before["e2012"] == Decimal("9242.17")  # 0.20 × 1.234 × 37 448
        assert after["e2012"] == Decimal("4621.08")  # 0.10 × 1.234 × 37 448 = 4 621.0832
        assert after["e2013"] == before["e2013"] == Decimal("9473.17")  # 0.2 × 1.234 × 38 384
        assert after["e2014"] == before["e2014"] == Decimal("9710.10")  # 0.2 × 1.234 × 39 344
        assert line_amounts(engine, override) == line_amounts(engine, standard)
        row = cofinancing_episodes(engine, override, episode_id="e2012").to_pylist()[0]
        assert row["rule_set"] == override.label
        assert " + override " in row["rule_set"]
        assert "cofinancing.share v1+override-" in row["rule_versions"]
        assert national_cofinancing_total(engine, override, 2012) == Decimal("4621.08")


def test_rate_override_changes_only_discharge_ready(tmp_path: Path) -> None:
    path = tmp_path / "rate.toml"
    path.write_text(RATE_OVERRIDE, "utf-8")
    override = load_rules(path)
    standard = load_rules()
    with DuckDBEngine() as engine:
        load(engine)
        # 10–15 March: 5 days; standard 4 000 / 4 125 / 4 255, override 5 000
        assert line_amounts(engine, standard) == {
            "e2012": Decimal("20000.00"),
            "e2013": Decimal("20625.00"),
            "e2014": Decimal("21275.00"),
        }
        assert line_amounts(engine, override) == {
            "e2012": Decimal("25000.00"),
            "e2013": Decimal("25000.00"),
            "e2014": Decimal("25000.00"),
        }
        assert amounts(engine, override) == amounts(engine, standard)
        lines = discharge_ready_lines(engine, override).to_pylist()
        assert all(r["unverified"] for r in lines)
        assert all("discharge_ready.daily_rate v2+override-" in r["rule_versions"] for r in lines)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=99))
def test_override_changes_exactly_what_it_overrides(percent: int) -> None:
    share = Decimal(percent) / 100
    with DuckDBEngine() as engine:
        load(engine)
        standard = load_rules()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "o.toml"
            path.write_text(SHARE_OVERRIDE.format(share=share), "utf-8")
            override = load_rules(path)
        before, after = amounts(engine, standard), amounts(engine, override)
        expected = (share * Decimal("1.234") * 37448).quantize(Decimal("0.01"))
        assert after == {**before, "e2012": expected}
