"""Funding of emergency 24-hour beds: the 2012–2015 grant scheme, then the block grant.

2012–2015 (phase-in, seed 001): a unit's computed cost is beds in force × days open ×
``emergency_beds.daily_cost``; half (``emergency_beds.funding_shares``) is an earmarked grant
from Helsedirektoratet, half a transfer from the health trust. A municipality applies once, in
the year it establishes the offer; the application counts from the day it was complete, i.e.
received with a signed agreement on point 4 (sub-agreement on the emergency beds) attached, so
the effective day is the later of the application day and the signing day. The grant runs from
the first scheme year whose deadline (``emergency_beds.application_deadline``) the effective day
meets, and continues automatically after. No signed point-4 agreement: no grant. From 2016 the
money is in the block grant (``emergency_beds.block_grant_total``): the platform estimates each
municipality's part by ``emergency_beds.block_grant_key``.

An inter-municipal unit's amounts are divided between its municipalities by
``emergency_beds.intermunicipal_split``; a participant without a signed point 4 loses its part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from samhandling.errors import RuleError
from samhandling.registries.emergency_beds.units import Unit
from samhandling.rules import RuleSet
from samhandling.store import Store

__all__ = [
    "GRANT_RULES",
    "AgreementLookup",
    "BlockGrantLine",
    "GrantLine",
    "agreement_lookup",
    "block_grant_lines",
    "grant_lines",
    "scheme_years",
]

GRANT_RULES: tuple[str, ...] = (
    "emergency_beds.application_deadline",
    "emergency_beds.daily_cost",
    "emergency_beds.funding_shares",
    "emergency_beds.intermunicipal_split",
    "emergency_beds.block_grant_total",
    "emergency_beds.block_grant_key",
)
# (municipality, point, on) -> the day point ``point`` was signed, if signed by ``on``.
AgreementLookup = Callable[[str, str, date], date | None]
POINT_EMERGENCY_BEDS = "4"
_ORE = Decimal("0.01")

REASONS = {
    "granted": "Tilskudd",
    "not_applied": "Ikke søkt",
    "no_agreement": "Mangler signert delavtale 4",
    "no_registry": "Avtaleregisteret er ikke tilgjengelig: delavtale 4 kan ikke kontrolleres",
    "deadline_missed": "Søknadsfristen er oversittet for året",
    "not_open": "Enheten var ikke åpen i året",
}


def agreement_lookup(store: Store) -> AgreementLookup | None:
    """``point_signed`` of the agreements registry bound to ``store``; ``None`` without one."""
    try:
        from samhandling.registries.agreements import point_signed
    except ImportError:
        return None

    def lookup(municipality: str, point: str, on: date) -> date | None:
        signed: date | None = point_signed(store, municipality, point, on)
        return signed

    return lookup


def scheme_years(rules: RuleSet) -> list[int]:
    """Years of the earmarked grant: those with an application deadline."""
    rows = rules["emergency_beds.application_deadline"].rows
    return sorted({y for r in rows for y in range(r.valid_from.year, r.valid_to.year + 1)})


@dataclass(frozen=True)
class GrantLine:
    """One municipality's part of one unit's funding in one scheme year."""

    year: int
    unit_id: int
    unit_name: str
    municipality: str
    host: bool
    health_trust: str
    share: Decimal
    capacity_days: int
    daily_cost: Decimal
    grant: Decimal
    health_trust_part: Decimal
    reason: str
    effective_application: date | None
    first_grant_year: int | None
    unverified: bool
    rule_versions: str

    @property
    def total(self) -> Decimal:
        return self.grant + self.health_trust_part


@dataclass(frozen=True)
class BlockGrantLine:
    """A municipality's estimated part of the national amount in the block grant."""

    year: int
    municipality: str
    population: int
    national_population: int
    national_amount: Decimal
    amount: Decimal
    unverified: bool
    rule_versions: str


def _versions(rules: RuleSet) -> str:
    return "; ".join(f"{r} v{rules[r].version}" for r in GRANT_RULES)


def _deadline(rules: RuleSet, year: int) -> date:
    return date.fromisoformat(
        rules["emergency_beds.application_deadline"].value_on(date(year, 1, 1)).value
    )


def _first_grant_year(rules: RuleSet, unit: Unit, effective: date) -> int | None:
    for year in scheme_years(rules):
        if year < unit.opened_on.year:
            continue
        if effective <= _deadline(rules, year):
            return year
    return None


def _split(total: Decimal, weights: dict[str, int]) -> dict[str, Decimal]:
    """Share ``total`` by ``weights`` to the øre, largest remainder, parts summing to total."""
    whole = sum(weights.values())
    if whole <= 0:
        equal = dict.fromkeys(weights, 1)
        return _split(total, equal)
    cents = int((total / _ORE).to_integral_value(ROUND_HALF_UP))
    raw = {k: Decimal(cents) * w / whole for k, w in weights.items()}
    floors = {k: int(v) for k, v in raw.items()}
    left = cents - sum(floors.values())
    for k in sorted(raw, key=lambda k: (raw[k] - floors[k], k), reverse=True)[:left]:
        floors[k] += 1
    return {k: Decimal(v) * _ORE for k, v in floors.items()}


def _weights(
    rules: RuleSet, unit: Unit, year: int, population: Callable[[int], dict[str, int]]
) -> dict[str, int]:
    method = rules["emergency_beds.intermunicipal_split"].value_on(date(year, 1, 1)).value
    if not unit.participants or method == "host":
        return {m: (1 if m == unit.host_municipality else 0) for m in unit.municipalities}
    if method != "population":
        raise RuleError(f"emergency_beds.intermunicipal_split: unknown method {method!r}")
    people = population(year)
    return {m: people.get(m, 0) for m in unit.municipalities}


def grant_lines(
    units: Sequence[Unit],
    rules: RuleSet,
    years: Sequence[int],
    lookup: AgreementLookup | None,
    population: Callable[[int], dict[str, int]],
) -> list[GrantLine]:
    """Every municipality's part of every unit's funding in the scheme years among ``years``.

    ``lookup`` answers whether point 4 was signed (see :func:`agreement_lookup`; tests pass
    hand-made functions); ``population(year)`` gives inhabitants 1 January per municipality.
    """
    wanted = [y for y in sorted(set(years)) if y in scheme_years(rules)]
    lines: list[GrantLine] = []
    versions = _versions(rules)
    for unit in units:
        for year in wanted:
            first, until = date(year, 1, 1), date(year + 1, 1, 1)
            last_day = date(year, 12, 31)
            if unit.days_open(first, until) == 0:
                continue
            cost_row = rules["emergency_beds.daily_cost"].value_on(first)
            shares = rules["emergency_beds.funding_shares"]
            grant_share = shares.value_on(first, "grant").decimal
            trust_share = shares.value_on(first, "health_trust").decimal
            weights = _weights(rules, unit, year, population)
            signed = {
                m: (None if lookup is None else lookup(m, POINT_EMERGENCY_BEDS, last_day))
                for m in unit.municipalities
            }
            host_signed = signed[unit.host_municipality]
            effective = (
                None
                if unit.applied_on is None or host_signed is None
                else max(unit.applied_on, host_signed)
            )
            first_year = None if effective is None else _first_grant_year(rules, unit, effective)
            capacity = unit.capacity_days(first, until)
            cost = Decimal(capacity) * cost_row.decimal
            grant_parts = _split(cost * grant_share, weights)
            trust_parts = _split(cost * trust_share, weights)
            unverified = cost_row.status == "unverified" or any(
                r.status == "unverified"
                for r in rules["emergency_beds.intermunicipal_split"].rows
                if unit.participants
            )
            for m in unit.municipalities:
                if lookup is None:
                    reason = "no_registry"
                elif unit.applied_on is None:
                    reason = "not_applied"
                elif signed[m] is None or host_signed is None:
                    reason = "no_agreement"
                elif first_year is None or year < first_year:
                    reason = "deadline_missed"
                else:
                    reason = "granted"
                paid = reason == "granted"
                lines.append(
                    GrantLine(
                        year=year,
                        unit_id=unit.id,
                        unit_name=unit.name,
                        municipality=m,
                        host=m == unit.host_municipality,
                        health_trust=unit.health_trust,
                        share=(
                            Decimal(weights[m]) / Decimal(sum(weights.values()))
                            if sum(weights.values())
                            else Decimal(0)
                        ),
                        capacity_days=capacity,
                        daily_cost=cost_row.decimal,
                        grant=grant_parts[m] if paid else Decimal("0.00"),
                        health_trust_part=trust_parts[m] if paid else Decimal("0.00"),
                        reason=reason,
                        effective_application=effective,
                        first_grant_year=first_year,
                        unverified=unverified,
                        rule_versions=versions,
                    )
                )
    return lines


def block_grant_lines(
    rules: RuleSet,
    year: int,
    municipalities: Sequence[str],
    population: Callable[[int], dict[str, int]],
) -> list[BlockGrantLine]:
    """Estimated block-grant parts for ``municipalities`` in ``year`` (empty without a row)."""
    day = date(year, 1, 1)
    total_rule = rules["emergency_beds.block_grant_total"]
    if not any(r.covers(day) for r in total_rule.rows):
        return []
    total = total_rule.value_on(day)
    key = rules["emergency_beds.block_grant_key"].value_on(day)
    if key.value != "population":
        raise RuleError(f"emergency_beds.block_grant_key: unknown method {key.value!r}")
    people = population(year)
    national = sum(people.values())
    unverified = total.status == "unverified" or key.status == "unverified"
    lines: list[BlockGrantLine] = []
    for m in sorted(set(municipalities)):
        own = people.get(m, 0)
        amount = (
            (total.decimal * own / national).quantize(_ORE, ROUND_HALF_UP)
            if national
            else Decimal(0)
        )
        lines.append(
            BlockGrantLine(
                year, m, own, national, total.decimal, amount, unverified, _versions(rules)
            )
        )
    return lines


def refdata_population(year: int) -> dict[str, int]:
    """Inhabitants 1 January per municipality in the year's own borders (SSB, refdata)."""
    from samhandling.refdata.population import population

    table = population([year], borders=year).group_by("municipality").aggregate([("count", "sum")])
    return dict(
        zip(
            [str(m) for m in table["municipality"].to_pylist()],
            [int(c or 0) for c in table["count_sum"].to_pylist()],
            strict=True,
        )
    )
