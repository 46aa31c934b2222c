"""The registry of emergency-bed units (KAD-enheter) in the operational store, with validation.

A unit is open from ``opened_on`` up to, not including, ``closed_on``. It serves its host
municipality and, when inter-municipal, its participants; on any day a municipality may be
served by at most one open unit, so that every stay has one unit. Beds are a dated history:
:func:`change_beds` adds a row, nothing is overwritten. Every problem with an input is reported
at once, in Norwegian (:class:`UnitValidationError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache

from sqlalchemy import delete, select

from samhandling.errors import SamhandlingError
from samhandling.rules import RuleSet
from samhandling.store import Store
from samhandling.store.emergency_beds import BedCountRow, ParticipantRow, UnitRow

__all__ = [
    "BedCount",
    "Unit",
    "UnitInput",
    "UnitNotFoundError",
    "UnitValidationError",
    "change_beds",
    "delete_unit",
    "get_unit",
    "list_units",
    "register_unit",
    "units_fingerprint",
    "update_unit",
]

FAR_FUTURE = date(9999, 12, 31)


class UnitValidationError(SamhandlingError):
    """One or more problems with a unit; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class UnitNotFoundError(SamhandlingError):
    """No unit with that id."""


@dataclass(frozen=True)
class BedCount:
    """Beds in force from ``valid_from`` (until the next count of the unit)."""

    valid_from: date
    beds: int
    recorded_at: datetime | None = None
    recorded_by: str = ""


@dataclass(frozen=True)
class Unit:
    """A unit with emergency 24-hour beds (KAD-enhet) as the rest of the platform sees it."""

    id: int
    name: str
    host_municipality: str
    health_trust: str
    opened_on: date
    closed_on: date | None
    patient_groups: tuple[str, ...]
    applied_on: date | None
    participants: tuple[str, ...] = ()
    bed_counts: tuple[BedCount, ...] = ()
    updated_by: str = ""
    updated_at: datetime | None = None

    @property
    def municipalities(self) -> tuple[str, ...]:
        """The host first, then the participants: every municipality the unit serves."""
        return (self.host_municipality, *self.participants)

    @property
    def intermunicipal(self) -> bool:
        return bool(self.participants)

    def open_on(self, day: date) -> bool:
        return self.opened_on <= day < (self.closed_on or FAR_FUTURE)

    def beds_on(self, day: date) -> int:
        """Beds in force on ``day`` (0 when the unit is not open)."""
        if not self.open_on(day):
            return 0
        beds = 0
        for count in sorted(self.bed_counts, key=lambda c: c.valid_from):
            if count.valid_from <= day:
                beds = count.beds
        return beds

    def bed_periods(self) -> list[tuple[date, date, int]]:
        """(from, until exclusive, beds) while open, one per bed count."""
        end = self.closed_on or FAR_FUTURE
        periods: list[tuple[date, date, int]] = []
        counts = sorted(self.bed_counts, key=lambda c: c.valid_from)
        for i, count in enumerate(counts):
            until = counts[i + 1].valid_from if i + 1 < len(counts) else end
            start = max(count.valid_from, self.opened_on)
            until = min(until, end)
            if start < until:
                periods.append((start, until, count.beds))
        return periods

    def capacity_days(self, first: date, until: date) -> int:
        """Bed days available from ``first`` up to ``until`` (exclusive): Σ beds per open day."""
        total = 0
        for start, end, beds in self.bed_periods():
            lo, hi = max(start, first), min(end, until)
            if lo < hi:
                total += (hi - lo).days * beds
        return total

    def days_open(self, first: date, until: date) -> int:
        lo = max(self.opened_on, first)
        hi = min(self.closed_on or FAR_FUTURE, until)
        return max((hi - lo).days, 0)


@dataclass
class UnitInput:
    """What a user gives to register or change a unit (text from a form or the CLI is parsed
    by :meth:`from_text`)."""

    name: str
    host_municipality: str
    health_trust: str
    opened_on: date
    beds: int
    closed_on: date | None = None
    participants: list[str] = field(default_factory=list)
    patient_groups: list[str] = field(default_factory=list)
    applied_on: date | None = None

    @classmethod
    def from_text(
        cls,
        *,
        name: str,
        host_municipality: str,
        health_trust: str,
        opened_on: str,
        beds: str,
        closed_on: str = "",
        participants: str = "",
        patient_groups: Iterable[str] = (),
        applied_on: str = "",
    ) -> UnitInput:
        """Parse text fields; every unreadable field is reported together."""
        problems: list[str] = []
        opened = _parse_date(opened_on, "Åpningsdato", problems, required=True)
        closed = _parse_date(closed_on, "Nedleggelsesdato", problems)
        applied = _parse_date(applied_on, "Søknadsdato", problems)
        bed_count = _parse_int(beds, "Antall senger", problems)
        if problems:
            raise UnitValidationError(problems)
        assert opened is not None and bed_count is not None
        return cls(
            name=name.strip(),
            host_municipality=host_municipality.strip(),
            health_trust=health_trust.strip(),
            opened_on=opened,
            beds=bed_count,
            closed_on=closed,
            participants=[p for p in participants.replace(",", " ").split() if p],
            patient_groups=[g for g in patient_groups if g],
            applied_on=applied,
        )


def _parse_date(
    text: str, label: str, problems: list[str], *, required: bool = False
) -> date | None:
    text = text.strip()
    if not text:
        if required:
            problems.append(f"{label} mangler.")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{label} «{text}» er ikke en dato (ÅÅÅÅ-MM-DD).")
        return None


def _parse_int(text: str, label: str, problems: list[str]) -> int | None:
    text = text.strip()
    if not text.isdigit():
        problems.append(f"{label} «{text}» er ikke et helt tall.")
        return None
    return int(text)


def parse_date_field(text: str, label: str) -> date:
    """A required date from a form field, or a :class:`UnitValidationError`."""
    problems: list[str] = []
    day = _parse_date(text, label, problems, required=True)
    if day is None:
        raise UnitValidationError(problems)
    return day


def parse_beds_field(text: str) -> int:
    problems: list[str] = []
    beds = _parse_int(text, "Antall senger", problems)
    if beds is None:
        raise UnitValidationError(problems)
    return beds


@cache
def _known_codes(year: int) -> frozenset[str]:
    from samhandling.refdata.municipalities import valid_codes

    try:
        return valid_codes(year)
    except SamhandlingError:
        return frozenset()


@cache
def _known_trusts() -> frozenset[str]:
    from samhandling.refdata import health_trusts

    return frozenset(str(o) for o in health_trusts()["orgnr"].to_pylist())


def _check_municipality(code: str, year: int, label: str, problems: list[str]) -> None:
    if len(code) != 4 or not code.isdigit():
        problems.append(f"{label} «{code}» er ikke et kommunenummer med fire sifre.")
        return
    known = _known_codes(year)
    if known and code not in known:
        problems.append(f"{label} {code} fantes ikke i kommuneregisteret i {year}.")


def _validate(
    data: UnitInput, rules: RuleSet, others: list[Unit], *, check_beds: bool = True
) -> list[str]:
    problems: list[str] = []
    if not data.name:
        problems.append("Navn mangler.")
    elif len(data.name) > 200:
        problems.append("Navnet er lengre enn 200 tegn.")
    year = data.opened_on.year
    _check_municipality(data.host_municipality, year, "Vertskommune", problems)
    if len(set(data.participants)) != len(data.participants):
        problems.append("En deltakerkommune står to ganger.")
    for code in data.participants:
        if code == data.host_municipality:
            problems.append(f"Vertskommunen {code} kan ikke også være deltaker.")
        else:
            _check_municipality(code, year, "Deltakerkommune", problems)
    if len(data.health_trust) != 9 or not data.health_trust.isdigit():
        problems.append(
            f"Helseforetak «{data.health_trust}» er ikke et organisasjonsnummer (9 sifre)."
        )
    elif data.health_trust not in _known_trusts():
        problems.append(f"Helseforetaket {data.health_trust} er ukjent.")
    if data.closed_on is not None and data.closed_on <= data.opened_on:
        problems.append("Nedleggelsesdato må være etter åpningsdato.")
    if check_beds and data.beds < 1:
        problems.append("En enhet må ha minst én seng når den åpner.")
    groups = rules["emergency_beds.patient_groups"]
    end = data.closed_on or FAR_FUTURE
    for key in data.patient_groups:
        rows = [r for r in groups.rows if r.key == key]
        if not rows:
            problems.append(f"Ukjent pasientgruppe «{key}».")
        elif not any(r.valid_from < end and r.valid_to >= data.opened_on for r in rows):
            problems.append(f"Pasientgruppen «{key}» gjaldt ikke mens enheten var åpen.")
    if data.applied_on is not None and data.applied_on.year < 2000:
        problems.append("Søknadsdatoen er urimelig tidlig.")
    served = {data.host_municipality, *data.participants}
    for other in others:
        clash = served & set(other.municipalities)
        if not clash:
            continue
        lo = max(other.opened_on, data.opened_on)
        hi = min(other.closed_on or FAR_FUTURE, end)
        if lo < hi:
            codes = ", ".join(sorted(clash))
            problems.append(
                f"Kommune {codes} betjenes allerede av «{other.name}» fra {lo.isoformat()}: "
                "en kommune kan bare høre til én åpen enhet om gangen."
            )
    return problems


def _now() -> datetime:
    return datetime.now(UTC)


def _unit(row: UnitRow, participants: list[str], counts: list[BedCountRow]) -> Unit:
    return Unit(
        id=row.id,
        name=row.name,
        host_municipality=row.host_municipality,
        health_trust=row.health_trust,
        opened_on=row.opened_on,
        closed_on=row.closed_on,
        patient_groups=tuple(json.loads(row.patient_groups)),
        applied_on=row.applied_on,
        participants=tuple(sorted(participants)),
        bed_counts=tuple(
            BedCount(c.valid_from, c.beds, c.recorded_at, c.recorded_by)
            for c in sorted(counts, key=lambda c: c.valid_from)
        ),
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def list_units(store: Store) -> list[Unit]:
    """Every registered unit, by host municipality and name."""
    with store._tx() as session:
        rows = session.scalars(
            select(UnitRow).order_by(UnitRow.host_municipality, UnitRow.name, UnitRow.id)
        ).all()
        parts: dict[int, list[str]] = {}
        for p in session.scalars(select(ParticipantRow)).all():
            parts.setdefault(p.unit_id, []).append(p.municipality)
        counts: dict[int, list[BedCountRow]] = {}
        for c in session.scalars(select(BedCountRow)).all():
            counts.setdefault(c.unit_id, []).append(c)
        return [_unit(r, parts.get(r.id, []), counts.get(r.id, [])) for r in rows]


def get_unit(store: Store, unit_id: int) -> Unit:
    for unit in list_units(store):
        if unit.id == unit_id:
            return unit
    raise UnitNotFoundError(f"fant ingen KAD-enhet med id {unit_id}")


def units_fingerprint(units: list[Unit]) -> str:
    """A short digest of the registry, part of cache keys: results change with the units."""
    import hashlib

    text = repr([(u.id, u.municipalities, u.opened_on, u.closed_on, u.bed_counts) for u in units])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def register_unit(store: Store, rules: RuleSet, data: UnitInput, *, by: str) -> Unit:
    """Validate and store a new unit with its first bed count (from the opening day)."""
    problems = _validate(data, rules, list_units(store))
    if problems:
        raise UnitValidationError(problems)
    now = _now()
    with store._tx() as session:
        row = UnitRow(
            name=data.name,
            host_municipality=data.host_municipality,
            health_trust=data.health_trust,
            opened_on=data.opened_on,
            closed_on=data.closed_on,
            patient_groups=json.dumps(sorted(set(data.patient_groups))),
            applied_on=data.applied_on,
            created_at=now,
            updated_at=now,
            updated_by=by[:64],
        )
        session.add(row)
        session.flush()
        for code in data.participants:
            session.add(ParticipantRow(unit_id=row.id, municipality=code))
        session.add(
            BedCountRow(
                unit_id=row.id,
                valid_from=data.opened_on,
                beds=data.beds,
                recorded_at=now,
                recorded_by=by[:64],
            )
        )
        unit_id = row.id
    return get_unit(store, unit_id)


def update_unit(store: Store, rules: RuleSet, unit_id: int, data: UnitInput, *, by: str) -> Unit:
    """Change a unit's description (name, municipalities, dates, groups, application).

    The bed history is kept: ``data.beds`` is ignored here (use :func:`change_beds`); an
    opening day moved later than a recorded bed count is refused.
    """
    current = get_unit(store, unit_id)
    others = [u for u in list_units(store) if u.id != unit_id]
    problems = _validate(data, rules, others, check_beds=False)
    first = current.bed_counts[0].valid_from if current.bed_counts else data.opened_on
    if data.opened_on > first:
        problems.append(
            "Åpningsdato kan ikke flyttes forbi første registrerte sengetall "
            f"({first.isoformat()})."
        )
    if problems:
        raise UnitValidationError(problems)
    with store._tx() as session:
        row = session.get(UnitRow, unit_id)
        assert row is not None
        row.name = data.name
        row.host_municipality = data.host_municipality
        row.health_trust = data.health_trust
        row.opened_on = data.opened_on
        row.closed_on = data.closed_on
        row.patient_groups = json.dumps(sorted(set(data.patient_groups)))
        row.applied_on = data.applied_on
        row.updated_at = _now()
        row.updated_by = by[:64]
        session.execute(delete(ParticipantRow).where(ParticipantRow.unit_id == unit_id))
        for code in data.participants:
            session.add(ParticipantRow(unit_id=unit_id, municipality=code))
        if current.bed_counts and data.opened_on < first:
            # The first count starts on the opening day, so capacity is known for every open day.
            first_row = session.scalar(
                select(BedCountRow).where(
                    BedCountRow.unit_id == unit_id, BedCountRow.valid_from == first
                )
            )
            assert first_row is not None
            first_row.valid_from = data.opened_on
    return get_unit(store, unit_id)


def change_beds(store: Store, unit_id: int, valid_from: date, beds: int, *, by: str) -> Unit:
    """Record a new bed count from ``valid_from`` (kept beside the earlier ones)."""
    unit = get_unit(store, unit_id)
    problems: list[str] = []
    if beds < 1:
        problems.append("Antall senger må være minst 1 (legg heller inn nedleggelsesdato).")
    if valid_from < unit.opened_on:
        problems.append(
            f"Endringen kan ikke gjelde fra før enheten åpnet ({unit.opened_on.isoformat()})."
        )
    if unit.closed_on is not None and valid_from >= unit.closed_on:
        problems.append(f"Enheten er nedlagt fra {unit.closed_on.isoformat()}.")
    if any(c.valid_from == valid_from for c in unit.bed_counts):
        problems.append(
            f"Det finnes allerede et sengetall fra {valid_from.isoformat()}; "
            "historikken endres ikke, velg en annen dato."
        )
    if problems:
        raise UnitValidationError(problems)
    with store._tx() as session:
        session.add(
            BedCountRow(
                unit_id=unit_id,
                valid_from=valid_from,
                beds=beds,
                recorded_at=_now(),
                recorded_by=by[:64],
            )
        )
        row = session.get(UnitRow, unit_id)
        assert row is not None
        row.updated_at = _now()
        row.updated_by = by[:64]
    return get_unit(store, unit_id)


def delete_unit(store: Store, unit_id: int) -> None:
    """Remove a unit registered by mistake (its counts and participants go with it)."""
    get_unit(store, unit_id)
    with store._tx() as session:
        session.execute(delete(BedCountRow).where(BedCountRow.unit_id == unit_id))
        session.execute(delete(ParticipantRow).where(ParticipantRow.unit_id == unit_id))
        session.execute(delete(UnitRow).where(UnitRow.id == unit_id))


def month_range(first: date, until: date) -> list[date]:
    """First days of the months from ``first``'s month up to ``until`` (exclusive)."""
    months: list[date] = []
    day = first.replace(day=1)
    while day < until:
        months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return months
