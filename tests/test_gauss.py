"""Secondary suppression by Gaussian elimination (tables.gauss), checked by the LP attacker."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csc_matrix  # type: ignore[import-untyped]

from samhandling.tables.catalog import CATALOG_LINKS, linked_elimination, linked_rows
from samhandling.tables.cube import cube_lines
from samhandling.tables.disclosure import PRIMARY, PUBLISHED, SECONDARY, attack_intervals
from samhandling.tables.gauss import (
    gauss_protection,
    gauss_secondary,
    inner_matrix,
    singleton_pairs,
)
from samhandling.tables.hypercube import Axis
from test_acceptance_questions import acceptance_catalog
from test_disclosure import CUBE_DIMS, THRESHOLD, Dims, full_attack, hypercube_case
from test_linked_tables import AT_X, LINK, _pair

# Two dimensions: rows r1, r2 and columns c1, c2, each with a total T.
TWO_BY_TWO = [
    ({"1": ["r1", "T"], "2": ["r2", "T"]}, [("T", ("r1", "r2"))]),
    ({"1": ["c1", "T"], "2": ["c2", "T"]}, [("T", ("c1", "c2"))]),
]


def _lines(axes: list[Axis], dims: Dims = CUBE_DIMS) -> list[list[list[int]]]:
    """Per axis of ``hypercube_case``, the code indices of each line's parts."""
    return [
        [[axis.codes.index(p) for p in parts] for _, parts in dim_lines]
        for axis, (_, dim_lines) in zip(axes, dims, strict=True)
    ]


def _disclosed(x: np.ndarray, published: np.ndarray, cell: int) -> bool:
    """Whether column ``cell`` of X is a linear combination of the published columns."""
    pub = x[:, published]
    if pub.shape[1] == 0:
        return not np.any(x[:, cell])
    rank = np.linalg.matrix_rank(pub)
    return bool(np.linalg.matrix_rank(np.column_stack([pub, x[:, cell]])) == rank)


def test_inner_matrix_of_a_two_by_two_table() -> None:
    counts = np.array([[1, 10], [10, 20]])
    coords, axes, contacts, _, _ = hypercube_case(counts, counts, TWO_BY_TWO)
    x = inner_matrix(coords, axes).toarray()
    # Four inner cells (r1c1, r1c2, r2c1, r2c2); every cell is the sum of those it contains.
    assert x.shape == (4, 9)
    assert list(x.T @ np.array([1, 10, 10, 20])) == contacts
    assert sorted(x.sum(axis=0).astype(int).tolist()) == [1, 1, 1, 1, 2, 2, 2, 2, 4]


def test_inner_cells_under_a_published_zero_are_no_rows() -> None:
    """r2c2 holds nothing: the attacker knows it is zero, so it is no inner cell to hide in."""
    counts = np.array([[1, 10], [10, 0]])
    coords, axes, _, _, _ = hypercube_case(counts, counts, TWO_BY_TWO)
    assert inner_matrix(coords, axes).shape == (3, 8)


def test_hand_computed_two_by_two() -> None:
    """A 1 in a 2 x 2 table with margins: every inner cell hidden, every margin published.

    Cells largest first: T (31), R2 = C2 (20) are published; R1 = T - R2 and C1 = T - C2 are
    combinations already (free); then each inner 10 would give a = T - R2 - C2 + d (or
    T - R2 - b, T - C2 - c): all three become secondary. The attacker's interval for a is
    [0, 11] (a + b = 11), and the 2 x 2 hypercube proves width 1 + 10 = 11 >= 5, so nothing
    more is hidden.
    """
    counts = np.array([[1, 10], [10, 10]])
    coords, axes, contacts, _, lines = hypercube_case(counts, counts, TWO_BY_TWO)
    protection = gauss_protection(coords, axes, contacts, {"kontakter": contacts}, THRESHOLD)
    codes = [tuple(axes[j].codes[coords[c, j]] for j in range(2)) for c in range(len(contacts))]
    hidden = {codes[c] for c in np.flatnonzero(protection.reasons != PUBLISHED)}
    assert hidden == {("r1", "c1"), ("r1", "c2"), ("r2", "c1"), ("r2", "c2")}
    assert protection.reasons[codes.index(("r1", "c1"))] == PRIMARY
    low, high = full_attack(contacts, lines, protection.reasons)[codes.index(("r1", "c1"))]
    assert (low, high) == (0.0, 11.0)


def test_two_singletons_on_a_line_are_not_left_to_protect_each_other() -> None:
    """One line 22 = 1 + 1 + 10 + 10: hiding the two 1s only would tell each of the two
    patients the other's cell (their sum is 22 - 10 - 10); one 10 is hidden as well."""
    axis = Axis.from_mapping(
        ["T", "a", "b", "c", "d"], [(k, k) for k in "abcd"] + [(k, "T") for k in "abcd"]
    )
    coords = np.arange(5, dtype=np.int64).reshape(-1, 1)
    values = np.array([22.0, 1, 1, 10, 10])
    x = inner_matrix(coords, [axis])
    protected = np.array([False, True, True, False, False])
    plain = gauss_secondary(x, protected, values + 1)
    assert not plain.any()
    pairs = singleton_pairs(coords, protected & (values == 1), [[[1, 2, 3, 4]]])
    assert pairs == [(1, 2)]
    assert singleton_pairs(coords, protected & (values == 1), [[[1, 3], [2, 4]]]) == []
    paired = gauss_secondary(x, protected, values + 1, pairs=pairs)
    assert list(np.flatnonzero(paired)) == [4]  # c (index 3) is taken first, so d is hidden


SHAPE = (4, 5, 2)  # a cube over CUBE_DIMS: 4 municipalities x 5 ages x 2 sexes
SIZE = int(np.prod(SHAPE))


def _drawn_counts(data: st.DataObject) -> np.ndarray:
    """Atom-level counts of a random cube: zeros, small (primary) and larger cells."""
    counts = st.lists(st.sampled_from([0, 0, 1, 2, 3, 6, 9]), min_size=SIZE, max_size=SIZE)
    return np.array(data.draw(counts)).reshape(SHAPE)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_elimination_leaves_no_primary_cell_a_combination(data: st.DataObject) -> None:
    counts = _drawn_counts(data)
    coords, axes, contacts, _, _ = hypercube_case(counts, counts)
    x = inner_matrix(coords, axes)
    pat = np.array(contacts)
    primary = (pat >= 1) & (pat < THRESHOLD)
    secondary = gauss_secondary(
        x, primary, pat + 1.0, pairs=singleton_pairs(coords, primary & (pat == 1), _lines(axes))
    )
    dense = x.toarray()
    published = ~primary & ~secondary
    for c in np.flatnonzero(primary):
        assert not _disclosed(dense, published, int(c)), c


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_gauss_protects_every_primary_cell(data: st.DataObject) -> None:
    counts = _drawn_counts(data)
    per_stay = np.array(data.draw(st.lists(st.integers(0, 3), min_size=SIZE, max_size=SIZE)))
    bed_days = counts * per_stay.reshape(SHAPE)
    coords, axes, contacts, beds, lines = hypercube_case(counts, bed_days)
    reasons = gauss_protection(
        coords,
        axes,
        contacts,
        {"contacts": contacts, "bed_days": beds},
        THRESHOLD,
        lines=_lines(axes),
    ).reasons
    for c, v in enumerate(contacts):
        assert (reasons[c] == PRIMARY) == (1 <= v < THRESHOLD)
        assert reasons[c] in (PUBLISHED, PRIMARY, SECONDARY)
    for values in (contacts, beds):
        for c, (low, high) in full_attack(values, lines, reasons).items():
            if reasons[c] != PRIMARY or values[c] == 0:
                continue
            assert high - low >= THRESHOLD - 1e-6, (c, values[c], low, high)


def _greedy_oracle(
    x: np.ndarray,
    protected: np.ndarray,
    cost: np.ndarray,
    pairs: list[tuple[int, int]],
    kept: np.ndarray,
) -> np.ndarray:
    """The elimination's definition, by dense ranks: candidates most costly first (ties: lower
    column first), each published unless a protected column (a primary cell, or a singleton
    pair's sum) would then be a combination of the published columns."""
    guarded = [x[:, c] for c in np.flatnonzero(protected) if x[:, c].any()]
    guarded += [x[:, p] + x[:, q] for p, q in pairs if (x[:, p] + x[:, q]).any()]
    published: list[np.ndarray] = []
    secondary = np.zeros(x.shape[1], dtype=bool)
    candidates = np.flatnonzero(~protected & ~kept)
    for c in candidates[np.lexsort((candidates, -cost[candidates]))].tolist():
        if not x[:, c].any():
            continue
        trial = np.column_stack([*published, x[:, c]])
        rank = np.linalg.matrix_rank(trial)
        if any(np.linalg.matrix_rank(np.column_stack([trial, g])) == rank for g in guarded):
            secondary[c] = True
        else:
            published.append(x[:, c])
    return secondary | (kept & ~protected)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_compiled_elimination_equals_its_definition(data: st.DataObject) -> None:
    """The compiled loop (tables/elimination.py) hides exactly what the definition hides, on
    random 0/1 matrices with kept cells, ties in cost and singleton pairs."""
    rows = data.draw(st.integers(1, 12))
    cols = data.draw(st.integers(2, 16))
    bits = data.draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols))
    x = np.array(bits, dtype=float).reshape(rows, cols)
    flags = st.lists(st.booleans(), min_size=cols, max_size=cols)
    protected = np.array(data.draw(flags)) & (np.arange(cols) % 3 == 0)
    kept = np.array(data.draw(flags)) & (np.arange(cols) % 5 == 1)
    cost = np.array(data.draw(st.lists(st.integers(1, 4), min_size=cols, max_size=cols)), float)
    singles = [int(c) for c in np.flatnonzero(protected)]
    pairs = [(p, q) for i, p in enumerate(singles) for q in singles[i + 1 : i + 2]]
    found = gauss_secondary(csc_matrix(x), protected, cost, pairs=pairs, hidden=kept)
    assert found.tolist() == _greedy_oracle(x, protected, cost, pairs, kept).tolist()


def test_linked_tables_are_eliminated_in_one_matrix() -> None:
    """Table B protects its one small cell (c, 2, y) = 2; its kind-x cells are table A's cells.

    Eliminated together, every cell the two tables share has one status in both, and no hidden
    cell of either is a combination of what both publish (with the shared cells' equality
    known to the attacker).
    """
    a, b = _pair()
    hidden, shared = linked_elimination({"A": a, "B": b}, THRESHOLD, [LINK])
    rows_a = linked_rows(a.cells, a.spec, ())
    rows_b = linked_rows(b.cells, b.spec, AT_X)
    assert shared["A"].all()  # every cell of A is one of B's
    assert {k for k, i in rows_a.items() if hidden["A"][i]} == {
        k for k, i in rows_b.items() if hidden["B"][i]
    }
    xa = inner_matrix(*a.elimination_input()[:2]).toarray()
    xb = inner_matrix(*b.elimination_input()[:2]).toarray()
    joint = np.zeros((len(xa) + len(xb), xa.shape[1] + xb.shape[1]))
    joint[: len(xa), : xa.shape[1]] = xa
    joint[len(xa) :, xa.shape[1] :] = xb
    equal = [joint[:, rows_a[k]] - joint[:, xa.shape[1] + rows_b[k]] for k in sorted(rows_a)]
    published = np.concatenate([~hidden["A"], ~hidden["B"]])
    known = np.column_stack([joint[:, published], *equal])
    rank = np.linalg.matrix_rank(known)
    small = int(np.flatnonzero(np.array(b.cells["pasienter"].to_pylist()) == 2)[0])
    assert hidden["B"][small]
    for cell in [small + xa.shape[1]]:  # the one primary cell
        assert np.linalg.matrix_rank(np.column_stack([known, joint[:, cell]])) > rank, cell


def test_lp_attacker_on_a_real_cube() -> None:
    """SD02 of the acceptance data (five municipalities, counted from synthetic episodes and
    protected by the default method): an attacker who knows every published cell and every
    line of the cube narrows no primary cell below the threshold in any measure."""
    cube = acceptance_catalog().cube("SD02")
    assert "(gauss)" in cube.rule_version
    reasons = np.array(cube.cells["reason"].to_pylist())
    assert (reasons == PRIMARY).any() and (reasons == SECONDARY).any()
    lines = cube_lines(cube.spec, cube.cells)
    for measure in cube.spec.measures:
        values = np.array(cube.cells[measure.id].to_pylist(), dtype=float)
        for c, (low, high) in attack_intervals(values, lines, reasons).items():
            if reasons[c] == PRIMARY and values[c] > 0:
                assert high - low >= THRESHOLD - 1e-6, (measure.id, c, low, high)


def test_differencing_two_requested_selections_recovers_nothing() -> None:
    """Two selections of SD02 (the acceptance data), the second without the municipality that
    holds a withheld cell: every number either request returns is a stored published cell (the
    generator sums nothing on the fly), so subtracting one answer from the other yields only
    differences of published cells; the LP attacker on everything both answers gave, with the
    cube's lines, still narrows no primary cell below the threshold."""
    cube = acceptance_catalog().cube("SD02")
    cells = cube.cells
    reasons = np.array(cells["reason"].to_pylist())
    dims = [d.id for d in cube.spec.dimensions]
    codes = [cells[d].cast("string").to_pylist() for d in dims]
    index = {key: i for i, key in enumerate(zip(*codes, strict=True))}
    municipalities = sorted({c for c in codes[0] if len(c) == 4})
    primary = np.flatnonzero((reasons == PRIMARY) & np.isin(codes[0], municipalities))
    target = int(primary[0])
    year = str(codes[1][target])[:4]
    periods = sorted({p for p in codes[1] if str(p).startswith(year)})
    others = {d: [codes[j][target]] for j, d in enumerate(dims) if j > 1}
    first = {"region": ["0", *municipalities], "period": periods, **others}
    second = {**first, "region": [r for r in first["region"] if r != codes[0][target]]}
    measure = cube.spec.measures[0].id
    known = np.zeros(cells.num_rows, dtype=bool)
    values = np.array(cells[measure].to_pylist(), dtype=float)
    for selection in (first, second):
        stat = cube.slice(selection, [measure])
        picked = [[c for c, _ in d[2]] for d in stat.dimensions if d[0] in dims]
        chosen = [d[0] for d in stat.dimensions if d[0] in dims]
        total = {d.id: d.total for d in cube.spec.dimensions}
        for at, combo in enumerate(itertools.product(*picked)):
            named = dict(zip(chosen, combo, strict=True))
            row = index.get(tuple(named.get(d, total[d]) for d in dims))
            value = stat.values[at]
            if row is None:
                continue  # a cell without facts: reported as missing, nothing to learn
            if reasons[row] != PUBLISHED:
                assert value is None, (selection, named)
            else:
                assert value == values[row], (selection, named)
                known[row] = True
    assert reasons[target] == PRIMARY and not known[target]
    seen = np.where(known, PUBLISHED, SECONDARY).astype(np.int8)
    seen[reasons == PRIMARY] = PRIMARY
    lines = cube_lines(cube.spec, cells)
    low, high = attack_intervals(values, lines, seen)[target]
    assert high - low >= THRESHOLD - 1e-6, (low, high)


def test_lp_attacker_over_two_linked_real_cubes_together() -> None:
    """SD02 (age and sex) and SD04 (diagnosis groups) of the acceptance data publish the same
    somatic activity at their totals (region x period). An attacker who puts both tables'
    published cells, both tables' lines and the equality of every shared cell into one LP
    narrows no primary cell below the threshold: SD04's published cells give nothing away
    about SD02's withheld ones (the elimination of all tables in one matrix)."""
    catalog = acceptance_catalog()
    first, second = catalog.cube("SD02"), catalog.cube("SD04")
    assert "(gauss)" in first.rule_version
    link = next(k for k in CATALOG_LINKS if {v.table for v in k.views} >= {"SD02", "SD04"})
    measure = link.measures[0]
    at = {v.table: v.at for v in link.views}
    offset = first.cells.num_rows
    values = np.concatenate(
        [np.array(c.cells[measure].to_pylist(), dtype=float) for c in (first, second)]
    )
    reasons = np.concatenate([np.array(c.cells["reason"].to_pylist()) for c in (first, second)])
    lines = [*cube_lines(first.spec, first.cells)]
    lines += [[offset + i for i in line] for line in cube_lines(second.spec, second.cells)]
    rows_a = linked_rows(first.cells, first.spec, at["SD02"], link.shared)
    rows_b = linked_rows(second.cells, second.spec, at["SD04"], link.shared)
    common = sorted(rows_a.keys() & rows_b.keys())
    assert len(common) > 10
    for key in common:  # the same number in both tables: a line "a = b"
        a, b = rows_a[key], offset + rows_b[key]
        assert values[a] == values[b] and (reasons[a] == PUBLISHED) == (reasons[b] == PUBLISHED)
        lines.append([a, b])
    primary = np.flatnonzero((reasons == PRIMARY) & (values > 0))
    assert len(primary) > 0
    found = attack_intervals(values, lines, reasons)
    for c in primary.tolist():
        low, high = found[c]
        assert high - low >= THRESHOLD - 1e-6, (c, low, high)
