"""The Gaussian elimination's inner loop, compiled with numba (:mod:`samhandling.tables.gauss`).

One function, :func:`eliminate`, does what :func:`samhandling.tables.gauss.gauss_secondary`
describes, over plain arrays: the matrix ``X`` as CSC (``indptr``, ``indices``; every entry is 1),
the protected and kept cells, the candidates in the order they are tried, each cell's group of
equal cells (linked tables) and the pairs (equal cells; singleton pairs).

State, all in flat arrays (no Python object per cell or per entry):

- the **basis** of published columns: per pivot row its vector (1 at the pivot) in one pool
  (``b_idx``/``b_val``, a row's slice at ``b_start``/``b_len``), and the pivots' insertion order
  (``added``; ``pivot_of`` the other way round);
- the **residuals** of the protected columns (``x_p`` reduced by the basis), each a sorted
  pair of arrays, and per row the residuals that are non-zero there (``t_*``: one growable slice
  per row in one pool);
- the **signatures**: a 64-bit hash of each residual's normalised pattern (rows, and each
  coefficient divided by the first, rounded to nine digits), counted in a typed dict. A candidate
  whose reduced column has a protected residual's signature would make that cell a combination
  of published cells; a hash collision can only hide a cell more, never publish one.

A column is reduced with a dense accumulator the size of the rows and a heap of the pivots it
touches, taken in insertion order (a later basis vector is zero at every earlier pivot), exactly
as the elimination did in Python before (docs/performance.md measures both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt
from numba import types
from numba.typed import Dict, List

__all__ = ["LINKED_CONFLICT", "NOTHING_TO_PROTECT", "eliminate", "run", "warm_up"]

F = TypeVar("F", bound=Callable[..., Any])

# Residual entries smaller than this are zero (the matrix is 0/1; combinations stay small).
TOLERANCE = 1e-9
# A normalised coefficient is compared to nine digits.
SIGNATURE_SCALE = 1e9
# What eliminate() says besides the cells: it ran to the end, nothing had a residual (every
# protected column was empty or a combination already), or a linked group was both.
DONE = 0
NOTHING_TO_PROTECT = 1
LINKED_CONFLICT = 2


def _compiled(function: F) -> F:
    """numba's nopython compilation, cached on disk beside the module (the first call of a
    fresh install compiles, in seconds)."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))


@_compiled
def _grow(array: Any, need: int) -> Any:
    if need <= len(array):
        return array
    bigger = np.empty(max(need, 2 * len(array)), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


@_compiled
def _push(heap: Any, size: int, key: int) -> Any:
    heap = _grow(heap, size + 1)
    i = size
    heap[i] = key
    while i > 0:
        parent = (i - 1) // 2
        if heap[parent] <= heap[i]:
            break
        heap[parent], heap[i] = heap[i], heap[parent]
        i = parent
    return heap


@_compiled
def _pop(heap: Any, size: int) -> int:
    """The smallest key; the heap keeps ``size - 1`` keys."""
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and heap[left + 1] < heap[left]:
            child = left + 1
        if heap[i] <= heap[child]:
            break
        heap[i], heap[child] = heap[child], heap[i]
        i = child
    return int(top)


@_compiled
def _mix(z: Any) -> Any:
    z = (z ^ (z >> 30)) * np.int64(-4658895280553007687)
    z = (z ^ (z >> 27)) * np.int64(-7723592293110705685)
    return z ^ (z >> 31)


@_compiled
def _signature(rows: Any, values: Any) -> Any:
    h = np.int64(-7046029254386353131)
    first = values[0]
    for i in range(len(rows)):
        h = _mix(h ^ rows[i])
        h = _mix(h ^ np.int64(np.rint(values[i] / first * SIGNATURE_SCALE)))
    return h


@_compiled
def _combine(rows_a: Any, values_a: Any, rows_b: Any, values_b: Any, factor: float) -> Any:
    """``a + factor * b`` of two sorted sparse vectors, entries of at most TOLERANCE dropped;
    also the rows ``a`` lost and the rows it gained."""
    size = len(rows_a) + len(rows_b)
    rows = np.empty(size, dtype=np.int64)
    values = np.empty(size, dtype=np.float64)
    lost = np.empty(len(rows_a), dtype=np.int64)
    gained = np.empty(len(rows_b), dtype=np.int64)
    n = n_lost = n_gained = 0
    i = j = 0
    while i < len(rows_a) or j < len(rows_b):
        if j >= len(rows_b) or (i < len(rows_a) and rows_a[i] < rows_b[j]):
            rows[n] = rows_a[i]
            values[n] = values_a[i]
            n += 1
            i += 1
        elif i >= len(rows_a) or rows_b[j] < rows_a[i]:
            new = factor * values_b[j]
            if abs(new) > TOLERANCE:
                rows[n] = rows_b[j]
                values[n] = new
                gained[n_gained] = rows_b[j]
                n += 1
                n_gained += 1
            j += 1
        else:
            new = values_a[i] + factor * values_b[j]
            if abs(new) > TOLERANCE:
                rows[n] = rows_a[i]
                values[n] = new
                n += 1
            else:
                lost[n_lost] = rows_a[i]
                n_lost += 1
            i += 1
            j += 1
    return rows[:n].copy(), values[:n].copy(), lost[:n_lost], gained[:n_gained]


@_compiled
def _bucket_add(  # noqa: PLR0917
    pool: Any, top: int, start: Any, length: Any, capacity: Any, row: int, k: int
) -> Any:
    """Residual ``k`` is non-zero at ``row``; the pool (perhaps grown) and its new top."""
    if length[row] == capacity[row]:
        wider = max(4, 2 * capacity[row])
        pool = _grow(pool, top + wider)
        pool[top : top + length[row]] = pool[start[row] : start[row] + length[row]]
        start[row] = top
        capacity[row] = wider
        top += wider
    pool[start[row] + length[row]] = k
    length[row] += 1
    return pool, top


@_compiled
def _bucket_remove(pool: Any, start: Any, length: Any, row: int, k: int) -> None:
    s = start[row]
    for i in range(s, s + length[row]):
        if pool[i] == k:
            pool[i] = pool[s + length[row] - 1]
            length[row] -= 1
            return


@_compiled
def _reduce(  # noqa: PLR0917
    rows_in: Any,
    values_in: Any,
    work: Any,
    marked: Any,
    touched: Any,
    heap: Any,
    added: Any,
    pivot_of: Any,
    b_start: Any,
    b_length: Any,
    b_rows: Any,
    b_values: Any,
) -> Any:
    """A column reduced by the basis: (rows, values) sorted, and the scratch arrays (grown)."""
    n_touched = 0
    n_heap = 0
    for i in range(len(rows_in)):
        row = rows_in[i]
        if not marked[row]:
            marked[row] = True
            touched = _grow(touched, n_touched + 1)
            touched[n_touched] = row
            n_touched += 1
        work[row] += values_in[i]
        if added[row] >= 0:
            heap = _push(heap, n_heap, added[row])
            n_heap += 1
    while n_heap > 0:
        order = _pop(heap, n_heap)
        n_heap -= 1
        pivot = pivot_of[order]
        factor = work[pivot]
        if abs(factor) <= TOLERANCE:
            work[pivot] = 0.0
            continue
        s = b_start[pivot]
        for j in range(s, s + b_length[pivot]):
            row = b_rows[j]
            new = work[row] - factor * b_values[j]
            if abs(new) <= TOLERANCE:
                work[row] = 0.0
            else:
                if work[row] == 0.0:
                    if added[row] >= 0:
                        heap = _push(heap, n_heap, added[row])
                        n_heap += 1
                    if not marked[row]:
                        marked[row] = True
                        touched = _grow(touched, n_touched + 1)
                        touched[n_touched] = row
                        n_touched += 1
                work[row] = new
    count = 0
    for i in range(n_touched):
        if work[touched[i]] != 0.0:
            count += 1
    rows = np.empty(count, dtype=np.int64)
    k = 0
    for i in range(n_touched):
        row = touched[i]
        if work[row] != 0.0:
            rows[k] = row
            k += 1
    rows.sort()
    values = np.empty(count, dtype=np.float64)
    for i in range(count):
        values[i] = work[rows[i]]
    for i in range(n_touched):
        work[touched[i]] = 0.0
        marked[touched[i]] = False
    return rows, values, touched, heap


@_compiled
def eliminate(  # noqa: PLR0917
    indptr: Any,
    indices: Any,
    n_rows: int,
    protected: Any,
    keep: Any,
    order: Any,
    group: Any,
    same_a: Any,
    same_b: Any,
    pair_p: Any,
    pair_q: Any,
) -> Any:
    """(secondary cells, status): see the module's docstring and ``gauss_secondary``.

    ``same_a[i]``/``same_b[i]`` are the same number (``x_a - x_b`` is published first, without
    a check); the sum of ``pair_p[i]`` and ``pair_q[i]`` is protected like a primary cell.
    """
    n = len(indptr) - 1
    secondary = np.zeros(n, dtype=np.bool_)
    work = np.zeros(n_rows, dtype=np.float64)
    marked = np.zeros(n_rows, dtype=np.bool_)
    touched = np.empty(64, dtype=np.int64)
    heap = np.empty(64, dtype=np.int64)
    added = np.full(n_rows, -1, dtype=np.int64)
    pivot_of = np.empty(n_rows, dtype=np.int64)
    n_added = 0
    b_start = np.zeros(n_rows, dtype=np.int64)
    b_length = np.zeros(n_rows, dtype=np.int64)
    b_rows = np.empty(1024, dtype=np.int64)
    b_values = np.empty(1024, dtype=np.float64)
    b_top = 0
    t_start = np.zeros(n_rows, dtype=np.int64)
    t_length = np.zeros(n_rows, dtype=np.int64)
    t_capacity = np.zeros(n_rows, dtype=np.int64)
    t_pool = np.empty(1024, dtype=np.int64)
    t_top = 0
    res_rows = List.empty_list(types.int64[::1])
    res_values = List.empty_list(types.float64[::1])
    signatures = Dict.empty(key_type=types.int64, value_type=types.int64)
    group_hidden = np.zeros(n, dtype=np.bool_)
    group_published = np.zeros(n, dtype=np.bool_)
    for c in range(n):
        if protected[c] or keep[c]:
            group_hidden[group[c]] = True
    n_same = len(same_a)
    ones = np.ones(n_rows, dtype=np.float64)
    for step in range(n_same + 1 + len(order)):
        if step == n_same:
            # The protected columns: each primary cell, then each singleton pair's sum.
            for k_in in range(n + len(pair_p)):
                if k_in < n:
                    if not protected[k_in] or indptr[k_in + 1] == indptr[k_in]:
                        continue
                    column = indices[indptr[k_in] : indptr[k_in + 1]]
                    rows, values, touched, heap = _reduce(
                        column, ones[: len(column)], work, marked, touched, heap, added,
                        pivot_of, b_start, b_length, b_rows, b_values,
                    )  # fmt: skip
                else:
                    p, q = pair_p[k_in - n], pair_q[k_in - n]
                    rows_p = indices[indptr[p] : indptr[p + 1]]
                    rows_q = indices[indptr[q] : indptr[q + 1]]
                    both, both_values, _, _ = _combine(
                        rows_p, ones[: len(rows_p)], rows_q, ones[: len(rows_q)], 1.0
                    )
                    rows, values, touched, heap = _reduce(
                        both, both_values, work, marked, touched, heap, added,
                        pivot_of, b_start, b_length, b_rows, b_values,
                    )  # fmt: skip
                if len(rows) == 0:
                    continue  # already a combination of published cells: nothing to keep
                k = len(res_rows)
                res_rows.append(rows)
                res_values.append(values)
                for row in rows:
                    t_pool, t_top = _bucket_add(
                        t_pool, t_top, t_start, t_length, t_capacity, row, k
                    )
                h = _signature(rows, values)
                signatures[h] = signatures.get(h, 0) + 1
            if len(res_rows) == 0:
                return secondary, NOTHING_TO_PROTECT
            continue
        cell = -1
        if step < n_same:
            a, b = same_a[step], same_b[step]
            rows_a = indices[indptr[a] : indptr[a + 1]]
            rows_b = indices[indptr[b] : indptr[b + 1]]
            column, column_values, _, _ = _combine(
                rows_a, ones[: len(rows_a)], rows_b, ones[: len(rows_b)], -1.0
            )
            check = False
        else:
            cell = order[step - n_same - 1]
            if group_hidden[group[cell]]:
                secondary[cell] = True
                continue
            if indptr[cell + 1] == indptr[cell]:
                continue  # no inner cell: a zero
            column = indices[indptr[cell] : indptr[cell + 1]]
            column_values = ones[: len(column)]
            check = True
        rows, values, touched, heap = _reduce(
            column, column_values, work, marked, touched, heap, added,
            pivot_of, b_start, b_length, b_rows, b_values,
        )  # fmt: skip
        published = True
        if len(rows) > 0:
            if check and signatures.get(_signature(rows, values), 0) > 0:
                published = False
            else:
                # Pivot where the fewest protected residuals are non-zero (least work and
                # fill-in); the smallest such row.
                best = 0
                for i in range(1, len(rows)):
                    if t_length[rows[i]] < t_length[rows[best]]:
                        best = i
                pivot = rows[best]
                vector = values / values[best]
                b_rows = _grow(b_rows, b_top + len(rows))
                b_values = _grow(b_values, b_top + len(rows))
                b_rows[b_top : b_top + len(rows)] = rows
                b_values[b_top : b_top + len(rows)] = vector
                b_start[pivot] = b_top
                b_length[pivot] = len(rows)
                b_top += len(rows)
                added[pivot] = n_added
                pivot_of[n_added] = pivot
                n_added += 1
                hit = t_pool[t_start[pivot] : t_start[pivot] + t_length[pivot]].copy()
                for k in hit:
                    old_rows, old_values = res_rows[k], res_values[k]
                    h = _signature(old_rows, old_values)
                    signatures[h] -= 1
                    if signatures[h] == 0:
                        del signatures[h]
                    at = np.searchsorted(old_rows, pivot)
                    new_rows, new_values, lost, gained = _combine(
                        old_rows, old_values, rows, vector, -old_values[at]
                    )
                    for row in lost:
                        _bucket_remove(t_pool, t_start, t_length, row, k)
                    for row in gained:
                        t_pool, t_top = _bucket_add(
                            t_pool, t_top, t_start, t_length, t_capacity, row, k
                        )
                    res_rows[k] = new_rows
                    res_values[k] = new_values
                    h = _signature(new_rows, new_values)
                    signatures[h] = signatures.get(h, 0) + 1
        if cell >= 0:
            g = group[cell]
            if published:
                group_published[g] = True
            elif group_published[g]:
                return secondary, LINKED_CONFLICT
            else:
                secondary[cell] = True
                group_hidden[g] = True
    return secondary, DONE


def run(  # noqa: PLR0917
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    n_rows: int,
    protected: npt.NDArray[np.bool_],
    keep: npt.NDArray[np.bool_],
    order: npt.NDArray[np.int64],
    group: npt.NDArray[np.int64],
    same: npt.NDArray[np.int64],
    pairs: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.bool_], int]:
    """:func:`eliminate` with its arrays in the types it was compiled for (``same`` and
    ``pairs``: two columns each)."""
    i64 = np.int64
    found, status = eliminate(
        np.ascontiguousarray(indptr, dtype=i64),
        np.ascontiguousarray(indices, dtype=i64),
        int(n_rows),
        np.ascontiguousarray(protected, dtype=np.bool_),
        np.ascontiguousarray(keep, dtype=np.bool_),
        np.ascontiguousarray(order, dtype=i64),
        np.ascontiguousarray(group, dtype=i64),
        np.ascontiguousarray(same[:, 0], dtype=i64),
        np.ascontiguousarray(same[:, 1], dtype=i64),
        np.ascontiguousarray(pairs[:, 0], dtype=i64),
        np.ascontiguousarray(pairs[:, 1], dtype=i64),
    )
    return np.asarray(found, dtype=bool), int(status)


def warm_up() -> None:
    """Compile :func:`eliminate` now (or load it from numba's cache): the demo does this on a
    thread of its own while it generates data, so the table build does not wait for it."""
    empty = np.zeros((0, 2), dtype=np.int64)
    run(
        np.array([0, 1, 2], dtype=np.int64),
        np.array([0, 0], dtype=np.int64),
        1,
        np.array([True, False]),
        np.zeros(2, dtype=bool),
        np.array([1], dtype=np.int64),
        np.arange(2, dtype=np.int64),
        empty,
        empty,
    )
