"""Dialect differences in one place: DuckDB SQL (what we write) to Spark SQL (what Spark runs).

sqlglot does the transpiling; the few DuckDB functions it leaves as they are (Spark has no
function of that name) are rewritten here, on the parsed tree, before Spark SQL is generated.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

SOURCE_DIALECT = "duckdb"


def _full_match(node: exp.RegexpFullMatch) -> exp.Expression:
    # regexp_full_match(x, p): the whole value matches p. Spark's RLIKE finds p anywhere, so the
    # pattern is anchored; \z (not $) so that a trailing newline is not let through.
    pattern = node.expression
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        anchored: exp.Expression = exp.Literal.string(f"^(?:{pattern.this})\\z")
    else:
        anchored = exp.Concat(
            expressions=[exp.Literal.string("^(?:"), pattern, exp.Literal.string(")\\z")]
        )
    return exp.RegexpLike(this=node.this, expression=anchored)


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.RegexpFullMatch):
        return _full_match(node)
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        if name == "regexp_split_to_array" and len(node.expressions) == 2:
            # Spark's split takes a (Java) regular expression, as DuckDB's function does.
            return exp.Anonymous(this="SPLIT", expressions=node.expressions)
    return node


def to_spark(sql: str) -> str:
    """Transpile one statement written in DuckDB's dialect to Spark SQL."""
    statements = sqlglot.parse(sql, read=SOURCE_DIALECT)
    if len(statements) != 1 or statements[0] is None:
        raise ValueError(f"expected one SQL statement, got {len(statements)}")
    tree = statements[0].transform(_rewrite)
    return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)


def quote_ident(name: str) -> str:
    """Quote an identifier so that it is safe in both dialects."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain identifier: {name!r}")
    return name
