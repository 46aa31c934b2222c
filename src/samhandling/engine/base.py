"""The one interface every computation runs through.

Computations are written once as SQL in DuckDB's dialect. The DuckDB engine runs it as is; the
Spark engine transpiles it with sqlglot (see :mod:`samhandling.engine.dialect`). Inputs are
registered as named relations (Parquet files or Arrow tables); results come back as Arrow tables.

Execution is owned here, the way Splink's database API owns it: :meth:`Engine.query`,
:meth:`Engine.create_table`, :meth:`Engine.create_view` and :meth:`Engine.write_parquet` translate
the statement to the engine's dialect, log it, run it through the engine's backend call (the
``_run_*`` methods, the only thing an engine implements) and turn any backend failure into one
:class:`~samhandling.errors.QueryError` carrying the failing SQL pretty-printed. No caller
reaches a backend's connection or cursor.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

import pyarrow as pa
import sqlglot
from sqlglot.errors import SqlglotError

from samhandling.errors import QueryError

EngineName = Literal["duckdb", "spark"]

LOG = logging.getLogger("samhandling.engine")
_T = TypeVar("_T")


def pretty_sql(sql: str, dialect: str) -> str:
    """``sql`` laid out one clause a line (sqlglot), for error messages and logs; the text as
    it is where sqlglot cannot parse it (the error may be exactly that)."""
    try:
        return ";\n".join(sqlglot.transpile(sql, read=dialect, write=dialect, pretty=True))
    except SqlglotError:
        return sql


class Engine(ABC):
    """A query engine: register relations by name, run SQL, get Arrow back."""

    name: EngineName
    #: sqlglot's name of the SQL the backend runs (after :meth:`_translate`).
    dialect: str
    #: What the backend raises for a statement it cannot run (wrapped in QueryError).
    backend_errors: tuple[type[BaseException], ...]

    @abstractmethod
    def register_parquet(self, name: str, paths: Sequence[Path]) -> None:
        """Expose Parquet files (one logical table, same columns) as relation ``name``."""

    @abstractmethod
    def register_arrow(self, name: str, table: pa.Table) -> None:
        """Expose an in-memory Arrow table as relation ``name``."""

    @abstractmethod
    def register_numbered_file(
        self, name: str, path: Path, *, csv_columns: Sequence[str] | None = None
    ) -> None:
        """Expose one delivery file as relation ``name``, every row numbered ``_row_no`` (BIGINT,
        1 = the first data row, in file order) before its own columns.

        ``csv_columns`` given: a CSV in the interchange dialect (UTF-8, comma, double quote
        doubled to escape, one header row, no comment lines), every column as text, nothing
        sniffed; else a Parquet file with its own types. A file that is not well-formed raises
        :class:`~samhandling.errors.QueryError` when it is first read, never loses rows.
        """

    def write_parquet(self, sql: str, path: Path, *, schema: pa.Schema | None = None) -> int:
        """Write the result of ``sql`` to one Parquet file (zstd) without holding it in memory;
        ``schema``: cast to exactly that schema. Rows come in the query's order. Returns the
        number of rows written."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return self._execute(
            f"write {path.name}", sql, lambda native: self._run_write(native, path, schema)
        )

    def query(self, sql: str) -> pa.Table:
        """Run one SELECT (DuckDB dialect) and return its result."""
        return self._execute("query", sql, self._run_query)

    def create_table(self, name: str, sql: str) -> None:
        """Materialise the result of ``sql`` as relation ``name`` (replacing any earlier one)."""
        self._execute(f"table {name}", sql, lambda native: self._run_table(name, native))

    def create_view(self, name: str, sql: str) -> None:
        """Name the query ``sql`` as relation ``name``, evaluated where it is used (nothing is
        materialised; replaces any earlier relation of that name)."""
        self._execute(f"view {name}", sql, lambda native: self._run_view(name, native))

    def _translate(self, sql: str) -> str:
        """The statement in the backend's dialect (DuckDB's own: unchanged)."""
        return sql

    def _execute(self, what: str, sql: str, run: Callable[[str], _T]) -> _T:
        """The one place a statement runs: translated, logged, timed, errors wrapped."""
        try:
            native = self._translate(sql)
        except Exception as exc:
            raise QueryError(self.name, pretty_sql(sql, "duckdb"), exc) from exc
        LOG.debug("%s %s:\n%s", self.name, what, native)
        start = time.perf_counter()
        try:
            result = run(native)
        except QueryError:
            raise
        except self.backend_errors as exc:
            LOG.debug("%s %s failed after %.3f s: %s", self.name, what, _since(start), exc)
            raise QueryError(self.name, pretty_sql(native, self.dialect), exc) from exc
        LOG.debug("%s %s done in %.3f s", self.name, what, _since(start))
        return result

    @abstractmethod
    def _run_query(self, sql: str) -> pa.Table:
        """Backend call: run one SELECT in the backend's dialect, return it as Arrow."""

    @abstractmethod
    def _run_table(self, name: str, sql: str) -> None:
        """Backend call: materialise ``sql`` as relation ``name`` (replacing any earlier)."""

    @abstractmethod
    def _run_view(self, name: str, sql: str) -> None:
        """Backend call: name ``sql`` as view ``name`` (replacing any earlier relation)."""

    @abstractmethod
    def _run_write(self, sql: str, path: Path, schema: pa.Schema | None) -> int:
        """Backend call: stream ``sql``'s rows into one Parquet file at ``path`` (its folder
        exists), cast to ``schema`` if given; the number of rows."""

    @abstractmethod
    def drop(self, name: str) -> None:
        """Forget relation ``name`` and free what it holds (nothing happens if there is none)."""

    @abstractmethod
    def has_relation(self, name: str) -> bool:
        """Whether a relation of that name is registered."""

    @abstractmethod
    def close(self) -> None:
        """Release the engine's resources."""

    def register_empty(self, name: str, schema: pa.Schema) -> None:
        """Expose an empty relation with the given schema (a table with no delivered rows)."""
        self.register_arrow(name, schema.empty_table())

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _since(start: float) -> float:
    return time.perf_counter() - start
