"""Shared fixtures: the engines every computation must agree on, and the operational store.

``engine`` is parametrised over DuckDB and Spark. Plain ``pytest`` runs both when Java and pyspark
are present; otherwise the Spark case is skipped with the reason. ``SAMHANDLING_TEST_ENGINES``
(comma-separated) narrows the set, e.g. ``duckdb`` for a quick local run.

Every Spark case runs on a real standalone cluster (a master and one worker started from the
pinned pyspark on 127.0.0.1, :mod:`samhandling.engine.cluster`), started once when the first
Spark test needs it and stopped at the end. ``SAMHANDLING_TEST_SPARK`` chooses otherwise:
``local`` runs them in local mode, ``connect`` through a Spark Connect server on the cluster
(every Spark case as a Spark Connect client). ``spark_connect`` gives the Connect cases of
test_spark_connect.py a server whatever the mode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher

from parity import PARITY, SparkCallTracer, engine_facing_functions
from samhandling.engine import DuckDBEngine, Engine, SparkEngine, spark_available
from samhandling.engine.cluster import (
    StandaloneCluster,
    connect_server,
    free_port,
    standalone_cluster,
)
from samhandling.store import Store

# Cheap argon2id parameters for speed; test_passwords_are_argon2id checks the defaults.
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Each application on the test cluster (the test process's session, the Connect server's) takes
# one of the worker's two cores and 1 GiB, so that both run at once.
APP_CONF = (("spark.cores.max", "1"), ("spark.executor.memory", "1g"))
SPARK_MODES = ("cluster", "local", "connect")

_SPARK: SparkEngine | None = None
_ENGINE_FACING: dict[str, object] | None = None
_CALL_PASSED = pytest.StashKey[bool]()


def _wanted(name: str) -> bool:
    wanted = os.environ.get("SAMHANDLING_TEST_ENGINES", "duckdb,spark")
    return name in {w.strip() for w in wanted.split(",")}


def _spark_mode() -> str:
    mode = os.environ.get("SAMHANDLING_TEST_SPARK", "cluster")
    if mode not in SPARK_MODES:
        raise pytest.UsageError(f"SAMHANDLING_TEST_SPARK must be one of {SPARK_MODES}, not {mode}")
    return mode


@dataclass(frozen=True)
class SparkTarget:
    """Where the Spark cases run: a master (local mode or the cluster) or a Connect server."""

    master: str
    conf: tuple[tuple[str, str], ...] = ()
    remote: str | None = None

    def engine(self) -> SparkEngine:
        """A Spark engine in a session of its own (on the running context, or the server)."""
        if self.remote is not None:
            return SparkEngine(remote=self.remote, shuffle_partitions=1)
        return SparkEngine(master=self.master, conf=self.conf, shuffle_partitions=1)

    def environment(self) -> dict[str, str]:
        """The settings that make ``make_engine("spark")`` run here (engine/settings.py)."""
        conf = [("spark.sql.shuffle.partitions", "1"), *self.conf]
        env = {
            "SAMHANDLING_SPARK_MASTER": self.master,
            "SAMHANDLING_SPARK_CONF": ";".join(f"{k}={v}" for k, v in conf),
        }
        if self.remote is not None:
            env["SAMHANDLING_SPARK_REMOTE"] = self.remote
        return env


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[StandaloneCluster | None]:
    """The standalone cluster the Spark cases run on (None in local mode), for the test run."""
    reason = spark_available()
    if reason is not None:
        pytest.skip(reason)
    if _spark_mode() == "local":
        yield None
        return
    with standalone_cluster(workers=1, cores=2, memory="2g") as cluster:
        try:
            yield cluster
        finally:
            global _SPARK  # noqa: PLW0603 - the shared session goes with its cluster
            if _SPARK is not None:
                _SPARK.stop()
                _SPARK = None


def _close_connect_clients() -> None:
    """Close every Spark Connect client of this process (the sessions jobs made through the
    command line) before their server stops: an open client's exit hook calls the server, and
    with the server gone its retries hold the process for minutes after the last test."""
    import gc

    from pyspark.sql.connect.client.core import SparkConnectClient

    for obj in gc.get_objects():
        if isinstance(obj, SparkConnectClient) and not obj.is_closed:
            obj.close()


@pytest.fixture(scope="session")
def spark_connect(spark_cluster: StandaloneCluster | None) -> Iterator[SparkTarget]:
    """A Spark Connect server whose application runs on the test cluster (local mode without
    one), for the run; the target of Connect clients."""
    reason = spark_available(remote=True)
    if reason is not None:
        pytest.skip(reason)
    master = "local[1]" if spark_cluster is None else spark_cluster.master_url
    conf = (("spark.sql.shuffle.partitions", "1"), *(APP_CONF if spark_cluster else ()))
    with connect_server(master, conf=conf) as server:
        try:
            yield SparkTarget(master, remote=server.remote)
        finally:
            global _SPARK  # noqa: PLW0603 - a Connect session goes with its server
            if _SPARK is not None and _SPARK.master.startswith("sc://"):
                _SPARK.stop()
                _SPARK = None
            _close_connect_clients()


@pytest.fixture(scope="session")
def spark_target(request: pytest.FixtureRequest) -> SparkTarget:
    """Where this run's Spark cases go (``SAMHANDLING_TEST_SPARK``)."""
    cluster: StandaloneCluster | None = request.getfixturevalue("spark_cluster")
    if _spark_mode() == "connect":
        target: SparkTarget = request.getfixturevalue("spark_connect")
        return target
    if cluster is None:
        return SparkTarget("local[1]")
    return SparkTarget(cluster.master_url, conf=(*cluster.driver_conf, *APP_CONF))


def _spark_engine(target: SparkTarget) -> SparkEngine:
    global _SPARK  # noqa: PLW0603 - one SparkSession per test run; starting one costs seconds
    if _SPARK is None:
        _SPARK = target.engine()
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
    spark = _spark_engine(request.getfixturevalue("spark_target"))
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
        target: SparkTarget = request.getfixturevalue("spark_target")
        _spark_engine(target)  # the shared one first: it owns the context the cluster stops
        return target.engine()

    return make


@pytest.fixture
def spark_by_name(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``"spark"``, with the process's settings pointing where the shared session runs, for
    jobs that take the engine by name (``make_engine("spark")`` then joins that session)."""
    if not _wanted("spark"):
        pytest.skip("spark not in SAMHANDLING_TEST_ENGINES")
    target: SparkTarget = request.getfixturevalue("spark_target")
    _spark_engine(target)
    for key, value in target.environment().items():
        monkeypatch.setenv(key, value)
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
