"""Disclosure control: primary/secondary suppression, checked by an LP attacker."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from samhandling.rules import load_rules
from samhandling.tables import hypercube
from samhandling.tables.disclosure import (
    PRIMARY,
    PUBLISHED,
    SECONDARY,
    attack_intervals,
    disclosure_threshold,
    protect,
)
from samhandling.tables.hypercube import Axis, protect_hypercubes

THRESHOLD = 5


def table_with_margins(interior: np.ndarray) -> tuple[list[int], list[list[int]], list[tuple]]:
    """Flatten a k-dimensional table plus all its margins; return values, lines and keys.

    Coordinate -1 is the total of a dimension; every line is (total, part 0, part 1, ...).
    """
    shape = interior.shape
    axes = [[-1, *range(n)] for n in shape]
    keys = list(itertools.product(*axes))
    index = {k: i for i, k in enumerate(keys)}
    values = []
    for k in keys:
        sl = tuple(slice(None) if c == -1 else c for c in k)
        values.append(int(np.sum(interior[sl])))
    lines = []
    for d, n in enumerate(shape):
        for k in keys:
            if k[d] != -1:
                continue
            parts = [index[(*k[:d], j, *k[d + 1 :])] for j in range(n)]
            lines.append([index[k], *parts])
    return values, lines, keys


def full_attack(values: list[int], lines: list[list[int]], reasons: np.ndarray) -> dict:
    """Independent attacker: every cell a variable, published cells fixed to their values."""
    n = len(values)
    a_eq, b_eq = [], []
    for line in lines:
        row = np.zeros(n)
        row[line[0]] = -1
        for c in line[1:]:
            row[c] = 1
        a_eq.append(row)
        b_eq.append(0.0)
    for c in range(n):
        if reasons[c] == PUBLISHED:
            row = np.zeros(n)
            row[c] = 1
            a_eq.append(row)
            b_eq.append(values[c])
    out = {}
    for c in np.flatnonzero(reasons):
        obj = np.zeros(n)
        obj[c] = 1
        low = linprog(obj, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None), method="highs")
        high = linprog(-obj, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None), method="highs")
        assert low.status == 0
        out[int(c)] = (low.fun, np.inf if high.status == 3 else -high.fun)
    return out


def test_threshold_comes_from_rule_table() -> None:
    threshold, version = disclosure_threshold(load_rules(), dt.date(2012, 12, 31))
    assert threshold == 5
    assert version == "disclosure.threshold v1"


def test_hand_computed_two_by_two() -> None:
    # rows: a=(3, 10), b=(6, 12); the 3 is primary, the rest of its row and column follow.
    values, lines, keys = table_with_margins(np.array([[3, 10], [6, 12]]))
    reasons = protect(values, {"count": values}, lines, THRESHOLD)
    by_key = dict(zip(keys, reasons.tolist(), strict=True))
    assert by_key[(0, 0)] == PRIMARY
    assert by_key[(0, 1)] == SECONDARY
    assert by_key[(1, 0)] == SECONDARY
    assert by_key[(1, 1)] == SECONDARY
    assert by_key[(-1, -1)] == PUBLISHED
    assert by_key[(0, -1)] == PUBLISHED
    got = attack_intervals(values, lines, reasons)
    low, high = got[keys.index((0, 0))]
    # x00 = 3 ranges over [0, min(13, 9)] = [0, 9] given row/column totals 13 and 9.
    assert (low, high) == (0.0, 9.0)


def test_zero_cells_are_published_and_not_used_as_cover() -> None:
    values, lines, keys = table_with_margins(np.array([[2, 0, 7], [0, 0, 9], [8, 6, 5]]))
    reasons = protect(values, {"count": values}, lines, THRESHOLD)
    by_key = dict(zip(keys, reasons.tolist(), strict=True))
    assert by_key[(0, 0)] == PRIMARY
    assert by_key[(0, 1)] == PUBLISHED
    assert by_key[(1, 1)] == PUBLISHED


def test_deterministic() -> None:
    rng = np.random.default_rng(7)
    interior = rng.integers(0, 12, size=(4, 5))
    values, lines, _ = table_with_margins(interior)
    first = protect(values, {"count": values}, lines, THRESHOLD)
    second = protect(values, {"count": values}, lines, THRESHOLD)
    assert first.tolist() == second.tolist()


@settings(max_examples=40, deadline=None)
@given(
    shape=st.sampled_from([(2, 2), (2, 3), (3, 3), (3, 4), (4, 4), (2, 2, 2), (2, 3, 2)]),
    data=st.data(),
)
def test_attacker_cannot_narrow_hidden_cells(shape: tuple[int, ...], data: st.DataObject) -> None:
    size = int(np.prod(shape))
    flat = data.draw(st.lists(st.integers(0, 14), min_size=size, max_size=size))
    interior = np.array(flat).reshape(shape)
    values, lines, _ = table_with_margins(interior)
    reasons = protect(values, {"count": values}, lines, THRESHOLD)
    for c, v in enumerate(values):
        if 1 <= v < THRESHOLD:
            assert reasons[c] != PUBLISHED
    for c, (low, high) in full_attack(values, lines, reasons).items():
        assert high - low >= THRESHOLD - 1e-6, (c, values[c], low, high)
        assert low - 1e-6 <= values[c] <= high + 1e-6


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_two_measures_share_one_pattern(data: st.DataObject) -> None:
    contacts = np.array(data.draw(st.lists(st.integers(0, 12), min_size=6, max_size=6)))
    bed_days = contacts * np.array(data.draw(st.lists(st.integers(0, 4), min_size=6, max_size=6)))
    c_values, lines, _ = table_with_margins(contacts.reshape(2, 3))
    b_values, _, _ = table_with_margins(bed_days.reshape(2, 3))
    reasons = protect(c_values, {"contacts": c_values, "bed_days": b_values}, lines, THRESHOLD)
    for values, exempt_zero in ((c_values, False), (b_values, True)):
        for c, (low, high) in full_attack(values, lines, reasons).items():
            if exempt_zero and values[c] == 0:
                continue
            assert high - low >= THRESHOLD - 1e-6


# --- Hypercube protection of whole cubes (tables.hypercube), checked by the same LP attacker ---

# Three small dimensions shaped like the real ones: a region with two levels of grouping, an age
# with two partitions that do not nest (5-year groups and steering bands), and sex.
CUBE_DIMS: list[tuple[dict[str, list[str]], list[tuple[str, tuple[str, ...]]]]] = [
    (
        {
            "m1": ["m1", "f1", "T"],
            "m2": ["m2", "f1", "T"],
            "m3": ["m3", "f2", "T"],
            "m4": ["m4", "f2", "T"],
        },
        [("T", ("f1", "f2")), ("f1", ("m1", "m2")), ("f2", ("m3", "m4"))],
    ),
    (
        {
            "0": ["a0-1", "b0", "T"],
            "1": ["a0-1", "b1-2", "T"],
            "2": ["a2-3", "b1-2", "T"],
            "3": ["a2-3", "b3-4", "T"],
            "4": ["a4", "b3-4", "T"],
        },
        [("T", ("a0-1", "a2-3", "a4")), ("T", ("b0", "b1-2", "b3-4"))],
    ),
    ({"1": ["1", "T"], "2": ["2", "T"]}, [("T", ("1", "2"))]),
]


Dims = list[tuple[dict[str, list[str]], list[tuple[str, tuple[str, ...]]]]]


def hypercube_case(
    counts: np.ndarray, bed_days: np.ndarray, dims: Dims = CUBE_DIMS
) -> tuple[np.ndarray, list[Axis], list[int], list[int], list[list[int]]]:
    """All non-empty cells of the cube over ``dims`` from atom-level counts; lines as indices."""
    keys = [list(mapping) for mapping, _ in dims]
    codes = [sorted({c for cs in mapping.values() for c in cs}) for mapping, _ in dims]
    axes = [
        Axis.from_mapping(cs, [(k, c) for k, v in mapping.items() for c in v])
        for cs, (mapping, _) in zip(codes, dims, strict=True)
    ]
    totals: dict[tuple[str, ...], list[int]] = {}
    for atom in itertools.product(*[range(len(k)) for k in keys]):
        if counts[atom] == 0:
            continue
        per_dim = [dims[j][0][keys[j][a]] for j, a in enumerate(atom)]
        for cell in itertools.product(*per_dim):
            got = totals.setdefault(cell, [0, 0])
            got[0] += int(counts[atom])
            got[1] += int(bed_days[atom])
    cells = sorted(totals)
    index = {c: i for i, c in enumerate(cells)}
    coords = np.array(
        [[codes[j].index(c[j]) for j in range(len(dims))] for c in cells], dtype=np.int64
    ).reshape(-1, len(dims))
    lines: list[list[int]] = []
    for j, (_, dim_lines) in enumerate(dims):
        for cell in cells:
            for parent, parts in dim_lines:
                if cell[j] != parent:
                    continue
                members = [(*cell[:j], p, *cell[j + 1 :]) for p in parts]
                lines.append([index[cell], *[index[m] for m in members if m in index]])
    return coords, axes, [totals[c][0] for c in cells], [totals[c][1] for c in cells], lines


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_hypercubes_protect_every_primary_cell(data: st.DataObject) -> None:
    shape = (4, 5, 2)
    size = int(np.prod(shape))
    counts = np.array(
        data.draw(st.lists(st.sampled_from([0, 0, 1, 2, 3, 6, 9]), min_size=size, max_size=size))
    ).reshape(shape)
    per_stay = np.array(data.draw(st.lists(st.integers(0, 3), min_size=size, max_size=size)))
    bed_days = counts * per_stay.reshape(shape)
    coords, axes, contacts, beds, lines = hypercube_case(counts, bed_days)
    reasons = protect_hypercubes(
        coords, axes, contacts, {"contacts": contacts, "bed_days": beds}, THRESHOLD
    )
    for c, v in enumerate(contacts):
        assert (reasons[c] == PRIMARY) == (1 <= v < THRESHOLD)
    for values in (contacts, beds):
        for c, (low, high) in full_attack(values, lines, reasons).items():
            if reasons[c] != PRIMARY or values[c] == 0:
                continue  # secondary cells hold >= THRESHOLD patients; zeros reveal no count
            assert high - low >= THRESHOLD - 1e-6, (c, values[c], low, high)


# Two years that no line adds up: the cube falls apart into one part per year.
YEARS: Dims = [
    CUBE_DIMS[0],
    (
        {"1a": ["1a", "Y1"], "1b": ["1b", "Y1"], "2a": ["2a", "Y2"], "2b": ["2b", "Y2"]},
        [("Y1", ("1a", "1b")), ("Y2", ("2a", "2b"))],
    ),
    CUBE_DIMS[2],
]


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_parts_no_line_links_are_protected_apart(data: st.DataObject) -> None:
    shape = (4, 4, 2)
    size = int(np.prod(shape))
    counts = np.array(
        data.draw(st.lists(st.sampled_from([0, 1, 2, 3, 6, 9]), min_size=size, max_size=size))
    ).reshape(shape)
    coords, axes, contacts, _beds, lines = hypercube_case(counts, counts * 2, YEARS)
    parts = hypercube.independent_parts(coords, axes)
    years = {axes[1].codes[c] for c in coords[:, 1]} & {"Y1", "Y2"}
    assert len(parts) == len(years)
    assert sorted(i for cells, _, _ in parts for i in cells.tolist()) == list(range(len(coords)))
    reasons = protect_hypercubes(coords, axes, contacts, {"contacts": contacts}, THRESHOLD)
    for c, (low, high) in full_attack(contacts, lines, reasons).items():
        if reasons[c] == PRIMARY and contacts[c] > 0:
            assert high - low >= THRESHOLD - 1e-6, (c, contacts[c], low, high)


def test_parts_protected_on_worker_processes_give_the_same_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = np.random.default_rng(3).choice([0, 1, 2, 3, 6, 9], size=(4, 4, 2))
    coords, axes, contacts, _beds, _lines = hypercube_case(counts, counts, YEARS)
    here = protect_hypercubes(coords, axes, contacts, {"c": contacts}, THRESHOLD, workers=1)
    monkeypatch.setattr(hypercube, "PARALLEL_FROM_CELLS", 0)
    spread = protect_hypercubes(coords, axes, contacts, {"c": contacts}, THRESHOLD, workers=2)
    assert spread.tolist() == here.tolist() and (here == PRIMARY).any()


def test_hypercube_lookup_paths_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dense index and the binary-search index give the same pattern."""
    rng = np.random.default_rng(7)
    counts = rng.choice([0, 0, 1, 2, 3, 6, 9], size=(4, 5, 2))
    coords, axes, contacts, beds, _ = hypercube_case(counts, counts * 2)
    measures = {"contacts": contacts, "bed_days": beds}
    dense = protect_hypercubes(coords, axes, contacts, measures, THRESHOLD)
    monkeypatch.setattr(hypercube, "DENSE_LOOKUP_MAX", 0)
    searched = protect_hypercubes(coords, axes, contacts, measures, THRESHOLD)
    assert np.array_equal(dense, searched)
    assert np.count_nonzero(dense == SECONDARY) > 0


def _protect_combined_only(
    coords: np.ndarray, axes: list[Axis], contacts: list[int]
) -> tuple[np.ndarray, int]:
    """Protect with no single hypercube on offer: every cell goes to the combined search (or,
    failing that, to its aggregates). Returns the reasons and how often the combined one served."""
    served = 0
    original = hypercube._Search.combined

    def counted(*args: object) -> object:
        nonlocal served
        found = original(*args)  # type: ignore[arg-type]
        served += found is not None
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hypercube._Search, "batch_best", lambda self, cells, *_: [None] * len(cells))
        patch.setattr(hypercube._Search, "combined", counted)
        reasons = protect_hypercubes(coords, axes, contacts, {"contacts": contacts}, THRESHOLD)
    return reasons, served


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_combined_hypercubes_protect_every_primary_cell(data: st.DataObject) -> None:
    size = 4 * 5 * 2
    counts = np.array(
        data.draw(st.lists(st.sampled_from([0, 0, 1, 2, 3, 6, 9]), min_size=size, max_size=size))
    ).reshape(4, 5, 2)
    coords, axes, contacts, _, lines = hypercube_case(counts, counts)
    reasons, _ = _protect_combined_only(coords, axes, contacts)
    for c, (low, high) in full_attack(contacts, lines, reasons).items():
        if reasons[c] == PRIMARY:
            assert high - low >= THRESHOLD - 1e-6, (c, contacts[c], low, high)


def test_combined_hypercubes_serve_a_sparse_cube() -> None:
    """On a fixed sparse cube the combined search protects cells (the test above is not empty)."""
    counts = np.random.default_rng(7).choice([0, 0, 1, 2, 3, 6, 9], size=(4, 5, 2))
    coords, axes, contacts, _, _ = hypercube_case(counts, counts)
    reasons, served = _protect_combined_only(coords, axes, contacts)
    assert np.count_nonzero(reasons == PRIMARY) > 0
    assert served > 0


def test_largest_partner_of_every_support_is_a_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beside the smallest supports, the inside atom is paired with the largest outside atom of
    each support size. Hand-computed on the region of CUBE_DIMS, candidates of m1 with only the
    one cheapest pair kept: (+m1, -m2) of support 2 by itself; with atom sizes m1..m4 = 1, 5, 1,
    100 also (+m1, +f1, -m4, -f2), the largest partner of support 4 (m3 is smaller)."""
    region = CUBE_DIMS[0][0]
    codes = sorted({c for cs in region.values() for c in cs})
    axis = Axis.from_mapping(codes, [(k, c) for k, cs in region.items() for c in cs])
    monkeypatch.setattr(hypercube, "CANDIDATES_PER_CODE", 1)
    m1 = codes.index("m1")

    def pairs(candidates: hypercube._Candidates) -> list[set[tuple[str, int]]]:
        return [
            {(codes[m1 + int(d)], int(s)) for d, s in zip(delta, signs, strict=True) if s}
            for delta, signs, single in zip(
                candidates.delta, candidates.signs, candidates.single, strict=True
            )
            if not single
        ]

    assert [sorted(a) for a in axis.atoms] == [
        sorted(codes.index(c) for c in region[m]) for m in ("m1", "m2", "m3", "m4")
    ]
    assert pairs(axis.candidates(m1, 1)) == [{("m1", 1), ("m2", -1)}]
    sizes = np.array([1.0, 5.0, 1.0, 100.0])
    assert pairs(axis.candidates(m1, 1, sizes)) == [
        {("m1", 1), ("m2", -1)},
        {("m1", 1), ("f1", 1), ("m4", -1), ("f2", -1)},
    ]


def test_large_partners_keep_the_country_published(monkeypatch: pytest.MonkeyPatch) -> None:
    """With few cheap partners per code (as for a municipality among hundreds), the largest
    partners keep the hypercubes off the country's cells. On this fixed cube, without them four
    country cells are hidden; with them none, fewer cells in all, and still safe."""
    counts = np.random.default_rng(9).choice([0, 0, 1, 2, 3, 6, 9, 30], size=(4, 5, 2))
    coords, axes, contacts, _, lines = hypercube_case(counts, counts * 2)
    country = np.array([axes[0].codes[c] == "T" for c in coords[:, 0]])
    monkeypatch.setattr(hypercube, "CANDIDATES_PER_CODE", 1)
    sized = protect_hypercubes(coords, axes, contacts, {"contacts": contacts}, THRESHOLD)
    monkeypatch.setattr(hypercube, "_atom_sizes", lambda *_: None)
    unsized = protect_hypercubes(coords, axes, contacts, {"contacts": contacts}, THRESHOLD)
    assert np.count_nonzero(unsized[country]) == 4
    assert np.count_nonzero(sized[country]) == 0
    assert np.count_nonzero(sized) < np.count_nonzero(unsized)
    for c, (low, high) in full_attack(contacts, lines, sized).items():
        if sized[c] == PRIMARY:
            assert high - low >= THRESHOLD - 1e-6, (c, contacts[c], low, high)
