"""Benchmark of linked-table protection: the somatic tables protected one by one, and linked.

Usage: ``python bench/bench_linking.py --warehouse DIR`` (an ingested warehouse), or
``python bench/bench_linking.py --fraction 0.01 --years 2012`` (generated). Counts SD01-SD05
and SD09 once, then protects them twice in this process: the baseline protects each table on
its own (as before linking), the shipped method weighs the cells other tables publish too
(``catalog.link_weights``) and then links the tables (``catalog.link_protection``). Prints per
table the time, the cells hidden and the value hidden (the first measure summed over the hidden
cells), with the ratio shipped / baseline, and the common cells that one table publishes and
another withholds (each such cell gives a table's protection away; linked, there are none).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from catalogue_setup import add_data_arguments, catalogue_specs
from samhandling.tables.catalog import (
    CATALOG_LINKS,
    LINKED_CELL_WEIGHT,
    STANDARDISED_TABLE,
    link_pairs,
    link_protection,
    link_weights,
)
from samhandling.tables.cube import CountedCube, counted_cube
from samhandling.tables.disclosure import PUBLISHED
from samhandling.tables.standardised import counting_spec

LINKED_TABLES = ("SD01", "SD02", "SD03", "SD04", "SD05", "SD09")


def _inconsistent(cubes: dict[str, CountedCube]) -> int:
    """Common cells published in one table and withheld in another (each pair counted)."""
    found = 0
    for a, rows_a, b, rows_b in link_pairs(cubes, CATALOG_LINKS):
        hidden_a = cubes[a].reasons[rows_a] != PUBLISHED
        hidden_b = cubes[b].reasons[rows_b] != PUBLISHED
        found += int(np.count_nonzero(hidden_a != hidden_b))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_arguments(parser)
    parser.add_argument(
        "--weights",
        type=float,
        nargs="+",
        default=[LINKED_CELL_WEIGHT],
        help="link_weights(per_table=...) of the shipped runs (one run each)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-linking-") as scratch:
        engine, _rules, threshold, specs = catalogue_specs(args, Path(scratch))
        counted: dict[str, CountedCube] = {}
        for spec in (s for s in specs if s.id in LINKED_TABLES):
            counting = counting_spec(spec) if spec.id == STANDARDISED_TABLE else spec
            counted[spec.id] = counted_cube(engine, counting)
            print(f"{spec.id}: {counted[spec.id].cells.num_rows} cells counted")
        names = ["baseline", *[f"weight {w:g}" for w in args.weights]]
        seconds: dict[str, dict[str, float]] = {name: {} for name in names}
        runs: dict[str, dict[str, CountedCube]] = {}
        for name in names:
            cubes = {t: CountedCube(c.spec, c.cells) for t, c in counted.items()}
            if name != "baseline":
                per_table = args.weights[names.index(name) - 1]
                for table, weights in link_weights(cubes, per_table=per_table).items():
                    cubes[table].weights = weights
            for table, cube in cubes.items():
                started = time.perf_counter()
                cube.protect(threshold)
                seconds[name][table] = time.perf_counter() - started
            if name != "baseline":
                started = time.perf_counter()
                rounds = link_protection(cubes, threshold)
                seconds[name]["linking"] = time.perf_counter() - started
                print(f"{name}: linked in {rounds} rounds, {seconds[name]['linking']:.1f} s")
            runs[name] = cubes
        for table in counted:
            rows: dict[str, tuple[float, int, float]] = {}
            for name, cubes in runs.items():
                cube = cubes[table]
                hidden = cube.reasons != PUBLISHED
                first = np.asarray(
                    cube.cells[cube.spec.measures[0].id].to_pylist(), dtype=np.float64
                )
                rows[name] = (
                    seconds[name][table],
                    int(np.count_nonzero(hidden)),
                    float(first[hidden].sum()),
                )
            base = rows["baseline"]
            for name, row in rows.items():
                ratios = " ".join(f"{b and a / b:.2f}" for a, b in zip(row, base, strict=True))
                print(
                    f"{table} {name:12s} {row[0]:7.1f} s  hidden {row[1]:8d}  value "
                    f"{row[2]:15,.0f}  ratios (time cells value): {ratios}"
                )
        for name in names:
            total = sum(seconds[name].values())
            print(
                f"all {name}: {total:.1f} s (×{total / sum(seconds['baseline'].values()):.2f}); "
                f"common cells published in one table and withheld in another: "
                f"{_inconsistent(runs[name])}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
