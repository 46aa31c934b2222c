"""Apache Spark (PySpark) engine: the same SQL, transpiled, for data that outgrow one machine."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from samhandling.engine.base import Engine
from samhandling.engine.dialect import quote_ident, to_spark
from samhandling.engine.settings import DEFAULT_SPARK_MASTER, EngineSettings
from samhandling.errors import ConfigError, QueryError


def spark_available(*, remote: bool = False) -> str | None:
    """None when Spark can run here, else the reason it cannot. A Spark Connect client
    (``remote``) needs no Java, but the client's libraries (``pyspark[connect]``)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'samhandling[spark]')"
    if remote:
        from importlib.util import find_spec

        if find_spec("grpc") is None or find_spec("pandas") is None:
            return "the Spark Connect client needs pip install 'pyspark[connect]'"
        return None
    if shutil.which("java") is None:
        return "no Java runtime on PATH (Spark needs Java 17 or later)"
    return None


def _session(
    master: str,
    remote: str | None,
    conf: Sequence[tuple[str, str]],
    shuffle_partitions: int,
    app_name: str,
) -> Any:
    from pyspark.sql import SparkSession

    settings = [
        ("spark.sql.shuffle.partitions", str(shuffle_partitions)),
        ("spark.sql.session.timeZone", "UTC"),
        ("spark.sql.ansi.enabled", "true"),
        ("spark.sql.execution.arrow.pyspark.enabled", "true"),
        # Parquet that pyarrow and DuckDB read as they read their own (not INT96).
        ("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS"),
        *conf,
    ]
    if remote is not None:
        # A session of its own on the server (create, not getOrCreate: that would hand back
        # another engine's session, whose relations of the same names would meet this one's).
        builder = SparkSession.builder.remote(remote).appName(app_name)
        for key, value in settings:
            builder = builder.config(key, value)
        return builder.create()
    from pyspark import SparkContext

    running = SparkContext._active_spark_context
    if running is not None and running.master != master:
        running.stop()
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
    )
    for key, value in settings:
        builder = builder.config(key, value)
    base = builder.getOrCreate()
    # Settings of a session are per session; a new session of the same context gets them
    # from the builder's context-level defaults only, so set them again.
    own = base.newSession()
    for key, value in settings:
        if key.startswith("spark.sql."):
            own.conf.set(key, value)
    return own


class SparkEngine(Engine):
    """Runs on a SparkSession: local mode by default, any master via ``master`` (a standalone
    cluster ``spark://host:7077``, ``yarn``, ``k8s://…``), or Spark Connect via ``remote``
    (``sc://host:15002``). ``conf`` adds Spark settings.

    Spark keeps one SparkContext per process: an engine asked for another master than the
    running one stops that one first. Each engine works in its own session of the context
    (``newSession``), so two engines' relations of the same name do not meet.
    """

    name = "spark"
    dialect = "spark"
    # Spark's errors come from py4j (classic), gRPC (Connect) or PySpark itself: whatever the
    # backend raises for a statement is the statement's failure.
    backend_errors = (Exception,)

    def __init__(
        self,
        *,
        master: str = DEFAULT_SPARK_MASTER,
        remote: str | None = None,
        conf: Sequence[tuple[str, str]] = (),
        shuffle_partitions: int = 4,
        session: Any = None,
        app_name: str = "samhandling",
    ) -> None:
        reason = spark_available(remote=remote is not None)
        if reason is not None:
            raise ConfigError(f"Spark engine unavailable: {reason}")
        if session is None:
            session = _session(master, remote, conf, shuffle_partitions, app_name)
        self._spark = session
        self._remote = remote
        self._relations: set[str] = set()
        # Frames this engine persisted, by the relation they back (tables, numbered files):
        # released when the relation is dropped or the engine closed, without waiting. Under
        # Spark Connect a table is not kept here: the client holds a frame's SQL, not its
        # analysed plan, so unpersisting the frame makes the server analyse that SQL again,
        # which fails once a relation it names has been dropped (the cube's counting drops its
        # inputs before its results). Dropping the table's view releases its cache instead
        # (Spark's dropTempView uncaches the view's own plan).
        self._persisted: dict[str, Any] = {}

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> SparkEngine:
        """An engine where the settings say Spark runs (:mod:`samhandling.engine.settings`)."""
        return cls(
            master=settings.spark_master, remote=settings.spark_remote, conf=settings.spark_conf
        )

    @property
    def master(self) -> str:
        """The master this engine's session runs on (the server's ``sc://…`` under Spark
        Connect, whose client has no SparkContext)."""
        if self._remote is not None:
            return self._remote
        return str(self._spark.sparkContext.master)

    @property
    def session(self) -> Any:
        return self._spark

    def register_parquet(self, name: str, paths: Sequence[Path]) -> None:
        if not paths:
            raise ValueError(f"no Parquet files for relation {name!r}")
        frame = self._spark.read.option("mergeSchema", "true").parquet(*[str(p) for p in paths])
        frame.createOrReplaceTempView(quote_ident(name))
        self._relations.add(name)

    def register_numbered_file(
        self, name: str, path: Path, *, csv_columns: Sequence[str] | None = None
    ) -> None:
        from functools import reduce

        from pyspark.sql import functions as F  # noqa: N812 - PySpark's own convention
        from pyspark.sql import types as T  # noqa: N812

        self.drop(name)
        reader = self._spark.read
        if csv_columns is not None:
            schema = T.StructType([T.StructField(c, T.StringType()) for c in csv_columns])
            frame = (
                reader.schema(schema)
                .option("header", "true")
                .option("enforceSchema", "true")  # the header row is checked by the caller
                .option("sep", ",")
                .option("quote", '"')
                .option("escape", '"')
                .option("encoding", "UTF-8")
                .option("multiLine", "true")  # a quoted value may hold a line break
                .option("mode", "FAILFAST")  # a malformed row fails the file, never dropped
                .option("unescapedQuoteHandling", "RAISE_ERROR")
                .csv(str(path))
            )
        else:
            frame = reader.parquet(str(path))
        columns = frame.columns
        # monotonically_increasing_id is the partition index in the upper 31 bits and the row's
        # position in its partition in the lower 33; partitions of one file follow the file.
        # Persisted, so that every later read sees the same ids; the row number is then the
        # rows of earlier partitions plus the position.
        numbered = frame.select(F.monotonically_increasing_id().alias("_mid"), *columns).persist()
        try:
            counts = sorted(
                (int(r["p"]), int(r["n"]))
                for r in numbered.groupBy(F.shiftright("_mid", 33).alias("p"))
                .agg(F.count(F.lit(1)).alias("n"))
                .collect()
            )
        except Exception as exc:
            numbered.unpersist(blocking=False)
            raise QueryError(self.name, f"read {path}", exc) from exc
        base: dict[int, int] = {}
        total = 0
        for part, n in counts:
            base[part] = total
            total += n
        position = F.col("_mid").bitwiseAND(F.lit((1 << 33) - 1))
        offset = reduce(
            lambda expr, item: expr.when(F.shiftright("_mid", 33) == item[0], F.lit(item[1])),
            list(base.items())[1:],
            F.when(F.shiftright("_mid", 33) == (counts[0][0] if counts else 0), F.lit(0)),
        )
        row_no = (position + offset + F.lit(1)).cast("bigint").alias("_row_no")
        numbered.select(row_no, *columns).createOrReplaceTempView(quote_ident(name))
        self._persisted[name] = numbered
        self._relations.add(name)

    def _run_write(self, sql: str, path: Path, schema: pa.Schema | None) -> int:
        # Spark writes a folder of part files (in the query's order when it has one); the
        # driver joins them into one file, batch by batch. The folder sits beside the target,
        # so that the executors write where the driver reads (a shared path on a cluster).
        parts = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.parts"
        rows = 0
        try:
            frame = self._spark.sql(sql)
            frame.write.mode("overwrite").parquet(str(parts))
            if schema is None:
                schema = frame.limit(0).toArrow().schema
            assert schema is not None
            with pq.ParquetWriter(path, schema, compression="zstd") as writer:
                for part in sorted(parts.glob("part-*.parquet")):
                    for batch in pq.ParquetFile(part).iter_batches(batch_size=1_000_000):
                        writer.write_batch(batch.cast(schema))
                        rows += batch.num_rows
        finally:
            shutil.rmtree(parts, ignore_errors=True)
        return rows

    def register_arrow(self, name: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            # A Spark Connect client cannot infer the schema of no rows: give it, as the rows
            # would have given it (timestamps with the session's zone, as classic Spark does).
            from pyspark.sql.pandas.types import from_arrow_schema

            schema = from_arrow_schema(table.schema, prefer_timestamp_ntz=False)
            frame = self._spark.createDataFrame(table, schema=schema)
        else:
            frame = self._spark.createDataFrame(table)
        frame.createOrReplaceTempView(quote_ident(name))
        self._relations.add(name)

    def _run_table(self, name: str, sql: str) -> None:
        frame = self._spark.sql(sql).cache()
        frame.count()
        self.drop(name)
        frame.createOrReplaceTempView(quote_ident(name))
        if self._remote is None:
            self._persisted[name] = frame
        self._relations.add(name)

    def _run_view(self, name: str, sql: str) -> None:
        self.drop(name)
        self._spark.sql(sql).createOrReplaceTempView(quote_ident(name))
        self._relations.add(name)

    def drop(self, name: str) -> None:
        persisted = self._persisted.pop(name, None)
        if persisted is not None:
            persisted.unpersist(blocking=False)
        if name not in self._relations:
            return
        self._spark.catalog.dropTempView(quote_ident(name))
        self._relations.discard(name)

    def has_relation(self, name: str) -> bool:
        return name in self._relations

    def _run_query(self, sql: str) -> pa.Table:
        result: pa.Table = self._spark.sql(sql).toArrow()
        return result

    def _translate(self, sql: str) -> str:
        return to_spark(sql)

    def close(self) -> None:
        for frame in self._persisted.values():
            frame.unpersist(blocking=False)
        self._persisted.clear()
        for name in self._relations:
            self._spark.catalog.dropTempView(name)
        self._relations.clear()

    def stop(self) -> None:
        """Stop the SparkContext under this engine (every session of it ends; the cluster's
        executors of this application are released)."""
        self.close()
        self._spark.stop()
