"""The shared SQL fragments (engine/sql.py) mean the same on both engines.

Rounding is checked against Python's ``Decimal`` with ``ROUND_HALF_UP`` (half away from zero),
the rule every amount in øre follows, for negative amounts (corrections, credit notes) too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samhandling.engine import Engine
from samhandling.engine.sql import round_half_up_div, sql_string


def _expected(n: int, d: int) -> int:
    return int((Decimal(n) / Decimal(d)).to_integral_value(ROUND_HALF_UP))


def _divide(engine: Engine, pairs: list[tuple[int, int]]) -> list[int]:
    engine.register_arrow(
        "pairs",
        pa.table(
            {
                "i": pa.array(range(len(pairs)), pa.int64()),
                "n": pa.array([n for n, _ in pairs], pa.int64()),
                "d": pa.array([d for _, d in pairs], pa.int64()),
            }
        ),
    )
    got = engine.query(f"SELECT i, {round_half_up_div('n', 'd')} AS q FROM pairs ORDER BY i")
    assert got.schema.field("q").type == pa.int64()
    return [int(v) for v in got.column("q").to_pylist()]


def test_rounding_by_hand(engine: Engine) -> None:
    # øre / months or inhabitants, worked by hand: 7/10 = 0.7 -> 1; 15/10 = 1.5 -> 2 (half up);
    # 14/10 = 1.4 -> 1; the same negated, away from zero (truncating division would give
    # 0, -1 and -1 for the first two negatives); exact quotients stay exact. The last: 5.203 bn
    # kr in øre over 5 051 275 inhabitants: 5 051 275 x 103 003 = 520 296 478 825, remainder
    # 3 521 175, above half of 5 051 275, so 103 004 øre (1 030,04 kr).
    pairs = [(7, 10), (15, 10), (14, 10), (-7, 10), (-15, 10), (-14, 10), (0, 3), (-36, 12)]
    pairs += [(36, 12), (-1, 2), (1, 2), (-1, 3), (5_203_000_000_00, 5_051_275)]
    assert _divide(engine, pairs) == [1, 2, 1, -1, -2, -1, 0, -3, 3, -1, 1, 0, 103_004]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-(10**13), max_value=10**13),
            st.integers(min_value=1, max_value=10**5),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_rounding_is_half_away_from_zero(engine: Engine, pairs: list[tuple[int, int]]) -> None:
    got = _divide(engine, pairs)
    assert got == [_expected(n, d) for n, d in pairs]
    # round(-x) = -round(x): a credit note mirrors its invoice to the øre.
    assert _divide(engine, [(-n, d) for n, d in pairs]) == [-q for q in got]


@pytest.mark.parametrize("text", ["Bodø", "O'Brien", "a\\b", "''", "\\'", "tab\tline\nend", ""])
def test_string_literal_reads_back(engine: Engine, text: str) -> None:
    got = engine.query(f"SELECT {sql_string(text)} AS s")
    assert got.column("s").to_pylist() == [text]
