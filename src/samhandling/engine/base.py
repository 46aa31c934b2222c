"""The one interface every computation runs through.

Computations are written once as SQL in DuckDB's dialect. The DuckDB engine runs it as is; the
Spark engine transpiles it with sqlglot (see :mod:`samhandling.engine.dialect`). Inputs are
registered as named relations (Parquet files or Arrow tables); results come back as Arrow tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pyarrow as pa

EngineName = Literal["duckdb", "spark"]


class Engine(ABC):
    """A query engine: register relations by name, run SQL, get Arrow back."""

    name: EngineName

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

    @abstractmethod
    def write_parquet(self, sql: str, path: Path, *, schema: pa.Schema | None = None) -> int:
        """Write the result of ``sql`` to one Parquet file (zstd) without holding it in memory;
        ``schema``: cast to exactly that schema. Rows come in the query's order. Returns the
        number of rows written."""

    @abstractmethod
    def query(self, sql: str) -> pa.Table:
        """Run one SELECT (DuckDB dialect) and return its result."""

    @abstractmethod
    def create_table(self, name: str, sql: str) -> None:
        """Materialise the result of ``sql`` as relation ``name`` (replacing any earlier one)."""

    @abstractmethod
    def create_view(self, name: str, sql: str) -> None:
        """Name the query ``sql`` as relation ``name``, evaluated where it is used (nothing is
        materialised; replaces any earlier relation of that name)."""

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
