"""Table dimensions (variabler): codes, Norwegian labels, how facts map to codes, and totals.

A dimension maps each fact's key (a residence code, a year-month, an age) to *several* codes,
one per level (municipality, county, health trust, RHF and the country; month, tertial, year to
date and year; a 5-year age group, a steering-data band and all ages). Cubes group by the mapped
codes, so every level is counted from the same rows. ``lines`` state which codes add up to which
(``total = sum of parts``): disclosure control protects along them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from samhandling.indicators.facts import CITY_DISTRICT, UNKNOWN_RESIDENCE
from samhandling.refdata import catchment, municipality_years
from samhandling.refdata.periods import MONTHS_PER_TERTIAL
from samhandling.rules import RuleSet


def _texts(column: pa.ChunkedArray[Any] | pa.Array[Any]) -> list[str]:
    return ["" if v is None else str(v) for v in column.to_pylist()]


__all__ = [
    "COUNTRY",
    "TOTAL",
    "Dimension",
    "age_dimension",
    "category_dimension",
    "period_dimension",
    "region_dimension",
    "sex_dimension",
]

TOTAL = "_T"
COUNTRY = "0"


@dataclass(frozen=True)
class Dimension:
    """One variable of a table.

    ``key_sql`` is an SQL expression over ``contact_facts`` (alias ``f``) giving a string key;
    ``mapping`` lists (key, code) pairs; ``codes`` (code, label) in display order; ``lines``
    (total code, part codes); ``total`` is the code used when a request eliminates the variable.
    """

    id: str
    label: str
    key_sql: str
    mapping: tuple[tuple[str, str], ...]
    codes: tuple[tuple[str, str], ...]
    lines: tuple[tuple[str, tuple[str, ...]], ...]
    total: str
    role: str | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def mapping_table(self) -> pa.Table:
        return pa.table(
            {
                "key": pa.array([k for k, _ in self.mapping], pa.string()),
                "code": pa.array([c for _, c in self.mapping], pa.string()),
            }
        )

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.codes)


def _lines_of(parent_of: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((p, tuple(children)) for p, children in parent_of.items() if children)


DISTRICT_PREFIX = "B"
UNKNOWN_DISTRICT = "U"


def region_dimension(
    borders: int,
    districts: Sequence[tuple[str, str, str]] = (),
    *,
    municipalities: bool = True,
) -> Dimension:
    """Residence: municipality, county (fylke), catchment area (HF), RHF and the country.

    ``districts`` (municipality code in ``borders``, district code, label) adds city districts
    (bydeler) below their municipality, coded ``B<district>``, with ``B<municipality>U`` for
    the municipality's residents without a district, so that the municipality is the sum of
    its districts (a line, protected like any other). Without districts the key is the
    residence alone.

    ``municipalities=False`` gives the upper levels only (the tables with detail a municipal
    cell could not carry): the country, RHFs, catchment areas, counties and unknown residence,
    no municipality and no city district (``districts`` is ignored). Its lines: the country =
    the counties + unknown residence = the RHFs + unknown residence, an RHF = its catchment
    areas; a county and a catchment area share municipalities without nesting, so neither is
    a part of the other (the facts' keys are still municipalities: every level is counted from
    the same rows as in the full region).
    """
    years = municipality_years()
    rows = years.filter(pc.equal(years["year"], pa.scalar(borders, pa.int16())))
    munis = _texts(rows["municipality"])
    names = dict(zip(munis, _texts(rows["name"]), strict=True))
    county_of = dict(zip(munis, _texts(rows["county"]), strict=True))
    county_names = dict(zip(_texts(rows["county"]), _texts(rows["county_name"]), strict=True))
    try:
        areas = catchment(borders)
        hf_of = dict(zip(_texts(areas["municipality"]), _texts(areas["hf_code"]), strict=True))
        hf_names = dict(zip(_texts(areas["hf_code"]), _texts(areas["hf_name"]), strict=True))
        rhf_of_hf = dict(zip(_texts(areas["hf_code"]), _texts(areas["rhf_code"]), strict=True))
        rhf_names = dict(zip(_texts(areas["rhf_code"]), _texts(areas["rhf_name"]), strict=True))
    except Exception:
        hf_of, hf_names, rhf_of_hf, rhf_names = {}, {}, {}, {}
    mapping: list[tuple[str, str]] = []
    codes: list[tuple[str, str]] = [(COUNTRY, "Hele landet")]
    codes += [(f"R{r}", rhf_names[r]) for r in sorted(rhf_names)]
    codes += [(f"H{h}", hf_names[h]) for h in sorted(hf_names, key=lambda x: (len(x), x))]
    codes += [(f"F{c}", county_names[c]) for c in sorted(county_names)]
    if municipalities:
        codes += [(m, f"{m} {names[m]}") for m in sorted(munis)]
    codes.append((UNKNOWN_RESIDENCE, "Ukjent bosted"))
    county_parts: dict[str, list[str]] = {f"F{c}": [] for c in sorted(county_names)}
    hf_parts: dict[str, list[str]] = {f"H{h}": [] for h in sorted(hf_names)}
    for m in sorted(munis):
        if municipalities:
            mapping.append((m, m))
        mapping += [(m, f"F{county_of[m]}"), (m, COUNTRY)]
        county_parts[f"F{county_of[m]}"].append(m)
        if m in hf_of:
            mapping.append((m, f"H{hf_of[m]}"))
            hf_parts[f"H{hf_of[m]}"].append(m)
            mapping.append((m, f"R{rhf_of_hf[hf_of[m]]}"))
    mapping += [(UNKNOWN_RESIDENCE, UNKNOWN_RESIDENCE), (UNKNOWN_RESIDENCE, COUNTRY)]
    parents: dict[str, list[str]] = {COUNTRY: [*county_parts, UNKNOWN_RESIDENCE]}
    if municipalities:
        parents.update(county_parts)
    key_sql = "f.residence"
    by_municipality: dict[str, list[tuple[str, str]]] = {}
    for m, district, label in sorted(districts) if municipalities else ():
        if m in county_of:
            by_municipality.setdefault(m, []).append((district, label))
    if by_municipality:
        # In a municipality with districts a row's key is "<residence>:<district>" ("<residence>:"
        # without one), counted for the district and everything the municipality counts for. The
        # plain residence key stays for the population (denominators are per municipality; a
        # district has no population here, so its rates are not published).
        listed = ", ".join(f"'{m}'" for m in sorted(by_municipality))
        key_sql = (
            f"CASE WHEN f.residence IN ({listed}) "
            f"THEN f.residence || ':' || COALESCE(f.{CITY_DISTRICT}, '') ELSE f.residence END"
        )
        municipality_codes = {m: [c for k, c in mapping if k == m] for m in by_municipality}
        for m, parts in by_municipality.items():
            unknown = f"{DISTRICT_PREFIX}{m}{UNKNOWN_DISTRICT}"
            part_codes = []
            for district, label in parts:
                code = f"{DISTRICT_PREFIX}{district}"
                codes.append((code, label))
                part_codes.append(code)
                mapping.append((f"{m}:{district}", code))
                mapping += [(f"{m}:{district}", c) for c in municipality_codes[m]]
            codes.append((unknown, f"{names[m]}: uoppgitt bydel"))
            mapping.append((f"{m}:", unknown))
            mapping += [(f"{m}:", c) for c in municipality_codes[m]]
            parents[m] = [*part_codes, unknown]
    lines = list(_lines_of(parents))
    if hf_of and len(hf_of) == len(munis):
        rhf_parts: dict[str, list[str]] = {f"R{r}": [] for r in sorted(rhf_names)}
        for h in sorted(hf_names):
            rhf_parts[f"R{rhf_of_hf[h]}"].append(f"H{h}")
        if municipalities:
            lines += _lines_of(hf_parts)
        lines += _lines_of(rhf_parts)
        lines.append((COUNTRY, (*rhf_parts, UNKNOWN_RESIDENCE)))
    return Dimension(
        id="region",
        label="region",
        key_sql=key_sql,
        mapping=tuple(mapping),
        codes=tuple(codes),
        lines=tuple(lines),
        total=COUNTRY,
        role="geo",
        notes={"borders": f"Kommunegrenser per 1. januar {borders}"},
    )


def period_dimension(years: Sequence[int], *, months: bool) -> Dimension:
    """Period: year, tertial (T1-T3), year to date per tertial (P1-P3) and optionally months."""
    mapping: list[tuple[str, str]] = []
    codes: list[tuple[str, str]] = []
    lines: list[tuple[str, tuple[str, ...]]] = []
    for y in sorted(years):
        codes.append((f"{y}", f"{y}"))
        codes += [(f"{y}T{t}", f"{y} {t}. tertial") for t in (1, 2, 3)]
        codes += [(f"{y}P{t}", f"{y} per {t}. tertial") for t in (1, 2, 3)]
        if months:
            codes += [(f"{y}M{m:02d}", f"{y} måned {m}") for m in range(1, 13)]
        lines.append((f"{y}", tuple(f"{y}T{t}" for t in (1, 2, 3))))
        for t in (1, 2, 3):
            # Year to date is the sum of the tertials so far (P3 is the year, P1 is T1).
            lines.append((f"{y}P{t}", tuple(f"{y}T{s}" for s in range(1, t + 1))))
            if months:
                first = (t - 1) * MONTHS_PER_TERTIAL + 1
                tertial_months = range(first, first + MONTHS_PER_TERTIAL)
                lines.append((f"{y}T{t}", tuple(f"{y}M{m:02d}" for m in tertial_months)))
        for m in range(1, 13):
            key = f"{y}{m:02d}"
            t = (m - 1) // MONTHS_PER_TERTIAL + 1
            mapping += [(key, f"{y}"), (key, f"{y}T{t}")]
            mapping += [(key, f"{y}P{s}") for s in range(t, 4)]
            if months:
                mapping.append((key, f"{y}M{m:02d}"))
    return Dimension(
        id="period",
        label="periode",
        key_sql="CAST(f.year * 100 + f.month AS VARCHAR)",
        mapping=tuple(mapping),
        codes=tuple(codes),
        lines=tuple(lines),
        total=f"{max(years)}" if years else "",
        role="time",
        notes={
            "definition": "Døgnopphold telles etter utskrivningsdato, andre kontakter etter "
            "kontaktdato. «Per 2. tertial» er januar–august."
        },
    )


def sex_dimension() -> Dimension:
    return Dimension(
        id="sex",
        label="kjønn",
        key_sql="CAST(f.sex AS VARCHAR)",
        mapping=(("1", "1"), ("1", TOTAL), ("2", "2"), ("2", TOTAL), ("9", "9"), ("9", TOTAL)),
        codes=((TOTAL, "Begge kjønn"), ("1", "Menn"), ("2", "Kvinner"), ("9", "Ukjent kjønn")),
        lines=((TOTAL, ("1", "2", "9")),),
        total=TOTAL,
    )


def age_dimension(
    rules: RuleSet, on: date, *, oldest: int = 110, five_year: bool = True
) -> Dimension:
    """Age: 5-year groups (femårige aldersgrupper) and the steering-data bands, with all ages,
    as the rules define them on ``on``.

    ``five_year=False``: the steering-data bands and all ages only (the municipal tables).
    """
    width_rule = rules["indicators.age_band_width"]
    width = int(width_rule.value_on(on, "width").decimal)
    open_from = int(width_rule.value_on(on, "open_from").decimal)
    bands = rules["indicators.age_bands"].keys_on(on)
    five: list[tuple[str, str, int, int]] = []
    for lo in range(0, open_from, width):
        five.append(
            (f"{lo:02d}-{lo + width - 1:02d}", f"{lo}–{lo + width - 1} år", lo, lo + width - 1)
        )
    five.append((f"{open_from}+", f"{open_from} år og eldre", open_from, oldest))
    if not five_year:
        five = []
    steering: list[tuple[str, str, int, int]] = []
    for code, row in sorted(bands.items(), key=lambda kv: int(kv[1].value.split("-")[0])):
        lo_text, hi_text = row.value.split("-")
        hi = int(hi_text) if hi_text else oldest
        label = f"{lo_text}–{hi_text} år" if hi_text else f"{lo_text} år og eldre"
        steering.append((code, label, int(lo_text), hi))
    mapping: list[tuple[str, str]] = []
    for age in range(oldest + 1):
        mapping.append((str(age), TOTAL))
        mapping += [(str(age), code) for code, _, lo, hi in five if lo <= age <= hi]
        mapping += [(str(age), code) for code, _, lo, hi in steering if lo <= age <= hi]
    codes = [(TOTAL, "Alle aldre")]
    codes += [(c, label) for c, label, _, _ in steering]
    codes += [(c, label) for c, label, _, _ in five]
    lines = tuple(
        (TOTAL, tuple(c for c, _, _, _ in groups)) for groups in (five, steering) if groups
    )
    return Dimension(
        id="age",
        label="alder",
        key_sql="CAST(f.age AS VARCHAR)",
        mapping=tuple(mapping),
        codes=tuple(codes),
        lines=lines,
        total=TOTAL,
        notes={"definition": "Alder = periodens år minus fødselsår."},
    )


def category_dimension(
    dim_id: str, label: str, column: str, values: Sequence[tuple[str, str]], total_label: str
) -> Dimension:
    """A flat classification (care level, urgency, sector, DRG type, discharge destination...)."""
    mapping: list[tuple[str, str]] = []
    for code, _ in values:
        mapping += [(code, code), (code, TOTAL)]
    return Dimension(
        id=dim_id,
        label=label,
        key_sql=f"CAST(f.{column} AS VARCHAR)",
        mapping=tuple(mapping),
        codes=((TOTAL, total_label), *values),
        lines=((TOTAL, tuple(c for c, _ in values)),),
        total=TOTAL,
    )


def grouped_category_dimension(
    dim_id: str,
    label: str,
    column: str,
    values: Sequence[tuple[str, str]],
    *,
    groups: Sequence[tuple[str, str, Sequence[str]]],
    total_label: str,
) -> Dimension:
    """A classification with subtotals: ``groups`` are (code, label, member codes).

    Each group is published as the sum of its members (a line of its own, so disclosure control
    protects it like any total); a value may belong to one group at most.
    """
    plain = category_dimension(dim_id, label, column, values, total_label)
    known = {c for c, _ in values}
    seen: set[str] = set()
    mapping = list(plain.mapping)
    group_codes: list[tuple[str, str]] = []
    lines = list(plain.lines)
    for code, group_label, members in groups:
        parts = tuple(m for m in members if m in known)
        if set(parts) & seen:
            raise ValueError(f"{dim_id}: a value belongs to two groups ({code})")
        seen.update(parts)
        mapping += [(m, code) for m in parts]
        group_codes.append((code, group_label))
        lines.append((code, parts))
    return Dimension(
        id=plain.id,
        label=plain.label,
        key_sql=plain.key_sql,
        mapping=tuple(mapping),
        codes=(plain.codes[0], *group_codes, *plain.codes[1:]),
        lines=tuple(lines),
        total=plain.total,
    )
