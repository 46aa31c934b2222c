"""Benchmark: the linked elimination of all tables, compiled against the Python baseline.

Usage: ``python bench/bench_elimination.py --warehouse DIR`` (an ingested warehouse: the demo's),
or ``--fraction 0.05 --years 2012`` (generated). Counts every catalogue cube once (as
``samhandling table-build`` does), then runs :func:`samhandling.tables.catalog.linked_elimination`
in this process three times on the same counted cubes: with the elimination in plain Python
(``bench/gauss_python.py``, the implementation before it was compiled), compiled on one thread,
and compiled on every core (one year a thread). Prints the times, the ratios and whether the
three hide exactly the same cells (they must). ``--skip-python`` leaves the slow baseline out.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import gauss_python
from catalogue_setup import add_data_arguments, catalogue_specs
from samhandling.indicators.payments import (
    PAYMENT_FACTS,
    payment_facts_of_years,
    prepare_payment_facts,
)
from samhandling.indicators.readmission import READMISSION_FACTS, register_readmission_facts
from samhandling.tables import gauss
from samhandling.tables.catalog import STANDARDISED_TABLE, link_weights, linked_elimination
from samhandling.tables.cube import counted_cube
from samhandling.tables.standardised import counting_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--skip-python", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-elimination-") as scratch:
        engine, rules, threshold, specs = catalogue_specs(args, Path(scratch))
        facts = {s.facts for s in specs}
        if PAYMENT_FACTS in facts:
            prepare_payment_facts(engine, rules, borders=args.borders)
            payment_facts_of_years(engine, rules)
        if READMISSION_FACTS in facts:
            register_readmission_facts(engine, rules)
        started = time.perf_counter()
        counted = {
            s.id: counted_cube(engine, counting_spec(s) if s.id == STANDARDISED_TABLE else s)
            for s in specs
        }
        for table, weights in link_weights(counted).items():
            counted[table].weights = weights
        cells = sum(c.cells.num_rows for c in counted.values())
        took = time.perf_counter() - started
        print(f"{len(counted)} cubes, {cells} cells, counted in {took:.1f} s")
        linked_elimination(dict(list(counted.items())[:1]), threshold)  # compile once
        runs: list[tuple[str, float, dict[str, np.ndarray]]] = []
        compiled = gauss.gauss_secondary
        plans = [("compiled, 1 thread", compiled, 1), ("compiled, all cores", compiled, None)]
        if not args.skip_python:
            plans.insert(0, ("python", gauss_python.gauss_secondary, 1))
        for name, function, workers in plans:
            gauss.gauss_secondary = function
            try:
                started = time.perf_counter()
                hidden, _shared = linked_elimination(counted, threshold, workers=workers)
                took = time.perf_counter() - started
            finally:
                gauss.gauss_secondary = compiled
            runs.append((name, took, hidden))
            total = sum(int(h.sum()) for h in hidden.values())
            print(f"  {name:20s} {took:8.1f} s  hidden {total} (cores: {os.cpu_count()})")
        base_name, base_time, base = runs[0]
        for name, took, hidden in runs[1:]:
            same = all(np.array_equal(hidden[t], base[t]) for t in base)
            print(f"  {name} / {base_name}: time {took / base_time:.3f}, same cells: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
