"""Secondary suppression for whole cubes by protecting hypercubes (GHMITER-style), with proof.

The LP audit in :mod:`samhandling.tables.disclosure` solves linear programmes over every linked
group of hidden cells; a national cube (municipality x tertial x sex x age, every margin) links
hundreds of thousands of hidden cells into one group and the audit does not finish. This module
protects a cube *constructively* instead, and each protection comes with its own proof.

**Atoms.** Every dimension maps fact keys (a municipality, a year-month, an age) to codes at
every level. Keys that map to exactly the same codes are interchangeable; call each such class an
*atom*. Every code is the sum of the atoms it contains, so *any* change to the atom-level table
changes the published cells consistently with every line (``total = sum of parts``) of the cube.

**Certificates.** For a primary cell ``t`` choose, per dimension, either one atom ``A`` inside
``t``'s code (vector ``+1`` on every code containing ``A``) or a pair: ``A`` inside and ``B``
outside (``+1`` on codes containing ``A`` only, ``-1`` on codes containing ``B`` only). The
tensor product of these per-dimension vectors, ``x``, is a change of the cube that keeps every
line and has ``x[t] = +1``: it is the corner pattern of a hypercube. If every cell where ``x`` is
non-zero is hidden, the attacker cannot tell the true table from ``table + d * x`` for any ``d``
that keeps cells non-negative: ``d`` in ``[-min(+ corners), min(- corners)]``. So the attacker's
interval for ``t`` is at least ``min(+ corners) + min(- corners)`` wide (unbounded when there is
no ``-`` corner). A certificate is accepted when that width reaches the threshold in every
additive measure where ``t`` is non-zero. Certificates stay valid when more cells are hidden, so
one pass over the primary cells suffices; nothing is re-audited. The width is the same at every
corner of a hypercube, so a hidden certificate proves an interval for *each* of its corners: a
primary cell that is already a corner of a wide enough certificate needs none of its own (in
sparse cubes most are), which saves both time and hidden cells.

**Choice.** Primary cells are taken smallest first (then in cube order: deterministic), in
batches scored together with numpy. Per code, the candidate pairs are the smallest supports
(the cheapest partners: a municipality in the same county and trust) and, for every support size,
the largest partner (the biggest municipality of the county, of the region, of the country): in
sparse corners only a large partner can make up the threshold, and without one the only valid
hypercube runs through the country's totals, which then cost nothing to reuse and attract every
later hypercube. Per dimension, the candidates whose cells exist along the cell's line are ranked
(able to reach the threshold on the line, least value hidden anew, fewest new hidden cells,
smallest support); the two cheapest pairs and the cheapest single are combined in every way, and
the valid hypercube with the least *information loss* (sum of the values hidden anew, plus one
per cell) is hidden. Cells left without one, or only with one through big aggregates, are
searched again wider: more pairs, and the pairs with the widest partners on the line.
Where no single hypercube is wide enough, or the best one loses much (through big aggregates),
several are moved together (:meth:`_Search.combined`): with ``n`` hypercubes sharing only the
cell, each partner moves by ``d / n``, so many small partners protect a cell that no single one
could. Only when that fails too comes the last resort, the hypercube of one fact's atoms taken
singly: the cell with its aggregates (always exists, and lets the cell grow without bound).
Validity never depends on which cells are hidden, only the cost does, so batching can make the
pattern slightly larger than one-by-one choice, never unsafe.

Secondary cells (hidden only to protect others) describe at least ``threshold`` patients and need
no protection interval of their own, except cells *forced* hidden because a linked table withholds
them (:func:`hypercube_protection`, used by :func:`samhandling.tables.catalog.link_protection`):
those get a certificate of their own, like primary cells. The method is sound but not minimal:
it may hide more cells than an exact optimisation would. ``tests/test_disclosure.py`` checks every
result with an independent LP attacker over the whole cube.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from samhandling.tables.disclosure import PRIMARY, PUBLISHED, SECONDARY

__all__ = [
    "Axis",
    "Protection",
    "axis_components",
    "hypercube_protection",
    "independent_parts",
    "protect_hypercubes",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
# A change of the cube that keeps every line: (information loss, cells, coefficient per cell).
Certificate = tuple[float, IntArray, FloatArray]

# Candidate vectors tried per dimension and primary cell: how many pairs, and then singles.
PAIRS_PER_DIMENSION = 2
SINGLES_PER_DIMENSION = 1
# ... and for the cells those do not protect.
WIDER_PAIRS = 6
WIDER_SINGLES = 3
WIDER_BATCH = 8
# ... plus, for those cells only, the pairs with the widest partners (see _Search.options).
# Measured on one national year of SD02 (280 007 cells; 2019 of a 100 % synthetic year): the
# hidden value fell from 611 M to 33 M and the country's cells of the year from 94 % hidden to
# none (with the largest partners among the candidates, see Axis.candidates); 57 s → 66 s.
WIDER_ROBUST = 4
# Most hypercubes moved together for one cell before falling back to its aggregates.
COMBINED_MAX = 24
# A single hypercube losing more than this many times the threshold is compared with a spread
# over several (a tuning constant of the search: it changes how much is hidden, never safety).
# Measured on a sparse year of SD01 (96 420 cells, 31 609 primary): 50 → 24.2 s, 33.5 M hidden;
# 1 000 → 17.3 s, 33.7 M; never (fallback only) → 12.4 s, 38.8 M.
COMBINE_ABOVE_LOSS = 1000
# Candidates kept per code before the data are looked at (smallest supports first).
CANDIDATES_PER_CODE = 64
# Elements (combinations x corners) scored together: sets how many primary cells form a batch.
BATCH_ELEMENTS = 4_000_000
# Cubes with fewer cells are protected in this process even when they fall apart into parts.
PARALLEL_FROM_CELLS = 50_000
# Largest key space (product of the axes' code counts) looked up through a dense index array.
DENSE_LOOKUP_MAX = 64_000_000


@dataclass(frozen=True)
class Axis:
    """One dimension as the method needs it: its codes and, per atom, the codes containing it."""

    codes: tuple[str, ...]
    atoms: tuple[frozenset[int], ...]

    @classmethod
    def from_mapping(cls, codes: Sequence[str], mapping: Sequence[tuple[str, str]]) -> Axis:
        """``mapping`` lists (fact key, code) pairs; keys with the same codes form one atom."""
        index = {c: i for i, c in enumerate(codes)}
        of_key: dict[str, set[int]] = {}
        for key, code in mapping:
            if code in index:
                of_key.setdefault(key, set()).add(index[code])
        atoms = sorted({frozenset(s) for s in of_key.values() if s}, key=sorted)
        return cls(tuple(codes), tuple(atoms))

    def candidates(self, code: int, stride: int, sizes: FloatArray | None = None) -> _Candidates:
        """Vectors with ``+1`` at ``code``, as key offsets: pairs by support size, then singles.

        With ``sizes`` (a size per atom), each inside atom is also paired with the largest
        outside atoms of every support size: the smallest supports are the cheapest partners
        but often too small to protect anything in the finer corners of a hypercube, and
        without a large partner on the same level the only valid hypercube can be the one
        through the country's totals.
        """
        inside = [i for i, a in enumerate(self.atoms) if code in a]
        outside = [i for i, b in enumerate(self.atoms) if code not in b]
        pairs: dict[tuple[tuple[int, int], ...], None] = {}
        largest: dict[tuple[int, int], tuple[float, tuple[tuple[int, int], ...]]] = {}
        for i in inside:
            a = self.atoms[i]
            for k in outside:
                b = self.atoms[k]
                vec = tuple(sorted([(c, 1) for c in a - b] + [(c, -1) for c in b - a]))
                pairs.setdefault(vec)
                if sizes is not None:
                    held = largest.get((i, len(vec)))
                    if held is None or sizes[k] > held[0]:
                        largest[(i, len(vec))] = (float(sizes[k]), vec)
        ranked = sorted(pairs, key=lambda v: (len(v), v))[:CANDIDATES_PER_CODE]
        kept = set(ranked)
        for _, vec in sorted(largest.values(), key=lambda sv: (len(sv[1]), sv[1])):
            if vec not in kept:
                kept.add(vec)
                ranked.append(vec)
        # Every single is kept: the fallback needs the atoms of some fact under the code.
        singles = sorted(
            {tuple((c, 1) for c in sorted(self.atoms[i])) for i in inside},
            key=lambda v: (len(v), v),
        )
        vectors = [*ranked, *singles]
        width = max(len(v) for v in vectors)
        delta = np.zeros((len(vectors), width), dtype=np.int64)
        signs = np.zeros((len(vectors), width), dtype=np.int64)
        for i, vec in enumerate(vectors):
            delta[i, : len(vec)] = [(c - code) * stride for c, _ in vec]
            signs[i, : len(vec)] = [s for _, s in vec]
        single = np.zeros(len(vectors), dtype=bool)
        single[len(ranked) :] = True
        return _Candidates(delta, signs, single)


@dataclass(frozen=True)
class _Candidates:
    """Candidate vectors of one code: key offsets and signs per row, padded with sign 0."""

    delta: IntArray
    signs: IntArray
    single: npt.NDArray[np.bool_]

    def rows(self, chosen: IntArray) -> _Candidates:
        """The chosen rows, without padding columns none of them uses."""
        width = max(1, int((self.signs[chosen] != 0).sum(axis=1).max(initial=0)))
        return _Candidates(
            self.delta[chosen, :width], self.signs[chosen, :width], self.single[chosen]
        )


@dataclass(frozen=True)
class Protection:
    """A protected cube's state: the reason per cell and, per measure (rows) and cell, the width
    of the interval that hidden certificates prove (0: none). More cells can be protected later
    (:func:`hypercube_protection` with ``before``) without searching again for those done."""

    reasons: npt.NDArray[np.int8]
    proven: FloatArray


def protect_hypercubes(
    coords: IntArray,
    axes: Sequence[Axis],
    patients: npt.ArrayLike,
    measures: Mapping[str, npt.ArrayLike],
    threshold: int,
    *,
    workers: int | None = None,
) -> npt.NDArray[np.int8]:
    """Suppression reason per cell (``PUBLISHED``, ``PRIMARY``, ``SECONDARY``).

    ``coords`` has one row per cell and one column per axis (the code's index in ``axis.codes``);
    cells not listed are empty (published zeros). ``patients`` drives primary suppression; every
    measure in ``measures`` is additive along the axes and must be protected (the first one ranks
    the choices).

    Codes of an axis that share no atom, directly or through other codes, are never on one line
    (the years of the period: no line adds two years). The cube then falls apart into parts
    that no line links, and each part is protected on its own (the same result as protecting
    the whole, with smaller arrays), on up to ``workers`` processes (default: the CPUs).
    """
    return hypercube_protection(
        coords, axes, patients, measures, threshold, workers=workers
    ).reasons


def hypercube_protection(
    coords: IntArray,
    axes: Sequence[Axis],
    patients: npt.ArrayLike,
    measures: Mapping[str, npt.ArrayLike],
    threshold: int,
    *,
    before: Protection | None = None,
    forced: npt.NDArray[np.bool_] | None = None,
    weights: npt.ArrayLike | None = None,
    workers: int | None = None,
) -> Protection:
    """:func:`protect_hypercubes` with its state, continuing ``before`` and hiding ``forced``.

    ``forced`` cells must be hidden whatever their patients (a linked table hides the same
    cell): each is hidden (``SECONDARY`` when it was published) and protected like a primary
    cell, with a certificate of its own. Cells hidden ``before`` stay hidden and the intervals
    proven before still count, so only what is new is searched: the hidden cells only grow.
    ``weights`` multiply what hiding each cell costs in the choice (a cell that other tables
    publish too is hidden in all of them: :func:`samhandling.tables.catalog.link_weights`).
    """
    coords = np.asarray(coords, dtype=np.int64)
    pat = np.asarray(patients, dtype=np.int64)
    values = [np.asarray(v, dtype=np.float64) for v in measures.values()]
    if not values:
        raise ValueError("protect_hypercubes needs at least one additive measure")
    n = len(pat)
    hidden = None if before is None else before.reasons
    proven = np.zeros((len(values), n)) if before is None else before.proven
    must = np.zeros(n, dtype=bool) if forced is None else np.asarray(forced, dtype=bool)
    weight = None if weights is None else np.asarray(weights, dtype=np.float64)
    parts = independent_parts(coords, axes)
    # One part with every code of every axis: protected as it is. Otherwise each part on the
    # codes it has (a cube of one year on axes that name other years' codes too is protected
    # exactly as that year's part of the whole cube).
    if len(parts) == 1 and all(
        len(mine.codes) == len(axis.codes) for mine, axis in zip(parts[0][1], axes, strict=True)
    ):
        return _protect(
            _Part(coords, list(axes), pat, values, threshold, hidden, proven, must, weight)
        )
    jobs = []
    for cells, part_axes, recode in parts:
        part_coords = np.stack([recode[j][coords[cells, j]] for j in range(len(axes))], axis=1)
        jobs.append(
            _Part(
                part_coords,
                part_axes,
                pat[cells],
                [v[cells] for v in values],
                threshold,
                None if hidden is None else hidden[cells],
                proven[:, cells],
                must[cells],
                None if weight is None else weight[cells],
            )
        )
    reasons = np.zeros(n, dtype=np.int8)
    widths = np.zeros((len(values), n))
    many = workers if workers is not None else (os.cpu_count() or 1)
    if many > 1 and n >= PARALLEL_FROM_CELLS:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        try:
            with ProcessPoolExecutor(min(many, len(jobs)), mp_context=context) as pool:
                results = list(pool.map(_protect, jobs))
        except BrokenProcessPool:
            # A worker could not start (a script without a ``__main__`` guard): same result here.
            results = [_protect(job) for job in jobs]
    else:
        results = [_protect(job) for job in jobs]
    for (cells, _axes, _recode), part in zip(parts, results, strict=True):
        reasons[cells] = part.reasons
        widths[:, cells] = part.proven
    return Protection(reasons, widths)


@dataclass(frozen=True)
class _Part:
    """One part of a cube to protect (see :func:`hypercube_protection`): picklable for workers."""

    coords: IntArray
    axes: Sequence[Axis]
    pat: IntArray
    values: list[FloatArray]
    threshold: int
    hidden: npt.NDArray[np.int8] | None
    proven: FloatArray
    forced: npt.NDArray[np.bool_]
    weights: FloatArray | None = None


def axis_components(axis: Axis) -> list[list[int]]:
    """The axis's codes in groups linked through shared atoms, each in code order."""
    parent = list(range(len(axis.codes)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for atom in axis.atoms:
        first, *rest = sorted(atom)
        for code in rest:
            parent[root(code)] = root(first)
    groups: dict[int, list[int]] = {}
    for code in range(len(axis.codes)):
        groups.setdefault(root(code), []).append(code)
    return list(groups.values())


def independent_parts(
    coords: IntArray, axes: Sequence[Axis]
) -> list[tuple[IntArray, list[Axis], list[IntArray]]]:
    """Cells of each part no line links: (cell indices, axes of the part, old → new code)."""
    per_axis = [axis_components(axis) for axis in axes]
    if all(len(groups) == 1 for groups in per_axis):
        whole = [np.arange(len(a.codes), dtype=np.int64) for a in axes]
        return [(np.arange(len(coords), dtype=np.int64), list(axes), whole)]
    group_of = []
    for axis, groups in zip(axes, per_axis, strict=True):
        of_code = np.zeros(len(axis.codes), dtype=np.int64)
        for g, codes in enumerate(groups):
            of_code[codes] = g
        group_of.append(of_code)
    labels = np.stack([group_of[j][coords[:, j]] for j in range(len(axes))], axis=1)
    found, inverse = np.unique(labels, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    out = []
    for p, combo in enumerate(found.tolist()):
        part_axes: list[Axis] = []
        recode: list[IntArray] = []
        for axis, groups, g in zip(axes, per_axis, combo, strict=True):
            codes = groups[g]
            new = np.full(len(axis.codes), -1, dtype=np.int64)
            new[codes] = np.arange(len(codes))
            atoms = tuple(
                frozenset(int(new[c]) for c in atom)
                for atom in axis.atoms
                if new[next(iter(atom))] >= 0
            )
            part_axes.append(Axis(tuple(axis.codes[c] for c in codes), atoms))
            recode.append(new)
        out.append((np.flatnonzero(inverse == p), part_axes, recode))
    return out


def _atom_sizes(axis: Axis, codes: IntArray, value: FloatArray) -> FloatArray:
    """Size of each atom: the value over all cells of its smallest code (its own level)."""
    per_code = np.bincount(codes, weights=value, minlength=len(axis.codes))
    return np.array([min(per_code[c] for c in atom) for atom in axis.atoms], dtype=np.float64)


def _protect(job: _Part) -> Protection:
    """:func:`hypercube_protection` of one part."""
    coords, axes, pat, values, threshold = (
        job.coords,
        job.axes,
        job.pat,
        job.values,
        job.threshold,
    )
    hidden, proven, forced = job.hidden, job.proven, job.forced
    n = len(pat)
    reasons = np.zeros(n, dtype=np.int8)
    reasons[(pat >= 1) & (pat < threshold)] = PRIMARY
    if hidden is not None:
        kept = (hidden != PUBLISHED) & (reasons == PUBLISHED)
        reasons[kept] = hidden[kept]
    reasons[forced & (reasons == PUBLISHED)] = SECONDARY
    to_protect = (reasons == PRIMARY) | forced
    if n == 0 or not np.any(to_protect):
        return Protection(reasons, proven.copy())
    sizes = np.array([len(a.codes) for a in axes], dtype=np.int64)
    strides = np.ones(len(axes), dtype=np.int64)
    for j in range(len(axes) - 2, -1, -1):
        strides[j] = strides[j + 1] * sizes[j + 1]
    keys = coords @ strides
    lookup = _Lookup(keys, int(np.prod(sizes)))
    search = _Search(keys, strides, lookup, reasons, values, threshold)
    search.proven = [row.copy() for row in proven]
    if job.weights is not None:
        search.cost = search.cost * job.weights
    primaries = np.flatnonzero(to_protect)
    stacks = [
        _Stack.of(
            axis,
            np.unique(coords[primaries, j]),
            int(strides[j]),
            _atom_sizes(axis, coords[:, j], values[0]),
        )
        for j, axis in enumerate(axes)
    ]
    ordered = primaries[np.lexsort((primaries, values[0][primaries]))]
    per_cell = int(
        np.prod(
            [min(s.height, PAIRS_PER_DIMENSION + SINGLES_PER_DIMENSION) * s.width for s in stacks]
        )
    )
    batch = max(1, BATCH_ELEMENTS // max(1, per_cell))
    for start in range(0, len(ordered), batch):
        cells = ordered[start : start + batch]
        cells = cells[~search.protected(cells)]  # corners of hypercubes hidden before
        if len(cells) == 0:
            continue
        rows = [stack.row[coords[cells, j]] for j, stack in enumerate(stacks)]
        taken = [s.take(r) for s, r in zip(stacks, rows, strict=True)]
        chosen = search.batch_best(cells, taken, PAIRS_PER_DIMENSION, SINGLES_PER_DIMENSION)
        costly = COMBINE_ABOVE_LOSS * threshold
        missing = [i for i, c in enumerate(chosen) if c is None or c[0] > costly]
        # Look wider for the few cells the cheapest candidates do not protect, or protect only
        # through big aggregates (small batches: wide searches score many more combinations).
        for part in range(0, len(missing), WIDER_BATCH):
            some = missing[part : part + WIDER_BATCH]
            wider = search.batch_best(
                cells[some],
                [s.take(r[some]) for s, r in zip(stacks, rows, strict=True)],
                WIDER_PAIRS,
                WIDER_SINGLES,
                WIDER_ROBUST,
            )
            for i, found in zip(some, wider, strict=True):
                before = chosen[i]
                if found is not None and (before is None or found[0] < before[0]):
                    chosen[i] = found
        for i, (cell, single) in enumerate(zip(cells.tolist(), chosen, strict=True)):
            if search.protected(np.array([cell]))[0]:
                continue  # a hypercube hidden for an earlier cell of the batch covers it
            found = single
            own = [s.take(r[i : i + 1]) for s, r in zip(stacks, rows, strict=True)]
            if found is None or found[0] > costly:
                # Spreading the change over several hypercubes of small cells can be much
                # cheaper than one hypercube through big aggregates (or the only way at all).
                for pairs, singles in (
                    (PAIRS_PER_DIMENSION, SINGLES_PER_DIMENSION),
                    (WIDER_PAIRS, WIDER_SINGLES),
                ):
                    spread = search.combined(cell, own, pairs, singles)
                    if spread is not None:
                        break
                if spread is not None and (found is None or spread[0] < found[0]):
                    found = spread
            if found is None:
                corners = search.unbounded(
                    cell, [s.singles(int(r[i])) for s, r in zip(stacks, rows, strict=True)]
                )
                found = (0.0, corners, np.ones(len(corners)))
            search.accept(found[1], found[2])
    return Protection(reasons, np.array(search.proven).reshape(len(values), n))


@dataclass(frozen=True)
class _Stack:
    """The candidate vectors of every code of one axis (that a primary cell uses), padded."""

    row: IntArray  # code -> row in the arrays below (-1: not used by any primary cell)
    delta: IntArray  # (codes, candidates, width): key offsets
    signs: IntArray  # 0 = padding
    single: npt.NDArray[np.bool_]  # (codes, candidates)
    real: npt.NDArray[np.bool_]

    @property
    def height(self) -> int:
        return int(self.delta.shape[1])

    @property
    def width(self) -> int:
        return int(self.delta.shape[2])

    @classmethod
    def of(
        cls,
        axis: Axis,
        codes: IntArray,
        stride: int,
        sizes: FloatArray | None = None,
    ) -> _Stack:
        per_code = [axis.candidates(int(c), stride, sizes) for c in codes]
        height = max(len(c.single) for c in per_code)
        width = max(c.delta.shape[1] for c in per_code)
        shape = (len(codes), height, width)
        delta = np.zeros(shape, dtype=np.int64)
        signs = np.zeros(shape, dtype=np.int64)
        single = np.zeros(shape[:2], dtype=bool)
        real = np.zeros(shape[:2], dtype=bool)
        for i, c in enumerate(per_code):
            h, w = c.delta.shape
            delta[i, :h, :w] = c.delta
            signs[i, :h, :w] = c.signs
            single[i, :h] = c.single
            real[i, :h] = True
        row = np.full(len(axis.codes), -1, dtype=np.int64)
        row[codes] = np.arange(len(codes))
        return cls(row, delta, signs, single, real)

    def take(self, rows: IntArray) -> _Stack:
        return _Stack(
            self.row, self.delta[rows], self.signs[rows], self.single[rows], self.real[rows]
        )

    def singles(self, row: int) -> _Candidates:
        keep = self.real[row] & self.single[row]
        return _Candidates(self.delta[row][keep], self.signs[row][keep], self.single[row][keep])


class _Lookup:
    """Cell index by linear key; ``-1`` for empty cells.

    A dense array over the whole key space when it is small enough (one gather per lookup), else
    sorted keys and binary search.
    """

    def __init__(self, keys: IntArray, key_space: int) -> None:
        self.dense: npt.NDArray[np.int32] | None = None
        if key_space <= DENSE_LOOKUP_MAX:
            self.dense = np.full(key_space, -1, dtype=np.int32)
            self.dense[keys] = np.arange(len(keys), dtype=np.int32)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.space = key_space

    def find(self, wanted: IntArray) -> IntArray:
        inside = (wanted >= 0) & (wanted < self.space)
        safe = np.where(inside, wanted, 0)
        if self.dense is not None:
            return np.where(inside, self.dense[safe], -1).astype(np.int64)
        pos = np.minimum(np.searchsorted(self.keys, safe), len(self.keys) - 1)
        hit = inside & (self.keys[pos] == safe)
        return np.where(hit, self.order[pos], -1)


@dataclass(frozen=True)
class _Option:
    """Chosen candidates of one axis for a batch of cells: (cells, options, width) arrays."""

    delta: IntArray
    signs: IntArray
    ok: npt.NDArray[np.bool_]  # (cells, options): a real, existing candidate

    def rows(self, cells: IntArray) -> _Option:
        return _Option(self.delta[cells], self.signs[cells], self.ok[cells])


@dataclass
class _Search:
    """The cube being protected: cell keys, lookup, current reasons and the measures."""

    keys: IntArray
    strides: IntArray
    table: _Lookup
    reasons: npt.NDArray[np.int8]
    values: list[FloatArray]
    threshold: int
    # Per measure and cell, the widest interval a hidden certificate proves (0: none yet).
    proven: list[FloatArray] = field(default_factory=list)
    # What hiding each cell costs: its first measure + 1 (so zeros count), times its weight.
    cost: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        self.proven = [np.zeros(len(self.keys)) for _ in self.values]
        self.cost = self.values[0] + 1.0

    def protected(self, cells: IntArray) -> npt.NDArray[np.bool_]:
        """Whether each cell already has a wide enough interval in every measure it needs."""
        ok = np.ones(len(cells), dtype=bool)
        for width, need in zip(self.proven, self.needs(cells), strict=True):
            ok &= ~need | (width[cells] >= self.threshold)
        return ok

    def accept(self, cells: IntArray, coef: FloatArray) -> None:
        """Hide a certificate's cells and record the interval it proves for each of them.

        Moving the cube by ``d * coef`` keeps every line; ``d`` can go from ``-a`` to ``b``
        before a cell turns negative, so each cell ``c`` moves over a width ``|coef[c]| (a + b)``
        that the published cells cannot narrow: every corner is proven, not only the cell the
        certificate was found for.
        """
        self.reasons[cells[self.reasons[cells] == PUBLISHED]] = SECONDARY
        up, down = coef > 0, coef < 0
        for value, width in zip(self.values, self.proven, strict=True):
            v = value[cells]
            span = np.min(v[up] / coef[up], initial=np.inf) + np.min(
                v[down] / -coef[down], initial=np.inf
            )
            width[cells] = np.maximum(width[cells], span * np.abs(coef))

    def options(
        self, cells: IntArray, stacks: list[_Stack], pairs: int, singles: int, robust: int = 0
    ) -> list[tuple[_Option, _Option]]:
        """Per axis, the cheapest ``pairs`` pairs and ``singles`` singles of each cell.

        Only candidates whose cells exist along the cell's line qualify; they are ranked by
        whether they can reach the threshold at all, value hidden anew, new hidden cells and
        support size. ``robust`` more pairs are the ones with the largest ``-`` cells on the
        line: the cheapest partners that reach the threshold on the line often miss it in the
        finer corners of the hypercube (a small municipality's partner in one month and
        urgency), and without a partner that holds everywhere the only valid hypercube can be
        the one through the country's totals.
        """
        bases = self.keys[cells]
        needs = self.needs(cells)
        per_axis = []
        for stack in stacks:
            found = self.table.find(bases[:, None, None] + stack.delta)
            used = stack.signs != 0
            exists = stack.real & np.all((found >= 0) | ~used, axis=2)
            safe = np.maximum(found, 0)
            fresh = used & (found >= 0) & (self.reasons[safe] == PUBLISHED)
            cost = np.where(fresh, self.cost[safe], 0.0).sum(axis=2)
            index = np.broadcast_to(np.arange(exists.shape[1]), exists.shape)
            # A pair's "-" cells on the line are "-" corners of every hypercube built with it,
            # and the "+" corners are at most the cell itself: a partner that cannot make up
            # the rest of the threshold in some measure never gives a valid hypercube. The
            # cheapest partners are often such small cells, so partners able to are tried first.
            minus = used & (stack.signs < 0)
            slack = np.full(exists.shape, np.inf)  # the tightest measure, with the cell's value
            for value, need in zip(self.values, needs, strict=True):
                least = np.where(minus, value[safe], np.inf).min(axis=2) + value[cells][:, None]
                slack = np.where(need[:, None], np.minimum(slack, least), slack)
            unable = slack < self.threshold
            ranks = (index, used.sum(axis=2), fresh.sum(axis=2), cost, unable)
            kinds = []
            for wanted, how_many, widest_too in (
                (exists & ~stack.single, pairs, robust),
                (exists & stack.single, singles, 0),
            ):
                # No more columns than some cell has candidates (the rest would be padding).
                limit = max(1, int(wanted.sum(axis=1).max(initial=0)))
                rows = np.lexsort((*ranks, ~wanted))[:, : min(how_many, limit)]
                if widest_too and limit > how_many:
                    other = wanted.copy()
                    np.put_along_axis(other, rows, False, axis=1)
                    widest = np.lexsort((index, cost, -slack, ~other))
                    rows = np.concatenate(
                        [rows, widest[:, : min(widest_too, limit - how_many)]], axis=1
                    )
                chosen_signs = np.take_along_axis(stack.signs, rows[:, :, None], axis=1)
                width = max(1, int((chosen_signs != 0).sum(axis=2).max(initial=0)))
                chosen_delta = np.take_along_axis(stack.delta, rows[:, :, None], axis=1)
                kinds.append(
                    _Option(
                        chosen_delta[:, :, :width],
                        chosen_signs[:, :, :width],
                        np.take_along_axis(wanted, rows, axis=1),
                    )
                )
            per_axis.append((kinds[0], kinds[1]))
        return per_axis

    def corners(
        self, cells: IntArray, pattern: Sequence[_Option]
    ) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]]:
        """Every combination of one pattern (one option array per axis) for each cell.

        Returns corner cells and signs, shape (cells, combinations, corners), and whether every
        corner of a combination exists (an empty cell is a published zero: it cannot move).
        """
        b = len(cells)
        k = len(pattern)
        delta = np.zeros([b] + [1] * (2 * k), dtype=np.int64)
        signs = np.ones([b] + [1] * (2 * k), dtype=np.int64)
        ok = np.ones([b] + [1] * k, dtype=bool)
        for j, option in enumerate(pattern):
            shape = [b] + [1] * (2 * k)
            shape[1 + j], shape[1 + k + j] = option.delta.shape[1:]
            delta = delta + option.delta.reshape(shape)
            signs = signs * option.signs.reshape(shape)
            ok_shape = [b] + [1] * k
            ok_shape[1 + j] = option.ok.shape[1]
            ok = ok & option.ok.reshape(ok_shape)
        sizes = [b, *(o.ok.shape[1] for o in pattern)]
        combos = int(np.prod(sizes[1:]))
        delta = delta.reshape(b, combos, -1)
        signs = signs.reshape(b, combos, -1)
        exists = np.broadcast_to(ok, sizes).reshape(b, combos).copy()
        found = self.table.find(self.keys[cells][:, None, None] + delta)
        exists &= np.all((found >= 0) | (signs == 0), axis=2)
        return found, signs, exists

    def needs(self, cells: IntArray) -> list[npt.NDArray[np.bool_]]:
        """Per measure, the cells that must be protected in it (non-zero; the first if all zero)."""
        out = [v[cells] > 0 for v in self.values]
        out[0] = out[0] | ~np.any(out, axis=0)
        return out

    def batch_best(
        self, cells: IntArray, stacks: list[_Stack], pairs: int, singles: int, robust: int = 0
    ) -> list[Certificate | None]:
        """Cheapest valid hypercube of each cell of a batch, all scored at once: (loss, cells).

        Validity does not depend on which cells are hidden, only the cost does; choosing for a
        batch with the costs at its start may hide a few more cells than one by one, never fewer
        than needed. ``None`` where no combination is valid.
        """
        per_axis = self.options(cells, stacks, pairs, singles, robust)
        needs = self.needs(cells)
        best_cost = np.full((len(cells), 2), np.inf)
        out: list[Certificate | None] = [None] * len(cells)
        # Pairs and singles have different widths: each pattern (pair or single per axis) is
        # scored on its own arrays, so padding does not multiply across axes.
        for pattern in sorted(
            itertools.product(*[range(2)] * len(per_axis)), key=lambda p: (sum(p), p)
        ):
            active = np.flatnonzero(best_cost[:, 0] > 0)  # loss 0: nothing can be cheaper
            if len(active) == 0:
                break
            chosen = [per_axis[j][which].rows(active) for j, which in enumerate(pattern)]
            found, signs, valid = self.corners(cells[active], chosen)
            if found.shape[1] == 0:
                continue
            used = signs != 0
            safe = np.maximum(found, 0)
            for value, need in zip(self.values, needs, strict=True):
                cells_v = value[safe]
                down = np.where(used & (signs > 0), cells_v, np.inf).min(axis=2)
                up = np.where(used & (signs < 0), cells_v, np.inf).min(axis=2)
                valid &= ~need[active][:, None] | (down + up >= self.threshold)
            fresh = used & (self.reasons[safe] == PUBLISHED)
            # Information loss: the values hidden anew (+1 each, so zeros count); then how many.
            n_fresh = fresh.sum(axis=2)
            loss = np.where(valid, np.where(fresh, self.cost[safe], 0.0).sum(axis=2), np.inf)
            index = np.broadcast_to(np.arange(loss.shape[1]), loss.shape)
            pick = np.lexsort((index, n_fresh, loss))[:, 0]
            for r, i in enumerate(active.tolist()):
                p = int(pick[r])
                cost = (float(loss[r, p]), float(n_fresh[r, p]))
                if valid[r, p] and cost < (best_cost[i, 0], best_cost[i, 1]):
                    best_cost[i] = cost
                    out[i] = (
                        cost[0],
                        found[r, p][used[r, p]],
                        signs[r, p][used[r, p]].astype(np.float64),
                    )
        return out

    def combined(
        self, cell: int, stacks: list[_Stack], pairs: int, singles: int
    ) -> Certificate | None:
        """Several hypercubes moved together, for a cell no single hypercube protects.

        A single hypercube lets the cell rise by the smallest ``-`` corner only. The sum ``Y``
        of ``n`` hypercubes (all with ``+1`` at the cell) moved by ``d * Y / n`` keeps every line
        too, and cells only ``-`` in one of them move by ``d / n``: spreading the change lets
        the cell rise further. Hypercubes whose corners all exist are added cheapest first
        while they widen the interval, until it is wide enough in every measure; ``None`` if
        that does not happen within ``COMBINED_MAX`` hypercubes.
        """
        cells = np.array([cell])
        per_axis = self.options(cells, stacks, pairs, singles)
        needs = [bool(n[0]) for n in self.needs(cells)]
        pool: list[tuple[float, int, IntArray, IntArray]] = []
        for pattern in itertools.product(*[range(2)] * len(per_axis)):
            chosen = [per_axis[j][which] for j, which in enumerate(pattern)]
            found, signs, exists = self.corners(cells, chosen)
            safe = np.maximum(found[0], 0)
            fresh = (signs[0] != 0) & (self.reasons[safe] == PUBLISHED)
            losses = np.where(fresh, self.cost[safe], 0.0).sum(axis=1)
            for p in np.flatnonzero(exists[0]).tolist():
                used = signs[0, p] != 0
                pool.append((float(losses[p]), len(pool), found[0, p][used], signs[0, p][used]))
        pool.sort(key=lambda e: (e[0], e[1]))
        total: dict[int, int] = {}
        count = 0
        best_width = 0.0
        for _, _, corners, corner_signs in pool:
            trial = dict(total)
            for c, sign in zip(corners.tolist(), corner_signs.tolist(), strict=True):
                trial[c] = trial.get(c, 0) + sign
            width = self._width(trial, count + 1, needs)
            if width <= best_width:
                continue
            total, count, best_width = trial, count + 1, width
            if width >= self.threshold:
                hidden = np.array([c for c, y in total.items() if y != 0], dtype=np.int64)
                coef = np.array([total[c] / count for c in hidden.tolist()], dtype=np.float64)
                fresh = hidden[self.reasons[hidden] == PUBLISHED]
                return float(self.cost[fresh].sum()), hidden, coef
            if count >= COMBINED_MAX:
                break
        return None

    def _width(self, total: dict[int, int], count: int, needs: list[bool]) -> float:
        """Narrowest interval over the measures when moving along ``total / count``."""
        ids = np.array(list(total), dtype=np.int64)
        coef = np.array(list(total.values()), dtype=np.float64) / count
        narrowest = np.inf
        for value, need in zip(self.values, needs, strict=True):
            if not need:
                continue
            v = value[ids]
            down = np.min(v[coef > 0] / coef[coef > 0], initial=np.inf)
            up = np.min(v[coef < 0] / -coef[coef < 0], initial=np.inf)
            narrowest = min(narrowest, down + up)
        return float(narrowest)

    def unbounded(self, cell: int, singles: list[_Candidates]) -> IntArray:
        """The cell with its aggregates: the hypercube of one fact's atoms taken singly.

        Always found: some fact lies under ``cell``, and every combination of the codes that
        contain that fact's atoms exists. All signs are ``+``: the cell can grow without bound.
        """
        cells = np.array([cell])
        for combo in itertools.product(*[range(len(s.single)) for s in singles]):
            chosen = [
                _Option(c.delta[None, i : i + 1], c.signs[None, i : i + 1], np.ones((1, 1), bool))
                for c, i in zip(singles, combo, strict=True)
            ]
            found, signs, exists = self.corners(cells, chosen)
            if exists[0, 0]:
                corners: IntArray = found[0, 0][signs[0, 0] != 0]
                return corners
        raise AssertionError("no hypercube: a cell exists without any fact under it")
