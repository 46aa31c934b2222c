"""The embedded default engine: DuckDB over Parquet, nothing to install."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from samhandling.engine.base import Engine
from samhandling.engine.dialect import quote_ident
from samhandling.engine.sql import sql_string
from samhandling.errors import QueryError

_BATCH_ROWS = 1_000_000


class DuckDBEngine(Engine):
    """One DuckDB connection per engine; each thread queries through its own cursor.

    A DuckDB connection used from several threads at once fails, so :meth:`query` takes a cursor
    per thread (cursors share the catalogue: views registered on the connection are visible).
    ``one_thread``: the engine is made and used by one thread only (a portal worker), so the
    connection itself serves it whatever thread that is.
    """

    name = "duckdb"
    dialect = "duckdb"
    backend_errors = (duckdb.Error,)

    def __init__(
        self,
        database: str | Path = ":memory:",
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: str | Path | None = None,
        one_thread: bool = False,
    ) -> None:
        self._one_thread = one_thread
        self._conn = duckdb.connect(str(database))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._arrow_keep: dict[str, pa.Table] = {}
        self._relations: set[str] = set()
        if threads is not None:
            self.set_threads(threads)
        if memory_limit is not None:
            self._statement("settings", f"SET memory_limit = {sql_string(memory_limit)}")
        if temp_directory is not None:
            # Where DuckDB spills what does not fit under the memory limit.
            self._statement("settings", f"SET temp_directory = {sql_string(str(temp_directory))}")

    def set_threads(self, threads: int) -> None:
        """How many threads DuckDB runs each query on (its default: every core)."""
        self._statement("settings", f"SET threads = {int(threads)}")

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._one_thread or threading.current_thread() is threading.main_thread():
            return self._conn
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._conn.cursor()
            # Arrow tables are registered per connection, not in the shared catalogue: a new
            # cursor must see every table registered so far.
            with self._lock:
                for name, table in self._arrow_keep.items():
                    cur.register(name, table)
                self._cursors.append(cur)
            self._local.cursor = cur
        return cur

    def register_parquet(self, name: str, paths: Sequence[Path]) -> None:
        if not paths:
            raise ValueError(f"no Parquet files for relation {name!r}")
        files = ", ".join(sql_string(str(p)) for p in paths)
        self._statement(
            f"view {name}",
            f"CREATE OR REPLACE VIEW {quote_ident(name)} AS "
            f"SELECT * FROM read_parquet([{files}], union_by_name = true)",
        )
        self._relations.add(name)

    def register_numbered_file(
        self, name: str, path: Path, *, csv_columns: Sequence[str] | None = None
    ) -> None:
        literal = sql_string(str(path))
        if csv_columns is not None:
            # The dialect is fixed by the contract; DuckDB's sniffer is off because on a
            # malformed file it may pick another line as the header and silently return fewer
            # rows.
            columns = ", ".join(f"{sql_string(c)}: 'VARCHAR'" for c in csv_columns)
            reader = (
                f"read_csv({literal}, auto_detect = false, header = true, delim = ',', "
                f"quote = '\"', escape = '\"', comment = '', encoding = 'utf-8', "
                f"columns = {{{columns}}})"
            )
        else:
            reader = f"read_parquet({literal})"
        # ROW_NUMBER() OVER () streams in input order in DuckDB (a streaming window).
        self._statement(
            f"view {name}",
            f"CREATE OR REPLACE VIEW {quote_ident(name)} AS "
            f"SELECT CAST(ROW_NUMBER() OVER () AS BIGINT) AS _row_no, * FROM {reader}",
        )
        self._relations.add(name)

    def _run_write(self, sql: str, path: Path, schema: pa.Schema | None) -> int:
        rows = 0
        reader = self._relation(sql).to_arrow_reader(_BATCH_ROWS)
        with pq.ParquetWriter(path, schema or reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch if schema is None else batch.cast(schema))
                rows += batch.num_rows
        return rows

    def register_arrow(self, name: str, table: pa.Table) -> None:
        quote_ident(name)
        with self._lock:
            self._arrow_keep[name] = table
            self._conn.register(name, table)
            for cur in self._cursors:
                cur.register(name, table)
        self._relations.add(name)

    def _run_table(self, name: str, sql: str) -> None:
        self._cursor().execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS {sql}")
        self._relations.add(name)

    def _run_view(self, name: str, sql: str) -> None:
        self._cursor().execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {sql}")
        self._relations.add(name)

    def drop(self, name: str) -> None:
        quote_ident(name)
        with self._lock:
            registered = self._arrow_keep.pop(name, None) is not None
            if registered:
                self._conn.unregister(name)
                for cur in self._cursors:
                    cur.unregister(name)
        if not registered and name in self._relations:
            kind = (
                self._cursor()
                .execute(
                    "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
                )
                .fetchone()
            )
            if kind is not None:
                what = "VIEW" if kind[0] == "VIEW" else "TABLE"
                self._statement(f"drop {name}", f"DROP {what} IF EXISTS {quote_ident(name)}")
        self._relations.discard(name)

    def has_relation(self, name: str) -> bool:
        return name in self._relations

    def _run_query(self, sql: str) -> pa.Table:
        result: pa.Table = self._relation(sql).to_arrow_table()
        return result

    def _relation(self, sql: str) -> duckdb.DuckDBPyRelation:
        relation = self._cursor().sql(sql)
        if relation is None:
            raise QueryError(self.name, sql, ValueError("not a query: returns no rows"))
        return relation

    def _statement(self, what: str, sql: str) -> None:
        """A statement of the engine's own (settings, views over files, drops), run as every
        query is (:meth:`Engine._execute`)."""
        self._execute(what, sql, lambda native: self._cursor().execute(native))

    def close(self) -> None:
        self._conn.close()
