"""A Spark standalone cluster on this machine: one master and its workers, from the pinned pyspark,
and a Spark Connect server in front of it.

For trying the cluster path without a cluster, for the tests (which run every Spark case through
one, and the Spark Connect cases through a server on it) and for the bench. The processes are the
real ones (``org.apache.spark.deploy.master.Master`` and ``…worker.Worker``, started with
pyspark's ``spark-class``; ``…connect.service.SparkConnectServer`` with its ``spark-submit``, as
``sbin/start-connect-server.sh`` does), listening on 127.0.0.1 only; a real cluster is started
the same way on its machines (docs/architecture.md).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from samhandling.errors import ConfigError

__all__ = [
    "ConnectServer",
    "StandaloneCluster",
    "connect_server",
    "free_port",
    "spark_home",
    "standalone_cluster",
]

HOST = "127.0.0.1"


def spark_home() -> Path:
    """Where the pinned pyspark keeps Spark (its ``bin/spark-class`` and ``jars``)."""
    try:
        import pyspark
    except ImportError as exc:
        raise ConfigError("pyspark is not installed (pip install 'samhandling[spark]')") from exc
    return Path(pyspark.__file__).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class StandaloneCluster:
    """A running cluster: its master URL and web UI, the processes and their logs."""

    master_url: str
    ui_url: str
    logs: Path
    processes: list[subprocess.Popen[bytes]]

    @property
    def driver_conf(self) -> tuple[tuple[str, str], ...]:
        """Settings for a driver on this machine (the executors call it back on 127.0.0.1)."""
        return (("spark.driver.host", HOST), ("spark.driver.bindAddress", HOST))

    def alive_workers(self) -> int:
        """Workers the master reports ALIVE (its JSON status page)."""
        try:
            with urllib.request.urlopen(f"{self.ui_url}/json/", timeout=2) as answer:
                status = json.load(answer)
        except OSError:
            return 0
        return sum(1 for w in status.get("workers", []) if w.get("state") == "ALIVE")

    def stop(self) -> None:
        """Stop the workers, then the master (terminate, then kill after 10 s)."""
        _stop(self.processes)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Terminate in reverse order of start, then kill what is still running after 10 s."""
    for process in reversed(processes):
        process.terminate()
    for process in reversed(processes):
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _log_tails(logs: Path) -> str:
    tails = []
    for log in sorted(logs.glob("*.log")):
        tails.append(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        )
    return "\n".join(tails)


def _java() -> None:
    if shutil.which("java") is None:
        raise ConfigError(
            "Spark-klyngen trenger Java 17 eller nyere (Debian: openjdk-17-jre-headless)"
        )


def _spark_env(home: Path, logs: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOG_DIR": str(logs),
        "SPARK_WORKER_DIR": str(logs / "work"),
        "SPARK_NO_DAEMONIZE": "1",
    }


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)


def _wait(cluster: StandaloneCluster, workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.alive_workers() >= workers:
            return
        if any(p.poll() is not None for p in cluster.processes):
            break
        time.sleep(0.5)
    cluster.stop()
    raise ConfigError(
        f"Spark-klyngen kom ikke opp med {workers} arbeider(e) på {timeout:.0f} s:\n"
        + _log_tails(cluster.logs)
    )


@contextmanager
def standalone_cluster(
    *, workers: int = 1, cores: int = 1, memory: str = "1g", timeout: float = 90.0
) -> Iterator[StandaloneCluster]:
    """Start a master and ``workers`` workers (``cores`` and ``memory`` each) on 127.0.0.1 on
    free ports; yield when every worker has registered; stop them all afterwards."""
    _java()
    home = spark_home()
    launcher = str(home / "bin" / "spark-class")
    logs = Path(tempfile.mkdtemp(prefix="samhandling-spark-"))
    env = _spark_env(home, logs)
    port, ui = free_port(), free_port()
    master_url = f"spark://{HOST}:{port}"
    master = [launcher, "org.apache.spark.deploy.master.Master"]
    processes = [
        _start(
            [*master, "--host", HOST, "--port", str(port), "--webui-port", str(ui)],
            logs / "master.log",
            env,
        )
    ]
    cluster = StandaloneCluster(master_url, f"http://{HOST}:{ui}", logs, processes)
    try:
        for n in range(workers):
            worker = [launcher, "org.apache.spark.deploy.worker.Worker", "--host", HOST]
            options = ["--cores", str(cores), "--memory", memory, "--webui-port", str(free_port())]
            processes.append(
                _start([*worker, *options, master_url], logs / f"worker-{n + 1}.log", env)
            )
        _wait(cluster, workers, timeout)
        yield cluster
    finally:
        cluster.stop()
        with suppress(OSError):
            shutil.rmtree(logs)


@dataclass
class ConnectServer:
    """A running Spark Connect server: the address clients use (``sc://…``), its log."""

    remote: str
    master: str
    logs: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop the server (its application on the master ends with it)."""
        _stop([self.process])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


@contextmanager
def connect_server(
    master: str,
    *,
    conf: tuple[tuple[str, str], ...] = (),
    timeout: float = 120.0,
) -> Iterator[ConnectServer]:
    """Start a Spark Connect server whose application runs on ``master`` (a standalone
    cluster's ``spark://…``, or ``local[n]``), on 127.0.0.1 on a free port; yield when it
    accepts connections; stop it afterwards. ``conf`` adds settings of its application
    (``spark.cores.max``, ``spark.executor.memory``, …)."""
    _java()
    home = spark_home()
    logs = Path(tempfile.mkdtemp(prefix="samhandling-connect-"))
    port = free_port()
    settings = (
        ("spark.connect.grpc.binding.address", HOST),
        ("spark.connect.grpc.binding.port", str(port)),
        ("spark.driver.host", HOST),
        ("spark.driver.bindAddress", HOST),
        ("spark.ui.enabled", "false"),
        *conf,
    )
    args = [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--name",
        "Spark Connect server",
        "--master",
        master,
    ]
    for key, value in settings:
        args += ["--conf", f"{key}={value}"]
    process = _start(args, logs / "connect.log", _spark_env(home, logs))
    server = ConnectServer(f"sc://{HOST}:{port}", master, logs, process)
    try:
        deadline = time.monotonic() + timeout
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ConfigError(
                    f"Spark Connect-tjeneren kom ikke opp på {timeout:.0f} s:\n" + _log_tails(logs)
                )
            time.sleep(0.5)
        yield server
    finally:
        server.stop()
        with suppress(OSError):
            shutil.rmtree(logs)
