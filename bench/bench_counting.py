"""Benchmark of counting the cubes: coded rows against the old GROUP BY per layer combination.

Three ways in one process: the baseline per layer combination (``--skip-baseline`` leaves it
out: it is slow), the coded rows with every layer of the region counted on its own
(``by_key=False``) and the coded rows with the region's layers summed over its keys, less the
patients found under two keys (the default).

Usage: ``python bench/bench_counting.py --warehouse /tmp/cnt/wh --tables SD01,SD02,SD04``, or on
generated data: ``python bench/bench_counting.py --fraction 0.01 --years 2012``.
Registers the contact facts once (``catalogue_setup.catalogue_specs``), then counts each table
with :func:`samhandling.tables.cube.count_cube` (the distinct rows coded as integers, the time
dimension's layers in one column) and with the baseline
:func:`samhandling.tables.cube.count_cube_per_combination` in the same process and on the same
engine, asserts that both give the very same table, and prints both times and their ratio
(the faster of ``--repeat`` runs each; the order alternates so neither profits from a warm cache).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from catalogue_setup import add_data_arguments, catalogue_specs
from samhandling.engine import Engine
from samhandling.tables.catalog import STANDARDISED_TABLE
from samhandling.tables.cube import CubeSpec, count_cube, count_cube_per_combination
from samhandling.tables.standardised import counting_spec

Counter = Callable[[Engine, CubeSpec], pa.Table]


def _layer_by_layer(engine: Engine, spec: CubeSpec) -> pa.Table:
    return count_cube(engine, spec, by_key=False)


def _timed(count: Counter, engine: Engine, spec: CubeSpec) -> tuple[float, pa.Table]:
    started = time.perf_counter()
    cells = count(engine, spec)
    return time.perf_counter() - started, cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--tables", default="SD01,SD02,SD04", help="table ids, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each way (best kept)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's own)")
    parser.add_argument("--skip-baseline", action="store_true", help="leave out the baseline")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-counting-") as scratch:
        started = time.perf_counter()
        engine, _rules, _threshold, specs = catalogue_specs(args, Path(scratch))
        if args.threads:
            engine.set_threads(int(args.threads))
        threads = engine.query("SELECT current_setting('threads') AS t")["t"][0].as_py()
        contacts = engine.query("SELECT COUNT(*) AS n FROM contact_facts")["n"][0].as_py()
        print(
            f"facts: {contacts:,} contacts in {time.perf_counter() - started:.1f} s; "
            f"DuckDB threads {threads}",
            flush=True,
        )
        by_id = {s.id: s for s in specs}
        head = f"{'table':6} {'cells':>9} {'per combination':>16} {'coded':>14} {'by key':>14}"
        print(f"{head} {'coded/by key':>13}")
        for table_id in args.tables.split(","):
            spec = by_id[table_id.strip()]
            if spec.id == STANDARDISED_TABLE:
                spec = counting_spec(spec)
            times: dict[str, list[float]] = {"base": [], "coded": [], "key": []}
            for run in range(args.repeat):
                ways: list[tuple[Counter, str]] = [
                    (count_cube_per_combination, "base"),
                    (_layer_by_layer, "coded"),
                    (count_cube, "key"),
                ]
                if args.skip_baseline:
                    ways = ways[1:]
                if run % 2:
                    ways.reverse()
                results = []
                for count, name in ways:
                    seconds, cells = _timed(count, engine, spec)
                    times[name].append(seconds)
                    results.append(cells)
                assert all(r.equals(results[0]) for r in results), f"{spec.id}: counts differ"
            best = {k: min(v) if v else float("nan") for k, v in times.items()}
            print(
                f"{spec.id:6} {results[0].num_rows:9,} {best['base']:14.1f} s "
                f"{best['coded']:12.1f} s {best['key']:12.1f} s "
                f"{best['coded'] / best['key']:12.1f}x",
                flush=True,
            )
        engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
