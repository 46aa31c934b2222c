"""Shared helpers of the indicator families: rule values and grouping columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from samhandling.engine import Engine
from samhandling.engine.dialect import quote_ident
from samhandling.errors import SamhandlingError
from samhandling.rules import RuleSet, rules_day

GROUPS = (
    "residence",
    "year",
    "month",
    "sex",
    "age",
    "sector",
    "care_level",
    "urgency",
    "drg_type",
    "discharged_to",
    "icd_chapter",
    "icd_block",
    "health_trust",
)


def group_columns(by: Sequence[str], alias: str = "f") -> tuple[str, str]:
    """SELECT list and GROUP BY list for grouping columns of ``contact_facts``."""
    for column in by:
        if column not in GROUPS:
            raise ValueError(f"cannot group indicators by {column!r}; choose from {GROUPS}")
    cols = [f"{alias}.{quote_ident(c)}" for c in by]
    select = ", ".join(f"{c} AS {b}" for c, b in zip(cols, by, strict=True))
    return (select + ", ") if select else "", ", ".join(cols)


def population_sql(where: str = "TRUE", relation: str = "population") -> str:
    """The ``population`` relation (or ``relation``, of the same columns) with municipality
    codes in the contact facts' borders.

    ``population`` holds each year in that year's codes; the facts' residence is in one chosen
    year's borders. Joined through ``fact_residence`` (the mapping the facts were built with,
    registered by :func:`samhandling.indicators.facts.register_contact_facts`), so that a
    numerator and its denominator count the same municipality. Columns: year, municipality,
    sex, age, count.
    """
    return (
        "SELECT p.year, COALESCE(r.residence, p.municipality) AS municipality, p.sex, p.age, "
        f"p.count FROM {quote_ident(relation)} AS p LEFT JOIN fact_residence AS r "
        f"ON r.year = p.year AND r.municipality = p.municipality WHERE {where}"
    )


def rule_int(rules: RuleSet, rule_id: str, key: str | None = None, *, on: date) -> int:
    """An integer rule value in force on ``on`` (a day of the data's period)."""
    return int(rules[rule_id].value_on(on, key).decimal)


def code_prefixes(rules: RuleSet, rule_id: str, *, on: date) -> dict[str, list[str]]:
    """Keyed code-list rule in force on ``on`` as {group: [ICD-10 prefixes]}."""
    rows = rules[rule_id].keys_on(on)
    return {k: r.value.split() for k, r in sorted(rows.items())}


def facts_day(engine: Engine, relation: str = "contact_facts") -> date:
    """The day rules are read for in a computation over ``relation`` (its ``year`` column):
    the last day of its latest year (:func:`~samhandling.rules.rules_day`)."""
    got = engine.query(f"SELECT DISTINCT year FROM {quote_ident(relation)}")
    years = [int(y) for y in got.column("year").to_pylist() if y is not None]
    if not years:
        raise SamhandlingError(f"Ingen rader i {relation}: ingen periode å lese reglene for")
    return rules_day(years)


def prefix_case(column: str, groups: dict[str, list[str]]) -> str:
    """CASE expression naming the first group whose prefix ``column`` starts with."""
    whens = []
    for group, prefixes in groups.items():
        cond = " OR ".join(f"{column} LIKE '{p}%'" for p in prefixes if p.isalnum())
        whens.append(f"WHEN {cond} THEN '{group}'")
    return "CASE " + " ".join(whens) + " ELSE NULL END"
