"""A Spark standalone cluster on this machine: one master and its workers, from the pinned pyspark.

For trying the cluster path without a cluster, for the tests (which run every Spark case through
one) and for the bench. The processes are the real ones (``org.apache.spark.deploy.master.Master``
and ``…worker.Worker``, started with pyspark's ``spark-class``), listening on 127.0.0.1 only; a
real cluster is started the same way on its machines (docs/architecture.md).
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

__all__ = ["StandaloneCluster", "free_port", "spark_home", "standalone_cluster"]

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
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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
    tails = []
    for log in sorted(cluster.logs.glob("*.log")):
        tails.append(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        )
    raise ConfigError(
        f"Spark-klyngen kom ikke opp med {workers} arbeider(e) på {timeout:.0f} s:\n"
        + "\n".join(tails)
    )


@contextmanager
def standalone_cluster(
    *, workers: int = 1, cores: int = 1, memory: str = "1g", timeout: float = 90.0
) -> Iterator[StandaloneCluster]:
    """Start a master and ``workers`` workers (``cores`` and ``memory`` each) on 127.0.0.1 on
    free ports; yield when every worker has registered; stop them all afterwards."""
    if shutil.which("java") is None:
        raise ConfigError(
            "Spark-klyngen trenger Java 17 eller nyere (Debian: openjdk-17-jre-headless)"
        )
    home = spark_home()
    launcher = str(home / "bin" / "spark-class")
    logs = Path(tempfile.mkdtemp(prefix="samhandling-spark-"))
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOG_DIR": str(logs),
        "SPARK_WORKER_DIR": str(logs / "work"),
        "SPARK_NO_DAEMONIZE": "1",
    }
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
