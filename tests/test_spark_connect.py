"""The command line as a Spark Connect client of a server whose application runs on the test
cluster (``samhandling --motor spark …`` with ``$SAMHANDLING_SPARK_REMOTE``), against DuckDB.

One synthetic year (Helse Nord, a 0.2 % sample: about 2 700 episodes with events, municipal care
and population) is made with ``samhandling synth`` and ingested by each engine; every job's file
(co-financing per episode, the pathway patterns) must be byte for byte
what DuckDB writes, and the warehouse that Spark ingested must hold what DuckDB's holds. The
catalogue's counting runs through the server too (SD09: the contact facts, counted and
protected, and the standardised rates). ``SAMHANDLING_TEST_SPARK=connect`` runs every other Spark
case through the same server.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from samhandling.cli import app
from samhandling.engine import DuckDBEngine, SparkEngine, make_engine
from samhandling.engine.cluster import StandaloneCluster
from samhandling.indicators.facts import icd10_block_table
from samhandling.rules import load_rules
from samhandling.tables.catalog import build_catalog
from samhandling.warehouse import Warehouse
from test_ingest_engines import _outcome

if TYPE_CHECKING:
    from conftest import SparkTarget

pytestmark = pytest.mark.spark

YEAR = "2012"
# Each job as a user runs it, writing CSV (the option --ut is added per engine).
# Co-financing per episode and the pathway patterns (hospital stays, events, municipal care):
# the other views run the same functions on the cluster in their parity tests, and each job
# through the server costs tens of seconds on the test machine.
JOBS: dict[str, list[str]] = {
    "medfinansiering-episoder": ["cofinancing", "--år", YEAR, "--visning", "episoder"],
    "forlop-monstre": ["forlop", "monstre", "--år", YEAR],
}


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("connect") / "synth"
    result = CliRunner().invoke(
        app,
        [
            "synth",
            "--out",
            str(out),
            "--years",
            YEAR,
            "--fraction",
            "0.002",
            "--helseregion",
            "nord",
            "--seed",
            "7",
        ],
    )
    assert result.exit_code == 0, result.output
    return out / YEAR


def _run(args: list[str], *, code: int = 0) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, (args, result.output)
    return result.output


def test_the_server_runs_its_application_on_the_cluster(
    spark_connect: SparkTarget, spark_cluster: StandaloneCluster | None
) -> None:
    engine = spark_connect.engine()
    try:
        assert engine.master == spark_connect.remote
        assert engine.master.startswith("sc://127.0.0.1:")
        assert engine.query("SELECT 40 + 2 AS answer").to_pylist() == [{"answer": 42}]
    finally:
        engine.stop()  # ends this client's session; the server goes on
    if spark_cluster is not None:
        with urllib.request.urlopen(f"{spark_cluster.ui_url}/json/", timeout=5) as answer:
            status = json.load(answer)
        assert "Spark Connect server" in {a["name"] for a in status["activeapps"]}


def test_the_command_line_runs_every_job_through_spark_connect(
    tmp_path: Path,
    delivery: Path,
    spark_connect: SparkTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in spark_connect.environment().items():
        monkeypatch.setenv(key, value)
    # `samhandling --motor` sets $SAMHANDLING_MOTOR for the process: undone after the test.
    monkeypatch.setenv("SAMHANDLING_MOTOR", "duckdb")
    written: dict[str, dict[str, bytes]] = {}
    for motor in ("duckdb", "spark"):
        warehouse = tmp_path / motor
        report = _run(
            [
                "--motor",
                motor,
                "ingest",
                str(delivery),
                "--warehouse",
                str(warehouse),
                "--as-of",
                "2013-06-30",
            ],
            code=1,  # rows were rejected (the batch still lands)
        )
        # The generator lets one long-term stay end in 2021, after the extract date.
        assert "1 rader ble avvist" in report
        written[motor] = {}
        for name, job in JOBS.items():
            out = tmp_path / f"{motor}-{name}.csv"
            _run(["--motor", motor, *job, "--warehouse", str(warehouse), "--ut", str(out)])
            written[motor][name] = out.read_bytes()
    got, expected = (
        _outcome(Warehouse(tmp_path / "spark")),
        _outcome(Warehouse(tmp_path / "duckdb")),
    )
    assert got["ledger"] == expected["ledger"]
    assert got["files"] == expected["files"]
    for name in JOBS:
        assert written["spark"][name] == written["duckdb"][name], name
        assert written["duckdb"][name].count(b"\n") > 1, name  # a header and rows


def test_the_catalogue_counts_the_same_through_spark_connect(
    tmp_path: Path, delivery: Path, spark_connect: SparkTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in spark_connect.environment().items():
        monkeypatch.setenv(key, value)
    warehouse = Warehouse(tmp_path / "warehouse")
    shutil.copytree(delivery, tmp_path / "in")
    warehouse.ingest(tmp_path / "in", as_of=date(2013, 6, 30))
    rules, blocks, only = load_rules(), icd10_block_table(), ["SD09"]
    spark = make_engine("spark")
    assert isinstance(spark, SparkEngine) and spark.master == spark_connect.remote
    try:
        warehouse.register(spark)
        got = build_catalog(spark, rules, borders=2024, blocks=blocks, only=only, built="t")
    finally:
        spark.stop()
    with DuckDBEngine() as duck:
        warehouse.register(duck)
        expected = build_catalog(duck, rules, borders=2024, blocks=blocks, only=only, built="t")
    assert sorted(got.cubes) == sorted(expected.cubes) == only
    for table_id, cube in expected.cubes.items():
        order = [(d.id, "ascending") for d in cube.spec.dimensions]
        assert got.cube(table_id).cells.sort_by(order).equals(cube.cells.sort_by(order)), table_id
        assert got.cube(table_id).population == cube.population, table_id
