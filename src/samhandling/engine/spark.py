"""Apache Spark (PySpark) engine: the same SQL, transpiled, for data that outgrow one machine."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from samhandling.engine.base import Engine
from samhandling.engine.dialect import quote_ident, to_spark
from samhandling.errors import ConfigError, QueryError


def spark_available() -> str | None:
    """None when Spark can run here, else the reason it cannot."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'samhandling[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime on PATH (Spark needs Java 17 or later)"
    return None


class SparkEngine(Engine):
    """Runs on a SparkSession: local mode by default, any master via ``master``."""

    name = "spark"

    def __init__(
        self,
        *,
        master: str = "local[2]",
        shuffle_partitions: int = 4,
        session: Any = None,
        app_name: str = "samhandling",
    ) -> None:
        reason = spark_available()
        if reason is not None:
            raise ConfigError(f"Spark engine unavailable: {reason}")
        from pyspark.sql import SparkSession

        if session is None:
            session = (
                SparkSession.builder.master(master)
                .appName(app_name)
                .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.ansi.enabled", "true")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.driver.memory", "2g")
                .getOrCreate()
            )
        self._spark = session
        self._relations: set[str] = set()

    @property
    def session(self) -> Any:
        return self._spark

    def register_parquet(self, name: str, paths: Sequence[Path]) -> None:
        if not paths:
            raise ValueError(f"no Parquet files for relation {name!r}")
        frame = self._spark.read.option("mergeSchema", "true").parquet(*[str(p) for p in paths])
        frame.createOrReplaceTempView(quote_ident(name))
        self._relations.add(name)

    def register_arrow(self, name: str, table: pa.Table) -> None:
        frame = self._spark.createDataFrame(table)
        frame.createOrReplaceTempView(quote_ident(name))
        self._relations.add(name)

    def create_table(self, name: str, sql: str) -> None:
        spark_sql = self._transpile(sql)
        try:
            frame = self._spark.sql(spark_sql).cache()
            frame.count()
        except Exception as exc:
            raise QueryError(self.name, spark_sql, exc) from exc
        frame.createOrReplaceTempView(quote_ident(name))
        self._relations.add(name)

    def drop(self, name: str) -> None:
        if name not in self._relations:
            return
        if self._spark.catalog.isCached(quote_ident(name)):
            self._spark.catalog.uncacheTable(quote_ident(name))
        self._spark.catalog.dropTempView(quote_ident(name))
        self._relations.discard(name)

    def has_relation(self, name: str) -> bool:
        return name in self._relations

    def query(self, sql: str) -> pa.Table:
        spark_sql = self._transpile(sql)
        try:
            result: pa.Table = self._spark.sql(spark_sql).toArrow()
        except Exception as exc:
            raise QueryError(self.name, spark_sql, exc) from exc
        return result

    def _transpile(self, sql: str) -> str:
        try:
            return to_spark(sql)
        except Exception as exc:
            raise QueryError(self.name, sql, exc) from exc

    def close(self) -> None:
        for name in self._relations:
            self._spark.catalog.dropTempView(name)
        self._relations.clear()
