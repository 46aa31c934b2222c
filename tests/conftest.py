"""Shared fixtures: the engines every computation must agree on, and the operational store.

``engine`` is parametrised over DuckDB and Spark. Plain ``pytest`` runs both when Java and pyspark
are present; otherwise the Spark case is skipped with the reason. ``SAMHANDLING_TEST_ENGINES``
(comma-separated) narrows the set, e.g. ``duckdb`` for a quick local run.

Every Spark case runs on a real standalone cluster (a master and one worker started from the
pinned pyspark on 127.0.0.1, :mod:`samhandling.engine.cluster`), started once when the first
Spark test needs it and stopped at the end; ``SAMHANDLING_TEST_SPARK=local`` uses local mode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher

from parity import PARITY, SparkCallTracer, engine_facing_functions
from samhandling.engine import DuckDBEngine, Engine, SparkEngine, spark_available
from samhandling.engine.cluster import StandaloneCluster, free_port, standalone_cluster
from samhandling.store import Store

# Cheap argon2id parameters for speed; test_passwords_are_argon2id checks the defaults.
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PG_BIN = Path("/usr/lib/postgresql/15/bin")

_SPARK: SparkEngine | None = None
_ENGINE_FACING: dict[str, object] | None = None
_CALL_PASSED = pytest.StashKey[bool]()


def _wanted(name: str) -> bool:
    wanted = os.environ.get("SAMHANDLING_TEST_ENGINES", "duckdb,spark")
    return name in {w.strip() for w in wanted.split(",")}


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[StandaloneCluster | None]:
    """The standalone cluster the Spark cases run on (None in local mode), for the test run."""
    reason = spark_available()
    if reason is not None:
        pytest.skip(reason)
    if os.environ.get("SAMHANDLING_TEST_SPARK", "cluster") == "local":
        yield None
        return
    with standalone_cluster(workers=1, cores=1, memory="2g") as cluster:
        try:
            yield cluster
        finally:
            global _SPARK  # noqa: PLW0603 - the shared session goes with its cluster
            if _SPARK is not None:
                _SPARK.stop()
                _SPARK = None


def _new_spark_engine(cluster: StandaloneCluster | None) -> SparkEngine:
    """A Spark engine in a session of its own (on the running context when there is one)."""
    if cluster is None:
        return SparkEngine(master="local[1]", shuffle_partitions=1)
    return SparkEngine(master=cluster.master_url, conf=cluster.driver_conf, shuffle_partitions=1)


def _spark_engine(cluster: StandaloneCluster | None) -> SparkEngine:
    global _SPARK  # noqa: PLW0603 - one SparkSession per test run; starting one costs seconds
    if _SPARK is None:
        _SPARK = _new_spark_engine(cluster)
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
    spark = _spark_engine(request.getfixturevalue("spark_cluster"))
    yield spark
    spark.close()


@pytest.fixture(scope="session")
def engine_factory(request: pytest.FixtureRequest) -> Callable[[str], Engine]:
    """Makes a new engine of a kind for a fixture of wider scope than a test: DuckDB, or a Spark
    session of its own on the shared context (the ``engine`` fixture's teardown does not drop
    its relations). The caller closes it."""

    def make(name: str) -> Engine:
        if not _wanted(name):
            pytest.skip(f"{name} not in SAMHANDLING_TEST_ENGINES")
        if name == "duckdb":
            return DuckDBEngine()
        cluster: StandaloneCluster | None = request.getfixturevalue("spark_cluster")
        _spark_engine(cluster)  # the shared one first: it owns the context the cluster stops
        return _new_spark_engine(cluster)

    return make


@pytest.fixture
def spark_by_name(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``"spark"``, with the process's settings pointing where the shared session runs, for
    jobs that take the engine by name (``make_engine("spark")`` then joins that session)."""
    if not _wanted("spark"):
        pytest.skip("spark not in SAMHANDLING_TEST_ENGINES")
    cluster: StandaloneCluster | None = request.getfixturevalue("spark_cluster")
    _spark_engine(cluster)
    master = "local[1]" if cluster is None else cluster.master_url
    conf = [("spark.sql.shuffle.partitions", "1")]
    if cluster is not None:
        conf += list(cluster.driver_conf)
    monkeypatch.setenv("SAMHANDLING_SPARK_MASTER", master)
    monkeypatch.setenv("SAMHANDLING_SPARK_CONF", ";".join(f"{k}={v}" for k, v in conf))
    yield "spark"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":  # type: ignore[attr-defined]
        item.stash[_CALL_PASSED] = bool(report.passed)  # type: ignore[attr-defined]
    return report


def _runs_on_spark(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("spark") is not None


@pytest.fixture(autouse=True)
def _parity_trace(request: pytest.FixtureRequest) -> Iterator[None]:
    """While a Spark case runs, record the engine-facing functions it calls with a Spark engine;
    after it passes, every function the parity registry (tests/parity.py) names for it must be
    among them. ``$SAMHANDLING_PARITY_RECORD``: append what each case called to that file."""
    if not _runs_on_spark(request):
        yield
        return
    global _ENGINE_FACING  # noqa: PLW0603 - found once per run (imports every module)
    if _ENGINE_FACING is None:
        _ENGINE_FACING = dict(engine_facing_functions())
    tracer = SparkCallTracer(_ENGINE_FACING)  # type: ignore[arg-type]
    with tracer.tracing():
        yield
    if not request.node.stash.get(_CALL_PASSED, False):
        return
    test = request.node.nodeid.split("[")[0]
    record = os.environ.get("SAMHANDLING_PARITY_RECORD")
    if record:
        with Path(record).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"test": test, "called": sorted(tracer.called)}) + "\n")
    missing = {name for name, tests in PARITY.items() if test in tests} - tracer.called
    if missing:
        pytest.fail(
            f"tests/parity.py names {test} for {sorted(missing)}, "
            "but it did not call them with a Spark engine"
        )


@pytest.fixture
def duckdb_engine() -> Iterator[DuckDBEngine]:
    """DuckDB only, for tests of DuckDB-specific tooling (ingest)."""
    duck = DuckDBEngine()
    yield duck
    duck.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL 15 cluster in a temporary folder on a free port; yields the admin URL."""
    if not (PG_BIN / "initdb").is_file():
        pytest.skip(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing)")
    base = Path(tempfile.mkdtemp(prefix="samhandling-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the cluster as the postgres system user.
        shutil.chown(base, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data = base / "data"
    port = free_port()
    initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    subprocess.run(
        [*prefix, *initdb, "-E", "UTF8", "--locale=C", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -h 127.0.0.1 -c fsync=off"
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w"]
    subprocess.run(
        [*prefix, *pg_ctl, "-o", options, "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    server: str = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store of each kind (SQLite, PostgreSQL 15)."""
    with Store(store_url, password_hasher=FAST_HASH) as opened:
        yield opened
