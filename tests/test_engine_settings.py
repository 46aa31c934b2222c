"""The one place that chooses the engine: names, environment, Spark settings, the root option."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from samhandling.cli import app
from samhandling.engine import DuckDBEngine, make_engine
from samhandling.engine.settings import (
    ENV_ENGINE,
    ENV_SPARK_CONF,
    ENV_SPARK_MASTER,
    ENV_SPARK_REMOTE,
    engine_settings,
)
from samhandling.errors import ConfigError


def test_duckdb_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_ENGINE, ENV_SPARK_MASTER, ENV_SPARK_REMOTE, ENV_SPARK_CONF):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    settings = engine_settings()
    assert (settings.name, settings.spark_master, settings.spark_remote) == (
        "duckdb",
        "local[2]",
        None,
    )
    with make_engine() as engine:
        assert isinstance(engine, DuckDBEngine)


def test_environment_then_explicit_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ENGINE, "Spark")
    monkeypatch.setenv(ENV_SPARK_MASTER, "spark://host:7077")
    monkeypatch.setenv(ENV_SPARK_CONF, "spark.executor.memory=8g; spark.cores.max=32;")
    settings = engine_settings()
    assert settings.name == "spark"
    assert settings.where == "Spark spark://host:7077"
    assert settings.spark_conf == (("spark.executor.memory", "8g"), ("spark.cores.max", "32"))
    assert engine_settings("duckdb").name == "duckdb"  # --motor wins over the environment


def test_bad_settings_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="Ukjent motor «postgres»"):
        engine_settings("postgres")
    monkeypatch.setenv(ENV_SPARK_CONF, "spark.executor.memory")
    with pytest.raises(ConfigError, match="nøkkel=verdi"):
        engine_settings("spark")
    monkeypatch.delenv(ENV_SPARK_CONF)
    monkeypatch.setenv(ENV_SPARK_REMOTE, "http://host:15002")
    with pytest.raises(ConfigError, match="sc://"):
        engine_settings("spark")
    monkeypatch.setenv(ENV_SPARK_REMOTE, "sc://host:15002")
    assert engine_settings("spark").where == "Spark Connect sc://host:15002"


def test_the_root_option_chooses_for_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # setenv records the variable's state before the test, so the CLI's choice is undone after
    # (delenv of an absent variable records nothing, and the rest of the run would use Spark).
    monkeypatch.setenv(ENV_ENGINE, "duckdb")
    result = CliRunner().invoke(app, ["--motor", "spark", "version"])
    assert result.exit_code == 0, result.output
    assert os.environ[ENV_ENGINE] == "spark"
    bad = CliRunner().invoke(app, ["--motor", "oracle", "version"])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, ConfigError)


def test_no_choice_leaks_out_of_the_test_above() -> None:
    assert os.environ.get(ENV_ENGINE) in (None, "", "duckdb")
