"""Relations the instruments join in SQL: rule tables, reference data and a calendar.

Every rule table is registered as ``rule_<id with dots as underscores>`` with the columns of
:meth:`RuleTable.to_arrow` (rule_id, rule_version, key, valid_from, valid_to, value, status,
source), so that SQL picks the row in force on a date with ``d BETWEEN valid_from AND valid_to``.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from samhandling.engine import Engine
from samhandling.refdata import health_trusts, municipality_years
from samhandling.refdata.drg import drgs
from samhandling.rules import RuleSet

MONEY = pa.decimal128(18, 2)
SHARE = pa.decimal128(9, 4)
POINTS = pa.decimal128(9, 3)

# The calendar covers the scheme years and "today" with room to spare.
_CALENDAR_FIRST_YEAR = 2000
_CALENDAR_LAST_YEAR = 2040


def rule_relation(rule_id: str) -> str:
    """The relation name a rule table is registered under."""
    return "rule_" + rule_id.replace(".", "_")


def register_rule(
    engine: Engine, rules: RuleSet, rule_id: str, value_type: pa.DataType | None = None
) -> str:
    """Register one rule table (values cast to ``value_type``) and return its relation name."""
    name = rule_relation(rule_id)
    engine.register_arrow(name, rules[rule_id].to_arrow(value_type))
    return name


def rule_versions(rules: RuleSet, rule_ids: tuple[str, ...]) -> str:
    """``id vN`` for each rule, as printed on every output."""
    return "; ".join(f"{rid} v{rules[rid].version}" for rid in rule_ids)


@cache
def _months() -> pa.Table:
    starts: list[date] = []
    ends: list[date] = []
    for year in range(_CALENDAR_FIRST_YEAR, _CALENDAR_LAST_YEAR + 1):
        for month in range(1, 13):
            starts.append(date(year, month, 1))
            ends.append(date(year + (month == 12), month % 12 + 1, 1))
    return pa.table(
        {
            "month_start": pa.array(starts, pa.date32()),
            "next_month_start": pa.array(ends, pa.date32()),
        }
    )


@cache
def _days() -> pa.Table:
    first = date(_CALENDAR_FIRST_YEAR, 1, 1)
    count = (date(_CALENDAR_LAST_YEAR, 12, 31) - first).days + 1
    return pa.table(
        {"day": pa.array([first + timedelta(days=i) for i in range(count)], pa.date32())}
    )


def register_days(engine: Engine) -> str:
    """Register ``calendar_days`` (day) and return its name: rules are resolved per day on it."""
    if not engine.has_relation("calendar_days"):  # reference data: register once per engine
        engine.register_arrow("calendar_days", _days())
    return "calendar_days"


def register_calendar(engine: Engine) -> str:
    """Register ``calendar_months`` (month_start, next_month_start) and return its name."""
    if not engine.has_relation("calendar_months"):  # reference data: register once per engine
        engine.register_arrow("calendar_months", _months())
    return "calendar_months"


@cache
def _trust_tree() -> pa.Table:
    trusts = health_trusts()
    orgnr_list = [str(o) for o in trusts["orgnr"].to_pylist()]
    parents: dict[str, str | None] = {
        o: (None if p is None else str(p))
        for o, p in zip(orgnr_list, trusts["parent_orgnr"].to_pylist(), strict=True)
    }
    names: dict[str, str] = {
        o: (o if n is None else str(n))
        for o, n in zip(orgnr_list, trusts["short_name"].to_pylist(), strict=True)
    }
    orgnrs: list[str] = []
    rhfs: list[str] = []
    rhf_names: list[str] = []
    for orgnr in orgnr_list:
        top = orgnr
        # Climb to the top of the tree: the RHF (level 1, no parent).
        while (parent := parents.get(top)) is not None:
            top = parent
        orgnrs.append(orgnr)
        rhfs.append(top)
        rhf_names.append(names.get(top, top))
    return pa.table(
        {
            "health_trust": pa.array(orgnrs, pa.string()),
            "health_trust_name": pa.array([names.get(o, o) for o in orgnrs], pa.string()),
            "rhf": pa.array(rhfs, pa.string()),
            "rhf_name": pa.array(rhf_names, pa.string()),
        }
    )


def register_trusts(engine: Engine) -> str:
    """Register ``trust_tree`` (health_trust, health_trust_name, rhf, rhf_name)."""
    if not engine.has_relation("trust_tree"):  # reference data: register once per engine
        engine.register_arrow("trust_tree", _trust_tree())
    return "trust_tree"


@cache
def _drg_mdc() -> pa.Table:
    table = drgs()
    return pa.table({"drg": table["drg"], "drg_mdc": table["mdc"]})


def register_drg_mdc(engine: Engine) -> str:
    """Register ``drg_mdc`` (drg, drg_mdc): the MDC of each DRG from :func:`refdata.drg.drgs`."""
    if not engine.has_relation("drg_mdc"):  # reference data: register once per engine
        engine.register_arrow("drg_mdc", _drg_mdc())
    return "drg_mdc"


@cache
def _municipality_years() -> pa.Table:
    table = municipality_years()
    return pa.table(
        {
            "year": pc.cast(table["year"], pa.int32()),
            "municipality": table["municipality"],
            "municipality_name": table["name"],
        }
    )


def register_municipalities(engine: Engine) -> str:
    """Register ``municipality_years`` (year, municipality, municipality_name)."""
    if not engine.has_relation("municipality_years"):  # reference data: register once per engine
        engine.register_arrow("municipality_years", _municipality_years())
    return "municipality_years"
