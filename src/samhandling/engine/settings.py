"""Which engine a job runs on, and where Spark is: the one place that chooses.

Order for the engine: ``--motor`` on the command line (``samhandling --motor spark …``, or a
command's own ``--motor``), else ``$SAMHANDLING_MOTOR``, else ``duckdb``. Spark runs where
``$SAMHANDLING_SPARK_MASTER`` says (``local[2]`` by default; ``spark://host:7077`` for a
standalone cluster, ``yarn``, ``k8s://…``), or through Spark Connect when
``$SAMHANDLING_SPARK_REMOTE`` is set (``sc://host:15002``). ``$SAMHANDLING_SPARK_CONF`` adds
Spark settings, ``key=value`` pairs separated by ``;`` (for example
``spark.executor.memory=8g;spark.cores.max=32``). docs/architecture.md has copy-paste examples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from samhandling.engine.base import EngineName
from samhandling.errors import ConfigError

__all__ = [
    "ENGINES",
    "ENV_ENGINE",
    "ENV_SPARK_CONF",
    "ENV_SPARK_MASTER",
    "ENV_SPARK_REMOTE",
    "EngineSettings",
    "engine_settings",
]

ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")
ENV_ENGINE = "SAMHANDLING_MOTOR"
ENV_SPARK_MASTER = "SAMHANDLING_SPARK_MASTER"
ENV_SPARK_REMOTE = "SAMHANDLING_SPARK_REMOTE"
ENV_SPARK_CONF = "SAMHANDLING_SPARK_CONF"
DEFAULT_SPARK_MASTER = "local[2]"


@dataclass(frozen=True)
class EngineSettings:
    """The engine by name and, for Spark, where it runs and with which settings."""

    name: EngineName = "duckdb"
    spark_master: str = DEFAULT_SPARK_MASTER
    spark_remote: str | None = None
    spark_conf: tuple[tuple[str, str], ...] = field(default=())

    @property
    def where(self) -> str:
        """Where the engine runs, in words for the user (Norwegian)."""
        if self.name == "duckdb":
            return "DuckDB på denne maskinen"
        if self.spark_remote:
            return f"Spark Connect {self.spark_remote}"
        return f"Spark {self.spark_master}"


def engine_name(value: str | None) -> EngineName:
    """A checked engine name (``duckdb`` or ``spark``); a clear error otherwise."""
    name = (value or "duckdb").strip().lower()
    for known in ENGINES:
        if name == known:
            return known
    raise ConfigError(f"Ukjent motor «{value}»: velg duckdb eller spark")


def _conf(text: str) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for item in text.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"{ENV_SPARK_CONF} må være nøkkel=verdi-par skilt med ';', ikke «{item.strip()}»"
            )
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def engine_settings(name: str | None = None) -> EngineSettings:
    """The settings in force: ``name`` if given, the rest (and the name otherwise) from the
    environment (see the module's documentation)."""
    remote = os.environ.get(ENV_SPARK_REMOTE, "").strip() or None
    if remote is not None and not remote.startswith("sc://"):
        raise ConfigError(f"{ENV_SPARK_REMOTE} må være en Spark Connect-adresse sc://…")
    return EngineSettings(
        name=engine_name(name if name is not None else os.environ.get(ENV_ENGINE)),
        spark_master=os.environ.get(ENV_SPARK_MASTER, "").strip() or DEFAULT_SPARK_MASTER,
        spark_remote=remote,
        spark_conf=_conf(os.environ.get(ENV_SPARK_CONF, "")),
    )
