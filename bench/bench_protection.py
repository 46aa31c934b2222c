"""Benchmark of the hypercube protection: what it hides, with and without the largest partners.

Usage: ``python bench/bench_protection.py --warehouse DIR --tables SD05 SD02`` (an ingested
warehouse), or ``python bench/bench_protection.py --fraction 0.01 --years 2012`` (generated).
Counts each cube once, then protects it twice in this process: the baseline without the largest
partners among the candidates and without the pairs with the widest partners in the wider search
(``Axis.candidates`` without sizes, ``WIDER_ROBUST = 0``), and the method as shipped. Prints per
cube the time, the cells hidden, the value hidden (the first measure summed over the secondary
cells) and the country's cells hidden, each with the ratio shipped / baseline.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from catalogue_setup import add_data_arguments, catalogue_specs
from samhandling.tables import hypercube
from samhandling.tables.cube import _axes, _coordinates, count_cube
from samhandling.tables.dimensions import COUNTRY
from samhandling.tables.disclosure import SECONDARY


def _protect(
    coords: np.ndarray,
    axes: list[hypercube.Axis],
    patients: np.ndarray,
    measures: dict[str, np.ndarray],
    threshold: int,
    *,
    baseline: bool,
) -> tuple[float, np.ndarray]:
    sizes, robust = hypercube._atom_sizes, hypercube.WIDER_ROBUST
    if baseline:
        hypercube._atom_sizes = lambda *_: None  # type: ignore[assignment,return-value]
        hypercube.WIDER_ROBUST = 0
    try:
        started = time.perf_counter()
        reasons = hypercube.protect_hypercubes(coords, axes, patients, measures, threshold)
        return time.perf_counter() - started, reasons
    finally:
        hypercube._atom_sizes, hypercube.WIDER_ROBUST = sizes, robust


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--tables", nargs="+", default=["SD05", "SD02"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-protection-") as scratch:
        engine, _rules, threshold, specs = catalogue_specs(args, Path(scratch))
        for spec in (s for s in specs if s.id in args.tables):
            cells = count_cube(engine, spec)
            coords = _coordinates(spec, cells)
            axes = _axes(spec)
            patients = np.asarray(cells["pasienter"].to_pylist(), dtype=np.int64)
            measures = {
                m.id: np.asarray(cells[m.id].to_pylist(), dtype=np.float64) for m in spec.measures
            }
            first = next(iter(measures.values()))
            country = np.asarray(cells[spec.dimensions[0].id].to_pylist()) == COUNTRY
            print(f"{spec.id}: {cells.num_rows} cells, {int(country.sum())} of the country")
            results = {}
            for name in ("baseline", "shipped"):
                seconds, reasons = _protect(
                    coords, axes, patients, measures, threshold, baseline=name == "baseline"
                )
                results[name] = (
                    seconds,
                    int(np.count_nonzero(reasons)),
                    float(first[reasons == SECONDARY].sum()),
                    int(np.count_nonzero(reasons[country])),
                )
            base = results["baseline"]
            for name, row in results.items():
                ratios = " ".join(
                    f"{b and a / b:.2f}" if name == "shipped" else "1.00"
                    for a, b in zip(row, base, strict=True)
                )
                print(
                    f"  {name:8s} {row[0]:8.1f} s  hidden {row[1]:8d}  value {row[2]:14,.0f}"
                    f"  country {row[3]:5d}   ratios (time cells value country): {ratios}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
