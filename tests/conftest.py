"""Shared fixtures: the engines every computation must agree on.

``engine`` is parametrised over DuckDB and Spark. Plain ``pytest`` runs both when Java and pyspark
are present; otherwise the Spark case is skipped with the reason. ``SAMHANDLING_TEST_ENGINES``
(comma-separated) narrows the set, e.g. ``duckdb`` for a quick local run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from samhandling.engine import DuckDBEngine, Engine, SparkEngine, spark_available

_SPARK: SparkEngine | None = None


def _wanted(name: str) -> bool:
    wanted = os.environ.get("SAMHANDLING_TEST_ENGINES", "duckdb,spark")
    return name in {w.strip() for w in wanted.split(",")}


def _spark_engine() -> SparkEngine:
    global _SPARK  # noqa: PLW0603 - one SparkSession per test run; starting one costs seconds
    if _SPARK is None:
        _SPARK = SparkEngine(master="local[1]", shuffle_partitions=1)
    return _SPARK


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh engine of each kind (Spark shares one session, relations are dropped after)."""
    name: str = request.param
    if not _wanted(name):
        pytest.skip(f"{name} not in SAMHANDLING_TEST_ENGINES")
    if name == "duckdb":
        duck = DuckDBEngine()
        yield duck
        duck.close()
        return
    reason = spark_available()
    if reason is not None:
        pytest.skip(reason)
    spark = _spark_engine()
    yield spark
    spark.close()


@pytest.fixture
def duckdb_engine() -> Iterator[DuckDBEngine]:
    """DuckDB only, for tests of DuckDB-specific tooling (ingest)."""
    duck = DuckDBEngine()
    yield duck
    duck.close()
