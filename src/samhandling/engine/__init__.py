"""One place that runs queries: DuckDB by default, Spark when a user outgrows one machine.

Jobs never construct an engine themselves: they ask :func:`make_engine` for the one the user
chose (``--motor``, ``$SAMHANDLING_MOTOR``; :mod:`samhandling.engine.settings`).
"""

from __future__ import annotations

from pathlib import Path

from samhandling.engine.base import Engine, EngineName
from samhandling.engine.duckdb import DuckDBEngine
from samhandling.engine.settings import EngineSettings, engine_settings
from samhandling.engine.spark import SparkEngine, spark_available

__all__ = [
    "DuckDBEngine",
    "Engine",
    "EngineName",
    "EngineSettings",
    "SparkEngine",
    "engine_settings",
    "make_engine",
    "spark_available",
]


def make_engine(
    name: str | None = None,
    *,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    one_thread: bool = False,
) -> Engine:
    """The engine a job runs on: ``name`` (``duckdb`` or ``spark``), else the one chosen for
    the process (``$SAMHANDLING_MOTOR``, else DuckDB); Spark where the settings say.

    ``memory_limit`` and ``temp_directory`` bound an embedded DuckDB (it spills beyond the
    limit); ``one_thread``: the DuckDB engine is used from the one thread that made it (the
    portal's workers). A cluster has its own memory settings ($SAMHANDLING_SPARK_CONF).
    """
    settings = engine_settings(name)
    if settings.name == "spark":
        return SparkEngine.from_settings(settings)
    return DuckDBEngine(
        memory_limit=memory_limit, temp_directory=temp_directory, one_thread=one_thread
    )
