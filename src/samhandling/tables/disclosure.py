"""Disclosure control (prikking): primary and secondary cell suppression with an LP audit.

A published table is a set of cells linked by *lines*: additive relations ``total = sum of parts``
(a row total over age groups, a county over its municipalities, a year over its tertials, ...).

* **Primary suppression**: a cell describing at least one and fewer than ``threshold`` distinct
  patients is hidden (threshold from the rule table ``disclosure.threshold``).
* **Secondary suppression**: no line may hold exactly one hidden cell (else it is the line's
  difference). Cells are added line by line, preferring the smallest parts that can still absorb
  ``threshold`` units, so the pattern is deterministic for the same input.
* **Audit**: an attacker who knows every published cell and every line solves linear programmes
  (min and max of each hidden cell, non-negative cells). For each hidden cell the interval must be
  at least ``threshold`` wide; where it is not, one more cell is hidden and the audit runs again.
  Only the hidden cells are variables, and independent groups of them are solved separately, so
  the audit scales with the number of hidden cells, not with the size of the table.

Consistency across requests is handled one level up (:mod:`samhandling.tables.cube`): every table
a user can request is a slice of one protected cover cube, never a fresh aggregation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog  # type: ignore[import-untyped]
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

from samhandling.errors import RuleError
from samhandling.rules import RuleSet

__all__ = [
    "AUDIT_MAX_CELLS",
    "PRIMARY",
    "PUBLISHED",
    "REASON_NAMES",
    "SECONDARY",
    "SECONDARY_METHODS",
    "attack_intervals",
    "disclosure_threshold",
    "protect",
    "secondary_method",
]

PUBLISHED = 0
PRIMARY = 1
SECONDARY = 2
REASON_NAMES = {PUBLISHED: "published", PRIMARY: "primary", SECONDARY: "secondary"}

# Largest group of linked hidden cells audited by LP (a solve per cell grows with group size).
AUDIT_MAX_CELLS = 5000

IntArray = npt.NDArray[np.int64]
Reasons = npt.NDArray[np.int8]


def disclosure_threshold(rules: RuleSet, on: date) -> tuple[int, str]:
    """The suppression threshold in force on ``on`` (a day of the data's period) and the rule
    version that set it."""
    table = rules["disclosure.threshold"]
    row = table.value_on(on)
    return int(row.decimal), f"disclosure.threshold v{table.version}"


SECONDARY_METHODS = ("gauss", "hypercube")


def secondary_method(rules: RuleSet, on: date) -> tuple[str, str]:
    """How secondary cells are chosen (``gauss`` or ``hypercube``) on ``on`` and the rule
    version."""
    table = rules["disclosure.secondary_method"]
    method = table.value_on(on).value
    if method not in SECONDARY_METHODS:
        raise RuleError(
            f"Regelen disclosure.secondary_method: ukjent metode «{method}» "
            f"(velg {' eller '.join(SECONDARY_METHODS)})"
        )
    return method, f"disclosure.secondary_method v{table.version}"


@dataclass
class _Lines:
    """Lines as index lists plus the reverse incidence (cell -> lines it is on)."""

    members: list[IntArray]
    parents: IntArray
    of_cell: list[list[int]]

    @classmethod
    def build(cls, n_cells: int, lines: Sequence[Sequence[int]]) -> _Lines:
        members = [np.asarray(line, dtype=np.int64) for line in lines if len(line) >= 2]
        parents = np.array([m[0] for m in members], dtype=np.int64)
        of_cell: list[list[int]] = [[] for _ in range(n_cells)]
        for li, m in enumerate(members):
            for c in m.tolist():
                of_cell[c].append(li)
        return cls(members, parents, of_cell)


def protect(
    patients: npt.ArrayLike,
    measures: Mapping[str, npt.ArrayLike],
    lines: Sequence[Sequence[int]],
    threshold: int,
    *,
    audit: bool = True,
    max_audit_cells: int = AUDIT_MAX_CELLS,
) -> Reasons:
    """Suppression reason per cell: ``PUBLISHED``, ``PRIMARY`` or ``SECONDARY``.

    ``patients`` drives primary suppression; ``measures`` are the additive values published in
    the cells (the first one is the protected count and guides the choice of secondary cells);
    each line lists the total cell first and its parts after it. Groups of more than
    ``max_audit_cells`` linked hidden cells are protected by the line rule alone (LP audit cost).
    """
    pat = np.asarray(patients, dtype=np.int64)
    values = {k: np.asarray(v, dtype=np.float64) for k, v in measures.items()}
    if not values:
        raise ValueError("protect needs at least one additive measure")
    guide = next(iter(values.values()))
    n = len(pat)
    reasons: Reasons = np.zeros(n, dtype=np.int8)
    reasons[(pat >= 1) & (pat < threshold)] = PRIMARY
    incidence = _Lines.build(n, lines)
    _close_lines(reasons, incidence, guide, pat, threshold, range(len(incidence.members)))
    if not audit:
        return reasons
    _repair(reasons, incidence, values, guide, pat, threshold, max_audit_cells)
    return reasons


def _candidate_key(
    c: int, is_parent: bool, guide: npt.NDArray[np.float64], pat: IntArray, threshold: int
) -> tuple[int, int, int, float, int]:
    # Prefer: non-zero cells, parts over totals, cells able to absorb `threshold` units, small.
    value = guide[c]
    return (
        int(value <= 0),
        int(is_parent),
        int(value < threshold),
        float(value),
        c,
    )


def _pick(
    line_members: IntArray,
    reasons: Reasons,
    guide: npt.NDArray[np.float64],
    pat: IntArray,
    threshold: int,
) -> int | None:
    parent = int(line_members[0])
    best: tuple[tuple[int, int, int, float, int], int] | None = None
    for c in line_members.tolist():
        if reasons[c] != PUBLISHED:
            continue
        key = _candidate_key(c, c == parent, guide, pat, threshold)
        if best is None or key < best[0]:
            best = (key, c)
    return None if best is None else best[1]


def _close_lines(  # noqa: PLR0917
    reasons: Reasons,
    incidence: _Lines,
    guide: npt.NDArray[np.float64],
    pat: IntArray,
    threshold: int,
    start: Sequence[int] | range,
) -> None:
    """Hide cells until no line holds exactly one hidden cell."""
    todo = sorted(set(start))
    queued = set(todo)
    head = 0
    while head < len(todo):
        li = todo[head]
        head += 1
        queued.discard(li)
        members = incidence.members[li]
        hidden = int(np.count_nonzero(reasons[members]))
        if hidden != 1:
            continue
        c = _pick(members, reasons, guide, pat, threshold)
        if c is None:
            continue
        reasons[c] = SECONDARY
        for other in incidence.of_cell[c]:
            if other not in queued:
                queued.add(other)
                todo.append(other)


def _components(reasons: Reasons, incidence: _Lines) -> list[tuple[list[int], list[int]]]:
    """Groups of hidden cells linked by lines: (hidden cells, lines touching them)."""
    hidden = np.flatnonzero(reasons).tolist()
    seen: set[int] = set()
    groups: list[tuple[list[int], list[int]]] = []
    for start in hidden:
        if start in seen:
            continue
        cells: list[int] = []
        line_ids: set[int] = set()
        stack = [start]
        seen.add(start)
        while stack:
            c = stack.pop()
            cells.append(c)
            for li in incidence.of_cell[c]:
                if li in line_ids:
                    continue
                line_ids.add(li)
                for other in incidence.members[li].tolist():
                    if reasons[other] != PUBLISHED and other not in seen:
                        seen.add(other)
                        stack.append(other)
        groups.append((sorted(cells), sorted(line_ids)))
    return groups


def _equations(
    cells: list[int],
    line_ids: list[int],
    incidence: _Lines,
    reasons: Reasons,
    value: npt.NDArray[np.float64],
) -> tuple[csr_matrix, npt.NDArray[np.float64]]:
    """The attacker's equations over the hidden cells of one component: parts - total = 0."""
    col = {c: i for i, c in enumerate(cells)}
    rows: list[int] = []
    cols: list[int] = []
    data: list[float] = []
    rhs: list[float] = []
    for r, li in enumerate(line_ids):
        const = 0.0
        for pos, c in enumerate(incidence.members[li].tolist()):
            sign = -1.0 if pos == 0 else 1.0
            if reasons[c] != PUBLISHED:
                rows.append(r)
                cols.append(col[c])
                data.append(sign)
            else:
                const -= sign * value[c]
        rhs.append(const)
    a_eq = csr_matrix((data, (rows, cols)), shape=(len(line_ids), len(cells)))
    return a_eq, np.asarray(rhs)


def _bound(
    a_eq: csr_matrix, b_eq: npt.NDArray[np.float64], i: int, n: int, sense: float
) -> tuple[float, npt.NDArray[np.float64] | None]:
    objective = np.zeros(n)
    objective[i] = sense
    res = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status == 3:  # unbounded: the attacker learns no upper bound
        return np.inf, None
    if res.status != 0:
        raise ValueError(f"disclosure audit LP failed: {res.message}")
    return sense * float(res.fun), np.asarray(res.x)


def _weak_in_component(  # noqa: PLR0917
    cells: list[int],
    line_ids: list[int],
    incidence: _Lines,
    reasons: Reasons,
    values: Mapping[str, npt.NDArray[np.float64]],
    threshold: int,
) -> list[int]:
    """Hidden cells of the component that an attacker pins too narrowly.

    Every LP solution is a feasible table, so the spread of values seen so far is a lower bound
    on each cell's interval. A few LPs with seeded random objectives spread most cells at once;
    per-cell LPs are solved only for cells not yet shown to be wide enough.
    """
    guide_name = next(iter(values))
    n = len(cells)
    if not line_ids:
        return []  # on no published line: nothing bounds it
    weak: set[int] = set()
    rng = np.random.default_rng(len(cells))
    for name, value in values.items():
        a_eq, b_eq = _equations(cells, line_ids, incidence, reasons, value)
        truth = value[cells]
        low_seen = truth.copy()
        high_seen = truth.copy()
        skip = np.zeros(n, dtype=bool)
        if name != guide_name:
            skip = truth == 0  # a zero in a secondary measure reveals no count
        for sense in (1.0, -1.0, *rng.choice([-1.0, 1.0], size=4)):
            if np.all(skip | (high_seen - low_seen >= threshold)):
                break
            objective = sense * rng.random(n) if sense in (1.0, -1.0) else rng.normal(size=n)
            res = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
            if res.status == 0:
                np.minimum(low_seen, res.x, out=low_seen)
                np.maximum(high_seen, res.x, out=high_seen)
        for i, c in enumerate(cells):
            if skip[i] or c in weak or high_seen[i] - low_seen[i] >= threshold:
                continue
            top, point = _bound(a_eq, b_eq, i, n, -1.0)
            if point is not None:
                np.minimum(low_seen, point, out=low_seen)
                np.maximum(high_seen, point, out=high_seen)
            if top == np.inf or top - low_seen[i] >= threshold:
                continue
            bottom, point = _bound(a_eq, b_eq, i, n, 1.0)
            if point is not None:
                np.minimum(low_seen, point, out=low_seen)
                np.maximum(high_seen, point, out=high_seen)
            if top - bottom < threshold - 1e-9:
                weak.add(c)
    return sorted(weak)


def _repair(  # noqa: PLR0917
    reasons: Reasons,
    incidence: _Lines,
    values: Mapping[str, npt.NDArray[np.float64]],
    guide: npt.NDArray[np.float64],
    pat: IntArray,
    threshold: int,
    max_audit_cells: int,
) -> None:
    """Audit every group of hidden cells; hide more cells where an attacker gets too close."""
    clean: set[tuple[int, ...]] = set()
    while True:
        changed = False
        for cells, line_ids in _components(reasons, incidence):
            key = tuple(cells)
            if key in clean or reasons[cells[0]] == PUBLISHED or len(cells) > max_audit_cells:
                continue
            members = set(cells)
            if any(
                reasons[c] != PUBLISHED and c not in members
                for li in line_ids
                for c in incidence.members[li].tolist()
            ):
                changed = True  # merged with cells hidden earlier this round: audit next round
                continue
            weak = _weak_in_component(cells, line_ids, incidence, reasons, values, threshold)
            if not weak:
                clean.add(key)
                continue
            for cell in weak:
                added = _hide_one_more(reasons, incidence, guide, pat, threshold, cell, cells)
                if added is None:
                    continue  # every related cell is hidden already
                _close_lines(reasons, incidence, guide, pat, threshold, incidence.of_cell[added])
                changed = True
            if not changed:
                clean.add(key)
        if not changed:
            return


def _hide_one_more(  # noqa: PLR0917
    reasons: Reasons,
    incidence: _Lines,
    guide: npt.NDArray[np.float64],
    pat: IntArray,
    threshold: int,
    cell: int,
    component: list[int],
) -> int | None:
    search = [cell, *[c for c in component if c != cell]]
    for c in search:
        best: tuple[tuple[int, int, int, float, int], int] | None = None
        for li in incidence.of_cell[c]:
            members = incidence.members[li]
            pick = _pick(members, reasons, guide, pat, threshold)
            if pick is None:
                continue
            key = _candidate_key(pick, pick == int(members[0]), guide, pat, threshold)
            if best is None or key < best[0]:
                best = (key, pick)
        if best is not None:
            reasons[best[1]] = SECONDARY
            return best[1]
    return None


def attack_intervals(
    values: npt.ArrayLike, lines: Sequence[Sequence[int]], reasons: npt.ArrayLike
) -> dict[int, tuple[float, float]]:
    """What an attacker can infer: [min, max] of every hidden cell from the published ones.

    Exposed so that users (and the tests) can audit any published table themselves.
    """
    r: Reasons = np.asarray(reasons, dtype=np.int8)
    v = np.asarray(values, dtype=np.float64)
    incidence = _Lines.build(len(v), lines)
    result: dict[int, tuple[float, float]] = {}
    for cells, line_ids in _components(r, incidence):
        if not line_ids:
            result.update(dict.fromkeys(cells, (0.0, np.inf)))
            continue
        a_eq, b_eq = _equations(cells, line_ids, incidence, r, v)
        for i, c in enumerate(cells):
            top, _ = _bound(a_eq, b_eq, i, len(cells), -1.0)
            bottom, _ = _bound(a_eq, b_eq, i, len(cells), 1.0)
            result[c] = (bottom, top)
    return result
