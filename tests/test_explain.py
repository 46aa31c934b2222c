"""``explain``: every rule applied to an episode, its version and the arithmetic (API and CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from samhandling.cli import app
from samhandling.contract import DELIVERY_COLUMN, Kind
from samhandling.engine import DuckDBEngine, Engine
from samhandling.instruments import explain_episode, format_explanation
from samhandling.instruments.explain import EpisodeNotFoundError
from samhandling.instruments.frames import contract_table
from samhandling.rules import load_rules
from samhandling.warehouse import Warehouse

READY = datetime(2012, 12, 29, 9)
EPISODES: list[dict[str, Any]] = [
    {
        "episode_id": "E1",
        "patient_id": "P1",
        "birth_year": 1931,
        "sex": 2,
        "municipality": "0301",
        "health_trust": "993467049",
        "provider_type": "public",
        "sector": "somatic",
        "care_level": "inpatient",
        "urgency": "emergency",
        "admitted_at": datetime(2012, 12, 20, 8),
        "discharged_at": datetime(2013, 1, 3, 11),
        "main_diagnosis": "J18",
        "drg": "89",
        "drg_type": "M",
        "drg_points": Decimal("5.500"),
        "discharge_ready_at": date(2012, 12, 29),
    },
    {
        "episode_id": "E2",
        "patient_id": "P2",
        "birth_year": 1960,
        "sex": 1,
        "municipality": "0301",
        "health_trust": "993467049",
        "provider_type": "public",
        "sector": "somatic",
        "care_level": "day",
        "urgency": "elective",
        "admitted_at": datetime(2012, 6, 1, 8),
        "discharged_at": datetime(2012, 6, 1, 15),
        "main_diagnosis": "K80",
        "drg": "1A",
        "drg_type": "K",
        "drg_points": Decimal("0.800"),
    },
]
EVENTS: list[dict[str, Any]] = [
    {"event_id": f"v{i}", "episode_id": "E1", "type": t, "at": at, "source": "plo"}
    for i, (t, at) in enumerate(
        [
            ("admission_notified", datetime(2012, 12, 20, 9)),
            ("discharge_ready", READY),
            ("discharge_ready_notified", READY + timedelta(hours=1)),
            ("cannot_receive", READY + timedelta(hours=2)),
        ]
    )
]


def _load(engine: Engine) -> Engine:
    engine.register_arrow("episodes", contract_table("episodes", EPISODES))
    engine.register_arrow("events", contract_table("events", EVENTS))
    engine.register_arrow("population", contract_table("population", []))
    return engine


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    """Either engine (the ``engine`` fixture closes it) with the two episodes and their events."""
    return _load(engine)


@pytest.fixture
def duck() -> Iterator[Engine]:
    engine = _load(DuckDBEngine())
    yield engine
    engine.close()


def test_explain_capped_episode_over_new_year(loaded: Engine) -> None:
    rules = load_rules()
    explanation = explain_episode(loaded, rules, "E1")
    # discharged 3 January 2013: 2013 rules; 0.20 × min(5.5; 4) × 38 384 = 30 707.20
    assert explanation.cofinancing["amount"] == Decimal("30707.20")
    text = format_explanation(explanation)
    assert "min(DRG-poeng 5,500; tak 4,000)" in text
    assert "38 384,00 kr = 30 707,20 kr" in text
    # 29–31 December at 4 000 (12 000), 1–2 January at 4 125 (8 250)
    assert "3 døgn × 4 000,00 kr = 12 000,00 kr" in text
    assert "2 døgn × 4 125,00 kr = 8 250,00 kr" in text
    applied = {(u.rule_id, u.valid_from.year) for u in explanation.rules_applied}
    assert ("isf.unit_price_somatic", 2013) in applied
    assert ("discharge_ready.daily_rate", 2012) in applied
    assert ("discharge_ready.daily_rate", 2013) in applied
    share = next(u for u in explanation.rules_applied if u.rule_id == "cofinancing.share")
    assert (share.value, share.version, share.status) == ("0.20", "1", "confirmed")
    assert explanation.rule_set == rules.label


def test_explain_excluded_episode(duck: Engine) -> None:
    explanation = explain_episode(duck, load_rules(), "E2")
    assert explanation.cofinancing["reason"] == "surgical_drg"
    assert explanation.discharge_ready_stay is None
    assert "Kirurgisk DRG (surgical_drg)" in format_explanation(explanation)
    excluded = [
        u for u in explanation.rules_applied if u.rule_id == "cofinancing.excluded_drg_types"
    ]
    assert [(u.key, u.value) for u in excluded] == [("K", "surgical_drg")]


def test_unknown_episode_is_a_user_error(duck: Engine) -> None:
    with pytest.raises(EpisodeNotFoundError):
        explain_episode(duck, load_rules(), "nope")


def _warehouse(tmp_path: Path) -> Path:
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    files: tuple[tuple[Kind, list[dict[str, Any]]], ...] = (
        ("episodes", EPISODES),
        ("events", EVENTS),
    )
    for kind, rows in files:
        table = contract_table(kind, rows).drop_columns([DELIVERY_COLUMN])
        pq.write_table(table, delivery / f"{kind}.parquet")
    warehouse = tmp_path / "wh"
    Warehouse.open(warehouse).ingest(delivery, as_of=date(2026, 1, 1))
    return warehouse


def test_cli_explain_cofinancing_and_discharge_ready(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["explain", "E1", "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    assert "30 707,20 kr" in result.output
    assert "discharge_ready.daily_rate v2" in result.output
    result = runner.invoke(
        app, ["cofinancing", "--warehouse", str(warehouse), "--år", "2013", "--nivå", "national"]
    )
    assert result.exit_code == 0, result.output
    assert "30707.20" in result.output
    out = tmp_path / "invoices.csv"
    result = runner.invoke(
        app, ["discharge-ready", "--warehouse", str(warehouse), "--ut", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text("utf-8")
    assert "12000.00" in text
    assert "8250.00" in text
    book = tmp_path / "avregning.xlsx"
    result = runner.invoke(
        app,
        [
            "cofinancing",
            "--warehouse",
            str(warehouse),
            "--år",
            "2013",
            "--visning",
            "avregning",
            "--ut",
            str(book),
        ],
    )
    assert result.exit_code == 0, result.output
    assert book.is_file()
    result = runner.invoke(app, ["cofinancing", "--warehouse", str(warehouse), "--periode", "uke"])
    assert result.exit_code != 0
    result = runner.invoke(app, ["explain", "nope", "--warehouse", str(warehouse)])
    assert result.exit_code != 0
