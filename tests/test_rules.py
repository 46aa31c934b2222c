"""Rule tables: loading, dated look-up, validation of the files, overrides."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from samhandling.errors import RuleError
from samhandling.rules import load_rules


def test_daily_rate_by_calendar_day() -> None:
    rules = load_rules()
    rate = rules["discharge_ready.daily_rate"]
    assert rate.value_on(date(2012, 12, 31)).decimal == Decimal("4000")
    assert rate.value_on(date(2013, 1, 1)).decimal == Decimal("4125")
    assert rate.value_on(date(2024, 6, 1)).decimal == Decimal("5745")
    assert rate.value_on(date(2012, 5, 1)).status == "confirmed"  # SSB's word explanation
    assert rate.value_on(date(2013, 5, 1)).status == "unverified"
    assert rate.value_on(date(2014, 5, 1)).status == "confirmed"
    assert rate.status == "unverified"  # one row (2013) is


def test_no_value_outside_validity() -> None:
    with pytest.raises(RuleError, match="no value on 2011-12-31"):
        load_rules()["discharge_ready.daily_rate"].value_on(date(2011, 12, 31))


def test_every_shipped_rule_has_sources_and_label() -> None:
    rules = load_rules()
    assert rules.label == f"{rules.name} {rules.version}"
    for table in rules.tables.values():
        assert table.rows, table.rule_id
        assert all(r.source for r in table.rows), table.rule_id
        assert table.name_no, table.rule_id


def test_to_arrow_for_joins() -> None:
    table = load_rules()["discharge_ready.daily_rate"].to_arrow(pa.decimal128(18, 2))
    assert table.schema.field("value").type == pa.decimal128(18, 2)
    assert table.column("valid_from").to_pylist()[0] == date(2012, 1, 1)


def test_override_replaces_exactly_one_rule(tmp_path: Path) -> None:
    override = tmp_path / "what-if.toml"
    override.write_text(
        """
[rules."discharge_ready.daily_rate"]
[[rules."discharge_ready.daily_rate".values]]
valid_from = 2012-01-01
valid_to = 2012-12-31
value = "5000"
status = "unverified"
source = "what-if"
""",
        encoding="utf-8",
    )
    standard = load_rules()
    overridden = load_rules(override)
    rate = overridden["discharge_ready.daily_rate"]
    assert rate.value_on(date(2012, 3, 1)).decimal == Decimal("5000")
    assert "+override-" in rate.version
    assert "override" in overridden.label and overridden.label != standard.label
    for rule_id, table in standard.tables.items():
        if rule_id != "discharge_ready.daily_rate":
            assert overridden[rule_id] == table


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "[rules.nope]\n[[rules.nope.values]]\nvalid_from = 2012-01-01\nvalue = '1'\n"
            "status = 'confirmed'\nsource = 'x'\n",
            "unknown rule",
        ),
        (
            '[rules."discharge_ready.daily_rate"]\n[[rules."discharge_ready.daily_rate".values]]\n'
            "valid_from = 2012-01-01\nvalue = '1'\nstatus = 'maybe'\nsource = 'x'\n",
            "status",
        ),
        (
            '[rules."discharge_ready.daily_rate"]\n[[rules."discharge_ready.daily_rate".values]]\n'
            "valid_from = 2012-01-01\nvalue = '1'\nstatus = 'confirmed'\n",
            "source",
        ),
        (
            '[rules."discharge_ready.daily_rate"]\n'
            '[[rules."discharge_ready.daily_rate".values]]\nvalid_from = 2012-01-01\n'
            "valid_to = 2012-12-31\nvalue = '1'\nstatus = 'confirmed'\nsource = 'x'\n"
            '[[rules."discharge_ready.daily_rate".values]]\nvalid_from = 2012-06-01\n'
            "value = '2'\nstatus = 'confirmed'\nsource = 'x'\n",
            "overlap",
        ),
        ("not toml ===", "not valid TOML"),
    ],
)
def test_bad_override_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    override = tmp_path / "bad.toml"
    override.write_text(body, encoding="utf-8")
    with pytest.raises(RuleError, match=message):
        load_rules(override)


def test_rules_are_read_for_the_datas_last_day() -> None:
    from samhandling.rules import rules_day

    assert rules_day([2013, 2012, 2021]) == date(2021, 12, 31)
    with pytest.raises(RuleError, match="ingen dataår"):
        rules_day([])


def test_a_code_introduced_later_keeps_its_first_name() -> None:
    destinations = load_rules()["indicators.discharge_destinations"]
    # KAD came into use on 1 January 2012: on the last day of 2011 it is not in force, yet a
    # table of 2011 still names it (with the name it is introduced with), and the names in
    # force on that day are those of the day.
    assert "kad" not in destinations.keys_on(date(2011, 12, 31))
    names = destinations.names_on(date(2011, 12, 31))
    assert names["kad"].valid_from == date(2012, 1, 1)
    assert names["kad"].value == "Kommunalt akutt døgnopphold (KAD)"
    on_day = destinations.keys_on(date(2011, 12, 31))
    assert {k: names[k] for k in on_day} == on_day
