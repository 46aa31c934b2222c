"""Secondary suppression by Gaussian elimination (Langsrud's method, as Statistics Norway uses it).

Written from the method's description (Langsrud 2024, "Secondary cell suppression by Gaussian
elimination: an algorithm suitable for handling issues with zeros and singletons",
doi:10.1007/978-3-031-69651-0_6, and the documentation of the R packages GaussSuppression and
SSBtools); no code is taken from them.

**The matrix.** The *inner cells* are the finest pieces a published table can be cut into: one
atom per dimension (:class:`samhandling.tables.hypercube.Axis`: keys that map to the same codes)
in every combination. Every published cell ``c`` is the sum of the inner cells it contains, a
0/1 column ``x_c`` of the sparse matrix ``X`` (inner cells × cells). An inner cell is a row only
when every cell containing it holds facts: a published zero tells the attacker that all its
inner cells are zero, so those rows are not there to hide anything in (the *zero problem*: a
cell protected only by zeros is disclosed; here it cannot be, since zeros give no row).

**The elimination.** A hidden cell ``p`` is disclosed exactly when ``x_p`` is a linear
combination of the published columns. The candidates (every cell that is not primary) are taken
most costly to hide first (largest value times its weight: totals, the country, cells other
tables publish too) and each is published unless that would disclose a primary cell; otherwise it
becomes secondary. The published columns are kept as a sparse echelon basis; every primary cell
keeps its residual (``x_p`` reduced by the basis). Publishing a candidate whose residual ``r``
is zero adds nothing (it is already a combination of published cells). Otherwise ``x_p`` would
become a combination exactly when its residual is a multiple of ``r``; residuals are kept
reduced, so that is a lookup of ``r``'s normalised pattern among the primary residuals'. The
loop runs compiled, over flat arrays (:mod:`samhandling.tables.elimination`).

**Singletons.** A cell of one patient is known to that patient. Two hidden singletons that only
protect each other are no protection against the two of them; as GaussSuppression's simplest
singleton method does, the sum of every two singleton primary cells on one line is protected
as if it were a primary cell too (a virtual column ``x_p + x_q``).

**Intervals.** Elimination only proves that no hidden cell is *exactly* determined. The
threshold asks more: every primary cell's feasible interval at least ``threshold`` wide. The
pattern is therefore handed to :func:`samhandling.tables.hypercube.hypercube_protection` as
what is hidden before: it proves an interval for each primary cell with a hypercube certificate,
found at no cost where the elimination's pattern already holds one, and hides more cells only
where none is wide enough. ``tests/test_gauss.py`` checks the result with the LP attacker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy.sparse import block_diag, csc_matrix  # type: ignore[import-untyped]

from samhandling.tables import elimination
from samhandling.tables.disclosure import PRIMARY, PUBLISHED, SECONDARY
from samhandling.tables.hypercube import Axis, Protection, hypercube_protection, independent_parts

__all__ = [
    "gauss_protection",
    "gauss_secondary",
    "inner_matrix",
    "linked_matrix",
    "linked_patterns",
    "singleton_pairs",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def inner_matrix(coords: IntArray, axes: Sequence[Axis]) -> csc_matrix:
    """``X``: one row per inner cell that every containing cell exists for, one column per cell.

    ``coords`` has one row per cell (holding facts) and one column per axis (the code's index).
    """
    n_cells = len(coords)
    sizes = np.array([len(a.codes) for a in axes], dtype=np.int64)
    strides = np.ones(len(axes), dtype=np.int64)
    for j in range(len(axes) - 2, -1, -1):
        strides[j] = strides[j + 1] * sizes[j + 1]
    keys = coords @ strides
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    # Per axis, per atom: its codes. Only atoms whose codes all hold facts can be inner cells.
    used = [set(np.unique(coords[:, j]).tolist()) for j in range(len(axes))]
    atom_codes = [
        [np.array(sorted(a), dtype=np.int64) for a in axis.atoms if a <= used[j]]
        for j, axis in enumerate(axes)
    ]
    if n_cells == 0 or any(not per_atom for per_atom in atom_codes):
        return csc_matrix((0, n_cells))
    tables = []
    for per_atom in atom_codes:
        width = max(len(c) for c in per_atom)
        table = np.full((len(per_atom), width), -1, dtype=np.int64)
        for a, codes in enumerate(per_atom):
            table[a, : len(codes)] = codes
        tables.append(table)
    grids = np.meshgrid(*[np.arange(len(c), dtype=np.int64) for c in atom_codes], indexing="ij")
    combos = np.stack([g.ravel() for g in grids], axis=1)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    n_rows = 0
    chunk_size = max(1, 2_000_000 // int(np.prod([t.shape[1] for t in tables])))
    for start in range(0, len(combos), chunk_size):
        chunk = combos[start : start + chunk_size]
        # Every containing cell of every inner cell of the chunk: the product of its codes.
        cell_keys = np.zeros((len(chunk), 1), dtype=np.int64)
        for j, table in enumerate(tables):
            picked = table[chunk[:, j]]  # (chunk, width) codes, -1 padding
            step = np.where(picked >= 0, picked * strides[j], -(2**60))
            cell_keys = (cell_keys[:, :, None] + step[:, None, :]).reshape(len(chunk), -1)
        valid = cell_keys >= 0
        pos = np.searchsorted(sorted_keys, np.where(valid, cell_keys, 0))
        pos = np.minimum(pos, len(sorted_keys) - 1)
        found = valid & (sorted_keys[pos] == cell_keys)
        complete = np.flatnonzero(np.all(found | ~valid, axis=1))
        if len(complete) == 0:
            continue
        mask = valid[complete]
        row_ids = np.repeat(np.arange(len(complete), dtype=np.int64), mask.sum(axis=1))
        rows.append(row_ids + n_rows)
        cols.append(order[pos[complete][mask]].astype(np.int64))
        n_rows += len(complete)
    if not rows:
        return csc_matrix((0, n_cells))
    data = np.ones(sum(len(r) for r in rows))
    return csc_matrix((data, (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_cells))


def singleton_pairs(
    coords: IntArray,
    singletons: npt.NDArray[np.bool_],
    lines: Sequence[Sequence[Sequence[int]]],
) -> list[tuple[int, int]]:
    """Pairs of singleton cells that are parts of one line: the same codes in every other
    dimension, and in this one two parts of one of its ``lines`` (per axis: the code indices of
    each line's parts)."""
    cells = np.flatnonzero(singletons)
    pairs: set[tuple[int, int]] = set()
    if len(cells) < 2:
        return []
    for j, axis_lines in enumerate(lines):
        others = np.delete(coords[cells], j, axis=1)
        for parts in axis_lines:
            on = np.isin(coords[cells, j], np.asarray(parts, dtype=np.int64))
            if np.count_nonzero(on) < 2:
                continue
            mine, rest = cells[on], others[on]
            if rest.shape[1] == 0:
                groups = [mine]
            else:
                order = np.lexsort(rest.T[::-1])
                ranked = rest[order]
                cut = np.flatnonzero(np.any(ranked[1:] != ranked[:-1], axis=1)) + 1
                groups = np.split(mine[order], cut)
            for group in groups:
                run = sorted(group.tolist())
                for i, p in enumerate(run):
                    pairs.update((p, q) for q in run[i + 1 :])
    return sorted(pairs)


def gauss_secondary(
    x: csc_matrix,
    protected: npt.NDArray[np.bool_],
    cost: FloatArray,
    *,
    pairs: Sequence[tuple[int, int]] = (),
    hidden: npt.NDArray[np.bool_] | None = None,
    same: Sequence[tuple[int, int]] = (),
) -> npt.NDArray[np.bool_]:
    """The cells to hide besides ``protected`` (columns of ``x``) so that none is disclosed.

    ``cost`` says what hiding each cell costs (most costly published first); ``hidden`` cells
    stay hidden whatever the elimination finds; the sum of each of ``pairs`` (two singleton
    cells, :func:`singleton_pairs`) is protected too. Empty columns (cells without inner cells)
    are published: they are zeros.

    ``same`` lists columns that are the same number in two tables (linked tables, their
    matrices side by side: :func:`linked_matrix`). The attacker knows they are equal whether
    or not they are published (``x_a - x_b`` is published from the start), and each such group
    is published or hidden as one: consistency across tables by construction.

    The loop runs compiled (:mod:`samhandling.tables.elimination`).
    """
    n = x.shape[1]
    protected = np.asarray(protected, dtype=bool)
    keep = np.zeros(n, dtype=bool) if hidden is None else np.asarray(hidden, dtype=bool).copy()
    group = _groups(n, same)
    x = csc_matrix(x)
    x.sort_indices()
    candidates = np.flatnonzero(~protected & ~keep)
    order = candidates[np.lexsort((candidates, -cost[candidates]))]
    secondary, status = elimination.run(
        x.indptr,
        x.indices,
        x.shape[0],
        protected,
        keep,
        order,
        group,
        np.asarray(same, dtype=np.int64).reshape(-1, 2),
        np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
    )
    if status == elimination.LINKED_CONFLICT:
        raise AssertionError("a linked cell is a combination of its own group")
    if status == elimination.NOTHING_TO_PROTECT:
        # Nothing to protect: every other cell is published, but for groups with a kept cell.
        group_hidden = np.zeros(n, dtype=bool)
        group_hidden[group[protected | keep]] = True
        return (group_hidden[group] | keep) & ~protected
    return secondary | (keep & ~protected)


def _groups(n: int, same: Sequence[tuple[int, int]]) -> IntArray:
    """Each column's group: the smallest column it is the same number as (itself if none)."""
    parent = np.arange(n, dtype=np.int64)

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = int(parent[c])
        return c

    for a, b in same:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(c) for c in range(n)], dtype=np.int64) if same else parent


def linked_matrix(matrices: Sequence[csc_matrix]) -> tuple[csc_matrix, IntArray]:
    """Tables' matrices side by side (block-diagonal: each table's own inner cells) and the
    first column of each table."""
    offsets = np.cumsum([0, *[m.shape[1] for m in matrices]]).astype(np.int64)
    return csc_matrix(block_diag(matrices, format="csc")), offsets


def gauss_protection(
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
    pattern: npt.NDArray[np.bool_] | None = None,
    lines: Sequence[Sequence[Sequence[int]]] | None = None,
) -> Protection:
    """Protection by Gaussian elimination, with intervals proven by hypercube certificates.

    The same contract as :func:`samhandling.tables.hypercube.hypercube_protection`: primary
    cells from ``patients``, ``forced`` cells hidden and protected like primary cells, cells
    hidden ``before`` stay hidden, ``weights`` multiply what hiding a cell costs. ``pattern``
    is the first elimination's result when it was done already (all linked tables in one
    matrix: :func:`linked_patterns`). ``lines`` (per axis, the code indices of each line's
    parts) find the singleton pairs; without them no pair is protected.
    """
    coords = np.asarray(coords, dtype=np.int64)
    pat = np.asarray(patients, dtype=np.int64)
    values = [np.asarray(v, dtype=np.float64) for v in measures.values()]
    if not values:
        raise ValueError("gauss_protection needs at least one additive measure")
    n = len(pat)
    must = np.zeros(n, dtype=bool) if forced is None else np.asarray(forced, dtype=bool)
    primary = (pat >= 1) & (pat < threshold)
    hidden_before = np.zeros(n, dtype=bool) if before is None else before.reasons != PUBLISHED
    weight = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    cost = (values[0] + 1.0) * weight
    parts = independent_parts(coords, axes)
    pairs = singleton_pairs(coords, primary & (pat == 1), lines) if lines is not None else []
    if pattern is None:
        pattern = _eliminate(parts, coords, primary | must, cost, pairs, hidden_before)
    pattern = pattern | hidden_before
    reasons = np.zeros(n, dtype=np.int8)
    reasons[pattern] = SECONDARY
    reasons[primary] = PRIMARY
    proven = np.zeros((len(values), n)) if before is None else before.proven
    certified = hypercube_protection(
        coords,
        axes,
        pat,
        measures,
        threshold,
        before=Protection(reasons, proven),
        forced=must,
        weights=weight,
        workers=workers,
    )
    # Every primary and forced cell now has a certificate of hidden cells. Cells of no
    # certificate were hidden by the elimination alone; a second elimination publishes those
    # it can (published cells first, then the rest most costly first), so what stays hidden is
    # the certificates and what the singleton pairs still need.
    keep = primary | must | hidden_before | (certified.proven.max(axis=0, initial=0.0) > 0)
    if len(values) == 0 or not np.any(certified.reasons[~keep] != PUBLISHED):
        return certified
    published_first = np.where(
        certified.reasons == PUBLISHED, cost + float(cost.max(initial=0.0)) + 1.0, cost
    )
    hidden = _eliminate(parts, coords, primary | must, published_first, pairs, keep)
    reasons = np.zeros(n, dtype=np.int8)
    reasons[hidden] = SECONDARY
    reasons[primary] = PRIMARY
    return Protection(reasons, certified.proven)


def _eliminate(  # noqa: PLR0917
    parts: Sequence[tuple[IntArray, list[Axis], list[IntArray]]],
    coords: IntArray,
    protected: npt.NDArray[np.bool_],
    cost: FloatArray,
    pairs: Sequence[tuple[int, int]],
    hidden: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """:func:`gauss_secondary` of each part no line links (the years): the cells to hide."""
    out = np.zeros(len(coords), dtype=bool)
    pair_array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    for cells, part_axes, recode in parts:
        local = np.full(len(coords), -1, dtype=np.int64)
        local[cells] = np.arange(len(cells))
        inside = pair_array[(local[pair_array[:, 0]] >= 0) & (local[pair_array[:, 1]] >= 0)]
        part_pairs = [(int(p), int(q)) for p, q in local[inside]]
        part_coords = np.stack(
            [recode[j][coords[cells, j]] for j in range(coords.shape[1])], axis=1
        )
        mine = protected[cells]
        out[cells] = gauss_secondary(
            inner_matrix(part_coords, part_axes),
            mine,
            cost[cells],
            pairs=part_pairs,
            hidden=hidden[cells],
        )
    return out


def linked_patterns(
    tables: Sequence[
        tuple[IntArray, Sequence[Axis], IntArray, FloatArray, Sequence[Sequence[Sequence[int]]]]
    ],
    threshold: int,
    same: Sequence[tuple[int, IntArray, int, IntArray]],
) -> list[npt.NDArray[np.bool_]]:
    """The elimination of linked tables in one matrix: the cells to hide in each table (primary
    and secondary).

    ``tables`` holds per table its coordinates, axes, patients, what hiding each cell costs and
    its lines (per axis, the code indices of each line's parts: for the singleton pairs);
    ``same`` lists (table, cells, other table, cells): cells that are the same numbers.
    """
    matrices = [inner_matrix(coords, axes) for coords, axes, _, _, _ in tables]
    x, offsets = linked_matrix(matrices)
    patients = np.concatenate([t[2] for t in tables]) if tables else np.zeros(0, np.int64)
    cost = np.concatenate([t[3] for t in tables]) if tables else np.zeros(0)
    protected = (patients >= 1) & (patients < threshold)
    pairs: list[tuple[int, int]] = []
    for t, (coords, _axes, pat, _cost, lines) in enumerate(tables):
        start = int(offsets[t])
        singles = (pat == 1) & (threshold > 1)
        pairs += [(start + a, start + b) for a, b in singleton_pairs(coords, singles, lines)]
    equal = [
        (int(offsets[a]) + int(i), int(offsets[b]) + int(j))
        for a, rows_a, b, rows_b in same
        for i, j in zip(rows_a.tolist(), rows_b.tolist(), strict=True)
    ]
    hidden = gauss_secondary(x, protected, cost, pairs=pairs, same=equal) | protected
    return [hidden[int(offsets[t]) : int(offsets[t + 1])] for t in range(len(tables))]
