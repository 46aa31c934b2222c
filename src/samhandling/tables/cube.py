"""Protected cover cubes and the tables cut from them (the table generator, tabellgenerator).

A *cube* counts the contact facts over a few dimensions, every level of every dimension at once
(municipality ... country, month ... year, all totals). It is protected once, as a whole, with all
its margins (:func:`samhandling.tables.hypercube.protect_hypercubes`: every primary cell gets a
hypercube of hidden cells that proves its protection interval). Every table a user can request, from
the API, the CLI or Python, is a *slice* of a protected cube (choose codes per dimension, leave a
dimension out to get its total); no request aggregates raw data again. So any set of requests
reveals at most what the whole protected cube reveals, and the protection of the cube covers
every combination of requests (the cover-cube method for consistency across requests).

Rates (per 1 000 inhabitants) and averages are computed from published cells only: a rate or
average is hidden whenever its numerator or denominator count is hidden.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from samhandling.engine import Engine
from samhandling.errors import SamhandlingError
from samhandling.indicators.facts import residence_map
from samhandling.tables.dimensions import Dimension
from samhandling.tables.disclosure import PUBLISHED, REASON_NAMES, SECONDARY
from samhandling.tables.gauss import gauss_protection
from samhandling.tables.hypercube import Axis, Protection, hypercube_protection

__all__ = [
    "CONTENTS",
    "NOT_SQL",
    "SUPPRESSED",
    "CubeSpec",
    "DerivedMeasure",
    "Measure",
    "ProtectedCube",
    "StatTable",
    "TableError",
    "build_cube",
    "cube_lines",
]

CONTENTS = "ContentsCode"
SUPPRESSED = ":"  # SSB/PxWeb symbol: confidential (vises ikke av personvernhensyn)
NOT_AVAILABLE = ".."  # Statistics Norway's symbol for a figure that is not available


class TableError(SamhandlingError):
    """A table request names an unknown table, variable, code or measure."""


# ``Measure.sql`` of a measure that is not summed by the cube's SQL (set by its own builder).
NOT_SQL = "python"


@dataclass(frozen=True)
class Measure:
    """An additive measure summed over the cube's facts (SQL aggregate over alias ``f``).

    The sum is a whole number of units of 10^-``decimals`` (øre for a measure in kroner with
    two decimals): totals are exact sums of their parts, and tables show ``sum / 10^decimals``.
    """

    id: str
    label: str
    sql: str
    unit: str
    decimals: int = 0


@dataclass(frozen=True)
class DerivedMeasure:
    """numerator / denominator * scale; denominator is a measure id or ``population``."""

    id: str
    label: str
    numerator: str
    denominator: str
    scale: int
    unit: str
    decimals: int = 1


@dataclass(frozen=True)
class CubeSpec:
    """A table of the catalogue: what it counts, over which dimensions, from which facts."""

    id: str
    title: str
    description: str
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    derived: tuple[DerivedMeasure, ...] = ()
    where: str = "TRUE"
    facts: str = "contact_facts"
    patient: str = "f.patient_id"
    notes: tuple[str, ...] = ()

    def dimension(self, dim_id: str) -> Dimension:
        for d in self.dimensions:
            if d.id == dim_id:
                return d
        raise TableError(f"Tabell {self.id} har ingen variabel «{dim_id}»")

    @property
    def contents(self) -> tuple[tuple[str, str, str, int], ...]:
        """(code, label, unit, decimals) of every measure, counts first."""
        plain = [(m.id, m.label, m.unit, m.decimals) for m in self.measures]
        plain.append(("pasienter", "Pasienter", "personer", 0))
        return (*plain, *[(d.id, d.label, d.unit, d.decimals) for d in self.derived])


@dataclass
class StatTable:
    """A published table: dimensions, values in row-major order, status and reasons per cell."""

    id: str
    title: str
    dimensions: list[tuple[str, str, list[tuple[str, str]], str | None]]
    units: dict[str, tuple[str, int]]
    values: list[float | int | None]
    reasons: dict[int, str]
    notes: list[str]
    source: str
    updated: str
    threshold: int
    rule_version: str
    dimension_notes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def shape(self) -> list[int]:
        return [len(codes) for _, _, codes, _ in self.dimensions]

    def reordered(self, order: Sequence[str]) -> StatTable:
        """The same cells with the dimensions in ``order`` first (PxWeb stub, then heading)."""
        ids = [d[0] for d in self.dimensions]
        unknown = [o for o in order if o not in ids]
        if unknown:
            raise TableError(f"Ukjent variabel «{unknown[0]}» i stub/heading")
        new_ids = [*dict.fromkeys(order), *[i for i in ids if i not in order]]
        perm = [ids.index(i) for i in new_ids]
        old_index = np.arange(len(self.values)).reshape(self.shape).transpose(perm).ravel()
        values = [self.values[int(i)] for i in old_index]
        reasons = {
            new: self.reasons[int(old)]
            for new, old in enumerate(old_index)
            if int(old) in self.reasons
        }
        return StatTable(
            id=self.id,
            title=self.title,
            dimensions=[self.dimensions[p] for p in perm],
            units=self.units,
            values=values,
            reasons=reasons,
            notes=self.notes,
            source=self.source,
            updated=self.updated,
            threshold=self.threshold,
            rule_version=self.rule_version,
            dimension_notes=self.dimension_notes,
        )

    def rows(self) -> list[tuple[list[str], float | int | None, str | None]]:
        """Each cell as (codes per dimension, value, suppression reason or None)."""
        out = []
        code_lists = [[c for c, _ in codes] for _, _, codes, _ in self.dimensions]
        for i, combo in enumerate(itertools.product(*code_lists)):
            out.append((list(combo), self.values[i], self.reasons.get(i)))
        return out


@dataclass
class ProtectedCube:
    """A cube after disclosure control, ready to be sliced."""

    spec: CubeSpec
    cells: pa.Table
    population: dict[tuple[str, ...], int]
    threshold: int
    rule_version: str
    built: str

    def __post_init__(self) -> None:
        # Cells are found by one integer per code combination (code positions × strides) in a
        # sorted array: compact for cubes of millions of cells, no Python object per cell.
        dims = self.spec.dimensions
        self._code_at = [{c: i for i, (c, _) in enumerate(d.codes)} for d in dims]
        self._strides = [1] * len(dims)
        for j in range(len(dims) - 2, -1, -1):
            self._strides[j] = self._strides[j + 1] * len(dims[j + 1].codes)
        keys = np.zeros(self.cells.num_rows, dtype=np.int64)
        for j, d in enumerate(dims):
            codes = pa.array([c for c, _ in d.codes], pa.string())
            at = pc.index_in(self.cells[d.id].cast(pa.string()), value_set=codes)
            if at.null_count:
                raise SamhandlingError(f"Kuben {self.spec.id} har en ukjent kode i {d.id}")
            keys += at.to_numpy(zero_copy_only=False).astype(np.int64) * self._strides[j]
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]
        measures = [n for n in self.cells.column_names if n not in {d.id for d in dims}]
        self._arrays = {n: self.cells[n].to_numpy(zero_copy_only=False) for n in measures}
        self._missing = {
            n: self.cells[n].is_null().to_numpy(zero_copy_only=False)
            for n in measures
            if self.cells[n].null_count
        }
        self._additive = {m.id for m in self.spec.measures if m.sql != NOT_SQL}
        self._decimals = {m.id: m.decimals for m in self.spec.measures if m.id in self._additive}

    def _row(self, key: tuple[str, ...]) -> int | None:
        flat = 0
        for code, at, stride in zip(key, self._code_at, self._strides, strict=True):
            i = at.get(code)
            if i is None:
                return None
            flat += i * stride
        pos = int(np.searchsorted(self._keys, flat))
        if pos < len(self._keys) and self._keys[pos] == flat:
            return int(self._order[pos])
        return None

    @property
    def suppressed_cells(self) -> int:
        return int(np.count_nonzero(self._arrays["reason"] != PUBLISHED))

    def write(self, path: Path) -> None:
        """Persist the protected cells (Parquet); population and spec come from the catalogue."""
        meta = {
            b"threshold": str(self.threshold).encode(),
            b"rule_version": self.rule_version.encode(),
            b"built": self.built.encode(),
        }
        pop = pa.table(
            {
                "key": pa.array(["|".join(k) for k in self.population], pa.string()),
                "count": pa.array(list(self.population.values()), pa.int64()),
            }
        )
        path.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.cells.replace_schema_metadata(meta), path / f"{self.spec.id}.parquet")
        pq.write_table(pop, path / f"{self.spec.id}.population.parquet")

    @classmethod
    def read(cls, spec: CubeSpec, path: Path) -> ProtectedCube:
        cells = pq.read_table(path / f"{spec.id}.parquet")
        meta = cells.schema.metadata or {}
        pop = pq.read_table(path / f"{spec.id}.population.parquet")
        keys: list[Any] = pop["key"].to_pylist()
        counts: list[Any] = pop["count"].to_pylist()
        population = {tuple(str(k).split("|")): int(v) for k, v in zip(keys, counts, strict=True)}
        return cls(
            spec,
            cells.replace_schema_metadata(None),
            population,
            int(meta[b"threshold"].decode()),
            meta[b"rule_version"].decode(),
            meta[b"built"].decode(),
        )

    def _stored(self, key: tuple[str, ...], measure: str) -> tuple[int | float | None, int]:
        """The stored value (whole units of 10^-decimals for additive measures) and reason."""
        i = self._row(key)
        if i is None:
            return 0, PUBLISHED
        reason = int(self._arrays["reason"][i])
        if measure in self._missing and self._missing[measure][i]:
            return None, reason
        value = self._arrays[measure][i]
        return value.item() if hasattr(value, "item") else value, reason

    def _exact(self, key: tuple[str, ...], measure: str) -> tuple[Decimal | None, int]:
        """An additive measure or the patients as an exact number (kroner, not øre)."""
        value, reason = self._stored(key, measure)
        if value is None:
            return None, reason
        if measure not in self._additive and measure != "pasienter":
            return Decimal(str(value)), reason  # a measure its builder computed (SD09's rates)
        return Decimal(int(value)).scaleb(-self._decimals.get(measure, 0)), reason

    def published_value(
        self, codes: Mapping[str, str], measure: str
    ) -> tuple[Decimal | None, str | None]:
        """One cell's exact value and why it is withheld (``None`` when it is published).

        ``codes`` names a code per dimension (dimensions left out are at their total);
        ``measure`` is an additive measure (in its unit: kroner, not øre), ``pasienter`` or a
        measure its builder computed. A withheld cell gives ``(None, reason)``: its value never
        leaves the cube. A published cell without a value (a rate without inhabitants) gives
        ``(None, None)``.
        """
        unknown = set(codes) - {d.id for d in self.spec.dimensions}
        if unknown:
            raise TableError(f"Tabell {self.spec.id} har ingen variabel «{sorted(unknown)[0]}»")
        if measure not in self._arrays or measure == "reason":
            raise TableError(f"Tabell {self.spec.id} har ikke målet «{measure}»")
        key: list[str] = []
        for d in self.spec.dimensions:
            code = codes.get(d.id, d.total)
            if code not in self._code_at[len(key)]:
                raise TableError(f"Ukjent kode «{code}» for variabelen «{d.id}»")
            key.append(code)
        value, reason = self._exact(tuple(key), measure)
        if reason != PUBLISHED:
            return None, REASON_NAMES[reason]
        return value, None

    def _cell(self, key: tuple[str, ...], measure: str) -> tuple[float | int | None, int]:
        value, reason = self._stored(key, measure)
        places = self._decimals.get(measure, 0)
        if places and value is not None and measure in self._additive:
            return float(Decimal(int(value)).scaleb(-places)), reason
        return value, reason

    def _population(self, key: tuple[str, ...]) -> int | None:
        dims = self.spec.dimensions
        parts: list[str] = []
        for d, code in zip(dims, key, strict=True):
            if d.id == "period":
                parts.append(code[:4])
            elif d.id in ("region", "sex", "age"):
                parts.append(code)
            elif code != d.total:
                return None  # no population for a diagnosis group, a care level...
        return self.population.get(tuple(parts))

    def slice(
        self,
        selection: Mapping[str, Sequence[str]] | None = None,
        measures: Sequence[str] | None = None,
    ) -> StatTable:
        """Cut a table: codes per selected dimension (others at their total) and measures."""
        selection = dict(selection or {})
        spec = self.spec
        contents = {c[0]: c for c in spec.contents}
        wanted_measures = list(measures) if measures else [c[0] for c in spec.contents]
        for m in wanted_measures:
            if m not in contents:
                raise TableError(f"Tabell {spec.id} har ikke målet «{m}»")
        unknown = set(selection) - {d.id for d in spec.dimensions}
        if unknown:
            raise TableError(f"Tabell {spec.id} har ingen variabel «{sorted(unknown)[0]}»")
        out_dims: list[tuple[str, str, list[tuple[str, str]], str | None]] = []
        per_dim: list[list[str]] = []
        for d in spec.dimensions:
            labels = d.labels
            chosen = list(selection.get(d.id, []))
            if not chosen:
                per_dim.append([d.total])
                continue
            for code in chosen:
                if code not in labels:
                    raise TableError(f"Ukjent kode «{code}» for variabelen «{d.id}»")
            per_dim.append(chosen)
            out_dims.append((d.id, d.label, [(c, labels[c]) for c in chosen], d.role))
        out_dims.append(
            (
                CONTENTS,
                "statistikkvariabel",
                [(m, contents[m][1]) for m in wanted_measures],
                "metric",
            )
        )
        derived = {d.id: d for d in spec.derived}
        values: list[float | int | None] = []
        reasons: dict[int, str] = {}
        for key in itertools.product(*per_dim):
            for m in wanted_measures:
                if m in derived:
                    value, reason = self._derived(key, derived[m])
                else:
                    value, reason = self._cell(key, m)
                if reason != PUBLISHED:
                    reasons[len(values)] = REASON_NAMES[reason]
                    value = None
                values.append(value)
        # Dimensions with one code that the user did not pick are reported as notes.
        eliminated = [
            f"{d.label}: {d.labels[d.total]}" for d in spec.dimensions if d.id not in selection
        ]
        notes = [*spec.notes]
        if eliminated:
            notes.append("Summert over " + "; ".join(eliminated) + ".")
        notes.append(
            f"Celler med færre enn {self.threshold} pasienter er prikket ({SUPPRESSED}); "
            "andre celler er prikket slik at de prikkede ikke kan regnes ut fra summene."
        )
        return StatTable(
            id=spec.id,
            title=spec.title,
            dimensions=out_dims,
            units={m: (contents[m][2], contents[m][3]) for m in wanted_measures},
            values=values,
            reasons=reasons,
            notes=notes,
            source="samhandling (syntetiske eller leverte NPR-lignende data)",
            updated=self.built,
            threshold=self.threshold,
            rule_version=self.rule_version,
            dimension_notes={d.id: d.notes for d in spec.dimensions if d.notes},
        )

    def _derived(self, key: tuple[str, ...], d: DerivedMeasure) -> tuple[float | None, int]:
        """numerator / denominator × scale from the exact stored numbers, rounded half up."""
        num, reason = self._exact(key, d.numerator)
        if reason != PUBLISHED:
            return None, reason
        if d.denominator == "population":
            people = self._population(key)
            den = None if people is None else Decimal(people)
        else:
            den, reason = self._exact(key, d.denominator)
            if reason != PUBLISHED:
                return None, reason
        if not den or num is None:
            return None, PUBLISHED
        exact = num * d.scale / den
        return float(exact.quantize(Decimal(1).scaleb(-d.decimals), ROUND_HALF_UP)), PUBLISHED


def layers(d: Dimension) -> list[list[tuple[str, str]]]:
    """The dimension's mapping split into layers in which each key counts for one code at most.

    Codes with the same keys (a year and its year to date through the last tertial) share a
    layer; other codes go to the first layer none of whose keys they use. Counting distinct
    patients per layer joins every fact row to at most one code per dimension (plus aliases),
    so no query fans a row out over all the levels of all the dimensions at once.
    """
    keys_of: dict[str, list[str]] = {}
    for key, code in d.mapping:
        keys_of.setdefault(code, []).append(key)
    same_keys: dict[frozenset[str], list[str]] = {}
    for code, _label in d.codes:
        if code in keys_of:
            same_keys.setdefault(frozenset(keys_of[code]), []).append(code)
    taken: list[set[str]] = []
    out: list[list[tuple[str, str]]] = []
    for keys, codes in same_keys.items():
        at = next((i for i, used in enumerate(taken) if used.isdisjoint(keys)), len(taken))
        if at == len(taken):
            taken.append(set())
            out.append([])
        taken[at] |= keys
        out[at] += [(k, c) for c in codes for k in sorted(keys)]
    return out


def _leaf_keys(spec: CubeSpec) -> str:
    return ", ".join(f"{d.key_sql} AS k{i}" for i, d in enumerate(spec.dimensions))


def _additive_sql(spec: CubeSpec) -> str:
    """Every measure summed per cell: leaf keys first, then rolled up one dimension at a time."""
    n = len(spec.dimensions)
    names = [m.id for m in spec.measures]
    keys = [f"k{i}" for i in range(n)]
    sql = (
        f"SELECT {_leaf_keys(spec)}, "
        + ", ".join(f"{m.sql} AS {m.id}" for m in spec.measures)
        + f" FROM {spec.facts} AS f WHERE {spec.where} GROUP BY "
        + ", ".join(str(i + 1) for i in range(n))
    )
    for i, d in enumerate(spec.dimensions):
        done = [f"t.{spec.dimensions[j].id}" for j in range(i)]
        rest = [f"t.{k}" for k in keys[i + 1 :]]
        groups = [*done, "m.code", *rest]
        sums = [f"SUM(t.{m}) AS {m}" for m in names]
        sql = (
            f"SELECT {', '.join([*done, f'm.code AS {d.id}', *rest, *sums])} "
            f"FROM ({sql}) AS t JOIN cube_{spec.id}_{d.id} AS m ON m.key = t.k{i} "
            f"GROUP BY {', '.join(groups)}"
        )
    return sql


def _patients_base_sql(spec: CubeSpec) -> str:
    return (
        f"SELECT DISTINCT {spec.patient} AS p, {_leaf_keys(spec)} FROM {spec.facts} AS f "
        f"WHERE ({spec.where}) AND {spec.patient} IS NOT NULL"
    )


def _reduced_sql(spec: CubeSpec, at: int, layer: int) -> str:
    """The distinct rows with dimension ``at`` mapped to one of its layers (fewer rows)."""
    n = len(spec.dimensions)
    cols = [f"l.code AS k{i}" if i == at else f"b.k{i}" for i in range(n)]
    return (
        f"SELECT DISTINCT b.p, {', '.join(cols)} FROM cube_{spec.id}_patients AS b "
        f"JOIN cube_{spec.id}_{spec.dimensions[at].id}_l{layer} AS l ON l.key = b.k{at}"
    )


def _patients_sql(spec: CubeSpec, base: str, at: int, combos: Sequence[tuple[int, ...]]) -> str:
    """Distinct patients per cell of each layer combination (one GROUP BY each, UNION ALL).

    ``base`` holds the distinct rows with dimension ``at`` already mapped to its codes.
    """
    parts = []
    dims = spec.dimensions
    for combo in combos:
        codes = [f"b.k{i}" if i == at else f"l{i}.code" for i in range(len(dims))]
        joins = " ".join(
            f"JOIN cube_{spec.id}_{d.id}_l{layer} AS l{i} ON l{i}.key = b.k{i}"
            for i, (d, layer) in enumerate(zip(dims, combo, strict=True))
            if i != at
        )
        named = ", ".join(f"{c} AS {d.id}" for c, d in zip(codes, dims, strict=True))
        parts.append(
            f"SELECT {named}, COUNT(DISTINCT b.p) AS pasienter "
            f"FROM {base} AS b {joins} GROUP BY {', '.join(codes)}"
        )
    return " UNION ALL ".join(parts)


# Layer combinations counted per query (one progress step each).
COMBOS_PER_QUERY = 8


def count_cube_per_combination(
    engine: Engine, spec: CubeSpec, on_step: Callable[[int, int], None] | None = None
) -> pa.Table:
    """The cube's cells counted with one GROUP BY per combination of layers (the old way).

    Kept only as the baseline that ``bench/bench_counting.py`` and the tests compare
    :func:`count_cube` against; it returns the very same table.

    Additive measures are summed per leaf (the facts' keys) and rolled up through each
    dimension's mapping. Distinct patients are not additive: they are counted from the distinct
    (patient, keys) rows once per combination of layers (:func:`layers`), after mapping the
    time dimension (or else the first) to each of its layers and removing duplicates again (a
    patient with contacts in many months is one row a year). Both steps are plain SQL, so the
    cube counts the same on every engine. ``on_step(done, total)`` reports progress.
    """
    per_dim: list[range] = []
    for d in spec.dimensions:
        engine.register_arrow(f"cube_{spec.id}_{d.id}", d.mapping_table())
        found = layers(d)
        for j, pairs in enumerate(found):
            engine.register_arrow(f"cube_{spec.id}_{d.id}_l{j}", _pairs_table(pairs))
        per_dim.append(range(len(found)))
    at = next((i for i, d in enumerate(spec.dimensions) if d.role == "time"), 0)
    combos = list(itertools.product(*per_dim))
    plan: list[tuple[int, list[tuple[int, ...]]]] = []
    for layer in per_dim[at]:
        mine = [c for c in combos if c[at] == layer]
        plan += [
            (layer, mine[i : i + COMBOS_PER_QUERY]) for i in range(0, len(mine), COMBOS_PER_QUERY)
        ]
    total = 1 + len(per_dim[at]) + len(plan) + 1
    step = 0

    def advance() -> None:
        nonlocal step
        step += 1
        if on_step:
            on_step(step, total)

    engine.create_table(f"cube_{spec.id}_patients", _patients_base_sql(spec))
    advance()
    counted = []
    current: int | None = None
    reduced = f"cube_{spec.id}_patients_reduced"
    for layer, batch in plan:
        if layer != current:
            engine.create_table(reduced, _reduced_sql(spec, at, layer))
            current = layer
            advance()
        counted.append(engine.query(_patients_sql(spec, reduced, at, batch)))
        advance()
    engine.drop(reduced)
    engine.drop(f"cube_{spec.id}_patients")
    cells = _cells(engine, spec, counted)
    advance()
    return cells


def _cells(engine: Engine, spec: CubeSpec, counted: Sequence[pa.Table]) -> pa.Table:
    """The additive measures per cell with the counted patients (0 where none), in code order."""
    fields: list[pa.Field[Any]] = [pa.field(d.id, pa.string()) for d in spec.dimensions]
    fields.append(pa.field("pasienter", pa.int64()))
    schema = pa.schema(fields)
    patients = pa.concat_tables([t.cast(schema) for t in counted] or [schema.empty_table()])
    engine.register_arrow(f"cube_{spec.id}_pasienter", patients)
    dims = [d.id for d in spec.dimensions]
    on = " AND ".join(f"p.{d} = a.{d}" for d in dims)
    sums = [f"CAST(a.{m.id} AS BIGINT) AS {m.id}" for m in spec.measures]
    cells = engine.query(
        f"SELECT {', '.join([*(f'a.{d}' for d in dims), *sums])}, "
        "CAST(COALESCE(p.pasienter, 0) AS BIGINT) AS pasienter "
        f"FROM ({_additive_sql(spec)}) AS a LEFT JOIN cube_{spec.id}_pasienter AS p ON {on} "
        f"ORDER BY {', '.join(f'a.{d}' for d in dims)}"
    )
    return cells


def _first_codes(d: Dimension) -> list[dict[str, str]]:
    """Per layer: each key's first code (it stands for the codes with the very same keys)."""
    out = []
    for pairs in layers(d):
        mine: dict[str, str] = {}
        for key, c in pairs:
            mine.setdefault(key, c)
        out.append(mine)
    return out


def _layer_codes(d: Dimension) -> tuple[pa.Table, pa.Table, int]:
    """Each key's code per layer (columns ``c0``, ``c1``...; NULL where none) and the aliases.

    Codes are numbers (their place in ``d.codes``): grouping by small integers is several times
    faster than by strings; ``kid`` numbers the keys themselves. Within a layer a key counts
    for one set of codes with the very same keys (a year and its year to date through the last
    tertial); the first of them stands for the set while counting, and the alias table (``grp``,
    ``code``) gives every code of the set back afterwards, as a string.
    """
    at = {c: n for n, (c, _) in enumerate(d.codes)}
    first = _first_codes(d)
    grp: list[int] = []
    code: list[str] = []
    for pairs, mine in zip(layers(d), first, strict=True):
        seen: set[str] = set()
        for key, c in pairs:
            if c not in seen:
                seen.add(c)
                grp.append(at[mine[key]])
                code.append(c)
    keys = list(dict.fromkeys(k for mine in first for k in mine))
    columns: dict[str, pa.Array[Any]] = {
        "key": pa.array(keys, pa.string()),
        "kid": pa.array(range(len(keys)), pa.int32()),
    }
    for j, mine in enumerate(first):
        codes_j = [at[mine[k]] if k in mine else None for k in keys]
        columns[f"c{j}"] = pa.array(codes_j, pa.int32())
    aliases = pa.table({"grp": pa.array(grp, pa.int32()), "code": pa.array(code, pa.string())})
    return pa.table(columns), aliases, len(first)


def _stack_table(d: Dimension) -> pa.Table:
    """(key, code number) for every layer of ``d`` at once: its codes differ between layers."""
    at = {c: n for n, (c, _) in enumerate(d.codes)}
    pairs = [(k, at[c]) for mine in _first_codes(d) for k, c in mine.items()]
    return pa.table(
        {
            "key": pa.array([k for k, _ in pairs], pa.string()),
            "code": pa.array([c for _, c in pairs], pa.int32()),
        }
    )


def _column(at: int, i: int, j: int) -> str:
    return "t" if i == at else f"c{i}_{j}"


def _coded_sql(spec: CubeSpec, at: int, widths: Sequence[int], geo: int | None = None) -> str:
    """The distinct rows as numbers: patient, the time code of every layer, each key's codes.

    The patient is its rank among the distinct patients (``cube_<id>_patient_ids``); dimension
    ``at`` is mapped to its codes in all its layers at once (a patient with contacts in many
    months is one row a year, one a tertial...); every other key to its code per layer (one row
    per key, columns ``c<dimension>_<layer>``, NULL where the layer has no code for it); with
    ``geo``, that dimension's key number too (``kg``, :func:`_geo_patients_sql`).
    """
    n = len(spec.dimensions)
    cols = ["i.pi AS p", "s.code AS t"] + [
        f"m{i}.c{j} AS c{i}_{j}" for i in range(n) if i != at for j in range(widths[i])
    ]
    if geo is not None:
        cols.append(f"m{geo}.kid AS kg")
    joins = " ".join(
        f"JOIN cube_{spec.id}_{d.id}_layers AS m{i} ON m{i}.key = b.k{i}"
        for i, d in enumerate(spec.dimensions)
        if i != at
    )
    return (
        f"SELECT DISTINCT {', '.join(cols)} FROM cube_{spec.id}_patients AS b "
        f"JOIN cube_{spec.id}_patient_ids AS i ON i.p = b.p "
        f"JOIN cube_{spec.id}_{spec.dimensions[at].id}_stack AS s ON s.key = b.k{at} {joins}"
    )


def _coded_patients_sql(spec: CubeSpec, at: int, combos: Sequence[tuple[int, ...]]) -> str:
    """Distinct patients per cell of each layer combination, over the coded rows.

    One GROUP BY per combination (UNION ALL) over ``cube_<id>_coded``: each is one pass over
    integers, the time dimension's layers all in one. Rows whose key has no code in a layer of
    the combination are left out (no cell), then the code numbers are turned back into codes
    (with their aliases).
    """
    parts = []
    for combo in combos:
        cols = [_column(at, i, j) for i, j in enumerate(combo)]
        named = ", ".join(f"{c} AS g{i}" for i, c in enumerate(cols))
        present = " AND ".join(f"{c} IS NOT NULL" for i, c in enumerate(cols) if i != at)
        parts.append(
            f"SELECT {named}, COUNT(DISTINCT p) AS pasienter FROM cube_{spec.id}_coded "
            f"WHERE {present or 'TRUE'} GROUP BY {', '.join(cols)}"
        )
    return _decoded_sql(spec, " UNION ALL ".join(parts))


def _decoded_sql(spec: CubeSpec, counted: str) -> str:
    """``counted`` (code numbers ``g0``, ``g1``... and ``pasienter``) with the code numbers
    turned back into codes, every alias of a code too."""
    names = ", ".join(f"a{i}.code AS {d.id}" for i, d in enumerate(spec.dimensions))
    aliases = " ".join(
        f"JOIN cube_{spec.id}_{d.id}_aliases AS a{i} ON a{i}.grp = g.g{i}"
        for i, d in enumerate(spec.dimensions)
    )
    return (
        f"SELECT {names}, CAST(g.pasienter AS BIGINT) AS pasienter FROM ({counted}) AS g {aliases}"
    )


def _geo_patients_sql(
    spec: CubeSpec, at: int, geo: int, widths: Sequence[int], combo: Sequence[int]
) -> str:
    """Distinct patients per cell of every layer of the geographic dimension ``geo`` at once,
    the other dimensions at the layers of ``combo`` (its entries at ``at`` and ``geo`` unused).

    A patient lives in one place (a key of ``geo``) at a time, and seldom in two within one
    period: the distinct patients of an area are the sum over its keys of each key's distinct
    patients, less, for each patient found under k > 1 of its keys in the same cell, k - 1.
    So one GROUP BY per key (``cube_<id>_coded``) and a small one over the rows of the patients
    with more than one key (``cube_<id>_movers``) give every layer: exact whatever the data.
    """
    dims = spec.dimensions
    n = len(dims)
    others = [i for i in range(n) if i != geo]
    cols = {i: _column(at, i, combo[i]) for i in others}

    def present(prefix: str) -> str:
        known = [f"{prefix}{cols[i]} IS NOT NULL" for i in others if i != at]
        return " AND ".join(known) or "TRUE"

    grouped = ", ".join(cols[i] for i in others)
    base = (
        f"SELECT kg, {grouped}, COUNT(DISTINCT p) AS n FROM cube_{spec.id}_coded "
        f"WHERE {present('')} GROUP BY kg, {grouped}"
    )
    geo_id = dims[geo].id
    named = ", ".join(f"b.{cols[i]} AS g{i}" for i in others)
    on = " AND ".join(f"o.g{i} = s.g{i}" for i in [geo, *others])
    keys = ", ".join(f"g{i}" for i in [geo, *others])
    parts = []
    for j in range(widths[geo]):
        summed = (
            f"SELECT m.c{j} AS g{geo}, {named}, SUM(b.n) AS n FROM base AS b "
            f"JOIN cube_{spec.id}_{geo_id}_layers AS m ON m.kid = b.kg "
            f"WHERE m.c{j} IS NOT NULL GROUP BY ALL"
        )
        twice = (
            f"SELECT m.c{j} AS g{geo}, {named}, b.p, COUNT(DISTINCT b.kg) - 1 AS extra "
            f"FROM cube_{spec.id}_movers AS b "
            f"JOIN cube_{spec.id}_{geo_id}_layers AS m ON m.kid = b.kg "
            f"WHERE m.c{j} IS NOT NULL AND {present('b.')} "
            f"GROUP BY ALL HAVING COUNT(DISTINCT b.kg) > 1"
        )
        over = f"SELECT {keys}, SUM(extra) AS extra FROM ({twice}) GROUP BY {keys}"
        parts.append(
            f"SELECT s.*, s.n - COALESCE(o.extra, 0) AS pasienter FROM ({summed}) AS s "
            f"LEFT JOIN ({over}) AS o ON {on}"
        )
    return f"WITH base AS ({base}) " + _decoded_sql(spec, " UNION ALL ".join(parts))


def count_cube(
    engine: Engine,
    spec: CubeSpec,
    on_step: Callable[[int, int], None] | None = None,
    *,
    by_key: bool = True,
) -> pa.Table:
    """The cube's cells: one row per combination of codes with facts, measures and patients.

    Additive measures are summed per leaf (the facts' keys) and rolled up through each
    dimension's mapping. Distinct patients are not additive: the distinct (patient, keys) rows
    are coded once as small integers (the patient's rank, each dimension's code number in each
    of its layers, :func:`layers`; the time dimension, or else the first, mapped to all its
    layers at once and duplicates removed again) and counted with one GROUP BY per combination
    of the other dimensions' layers over those integers (docs/performance.md: several times
    faster than :func:`count_cube_per_combination`, whose result it equals row for row). The
    geographic dimension's layers are counted together, by key less the patients found under
    two keys (:func:`_geo_patients_sql`; ``by_key=False``: one GROUP BY per layer, as before,
    the bench's baseline). Both steps are plain SQL, so the cube counts the same on every
    engine. ``on_step(done, total)`` reports progress.
    """
    widths: list[int] = []
    for d in spec.dimensions:
        engine.register_arrow(f"cube_{spec.id}_{d.id}", d.mapping_table())
        codes, aliases, width = _layer_codes(d)
        engine.register_arrow(f"cube_{spec.id}_{d.id}_layers", codes)
        engine.register_arrow(f"cube_{spec.id}_{d.id}_aliases", aliases)
        widths.append(width)
    at = next((i for i, d in enumerate(spec.dimensions) if d.role == "time"), 0)
    time_dim = spec.dimensions[at]
    engine.register_arrow(f"cube_{spec.id}_{time_dim.id}_stack", _stack_table(time_dim))
    geo = next(
        (
            i
            for i, d in enumerate(spec.dimensions)
            if by_key and d.role == "geo" and i != at and widths[i]
        ),
        None,
    )
    # The time dimension's layers are all in one column: one combination covers them; so do
    # the geographic dimension's (summed over its keys, _geo_patients_sql).
    ranges = [range(1 if i in (at, geo) else w) for i, w in enumerate(widths)]
    combos = list(itertools.product(*ranges))
    per_query = 1 if geo is not None else COMBOS_PER_QUERY
    batches = [combos[i : i + per_query] for i in range(0, len(combos), per_query)]
    total = 2 + len(batches) + 1
    step = 0

    def advance() -> None:
        nonlocal step
        step += 1
        if on_step:
            on_step(step, total)

    engine.create_table(f"cube_{spec.id}_patients", _patients_base_sql(spec))
    engine.create_table(
        f"cube_{spec.id}_patient_ids",
        "SELECT p, ROW_NUMBER() OVER (ORDER BY p) AS pi "
        f"FROM (SELECT DISTINCT p FROM cube_{spec.id}_patients) AS u",
    )
    advance()
    engine.create_table(f"cube_{spec.id}_coded", _coded_sql(spec, at, widths, geo))
    engine.drop(f"cube_{spec.id}_patient_ids")
    engine.drop(f"cube_{spec.id}_patients")
    if geo is not None:
        engine.create_table(
            f"cube_{spec.id}_movers",
            f"SELECT c.* FROM cube_{spec.id}_coded AS c WHERE c.p IN (SELECT p FROM "
            f"cube_{spec.id}_coded GROUP BY p HAVING MIN(kg) <> MAX(kg))",
        )
    advance()
    counted = []
    for batch in batches:
        if geo is not None:
            counted.append(engine.query(_geo_patients_sql(spec, at, geo, widths, batch[0])))
        else:
            counted.append(engine.query(_coded_patients_sql(spec, at, batch)))
        advance()
    engine.drop(f"cube_{spec.id}_coded")
    if geo is not None:
        engine.drop(f"cube_{spec.id}_movers")
    cells = _cells(engine, spec, counted)
    advance()
    return cells


def _pairs_table(pairs: Sequence[tuple[str, str]]) -> pa.Table:
    return pa.table(
        {
            "key": pa.array([k for k, _ in pairs], pa.string()),
            "code": pa.array([c for _, c in pairs], pa.string()),
        }
    )


def _population_lookup(engine: Engine, spec: CubeSpec, borders: int) -> dict[tuple[str, ...], int]:
    if not any(d.denominator == "population" for d in spec.derived):
        return {}
    if not engine.has_relation("population"):
        return {}
    found: list[Any] = engine.query("SELECT DISTINCT year FROM population")["year"].to_pylist()
    years = [int(y) for y in found]
    engine.register_arrow("pop_residence", residence_map(sorted(years), borders))
    parts = {
        "region": "f.residence",
        "sex": "CAST(f.sex AS VARCHAR)",
        "age": "CAST(f.age AS VARCHAR)",
    }
    dims = [d for d in spec.dimensions if d.id in parts]
    selects = ["CAST(f.year AS VARCHAR) AS year"] + [
        f"d{i}.code AS {d.id}" for i, d in enumerate(dims)
    ]
    joins = [
        f"JOIN cube_{spec.id}_{d.id} AS d{i} ON d{i}.key = {parts[d.id]}"
        for i, d in enumerate(dims)
    ]
    groups = ", ".join(["f.year"] + [f"d{i}.code" for i in range(len(dims))])
    sql = (
        f"SELECT {', '.join(selects)}, SUM(f.count) AS n FROM ("
        "SELECT p.year, COALESCE(r.residence, p.municipality) AS residence, p.sex, p.age, p.count "
        "FROM population AS p LEFT JOIN pop_residence AS r "
        "ON r.year = p.year AND r.municipality = p.municipality) AS f "
        + " ".join(joins)
        + f" GROUP BY {groups}"
    )
    got = engine.query(sql)
    order = [d.id for d in spec.dimensions if d.id in ("period", "region", "sex", "age")]
    lookup: dict[tuple[str, ...], int] = {}
    cols: dict[str, list[Any]] = {name: got[name].to_pylist() for name in got.column_names}
    for i in range(got.num_rows):
        key = tuple(str(cols["year"][i] if name == "period" else cols[name][i]) for name in order)
        lookup[key] = int(cols["n"][i])
    return lookup


def cube_lines(spec: CubeSpec, cells: pa.Table) -> list[list[int]]:
    """Every line of the cube as cell indices (total first): what an attacker knows adds up."""
    dims = spec.dimensions
    columns: list[list[Any]] = [cells[d.id].to_pylist() for d in dims]
    n = cells.num_rows
    lines: dict[tuple[object, ...], list[int]] = {}
    parent_at: dict[tuple[object, ...], int] = {}
    for pos, d in enumerate(dims):
        as_parent: dict[str, list[int]] = {}
        as_child: dict[str, list[int]] = {}
        for li, (parent, children) in enumerate(d.lines):
            as_parent.setdefault(parent, []).append(li)
            for child in children:
                as_child.setdefault(child, []).append(li)
        col = columns[pos]
        for i in range(n):
            code = col[i]
            if code not in as_parent and code not in as_child:
                continue
            others = tuple(columns[k][i] for k in range(len(dims)) if k != pos)
            for li in as_parent.get(code, ()):
                parent_at[(pos, li, others)] = i
            for li in as_child.get(code, ()):
                lines.setdefault((pos, li, others), []).append(i)
    out: list[list[int]] = []
    for key in sorted(lines, key=lambda k: (k[0], k[1], str(k[2]))):
        parent_cell = parent_at.get(key)
        if parent_cell is None:
            raise SamhandlingError(f"Kuben mangler en sumcelle for linjen {key}")
        out.append([parent_cell, *lines[key]])
    return out


def _axes(spec: CubeSpec) -> list[Axis]:
    return [Axis.from_mapping([c for c, _ in d.codes], d.mapping) for d in spec.dimensions]


def _coordinates(spec: CubeSpec, cells: pa.Table) -> npt.NDArray[np.int64]:
    """Each cell's code index per dimension (the order of ``Dimension.codes``)."""
    out = np.zeros((cells.num_rows, len(spec.dimensions)), dtype=np.int64)
    for j, d in enumerate(spec.dimensions):
        index = {c: i for i, (c, _) in enumerate(d.codes)}
        column = cells[d.id].to_pylist()
        try:
            out[:, j] = [index[str(code)] for code in column]
        except KeyError as exc:
            raise SamhandlingError(f"Kuben {spec.id} har en ukjent kode {exc} i {d.id}") from None
    return out


@dataclass
class CountedCube:
    """A cube counted from the facts, protected in one or more steps.

    :meth:`protect` may be called again with ``forced`` cells (a linked table withholds the same
    cells, :func:`samhandling.tables.catalog.link_protection`): the hidden cells only grow.
    """

    spec: CubeSpec
    cells: pa.Table
    protection: Protection | None = None
    # What hiding each cell costs, relative (None: 1 each); see hypercube_protection.
    weights: npt.NDArray[np.float64] | None = None

    @cached_property
    def _inputs(
        self,
    ) -> tuple[
        npt.NDArray[np.int64], list[Axis], npt.NDArray[np.int64], dict[str, npt.NDArray[np.float64]]
    ]:
        """Coordinates, axes, patients and additive measures: the same in every round."""
        additive = {
            m.id: np.asarray(self.cells[m.id].to_pylist(), dtype=np.float64)
            for m in self.spec.measures
        }
        patients = np.asarray(self.cells["pasienter"].to_pylist(), dtype=np.int64)
        return _coordinates(self.spec, self.cells), _axes(self.spec), patients, additive

    def protect(
        self,
        threshold: int,
        forced: npt.NDArray[np.bool_] | None = None,
        method: str = "gauss",
        pattern: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        """Protect (again): ``method`` is ``gauss`` or ``hypercube`` (rule
        ``disclosure.secondary_method``, :func:`samhandling.tables.disclosure.secondary_method`);
        ``pattern`` is what an elimination of all linked tables together hid in this one.
        """
        coords, axes, patients, additive = self._inputs
        if method == "gauss":
            self.protection = gauss_protection(
                coords,
                axes,
                patients,
                additive,
                threshold,
                before=self.protection,
                forced=forced,
                weights=self.weights,
                pattern=pattern,
                lines=self.part_lines,
            )
            return
        self.protection = hypercube_protection(
            coords,
            axes,
            patients,
            additive,
            threshold,
            before=self.protection,
            forced=forced,
            weights=self.weights,
        )

    @cached_property
    def part_lines(self) -> list[list[list[int]]]:
        """Per dimension, the code indices of each line's parts (for the singleton pairs)."""
        out = []
        for d in self.spec.dimensions:
            index = {c: i for i, (c, _) in enumerate(d.codes)}
            out.append([[index[p] for p in parts if p in index] for _, parts in d.lines])
        return out

    def hide(self, cells: npt.NDArray[np.bool_]) -> None:
        """Withhold ``cells`` too (secondary), without searching a certificate for them."""
        if self.protection is None:
            raise TableError(f"Tabell {self.spec.id} er ikke prikket ennå")
        reasons = self.protection.reasons.copy()
        reasons[np.asarray(cells, dtype=bool) & (reasons == PUBLISHED)] = SECONDARY
        self.protection = Protection(reasons, self.protection.proven)

    def elimination_input(
        self,
    ) -> tuple[
        npt.NDArray[np.int64],
        list[Axis],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        list[list[list[int]]],
    ]:
        """Coordinates, axes, patients and what hiding each cell costs (the first measure + 1,
        times the cell's weight): this table's part of an elimination of linked tables
        (:func:`samhandling.tables.gauss.linked_patterns`)."""
        coords, axes, patients, additive = self._inputs
        first = next(iter(additive.values()))
        weight = np.ones(len(first)) if self.weights is None else self.weights
        return coords, axes, patients, (first + 1.0) * weight, self.part_lines

    @property
    def protected(self) -> Protection:
        if self.protection is None:
            raise TableError(f"Tabell {self.spec.id} er ikke prikket ennå")
        return self.protection

    @property
    def reasons(self) -> npt.NDArray[np.int8]:
        return self.protected.reasons

    def finish(
        self,
        engine: Engine,
        *,
        threshold: int,
        rule_version: str,
        borders: int,
        built: str | None = None,
    ) -> ProtectedCube:
        """The protected cube: the counted cells with their reasons and the population."""
        spec = self.spec
        cast: list[pa.Field[Any]] = [pa.field(d.id, pa.string()) for d in spec.dimensions]
        cast += [pa.field(m.id, pa.int64()) for m in spec.measures]
        cast.append(pa.field("pasienter", pa.int64()))
        cells = self.cells.select([f.name for f in cast]).cast(pa.schema(cast))
        cells = cells.append_column("reason", pa.array(self.reasons, pa.int8()))
        stamp = built or datetime.now().astimezone().replace(microsecond=0).isoformat()
        return ProtectedCube(
            spec,
            cells,
            _population_lookup(engine, spec, borders),
            threshold,
            rule_version,
            stamp,
        )


def counted_cube(
    engine: Engine,
    spec: CubeSpec,
    on_step: Callable[[int, int], None] | None = None,
) -> CountedCube:
    """Count the cube from the facts on ``engine`` (not protected yet).

    ``on_step(done, steps)`` is told each counting query; ``steps`` counts one more, the
    protection.
    """

    def counting(done: int, total: int) -> None:
        if on_step:
            on_step(done, total + 1)

    return CountedCube(spec, count_cube(engine, spec, counting))


def build_cube(
    engine: Engine,
    spec: CubeSpec,
    *,
    threshold: int,
    rule_version: str,
    borders: int,
    built: str | None = None,
    on_step: Callable[[int, int], None] | None = None,
    method: str = "gauss",
) -> ProtectedCube:
    """Count the cube from the facts on ``engine`` and protect it with all its margins.

    ``on_step(done, steps)`` is told each counting query and the protection (the last step).
    """
    steps = [1]

    def counting(done: int, total: int) -> None:
        steps[0] = total
        if on_step:
            on_step(done, total)

    counted = counted_cube(engine, spec, counting)
    counted.protect(threshold, method=method)
    if on_step:
        on_step(steps[0], steps[0])
    return counted.finish(
        engine, threshold=threshold, rule_version=rule_version, borders=borders, built=built
    )


def today_iso() -> str:
    return date.today().isoformat()
