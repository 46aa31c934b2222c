"""Apache Spark (PySpark) engine: the same SQL, transpiled, for data that outgrow one machine."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

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
        *conf,
    ]
    if remote is not None:
        builder = SparkSession.builder.remote(remote).appName(app_name)
        for key, value in settings:
            builder = builder.config(key, value)
        return builder.getOrCreate()
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
        self._relations: set[str] = set()

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> SparkEngine:
        """An engine where the settings say Spark runs (:mod:`samhandling.engine.settings`)."""
        return cls(
            master=settings.spark_master, remote=settings.spark_remote, conf=settings.spark_conf
        )

    @property
    def master(self) -> str:
        """The master this engine's session runs on (``sc://…`` under Spark Connect)."""
        try:
            return str(self._spark.sparkContext.master)
        except Exception:
            return str(self._spark.conf.get("spark.remote", "sc://"))

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

    def stop(self) -> None:
        """Stop the SparkContext under this engine (every session of it ends; the cluster's
        executors of this application are released)."""
        self.close()
        self._spark.stop()
