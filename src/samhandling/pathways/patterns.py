"""Pathway patterns per municipality and readmission by destination, with disclosure control.

Method (see ``docs/pathways.md``, section *Disclosure control*):

* **Patterns.** The pattern dimension is fixed nationally first: the ``max_patterns`` most
  frequent patterns describing at least ``disclosure.threshold`` patients keep their name, all
  others are ``other`` ("Andre forløp") everywhere. Then, per municipality, a pattern with fewer
  than ``threshold`` distinct patients is folded into ``other``; while ``other`` describes
  between 1 and ``threshold - 1`` patients, the smallest shown pattern is folded into it too. A
  municipality with fewer than ``threshold`` patients in all is hidden whole. So every published
  municipal cell describes ``threshold`` or more patients (or is ``other`` = 0), and a folded
  pattern's count is known only to lie between 0 and ``other``. The national table is the sum
  of the *published* municipal cells (hidden municipalities and folded counts are not in it),
  so it adds nothing an attacker could difference against the municipal tables.
* **Readmissions.** Per municipality, finished episodes of care by destination (home,
  institution) × readmitted (ja/nei) with all margins, protected by
  :func:`samhandling.tables.disclosure.protect` (primary suppression under ``threshold``
  patients, secondary suppression so that no line holds a single hidden cell, and an LP audit).
  The national table sums the municipalities whose table is published in full.

Only counts of pathways (episodes) are published; patient counts drive suppression only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from samhandling.engine import Engine
from samhandling.engine.sql import sql_string
from samhandling.pathways.definition import PathwayDefinition, pathway_definition
from samhandling.pathways.timeline import (
    ELLIPSIS,
    PATHWAYS,
    SEPARATOR,
    build_pathways,
    discharge_destinations_sql,
)
from samhandling.rules import RuleSet
from samhandling.tables.disclosure import (
    PRIMARY,
    PUBLISHED,
    REASON_NAMES,
    SECONDARY,
    disclosure_threshold,
    protect,
)

__all__ = [
    "OTHER",
    "Flow",
    "FoldedMunicipality",
    "PathwayReport",
    "ProtectedCounts",
    "flows",
    "fold_municipality",
    "pathway_report",
    "pattern_label",
    "pattern_states",
]

OTHER = "other"
OTHER_LABEL = "Andre forløp"
READMITTED = ("ja", "nei")


@dataclass(frozen=True)
class ProtectedCounts:
    """Cells of a protected cube: ``None`` in a dimension means the total over it."""

    dims: tuple[str, ...]
    measure: str
    keys: list[tuple[str | None, ...]]
    values: list[int]
    patients: list[int]
    reasons: list[int]

    def cell(self, **coords: str | None) -> tuple[int | None, str]:
        """The published value (``None`` if hidden or absent → 0) and the reason of one cell."""
        key = tuple(coords.get(d) for d in self.dims)
        try:
            i = self.keys.index(key)
        except ValueError:
            return 0, "published"  # no rows: an empty cell is a published zero
        reason = REASON_NAMES[self.reasons[i]]
        return (self.values[i] if self.reasons[i] == PUBLISHED else None), reason

    def rows(self, **coords: str | None) -> list[dict[str, Any]]:
        """Published rows matching ``coords`` (a dimension not given may take any value)."""
        out: list[dict[str, Any]] = []
        for key, value, reason in zip(self.keys, self.values, self.reasons, strict=True):
            row: dict[str, Any] = dict(zip(self.dims, key, strict=True))
            if any(row[d] != v for d, v in coords.items()):
                continue
            row[self.measure] = value if reason == PUBLISHED else None
            row["suppressed"] = REASON_NAMES[reason] if reason != PUBLISHED else ""
            out.append(row)
        return out

    @property
    def hidden(self) -> int:
        return sum(1 for r in self.reasons if r != PUBLISHED)


@dataclass(frozen=True)
class Flow:
    """A flow diagram of published patterns: nodes (step, state) and links between steps."""

    nodes: dict[tuple[int, str], int]
    links: dict[tuple[int, str, str], int]
    shown: int
    not_shown: int


@dataclass(frozen=True)
class PathwayReport:
    """The protected pathway figures of one year (every municipality, and the country)."""

    year: int
    definition: PathwayDefinition
    threshold: int
    threshold_rule: str
    patterns: ProtectedCounts
    readmissions: ProtectedCounts
    pattern_order: list[str] = field(default_factory=list)
    hidden_municipalities: list[str] = field(default_factory=list)
    readmission_municipalities: tuple[int, int] = (0, 0)  # fully published, all

    @property
    def rule_versions(self) -> tuple[str, ...]:
        return self.definition.versions

    def municipalities(self) -> list[str]:
        return sorted({k[0] for k in self.patterns.keys if k[0] is not None})


def pattern_states(pattern: str) -> list[str]:
    """The states of a pattern key, in order (``...`` marks a cut-off tail)."""
    return pattern.split(SEPARATOR) if pattern and pattern != OTHER else []


def pattern_label(pattern: str, d: PathwayDefinition) -> str:
    """A pattern in words: ``Hjemme → Øyeblikkelig hjelp-innleggelse → Hjemme``."""
    if pattern == OTHER:
        return OTHER_LABEL
    return " → ".join("…" if s == ELLIPSIS else d.label(s) for s in pattern_states(pattern))


@dataclass(frozen=True)
class FoldedMunicipality:
    """One municipality's pattern table after folding: shown patterns, ``other``, or hidden."""

    shown: dict[str, int]  # pattern -> pathways
    other: int
    total: int
    hidden: bool
    folded: dict[str, int]  # pattern -> pathways (true counts, never published)


def fold_municipality(cells: dict[str, tuple[int, set[str]]], threshold: int) -> FoldedMunicipality:
    """Fold one municipality's patterns: ``cells`` maps pattern -> (pathways, patient ids)."""
    shown = {p: v for p, v in cells.items() if p != OTHER and len(v[1]) >= threshold}
    folded = {p: v for p, v in cells.items() if p not in shown}

    def other_patients() -> int:
        return len(set().union(*(v[1] for v in folded.values()))) if folded else 0

    while 0 < other_patients() < threshold and shown:
        smallest = min(shown, key=lambda p: (shown[p][0], len(shown[p][1]), p))
        folded[smallest] = shown.pop(smallest)
    total = sum(v[0] for v in cells.values())
    hidden = not shown and 0 < other_patients() < threshold
    return FoldedMunicipality(
        shown={p: v[0] for p, v in shown.items()},
        other=sum(v[0] for v in folded.values()),
        total=total,
        hidden=hidden,
        folded={p: v[0] for p, v in folded.items() if p != OTHER},
    )


def patterns_sql(year: int, threshold: int, max_patterns: int) -> str:
    """Pathways by municipality × nationally folded pattern × patient (for distinct counts)."""
    return f"""
WITH p AS (
    SELECT x.patient_id, x.municipality, x.pattern FROM {PATHWAYS} AS x WHERE x.year = {int(year)}
),
ranked AS (
    SELECT p.pattern, COUNT(*) AS n, COUNT(DISTINCT p.patient_id) AS patients
    FROM p GROUP BY p.pattern
),
kept AS (
    SELECT r.pattern, ROW_NUMBER() OVER (ORDER BY r.n DESC, r.pattern) AS rank_no
    FROM ranked AS r WHERE r.patients >= {int(threshold)}
),
shown AS (
    SELECT p.patient_id, p.municipality,
        CASE WHEN k.pattern IS NULL THEN {sql_string(OTHER)} ELSE p.pattern END AS pattern
    FROM p LEFT JOIN kept AS k ON k.pattern = p.pattern AND k.rank_no <= {int(max_patterns)}
)
SELECT s.municipality, s.pattern, s.patient_id, COUNT(*) AS pathways
FROM shown AS s
GROUP BY s.municipality, s.pattern, s.patient_id
"""


def readmission_sql(d: PathwayDefinition, year: int) -> str:
    """Finished episodes by municipality × destination × readmitted, with each municipality's
    margins (distinct patients per cell)."""
    return f"""
WITH x AS ({discharge_destinations_sql(d)}),
y AS (
    SELECT x.patient_id, x.municipality, x.destination,
        CASE WHEN x.readmitted = 1 THEN {sql_string(READMITTED[0])}
            ELSE {sql_string(READMITTED[1])} END AS readmitted
    FROM x WHERE x.year = {int(year)} AND x.destination IN ('home', 'institution')
)
SELECT y.municipality, y.destination, y.readmitted, COUNT(*) AS episodes,
    COUNT(DISTINCT y.patient_id) AS patients
FROM y
GROUP BY GROUPING SETS (
    (y.municipality, y.destination, y.readmitted), (y.municipality, y.destination),
    (y.municipality, y.readmitted), (y.municipality))
"""


def _cell_counts(
    cells: dict[str, tuple[int, set[str]]], fold: FoldedMunicipality, pattern: str | None
) -> tuple[int, int]:
    """(pathways, distinct patients) of one municipal cell after folding."""
    if pattern is None:
        return fold.total, len(set().union(*(v[1] for v in cells.values())))
    if pattern == OTHER:
        folded = [cells[p][1] for p in (*fold.folded, OTHER) if p in cells]
        return fold.other, len(set().union(*folded))
    count, ids = cells.get(pattern, (0, set()))
    return count, len(ids)


def _pattern_counts(
    table: pa.Table, order: list[str], threshold: int
) -> tuple[ProtectedCounts, dict[str, FoldedMunicipality]]:
    by_municipality: dict[str, dict[str, tuple[int, set[str]]]] = {}
    for m, p, patient, n in zip(
        table.column("municipality").to_pylist(),
        table.column("pattern").to_pylist(),
        table.column("patient_id").to_pylist(),
        table.column("pathways").to_pylist(),
        strict=True,
    ):
        cells = by_municipality.setdefault(str(m), {})
        count, ids = cells.get(str(p), (0, set()))
        ids.add(str(patient))
        cells[str(p)] = (count + int(n or 0), ids)
    keys: list[tuple[str | None, ...]] = []
    values: list[int] = []
    npat: list[int] = []
    reasons: list[int] = []
    national: dict[str | None, int] = {}
    folds: dict[str, FoldedMunicipality] = {}
    for m in sorted(by_municipality):
        cells = by_municipality[m]
        fold = fold_municipality(cells, threshold)
        folds[m] = fold
        for p in [*order, None]:
            value, patients = _cell_counts(cells, fold, p)
            published = not fold.hidden and (p is None or p == OTHER or p in fold.shown)
            keys.append((m, p))
            values.append(value)
            npat.append(patients)
            if published:
                reasons.append(PUBLISHED)
                national[p] = national.get(p, 0) + value
            else:
                reasons.append(PRIMARY if 1 <= patients < threshold else SECONDARY)
    for p in [*order, None]:
        keys.append((None, p))
        values.append(national.get(p, 0))
        npat.append(0)
        reasons.append(PUBLISHED)
    counts = ProtectedCounts(("municipality", "pattern"), "pathways", keys, values, npat, reasons)
    return counts, folds


_READMISSION_KEYS: list[tuple[str | None, str | None]] = [
    (d, r) for d in ("home", "institution", None) for r in (*READMITTED, None)
]


def _readmission_lines() -> list[list[int]]:
    index = {k: i for i, k in enumerate(_READMISSION_KEYS)}
    lines: list[list[int]] = []
    for d in ("home", "institution", None):
        lines.append([index[(d, None)], index[(d, READMITTED[0])], index[(d, READMITTED[1])]])
    for r in (*READMITTED, None):
        lines.append([index[(None, r)], index[("home", r)], index[("institution", r)]])
    return lines


@lru_cache(maxsize=4096)
def _protect_small(cells: tuple[tuple[int, int], ...], threshold: int) -> tuple[int, ...]:
    """Suppression of one municipality's readmission table (the same table, the same answer:
    small municipalities often share one, and each audit solves linear programmes)."""
    reasons = protect(
        np.array([c[1] for c in cells]),
        {"episodes": np.array([c[0] for c in cells])},
        _readmission_lines(),
        threshold,
    )
    return tuple(int(r) for r in reasons)


def _readmission_counts(table: pa.Table, threshold: int) -> tuple[ProtectedCounts, int]:
    found: dict[str, dict[tuple[str | None, str | None], tuple[int, int]]] = {}
    for row in table.to_pylist():
        cell = (row["destination"], row["readmitted"])
        found.setdefault(str(row["municipality"]), {})[cell] = (
            int(row["episodes"]),
            int(row["patients"]),
        )
    keys: list[tuple[str | None, ...]] = []
    values: list[int] = []
    npat: list[int] = []
    reasons: list[int] = []
    national = dict.fromkeys(_READMISSION_KEYS, 0)
    complete = 0
    for m in sorted(found):
        cells = [found[m].get(k, (0, 0)) for k in _READMISSION_KEYS]
        got = _protect_small(tuple(cells), threshold)
        for k, (value, patients), reason in zip(_READMISSION_KEYS, cells, got, strict=True):
            keys.append((m, *k))
            values.append(value)
            npat.append(patients)
            reasons.append(reason)
        if not any(got):
            complete += 1
            for k, (value, _patients) in zip(_READMISSION_KEYS, cells, strict=True):
                national[k] += value
    for k in _READMISSION_KEYS:
        keys.append((None, *k))
        values.append(national[k])
        npat.append(0)
        reasons.append(PUBLISHED)
    counts = ProtectedCounts(
        ("municipality", "destination", "readmitted"), "episodes", keys, values, npat, reasons
    )
    return counts, complete


def pathway_report(
    engine: Engine,
    rules: RuleSet,
    year: int,
    *,
    built: bool = False,
    on: date | None = None,
) -> PathwayReport:
    """The protected pattern and readmission tables of ``year`` (builds the pathways first).

    ``built``: the pathway relations are already on ``engine`` (from :func:`build_pathways`).
    ``on``: the day the rules are read for, by default the last day of ``year``.
    """
    on = on or date(year, 12, 31)
    d = pathway_definition(rules, on)
    threshold, threshold_rule = disclosure_threshold(rules, on)
    if not built:
        build_pathways(engine, d)
    leaf = engine.query(patterns_sql(year, threshold, d.max_patterns))
    totals: dict[str, int] = {}
    for p, n in zip(
        leaf.column("pattern").to_pylist(), leaf.column("pathways").to_pylist(), strict=True
    ):
        totals[str(p)] = totals.get(str(p), 0) + int(n or 0)
    order = sorted((p for p in totals if p != OTHER), key=lambda p: (-totals[p], p))
    order.append(OTHER)
    patterns, folds = _pattern_counts(leaf, order, threshold)
    readmissions, complete = _readmission_counts(engine.query(readmission_sql(d, year)), threshold)
    return PathwayReport(
        year=year,
        definition=d,
        threshold=threshold,
        threshold_rule=threshold_rule,
        patterns=patterns,
        readmissions=readmissions,
        pattern_order=order,
        hidden_municipalities=sorted(m for m, f in folds.items() if f.hidden),
        readmission_municipalities=(complete, len({k[0] for k in readmissions.keys} - {None})),
    )


def flows(report: PathwayReport, municipality: str | None) -> Flow:
    """Flow diagram data from the *published* pattern cells of a municipality (or the country).

    Hidden cells and ``other`` have no drawable path; they are counted in ``not_shown`` (from the
    published total when it is published), so the diagram reveals nothing the table does not.
    """
    nodes: dict[tuple[int, str], int] = {}
    links: dict[tuple[int, str, str], int] = {}
    shown = 0
    for row in report.patterns.rows(municipality=municipality):
        pattern, value = row["pattern"], row["pathways"]
        if pattern is None or pattern == OTHER or value is None or value == 0:
            continue
        states = pattern_states(pattern)
        shown += value
        for step, state in enumerate(states):
            nodes[(step, state)] = nodes.get((step, state), 0) + value
            if step + 1 < len(states):
                key = (step, state, states[step + 1])
                links[key] = links.get(key, 0) + value
    total, _reason = report.patterns.cell(municipality=municipality, pattern=None)
    not_shown = max(0, total - shown) if total is not None else 0
    return Flow(nodes, links, shown, not_shown)
