"""Disclosure control: primary/secondary suppression, checked by an LP attacker."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from samhandling.rules import load_rules
from samhandling.tables.disclosure import (
    PRIMARY,
    PUBLISHED,
    SECONDARY,
    attack_intervals,
    disclosure_threshold,
    protect,
)

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
    threshold, version = disclosure_threshold(load_rules())
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
