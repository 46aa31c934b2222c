"""Dialect differences in one place: DuckDB SQL (what we write) to Spark SQL (what Spark runs)."""

from __future__ import annotations

import sqlglot
from sqlglot.errors import ErrorLevel

SOURCE_DIALECT = "duckdb"


def to_spark(sql: str) -> str:
    """Transpile one statement written in DuckDB's dialect to Spark SQL."""
    statements = sqlglot.transpile(
        sql, read=SOURCE_DIALECT, write="spark", unsupported_level=ErrorLevel.RAISE
    )
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, got {len(statements)}")
    return str(statements[0])


def quote_ident(name: str) -> str:
    """Quote an identifier so that it is safe in both dialects."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain identifier: {name!r}")
    return name
