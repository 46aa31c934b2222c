"""Municipality borders over time: mapping codes valid in one year to the codes of a later year.

Municipalities merged, were renumbered and (rarely) split between 2006 and 2026 (kommunereform).
Each yearly change comes from SKDE's change table (``kommunenummer_endringer_skde_1988_2024.csv``,
checked against SSB); the few true splits come from ``kommune_delinger_vekter.csv`` with their
population-share weights. The yearly steps are composed, and every step is checked against the
code lists of both years, so every code maps to codes that exist.

A split along an old border is resolved by ancestry: Ålesund 1507 (2020–2023) split in 2024 into
Ålesund 1508 and Haram 1580 along the border of the old Haram 1534, so 1534 maps to 1580 whole and
only 1507 itself is divided by weight.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from samhandling.errors import SamhandlingError
from samhandling.refdata._files import read_csv, schema, texts
from samhandling.refdata.municipalities import FIRST_YEAR, LAST_YEAR, check_year, valid_codes

CODE_MAP_SCHEMA = schema(from_code=pa.string(), to_code=pa.string(), weight=pa.float64())


@dataclass(frozen=True)
class _Step:
    """One successor of a code across one new year."""

    to_code: str
    weight: float
    # Codes whose descendants all go to ``to_code`` (a split along an old border); empty = any.
    ancestors: frozenset[str]


@cache
def _yearly_steps() -> dict[int, dict[str, tuple[_Step, ...]]]:
    """For each year Y: code valid in Y-1 -> its successors in Y (only codes that changed)."""
    changes = read_csv(
        "municipalities/kommunenummer_endringer_skde_1988_2024.csv",
        strings=("gml_kommunenummer", "ny_kommunenummer"),
    )
    steps: dict[int, dict[str, list[_Step]]] = defaultdict(lambda: defaultdict(list))
    for year, old, new in zip(
        changes["aar"].to_pylist(),
        texts(changes["gml_kommunenummer"]),
        texts(changes["ny_kommunenummer"]),
        strict=True,
    ):
        if isinstance(year, int) and FIRST_YEAR < year <= LAST_YEAR and old != new:
            steps[year][old].append(_Step(new, 1.0, frozenset()))
    splits = read_csv(
        "municipalities/kommune_delinger_vekter.csv",
        strings=("kommunenummer_fra", "kommunenummer_til", "forgjengere"),
    )
    overridden: set[tuple[int, str]] = set()
    for year, old, new, weight, ancestors in zip(
        splits["aar"].to_pylist(),
        texts(splits["kommunenummer_fra"]),
        texts(splits["kommunenummer_til"]),
        splits["vekt"].to_pylist(),
        texts(splits["forgjengere"]),
        strict=True,
    ):
        if not isinstance(year, int) or not isinstance(weight, float):
            raise ValueError("kommune_delinger_vekter.csv: bad year or weight")
        if (year, old) not in overridden:
            # SKDE lists one successor for a split (its analytic choice); the split table is whole
            steps[year][old] = []
            overridden.add((year, old))
        steps[year][old].append(_Step(new, weight, frozenset(ancestors.split())))
    result = {year: _resolve_chains(year, by_code) for year, by_code in steps.items()}
    _check_steps(result)
    return result


def _resolve_chains(year: int, by_code: dict[str, list[_Step]]) -> dict[str, tuple[_Step, ...]]:
    """Follow changes made twice in one year (0532 Jevnaker -> 3444 -> 3053 in 2020)."""
    before = valid_codes(year - 1)
    targets = {s.to_code for successors in by_code.values() for s in successors}
    intermediate = {code for code in by_code if code in targets and code not in before}

    def final(step: _Step, depth: int = 0) -> list[_Step]:
        onward = by_code.get(step.to_code)
        if onward is None or step.to_code in before or depth > 5:
            return [step]
        return [
            _Step(nxt.to_code, step.weight * nxt.weight, step.ancestors | nxt.ancestors)
            for s in onward
            for nxt in final(s, depth + 1)
        ]

    return {
        old: tuple(resolved for step in successors for resolved in final(step))
        for old, successors in by_code.items()
        if old in before or not (_is_svalbard(old) or old in intermediate)
    }


def _is_svalbard(code: str) -> bool:
    # Svalbard and Jan Mayen (21xx/22xx) are not municipalities; SKDE lists their recoding
    return code[:2] in ("21", "22")


def _check_steps(steps: dict[int, dict[str, tuple[_Step, ...]]]) -> None:
    """Every step leads from a code valid in Y-1 to codes valid in Y, and covers all of Y."""
    for year in range(FIRST_YEAR + 1, LAST_YEAR + 1):
        before, after = valid_codes(year - 1), valid_codes(year)
        changed = steps.get(year, {})
        unknown = set(changed) - before
        reached = {s.to_code for succ in changed.values() for s in succ}
        reached |= before - set(changed)
        if unknown or reached != after:
            raise ValueError(
                f"municipality changes into {year} do not match the code lists: "
                f"unknown old codes {sorted(unknown)}, "
                f"unreached {sorted(after - reached)}, invalid {sorted(reached - after)}"
            )
        for old, successors in changed.items():
            if abs(sum(s.weight for s in successors) - 1.0) > 1e-9:
                raise ValueError(f"weights of {old} into {year} do not sum to 1")


@cache
def _code_map(from_year: int, to_year: int) -> tuple[tuple[str, str, float], ...]:
    check_year(from_year)
    check_year(to_year)
    steps = _yearly_steps()
    if to_year < from_year:
        if any(steps.get(year) for year in range(to_year + 1, from_year + 1)):
            raise SamhandlingError(
                f"Kan bare mappe kommunenummer fremover i tid (fra {from_year} til {to_year})"
            )
        # no change in between: the codes are the same (e.g. 2026 data in 2024 borders)
        return tuple((code, code, 1.0) for code in sorted(valid_codes(from_year)))
    # state: (from_code, current_code, codes seen on the way) -> weight
    states: dict[tuple[str, str, frozenset[str]], float] = {
        (code, code, frozenset((code,))): 1.0 for code in valid_codes(from_year)
    }
    for year in range(from_year + 1, to_year + 1):
        changed = steps.get(year, {})
        moved: dict[tuple[str, str, frozenset[str]], float] = defaultdict(float)
        for (origin, current, seen), weight in states.items():
            successors = changed.get(current)
            if successors is None:
                moved[(origin, current, seen)] += weight
                continue
            for step in _successors_for(successors, seen):
                moved[(origin, step.to_code, seen | {step.to_code})] += weight * step.weight
        states = moved
    pairs: dict[tuple[str, str], float] = defaultdict(float)
    for (origin, current, _), weight in states.items():
        pairs[(origin, current)] += weight
    return tuple((origin, current, weight) for (origin, current), weight in sorted(pairs.items()))


def _successors_for(successors: tuple[_Step, ...], seen: frozenset[str]) -> tuple[_Step, ...]:
    """The successors that apply to a unit with this ancestry (all of them when none decides)."""
    for step in successors:
        if step.ancestors & seen:
            return (_Step(step.to_code, 1.0, step.ancestors),)
    return successors


def code_map(from_year: int, to_year: int) -> pa.Table:
    """Map every municipality code valid in ``from_year`` to the code(s) valid in ``to_year``.

    ``to_year`` must not be earlier than ``from_year``, unless no municipality changed in
    between (then the map is the identity, e.g. from 2026 to 2024).

    Columns: from_code, to_code, weight (float64; the share of the from-municipality's
    population that lies in the to-municipality; weights sum to 1 per from_code). Weights
    below 1 occur only for true splits and are approximations (see ``docs/refdata.md``).
    """
    rows = _code_map(from_year, to_year)
    return pa.table(
        {
            "from_code": [r[0] for r in rows],
            "to_code": [r[1] for r in rows],
            "weight": [r[2] for r in rows],
        },
        schema=CODE_MAP_SCHEMA,
    )


def map_to_borders(table: pa.Table, code_column: str, year_column: str, borders: int) -> pa.Table:
    """Add ``municipality_<borders>`` and ``weight`` to a table of municipality codes by year.

    Each row is joined to the code(s) its municipality had in ``borders`` (a later or equal
    year, or an earlier one with no change in between; otherwise a user error). A row of a
    split municipality becomes one row per successor, whose ``weight`` is its share (multiply
    counts by it). Rows whose code was not valid in their year are kept, with null
    ``municipality_<borders>`` and ``weight``.
    """
    for column in (code_column, year_column):
        if column not in table.column_names:
            raise SamhandlingError(f"Kolonnen «{column}» finnes ikke i tabellen")
    target = f"municipality_{borders}"
    if target in table.column_names or "weight" in table.column_names:
        raise SamhandlingError(f"Tabellen har allerede kolonnen «{target}» eller «weight»")
    years = sorted(y for y in pc.unique(table[year_column]).to_pylist() if isinstance(y, int))
    year_type = table.schema.field(year_column).type
    parts = []
    for year in years:
        mapping = code_map(year, borders)
        parts.append(
            pa.table(
                {
                    year_column: pa.array([year] * mapping.num_rows, year_type),
                    code_column: mapping["from_code"],
                    target: mapping["to_code"],
                    "weight": mapping["weight"],
                }
            )
        )
    lookup = (
        pa.concat_tables(parts)
        if parts
        else pa.table(
            {
                year_column: pa.array([], year_type),
                code_column: pa.array([], pa.string()),
                target: pa.array([], pa.string()),
                "weight": pa.array([], pa.float64()),
            }
        )
    )
    return table.join(lookup, keys=[year_column, code_column], join_type="left outer")
