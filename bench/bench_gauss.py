"""Benchmark: Gaussian elimination against the hypercube method on the same counted cubes.

Usage: ``python bench/bench_gauss.py --warehouse DIR --tables SD05 SD07`` (an ingested
warehouse), or ``python bench/bench_gauss.py --fraction 0.05 --years 2012`` (generated).
Counts each cube once, then protects it with both methods in this process
(:func:`samhandling.tables.hypercube.hypercube_protection` alone, and
:func:`samhandling.tables.gauss.gauss_protection`: elimination, then hypercube certificates for
the intervals). Prints per cube and method the time, the cells hidden, the value hidden (the
first measure over the secondary cells) and the country's cells hidden, with the ratios
gauss / hypercube, and the cells the elimination alone hid before the certificates.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from catalogue_setup import add_data_arguments, catalogue_specs
from samhandling.tables import gauss
from samhandling.tables.cube import CountedCube, _axes, _coordinates, count_cube
from samhandling.tables.dimensions import COUNTRY
from samhandling.tables.disclosure import PUBLISHED, SECONDARY
from samhandling.tables.hypercube import hypercube_protection


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_arguments(parser)
    parser.add_argument("--tables", nargs="+", default=["SD05", "SD07", "SD06", "SD08"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-gauss-") as scratch:
        engine, _rules, threshold, specs = catalogue_specs(args, Path(scratch))
        for spec in (s for s in specs if s.id in args.tables):
            if spec.facts != "contact_facts":
                continue  # payment and readmission facts need the instruments registered
            cells = count_cube(engine, spec)
            coords = _coordinates(spec, cells)
            axes = _axes(spec)
            lines = CountedCube(spec, cells).part_lines
            patients = np.asarray(cells["pasienter"].to_pylist(), dtype=np.int64)
            measures = {
                m.id: np.asarray(cells[m.id].to_pylist(), dtype=np.float64) for m in spec.measures
            }
            first = next(iter(measures.values()))
            country = np.asarray(cells["region"].to_pylist()) == COUNTRY
            primary = (patients >= 1) & (patients < threshold)
            print(f"{spec.id}: {cells.num_rows} cells, {int(primary.sum())} primary")
            started = time.perf_counter()
            hyper = hypercube_protection(coords, axes, patients, measures, threshold).reasons
            t_hyper = time.perf_counter() - started
            started = time.perf_counter()
            pattern = gauss.gauss_secondary(
                gauss.inner_matrix(coords, axes),
                primary,
                first + 1.0,
                pairs=gauss.singleton_pairs(coords, primary & (patients == 1), lines),
            )
            t_elim = time.perf_counter() - started
            started = time.perf_counter()
            ours = gauss.gauss_protection(
                coords, axes, patients, measures, threshold, lines=lines
            ).reasons
            t_gauss = time.perf_counter() - started
            rows = []
            for name, reasons, took in (("hypercube", hyper, t_hyper), ("gauss", ours, t_gauss)):
                hidden = int((reasons != PUBLISHED).sum())
                value = float(first[reasons == SECONDARY].sum())
                nat = int((country & (reasons != PUBLISHED)).sum())
                rows.append((hidden, value, nat, took))
                print(
                    f"  {name:9s} {took:8.1f} s  hidden {hidden:8d}  hidden value {value:14.0f}"
                    f"  country cells hidden {nat} of {int(country.sum())}"
                )
            print(f"  elimination alone: {t_elim:.1f} s, {int(pattern.sum())} secondary")
            (h0, v0, n0, t0), (h1, v1, n1, t1) = rows
            print(
                f"  gauss / hypercube: time {t1 / t0:.2f}, hidden {h1 / max(h0, 1):.2f}, "
                f"value {v1 / max(v0, 1):.2f}, country cells {n1}/{n0}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
