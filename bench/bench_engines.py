"""Benchmark: the same jobs on DuckDB, Spark in local mode, a standalone cluster and Spark Connect.

    python bench/bench_engines.py --fraction 0.1 --year 2012          # generates the year first
    python bench/bench_engines.py --delivery /tmp/nat/del/2012 --year 2012
    python bench/bench_engines.py ... --engines duckdb,local --parts ingest,instruments

Parts: ``ingest`` (validate and land the delivery into a warehouse of that engine's own),
``instruments`` (the co-financing statement month × municipality and the discharge-ready
invoices of the year), ``pathways`` (build the pathways and the protected pathway report) and
``counting`` (the contact facts and every catalogue table counted, before protection, which runs
in the driver on every engine alike). Engines: ``duckdb`` (the embedded default), ``local``
(Spark ``local[2]``), ``cluster`` (a standalone master and one worker with two cores, started
here on 127.0.0.1 from the pinned pyspark) and ``connect`` (the jobs as clients of a Spark Connect
server whose application runs on that cluster; the server is started after the other engines'
parts, so that its executor does not hold the worker's cores while they run, and its memory is
counted with the job's).

Each (engine, part) runs in a child process; the parent samples the resident memory of every
process under it (the child, Spark's JVM, and the cluster's master, worker and executor) every
0.2 s and reports the peak of their sum. Each part reduces its result to a digest (rows sorted,
hashed), and the digests of every engine must agree: the script fails otherwise. Times are the
job's own (after the engine is up); the Spark session's start is printed apart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

PARTS = ("ingest", "instruments", "pathways", "counting")
ENGINES = ("duckdb", "local", "cluster", "connect")


def _digest_table(table: pa.Table) -> str:
    rows = sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def _digest_files(folder: Path) -> str:
    """Landed files of a warehouse, order-independent: rows and a sum of row hashes per file."""
    parts = []
    with duckdb.connect() as con:
        for path in sorted(folder.rglob("deliveries/*/*.parquet")):
            n, h = con.execute(
                f"SELECT COUNT(*), SUM(hash(t)) FROM read_parquet('{path}') t"
            ).fetchall()[0]
            parts.append(f"{path.name}:{n}:{h}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _child(args: argparse.Namespace) -> dict[str, Any]:
    from samhandling.engine import make_engine
    from samhandling.rules import load_rules
    from samhandling.warehouse import Warehouse

    started = time.perf_counter()
    warehouse = Warehouse(args.warehouse)
    if args.part == "ingest":
        # The engine is made inside ingest: time it all, then the session start apart below.
        report = warehouse.ingest(args.delivery, as_of=date(args.year + 2, 6, 30))
        seconds = time.perf_counter() - started
        digest = {
            "rows": {k: [c.rows_in, c.landed, c.quarantined] for k, c in report.rows.items()},
            "reasons": report.reasons,
            "files": _digest_files(args.warehouse),
        }
        return {"seconds": seconds, "start": 0.0, "digest": digest}
    engine = make_engine()
    engine.query("SELECT 1 AS one")
    up = time.perf_counter() - started
    begun = time.perf_counter()
    rules = load_rules()
    warehouse.register(engine)
    out: dict[str, str] = {}
    if args.part == "instruments":
        from samhandling.instruments.cofinancing import cofinancing_statement
        from samhandling.instruments.discharge_ready import discharge_ready_invoices

        out["cofinancing"] = _digest_table(cofinancing_statement(engine, rules, args.year))
        invoices = discharge_ready_invoices(engine, rules, year=args.year)
        out["discharge_ready"] = _digest_table(invoices)
    elif args.part == "pathways":
        from samhandling.pathways import build_pathways, pathway_definition, pathway_report

        build_pathways(engine, pathway_definition(rules, date(args.year, 12, 31)))
        report = pathway_report(engine, rules, args.year, built=True, on=date(args.year, 12, 31))
        for name, counts in (("patterns", report.patterns), ("readmissions", report.readmissions)):
            cells = list(
                zip(counts.keys, counts.values, counts.patients, counts.reasons, strict=True)
            )
            out[name] = hashlib.sha256(repr(sorted(cells, key=repr)).encode()).hexdigest()[:16]
    else:
        from catalogue_setup import contact_facts_and_specs
        from samhandling.indicators.payments import (
            PAYMENT_FACTS,
            payment_facts_of_years,
            prepare_payment_facts,
        )
        from samhandling.indicators.readmission import (
            READMISSION_FACTS,
            register_readmission_facts,
        )
        from samhandling.tables.catalog import STANDARDISED_TABLE
        from samhandling.tables.cube import count_cube
        from samhandling.tables.standardised import counting_spec

        specs = contact_facts_and_specs(engine, rules, args.borders)
        facts = {s.facts for s in specs}
        if PAYMENT_FACTS in facts:
            prepare_payment_facts(engine, rules, borders=args.borders)
            payment_facts_of_years(engine, rules)
        if READMISSION_FACTS in facts:
            register_readmission_facts(engine, rules)
        for spec in specs:
            counting = counting_spec(spec) if spec.id == STANDARDISED_TABLE else spec
            out[spec.id] = _digest_table(count_cube(engine, counting))
    return {"seconds": time.perf_counter() - begun, "start": up, "digest": out}


def _descendants_rss(root: int) -> int:
    """Resident bytes of ``root`` and every process under it (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with Path(f"/proc/{entry.name}/stat").open(encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def _run_child(cmd: list[str], env: dict[str, str]) -> tuple[dict[str, Any], int]:
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _descendants_rss(os.getpid()))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    finally:
        done.set()
        sampler.join()
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"child failed: {' '.join(cmd)}")
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delivery", type=Path, help="a delivery folder (else --fraction)")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--year", type=int, default=2012)
    parser.add_argument("--borders", type=int, default=2024)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--spark-memory", default="8g", help="driver (local) / executor memory")
    parser.add_argument("--child", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.part = args.child
        print(json.dumps(_child(args), default=str))
        return 0

    from samhandling.engine.cluster import connect_server, standalone_cluster

    # Connect last: its server's application keeps the worker's cores until it stops.
    engines = sorted((e.strip() for e in args.engines.split(",")), key=lambda e: e == "connect")
    parts = [p.strip() for p in args.parts.split(",")]
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-engines-")))
        delivery = args.delivery
        if delivery is None:
            from samhandling.synth import generate

            delivery = scratch / "delivery"
            generate(delivery, [args.year], args.fraction, 42, "parquet", progress=False)
            found = sorted(delivery.rglob("episodes.parquet"))
            delivery = found[0].parent
        cluster = None
        if "cluster" in engines or "connect" in engines:
            cluster = stack.enter_context(
                standalone_cluster(workers=1, cores=2, memory=args.spark_memory)
            )
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for engine in engines:
            env = dict(os.environ)
            if engine == "duckdb":
                env["SAMHANDLING_MOTOR"] = "duckdb"
            elif engine == "connect":
                assert cluster is not None
                server = stack.enter_context(
                    connect_server(
                        cluster.master_url,
                        conf=(
                            ("spark.executor.memory", args.spark_memory),
                            ("spark.sql.shuffle.partitions", "8"),
                        ),
                    )
                )
                env["SAMHANDLING_MOTOR"] = "spark"
                env["SAMHANDLING_SPARK_REMOTE"] = server.remote
                env["SAMHANDLING_SPARK_CONF"] = "spark.sql.shuffle.partitions=8"
            else:
                env["SAMHANDLING_MOTOR"] = "spark"
                conf = [("spark.sql.shuffle.partitions", "8")]
                if engine == "local":
                    env["SAMHANDLING_SPARK_MASTER"] = "local[2]"
                    conf.append(("spark.driver.memory", args.spark_memory))
                else:
                    assert cluster is not None
                    env["SAMHANDLING_SPARK_MASTER"] = cluster.master_url
                    conf += [*cluster.driver_conf, ("spark.executor.memory", args.spark_memory)]
                env["SAMHANDLING_SPARK_CONF"] = ";".join(f"{k}={v}" for k, v in conf)
            warehouse = scratch / f"wh-{engine}"
            if "ingest" not in parts:
                # The other parts need a warehouse: ingest it once on DuckDB, untimed.
                warehouse = scratch / "wh-shared"
                if not warehouse.exists():
                    from samhandling.warehouse import Warehouse

                    Warehouse(warehouse).ingest(delivery, as_of=date(args.year + 2, 6, 30))
            for part in parts:
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    part,
                    "--warehouse",
                    str(warehouse),
                    "--delivery",
                    str(delivery),
                    "--year",
                    str(args.year),
                    "--borders",
                    str(args.borders),
                ]
                answer, peak = _run_child(cmd, env)
                answer["peak_mib"] = peak / 2**20
                results.setdefault(part, {})[engine] = answer
                print(
                    f"{part:12} {engine:8} {answer['seconds']:9.1f} s  (engine up "
                    f"{answer['start']:5.1f} s)  peak {answer['peak_mib']:8,.0f} MiB",
                    flush=True,
                )
    print()
    print(f"{'part':12} " + " ".join(f"{e:>16}" for e in engines) + "   identical")
    ok = True
    for part, by_engine in results.items():
        base = by_engine[engines[0]]
        same = all(r["digest"] == base["digest"] for r in by_engine.values())
        ok = ok and same
        cells = " ".join(
            f"{r['seconds'] / base['seconds']:>7.2f}× {r['peak_mib'] / base['peak_mib']:>6.2f}×"
            for r in by_engine.values()
        )
        print(f"{part:12} {cells}   {'yes' if same else 'NO'}")
    print("(time × and peak memory × against the first engine)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
