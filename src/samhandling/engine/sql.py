"""SQL text every computation shares: literals and integer money arithmetic, once.

Computations write DuckDB's dialect (the Spark engine transpiles it, :mod:`.dialect`), so each
fragment here is valid DuckDB SQL whose transpiled form means the same on Spark. Nothing else in
the package quotes a value into SQL or rounds a division of øre by hand.
"""

from __future__ import annotations

from datetime import date


def sql_string(value: str) -> str:
    """``value`` as a SQL string literal (single quotes doubled).

    The literal is read in DuckDB's dialect, where a backslash is an ordinary character; the
    Spark engine's transpiler escapes it for Spark SQL, so ``a\\b`` means the same on both.
    """
    return "'" + value.replace("'", "''") + "'"


def sql_date(day: date) -> str:
    """``day`` as a SQL date literal (``DATE '2012-01-31'``)."""
    return f"DATE '{day.isoformat()}'"


def round_half_up_div(numerator: str, denominator: str) -> str:
    """SQL for ``numerator / denominator`` rounded to an integer, half away from zero.

    Both are integer expressions and ``denominator`` is positive (a population, a count of
    months, a weight). Integer division in both dialects truncates towards zero, so the usual
    ``(2n + d) div 2d`` rounds a negative amount (a correction, a credit note) wrongly:
    -0.7 gives 0, -1.5 gives -1. Here the rounding is done on the absolute value and the sign
    put back, so that ``round(-x) = -round(x)``: half up (-1.5 gives -2, 1.5 gives 2), never
    through DOUBLE. The result is BIGINT; the intermediate ``2|n| + d`` must fit one (a
    national amount in øre times a population does, by four orders of magnitude).
    """
    n = f"({numerator})"
    d = f"({denominator})"
    return (
        f"(CASE WHEN {n} < 0 THEN -((2 * (-{n}) + {d}) // (2 * {d})) "
        f"ELSE (2 * {n} + {d}) // (2 * {d}) END)"
    )
