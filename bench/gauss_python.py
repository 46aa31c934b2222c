"""The elimination as it ran before it was compiled: plain Python dicts, one per vector.

The baseline of ``bench/bench_elimination.py`` only (the package runs
:mod:`samhandling.tables.elimination`): the same algorithm, so both give the same cells, and the
bench measures what compiling it bought.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.sparse import csc_matrix  # type: ignore[import-untyped]

from samhandling.tables.elimination import TOLERANCE
from samhandling.tables.gauss import _groups

FloatArray = npt.NDArray[np.float64]
SIGNATURE_DIGITS = 9


Vector = dict[int, float]


class _Elimination:
    """The published columns' echelon basis and the protected columns' residuals."""

    def __init__(self) -> None:
        self.basis: dict[int, Vector] = {}  # pivot row → basis vector (1 at its pivot)
        self.added: dict[int, int] = {}  # pivot row → insertion order
        self.residual: list[Vector] = []  # per protected column
        self.touching: dict[int, set[int]] = {}  # row → protected columns nonzero there
        self.signatures: dict[tuple[tuple[int, float], ...], int] = {}

    @staticmethod
    def _signature(v: Vector) -> tuple[tuple[int, float], ...]:
        rows = sorted(v)
        first = v[rows[0]]
        return tuple((r, round(v[r] / first, SIGNATURE_DIGITS)) for r in rows)

    def protect(self, column: Vector) -> bool:
        """Add a column that must not become a combination; False when it already is one."""
        r = self.reduce(column)
        if not r:
            return False
        k = len(self.residual)
        self.residual.append(r)
        for row in r:
            self.touching.setdefault(row, set()).add(k)
        sig = self._signature(r)
        self.signatures[sig] = self.signatures.get(sig, 0) + 1
        return True

    def reduce(self, column: Vector) -> Vector:
        v = dict(column)
        heap = [(self.added[r], r) for r in v if r in self.basis]
        heapq.heapify(heap)
        while heap:
            _, pivot = heapq.heappop(heap)
            factor = v.get(pivot, 0.0)
            if abs(factor) <= TOLERANCE:
                v.pop(pivot, None)
                continue
            for row, value in self.basis[pivot].items():
                new = v.get(row, 0.0) - factor * value
                if abs(new) <= TOLERANCE:
                    v.pop(row, None)
                else:
                    if row not in v and row in self.basis:
                        heapq.heappush(heap, (self.added[row], row))
                    v[row] = new
        return v

    def try_publish(self, column: Vector, *, check: bool = True) -> bool:
        """Publish a column unless a protected column would become a combination (``check``:
        without it, the column is published whatever it discloses)."""
        r = self.reduce(column)
        if not r:
            return True
        if check and self._signature(r) in self.signatures:
            return False
        # Pivot where the fewest protected residuals are non-zero (least work, least fill-in).
        pivot = min(r, key=lambda row: (len(self.touching.get(row, ())), row))
        scale = r[pivot]
        vector = {row: value / scale for row, value in r.items()}
        self.added[pivot] = len(self.added)
        self.basis[pivot] = vector
        for k in list(self.touching.get(pivot, ())):
            old = self.residual[k]
            sig = self._signature(old)
            self.signatures[sig] -= 1
            if not self.signatures[sig]:
                del self.signatures[sig]
            factor = old[pivot]
            for row, value in vector.items():
                new = old.get(row, 0.0) - factor * value
                if abs(new) <= TOLERANCE:
                    if row in old:
                        del old[row]
                        self.touching[row].discard(k)
                else:
                    if row not in old:
                        self.touching.setdefault(row, set()).add(k)
                    old[row] = new
            # Never empty: it was not a multiple of this column's residual.
            new_sig = self._signature(old)
            self.signatures[new_sig] = self.signatures.get(new_sig, 0) + 1
        return True


def _column(x: csc_matrix, c: int) -> Vector:
    start, end = x.indptr[c], x.indptr[c + 1]
    return dict.fromkeys(x.indices[start:end].tolist(), 1.0)


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
    """
    n = x.shape[1]
    keep = np.zeros(n, dtype=bool) if hidden is None else np.asarray(hidden, dtype=bool).copy()
    elimination = _Elimination()
    group = _groups(n, same)
    for a, b in same:
        difference = _column(x, a)
        for row, value in _column(x, b).items():
            difference[row] = difference.get(row, 0.0) - value
        elimination.try_publish(
            {r: v for r, v in difference.items() if abs(v) > TOLERANCE}, check=False
        )
    # A group with a protected or kept member is hidden as a whole.
    group_hidden = np.zeros(n, dtype=bool)
    group_hidden[group[protected | keep]] = True
    group_published = np.zeros(n, dtype=bool)
    for c in np.flatnonzero(protected).tolist():
        if x.indptr[c + 1] > x.indptr[c]:
            elimination.protect(_column(x, c))
    for p, q in pairs:
        both = _column(x, p)
        for row, value in _column(x, q).items():
            both[row] = both.get(row, 0.0) + value
        elimination.protect(both)
    secondary = np.zeros(n, dtype=bool)
    if not elimination.residual:
        # Nothing to protect: every other cell is published, but for groups with a kept cell.
        return (group_hidden[group] | keep) & ~protected
    candidates = np.flatnonzero(~protected & ~keep)
    order = candidates[np.lexsort((candidates, -cost[candidates]))]
    for c in order.tolist():
        g = int(group[c])
        if group_hidden[g]:
            secondary[c] = True
            continue
        if x.indptr[c + 1] == x.indptr[c]:
            continue
        if elimination.try_publish(_column(x, c)):
            group_published[g] = True
        elif group_published[g]:
            raise AssertionError("a linked cell is a combination of its own group")
        else:
            secondary[c] = True
            group_hidden[g] = True
    return secondary | (keep & ~protected)
