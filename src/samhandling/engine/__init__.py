"""One place that runs queries: DuckDB by default, Spark when a user outgrows one machine."""

from __future__ import annotations

from samhandling.engine.base import Engine, EngineName
from samhandling.engine.duckdb import DuckDBEngine
from samhandling.engine.spark import SparkEngine, spark_available
from samhandling.errors import ConfigError

__all__ = ["DuckDBEngine", "Engine", "EngineName", "SparkEngine", "make_engine", "spark_available"]


def make_engine(name: str = "duckdb") -> Engine:
    """Create an engine by name (``duckdb`` or ``spark``)."""
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine()
    raise ConfigError(f"unknown engine {name!r}: choose duckdb or spark")
