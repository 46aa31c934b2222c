"""CSV and XLSX exports: line items, totals, the rule set and unverified values on the sheet."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pytest
from openpyxl import load_workbook

from samhandling.engine import DuckDBEngine
from samhandling.errors import ConfigError
from samhandling.instruments import (
    discharge_ready_invoices,
    discharge_ready_lines,
    export_csv,
    export_table,
    export_xlsx,
)
from samhandling.instruments.discharge_ready import DISCHARGE_READY_RULES
from samhandling.instruments.frames import contract_table
from samhandling.rules import load_rules

STAY: dict[str, Any] = {
    "patient_id": "p",
    "birth_year": 1930,
    "sex": 1,
    "municipality": "0301",
    "health_trust": "993467049",
    "provider_type": "public",
    "sector": "somatic",
    "care_level": "inpatient",
    "urgency": "emergency",
    "main_diagnosis": "S72",
}


def _data(engine: DuckDBEngine) -> None:
    stays, events = [], []
    # 2013 (rate 4 125, unverified): 5 days; 2014 (4 255, confirmed): 5 days
    for year in (2013, 2014):
        sid = f"s{year}"
        ready = datetime(year, 3, 10, 9)
        stays.append(
            {
                **STAY,
                "episode_id": sid,
                "admitted_at": datetime(year, 3, 1, 8),
                "discharged_at": datetime(year, 3, 15, 12),
            }
        )
        for i, (kind, at) in enumerate(
            [
                ("admission_notified", datetime(year, 3, 1, 9)),
                ("discharge_ready", ready),
                ("discharge_ready_notified", ready + timedelta(hours=1)),
            ]
        ):
            events.append({"event_id": f"{sid}-{i}", "episode_id": sid, "type": kind, "at": at})
    engine.register_arrow("episodes", contract_table("episodes", stays))
    engine.register_arrow("events", contract_table("events", events))


def test_xlsx_has_lines_totals_rule_set_and_marks(tmp_path: Path) -> None:
    rules = load_rules()
    with DuckDBEngine() as engine:
        _data(engine)
        lines = discharge_ready_lines(engine, rules)
        invoices = discharge_ready_invoices(engine, rules)
    path = export_xlsx(
        tmp_path / "faktura.xlsx",
        {"Linjer": lines, "Fakturaer": invoices},
        rules,
        rule_ids=DISCHARGE_READY_RULES,
        title="Utskrivningsklare",
    )
    book = load_workbook(path)
    assert book.sheetnames == ["Linjer", "Fakturaer", "Regelsett"]
    sheet = book["Fakturaer"]
    assert rules.label in str(sheet["A1"].value)
    header = [c.value for c in sheet[2]]
    amount_col = header.index("amount")
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert [r[amount_col] for r in rows[:2]] == [20625, 21275]  # 5 × 4 125, 5 × 4 255
    assert rows[2][0] == "Sum"
    assert rows[2][amount_col] == Decimal("41900.00")
    assert sheet.cell(row=3, column=1).fill.fill_type == "solid"  # 2013 rate unverified
    assert sheet.cell(row=4, column=1).fill.fill_type is None
    assert any("ikke er verifisert" in str(r[0]) for r in rows if r[0])
    meta = [[c.value for c in row] for row in book["Regelsett"].iter_rows()]
    assert meta[0][:2] == ["Regelsett", rules.label]
    rate_2013 = next(r for r in meta if r[0] == "discharge_ready.daily_rate" and r[6] == "4125")
    assert rate_2013[7] == "unverified"


def test_csv_round_trip_keeps_ore_and_rule_set(tmp_path: Path) -> None:
    rules = load_rules()
    with DuckDBEngine() as engine:
        _data(engine)
        lines = discharge_ready_lines(engine, rules)
    path = export_csv(lines, tmp_path / "linjer.csv")
    back = pacsv.read_csv(path)
    assert back.column("rule_set").to_pylist() == [rules.label, rules.label]
    text = path.read_text("utf-8")
    assert "20625.00" in text
    assert "21275.00" in text
    assert export_table(lines, tmp_path / "x.xlsx", rules).is_file()
    with pytest.raises(ConfigError):
        export_table(lines, tmp_path / "x.pdf", rules)
