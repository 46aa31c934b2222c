"""Monitoring of the agreements per RHF and HF area (følge med), as Helsedirektoratet did.

For a chosen day, every municipality valid that year is placed in its catchment area (HF, RHF)
and compared with the agreements in force that day (seed 001, "Følge-med funksjon for
samarbeidsavtalene"):

- with an agreement: at least one part of an agreement in force covers the municipality;
- with an overall agreement: the overall agreement (overordnet avtale) is in force;
- missing: the statutory points in the law on that day without a sub-agreement in force;
  overdue: missing points whose deadline (``agreements.deadlines``) has passed;
  late: points in force whose sub-agreement was signed after the deadline;
- joint or single: whether the agreements covering it are joint (several municipalities),
  single, or both;
- recommended (avvik, tvist, kvalitet) and other sub-agreements in force.

The registry is small (a few thousand rows), so this runs in Python on the operational store,
not on the analytical engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from samhandling.refdata import catchment, names
from samhandling.registries.agreements.domain import (
    OTHER,
    OVERALL,
    RULE_DEADLINES,
    RULE_RECOMMENDED,
    RULE_STATUTORY,
    Agreement,
)
from samhandling.registries.agreements.registry import agreements as all_agreements
from samhandling.rules import RuleSet, load_rules
from samhandling.store import Store

__all__ = [
    "AreaSummary",
    "Monitoring",
    "MunicipalityStatus",
    "PointInfo",
    "monitor",
    "monitor_agreements",
]

Form = Literal["felles", "enkelt", "begge", ""]


@dataclass(frozen=True)
class PointInfo:
    """A statutory point in the law on the monitoring day, with its deadline."""

    key: str
    name: str
    deadline: date | None
    unverified: bool


@dataclass(frozen=True)
class MunicipalityStatus:
    """One municipality's agreements on the monitoring day."""

    municipality: str
    name: str
    hf_orgnr: str
    hf_name: str
    rhf_orgnr: str
    rhf_name: str
    agreement_ids: tuple[int, ...]
    has_overall: bool
    form: Form
    signed: tuple[tuple[str, date], ...]  # statutory point -> earliest signing date in force
    missing: tuple[str, ...]
    overdue: tuple[str, ...]
    late: tuple[str, ...]
    recommended: tuple[str, ...]
    other: tuple[str, ...]

    @property
    def has_agreement(self) -> bool:
        return bool(self.agreement_ids)

    @property
    def complete(self) -> bool:
        """Every statutory point in the law that day has a sub-agreement in force."""
        return self.has_agreement and not self.missing


@dataclass(frozen=True)
class AreaSummary:
    """Counts of municipalities for one RHF or HF area (or the whole country)."""

    level: Literal["RHF", "HF", "Landet"]
    orgnr: str
    name: str
    rhf_name: str
    municipalities: int
    with_agreement: int
    with_overall: int
    joint: int  # covered by a joint agreement (also counted when it has a single one too)
    single: int  # covered by a single agreement (likewise)
    complete: int
    missing_any: int
    overdue_any: int
    missing_by_point: tuple[tuple[str, int], ...]
    recommended: tuple[tuple[str, int], ...]
    with_other: int


@dataclass(frozen=True)
class Monitoring:
    """The monitoring of one day: per municipality, per HF, per RHF and for the country."""

    on: date
    rule_set: str
    points: tuple[PointInfo, ...]
    recommended_names: tuple[tuple[str, str], ...]
    municipalities: tuple[MunicipalityStatus, ...]
    by_hf: tuple[AreaSummary, ...]
    by_rhf: tuple[AreaSummary, ...]
    country: AreaSummary
    outside_catchment: tuple[str, ...]  # parties not valid that year (e.g. merged since)
    unverified: bool


def _points(on: date, rules: RuleSet) -> tuple[PointInfo, ...]:
    statutory = rules[RULE_STATUTORY].keys_on(on)
    deadlines = rules[RULE_DEADLINES].keys_on(on)
    result = []
    for key in sorted(statutory, key=int):
        row = statutory[key]
        deadline = deadlines.get(key)
        result.append(
            PointInfo(
                key=key,
                name=row.value,
                deadline=None if deadline is None else date.fromisoformat(deadline.value),
                unverified=row.status == "unverified"
                or (deadline is not None and deadline.status == "unverified"),
            )
        )
    return tuple(result)


def monitor_agreements(
    items: Sequence[Agreement], on: date, rules: RuleSet | None = None
) -> Monitoring:
    """The monitoring of ``items`` (all registered agreements) on ``on``."""
    rules = rules or load_rules()
    points = _points(on, rules)
    point_keys = [p.key for p in points]
    recommended = rules[RULE_RECOMMENDED].keys_on(on)
    area = catchment(on.year).to_pylist()
    municipality_names = names(on.year)
    valid = {row["municipality"] for row in area}

    covering: dict[str, list[tuple[int, bool]]] = {}
    parts_of: dict[str, list[tuple[str, str, date]]] = {}
    outside: set[str] = set()
    for item in items:
        revision = item.in_force(on)
        if revision is None:
            continue
        in_force = [p for p in revision.parts if p.in_force(on)]
        if not in_force:
            continue
        for code in revision.municipalities:
            if code not in valid:
                outside.add(code)
                continue
            covering.setdefault(code, []).append((item.id, revision.joint))
            parts_of.setdefault(code, []).extend((p.key, p.title, p.signed_on) for p in in_force)

    statuses: list[MunicipalityStatus] = []
    for row in area:
        code = row["municipality"]
        cover = covering.get(code, [])
        kinds = {joint for _, joint in cover}
        form: Form = ""
        if len(kinds) == 2:
            form = "begge"
        elif kinds:
            form = "felles" if True in kinds else "enkelt"
        signed: dict[str, date] = {}
        recs: set[str] = set()
        others: set[str] = set()
        overall = False
        for key, title, signed_on in parts_of.get(code, []):
            if key == OVERALL:
                overall = True
            elif key == OTHER:
                others.add(title)
            elif key in recommended:
                recs.add(key)
            elif key in point_keys and (key not in signed or signed_on < signed[key]):
                signed[key] = signed_on
        missing = tuple(k for k in point_keys if k not in signed)
        overdue = tuple(
            p.key for p in points if p.key in missing and p.deadline is not None and on > p.deadline
        )
        late = tuple(
            p.key
            for p in points
            if p.key in signed and p.deadline is not None and signed[p.key] > p.deadline
        )
        statuses.append(
            MunicipalityStatus(
                municipality=code,
                name=municipality_names.get(code, code),
                hf_orgnr=row["hf_orgnr"],
                hf_name=row["hf_name"],
                rhf_orgnr=row["rhf_orgnr"],
                rhf_name=row["rhf_name"],
                agreement_ids=tuple(sorted({i for i, _ in cover})),
                has_overall=overall,
                form=form,
                signed=tuple((k, signed[k]) for k in point_keys if k in signed),
                missing=missing,
                overdue=overdue,
                late=late,
                recommended=tuple(sorted(recs)),
                other=tuple(sorted(others)),
            )
        )

    def summary(
        level: Literal["RHF", "HF", "Landet"],
        orgnr: str,
        name: str,
        rhf_name: str,
        group: list[MunicipalityStatus],
    ) -> AreaSummary:
        return AreaSummary(
            level=level,
            orgnr=orgnr,
            name=name,
            rhf_name=rhf_name,
            municipalities=len(group),
            with_agreement=sum(s.has_agreement for s in group),
            with_overall=sum(s.has_overall for s in group),
            joint=sum(s.form in ("felles", "begge") for s in group),
            single=sum(s.form in ("enkelt", "begge") for s in group),
            complete=sum(s.complete for s in group),
            missing_any=sum(bool(s.missing) for s in group),
            overdue_any=sum(bool(s.overdue) for s in group),
            missing_by_point=tuple((k, sum(k in s.missing for s in group)) for k in point_keys),
            recommended=tuple(
                (k, sum(k in s.recommended for s in group)) for k in sorted(recommended)
            ),
            with_other=sum(bool(s.other) for s in group),
        )

    hfs: dict[str, list[MunicipalityStatus]] = {}
    rhfs: dict[str, list[MunicipalityStatus]] = {}
    for s in statuses:
        hfs.setdefault(s.hf_orgnr, []).append(s)
        rhfs.setdefault(s.rhf_orgnr, []).append(s)
    by_hf = tuple(
        sorted(
            (summary("HF", k, g[0].hf_name, g[0].rhf_name, g) for k, g in hfs.items()),
            key=lambda a: (a.rhf_name, a.name),
        )
    )
    by_rhf = tuple(
        sorted(
            (summary("RHF", k, g[0].rhf_name, g[0].rhf_name, g) for k, g in rhfs.items()),
            key=lambda a: a.name,
        )
    )
    return Monitoring(
        on=on,
        rule_set=rules.label,
        points=points,
        recommended_names=tuple((k, recommended[k].value) for k in sorted(recommended)),
        municipalities=tuple(statuses),
        by_hf=by_hf,
        by_rhf=by_rhf,
        country=summary("Landet", "", "Hele landet", "", statuses),
        outside_catchment=tuple(sorted(outside)),
        unverified=any(p.unverified for p in points),
    )


def monitor(store: Store, on: date, rules: RuleSet | None = None) -> Monitoring:
    """The monitoring on ``on`` of every agreement in the registry."""
    return monitor_agreements(all_agreements(store), on, rules)
